"""How an e-mail address is checked, normalised and hashed: the one place for it."""

import hashlib
import hmac

from email_validator import EmailNotValidError, validate_email

from .errors import InvalidAddress

MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit minus the angle brackets
FORBIDDEN_IN_HEADERS = ("\r", "\n", "\0")


def has_header_breaker(value: str) -> bool:
    """True if the value holds CR, LF or NUL, which could inject a header (CVE-2024-6923)."""
    return any(ch in value for ch in FORBIDDEN_IN_HEADERS)


def normalise_address(raw: str) -> str:
    """Return the canonical form of an address (lower case, ASCII domain) or raise InvalidAddress."""
    if not isinstance(raw, str):
        raise InvalidAddress("An e-mail address must be text.")
    if has_header_breaker(raw):
        raise InvalidAddress("An e-mail address cannot contain line breaks or NUL characters.")
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
    return hmac.new(secret, address.encode("utf-8"), hashlib.sha256).hexdigest()
