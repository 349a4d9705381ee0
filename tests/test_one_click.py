"""RFC 8058 one-click unsubscribe, checked from outside: cookie-less POST, 200, no Location, no Set-Cookie."""

import pytest
from sqlalchemy import select

from newsletter import consent, tokens
from newsletter.extensions import db
from newsletter.models import Subscription, SubscriptionEvent


@pytest.fixture
def confirmed(app, newsletter):
    consent.subscribe(newsletter, "reader@example.net", "", ip=None, source="test", wording="w")
    subscription = db.session.scalar(select(Subscription))
    consent.confirm(consent.token_for(tokens.CONFIRM, subscription), None)
    db.session.commit()
    return subscription


def one_click_url(subscription) -> str:
    return f"/unsubscribe/{consent.token_for(tokens.UNSUBSCRIBE, subscription)}"


def assert_one_click_answer(response):
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "Set-Cookie" not in response.headers


def test_one_click_urlencoded_unsubscribes_at_once(app, confirmed):
    client = app.test_client(use_cookies=False)
    response = client.post(one_click_url(confirmed), data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert_one_click_answer(response)
    db.session.refresh(confirmed)
    assert confirmed.status == "unsubscribed" and confirmed.unsubscribed_at is not None


def test_one_click_multipart_unsubscribes(app, confirmed):
    client = app.test_client(use_cookies=False)
    response = client.post(one_click_url(confirmed), data={"List-Unsubscribe": "One-Click"},
                           content_type="multipart/form-data")
    assert_one_click_answer(response)
    db.session.refresh(confirmed)
    assert confirmed.status == "unsubscribed"


def test_repeating_one_click_is_harmless(app, confirmed):
    client = app.test_client(use_cookies=False)
    for _ in range(3):
        assert_one_click_answer(client.post(one_click_url(confirmed), data={"List-Unsubscribe": "One-Click"}))
    db.session.refresh(confirmed)
    assert confirmed.status == "unsubscribed"
    kinds = [e.kind for e in db.session.scalars(select(SubscriptionEvent))]
    assert kinds.count("unsubscribed") == 1


def test_unsubscribe_link_never_expires(make_app, smtp):
    app = make_app(CONFIRM_TOKEN_MAX_AGE="60", START_SENDER=False)
    with app.app_context():
        from tests.conftest import create_demo_newsletter
        item = create_demo_newsletter()
        consent.subscribe(item, "reader@example.net", "", ip=None, source="t", wording="w")
        subscription = db.session.scalar(select(Subscription))
        consent.confirm(consent.token_for(tokens.CONFIRM, subscription), None)
        db.session.commit()
        signer = tokens.URLSafeTimedSerializer("test-secret-key-not-for-production",
                                               salt="newsletter.unsubscribe").make_signer("newsletter.unsubscribe")
        signer.get_timestamp = lambda: 0  # signed in 1970
        payload = tokens.URLSafeTimedSerializer("x").dump_payload([subscription.id, subscription.token_nonce])
        old = signer.sign(payload).decode()
        response = app.test_client(use_cookies=False).post(f"/unsubscribe/{old}",
                                                            data={"List-Unsubscribe": "One-Click"})
        assert_one_click_answer(response)
        db.session.refresh(subscription)
        assert subscription.status == "unsubscribed"


def test_unsubscribe_form_records_reason_and_comment(client, confirmed):
    client.post(one_click_url(confirmed), data={"action": "unsubscribe", "reason": "not_relevant",
                                                 "reason_text": "  moved\non  "})
    db.session.refresh(confirmed)
    assert confirmed.unsubscribe_reason == "not_relevant: moved on"


def test_unknown_reason_never_blocks_leaving(client, confirmed):
    response = client.post(one_click_url(confirmed), data={"reason": "<script>", "reason_text": "x" * 5000})
    assert response.status_code == 200
    db.session.refresh(confirmed)
    assert confirmed.status == "unsubscribed"
    assert len(confirmed.unsubscribe_reason) <= 500 and confirmed.unsubscribe_reason.startswith("other: ")


def test_pause_from_the_unsubscribe_page(client, confirmed):
    response = client.post(one_click_url(confirmed), data={"action": "pause3"})
    assert response.status_code == 200 and b"Paused" in response.data
    db.session.refresh(confirmed)
    assert confirmed.status == "confirmed" and confirmed.paused_until is not None
    days = (confirmed.paused_until - confirmed.confirmed_at).days
    assert 88 <= days <= 93


def test_a_pause_asked_by_a_reader_not_confirmed_unsubscribes_and_says_so(client, newsletter):
    consent.subscribe(newsletter, "pending@example.net", "", ip=None, source="test", wording="w")
    pending = db.session.scalar(select(Subscription))
    db.session.commit()
    response = client.post(one_click_url(pending), data={"action": "pause1"})
    assert response.status_code == 200 and b"You are unsubscribed" in response.data
    db.session.refresh(pending)
    assert pending.status == "unsubscribed" and pending.paused_until is None
