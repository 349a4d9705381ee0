"""Publisher and admin accounts: creation, password checks, logins (with backoff), sessions."""

from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from . import login_backoff
from .addresses import normalise_address
from .errors import DomainError, InvalidInput, Refused
from .extensions import db
from .models import User, new_nonce, utcnow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
_dummy_hashes: dict[str, str] = {}


def hash_password(password: str) -> str:
    """A salted hash with the configured method (scrypt unless PASSWORD_HASH_METHOD says otherwise)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _dummy_hash() -> str:
    # Checked against when the address is unknown, so a wrong address costs the same time as a wrong password.
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash("not a real password", method=method)
    return _dummy_hashes[method]


class LoginFailed(DomainError):
    code = "login_failed"
    status = 401


def check_password(password: str) -> str:
    """A password we accept, or InvalidInput saying why not."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"A password has at most {MAX_PASSWORD_LENGTH} characters.")
    return password


def create_user(email: str, password: str, *, admin: bool = False) -> User:
    """A new publisher (or admin); Refused if the address has an account already."""
    address = normalise_address(email)
    check_password(password)
    if db.session.scalar(select(User.id).where(User.email == address)):
        raise Refused(f"An account for {address} exists already.")
    user = User(email=address, password_hash=hash_password(password), is_admin=admin)
    db.session.add(user)
    db.session.flush()
    return user


def user_by_email(email: str) -> User:
    """The account with this address; Refused, saying how to make it, if there is none."""
    user = db.session.scalar(select(User).where(User.email == normalise_address(email)))
    if user is None:
        raise Refused(f"There is no user {email!r}: create it first with 'users create'.")
    return user


def end_sessions(user: User) -> None:
    """End every session of this user: a copied session cookie no longer opens anything.

    The session cookie names the user's session version (`session_nonce`); a new one makes every cookie
    issued before it worthless, so logging out on one device logs out the others too.
    """
    user.session_nonce = new_nonce()
    db.session.flush()


def set_password(user: User, password: str) -> None:
    """Change the password and end every other session of that user."""
    user.password_hash = hash_password(check_password(password))
    end_sessions(user)
    db.session.flush()


def authenticate(email: str, password: str, ip: str | None = None, *, now: datetime | None = None) -> User:
    """The user whose credentials these are; LoginFailed otherwise.

    Every failure - unknown address, wrong password, inactive account, an attempt that came before its
    backoff ended - gets the same error after the same work (one password hash check), so neither the answer
    nor its timing tells whether an account exists.
    """
    now = now or utcnow()
    try:
        address = normalise_address(email)
    except InvalidInput:
        address = ""
    keys = login_backoff.throttle_keys(address or email or "", ip)
    must_wait = login_backoff.waiting(keys, now)
    user = db.session.scalar(select(User).where(User.email == address)) if address else None
    password_ok = check_password_hash(user.password_hash if user else _dummy_hash(), password or "")
    if must_wait or user is None or not password_ok or not user.active:
        login_backoff.record_failure(keys, now)
        raise LoginFailed("Wrong e-mail address or password. After several failed attempts, each new try "
                          "has to wait longer (up to 15 minutes).")
    login_backoff.record_success(keys)
    user.last_login_at = now
    db.session.flush()
    return user


def safe_next(target: str | None, default: str) -> str:
    """Follow a ?next= target only if it stays on this site (a path, not //host or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return default
    return target
