"""sender_heartbeats: each sending process's last sign of life, so a dead holder's claims are taken over in seconds

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 16:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sender_heartbeats',
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('process_started', sa.Float(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('beat_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('owner', name=op.f('pk_sender_heartbeats')),
    )


def downgrade():
    op.drop_table('sender_heartbeats')
