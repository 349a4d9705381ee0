"""Provider webhooks: SES via SNS (signed), Mailgun (HMAC, replay-protected), Postmark (Basic auth)."""

import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from newsletter.feedback.parsers import (
    COMPLAINT,
    HARD_BOUNCE,
    REFUSAL,
    SOFT_BOUNCE,
    SubscriptionConfirmation,
    WebhookRejected,
    parse_mailgun,
    parse_postmark,
    parse_ses_sns,
)
from newsletter.feedback.parsers.sns import clear_certificate_cache

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
MAILGUN_KEY = "key-0123456789abcdef"


# --- keys and certificates ------------------------------------------------------------------------


def make_key_and_cert(name: str):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def signer():
    return make_key_and_cert("sns.amazonaws.com")


@pytest.fixture(scope="module")
def intruder():
    return make_key_and_cert("attacker.example.net")


@pytest.fixture(autouse=True)
def empty_certificate_cache():
    clear_certificate_cache()
    yield
    clear_certificate_cache()


class Fetcher:
    """A certificate fetcher that serves one PEM and counts its calls."""

    def __init__(self, pem: bytes):
        self.pem = pem
        self.urls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.pem


# --- SNS messages, signed as SNS documents it -----------------------------------------------------

NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


def canonical(message: dict) -> bytes:
    keys = NOTIFICATION_KEYS if message["Type"] == "Notification" else CONFIRMATION_KEYS
    return "".join(f"{key}\n{message[key]}\n" for key in keys if key in message).encode()


def sign(message: dict, key, version: str = "1") -> dict:
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(canonical(message), padding.PKCS1v15(), algorithm)
    return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode()}


def ses_bounce(bounce_type="Permanent", status="5.1.1", diagnostic="smtp; 550 5.1.1 user unknown"):
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "Reader@Example.com",
                    "action": "failed",
                    "status": status,
                    "diagnosticCode": diagnostic,
                }
            ],
            "timestamp": "2024-03-01T11:59:00.123Z",
            "feedbackId": "0100018dfb1e1d2c-aaaa",
        },
        "mail": {
            "timestamp": "2024-03-01T11:58:59.000Z",
            "source": "bounces+d5.k5@example.org",
            "messageId": "0100018dfb1e0000-ses",
            "commonHeaders": {"messageId": "<d5.i5.k5@example.org>", "subject": "Weekly Notes"},
        },
    }


def ses_complaint():
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "reader@example.com"}],
            "timestamp": "2024-03-01T11:59:30Z",
            "complaintFeedbackType": "abuse",
            "userAgent": "Yahoo!-Mail-Feedback/2.0",
        },
        "mail": {
            "headers": [{"name": "Message-ID", "value": "<d6.i6.k6@example.org>"}],
            "source": "news@example.org",
        },
    }


def notification(payload: dict, **extra) -> dict:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": json.dumps(payload),
        "Timestamp": "2024-03-01T11:59:01.000Z",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
        **extra,
    }


def confirmation() -> dict:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb7",
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y",
        "Timestamp": "2024-03-01T11:59:01.000Z",
        "SigningCertURL": CERT_URL,
    }


def body(message: dict) -> bytes:
    return json.dumps(message).encode()


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_bounce_signed_by_sns_is_accepted(signer, version):
    key, pem = signer
    (event,) = parse_ses_sns(body(sign(notification(ses_bounce()), key, version)), now=NOW, fetch_certificate=Fetcher(pem))
    assert (event.kind, event.recipient, event.status, event.message_id) == (
        HARD_BOUNCE, "reader@example.com", "5.1.1", "d5.i5.k5@example.org"
    )
    assert event.envelope_token == "d5.k5"
    assert event.occurred_at == datetime(2024, 3, 1, 11, 59, 0, 123000, tzinfo=timezone.utc)


def test_sns_notification_with_a_subject_is_signed_over_it(signer):
    key, pem = signer
    message = sign(notification(ses_bounce(), Subject="Amazon SES Email Event Notification"), key, "2")
    assert parse_ses_sns(body(message), now=NOW, fetch_certificate=Fetcher(pem))[0].kind == HARD_BOUNCE


def test_ses_transient_bounce_is_soft(signer):
    key, pem = signer
    message = sign(notification(ses_bounce("Transient", "4.2.2", "smtp; 452 4.2.2 mailbox full")), key)
    (event,) = parse_ses_sns(body(message), now=NOW, fetch_certificate=Fetcher(pem))
    assert (event.kind, event.status) == (SOFT_BOUNCE, "4.2.2")


def test_ses_complaint_is_a_complaint(signer):
    key, pem = signer
    (event,) = parse_ses_sns(body(sign(notification(ses_complaint()), key, "2")), now=NOW, fetch_certificate=Fetcher(pem))
    assert (event.kind, event.recipient, event.status, event.message_id) == (
        COMPLAINT, "reader@example.com", "abuse", "d6.i6.k6@example.org"
    )


def test_ses_delivery_notification_gives_no_event(signer):
    key, pem = signer
    message = sign(notification({"notificationType": "Delivery", "mail": {}}), key)
    assert parse_ses_sns(body(message), now=NOW, fetch_certificate=Fetcher(pem)) == []


def test_subscription_confirmation_is_handed_to_the_caller(signer):
    key, pem = signer
    received: list[SubscriptionConfirmation] = []
    raw = body(sign(confirmation(), key))
    events = parse_ses_sns(raw, now=NOW, fetch_certificate=Fetcher(pem), confirm_subscription=received.append)
    assert events == []
    assert received == [SubscriptionConfirmation(topic_arn=TOPIC, subscribe_url=confirmation()["SubscribeURL"])]


def test_subscription_confirmation_without_a_callback_is_logged(signer, caplog):
    key, pem = signer
    with caplog.at_level(logging.WARNING, logger="newsletter.feedback"):
        assert parse_ses_sns(body(sign(confirmation(), key)), now=NOW, fetch_certificate=Fetcher(pem)) == []
    assert confirmation()["SubscribeURL"] in caplog.text


def test_subscription_confirmation_to_a_foreign_url_is_refused(signer):
    key, pem = signer
    message = sign({**confirmation(), "SubscribeURL": "https://evil.example.net/confirm"}, key)
    with pytest.raises(WebhookRejected):
        parse_ses_sns(body(message), now=NOW, fetch_certificate=Fetcher(pem), confirm_subscription=pytest.fail)


def test_signing_certificate_is_fetched_once_per_url(signer):
    key, pem = signer
    fetcher = Fetcher(pem)
    for _ in range(3):
        parse_ses_sns(body(sign(notification(ses_bounce()), key)), now=NOW, fetch_certificate=fetcher)
    assert fetcher.urls == [CERT_URL]


def test_forged_sns_signature_is_refused(signer, intruder):
    _key, pem = signer
    forged_key, _pem = intruder
    with pytest.raises(WebhookRejected) as refused:
        parse_ses_sns(body(sign(notification(ses_bounce()), forged_key)), now=NOW, fetch_certificate=Fetcher(pem))
    assert refused.value.status == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Message", json.dumps(ses_bounce(status="5.7.1"))),
        ("TopicArn", "arn:aws:sns:eu-west-1:999999999999:other"),
        ("Type", "SubscriptionConfirmation"),
        ("Subject", "added after signing"),
        ("SignatureVersion", "2"),
    ],
)
def test_tampered_sns_message_is_refused(signer, field, value):
    key, pem = signer
    message = {**sign(notification(ses_bounce()), key), field: value}
    with pytest.raises(WebhookRejected):
        parse_ses_sns(body(message), now=NOW, fetch_certificate=Fetcher(pem))


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-west-1.amazonaws.com/cert.pem",
        "https://evil.example.net/cert.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example.net/cert.pem",
        "https://sns.eu-west-1.amazonaws.com@evil.example.net/cert.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
        "https://s3.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com/cert.txt",
        "https://sns.eu-west-1.amazonaws.com:notaport/cert.pem",
        "file:///etc/ssl/cert.pem",
    ],
)
def test_certificate_from_anywhere_but_sns_is_refused_before_fetching(signer, url):
    key, pem = signer
    fetcher = Fetcher(pem)
    message = sign(notification(ses_bounce(), SigningCertURL=url), key)
    with pytest.raises(WebhookRejected):
        parse_ses_sns(body(message), now=NOW, fetch_certificate=fetcher)
    assert fetcher.urls == []


@pytest.mark.parametrize("field", ["Message", "MessageId", "Timestamp", "TopicArn", "Type", "Signature",
                                   "SignatureVersion", "SigningCertURL"])
def test_sns_message_missing_a_field_is_refused(signer, field):
    key, pem = signer
    message = sign(notification(ses_bounce()), key)
    del message[field]
    with pytest.raises(WebhookRejected):
        parse_ses_sns(body(message), now=NOW, fetch_certificate=Fetcher(pem))


def test_sns_message_from_an_unexpected_topic_is_refused(signer):
    key, pem = signer
    with pytest.raises(WebhookRejected):
        parse_ses_sns(body(sign(notification(ses_bounce()), key)), now=NOW, fetch_certificate=Fetcher(pem),
                      topic_arns={"arn:aws:sns:eu-west-1:123456789012:mine"})
    raw = body(sign(notification(ses_bounce()), key))
    assert parse_ses_sns(raw, now=NOW, fetch_certificate=Fetcher(pem), topic_arns={TOPIC})


# --- V12 (issue 15): freshness, replays, the certificate's address, its cache -----------------------------


@pytest.mark.parametrize("age", [timedelta(hours=2), timedelta(days=6 * 365), -timedelta(hours=2)])
def test_a_stale_or_future_sns_message_is_refused(signer, age):
    key, pem = signer
    stamp = (NOW - age).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fetcher = Fetcher(pem)
    with pytest.raises(WebhookRejected) as refused:
        parse_ses_sns(body(sign(notification(ses_bounce(), Timestamp=stamp), key)), now=NOW, fetch_certificate=fetcher)
    assert refused.value.status == 403 and fetcher.urls == []  # refused before any fetch


def test_a_replayed_sns_message_id_is_refused_after_the_signature_check(signer, intruder):
    key, pem = signer
    seen: list[str] = []

    def seen_message_id(message_id: str) -> bool:
        already = message_id in seen
        seen.append(message_id)
        return already

    raw = body(sign(notification(ses_bounce()), key))
    assert parse_ses_sns(raw, now=NOW, fetch_certificate=Fetcher(pem), seen_message_id=seen_message_id)
    with pytest.raises(WebhookRejected) as refused:
        parse_ses_sns(raw, now=NOW, fetch_certificate=Fetcher(pem), seen_message_id=seen_message_id)
    assert refused.value.status == 403
    forged = body(sign(notification(ses_bounce(), MessageId="forged-id"), intruder[0]))
    with pytest.raises(WebhookRejected):
        parse_ses_sns(forged, now=NOW, fetch_certificate=Fetcher(pem), seen_message_id=seen_message_id)
    assert "forged-id" not in seen  # a forged message never reaches the store


@pytest.mark.parametrize("url", [
    "https://sns.attacker-controlled.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
    "https://sns.eu-west-1.amazonaws.com/any/other/path.pem",
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem?x=1",
    "https://SNS.EU-WEST-1.AMAZONAWS.COM/SimpleNotificationService-0123456789abcdef.pem",
])
def test_certificate_url_must_be_the_documented_sns_pattern(signer, url):
    key, pem = signer
    fetcher = Fetcher(pem)
    with pytest.raises(WebhookRejected):
        parse_ses_sns(body(sign(notification(ses_bounce(), SigningCertURL=url), key)), now=NOW, fetch_certificate=fetcher)
    assert fetcher.urls == []


def test_a_failed_certificate_fetch_is_a_refusal_and_is_not_repeated_at_once(signer):
    key, _pem = signer
    asked: list[str] = []

    def unreachable(url: str) -> bytes:
        asked.append(url)
        raise OSError("network unreachable")

    raw = body(sign(notification(ses_bounce()), key))
    for _ in range(3):
        with pytest.raises(WebhookRejected) as refused:
            parse_ses_sns(raw, now=NOW, fetch_certificate=unreachable)
        assert 400 <= refused.value.status < 500
    assert asked == [CERT_URL]


def test_china_region_certificate_host_is_accepted(signer):
    key, pem = signer
    url = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0123456789abcdef.pem"
    message = sign(notification(ses_bounce(), SigningCertURL=url), key)
    assert parse_ses_sns(body(message), now=NOW, fetch_certificate=Fetcher(pem))


def test_unreadable_certificate_is_refused(signer):
    key, _pem = signer
    with pytest.raises(WebhookRejected):
        parse_ses_sns(body(sign(notification(ses_bounce()), key)), now=NOW, fetch_certificate=Fetcher(b"not a certificate"))


@pytest.mark.parametrize("payload", ["not json", "[]", '{"notificationType": "Bounce"}',
                                     '{"notificationType": "Bounce", "bounce": {"bouncedRecipients": 5}}',
                                     '{"notificationType": "Complaint", "complaint": {"complainedRecipients": [1]}}'])
def test_signed_notification_with_a_malformed_ses_payload_is_refused(signer, payload):
    key, pem = signer
    message = sign({**notification({}), "Message": payload}, key)
    with pytest.raises(WebhookRejected):
        parse_ses_sns(body(message), now=NOW, fetch_certificate=Fetcher(pem))


# --- Mailgun --------------------------------------------------------------------------------------


def mailgun_body(event_data: dict, *, timestamp: int | None = None, token: str = "a8ce0edb2dd8301dee6c24052",
                 key: str = MAILGUN_KEY) -> bytes:
    timestamp = int(NOW.timestamp()) if timestamp is None else timestamp
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": str(timestamp), "token": token, "signature": signature},
                       "event-data": event_data}).encode()


def mailgun_failed(severity: str = "permanent") -> dict:
    return {
        "event": "failed",
        "severity": severity,
        "reason": "bounce",
        "recipient": "Reader@example.com",
        "timestamp": 1709294340.123,
        "delivery-status": {"code": 550, "message": "5.1.1 The email account that you tried to reach does not exist",
                            "description": ""},
        "message": {"headers": {"message-id": "d7.i7.k7@example.org", "to": "reader@example.com"}},
        "envelope": {"sender": "bounces+d7.k7@example.org"},
    }


def never_seen(token: str) -> bool:
    return False


def test_mailgun_permanent_failure_is_a_hard_bounce():
    (event,) = parse_mailgun(mailgun_body(mailgun_failed()), signing_key=MAILGUN_KEY, now=NOW, seen_token=never_seen)
    assert (event.kind, event.recipient, event.status, event.message_id, event.envelope_token) == (
        HARD_BOUNCE, "reader@example.com", "5.1.1", "d7.i7.k7@example.org", "d7.k7"
    )


def test_mailgun_temporary_failure_is_a_retry_not_a_bounce():
    raw = mailgun_body(mailgun_failed("temporary"))
    assert parse_mailgun(raw, signing_key=MAILGUN_KEY, now=NOW, seen_token=never_seen) == []


def test_mailgun_complaint_and_other_events():
    complained = {"event": "complained", "recipient": "reader@example.com", "timestamp": 1709294340}
    (event,) = parse_mailgun(mailgun_body(complained), signing_key=MAILGUN_KEY, now=NOW, seen_token=never_seen)
    assert (event.kind, event.status) == (COMPLAINT, "abuse")
    delivered = {"event": "delivered", "recipient": "reader@example.com"}
    raw = mailgun_body(delivered, token="t2" * 25)
    assert parse_mailgun(raw, signing_key=MAILGUN_KEY, now=NOW, seen_token=never_seen) == []


def test_mailgun_bad_signature_is_refused_before_the_token_is_recorded():
    asked: list[str] = []
    with pytest.raises(WebhookRejected) as refused:
        parse_mailgun(mailgun_body(mailgun_failed(), key="key-wrong"), signing_key=MAILGUN_KEY, now=NOW,
                      seen_token=lambda token: asked.append(token) or False)
    assert refused.value.status == 403 and asked == []


@pytest.mark.parametrize("age", [timedelta(minutes=16), timedelta(days=2), -timedelta(minutes=16)])
def test_mailgun_stale_or_future_timestamp_is_refused(age):
    raw = mailgun_body(mailgun_failed(), timestamp=int((NOW - age).timestamp()))
    with pytest.raises(WebhookRejected):
        parse_mailgun(raw, signing_key=MAILGUN_KEY, now=NOW, seen_token=never_seen)


def test_mailgun_timestamp_within_fifteen_minutes_is_accepted():
    raw = mailgun_body(mailgun_failed(), timestamp=int((NOW - timedelta(minutes=14)).timestamp()))
    assert parse_mailgun(raw, signing_key=MAILGUN_KEY, now=NOW, seen_token=never_seen)


def test_mailgun_replayed_token_is_refused():
    seen: set[str] = set()

    def seen_token(token: str) -> bool:
        already = token in seen
        seen.add(token)
        return already

    raw = mailgun_body(mailgun_failed())
    assert parse_mailgun(raw, signing_key=MAILGUN_KEY, now=NOW, seen_token=seen_token)
    with pytest.raises(WebhookRejected):
        parse_mailgun(raw, signing_key=MAILGUN_KEY, now=NOW, seen_token=seen_token)


def test_mailgun_without_a_signing_key_refuses_everything():
    with pytest.raises(WebhookRejected):
        parse_mailgun(mailgun_body(mailgun_failed(), key=""), signing_key="", now=NOW, seen_token=never_seen)


# --- Postmark -------------------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def postmark_record(record_type: str = "Bounce", bounce_type: str = "HardBounce",
                    details: str = "smtp;550 5.1.1 The email account that you tried to reach does not exist.") -> bytes:
    return json.dumps({
        "RecordType": record_type,
        "ID": 4323372036854775807,
        "Type": bounce_type,
        "TypeCode": 1,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": details,
        "Email": "reader@example.com",
        "From": "news@example.org",
        "BouncedAt": "2024-03-01T11:59:54.9070259Z",
        "Metadata": {"message_id": "<d8.i8.k8@example.org>"},
        "MessageStream": "broadcast",
    }).encode()


def accept_postmark(raw: bytes):
    return parse_postmark(raw, authorization=basic("hooks", "s3cret"), username="hooks", password="s3cret")


def test_postmark_with_the_right_credentials_is_accepted():
    (event,) = accept_postmark(postmark_record())
    assert (event.kind, event.recipient, event.status, event.message_id) == (
        HARD_BOUNCE, "reader@example.com", "5.1.1", "d8.i8.k8@example.org"
    )
    assert event.occurred_at == datetime(2024, 3, 1, 11, 59, 54, 907025, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("record_type", "bounce_type", "details", "kind"),
    [("Bounce", "SoftBounce", "smtp;452 4.2.2 Mailbox full", SOFT_BOUNCE),
     ("Bounce", "Transient", "The server could not temporarily deliver your message", SOFT_BOUNCE),
     ("Bounce", "DMARCPolicy", "smtp;550 5.7.26 Unauthenticated email is not accepted", REFUSAL),
     ("Bounce", "Blocked", "The ISP blocked this message", REFUSAL),
     ("SpamComplaint", "SpamComplaint", "", COMPLAINT), ("Bounce", "SpamComplaint", "", COMPLAINT)],
)
def test_postmark_record_types(record_type, bounce_type, details, kind):
    records = accept_postmark(postmark_record(record_type, bounce_type, details))
    assert [event.kind for event in records] == [kind]


@pytest.mark.parametrize("record", [postmark_record("Bounce", "AutoResponder"), postmark_record("Delivery")])
def test_postmark_records_about_nobody_give_no_event(record):
    assert accept_postmark(record) == []


@pytest.mark.parametrize(
    "authorization",
    [None, "", basic("hooks", "wrong"), basic("other", "s3cret"), basic("hooks", "s3cret").replace("Basic", "Bearer"),
     "Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"\xff\xfe").decode(), basic("hooks", "s3cret") + "x"],
)
def test_postmark_with_wrong_or_missing_credentials_is_refused(authorization):
    with pytest.raises(WebhookRejected) as refused:
        parse_postmark(postmark_record(), authorization=authorization, username="hooks", password="s3cret")
    assert refused.value.status == 401


def test_postmark_without_configured_credentials_refuses_everything():
    with pytest.raises(WebhookRejected):
        parse_postmark(postmark_record(), authorization=basic("", ""), username="", password="")


# --- garbage never escapes as another exception ---------------------------------------------------

GARBAGE = [b"", b"not json", b"\xff\xfe\x00", b"null", b"[]", b"42", b'"text"', b'{"Type": 5}', b"{}",
           b'{"signature": [], "event-data": {}}', b'{"signature": {"timestamp": 1, "token": 2, "signature": 3}}',
           b'{"RecordType": ["Bounce"]}', b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": 7}',
           b"[" * 100_000, b'{"a": ' * 50_000]


@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_sns_bodies_are_rejected(raw, signer):
    with pytest.raises(WebhookRejected):
        parse_ses_sns(raw, now=NOW, fetch_certificate=Fetcher(signer[1]))


@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_mailgun_bodies_are_rejected(raw):
    with pytest.raises(WebhookRejected):
        parse_mailgun(raw, signing_key=MAILGUN_KEY, now=NOW, seen_token=never_seen)


@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_postmark_bodies_are_rejected(raw):
    with pytest.raises(WebhookRejected):
        accept_postmark(raw)
