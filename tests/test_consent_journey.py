"""The whole reader journey through HTTP, with mail sent by the real sender thread to a real SMTP server."""

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Subscriber, Subscription
from tests.conftest import create_demo_newsletter, csrf_token, link_in
from tests.support.readers import confirm, confirm_link, path_of, subscribe


def subscription_state(app, email: str) -> dict:
    """A short look at the database, in its own app context (so no lock is held afterwards)."""
    with app.app_context():
        item = db.session.scalar(select(Subscription).join(Subscriber).where(Subscriber.email == email))
        return {column: getattr(item, column) for column in (
            "status", "confirmed_at", "confirm_ip", "consent_source", "unsubscribe_reason")} | {
            "wording": item.wording.text if item.wording else None}


def test_reader_subscribes_confirms_gets_welcome_and_unsubscribes(live_app, live_client, smtp):
    answer = subscribe(live_client, "slow-mornings", "Reader@Example.net", "Zoë")
    assert answer.status_code == 200
    assert b"Check your inbox" in answer.data
    assert subscription_state(live_app, "reader@example.net")["status"] == "pending"

    [confirmation] = smtp.wait_for(1)
    assert confirmation.recipients == ["reader@example.net"]
    page = live_client.get(confirm_link(confirmation.message))
    assert page.status_code == 200 and b"Yes, subscribe me" in page.data

    done = confirm(live_client, confirm_link(confirmation.message))
    assert done.status_code == 200 and b"You are subscribed" in done.data
    state = subscription_state(live_app, "reader@example.net")
    assert state["status"] == "confirmed"
    assert state["confirmed_at"] is not None and state["confirm_ip"] == "127.0.0.1"
    assert state["consent_source"] == "https://news.example.test/n/slow-mornings"
    assert "Slow Mornings" in state["wording"]

    welcome = smtp.wait_for(2)[1].message
    assert welcome["Subject"] == "Welcome to Slow Mornings"
    unsubscribe_path = path_of(link_in(welcome, "/unsubscribe/"))
    assert live_client.get(unsubscribe_path).status_code == 200
    left = live_client.post(unsubscribe_path, data={"action": "unsubscribe", "reason": "too_often"})
    assert left.status_code == 200 and b"You are unsubscribed" in left.data
    state = subscription_state(live_app, "reader@example.net")
    assert state["status"] == "unsubscribed"
    assert state["unsubscribe_reason"] == "too_often"


def test_confirmation_mail_carries_only_the_confirmation(live_client, smtp):
    subscribe(live_client, "slow-mornings", "reader@example.net")
    message = smtp.wait_for(1)[0].message
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe-Post"] is None
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.count("https://") == 1 and html.count('href="https://') == 1
    assert "Slow Mornings" in text and "Maya" in text
    assert "ignore this e-mail: you will receive nothing more" in text
    assert str(message["From"]) == "Maya <maya@example.org>"


def test_french_newsletter_speaks_french_to_its_readers(live_app, live_client, smtp):
    with live_app.app_context():
        create_demo_newsletter("carnet", language="fr", owner="helene@example.org")
    page = live_client.get("/n/carnet")
    assert 'lang="fr"' in page.text and "S’abonner" in page.text
    answer = subscribe(live_client, "carnet", "lecteur@example.net", "Éloïse")
    assert "Vérifiez votre boîte" in answer.text
    received = smtp.wait_for(1)[0]
    message = received.message
    assert message["Subject"].startswith("Confirmez")
    assert message["From"].addresses[0].display_name == "Hélène Côté"
    assert message["To"].addresses[0].display_name == ""  # a name typed in a form is not echoed to the address
    headers = received.raw.split(b"\r\n\r\n")[0]
    assert b"=?utf-8?" in headers and all(byte < 128 for byte in headers)


def test_unsubscribed_reader_must_subscribe_and_confirm_again_to_come_back(live_app, live_client, smtp):
    subscribe(live_client, "slow-mornings", "reader@example.net")
    confirm(live_client, confirm_link(smtp.wait_for(1)[0].message))
    welcome = smtp.wait_for(2)[1].message
    live_client.post(path_of(link_in(welcome, "/unsubscribe/")), data={"List-Unsubscribe": "One-Click"})
    assert subscription_state(live_app, "reader@example.net")["status"] == "unsubscribed"

    old_confirm = confirm_link(smtp.messages[0].message)
    assert live_client.get(old_confirm).status_code == 410
    token = csrf_token(live_client, "/n/slow-mornings")
    refused = live_client.post(old_confirm, data={"csrf_token": token})
    assert refused.status_code == 410
    assert subscription_state(live_app, "reader@example.net")["status"] == "unsubscribed"

    subscribe(live_client, "slow-mornings", "reader@example.net")
    assert subscription_state(live_app, "reader@example.net")["status"] == "pending"
    fresh = smtp.wait_for(3)[2].message
    confirm(live_client, confirm_link(fresh))
    assert subscription_state(live_app, "reader@example.net")["status"] == "confirmed"
