"""Provider webhooks over HTTP: verified calls suppress the address; forged or stale ones change nothing."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from newsletter import suppression
from newsletter.feedback.parsers.sns import clear_certificate_cache
from newsletter.extensions import db
from newsletter.models import Feedback, Subscriber, Subscription, Suppression
from tests.conftest import create_demo_newsletter
from tests.support.sending_helpers import confirmed_readers
from tests.test_webhook_signatures import TOPIC, make_key_and_cert, notification, sign

MAILGUN_KEY = "key-test-0123456789"


@pytest.fixture
def hooks_app(make_app, smtp):
    app = make_app(START_SENDER=False, SES_TOPIC_ARNS=TOPIC, POSTMARK_WEBHOOK_USER="pm",
                   POSTMARK_WEBHOOK_PASSWORD="pm-secret", MAILGUN_SIGNING_KEY=MAILGUN_KEY)
    clear_certificate_cache()
    with app.app_context():
        newsletter = create_demo_newsletter()
        confirmed_readers(newsletter, 2)
        yield app


def state():
    return (db.session.scalar(select(func.count(Suppression.id))), db.session.scalar(select(func.count(Feedback.id))),
            sorted(db.session.scalars(select(Subscription.status))))


def status_of(email):
    db.session.expire_all()
    return db.session.scalar(select(Subscription.status).join(Subscriber).where(Subscriber.email == email))


def ses_bounce_for(email):
    return {"notificationType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bouncedRecipients": [
                {"emailAddress": email, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550"}]},
            "mail": {"source": "maya@example.org"}}


def fresh(payload: dict, **extra) -> dict:
    """An SNS notification signed just now."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return notification(payload, Timestamp=stamp, MessageId=str(uuid.uuid4()), **extra)


def test_ses_bounce_suppresses_the_address(hooks_app):
    key, pem = make_key_and_cert("sns.amazonaws.com")
    hooks_app.extensions["newsletter.fetch_https"] = lambda url: pem
    message = sign(fresh(ses_bounce_for("Reader0@example.net")), key, "2")
    answer = hooks_app.test_client().post("/webhooks/ses", data=json.dumps(message),
                                          content_type="text/plain; charset=UTF-8")
    assert answer.status_code == 200 and answer.json == {"received": 1, "recorded": 1}
    assert status_of("reader0@example.net") == "bounced"
    assert suppression.is_suppressed(suppression.hmac_of("reader0@example.net"))


def test_ses_message_signed_by_someone_else_is_refused(hooks_app):
    key, _pem = make_key_and_cert("attacker.example.net")
    _other_key, pem = make_key_and_cert("sns.amazonaws.com")
    hooks_app.extensions["newsletter.fetch_https"] = lambda url: pem
    before = state()
    message = sign(fresh(ses_bounce_for("reader0@example.net")), key, "2")
    answer = hooks_app.test_client().post("/webhooks/ses", data=json.dumps(message))
    assert 400 <= answer.status_code < 500 and answer.json["error"]["code"] == "webhook_rejected"
    assert state() == before


# --- V12 (issue 15): these failed before the fix (a 6-year-old message and a replay were accepted, a failed
# certificate fetch answered 500 with a traceback) --------------------------------------------------------


def test_ses_a_six_year_old_signed_complaint_is_refused(hooks_app):
    key, pem = make_key_and_cert("sns.amazonaws.com")
    hooks_app.extensions["newsletter.fetch_https"] = lambda url: pem
    message = sign(notification(ses_bounce_for("reader0@example.net"), Timestamp="2019-03-01T11:59:01.000Z"), key)
    before = state()
    answer = hooks_app.test_client().post("/webhooks/ses", data=json.dumps(message))
    assert answer.status_code == 403 and answer.json["error"]["code"] == "webhook_rejected"
    assert state() == before


def test_ses_the_same_message_twice_is_refused_the_second_time(hooks_app):
    key, pem = make_key_and_cert("sns.amazonaws.com")
    hooks_app.extensions["newsletter.fetch_https"] = lambda url: pem
    raw = json.dumps(sign(fresh(ses_bounce_for("reader0@example.net")), key))
    client = hooks_app.test_client()
    assert client.post("/webhooks/ses", data=raw).status_code == 200
    before = state()
    assert client.post("/webhooks/ses", data=raw).status_code == 403
    assert state() == before


def test_ses_a_certificate_that_cannot_be_fetched_is_a_4xx_without_traceback(hooks_app, caplog):
    key, _pem = make_key_and_cert("sns.amazonaws.com")

    def unreachable(url):
        raise OSError("network unreachable")

    hooks_app.extensions["newsletter.fetch_https"] = unreachable
    raw = json.dumps(sign(fresh(ses_bounce_for("reader0@example.net")), key))
    answer = hooks_app.test_client().post("/webhooks/ses", data=raw)
    assert 400 <= answer.status_code < 500 and answer.json["error"]["code"] == "webhook_rejected"
    assert "Traceback" not in caplog.text and "Traceback" not in answer.get_data(as_text=True)


def postmark_bounce(email):
    return json.dumps({"RecordType": "Bounce", "Type": "HardBounce", "Email": email, "TypeCode": 1,
                       "Description": "The server was unable to deliver your message", "Details": "550 5.1.1",
                       "BouncedAt": "2026-11-23T10:00:00Z"})


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_postmark_bounce_with_the_right_credentials(hooks_app):
    answer = hooks_app.test_client().post("/webhooks/postmark", data=postmark_bounce("reader1@example.net"),
                                          headers={"Authorization": basic("pm", "pm-secret")},
                                          content_type="application/json")
    assert answer.status_code == 200
    assert status_of("reader1@example.net") == "bounced"


@pytest.mark.parametrize("authorization", [None, basic("pm", "wrong"), "Bearer pm-secret", "Basic !!!"])
def test_postmark_without_the_right_credentials_is_refused(hooks_app, authorization):
    before = state()
    headers = {"Authorization": authorization} if authorization else {}
    answer = hooks_app.test_client().post("/webhooks/postmark", data=postmark_bounce("reader1@example.net"),
                                          headers=headers, content_type="application/json")
    assert answer.status_code in (401, 403)
    assert state() == before


def mailgun_body(email, timestamp=None, token="tok-1", key=MAILGUN_KEY):
    timestamp = str(int(timestamp or time.time()))
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": timestamp, "token": token, "signature": signature},
                       "event-data": {"event": "failed", "severity": "permanent", "recipient": email,
                                      "delivery-status": {"code": 550, "description": "No such user"},
                                      "timestamp": float(timestamp)}})


def test_mailgun_failure_and_replay(hooks_app):
    client = hooks_app.test_client()
    body = mailgun_body("reader0@example.net")
    assert client.post("/webhooks/mailgun", data=body, content_type="application/json").status_code == 200
    assert status_of("reader0@example.net") == "bounced"
    before = state()
    assert client.post("/webhooks/mailgun", data=body, content_type="application/json").status_code == 403
    assert state() == before


@pytest.mark.parametrize("body", [
    lambda: mailgun_body("reader0@example.net", key="another-key"),
    lambda: mailgun_body("reader0@example.net", timestamp=time.time() - 3600),
    lambda: "not json at all",
    lambda: json.dumps({"signature": "wrong shape"}),
])
def test_forged_or_stale_mailgun_calls_change_nothing(hooks_app, body):
    before = state()
    answer = hooks_app.test_client().post("/webhooks/mailgun", data=body(), content_type="application/json")
    assert 400 <= answer.status_code < 500
    assert state() == before


def test_unconfigured_provider_answers_404(make_app, smtp):
    app = make_app(START_SENDER=False)
    answer = app.test_client().post("/webhooks/mailgun", data="{}", content_type="application/json")
    assert answer.status_code == 404 and answer.json["error"]["code"] == "not_configured"
