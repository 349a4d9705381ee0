"""The one entry point for mail arriving at the bounce or reply address: raw bytes in, events out."""

import logging
from collections.abc import Sequence
from email.message import Message

from .arf import parse_feedback_report, parse_jmrp
from .dsn import parse_delivery_status
from .mime import (
    FEEDBACK_TYPES,
    REPORT_TYPES,
    first_of_type,
    header_text,
    header_values,
    notice_text,
    read_message,
    returned_original,
    top_parts,
)
from .model import Envelope, FeedbackEvent, first_message_id, first_verp_token, one_line, parse_date
from .plaintext import looks_like_bounce, parse_plain_bounce, split_notice
from .replies import is_automatic, parse_reply
from .sns import ses_events_in_text
from .verp import DEFAULT_LOCAL

log = logging.getLogger("newsletter.feedback")
# Headers the receiving MTA sets to the envelope recipient, i.e. our VERP return path.
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")
NULL_SENDERS = {"", "<>"}


def parse_inbound(
    raw: bytes, envelope_to: Sequence[str] = (), *, envelope_from: str | None = None,
    verp_local: str = DEFAULT_LOCAL,
) -> list[FeedbackEvent]:
    """Turn one inbound message into bounce, complaint or reply events; never raises.

    `envelope_from` is the SMTP MAIL FROM when the mail came over SMTP or LMTP: "" (the null sender,
    RFC 5321 4.5.5) marks a notice, which is never taken for a reader's reply. None when it is not known.
    """
    try:
        null_sender = envelope_from is not None and envelope_from.strip() in NULL_SENDERS
        return _events(raw, envelope_to, verp_local, null_sender)
    except Exception as exc:  # noqa: BLE001 - a hostile or broken message must not stop the inbound worker
        reason = f"{type(exc).__name__}: {one_line(str(exc), 200)}"
        log.warning("inbound message dropped: unreadable (%s)", reason)
        return []


def _events(raw: bytes, envelope_to: Sequence[str], verp_local: str, null_sender: bool) -> list[FeedbackEvent]:
    """parse_inbound without the safety net."""
    if not isinstance(raw, (bytes, bytearray, memoryview)) or not bytes(raw).strip():
        log.warning("inbound message dropped: empty or not bytes")
        return []
    msg = read_message(bytes(raw))
    if not msg.keys():
        log.warning("inbound message dropped: no header could be read")
        return []
    parts = list(top_parts(msg))
    original = returned_original(parts)
    envelope = _envelope(msg, original, envelope_to, verp_local)
    events, what = _classify(msg, parts, original, envelope, null_sender)
    if not events and what:
        log.info("inbound message gave no event: %s", what)
    return events


def _classify(
    msg: Message, parts: list[Message], original: Message | None, envelope: Envelope, null_sender: bool
) -> tuple[list[FeedbackEvent], str]:
    """The events of a message and, when there are none, a few words on why, for the log."""
    feedback_part = first_of_type(parts, FEEDBACK_TYPES)
    if feedback_part is not None:
        events = parse_feedback_report(feedback_part, original, envelope)
        return events, "feedback report of no complaint or opt-out type"
    jmrp = parse_jmrp(original, envelope)  # Microsoft's complaints that are not ARF
    if jmrp:
        return jmrp, ""
    # RFC 3464 does not ask for it, but Gmail and Exchange put our Message-ID in the notice's References.
    references = [header_text(msg, "In-Reply-To"), header_text(msg, "References")]
    bounce_envelope = envelope.with_fallbacks(ids=references)
    status_part = first_of_type(parts, REPORT_TYPES)
    text = notice_text(parts)
    if status_part is not None:
        events = parse_delivery_status(status_part, bounce_envelope, split_notice(text)[0])
        if events is not None:
            return events, "delivery report with no failed recipient"
    notification = ses_events_in_text(text, envelope.verp_local)  # SES notifications mailed by SNS
    if notification is not None:
        return notification, "SES notification of no bounce or complaint"
    # Bounces are checked before autoreplies: MTAs mark their notices Auto-Submitted too (RFC 3834 5).
    if status_part is not None or looks_like_bounce(msg, null_sender):
        return parse_plain_bounce(msg, text, bounce_envelope), "bounce notice naming no recipient"
    if null_sender or is_automatic(msg):
        return [], "automatic mail (a null sender, an autoreply or a list)"
    return parse_reply(msg, envelope), "neither a report nor a reply to our mail"


def _envelope(msg: Message, original: Message | None, envelope_to: Sequence[str], verp_local: str) -> Envelope:
    """The ids and date shared by every event of this message."""
    paths = [str(address) for address in envelope_to if isinstance(address, str)]
    paths += [value for name in ENVELOPE_HEADERS for value in header_values(msg, name)]
    paths += header_values(original, "Return-Path")
    return Envelope(
        message_id=first_message_id(header_text(original, "Message-ID")),
        envelope_token=first_verp_token(paths, verp_local),
        occurred_at=parse_date(header_text(msg, "Date")),
        verp_local=verp_local,
    )
