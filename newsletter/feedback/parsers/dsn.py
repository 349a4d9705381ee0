"""Delivery status notifications (RFC 3464): one event per recipient that failed or was delayed."""

import re

from .mime import report_blocks
from .model import MAX_EVENTS, Envelope, FeedbackEvent, parse_date, recipient_or_none
from .status import best_status

# RFC 3464 2.3.3: success reports ("deliverable" is a MTA's answer to a NOTIFY=SUCCESS probe), and a
# delay warning, which is not a bounce: the final failure, if any, comes later.
NO_EVENT_ACTIONS = {"delivered", "relayed", "expanded", "deliverable", "delayed"}
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
RECIPIENT_FIELDS = {"final-recipient", "original-recipient", "action"}


def recipient_blocks(blocks: list[dict[str, str]]) -> list[dict[str, str]]:
    """The per-recipient field groups (RFC 3464 2.3), recognised by their fields, not their position."""
    return [block for block in blocks if RECIPIENT_FIELDS & block.keys()]


def message_fields(blocks: list[dict[str, str]]) -> dict[str, str]:
    """The per-message fields (RFC 3464 2.2): every group that is not about one recipient."""
    merged: dict[str, str] = {}
    for block in blocks:
        if not RECIPIENT_FIELDS & block.keys():
            for name, value in block.items():
                merged.setdefault(name, value)
    return merged


def without_type(value: str | None) -> str:
    """A typed field's text without its type: "smtp; 550 5.1.1 ..." -> "550 5.1.1 ..." (RFC 3464 2.3.6)."""
    if not value:
        return ""
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and kind.strip() and " " not in kind.strip() else value.strip()


def recipient_event(fields: dict[str, str], envelope: Envelope, notice: str = "") -> FeedbackEvent | None:
    """The event for one per-recipient group, or None when it reports a success or a delay."""
    action = (fields.get("action") or "").strip().lower().split(" ", 1)[0]
    diagnostic = without_type(fields.get("diagnostic-code"))
    status = best_status(fields.get("status"), diagnostic)
    if action in NO_EVENT_ACTIONS or (status or "").startswith("2"):
        return None
    # Original-Recipient is the address as we gave it (RFC 3464 2.3.1); Final-Recipient may be an
    # alias the remote expanded it to, which would match no reader.
    recipient = recipient_or_none(fields.get("original-recipient")) or recipient_or_none(
        fields.get("final-recipient")
    )
    when = parse_date(fields.get("last-attempt-date"))
    # Without a diagnostic, the human-readable part says why (the paragraph about this recipient first).
    words = "" if diagnostic else about(notice, recipient)
    return envelope.bounce(recipient, status, diagnostic or fields.get("status", ""), words, occurred_at=when)


def about(notice: str, recipient: str | None) -> str:
    """The paragraph of a notice that names the recipient, else the whole notice."""
    if recipient:
        for paragraph in _PARAGRAPH.split(notice):
            if recipient in paragraph.lower():
                return paragraph
    return notice


def events_from_blocks(blocks: list[dict[str, str]], envelope: Envelope,
                       notice: str = "") -> list[FeedbackEvent] | None:
    """Events for every failed recipient; None if the groups name no recipient at all."""
    recipients = recipient_blocks(blocks)[:MAX_EVENTS]
    if not recipients:
        return None
    per_message = message_fields(blocks)
    envelope = envelope.with_fallbacks(
        ids=[per_message.get("x-original-message-id")],  # Gmail's per-message extension field
        paths=[without_type(per_message.get("x-postfix-sender"))],
    )
    if envelope.occurred_at is None:
        envelope = envelope.with_date(parse_date(per_message.get("arrival-date")))
    events = (recipient_event(fields, envelope, notice) for fields in recipients)
    return [event for event in events if event is not None]


def parse_delivery_status(status_part, envelope: Envelope, notice: str = "") -> list[FeedbackEvent] | None:
    """Events from a message/delivery-status part; None if it names no recipient (see plaintext)."""
    return events_from_blocks(report_blocks(status_part), envelope, notice)
