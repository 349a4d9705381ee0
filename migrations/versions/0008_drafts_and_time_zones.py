"""issues can be discarded (and restored for 30 days); publishers have a time zone

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 12:45:00

A discarded draft is kept with its discard time so the publisher can bring it back from the issue list;
a cancelled send stays final. Scheduling is shown in the publisher's own zone (IANA name, e.g.
Europe/Paris); times are still stored in UTC.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD = "status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')"
NEW = "status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled', 'discarded')"


def upgrade():
    with op.batch_alter_table('issues') as batch:
        batch.add_column(sa.Column('discarded_at', sa.DateTime(), nullable=True))
        batch.drop_constraint(op.f('ck_issues_status_valid'), type_='check')
        batch.create_check_constraint('status_valid', NEW)
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))


def downgrade():
    op.execute("UPDATE issues SET status = 'cancelled' WHERE status = 'discarded'")
    with op.batch_alter_table('users') as batch:
        batch.drop_column('timezone')
    with op.batch_alter_table('issues') as batch:
        batch.drop_constraint(op.f('ck_issues_status_valid'), type_='check')
        batch.create_check_constraint('status_valid', OLD)
        batch.drop_column('discarded_at')
