"""send holds: a receiving domain that refuses the sender holds its part of a send, not the whole send

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 14:00:00

A delivery may now be 'held': its domain refused the issue because of the sender (authentication, blocklist,
policy...), so the rest of that domain's mail waits until the publisher fixes the cause and retries the
domain, or gives it up; the rest of the list keeps going. send_holds keeps each held domain and the decision.
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('queued', 'sending', 'sent', 'failed', 'bounced', 'skipped', 'unknown')"
NEW_STATUSES = "status IN ('queued', 'sending', 'sent', 'failed', 'bounced', 'skipped', 'unknown', 'held')"


def upgrade():
    op.create_table('send_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('refusals', sa.Integer(), nullable=False),
    sa.Column('example', sa.String(length=1000), nullable=False),
    sa.Column('held_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('held', 'retried', 'given_up')", name=op.f('ck_send_holds_status_valid')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_send_holds_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_send_holds_issue_id_issues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_send_holds')),
    sa.UniqueConstraint('issue_id', 'domain', name=op.f('uq_send_holds_issue_id_domain'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deliveries_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_deliveries_status_valid'), sa.text(NEW_STATUSES))


def downgrade():
    # The old code knows no held message: a refused one failed, one never handed over waits in the queue.
    op.execute("UPDATE deliveries SET status = 'failed' WHERE status = 'held' AND smtp_code IS NOT NULL")
    op.execute("UPDATE deliveries SET status = 'queued' WHERE status = 'held'")
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deliveries_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_deliveries_status_valid'), sa.text(OLD_STATUSES))
    op.drop_table('send_holds')
