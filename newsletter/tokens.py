"""Every signed token of the product: made and checked here only, each bound to one purpose.

A token carries a record id and that record's nonce, signed with the instance secret and salted with its
purpose, so a confirm token cannot unsubscribe (and back), and a token of an erased record matches nothing
even if a database reuses the id.
"""

import json
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import has_app_context
from flask_babel import gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes

from .errors import DomainError

CONFIRM = "confirm"  # expires after CONFIRM_TOKEN_MAX_AGE
UNSUBSCRIBE = "unsubscribe"  # never expires (RFC 8058 links live in old mails)
PREFERENCES = "preferences"  # expires after PREFERENCES_LINK_MAX_AGE; bound to the person, not one subscription
DOWNLOAD = "download"  # the mailed link to one's data: a day
ERASE = "erase"  # the mailed link that confirms an erasure: a day
CHALLENGE = "challenge"  # a subscribe form's proof-of-work puzzle; its record id is 0, its nonce the puzzle
PURPOSES = (CONFIRM, UNSUBSCRIBE, PREFERENCES, DOWNLOAD, ERASE, CHALLENGE)
MAILED_LINK_MAX_AGE = 24 * 3600


class TokenInvalid(DomainError):
    code = "token_invalid"
    status = 404

    def __init__(self, message: str | None = None):
        if message is None:  # in the page's language when there is a page (tokens are also read without an app)
            message = "This link is not valid. Check that it was copied whole."
            message = gettext("This link is not valid. Check that it was copied whole.") if has_app_context() else message
        super().__init__(message)


class TokenExpired(DomainError):
    code = "token_expired"
    status = 410

    def __init__(self, record_id: int | None = None):
        super().__init__("This link has expired.")
        self.record_id = record_id


@dataclass(frozen=True)
class TokenClaim:
    record_id: int
    nonce: str


@lru_cache(maxsize=32)
def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(secret, salt=f"newsletter.{purpose}")


@lru_cache(maxsize=32)
def _signer(secret: str, purpose: str):
    signer = _serializer(secret, purpose).make_signer()
    return signer, signer.derive_key()


_clock = {"second": -1, "stamp": b""}


def _timestamp() -> bytes:
    second = int(time.time())
    if _clock["second"] != second:
        _clock["stamp"], _clock["second"] = base64_encode(int_to_bytes(second)), second
    return _clock["stamp"]


def make_token(secret: str, purpose: str, record_id: int, nonce: str) -> str:
    """Sign (record id, nonce) for one purpose.

    Byte for byte what URLSafeTimedSerializer.dumps writes for this payload (compact JSON, base64, never worth
    compressing; timestamp; HMAC), with the key derived once: the send path makes two tokens per message.
    """
    signer, key = _signer(secret, purpose)
    value = base64_encode(f"[{int(record_id)},{json.dumps(nonce)}]".encode()) + b"." + _timestamp()
    return (value + b"." + base64_encode(signer.algorithm.get_signature(key, value))).decode()


def read_token(secret: str, purpose: str, token: str, max_age: int | None = None) -> TokenClaim:
    """Check a token's signature, purpose and (if given) age; raise TokenInvalid or TokenExpired."""
    serializer = _serializer(secret, purpose)
    try:
        payload = serializer.loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenExpired(_expired_record_id(serializer, exc.payload)) from None
    except (BadSignature, UnicodeError, ValueError, TypeError):
        raise TokenInvalid() from None
    return _claim(payload)


def _claim(payload) -> TokenClaim:
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], int)
        or not isinstance(payload[1], str)
    ):
        raise TokenInvalid()
    return TokenClaim(payload[0], payload[1])


def _expired_record_id(serializer: URLSafeTimedSerializer, raw) -> int | None:
    # An expired but authentic token still names its record: the page can offer a fresh confirmation mail.
    try:
        return _claim(serializer.load_payload(raw)).record_id
    except (TokenInvalid, BadSignature, ValueError, TypeError):
        return None
