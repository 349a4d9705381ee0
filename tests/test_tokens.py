"""Signed links: tampering, expiry, purpose binding, and GETs that change nothing."""

import time

import pytest
from sqlalchemy import select

from newsletter import consent, tokens
from newsletter.extensions import db
from newsletter.models import Subscription, SubscriptionEvent
from tests.conftest import SECRET, csrf_token


@pytest.fixture
def pending(app, newsletter):
    consent.subscribe(newsletter, "reader@example.net", "", ip="192.0.2.1", source="test", wording="w")
    db.session.commit()
    return db.session.scalar(select(Subscription))


def test_confirm_token_cannot_unsubscribe(client, pending):
    token = consent.token_for(tokens.CONFIRM, pending)
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert pending.status == "pending"


def test_unsubscribe_token_cannot_confirm(client, pending):
    token = consent.token_for(tokens.UNSUBSCRIBE, pending)
    assert client.get(f"/confirm/{token}").status_code == 404
    form_token = csrf_token(client, "/n/slow-mornings")
    assert client.post(f"/confirm/{token}", data={"csrf_token": form_token}).status_code == 404
    db.session.refresh(pending)
    assert pending.status == "pending"


def test_preferences_token_is_not_a_subscription_token(client, pending):
    token = consent.token_for(tokens.PREFERENCES, pending.subscriber)
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.get(f"/confirm/{token}").status_code == 404
    assert client.get(f"/preferences/{token}").status_code == 200


@pytest.mark.parametrize("mangle", [
    # Signature changed: not in its last character, whose lowest bits are base64 padding and may decode the same.
    lambda t: t[:-5] + ("A" if t[-5] != "A" else "Q") + t[-4:],
    lambda t: t[:10],  # truncated
    lambda t: "x" + t,  # payload changed
    lambda t: "not-a-token",
    lambda t: "%00%0d%0a",
])
def test_tampered_tokens_are_refused_and_change_nothing(client, pending, mangle):
    bad = mangle(consent.token_for(tokens.CONFIRM, pending))
    assert client.get(f"/confirm/{bad}").status_code == 404
    form_token = csrf_token(client, "/n/slow-mornings")
    assert client.post(f"/confirm/{bad}", data={"csrf_token": form_token}).status_code == 404
    db.session.refresh(pending)
    assert pending.status == "pending"


def test_token_signed_with_another_secret_is_refused(client, pending):
    forged = tokens.make_token("another secret", tokens.CONFIRM, pending.id, pending.token_nonce)
    assert client.get(f"/confirm/{forged}").status_code == 404


def test_token_of_a_replaced_record_is_refused(client, pending):
    # Same id, other nonce: what a token of an erased subscriber looks like if a database reuses the id.
    stale = tokens.make_token(SECRET, tokens.UNSUBSCRIBE, pending.id, "old-nonce")
    assert client.post(f"/unsubscribe/{stale}", data={"List-Unsubscribe": "One-Click"}).status_code == 404


def test_expired_confirm_token_offers_a_fresh_mail(make_app, smtp):
    app = make_app(CONFIRM_TOKEN_MAX_AGE="60", START_SENDER=False)
    with app.app_context():
        from tests.conftest import create_demo_newsletter
        item = create_demo_newsletter()
        consent.subscribe(item, "reader@example.net", "", ip=None, source="test", wording="w")
        db.session.commit()
        subscription = db.session.scalar(select(Subscription))
        old = tokens.URLSafeTimedSerializer(SECRET, salt="newsletter.confirm")
        # Sign as if two minutes ago: itsdangerous takes the time from the signer.
        signer = old.make_signer("newsletter.confirm")
        signer.get_timestamp = lambda: int(time.time()) - 120
        payload = old.dump_payload([subscription.id, subscription.token_nonce])
        expired = signer.sign(payload).decode()
        client = app.test_client()
        page = client.get(f"/confirm/{expired}")
        assert page.status_code == 410
        assert b"Send me a new confirmation e-mail" in page.data
        form_token = csrf_token(client, "/n/slow-mornings")
        assert client.post(f"/confirm/{expired}", data={"csrf_token": form_token}).status_code == 410
        db.session.refresh(subscription)
        assert subscription.status == "pending"


def test_get_on_confirm_link_changes_nothing(client, pending):
    token = consent.token_for(tokens.CONFIRM, pending)
    for _ in range(3):
        assert client.get(f"/confirm/{token}").status_code == 200
    db.session.refresh(pending)
    assert pending.status == "pending" and pending.confirmed_at is None


def test_get_on_unsubscribe_link_changes_nothing(client, pending):
    consent.confirm(consent.token_for(tokens.CONFIRM, pending), "192.0.2.2")
    db.session.commit()
    token = consent.token_for(tokens.UNSUBSCRIBE, pending)
    for _ in range(3):
        assert client.get(f"/unsubscribe/{token}").status_code == 200
    db.session.refresh(pending)
    assert pending.status == "confirmed"


def test_confirm_is_idempotent(client, pending):
    token = consent.token_for(tokens.CONFIRM, pending)
    form_token = csrf_token(client, f"/confirm/{token}")
    first = client.post(f"/confirm/{token}", data={"csrf_token": form_token})
    db.session.refresh(pending)
    confirmed_at = pending.confirmed_at
    second = client.post(f"/confirm/{token}", data={"csrf_token": form_token})
    assert first.status_code == second.status_code == 200
    db.session.refresh(pending)
    assert pending.status == "confirmed" and pending.confirmed_at == confirmed_at
    events = [e.kind for e in db.session.scalars(select(SubscriptionEvent))]
    assert events.count("confirmed") == 1


def test_confirm_post_without_csrf_token_changes_nothing(client, pending):
    token = consent.token_for(tokens.CONFIRM, pending)
    assert client.post(f"/confirm/{token}").status_code == 400
    db.session.refresh(pending)
    assert pending.status == "pending"


def test_fast_tokens_are_what_itsdangerous_writes():
    for attempt in range(3):  # the two calls must fall in the same second
        fast = tokens.make_token(SECRET, tokens.UNSUBSCRIBE, 4242, "n0nce-_x")
        reference = tokens._serializer(SECRET, tokens.UNSUBSCRIBE).dumps([4242, "n0nce-_x"])
        if fast.split(".")[1] == reference.split(".")[1]:
            break
    assert fast == reference
    assert tokens.read_token(SECRET, tokens.UNSUBSCRIBE, fast) == tokens.TokenClaim(4242, "n0nce-_x")


@pytest.mark.parametrize("leave", ["unsubscribe", "bounce"])
def test_an_old_confirm_link_cannot_confirm_a_stranger_s_new_subscription(client, pending, leave):
    """V10: the reader leaves; a stranger subscribes the address again; the reader's old (unexpired) confirm
    link must not confirm that new request: only the new mail's link can."""
    old_link = consent.token_for(tokens.CONFIRM, pending)
    if leave == "unsubscribe":
        consent.unsubscribe(pending)
    else:
        pending.status = "bounced"  # as the feedback path leaves it
    db.session.commit()
    consent.subscribe(pending.newsletter, "reader@example.net", "", ip="198.51.100.7", source="stranger",
                      wording="w")
    db.session.commit()
    form_token = csrf_token(client, "/n/slow-mornings")
    assert client.post(f"/confirm/{old_link}", data={"csrf_token": form_token}).status_code == 404
    db.session.refresh(pending)
    assert pending.status == "pending"
    fresh = consent.token_for(tokens.CONFIRM, pending)
    assert client.post(f"/confirm/{fresh}", data={"csrf_token": form_token}).status_code == 200
    db.session.refresh(pending)
    assert pending.status == "confirmed"


def test_an_unsubscribe_link_keeps_working_after_leaving(client, pending):
    link = consent.token_for(tokens.UNSUBSCRIBE, pending)
    consent.unsubscribe(pending)
    db.session.commit()
    assert client.post(f"/unsubscribe/{link}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
