"""Bounces without a usable delivery-status part: qmail, Exim's old notices, legacy Exchange, broken DSNs."""

import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses
from itertools import islice

from . import dsn
from .mime import addresses_in, field_blocks, header_text, header_values
from .model import MAX_DIAGNOSTIC, MAX_EVENTS, Envelope, FeedbackEvent, recipient_or_none
from .recipients import DAEMON_LOCALS, failed_recipients
from .status import find_enhanced_status, status_from_basic_code

_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|delivery (?:has )?failed|delivery failure|mail delivery failed"
    r"|returned mail|failure notice|could not be delivered|non-?delivery|delivery problem|mail system error"
    r"|mail error|rejected mail|error during delivery|delivery notification",
    re.IGNORECASE,
)
# Where the notice ends and the copy of our message begins (qmail, Exim, Sendmail, Postfix wordings).
_COPY_START = re.compile(
    r"^[ \t]*(?:-+ ?Below this line is a copy of the message|-+ This is a copy of the message"
    r"|-+ ?Original message|-+ The header of the original message|Original message headers:"
    r"|-+ ?Returned message|The first \d{1,4} lines of your original message follow)",
    re.IGNORECASE | re.MULTILINE,
)
# Bounded repeats (RFC 5321 4.5.3.1 lengths) keep these linear on hostile text.
_QMAIL_RECIPIENT = re.compile(r"^<([^<>\s@]{1,64}@[^<>\s@]{1,255})>:[ \t]*$", re.MULTILINE)
_QUOTED_HEADER = r"^[ \t]*{name}:[ \t]*(.+)$"
# A warning that delivery is delayed and still being tried: not a bounce (the final failure, if any, follows).
_WARNING = re.compile(
    r"will (?:keep|continue) (?:on )?trying|still trying|will (?:be )?retr(?:y|ied)|not yet been delivered"
    r"|has been delayed|is delayed|delivery delayed|no action is required|this is (?:only )?a warning"
    r"|will try (?:again|to deliver)|continue attempting",
    re.IGNORECASE,
)
_PERMANENT = re.compile(
    r"permanent(?:ly)? (?:error|fatal|failure|failed)|unrecoverable|I've given up|giving up",
    re.IGNORECASE,
)
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
MAX_WORDS = 2000  # characters about one recipient that are read; the diagnostic keeps 1000


def looks_like_bounce(msg: Message, null_sender: bool = False) -> bool:
    """True for a delivery failure notice: Exim's X-Failed-Recipients, a daemon sender, or its subject.

    The subject alone is not enough: a reader may write "why was it undeliverable?". It counts only on
    mail that is itself automatic: sent with a null envelope sender (RFC 5321 4.5.5, the strongest sign,
    given by `bounces serve`), a null Return-Path, or Auto-Submitted set.
    """
    if msg.get("X-Failed-Recipients") is not None:
        return True
    senders = getaddresses(header_values(msg, "From") + header_values(msg, "Return-Path"))
    if any(_is_daemon(name, address) for name, address in senders):
        return True
    null_from = any(not address for _name, address in getaddresses(header_values(msg, "From")))
    null_path = null_sender or null_from or header_text(msg, "Return-Path").replace(" ", "") == "<>"
    auto_submitted = header_text(msg, "Auto-Submitted").lower() not in ("", "no")
    return (null_path or auto_submitted) and bool(_BOUNCE_SUBJECT.search(header_text(msg, "Subject")))


def _is_daemon(name: str, address: str) -> bool:
    """A mailer daemon's From, also when its address is empty ("MAILER-DAEMON <>", as DragonFly writes it)."""
    local = address.partition("@")[0] if address else name.strip().strip('"')
    return local.lower() in DAEMON_LOCALS


def split_notice(text: str) -> tuple[str, str]:
    """The notice and the returned copy of our message that many MTAs append to it."""
    found = _COPY_START.search(text)
    return (text[: found.start()], text[found.start():]) if found else (text, "")


def quoted_header(text: str, name: str) -> str | None:
    """The first `name:` line in text (a returned copy pasted into the notice), or None."""
    found = re.search(_QUOTED_HEADER.format(name=re.escape(name)), text, re.IGNORECASE | re.MULTILINE)
    return found.group(1).strip() if found else None


def is_warning(text: str) -> bool:
    """True for a delay warning: the notice says it keeps trying and calls nothing permanent."""
    return bool(_WARNING.search(text)) and not _PERMANENT.search(text)


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice's text and what it says as a whole, worked out once however many recipients it names."""

    text: str
    paragraphs: list[str]
    status: str | None

    @classmethod
    def read(cls, text: str) -> "Notice":
        """Split and scan the notice text once."""
        status = find_enhanced_status(text) or status_from_basic_code(text)
        return cls(text, _PARAGRAPH.split(text), status)

    def paragraph_with(self, needle: str) -> str:
        """The blank-line delimited paragraph that mentions `needle` (case-insensitive), or ""."""
        lowered = needle.lower()
        return next((p for p in self.paragraphs if lowered in p.lower()), "")


def failure_event(recipient: str | None, words: str, notice: Notice, envelope: Envelope) -> FeedbackEvent:
    """One bounce event from the words about a recipient, falling back on the notice as a whole."""
    words = words[:MAX_WORDS]
    status = find_enhanced_status(words) or status_from_basic_code(words) or notice.status
    return envelope.bounce(recipient, status, words or notice.text[:MAX_DIAGNOSTIC], notice.text)


def qmail_events(notice: Notice, envelope: Envelope) -> list[FeedbackEvent]:
    """qmail-send's "<address>:" paragraphs (the qmail bounce format, QSBMF), one event each."""
    events = []
    for found in islice(_QMAIL_RECIPIENT.finditer(notice.text), MAX_EVENTS):
        words = _PARAGRAPH.split(notice.text[found.end() : found.end() + MAX_WORDS], 1)[0]
        events.append(failure_event(recipient_or_none(found.group(1)), words, notice, envelope))
    return events


def own_addresses(msg: Message, text: str) -> set[str]:
    """Addresses that are never the failed reader: the notice's own, and our sender's in a pasted copy."""
    names = ("From", "To", "Sender", "Reply-To", "Delivered-To")
    values = [value for name in names for value in header_values(msg, name)]
    values += [quoted_header(text, name) or "" for name in ("From", "Sender", "Reply-To")]
    return {address.lower() for address in addresses_in(values)}


def parse_plain_bounce(msg: Message, text: str, envelope: Envelope) -> list[FeedbackEvent]:
    """Events from a notice's text: embedded DSN fields, qmail paragraphs, X-Failed-Recipients, flufl.bounce."""
    notice_text, copy = split_notice(text)
    notice = Notice.read(notice_text)
    envelope = envelope.with_fallbacks(
        ids=[quoted_header(copy or text, "Message-ID")],
        paths=[quoted_header(copy or text, "Return-Path")],
    )
    from_fields = dsn.events_from_blocks(field_blocks(text), envelope, notice_text)
    if from_fields is not None:  # a DSN whose MIME structure was lost still has its fields
        return from_fields
    if is_warning(notice_text):
        return []
    events = qmail_events(notice, envelope)
    if events:
        return events
    listed = addresses_in(header_values(msg, "X-Failed-Recipients"))  # Exim's header
    failed = [r for r in map(recipient_or_none, listed[:MAX_EVENTS]) if r]
    if not failed:
        failed = failed_recipients(msg, notice_text, ignored=own_addresses(msg, text), verp_local=envelope.verp_local)
    if not failed:
        if envelope.envelope_token is None:
            return []
        failed = [None]  # the VERP token names the delivery even when the notice names nobody
    return [failure_event(r, notice.paragraph_with(r) if r else "", notice, envelope) for r in failed]
