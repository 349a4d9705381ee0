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
from functools import lru_cache, partial

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
        return self.signing_function()(data)

    def signing_function(self):
        """sign(), without its per-call choice of algorithm: for many signatures in a row."""
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            sign = self.private_key.sign
            return lambda data: sign(hashlib.sha256(data).digest())  # RFC 8463: Ed25519 over the SHA-256
        return partial(self.private_key.sign, padding=_PKCS1, algorithm=_SHA256)


_PKCS1, _SHA256 = padding.PKCS1v15(), hashes.SHA256()  # immutable: made once, not per signature


def canonical_header(name: str, value: bytes) -> bytes:
    """`name:value` CRLF in relaxed form: lower-case name, unfolded, runs of blanks as one space, trimmed."""
    if b"\n" in value or b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", _LINE_END.sub(b"", value))
    return name.lower().encode("ascii") + b":" + value.strip() + b"\r\n"


def is_relaxed(lines: str, count: int) -> bool:
    """Whether `count` header lines `name:value` CRLF, names in lower case, are canonical already: no folding,
    tab, run of spaces or blank around a colon or at a line's end (a cheap test; False may be wrong, not True)."""
    return ("\t" not in lines and "  " not in lines and ": " not in lines and " \r" not in lines
            and lines.count("\n") == count)


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


def body_hash(canonical: bytes) -> bytes:
    """The bh= value of a canonical body."""
    return base64.b64encode(hashlib.sha256(canonical).digest())


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

    def signature_headers(self, canonical: dict[str, bytes], bh: bytes) -> bytes:
        """The DKIM-Signature header lines for a message whose signed headers are `canonical` (one canonical
        line per lower-case name, as `canonical_header` makes them) and whose body hash is `bh`."""
        return self.plan(canonical).headers(b"", bh)

    def plan(self, fixed: dict[str, bytes], own: tuple[str, ...] = ()) -> "SignaturePlan":
        """What signing many messages shares when they have the same `fixed` canonical header lines and each has
        its own values of the headers named in `own` (an issue's readers)."""
        return SignaturePlan(self.keys, fixed, own)


class SignaturePlan:
    """The DKIM-Signature headers of messages that share most of their signed header lines.

    An issue's From, Subject, List-Id... are the same for every reader; To, Date, Message-ID and
    List-Unsubscribe are the reader's own. The shared lines come first in h= (a verifier hashes the headers in
    the order h= names them, whatever their order in the message), so they are canonicalised and joined once;
    so are the signature's own tags, in the raw form the message carries and in the canonical form that is
    signed. A message then adds its own canonical lines, the time, its body hash and the signatures.
    """

    def __init__(self, keys: list[DkimKey], fixed: dict[str, bytes], own: tuple[str, ...]):
        names = [name for name in SIGNED_HEADERS if name in fixed and name not in own] + list(own)
        signed_list = ":".join(name + (":" + name if name in OVERSIGNED else "") for name in names)
        self.fixed = b"".join(fixed[name] for name in names if name not in own)
        self.keys = []  # (its signing function, raw tags cut at t= and bh=, canonical tags cut the same way)
        for key in keys:
            tags = (f"v=1; a={key.algorithm}; c=relaxed/relaxed; d={key.domain}; s={key.selector}; t=\0;"
                    f"\r\n\th={_fold_list(signed_list)};\r\n\tbh=\0;\r\n\tb=").encode("ascii")
            canonical = canonical_header("dkim-signature", tags).rstrip(b"\r\n")
            self.keys.append((key.signing_function(), (b"DKIM-Signature: " + tags).split(b"\0"),
                              canonical.split(b"\0")))

    def headers(self, own: bytes, bh: bytes) -> bytes:
        """The DKIM-Signature lines of a message whose own header lines, canonical and in the plan's order, are
        `own`, and whose body hash (base64) is `bh`. RSA first: verifiers that check only one take the first."""
        stamp = b"%d" % time.time()
        signed = self.fixed + own
        lines = []
        for sign, raw, canonical in self.keys:
            signature = base64.b64encode(sign(b"".join(
                (signed, canonical[0], stamp, canonical[1], bh, canonical[2]))))
            lines += (raw[0], stamp, raw[1], bh, raw[2], _fold_signature(signature), b"\r\n")
        return b"".join(lines)


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


def _fold_signature(value: bytes) -> bytes:
    return b"\r\n\t ".join([value[i:i + _FOLD_AT] for i in range(0, len(value), _FOLD_AT)])


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
