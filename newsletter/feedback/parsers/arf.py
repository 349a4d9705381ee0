"""Abuse feedback reports (RFC 5965, ARF), as sent by feedback loops such as Yahoo's and Microsoft's JMRP."""

from email.message import Message

from .mime import addresses_in, header_text, header_values, report_blocks
from .model import COMPLAINT, OPT_OUT, Envelope, FeedbackEvent, parse_date, recipient_or_none

# RFC 5965 3.1 / 7.3: the registered feedback types that mean "the reader objects to this mail", and
# "opt-out" (RFC 6650 / 5965 7.3): the reader asks to leave. "not-spam" is the opposite, and "auth-failure"
# (RFC 6591) concerns our authentication, not a reader.
COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}
OPT_OUT_TYPES = {"opt-out", "optout"}
# Microsoft's JMRP redacts To: but keeps the real recipient in this header of the returned copy.
MICROSOFT_RECIPIENT = "X-HmXmrOriginalRecipient"


def report_fields(report_part: Message) -> dict[str, str]:
    """The feedback-report fields as one mapping (RFC 5965 3.1 says there is a single group)."""
    merged: dict[str, str] = {}
    for block in report_blocks(report_part):
        for name, value in block.items():
            merged.setdefault(name, value)
    return merged


def complained_recipient(fields: dict[str, str], original: Message | None) -> str | None:
    """The reader who complained: Original-Rcpt-To, Removal-Recipient, then the returned copy's headers."""
    candidates = [fields.get("original-rcpt-to"), fields.get("removal-recipient")]
    candidates.append(header_text(original, MICROSOFT_RECIPIENT))
    candidates.extend(addresses_in(header_values(original, "To")))
    for candidate in candidates:
        recipient = recipient_or_none(candidate)
        if recipient:
            return recipient
    return None


def parse_feedback_report(
    report_part: Message, original: Message | None, envelope: Envelope
) -> list[FeedbackEvent]:
    """One complaint event for an abuse report, one opt-out for an opt-out report, nothing for the others."""
    fields = report_fields(report_part)
    feedback_type = (fields.get("feedback-type") or "").strip().lower()
    if feedback_type not in COMPLAINT_TYPES | OPT_OUT_TYPES:
        return []
    kind = OPT_OUT if feedback_type in OPT_OUT_TYPES else COMPLAINT
    # Original-Mail-From is our envelope sender, so it holds the VERP token even when To is redacted.
    envelope = envelope.with_fallbacks(paths=[fields.get("original-mail-from")])
    envelope = envelope.with_date(parse_date(fields.get("arrival-date") or fields.get("received-date")))
    recipient = complained_recipient(fields, original)
    # No words from the reader are kept; the User-Agent names the feedback loop that reported it.
    return [envelope.event(kind, recipient, feedback_type, fields.get("user-agent", ""))]


def parse_jmrp(original: Message | None, envelope: Envelope) -> list[FeedbackEvent]:
    """A complaint from Microsoft's JMRP in its own format (multipart/mixed, the copy carrying
    X-HmXmrOriginalRecipient), which is no ARF report; [] for any other message."""
    recipient = recipient_or_none(header_text(original, MICROSOFT_RECIPIENT))
    if recipient is None:
        return []
    return [envelope.event(COMPLAINT, recipient, "abuse", "Microsoft JMRP")]
