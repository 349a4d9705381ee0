"""Optional two-factor login for publishers and admins: TOTP (RFC 6238, pyotp) and single-use recovery codes.

The secret is kept sealed (sealing.py: AES-GCM under a key derived from SECRET_KEY, bound to the user's id), so
a database dump alone does not reveal it; a changed SECRET_KEY leaves it unreadable, and the login then says
to reset that user's two-factor (`flask users reset-2fa EMAIL`). Recovery codes are kept only as keyed hashes
(they are long random strings, so a keyed SHA-256 is enough) and each works once. A code is accepted in the
30-second step before or after the server's clock, never twice.
"""

import hashlib
import hmac
import secrets
from datetime import datetime
from urllib.parse import urlsplit

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, func, select, update

from . import accounts, login_backoff, sealing
from .accounts import LoginFailed
from .errors import DomainError, InvalidInput, Refused
from .extensions import db
from .models import RecoveryCode, User, utcnow

RECOVERY_CODE_COUNT = 10
STEP_SECONDS = 30
SEAL_PURPOSE = "totp-secret"


class SecretUnreadable(DomainError):
    """The user's two-factor secret does not open with this SECRET_KEY: it changed since they enrolled."""

    code = "two_factor_unreadable"
    status = 409

    def __init__(self, email: str):
        super().__init__(f"The two-factor login of {email} cannot be checked: the server's SECRET_KEY has changed "
                         f"since it was set up. Ask an admin to reset it (flask --app app users reset-2fa {email}), "
                         "then log in with the password alone and set two-factor up again.")


def seal_secret(user_id: int, secret: str, secret_key: str) -> str:
    """The TOTP secret as it is stored: sealed, bound to its user (also used by migration 0018)."""
    return sealing.seal(secret, secret_key, SEAL_PURPOSE, f"user:{user_id}")


def unseal_secret(user_id: int, stored: str, secret_key: str) -> str:
    """The TOTP secret from its stored form; sealing.Unreadable if this key does not open it."""
    return sealing.unseal(stored, secret_key, SEAL_PURPOSE, f"user:{user_id}")


def new_secret() -> str:
    """A fresh TOTP secret (base32, 160 bits), to enrol with."""
    return pyotp.random_base32(32)


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads (from the QR code, or typed)."""
    issuer = urlsplit(current_app.config["BASE_URL"]).hostname or "newsletter"
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The URI as a QR code, an SVG data: URI (the pages' CSP allows data: images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


def enrol(user: User, secret: str, code: str, now: datetime | None = None) -> list[str]:
    """Turn two-factor on once the app shows a right code for this secret; the recovery codes, to show once."""
    step = _matching_step(secret, code, None, now or utcnow())
    if step is None:
        raise InvalidInput("That code does not match: check the time on your phone, and type the 6 digits the "
                           "app shows now.")
    user.totp_secret = seal_secret(user.id, secret, current_app.config["SECRET_KEY"])
    user.totp_last_step = step
    return new_recovery_codes(user)


def disable(user: User) -> None:
    """Turn two-factor off and drop the recovery codes (the one way back in after a SECRET_KEY change). Flushes."""
    user.totp_secret, user.totp_last_step = None, None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with new ones; the plain codes, to show once. Flushes."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(code)) for code in codes)
    db.session.flush()
    return codes


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


def reset(email: str) -> User:
    """An admin's reset of someone's two-factor (a lost phone, a changed SECRET_KEY); Refused if it is off."""
    user = accounts.user_by_email(email)
    if not user.has_two_factor:
        raise Refused(f"{user.email} has no two-factor login: there is nothing to reset.")
    disable(user)
    return user


def verify(user: User, code: str, now: datetime | None = None) -> bool:
    """A current code from the app (not used before) or an unused recovery code; using it spends it. Flushes.

    SecretUnreadable if the stored secret does not open with this SECRET_KEY (recovery codes, keyed with it
    too, would not match either)."""
    code = "".join((code or "").split()).lower()
    if user.totp_secret is None or not code or len(code) > 32:
        return False
    secret = readable_secret(user)
    if code.isdigit():
        step = _matching_step(secret, code, user.totp_last_step, now or utcnow())
        if step is None:
            return False
        # Conditional, so two requests racing with the same code cannot both pass.
        return _spend(update(User).where(User.id == user.id, func.coalesce(User.totp_last_step, -1) < step)
                      .values(totp_last_step=step))
    return _spend(update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code),
                                             RecoveryCode.used_at.is_(None)).values(used_at=now or utcnow()))


def readable_secret(user: User) -> str:
    """The user's TOTP secret in clear; SecretUnreadable if this SECRET_KEY does not open it."""
    try:
        return unseal_secret(user.id, user.totp_secret, current_app.config["SECRET_KEY"])
    except sealing.Unreadable:
        raise SecretUnreadable(user.email) from None


def second_step(user: User, code: str, ip: str | None, now: datetime | None = None) -> None:
    """The login's second step; LoginFailed if the code is wrong or comes before its backoff ends.

    Wrong codes back off exactly like wrong passwords, on the same counters (the account's pair with this IP,
    and the IP): six digits cannot be guessed before the waits grow to 15 minutes. A secret this SECRET_KEY
    cannot open is SecretUnreadable (not a failure: no code could pass), saying how an admin resets it.
    """
    now = now or utcnow()
    keys = login_backoff.throttle_keys(user.email, ip)
    if login_backoff.waiting(keys, now) or not verify(user, code, now):
        login_backoff.record_failure(keys, now)
        raise LoginFailed("That code is not right, or came too early after failed attempts.")
    login_backoff.record_success(keys)


def _spend(statement) -> bool:
    spent = db.session.execute(statement.execution_options(synchronize_session=False)).rowcount == 1
    db.session.flush()
    return spent


def _matching_step(secret: str, code: str, last_step: int | None, now: datetime) -> int | None:
    code = "".join((code or "").split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp, current = pyotp.TOTP(secret), int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if (last_step is None or step > last_step) and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _hash(code: str) -> str:
    key = hashlib.sha256(b"recovery-codes:" + current_app.config["SECRET_KEY"].encode()).digest()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()
