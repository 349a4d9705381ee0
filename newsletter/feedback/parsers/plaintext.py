"""Bounces without a usable delivery-status part: qmail, Exim's old notices, legacy Exchange, broken DSNs."""

import re
from dataclasses import dataclass
from email.message import Message
from itertools import islice

from . import dsn
from .mime import addresses_in, field_blocks, header_text, header_values
from .model import MAX_DIAGNOSTIC, MAX_EVENTS, Envelope, FeedbackEvent, recipient_or_none
from .status import bounce_kind, find_enhanced_status, status_from_basic_code

DAEMON_LOCALS = {"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mdaemon"}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|delivery (?:has )?failed|delivery failure|mail delivery failed"
    r"|returned mail|failure notice|could not be delivered|non-?delivery|delivery problem|mail system error",
    re.IGNORECASE,
)
# Where the notice ends and the copy of our message begins (qmail, Exim, Sendmail, Postfix wordings).
_COPY_START = re.compile(
    r"^(?:-+ ?Below this line is a copy of the message|-+ This is a copy of the message"
    r"|-+ ?Original message|-+ The header of the original message|Original message headers:"
    r"|-+ ?Returned message)",
    re.IGNORECASE | re.MULTILINE,
)
# Bounded repeats (RFC 5321 4.5.3.1 lengths) keep these linear on hostile text.
_QMAIL_RECIPIENT = re.compile(r"^<([^<>\s@]{1,64}@[^<>\s@]{1,255})>:[ \t]*$", re.MULTILINE)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")
_QUOTED_HEADER = r"^[ \t]*{name}:[ \t]*(.+)$"
_TEMPORARY = re.compile(
    r"temporary (?:error|failure|problem)|delayed|will (?:keep|continue) trying|still trying|will retry"
    r"|not yet been delivered",
    re.IGNORECASE,
)
_PERMANENT = re.compile(
    r"permanent(?:ly)? (?:error|fatal|failure|failed)|unrecoverable|I've given up|giving up",
    re.IGNORECASE,
)
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
MAX_WORDS = 2000  # characters about one recipient that are read; the diagnostic keeps 1000


def looks_like_bounce(msg: Message) -> bool:
    """True for a delivery failure notice: Exim's X-Failed-Recipients, a daemon sender, or its subject.

    The subject alone is not enough: a reader may write "why was it undeliverable?". It counts only on
    mail that is itself automatic, with a null return path (RFC 5321 4.5.5) or Auto-Submitted set.
    """
    if msg.get("X-Failed-Recipients") is not None:
        return True
    senders = addresses_in(header_values(msg, "From"))
    if any(address.partition("@")[0].lower() in DAEMON_LOCALS for address in senders):
        return True
    null_path = header_text(msg, "Return-Path").replace(" ", "") == "<>"
    auto_submitted = header_text(msg, "Auto-Submitted").lower() not in ("", "no")
    return (null_path or auto_submitted) and bool(_BOUNCE_SUBJECT.search(header_text(msg, "Subject")))


def split_notice(text: str) -> tuple[str, str]:
    """The notice and the returned copy of our message that many MTAs append to it."""
    found = _COPY_START.search(text)
    return (text[: found.start()], text[found.start():]) if found else (text, "")


def quoted_header(text: str, name: str) -> str | None:
    """The first `name:` line in text (a returned copy pasted into the notice), or None."""
    found = re.search(_QUOTED_HEADER.format(name=re.escape(name)), text, re.IGNORECASE | re.MULTILINE)
    return found.group(1).strip() if found else None


def severity(text: str) -> bool | None:
    """True if the notice calls the failure permanent, False if temporary, None if it does not say."""
    if _TEMPORARY.search(text):
        return False
    return True if _PERMANENT.search(text) else None


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice's text and what it says as a whole, worked out once however many recipients it names."""

    text: str
    paragraphs: list[str]
    status: str | None
    permanent: bool | None

    @classmethod
    def read(cls, text: str) -> "Notice":
        """Split and scan the notice text once."""
        status = find_enhanced_status(text) or status_from_basic_code(text)
        return cls(text, _PARAGRAPH.split(text), status, severity(text))

    def paragraph_with(self, needle: str) -> str:
        """The blank-line delimited paragraph that mentions `needle` (case-insensitive), or ""."""
        lowered = needle.lower()
        return next((p for p in self.paragraphs if lowered in p.lower()), "")


def failure_event(recipient: str | None, words: str, notice: Notice, envelope: Envelope) -> FeedbackEvent:
    """One bounce event from the words about a recipient, falling back on the notice as a whole."""
    words = words[:MAX_WORDS]
    status = find_enhanced_status(words) or status_from_basic_code(words) or notice.status
    kind = bounce_kind(status, words or notice.text, permanent=notice.permanent)
    return envelope.event(kind, recipient, status, words or notice.text[:MAX_DIAGNOSTIC])


def qmail_events(notice: Notice, envelope: Envelope) -> list[FeedbackEvent]:
    """qmail-send's "<address>:" paragraphs (the qmail bounce format, QSBMF), one event each."""
    events = []
    for found in islice(_QMAIL_RECIPIENT.finditer(notice.text), MAX_EVENTS):
        words = _PARAGRAPH.split(notice.text[found.end() : found.end() + MAX_WORDS], 1)[0]
        events.append(failure_event(recipient_or_none(found.group(1)), words, notice, envelope))
    return events


def scanned_recipient(notice: str, ignored: set[str], verp_local: str) -> str | None:
    """The first address in the notice that is not ours, the reporter's or a postmaster's."""
    for candidate in _ADDRESS.findall(notice):
        recipient = recipient_or_none(candidate)
        if recipient is None or recipient in ignored:
            continue
        local = recipient.partition("@")[0]
        if local in DAEMON_LOCALS or local.startswith(f"{verp_local.lower()}+"):
            continue
        return recipient
    return None


def own_addresses(msg: Message, text: str) -> set[str]:
    """Addresses that are never the failed reader: the notice's own, and our sender's in a pasted copy."""
    names = ("From", "To", "Sender", "Reply-To", "Delivered-To")
    values = [value for name in names for value in header_values(msg, name)]
    values += [quoted_header(text, name) or "" for name in ("From", "Sender", "Reply-To")]
    return {address.lower() for address in addresses_in(values)}


def parse_plain_bounce(msg: Message, text: str, envelope: Envelope) -> list[FeedbackEvent]:
    """Events from a notice's text: embedded DSN fields, qmail paragraphs, X-Failed-Recipients, a scan."""
    notice_text, copy = split_notice(text)
    notice = Notice.read(notice_text)
    envelope = envelope.with_fallbacks(
        ids=[quoted_header(copy or text, "Message-ID")],
        paths=[quoted_header(copy or text, "Return-Path")],
    )
    from_fields = dsn.events_from_blocks(field_blocks(text), envelope)
    if from_fields is not None:  # a DSN whose MIME structure was lost still has its fields
        return from_fields
    events = qmail_events(notice, envelope)
    if events:
        return events
    listed = addresses_in(header_values(msg, "X-Failed-Recipients"))  # Exim's header
    failed = [r for r in map(recipient_or_none, listed[:MAX_EVENTS]) if r]
    if not failed:
        failed = [scanned_recipient(notice_text, own_addresses(msg, text), envelope.verp_local)]
    if failed == [None] and envelope.envelope_token is None:
        return []
    return [failure_event(r, notice.paragraph_with(r) if r else "", notice, envelope) for r in failed]
