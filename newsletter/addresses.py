"""How an e-mail address is checked, normalised and hashed: the one place for it."""

import contextlib
import hashlib
import hmac
import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from .errors import InvalidAddress, InvalidInput

MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit minus the angle brackets
MAX_LOCAL_PART = 64  # RFC 5321
MAX_NAME_LENGTH = 200  # characters: the column
MAX_NAME_BYTES = 400  # a person's name in UTF-8: 200 accented letters, 100 emoji; folded headers take any length
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# Whatever str.splitlines() breaks on (CR, LF, VT, FF, FS, GS, RS, NEL, U+2028, U+2029) and every other C0 and
# C1 control (NUL, ESC, DEL...), except the tab, which RFC 5322 counts as a blank like the space. The email package of Python 3.11.7 lets some of these through into raw header
# lines, or refuses them only when the message is written (CVE-2024-6923). One scan of the value rather than
# one per character: an import checks two cells of every row.
_HEADER_BREAKER = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def has_header_breaker(value: str) -> bool:
    """True if the value holds a line break of any kind or a control character: it must never reach a header."""
    return _HEADER_BREAKER.search(value) is not None


def clean_display_name(raw: str | None) -> str:
    """A person's name as it may go into a header: trimmed, inner blanks as one space, on one line, without
    control characters, at most MAX_NAME_BYTES in UTF-8; InvalidInput saying which rule it breaks."""
    raw = (raw or "").strip()
    if has_header_breaker(raw):
        raise InvalidInput("A name cannot contain line breaks or control characters: write it on one line.")
    name = " ".join(raw.split())
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"A name has at most {MAX_NAME_LENGTH} characters (this one has {len(name)}).")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidInput(f"A name has at most {MAX_NAME_BYTES} bytes in UTF-8 (about {MAX_NAME_BYTES // 2} "
                           f"accented letters or {MAX_NAME_BYTES // 4} emoji).")
    return name


def normalise_address(raw: str) -> str:
    """Return the canonical form of an address (lower case, ASCII domain) or raise InvalidAddress."""
    if not isinstance(raw, str):
        raise InvalidAddress("An e-mail address must be text.")
    # Most of the full check's time goes to the domain (IDNA, special-use names), and an import of a million
    # rows holds few distinct domains: for a plain ASCII dot-atom local part, the domain is checked once per
    # domain and the local part lower-cased, as the full check does. Anything else takes the full check.
    local, at, domain = raw.rpartition("@")
    if at and domain.isascii() and len(raw) <= MAX_ADDRESS_LENGTH and len(local) <= MAX_LOCAL_PART \
            and _DOT_ATOM.fullmatch(local):
        with contextlib.suppress(InvalidAddress):  # the full check below says why, in its own words
            return local.lower() + "@" + _normalised_domain(domain)
    return validate_address(raw)


@lru_cache(maxsize=4096)  # bounded: memory stays flat whatever the number of domains
def _normalised_domain(domain: str) -> str:
    return validate_address("postmaster@" + domain).rpartition("@")[2]


def validate_address(raw: str) -> str:
    """The full check behind normalise_address, without its shortcut: same answer, slower."""
    if not isinstance(raw, str):
        raise InvalidAddress("An e-mail address must be text.")
    if has_header_breaker(raw):
        raise InvalidAddress("An e-mail address cannot contain line breaks or control characters.")
    value = raw.strip()
    if not value:
        raise InvalidAddress("Enter an e-mail address.")
    if len(value) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(f"An e-mail address has at most {MAX_ADDRESS_LENGTH} characters.")
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"{value[:80]!r} is not a valid e-mail address: {exc}") from None
    # Mailboxes are case-insensitive in practice; one canonical form keeps one row per person.
    return (checked.ascii_email or checked.normalized).lower()


def address_hmac(secret: bytes, address: str) -> str:
    """Keyed hash of a normalised address: stored on the suppression list instead of the address.

    A plain hash could be reversed by hashing guesses; an HMAC needs the instance secret.
    """
    # hmac.digest is the one-shot C implementation: an import hashes every row.
    return hmac.digest(secret, address.encode("utf-8"), hashlib.sha256).hex()


def mail_domain(address: str | None) -> str | None:
    """The mail domain of an address, lower-cased (what receiving servers are told apart by), or None."""
    return address.rpartition("@")[2].lower()[:255] or None if address and "@" in address else None
