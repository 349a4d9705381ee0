"""DKIM signatures (RFC 6376, relaxed/relaxed) computed through OpenSSL, RSA-SHA256 and optionally Ed25519.

dkimpy signs in pure Python (~7 ms a signature); OpenSSL through `cryptography` takes ~0.3 ms, which is
the floor: every reader's message needs its own signature, since List-Unsubscribe carries the reader's token
and must be signed (RFC 8058 section 3). Canonicalising is cheap next to it, and what is the same for every
reader of an issue is canonicalised once (see `IssueTemplate`). dkimpy stays the reference the tests verify
against.
"""

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

# Signed when present, in this order. Over-signed names are listed once more than they occur, so that a copy
# added in transit breaks the signature (RFC 6376 section 8.15): a second List-Unsubscribe cannot sneak in.
SIGNED_HEADERS = ("from", "reply-to", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
                  "list-unsubscribe-post", "list-archive", "feedback-id", "auto-submitted", "mime-version",
                  "content-type")
OVERSIGNED = frozenset({"from", "subject", "list-unsubscribe", "list-unsubscribe-post"})
_WSP_RUN = re.compile(rb"[\t ]+")
_WSP_BEFORE_CRLF = re.compile(rb"[\t ]+\r\n")
_LINE_END = re.compile(rb"\r?\n")
_FOLD_AT = 72


@dataclass(frozen=True)
class DkimKey:
    """One signing key of a domain, published at `selector._domainkey.domain`."""

    domain: str
    selector: str
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    @property
    def algorithm(self) -> str:
        return "ed25519-sha256" if isinstance(self.private_key, ed25519.Ed25519PrivateKey) else "rsa-sha256"

    def sign(self, data: bytes) -> bytes:
        """The signature of the canonical header data."""
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return self.private_key.sign(hashlib.sha256(data).digest())  # RFC 8463: Ed25519 over the SHA-256
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def canonical_header(name: str, value: bytes) -> bytes:
    """`name:value` CRLF in relaxed form: lower-case name, unfolded, runs of blanks as one space, trimmed."""
    if b"\n" in value or b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", _LINE_END.sub(b"", value))
    return name.lower().encode("ascii") + b":" + value.strip() + b"\r\n"


def canonical_lines(chunk: bytes) -> bytes:
    """Relaxed body canonicalisation of whole lines (each ends with CRLF): chunks canonicalise alone."""
    if b"\t" in chunk or b"  " in chunk or b" \r\n" in chunk:  # most chunks have nothing to change
        return _WSP_RUN.sub(b" ", _WSP_BEFORE_CRLF.sub(b"\r\n", chunk))
    return chunk


def canonical_body(body: bytes) -> bytes:
    """A whole body in relaxed form, empty lines at the end dropped (RFC 6376 section 3.4.4)."""
    body = canonical_lines(_LINE_END.sub(b"\r\n", body))
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


def body_hash(canonical: bytes) -> str:
    """The bh= value of a canonical body."""
    return base64.b64encode(hashlib.sha256(canonical).digest()).decode("ascii")


def parse_headers(head: bytes) -> list[tuple[str, bytes]]:
    """(lower-case name, raw value with its folding) of each header line of a message head."""
    headers: list[tuple[str, bytes]] = []
    for line in _LINE_END.split(head):
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b"\r\n" + line)
        elif b":" in line:
            name, _, value = line.partition(b":")
            headers.append((name.strip().decode("ascii", "replace").lower(), value))
    return headers


class DkimSigner:
    """Signs finished messages with one key or more (RSA, and Ed25519 beside it if the domain has one)."""

    def __init__(self, keys: list[DkimKey]):
        self.keys = keys

    @property
    def domain(self) -> str:
        return self.keys[0].domain

    def sign(self, raw: bytes) -> bytes:
        """Any finished message, with its DKIM-Signature header(s) first."""
        head, _, body = raw.partition(b"\r\n\r\n")
        canonical = {}
        for name, value in parse_headers(head):
            if name in SIGNED_HEADERS:
                canonical[name] = canonical_header(name, value)  # the last one counts, as the verifier picks it
        return self.signature_headers(canonical, body_hash(canonical_body(body))) + raw

    def signature_headers(self, canonical: dict[str, bytes], bh: str) -> bytes:
        """The DKIM-Signature header lines for a message whose signed headers are `canonical` (one canonical
        line per lower-case name, as `canonical_header` makes them) and whose body hash is `bh`."""
        names = [name for name in SIGNED_HEADERS if name in canonical]
        signed_list = ":".join(name + (":" + name if name in OVERSIGNED else "") for name in names)
        data = b"".join(canonical[name] for name in names)
        stamp = int(time.time())
        lines = []
        for key in self.keys:
            tags = (f"v=1; a={key.algorithm}; c=relaxed/relaxed; d={key.domain}; s={key.selector}; t={stamp};"
                    f"\r\n\th={_fold_list(signed_list)};\r\n\tbh={bh};\r\n\tb=")
            unsigned = canonical_header("dkim-signature", tags.encode("ascii")).rstrip(b"\r\n")
            signature = base64.b64encode(key.sign(data + unsigned)).decode("ascii")
            lines.append(f"DKIM-Signature: {tags}{_fold_value(signature)}\r\n")
        return "".join(lines).encode("ascii")  # RSA first: verifiers that check only one take the first


@lru_cache(maxsize=64)  # one list per kind of message
def _fold_list(names: str) -> str:
    """h= folded after colons, so that no header line passes 78 characters."""
    out, line = [], ""
    for name in names.split(":"):
        if line and len(line) + len(name) + 1 > _FOLD_AT:
            out.append(line + ":")
            line = ""
        line = f"{line}:{name}" if line else name
    out.append(line)
    return "\r\n\t ".join(out)


def _fold_value(value: str) -> str:
    return "\r\n\t ".join(value[i:i + _FOLD_AT] for i in range(0, len(value), _FOLD_AT))


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    """A PEM private key (PKCS#1 as opendkim-genkey writes it, or PKCS#8); ValueError if it is not one."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise ValueError("a DKIM key is RSA or Ed25519")
    return key


def make_signer(config: dict) -> DkimSigner | None:
    """The operator's signer when DKIM_PRIVATE_KEY_FILE, DKIM_SELECTOR and DKIM_DOMAIN are set."""
    if not config["DKIM_PRIVATE_KEY_FILE"]:
        return None
    with open(config["DKIM_PRIVATE_KEY_FILE"], "rb") as handle:
        key = load_private_key(handle.read())
    return DkimSigner([DkimKey(config["DKIM_DOMAIN"], config["DKIM_SELECTOR"], key)])
