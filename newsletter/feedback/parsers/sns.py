"""Amazon SES bounce and complaint notifications delivered by SNS, with SNS signature verification."""

import base64
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..reasons import Reason, reason_from_words
from .model import COMPLAINT, Envelope, FeedbackEvent
from .model import first_message_id, first_verp_token, recipient_or_none
from .status import best_status
from .verp import DEFAULT_LOCAL
from .webhook_body import WebhookRejected, expect_object, expect_text, forged, iso_datetime, load_object
from .webhook_body import refuse_malformed

log = logging.getLogger("newsletter.feedback")

# The fields SNS signs, in the order it signs them ("Verifying the signatures of Amazon SNS messages").
_CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION_KEYS,
    "UnsubscribeConfirmation": _CONFIRMATION_KEYS,
}
SIGNATURE_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}  # SignatureVersion 1 and 2
# The documented endpoints: sns.<region>.amazonaws.com (".com.cn" in the China regions), and the signing
# certificate's documented name, SimpleNotificationService-<hex>.pem, at the root of that host.
_SNS_HOST = re.compile(r"sns\.[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}\.amazonaws\.com(?:\.cn)?")
_CERTIFICATE_PATH = re.compile(r"/SimpleNotificationService-[0-9a-f]{8,64}\.pem")
MAX_AGE = timedelta(hours=1)  # SNS retries an HTTP endpoint within this; an older message is a replay
CACHE_SIZE = 16
FAILURE_CACHE_SECONDS = 60.0  # a certificate that could not be fetched is not asked for again meanwhile
_certificates: "OrderedDict[str, rsa.RSAPublicKey]" = OrderedDict()
_failures: dict[str, float] = {}  # url -> monotonic time until which it is not fetched again
_certificates_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SubscriptionConfirmation:
    """A verified request from SNS to confirm a subscription: GET subscribe_url to accept it."""

    topic_arn: str
    subscribe_url: str


def parse_ses_sns(
    body: bytes,
    *,
    fetch_certificate: Callable[[str], bytes],
    now: datetime | None = None,
    seen_message_id: Callable[[str], bool] | None = None,
    topic_arns: Collection[str] | None = None,
    confirm_subscription: Callable[[SubscriptionConfirmation], None] | None = None,
    verp_local: str = DEFAULT_LOCAL,
) -> list[FeedbackEvent]:
    """Verify an SNS POST and map the SES notification in it to events; WebhookRejected (a 4xx) if it is not
    genuine, not fresh, already seen, or its certificate cannot be had.

    `topic_arns`, when given, are the only topics accepted: a valid signature proves only that *some*
    SNS topic sent the message. A message signed more than MAX_AGE from `now` is refused, and so is a
    MessageId `seen_message_id` already knows (asked last, so forged requests cannot fill its store).
    A SubscriptionConfirmation yields [] and is handed, once verified, to `confirm_subscription` (which
    should GET its subscribe_url); without that callback it is logged.
    """
    message = _read_sns_message(body)
    if topic_arns is not None and message["TopicArn"] not in topic_arns:
        raise forged("The SNS message comes from a topic this instance does not subscribe to.")
    check_fresh(message, now or datetime.now(timezone.utc))
    verify_signature(message, _public_key(message["SigningCertURL"], fetch_certificate))
    if seen_message_id is not None and seen_message_id(message["MessageId"]):
        raise forged("This SNS message was already received: a replay.")
    kind = message["Type"]
    if kind == "SubscriptionConfirmation":
        _hand_over(_confirmation(message), confirm_subscription)
        return []
    if kind == "UnsubscribeConfirmation":
        log.info("SNS unsubscribed this endpoint from %s", message["TopicArn"])
        return []
    return ses_events(message["Message"], verp_local)


@refuse_malformed
def _read_sns_message(body: bytes) -> dict:
    """The SNS JSON envelope with every signed field present and a trustworthy certificate URL."""
    message = load_object(body)
    kind = expect_text(message, "Type")
    if kind not in SIGNED_KEYS:
        raise WebhookRejected(f"Unknown SNS message type {kind[:40]!r}.")
    for key in SIGNED_KEYS[kind]:
        expect_text(message, key, required=key != "Subject")
    if message.get("SignatureVersion") not in SIGNATURE_HASHES:
        raise WebhookRejected("Unknown or missing SNS SignatureVersion.")
    expect_text(message, "Signature")
    check_sns_url(expect_text(message, "SigningCertURL"), path=_CERTIFICATE_PATH)
    return message


def check_sns_url(url: str, *, path: re.Pattern | None = None) -> None:
    """Refuse any URL but https://sns.<region>.amazonaws.com/... (its path matching `path` when given)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise forged("The SNS URL cannot be read.") from None
    host_ok = parts.netloc == (parts.hostname or "") and _SNS_HOST.fullmatch(parts.netloc)
    path_ok = path is None or (path.fullmatch(parts.path) and not parts.query and not parts.fragment)
    if parts.scheme != "https" or port is not None or not host_ok or not path_ok:
        raise forged("The SNS URL does not point to https://sns.<region>.amazonaws.com/.")


def check_fresh(message: dict, now: datetime) -> None:
    """Refuse a message whose signed Timestamp is more than MAX_AGE away from `now`."""
    signed_at = iso_datetime(message["Timestamp"])
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    if signed_at is None or abs(now - signed_at) > MAX_AGE:
        raise forged("The SNS message is too old (or from the future) to be trusted.")


def string_to_sign(message: dict) -> bytes:
    """The canonical "Key\\nValue\\n" text SNS signs; Subject only when the notification has one."""
    lines = []
    for key in SIGNED_KEYS[message["Type"]]:
        if message.get(key) is not None:
            lines += [key, message[key]]
    return ("\n".join(lines) + "\n").encode("utf-8")


def verify_signature(message: dict, key: rsa.RSAPublicKey) -> None:
    """Check the RSA PKCS#1 v1.5 signature (SHA1 for version 1, SHA256 for 2); raise if it fails."""
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
        algorithm = SIGNATURE_HASHES[message["SignatureVersion"]]()
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError, TypeError):
        raise forged("The SNS signature does not match the message.") from None


def _public_key(url: str, fetch_certificate: Callable[[str], bytes]) -> rsa.RSAPublicKey:
    """The signing certificate's RSA key, fetched once per URL and then cached; a failed fetch is remembered
    for FAILURE_CACHE_SECONDS, so a flood of forged messages cannot make us fetch again and again."""
    with _certificates_lock:
        if url in _certificates:
            _certificates.move_to_end(url)
            return _certificates[url]
        if _failures.get(url, 0.0) > time.monotonic():
            raise WebhookRejected("The SNS signing certificate could not be fetched a moment ago; try later.")
    try:
        pem = fetch_certificate(url)
    except Exception as exc:  # noqa: BLE001 - any failure of the network or of AWS: a refusal, not a 500
        _remember_failure(url)
        log.warning("SNS signing certificate %s could not be fetched: %s", url, type(exc).__name__)
        raise WebhookRejected("The SNS signing certificate could not be fetched; try later.") from None
    try:
        key = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem).public_key()
    except (ValueError, TypeError):
        _remember_failure(url)
        raise forged("The SNS signing certificate cannot be read.") from None
    if not isinstance(key, rsa.RSAPublicKey):
        _remember_failure(url)
        raise forged("The SNS signing certificate does not hold an RSA key.")
    with _certificates_lock:
        _certificates[url] = key
        while len(_certificates) > CACHE_SIZE:
            _certificates.popitem(last=False)
    return key


def _remember_failure(url: str) -> None:
    with _certificates_lock:
        _failures[url] = time.monotonic() + FAILURE_CACHE_SECONDS
        if len(_failures) > CACHE_SIZE:  # forged URLs never reach here (check_sns_url): this stays small
            _failures.pop(next(iter(_failures)))


def clear_certificate_cache() -> None:
    """Forget every cached signing certificate and fetch failure (for tests and certificate rotation)."""
    with _certificates_lock:
        _certificates.clear()
        _failures.clear()


def _confirmation(message: dict) -> SubscriptionConfirmation:
    """The confirmation to hand over, after checking its URL points at SNS itself."""
    check_sns_url(message["SubscribeURL"])
    return SubscriptionConfirmation(topic_arn=message["TopicArn"], subscribe_url=message["SubscribeURL"])


def _hand_over(confirmation: SubscriptionConfirmation, callback) -> None:
    """Pass a verified confirmation to the caller, or log it so an administrator can confirm by hand."""
    if callback is None:
        topic, url = confirmation.topic_arn, confirmation.subscribe_url
        log.warning("SNS subscription to %s awaits confirmation: %s", topic, url)
    else:
        callback(confirmation)


@refuse_malformed
def ses_events(text: str, verp_local: str = DEFAULT_LOCAL) -> list[FeedbackEvent]:
    """Events from the SES notification JSON carried in an SNS Message (Bounce, Complaint; others: [])."""
    notification = expect_object(json.loads(text), "SES notification")
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = expect_object(notification.get("mail") or {}, "mail")
    source = mail.get("source")  # the envelope MAIL FROM, our VERP return path if we set one
    envelope = Envelope(
        message_id=_ses_message_id(mail),
        envelope_token=first_verp_token([source] if isinstance(source, str) else [], verp_local),
        occurred_at=None,
        verp_local=verp_local,
    )
    if kind == "Bounce":
        return _bounce_events(expect_object(notification.get("bounce"), "bounce"), envelope)
    if kind == "Complaint":
        return _complaint_events(expect_object(notification.get("complaint"), "complaint"), envelope)
    return []


def ses_events_in_text(text: str, verp_local: str = DEFAULT_LOCAL) -> list[FeedbackEvent] | None:
    """Events of an SES notification that SNS delivered by e-mail (its JSON as the body, raw or in an SNS
    envelope); None when the text holds none. Such mail is not signed: it counts only through our ids."""
    start = text.find("{")
    if start < 0 or "notificationType" not in text and "eventType" not in text:
        return None
    try:
        document, _end = json.JSONDecoder(strict=False).raw_decode(text[start:start + 256 * 1024])
    except (ValueError, RecursionError):
        return None
    if isinstance(document, dict) and isinstance(document.get("Message"), str):
        document = document["Message"]  # the SNS envelope around it (raw message delivery off)
    else:
        document = json.dumps(document)
    try:
        return ses_events(document, verp_local)
    except WebhookRejected:
        return None


def _ses_message_id(mail: dict) -> str | None:
    """Our Message-ID as SES saw it (commonHeaders, else the raw header list), without <>."""
    common = mail.get("commonHeaders")
    if isinstance(common, dict) and isinstance(common.get("messageId"), str):
        return first_message_id(common["messageId"])
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            return first_message_id(str(header.get("value", "")))
    return None


def _recipients(section: dict, key: str) -> list[dict]:
    """The recipient objects listed under `key`; WebhookRejected if the list is malformed."""
    items = section.get(key)
    if not isinstance(items, list):
        raise WebhookRejected(f"The SES notification has no {key} list.")
    return [expect_object(item, key) for item in items]


# SES bounceSubType -> the reason it means when the recipient's status and diagnostic say nothing clearer.
SUBTYPE_REASONS = {
    "NoEmail": Reason.USER_UNKNOWN, "Suppressed": Reason.USER_UNKNOWN, "OnAccountSuppressionList": Reason.USER_UNKNOWN,
    "MailboxFull": Reason.MAILBOX_FULL, "MessageTooLarge": Reason.CONTENT_REJECTED,
    "ContentRejected": Reason.CONTENT_REJECTED, "AttachmentRejected": Reason.CONTENT_REJECTED,
}


def _bounce_events(bounce: dict, envelope: Envelope) -> list[FeedbackEvent]:
    """One bounce per recipient, its reason from the status and diagnostic, else from SES's bounceSubType."""
    when = iso_datetime(bounce.get("timestamp"))
    sub_type = SUBTYPE_REASONS.get(str(bounce.get("bounceSubType") or ""))
    events = []
    for item in _recipients(bounce, "bouncedRecipients"):
        diagnostic = str(item.get("diagnosticCode") or bounce.get("bounceSubType") or "")
        status = best_status(str(item.get("status") or ""), diagnostic)
        vague = not status or status.endswith(".0.0")
        reason = (reason_from_words(diagnostic) or sub_type) if vague else None
        events.append(envelope.bounce(_address(item), status, diagnostic, occurred_at=when, reason=reason))
    return events


def _complaint_events(complaint: dict, envelope: Envelope) -> list[FeedbackEvent]:
    """One complaint per complained recipient; an explicit "not-spam" report is no complaint."""
    feedback_type = complaint.get("complaintFeedbackType")
    feedback_type = feedback_type.strip().lower() if isinstance(feedback_type, str) else None
    if feedback_type == "not-spam":
        return []
    when = iso_datetime(complaint.get("timestamp"))
    agent = str(complaint.get("userAgent") or "")
    return [
        envelope.event(COMPLAINT, _address(item), feedback_type, agent, when)
        for item in _recipients(complaint, "complainedRecipients")
    ]


def _address(item: dict) -> str | None:
    """The normalised emailAddress of an SES recipient object."""
    return recipient_or_none(str(item.get("emailAddress") or ""))
