"""users.totp_secret: sealed at rest (AES-GCM under a key derived from SECRET_KEY), no longer in clear

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 19:20:00

Upgrade seals every clear secret with the running app's SECRET_KEY; downgrade opens them again, and stops,
naming the account, if one does not open (SECRET_KEY changed: reset it first with `users reset-2fa`).
"""
from alembic import op
from flask import current_app
import sqlalchemy as sa

from newsletter.sealing import Unreadable, is_sealed
from newsletter.two_factor import seal_secret, unseal_secret


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

users = sa.table('users', sa.column('id', sa.Integer()), sa.column('email', sa.String()),
                 sa.column('totp_secret', sa.String()))


def upgrade():
    _widen(64, 255)  # a sealed secret is 83 characters
    key = current_app.config['SECRET_KEY']
    for user_id, _email, secret in _enrolled():
        if not is_sealed(secret):
            _store(user_id, seal_secret(user_id, secret, key))


def downgrade():
    key = current_app.config['SECRET_KEY']
    for user_id, email, stored in _enrolled():
        if is_sealed(stored):
            try:
                _store(user_id, unseal_secret(user_id, stored, key))
            except Unreadable:
                raise RuntimeError(f"The two-factor secret of {email} does not open with this SECRET_KEY: reset it "
                                   f"(flask --app app users reset-2fa {email}) before downgrading.") from None
    _widen(255, 64)


def _widen(old, new):
    # SQLite does not hold a VARCHAR's length, and changing it would recreate `users` in batch mode: with
    # foreign keys on, dropping the old table would cascade to every row that refers to an account.
    if op.get_bind().dialect.name != 'sqlite':
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.alter_column('totp_secret', existing_type=sa.String(length=old), type_=sa.String(length=new),
                                  existing_nullable=True)


def _enrolled():
    query = sa.select(users.c.id, users.c.email, users.c.totp_secret).where(users.c.totp_secret.is_not(None))
    return op.get_bind().execute(query.order_by(users.c.id)).all()


def _store(user_id, value):
    op.execute(users.update().where(users.c.id == user_id).values(totp_secret=value))
