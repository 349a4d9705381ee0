"""Status codes (RFC 3463 enhanced, RFC 5321 basic) and the one rule that turns them into a kind."""

import re

from .model import HARD_BOUNCE, SOFT_BOUNCE

# RFC 3463 2: class "." subject "." detail, subject and detail of 1-3 digits. The look-arounds keep
# IP addresses (192.0.2.5) and dates (1.2.2024) from passing for codes.
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
# A basic RFC 5321 reply code where servers put one: at the start, or after "said:" / "]:" / ";".
_BASIC = re.compile(r"(?:^|said:|\]:|;)\s*([45][0-5]\d)(?:[ -]|$)", re.IGNORECASE)
# RFC 3463 3.3: X.2.2 is "mailbox full"; many servers say "552 ... over quota" without the code.
_MAILBOX_FULL_TEXT = re.compile(
    r"over\s*quota|quota\s*exceeded|exceeded\s+(?:the\s+)?(?:storage|quota)|mailbox\s+(?:is\s+)?full"
    r"|insufficient\s+(?:system\s+)?storage|mailbox\s+size\s+limit|out\s+of\s+storage",
    re.IGNORECASE,
)
MAILBOX_FULL_CODES = {"4.2.2", "5.2.2"}


def find_enhanced_status(text: str | None) -> str | None:
    """The first RFC 3463 enhanced status code in `text` ("5.1.1"), or None."""
    if not text:
        return None
    found = _ENHANCED.search(text)
    return ".".join(found.groups()) if found else None


def status_from_basic_code(text: str | None) -> str | None:
    """An RFC 3463 class-only code ("5.0.0") from a basic SMTP reply code such as "550", or None."""
    if not text:
        return None
    found = _BASIC.search(text)
    return f"{found.group(1)[0]}.0.0" if found else None


def best_status(field: str | None, diagnostic: str | None) -> str | None:
    """The most specific status: the Status field, refined by the diagnostic when the field says X.0.0."""
    declared = find_enhanced_status(field)
    detailed = find_enhanced_status(diagnostic)
    if declared is None:
        return detailed or status_from_basic_code(diagnostic)
    # Exim and others report "Status: 5.0.0" while quoting the remote's "550 5.1.1" in the diagnostic.
    if declared.endswith(".0.0") and detailed and detailed[0] == declared[0]:
        return detailed
    return declared


def is_mailbox_full(status: str | None, text: str | None) -> bool:
    """True for a full mailbox: status X.2.2 or the usual "over quota" wordings."""
    if status in MAILBOX_FULL_CODES:
        return True
    return bool(text and _MAILBOX_FULL_TEXT.search(text))


def bounce_kind(status: str | None, text: str | None = None, *, permanent: bool | None = None) -> str:
    """Hard or soft bounce from a status code, the server's words and, if known, the reporter's verdict.

    A full mailbox is soft whatever the class (it may be emptied); with nothing to go on, soft, so that
    an unclear notice can never stop mail to a reader on its own.
    """
    if is_mailbox_full(status, text):
        return SOFT_BOUNCE
    if status:
        return HARD_BOUNCE if status.startswith("5") else SOFT_BOUNCE
    return HARD_BOUNCE if permanent else SOFT_BOUNCE
