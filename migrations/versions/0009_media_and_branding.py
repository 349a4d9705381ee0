"""uploaded images (media) and each newsletter's own words and look

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 13:00:00

Images are stored by the media store (instance/media/ by default) under a key made from their content; the
table keeps which newsletter uploaded them and their size, so that mails can give every image its width and
height. A newsletter gets its welcome text, its confirmation text (both Markdown), a logo, an accent colour
and a postal address for the footer.
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'media',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('newsletter_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['newsletter_id'], ['newsletters.id'], name=op.f('fk_media_newsletter_id_newsletters'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_media_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_media')),
        sa.UniqueConstraint('newsletter_id', 'key', name=op.f('uq_media_newsletter_id_key')),
    )
    op.create_index(op.f('ix_media_key'), 'media', ['key'], unique=False)
    with op.batch_alter_table('newsletters') as batch:
        batch.add_column(sa.Column('welcome_text', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('confirm_text', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('logo_key', sa.String(length=80), nullable=True))
        batch.add_column(sa.Column('accent_color', sa.String(length=7), nullable=False, server_default=''))
        batch.add_column(sa.Column('postal_address', sa.String(length=500), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('newsletters') as batch:
        for column in ('postal_address', 'accent_color', 'logo_key', 'confirm_text', 'welcome_text'):
            batch.drop_column(column)
    op.drop_index(op.f('ix_media_key'), table_name='media')
    op.drop_table('media')
