"""Optional two-factor login for publishers and admins: TOTP (RFC 6238, pyotp) and single-use recovery codes.

The secret is kept as the authenticator app holds it; recovery codes are kept only as keyed hashes (they are
long random strings, so a keyed SHA-256 is enough and a stolen database does not reveal them) and each works
once. A code is accepted in the 30-second step before or after the server's clock, never twice.
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

from . import login_backoff
from .accounts import LoginFailed
from .errors import InvalidInput
from .extensions import db
from .models import RecoveryCode, User, utcnow

RECOVERY_CODE_COUNT = 10
STEP_SECONDS = 30


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
    user.totp_secret, user.totp_last_step = secret, step
    return new_recovery_codes(user)


def disable(user: User) -> None:
    """Turn two-factor off and drop the recovery codes. Flushes."""
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


def verify(user: User, code: str, now: datetime | None = None) -> bool:
    """A current code from the app (not used before) or an unused recovery code; using it spends it. Flushes."""
    code = "".join((code or "").split()).lower()
    if user.totp_secret is None or not code or len(code) > 32:
        return False
    if code.isdigit():
        step = _matching_step(user.totp_secret, code, user.totp_last_step, now or utcnow())
        if step is None:
            return False
        # Conditional, so two requests racing with the same code cannot both pass.
        return _spend(update(User).where(User.id == user.id, func.coalesce(User.totp_last_step, -1) < step)
                      .values(totp_last_step=step))
    return _spend(update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code),
                                             RecoveryCode.used_at.is_(None)).values(used_at=now or utcnow()))


def second_step(user: User, code: str, ip: str | None, now: datetime | None = None) -> None:
    """The login's second step; LoginFailed if the code is wrong or comes before its backoff ends.

    Wrong codes back off exactly like wrong passwords, on the same counters (the account's pair with this IP,
    and the IP): six digits cannot be guessed before the waits grow to 15 minutes.
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
