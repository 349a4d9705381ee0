"""Bearer tokens of the JSON API: made on a logged-in user's page, shown once, kept only as a SHA-256.

A token acts as its user: an admin's reaches every newsletter, a publisher's only their own.
"""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from .addresses import has_header_breaker
from .errors import DomainError, InvalidInput, NotFound
from .extensions import db
from .models import ApiToken, User, is_id, utcnow

PREFIX = "nlt_"
MAX_NAME_LENGTH = 100
MAX_TOKEN_LENGTH = 200
LAST_USED_PRECISION = timedelta(minutes=1)  # write "last used" at most once a minute per token


class TokenRefused(DomainError):
    """A missing, unknown or revoked token: the same answer for all three."""

    code = "unauthorized"
    status = 401


def create_token(user: User, name: str | None) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the record and the secret, which is never stored nor shown again."""
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME_LENGTH or has_header_breaker(name):
        raise InvalidInput(f"Give the token a name of 1 to {MAX_NAME_LENGTH} characters, on one line.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, secret_sha256=_digest(secret))
    db.session.add(token)
    db.session.flush()
    return token, secret


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Stop a token at once; NotFound if it is not one of the user's."""
    token = db.session.get(ApiToken, token_id) if is_id(token_id) else None
    if token is None or token.user_id != user.id:
        raise NotFound("There is no such token among yours.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
    return token


def live_token(secret: str | None) -> ApiToken:
    """The live token with this secret, whose user is active; TokenRefused otherwise. Notes its use."""
    if not secret or len(secret) > MAX_TOKEN_LENGTH or not secret.isascii():
        raise TokenRefused("Send an API token: Authorization: Bearer <token>.")
    # Looked up by its SHA-256: the secret itself is never stored, and a digest leaks nothing by timing.
    token = db.session.scalar(select(ApiToken).where(ApiToken.secret_sha256 == _digest(secret)))
    if token is None or token.revoked_at is not None:
        raise TokenRefused("This API token is unknown or revoked.")
    if not token.user.active:
        raise TokenRefused("The account of this API token is disabled.")
    _note_use(token)
    return token


def _note_use(token: ApiToken) -> None:
    now = utcnow()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION:
        db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
                           .execution_options(synchronize_session=False))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()
