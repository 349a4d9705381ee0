"""admin jobs: long admin actions (for now the readers export) run in the background, with a progress page

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 19:30:00

admin_jobs records who asked what (its kind) for which newsletter, where the worker is (rows done of the total),
its lease, and the file it wrote (instance/exports/<file_id>.csv) until that file is deleted or expires.
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('admin_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('newsletter_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=True),
    sa.Column('file_id', sa.String(length=64), nullable=True),
    sa.Column('file_bytes', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('refusal', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'done', 'failed', 'deleted')", name=op.f('ck_admin_jobs_status_valid')),
    sa.CheckConstraint("kind IN ('export')", name=op.f('ck_admin_jobs_kind_valid')),
    sa.ForeignKeyConstraint(['newsletter_id'], ['newsletters.id'], name=op.f('fk_admin_jobs_newsletter_id_newsletters'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_admin_jobs_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_jobs')),
    sa.UniqueConstraint('file_id', name=op.f('uq_admin_jobs_file_id'))
    )
    with op.batch_alter_table('admin_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_admin_jobs_status', ['status'], unique=False)
        batch_op.create_index('ix_admin_jobs_user_status', ['user_id', 'status'], unique=False)


def downgrade():
    with op.batch_alter_table('admin_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_jobs_user_status')
        batch_op.drop_index('ix_admin_jobs_status')

    op.drop_table('admin_jobs')
