"""What every provider webhook shares: the refusal error, strict JSON reading, and the date formats."""

import binascii
import functools
import json
from datetime import datetime, timezone

from ...errors import DomainError

MAX_BODY = 1024 * 1024  # providers send a few kilobytes per notification


class WebhookRejected(DomainError):
    """A webhook request that is forged, stale, replayed or malformed; answer it with a 4xx."""

    code = "webhook_rejected"
    status = 400

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def forged(message: str) -> WebhookRejected:
    """A refusal for a request whose origin could not be proved (HTTP 403)."""
    return WebhookRejected(message, status=403)


def refuse_malformed(parse):
    """Turn any error a hostile body could provoke into WebhookRejected, so views need one except."""

    @functools.wraps(parse)
    def guarded(*args, **kwargs):
        """`parse`, refusing instead of failing."""
        try:
            return parse(*args, **kwargs)
        except WebhookRejected:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeError, binascii.Error,
                RecursionError, OverflowError) as exc:
            raise WebhookRejected(f"The webhook body could not be read ({type(exc).__name__}).") from None

    return guarded


def load_object(body: bytes) -> dict:
    """The JSON object in a webhook body; WebhookRejected if it is not one."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise WebhookRejected("The webhook body must be bytes.")
    if len(body) > MAX_BODY:
        raise WebhookRejected("The webhook body is too large.", status=413)
    try:
        data = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise WebhookRejected("The webhook body is not JSON.") from None
    return expect_object(data, "body")


def expect_object(value: object, what: str) -> dict:
    """`value` if it is a JSON object; WebhookRejected naming `what` otherwise."""
    if not isinstance(value, dict):
        raise WebhookRejected(f"The webhook {what} must be a JSON object.")
    return value


def expect_text(data: dict, key: str, *, required: bool = True) -> str | None:
    """`data[key]` as a string; WebhookRejected if required and missing, or present and not text."""
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise WebhookRejected(f"The webhook field {key!r} is missing or not text.")
    return value


def iso_datetime(value: object) -> datetime | None:
    """An ISO 8601 timestamp ("2024-03-01T10:00:00.123Z", 7 fractional digits too) as aware UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Python 3.11 accepts at most 6 fractional digits; Postmark sends 7
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def epoch_datetime(value: object) -> datetime | None:
    """A Unix timestamp (int, float or numeric string) as aware UTC, or None."""
    try:
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
