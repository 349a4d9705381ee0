"""Signed identifiers that let a bounce or a reply name the delivery it is about, and that nobody can forge.

Message-ID: <d{delivery}.i{issue}.{sig}@host>; VERP return path: bounces+d{delivery}.{sig}@domain for an
issue, bounces+r{subscriber}.{sig}@domain for a system mail (confirmation, welcome), which has no delivery.
"""

import hashlib
import hmac
import re

SIGNATURE_LENGTH = 12
_MESSAGE_ID = re.compile(r"^d(\d+)\.i(\d+)\.([0-9a-f]{12})@")
_VERP_TOKEN = re.compile(r"^d(\d+)\.([0-9a-f]{12})$")
_READER_TOKEN = re.compile(r"^r(\d+)\.([0-9a-f]{12})$")


def _signature(secret: bytes, local: str) -> str:
    return hmac.new(secret, local.encode(), hashlib.sha256).hexdigest()[:SIGNATURE_LENGTH]


def signed(secret: bytes, local: str) -> str:
    """`local` followed by its signature."""
    return f"{local}.{_signature(secret, local)}"


def message_id_local(secret: bytes, delivery_id: int, issue_id: int) -> str:
    """The part of a Message-ID before the @."""
    return signed(secret, f"d{delivery_id}.i{issue_id}")


def verp_delivery_token(secret: bytes, delivery_id: int) -> str:
    """The token put in the VERP return path of one delivery."""
    return signed(secret, f"d{delivery_id}")


def verp_reader_token(secret: bytes, subscriber_id: int) -> str:
    """The token put in the VERP return path of a system mail to one reader."""
    return signed(secret, f"r{subscriber_id}")


def delivery_of_message_id(secret: bytes, message_id: str | None) -> int | None:
    """The delivery id in one of our Message-IDs, if the signature holds."""
    match = _MESSAGE_ID.match((message_id or "").strip().strip("<>"))
    if not match:
        return None
    delivery, issue, signature = match.groups()
    expected = _signature(secret, f"d{delivery}.i{issue}")
    return int(delivery) if hmac.compare_digest(signature, expected) else None


def delivery_of_verp_token(secret: bytes, token: str | None) -> int | None:
    """The delivery id in one of our VERP tokens, if the signature holds."""
    match = _VERP_TOKEN.match(token or "")
    if not match:
        return None
    delivery, signature = match.groups()
    return int(delivery) if hmac.compare_digest(signature, _signature(secret, f"d{delivery}")) else None


def subscriber_of_verp_token(secret: bytes, token: str | None) -> int | None:
    """The subscriber id in one of our system-mail VERP tokens, if the signature holds."""
    match = _READER_TOKEN.match(token or "")
    if not match:
        return None
    subscriber, signature = match.groups()
    return int(subscriber) if hmac.compare_digest(signature, _signature(secret, f"r{subscriber}")) else None
