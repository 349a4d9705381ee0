"""Mailgun "failed" and "complained" webhooks, signed with HMAC-SHA256 and protected against replay."""

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from .model import COMPLAINT, Envelope, FeedbackEvent, first_message_id
from .model import first_verp_token, recipient_or_none
from .status import best_status
from .verp import DEFAULT_LOCAL
from .webhook_body import WebhookRejected, epoch_datetime, expect_object, expect_text, forged, load_object
from .webhook_body import refuse_malformed

MAX_AGE = timedelta(minutes=15)  # Mailgun's guidance: refuse older timestamps and reused tokens


def parse_mailgun(
    body: bytes,
    *,
    signing_key: str,
    now: datetime,
    seen_token: Callable[[str], bool],
    verp_local: str = DEFAULT_LOCAL,
) -> list[FeedbackEvent]:
    """Verify a Mailgun webhook (signature, age, one use per token) and map it to events."""
    signature, event_data = _read_body(body)
    check_signature(signature, signing_key=signing_key, now=now, seen_token=seen_token)
    return mailgun_events(event_data, verp_local)


@refuse_malformed
def _read_body(body: bytes) -> tuple[dict, dict]:
    """The "signature" and "event-data" objects of a webhook body; WebhookRejected if either is wrong."""
    payload = load_object(body)
    signature = expect_object(payload.get("signature"), "signature")
    timestamp = signature.get("timestamp")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        signature = {**signature, "timestamp": str(timestamp)}
    for key in ("timestamp", "token", "signature"):
        expect_text(signature, key)
    return signature, expect_object(payload.get("event-data"), "event-data")


def check_signature(
    signature: dict, *, signing_key: str, now: datetime, seen_token: Callable[[str], bool]
) -> None:
    """Raise WebhookRejected unless the HMAC matches, the timestamp is fresh and the token is new."""
    if not signing_key:
        raise forged("The Mailgun signing key is not configured.")
    timestamp, token = signature["timestamp"], signature["token"]
    expected = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature["signature"].strip().lower().encode()):
        raise forged("The Mailgun signature does not match.")
    signed_at = epoch_datetime(timestamp) if timestamp.isdigit() else None
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    if signed_at is None or abs(now - signed_at) > MAX_AGE:
        raise forged("The Mailgun webhook is too old (or from the future) to be trusted.")
    # Asked last, so forged requests cannot fill the caller's store of seen tokens.
    if seen_token(token):
        raise forged("The Mailgun webhook token was already used: a replay.")


@refuse_malformed
def mailgun_events(event_data: dict, verp_local: str = DEFAULT_LOCAL) -> list[FeedbackEvent]:
    """Events from Mailgun's event-data: a permanent failure (its reason from the code and words), a complaint.

    A temporary failure is Mailgun saying it will retry: a warning, not a bounce.
    """
    event = event_data.get("event")
    if event not in {"failed", "complained"}:
        return []
    envelope = Envelope(
        message_id=_message_id(event_data),
        envelope_token=first_verp_token([_nested_text(event_data, "envelope", "sender")], verp_local),
        occurred_at=epoch_datetime(event_data.get("timestamp")),
        verp_local=verp_local,
    )
    recipient = recipient_or_none(expect_text(event_data, "recipient"))
    if event == "complained":
        return [envelope.event(COMPLAINT, recipient, "abuse", "")]
    if event_data.get("severity") != "permanent":
        return []
    delivery = event_data.get("delivery-status")
    delivery = delivery if isinstance(delivery, dict) else {}
    words = " ".join(str(delivery.get(key) or "") for key in ("code", "message", "description")).strip()
    status = best_status(str(delivery.get("enhanced-code") or ""), words)
    return [envelope.bounce(recipient, status, words or str(event_data.get("reason") or ""))]


def _nested_text(data: dict, *keys: str) -> str | None:
    """data[k1][k2]... if every level exists and the end is text, else None."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, str) else None


def _message_id(event_data: dict) -> str | None:
    """The Message-ID header Mailgun reports (without <>, as Mailgun gives it)."""
    return first_message_id(_nested_text(event_data, "message", "headers", "message-id"))
