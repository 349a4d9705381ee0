"""DKIM key pairs: made here, published as `p=` values, and kept encrypted with a key derived from SECRET_KEY.

A private key at rest is a Fernet token (AES-128-CBC + HMAC-SHA256) under a key that HKDF derives from the
instance secret for this one purpose, so a copy of the database alone signs nothing. An operator who would
rather keep keys in files names one (`domains add --key-file`), and only the file's path is stored.
"""

import base64
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .dkim_signing import load_private_key

RSA_BITS = 2048  # what receivers expect today; 1024 is weak, 4096 does not fit one DNS string comfortably
_PURPOSE = b"newsletter dkim private keys v1"


class KeyUnavailable(Exception):
    """A private key cannot be read: a changed SECRET_KEY, or a key file gone or unreadable."""


def generate(kind: str = "rsa"):
    """A new private key: RSA-2048 or Ed25519."""
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def pem(key) -> bytes:
    """The private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_value(key) -> str:
    """The `p=` value of the DKIM record: base64 of the public key (SPKI DER for RSA, raw for Ed25519)."""
    public = key.public_key()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        data = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        data = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(data).decode("ascii")


def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret: str, key) -> bytes:
    """The private key encrypted for storage."""
    return _fernet(secret).encrypt(pem(key))


def unseal(secret: str, token: bytes):
    """The private key from `seal`; KeyUnavailable if SECRET_KEY is not the one that sealed it."""
    try:
        return load_private_key(_fernet(secret).decrypt(bytes(token)))
    except InvalidToken:
        raise KeyUnavailable("the stored private key cannot be decrypted: SECRET_KEY has changed since the "
                             "domain was added. Restore the previous SECRET_KEY, or remove the domain, add it "
                             "again and publish its new DKIM record.") from None


def read_key_file(path: str):
    """The private key in a PEM file; KeyUnavailable saying what is wrong with the file."""
    try:
        return load_private_key(Path(path).read_bytes())
    except OSError as error:
        raise KeyUnavailable(f"the key file {path} cannot be read ({error.strerror or error}).") from None
    except (ValueError, TypeError):
        raise KeyUnavailable(f"{path} holds no unencrypted RSA or Ed25519 private key in PEM form.") from None


def write_key_file(path: str, key) -> None:
    """Write a new key where the operator asked, readable by this user only; never over an existing file."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem(key))
