"""audit_entries.channel: where an action came from (the web pages, the API, the command line)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 19:35:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

CHANNELS = "channel IN ('web', 'api', 'cli')"


def upgrade():
    # audit_entries is referred to by no table, so SQLite's batch copy of it is safe.
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), nullable=False, server_default='web'))
        batch_op.create_check_constraint(op.f('ck_audit_entries_channel_valid'), sa.text(CHANNELS))
        batch_op.create_index(batch_op.f('ix_audit_entries_channel'), ['channel'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entries_channel'))
        batch_op.drop_constraint(op.f('ck_audit_entries_channel_valid'), type_='check')
        batch_op.drop_column('channel')
