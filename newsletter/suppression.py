"""The suppression list: addresses that get no mail, held only as keyed hashes (HMAC)."""

import contextlib
import hashlib

from flask import current_app
from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError

from .addresses import address_hmac
from .extensions import db
from .models import Suppression

REASONS = ("erased", "hard_bounce", "soft_bounces", "complaint", "imported")


def hmac_of(address: str) -> str:
    """The suppression-list key of a normalised address, keyed with a value derived from SECRET_KEY."""
    return address_hmac(_hmac_key(), address)


def hmacs_of(addresses: list[str]) -> list[str]:
    """hmac_of for each address, in order; the key is looked up once (an import hashes every row)."""
    key = _hmac_key()
    return [address_hmac(key, address) for address in addresses]


def _hmac_key() -> bytes:
    key = current_app.extensions.get("newsletter.suppression_key")
    if key is None:
        key = hashlib.sha256(("suppression:" + current_app.config["SECRET_KEY"]).encode()).digest()
        current_app.extensions["newsletter.suppression_key"] = key
    return key


def covers(newsletter_id: int | None):
    """SQL condition: a suppression row that applies to this newsletter (its own, or instance-wide)."""
    if newsletter_id is None:
        return Suppression.newsletter_id.is_(None)
    return or_(Suppression.newsletter_id.is_(None), Suppression.newsletter_id == newsletter_id)


def is_suppressed(hmac_hex: str, newsletter_id: int | None = None) -> bool:
    """True if no mail may go to this address hash for this newsletter."""
    return db.session.scalar(
        select(exists().where(Suppression.address_hmac == hmac_hex, covers(newsletter_id)))
    )


def suppress(hmac_hex: str, reason: str, newsletter_id: int | None = None) -> None:
    """Put an address hash on the list (instance-wide without a newsletter); idempotent."""
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}")
    same_scope = (Suppression.newsletter_id.is_(None) if newsletter_id is None
                  else Suppression.newsletter_id == newsletter_id)
    if db.session.scalar(select(Suppression.id).where(Suppression.address_hmac == hmac_hex, same_scope)):
        return
    # A concurrent request that suppressed the address first gives the same outcome.
    with contextlib.suppress(IntegrityError), db.session.begin_nested():
        db.session.add(Suppression(address_hmac=hmac_hex, reason=reason, newsletter_id=newsletter_id))


def lift(hmac_hex: str, newsletter_id: int) -> None:
    """Remove what covers this newsletter: only when the person confirmed again by themselves."""
    db.session.execute(
        delete(Suppression)
        .where(Suppression.address_hmac == hmac_hex, covers(newsletter_id))
        .execution_options(synchronize_session=False)
    )
