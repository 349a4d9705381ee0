"""Values kept sealed at rest: AES-256-GCM under a key derived (HKDF-SHA256) from SECRET_KEY for one purpose.

A sealed value reads `v1:<base64url(nonce + ciphertext + tag)>`. The prefix names the key derivation and the
cipher, so a later key rotation can add `v2` beside it and re-seal values as they are read. A database dump
alone reveals nothing; a changed SECRET_KEY makes a sealed value Unreadable, never a wrong plaintext. The
`context` (for instance the row's id) is authenticated, so a sealed value copied to another row does not open.
Migrations unseal `v1` values with this module: keep `v1` readable as it is for as long as they exist.
"""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
NONCE_BYTES = 12


class Unreadable(ValueError):
    """A sealed value that this SECRET_KEY cannot open (the key changed, or the value was altered)."""


def is_sealed(stored: str) -> bool:
    """True if the value is in a sealed format (base32, base64 and hex values never hold a colon)."""
    return ":" in stored


def seal(plain: str, secret_key: str, purpose: str, context: str = "") -> str:
    """The value sealed for `purpose`, bound to `context`, with a fresh random nonce."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(secret_key, purpose)).encrypt(nonce, plain.encode(), context.encode())
    return f"{VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(stored: str, secret_key: str, purpose: str, context: str = "") -> str:
    """The plain value; Unreadable if the format is unknown or this key and context do not open it."""
    version, _, body = stored.partition(":")
    if version != VERSION:
        raise Unreadable(f"unknown sealed format {version[:8]!r}")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plain = AESGCM(_key(secret_key, purpose)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        return plain.decode()
    except (ValueError, InvalidTag):  # bad base64, too short, or not this key: all mean "cannot open"
        raise Unreadable("the value does not open with this SECRET_KEY") from None


def _key(secret_key: str, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"newsletter/{purpose}/{VERSION}".encode())
    return hkdf.derive(secret_key.encode() if isinstance(secret_key, str) else secret_key)
