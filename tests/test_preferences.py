"""The reader's own page: pause, resume, rename, download everything, erase everything."""

import hashlib
import json
import re
import time
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import func, select

from newsletter import consent, suppression, tokens
from newsletter.extensions import db
from newsletter.models import Subscriber, Subscription, SubscriptionEvent, Suppression, SystemMail
from tests.conftest import SECRET, create_demo_newsletter, csrf_token


@pytest.fixture
def reader(app, newsletter):
    consent.subscribe(newsletter, "reader@example.net", "Zoë", ip="198.51.100.7", source="https://x/n/a",
                      wording="Yes, send me Slow Mornings.")
    subscription = db.session.scalar(select(Subscription))
    consent.confirm(consent.token_for(tokens.CONFIRM, subscription), "198.51.100.8")
    db.session.commit()
    return subscription.subscriber


def page_of(reader) -> str:
    return f"/preferences/{consent.token_for(tokens.PREFERENCES, reader)}"


def act(client, reader, action: str, subscription_id: int | None = None):
    url = page_of(reader)
    subscription_id = subscription_id or reader.subscriptions[0].id
    return client.post(f"{url}/subscriptions/{subscription_id}",
                       data={"csrf_token": csrf_token(client, url), "action": action})


def test_preferences_page_lists_the_readers_subscriptions(client, reader):
    page = client.get(page_of(reader))
    assert page.status_code == 200
    assert "Slow Mornings" in page.text and "reader@example.net" in page.text


def test_pause_and_resume(client, reader):
    assert act(client, reader, "pause1").status_code == 302
    subscription = reader.subscriptions[0]
    db.session.refresh(subscription)
    assert subscription.paused_until is not None
    act(client, reader, "resume")
    db.session.refresh(subscription)
    assert subscription.paused_until is None


def test_unsubscribe_from_preferences(client, reader):
    act(client, reader, "unsubscribe")
    subscription = reader.subscriptions[0]
    db.session.refresh(subscription)
    assert subscription.status == "unsubscribed"


def test_unknown_action_is_refused_and_changes_nothing(client, reader):
    assert act(client, reader, "delete-everything").status_code == 400
    db.session.refresh(reader.subscriptions[0])
    assert reader.subscriptions[0].status == "confirmed"


def test_cannot_act_on_another_readers_subscription(client, reader, newsletter):
    consent.subscribe(newsletter, "other@example.net", "", ip=None, source="t", wording="w")
    db.session.commit()
    other = db.session.scalar(select(Subscription).join(Subscriber).where(Subscriber.email == "other@example.net"))
    assert act(client, reader, "unsubscribe", other.id).status_code == 404
    db.session.refresh(other)
    assert other.status == "pending"


def test_rename(client, reader):
    url = page_of(reader)
    answer = client.post(f"{url}/name", data={"csrf_token": csrf_token(client, url), "name": "  Zoé  Martin "})
    assert answer.status_code == 302
    db.session.refresh(reader)
    assert reader.name == "Zoé Martin"
    bad = client.post(f"{url}/name", data={"csrf_token": csrf_token(client, url), "name": "Zoé\r\nBcc: x@y.z"})
    assert bad.status_code == 400
    db.session.refresh(reader)
    assert reader.name == "Zoé Martin"


def mailed_link(path: str) -> str:
    """The link in the last mail to the reader that asked for one (download, erase, a fresh preferences link)."""
    raw = db.session.scalars(select(SystemMail.raw).where(SystemMail.kind == "reader_link")
                             .order_by(SystemMail.id.desc())).first()
    assert raw is not None, "no mail with a link was queued"
    text = message_from_bytes(raw, policy=default).get_body(("plain",)).get_content()
    match = re.search(r"https://news\.example\.test(/" + path + r"/\S+)", text)
    assert match, text
    return match.group(1)


def ask_for_download(client, reader):
    url = page_of(reader)
    return client.post(f"{url}/download", data={"csrf_token": csrf_token(client, url)})


def test_download_my_data_holds_the_consent_evidence(client, reader):
    assert "Check your inbox" in ask_for_download(client, reader).get_data(as_text=True)
    answer = client.get(mailed_link("download"))
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    data = json.loads(answer.data)
    assert data["email"] == "reader@example.net" and data["name"] == "Zoë"
    [record] = data["subscriptions"]
    assert record["status"] == "confirmed"
    assert record["consent_ip"] == "198.51.100.7" and record["confirm_ip"] == "198.51.100.8"
    assert record["consent_source"] == "https://x/n/a"
    assert record["consent_wording"] == "Yes, send me Slow Mornings."
    assert record["consent_at"] and record["confirmed_at"]
    assert [event["event"] for event in data["history"]] == ["subscribed", "confirmed"]


def erase(client, reader, sure=True):
    """Ask on the page, then confirm from the mailed link."""
    url = page_of(reader)
    data = {"csrf_token": csrf_token(client, url)}
    if sure:
        data["sure"] = "y"
    asked = client.post(f"{url}/erase", data=data)
    if asked.status_code != 200:
        return asked
    link = mailed_link("erase")
    return client.post(link, data={"csrf_token": csrf_token(client, link)})


def test_the_preferences_link_alone_neither_downloads_nor_erases(client, reader):
    """V11: the preferences link is in every issue's footer, and issues get forwarded."""
    url = page_of(reader)
    assert client.get(f"{url}/data.json").status_code in (404, 405)
    asked = client.post(f"{url}/erase", data={"csrf_token": csrf_token(client, url), "sure": "y"})
    assert asked.status_code == 200 and "Check your inbox" in asked.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Subscriber.id))) == 1
    link = mailed_link("erase")
    assert client.get(link).status_code == 200 and db.session.scalar(select(func.count(Subscriber.id))) == 1
    [mail] = db.session.scalars(select(SystemMail).where(SystemMail.kind == "reader_link")).all()
    assert mail.recipient == "reader@example.net"


def _signed_long_ago(purpose: str, reader, seconds_ago: int) -> str:
    serializer = tokens.URLSafeTimedSerializer(SECRET, salt=f"newsletter.{purpose}")
    signer = serializer.make_signer()
    signer.get_timestamp = lambda: int(time.time()) - seconds_ago
    return signer.sign(serializer.dump_payload([reader.id, reader.token_nonce])).decode()


def test_a_preferences_link_expires_and_a_fresh_one_comes_by_mail(client, reader):
    old = _signed_long_ago("preferences", reader, 91 * 24 * 3600)
    page = client.get(f"/preferences/{old}")
    assert page.status_code == 410 and "This link has expired" in page.get_data(as_text=True)
    form_token = csrf_token(client, "/n/slow-mornings")
    assert client.post(f"/preferences/{old}/erase", data={"sure": "y", "csrf_token": form_token}).status_code == 410
    renewed = client.post(f"/preferences/{old}/renew", data={"csrf_token": form_token})
    assert renewed.status_code == 200
    fresh = mailed_link("preferences")
    assert client.get(fresh).status_code == 200
    assert client.get(_signed_long_ago("preferences", reader, 89 * 24 * 3600).join(["/preferences/", ""])) \
        .status_code == 200


def test_a_mailed_data_link_works_for_a_day(client, reader):
    assert client.get(f"/download/{_signed_long_ago('download', reader, 25 * 3600)}").status_code == 410
    assert client.get(f"/erase/{_signed_long_ago('erase', reader, 25 * 3600)}").status_code == 410
    assert client.get(f"/download/{_signed_long_ago('download', reader, 23 * 3600)}").status_code == 200


def test_erase_needs_the_box_ticked(client, reader):
    assert erase(client, reader, sure=False).status_code == 400
    assert db.session.scalar(select(func.count(Subscriber.id))) == 1


def test_erasure_keeps_only_a_keyed_hash(client, reader, app):
    url = page_of(reader)
    assert erase(client, reader).status_code == 200
    assert db.session.scalar(select(func.count(Subscriber.id))) == 0
    assert db.session.scalar(select(func.count(Subscription.id))) == 0
    [row] = db.session.scalars(select(Suppression)).all()
    assert row.reason == "erased" and row.newsletter_id is None
    assert row.address_hmac == suppression.hmac_of("reader@example.net")
    assert row.address_hmac != hashlib.sha256(b"reader@example.net").hexdigest()
    # Nothing else in the database holds the address.
    assert db.session.scalar(select(func.count(SystemMail.id)).where(SystemMail.recipient == "reader@example.net")) == 0
    assert all(e.subscription_id is None for e in db.session.scalars(select(SubscriptionEvent)))
    # The old links are dead.
    assert client.get(url).status_code == 404


def test_erased_reader_can_come_back_only_by_confirming_again(client, reader, newsletter):
    erase(client, reader)
    consent.subscribe(newsletter, "reader@example.net", "", ip=None, source="t", wording="w")
    db.session.commit()
    assert suppression.is_suppressed(suppression.hmac_of("reader@example.net"), newsletter.id)
    subscription = db.session.scalar(select(Subscription))
    consent.confirm(consent.token_for(tokens.CONFIRM, subscription), None)
    db.session.commit()
    assert not suppression.is_suppressed(suppression.hmac_of("reader@example.net"), newsletter.id)


def test_preferences_page_speaks_the_newsletters_language(client, app):
    item = create_demo_newsletter("carnet", language="fr", owner="helene@example.org")
    consent.subscribe(item, "lectrice@example.net", "", ip=None, source="t", wording="w")
    db.session.commit()
    subscriber = db.session.scalar(select(Subscriber))
    assert "Vos abonnements" in client.get(page_of(subscriber)).text
