"""The subscribe form: the same answer for everyone, bots and floods held back, junk refused cleanly."""

import pytest
from sqlalchemy import func, select

from newsletter import consent
from newsletter.extensions import db
from newsletter.models import Subscriber, Subscription, SystemMail
from newsletter.sending.system_mail import send_due_system_mails
from tests.conftest import csrf_token
from tests.support.readers import subscribe


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def answer_body(response) -> bytes:
    assert response.status_code == 200
    return response.data


def test_same_answer_for_new_pending_and_confirmed_addresses(client, newsletter):
    new = answer_body(subscribe(client, "slow-mornings", "new@example.net"))
    pending = answer_body(subscribe(client, "slow-mornings", "new@example.net"))
    consent.subscribe(newsletter, "old@example.net", "", ip=None, source="t", wording="w")
    subscription = db.session.scalar(select(Subscription).join(Subscriber).where(Subscriber.email == "old@example.net"))
    consent.confirm(consent.token_for("confirm", subscription), None)
    db.session.commit()
    confirmed = answer_body(subscribe(client, "slow-mornings", "old@example.net"))
    assert new == pending == confirmed


def test_already_confirmed_reader_gets_no_mail_and_keeps_their_name(client, newsletter):
    consent.subscribe(newsletter, "old@example.net", "Ana", ip=None, source="t", wording="w")
    subscription = db.session.scalar(select(Subscription))
    consent.confirm(consent.token_for("confirm", subscription), None)
    db.session.commit()
    mails = count(SystemMail)
    subscribe(client, "slow-mornings", "old@example.net", "Mallory")
    assert count(SystemMail) == mails
    assert db.session.scalar(select(Subscriber.name)) == "Ana"


def test_twenty_identical_submissions_send_one_mail(client, newsletter, smtp, app):
    for _ in range(20):
        assert subscribe(client, "slow-mornings", "reader@example.net").status_code == 200
    assert count(SystemMail) == 1
    assert send_due_system_mails() == 1
    assert len(smtp.wait_for(1)) == 1
    assert count(SystemMail) == 0  # sent mail is not kept


def test_one_address_gets_few_confirmation_mails_across_newsletters(client, newsletter, app):
    from tests.conftest import create_demo_newsletter

    for index in range(6):
        create_demo_newsletter(f"letter-{index}")
    for index in range(6):
        subscribe(client, f"letter-{index}", "victim@example.net")
    assert count(SystemMail) == app.config["CONFIRM_MAILS_PER_HOUR"]


def test_honeypot_gets_the_neutral_answer_and_nothing_is_stored(client, newsletter):
    human = answer_body(subscribe(client, "slow-mornings", "human@example.net"))
    bot = answer_body(subscribe(client, "slow-mornings", "bot@example.net", website="http://spam.example"))
    assert bot == human
    assert db.session.scalar(select(Subscriber).where(Subscriber.email == "bot@example.net")) is None
    assert count(SystemMail) == 1


def test_rate_limit_state_lives_in_redis_when_configured(make_app, smtp, redis_url):
    import redis

    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    app = make_app(SUBSCRIBE_NEW_ADDRESSES_PER_IP="2/minute", REDIS_URL=redis_url, START_SENDER=False)
    with app.app_context():
        from tests.conftest import create_demo_newsletter
        create_demo_newsletter()
        client = app.test_client()
        statuses = [subscribe(client, "slow-mornings", f"r{i}@example.net").status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    assert any(b"LIMITER" in key for key in connection.keys("*"))


JUNK_ADDRESSES = [
    "plainaddress",
    "@no-local-part.org",
    "reader@",
    "a@@example.org",
    "two words@example.org",
    "x" * 5000 + "@example.org",
    "reader@example.org\r\nBcc: victim@example.org",
    "reader@example.org\nBcc: victim@example.org",
    "reader@example.org\x00",
    "' OR '1'='1",
    "robert'); DROP TABLE subscribers;--@example.org",
    "<script>alert(1)</script>@example.org",
]


@pytest.mark.parametrize("address", JUNK_ADDRESSES)
def test_junk_address_gets_a_form_error_and_nothing_is_stored(client, newsletter, address):
    answer = subscribe(client, "slow-mornings", address)
    assert answer.status_code == 400
    assert b"Enter a valid e-mail address" in answer.data
    assert count(Subscriber) == 0 and count(Subscription) == 0 and count(SystemMail) == 0


@pytest.mark.parametrize("name", ["Eve\r\nBcc: victim@example.org", "Eve\nX-Evil: 1", "Eve\x00", "x" * 201])
def test_name_that_could_inject_a_header_is_refused(client, newsletter, name):
    answer = subscribe(client, "slow-mornings", "eve@example.net", name)
    assert answer.status_code == 400
    assert count(Subscriber) == 0 and count(SystemMail) == 0


def test_sql_looking_name_is_stored_as_plain_text(client, newsletter):
    name = "Robert'); DROP TABLE subscribers;--"
    assert subscribe(client, "slow-mornings", "bobby@example.net", name).status_code == 200
    assert db.session.scalar(select(Subscriber.name)) == name


def test_non_utf8_bytes_get_a_form_error(client, newsletter):
    token = csrf_token(client, "/n/slow-mornings")
    body = b"csrf_token=" + token.encode() + b"&email=r\xff\xfe@example.org&name=%C3%28"
    answer = client.post("/n/slow-mornings/subscribe", data=body,
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 400
    assert count(Subscriber) == 0


def test_missing_fields_and_missing_csrf_are_4xx(client, newsletter):
    assert client.post("/n/slow-mornings/subscribe", data={"email": "a@example.net"}).status_code == 400
    token = csrf_token(client, "/n/slow-mornings")
    assert client.post("/n/slow-mornings/subscribe", data={"csrf_token": token}).status_code == 400
    assert count(Subscriber) == 0


def test_unknown_newsletter_is_404(client, newsletter):
    assert client.get("/n/nope").status_code == 404
    token = csrf_token(client, "/n/slow-mornings")
    assert client.post("/n/nope/subscribe", data={"csrf_token": token, "email": "a@example.net"}).status_code == 404


def test_oversized_request_is_413(make_app, smtp):
    app = make_app(IMPORT_MAX_BYTES="1024", START_SENDER=False)
    with app.app_context():
        from tests.conftest import create_demo_newsletter
        create_demo_newsletter()
        answer = app.test_client().post("/n/slow-mornings/subscribe", data={"email": "a" * (3 * 1024 * 1024)})
        assert answer.status_code == 413
        assert count(Subscriber) == 0
