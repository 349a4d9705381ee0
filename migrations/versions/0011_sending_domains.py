"""sending domains: a publisher's own domain, its DKIM keys and its last DNS check

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sending_domains',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=253), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('selector', sa.String(length=63), nullable=False),
        sa.Column('rsa_public', sa.Text(), nullable=False),
        sa.Column('rsa_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('key_file', sa.String(length=500), nullable=True),
        sa.Column('ed25519_public', sa.String(length=64), nullable=True),
        sa.Column('ed25519_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('checked_at', sa.DateTime(), nullable=True),
        sa.Column('check_passed', sa.Boolean(), nullable=False),
        sa.Column('check_report', sa.Text(), nullable=True),
        sa.CheckConstraint('rsa_sealed IS NOT NULL OR key_file IS NOT NULL',
                           name=op.f('ck_sending_domains_private_key_kept')),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_sending_domains_owner_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sending_domains')),
        sa.UniqueConstraint('name', name=op.f('uq_sending_domains_name')),
    )
    with op.batch_alter_table('sending_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sending_domains_owner_id'), ['owner_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sending_domains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sending_domains_owner_id'))
    op.drop_table('sending_domains')
