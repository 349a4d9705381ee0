"""issues: a preheader, the inbox preview text beside the subject

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 13:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preheader', sa.String(length=200), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.drop_column('preheader')
