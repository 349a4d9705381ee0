"""Postmark bounce and spam-complaint webhooks, authenticated by HTTP Basic auth on the webhook URL."""

import base64
import hmac

from ..reasons import Reason, reason_from_words
from .model import COMPLAINT, Envelope, FeedbackEvent, first_message_id, recipient_or_none
from .status import best_status
from .webhook_body import WebhookRejected, expect_text, iso_datetime, load_object, refuse_malformed

# Postmark's bounce Type values and the reason each means when the Details say nothing clearer. The others
# (AutoResponder, Subscribe, Unsubscribe, ChallengeVerification, OpenRelayTest, ManuallyDeactivated...) are
# no failure of ours.
TYPE_REASONS = {
    "HardBounce": Reason.USER_UNKNOWN, "BadEmailAddress": Reason.USER_UNKNOWN, "SoftBounce": Reason.UNDETERMINED,
    "Transient": Reason.UNDETERMINED, "DnsError": Reason.NETWORK_ERROR, "Blocked": Reason.BLOCKED,
    "SpamNotification": Reason.SPAM_DETECTED, "DMARCPolicy": Reason.AUTH_FAILURE,
    "ContentRelated": Reason.CONTENT_REJECTED, "VirusNotification": Reason.CONTENT_REJECTED,
}
COMPLAINT_TYPES = {"SpamComplaint"}


def check_basic_auth(authorization: str | None, username: str, password: str) -> None:
    """Refuse the request unless it carries exactly these Basic credentials (RFC 7617), in constant time."""
    if not username or not password:
        raise WebhookRejected("Postmark webhook credentials are not configured.", status=401)
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    try:
        given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        given = ""
    given_user, _, given_password = given.partition(":")
    # Both comparisons always run, so the time taken says nothing about which part was wrong.
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    if scheme.lower() != "basic" or not (user_ok & password_ok):
        raise WebhookRejected("The Postmark webhook credentials are wrong or missing.", status=401)


def parse_postmark(
    body: bytes, *, authorization: str | None, username: str, password: str
) -> list[FeedbackEvent]:
    """Check Basic auth, then map a Bounce or SpamComplaint record to events (other records: [])."""
    check_basic_auth(authorization, username, password)
    return postmark_events(body)


@refuse_malformed
def postmark_events(body: bytes) -> list[FeedbackEvent]:
    """Events from an already authenticated Postmark webhook body."""
    record = load_object(body)
    record_type = expect_text(record, "RecordType")
    if record_type not in {"Bounce", "SpamComplaint"}:
        return []
    bounce_type = expect_text(record, "Type")
    recipient = recipient_or_none(expect_text(record, "Email"))
    details = str(record.get("Details") or record.get("Description") or "")
    envelope = Envelope(
        message_id=_metadata_message_id(record),
        envelope_token=None,  # Postmark bounces to its own return path, so there is no VERP token
        occurred_at=iso_datetime(record.get("BouncedAt")),
        verp_local="",
    )
    if record_type == "SpamComplaint" or bounce_type in COMPLAINT_TYPES:
        return [envelope.event(COMPLAINT, recipient, "abuse", details)]
    if bounce_type not in TYPE_REASONS:
        return []
    status = best_status(None, details)
    reason = None if status and not status.endswith(".0.0") else reason_from_words(details) or TYPE_REASONS[bounce_type]
    return [envelope.bounce(recipient, status, details, reason=reason)]


def _metadata_message_id(record: dict) -> str | None:
    """Our Message-ID, if the sender put it in Postmark's Metadata; Postmark's own MessageID is not ours."""
    metadata = record.get("Metadata")
    if isinstance(metadata, dict):
        value = metadata.get("message_id") or metadata.get("Message-ID")
        if isinstance(value, str):
            return first_message_id(value)
    return None
