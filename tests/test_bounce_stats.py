"""Statistics show bounces by what they mean: reason groups, and refusals about the sender per receiving domain."""

import pytest
from sqlalchemy import select

from newsletter import api_tokens
from newsletter.extensions import db
from newsletter.feedback.parsers import FeedbackEvent
from newsletter.feedback.parsers.model import kind_of_reason
from newsletter.feedback.reasons import classify
from newsletter.feedback.record import record_feedback
from newsletter.mail.identifiers import message_id_local
from newsletter.models import Delivery, Subscriber, User
from tests.conftest import SECRET, create_demo_newsletter
from tests.support.publishers import login
from tests.support.sending_helpers import confirmed_readers, new_issue, send_to_the_end, start_sending


@pytest.fixture
def world(make_app, smtp):
    """One issue sent to two readers at outlook.example and one at mail.example, then their bounces."""
    app = make_app(START_SENDER=False)
    with app.app_context():
        newsletter = create_demo_newsletter()
        readers = confirmed_readers(newsletter, 2, prefix="o") + confirmed_readers(newsletter, 1, prefix="m")
        for index, email in enumerate(readers):  # move them to their domains before the send
            db.session.scalar(select(Subscriber).where(Subscriber.email == email)).email = (
                f"reader{index}@{'outlook.example' if email.startswith('o') else 'mail.example'}")
        db.session.commit()
        issue = new_issue(newsletter, subject="Spring notes")
        start_sending(issue)
        send_to_the_end(app, issue.id)
        auth = "550 5.7.26 Unauthenticated email from example.org is not accepted due to domain's DMARC policy"
        bounce(issue, "reader0@outlook.example", "5.7.26", auth)
        bounce(issue, "reader1@outlook.example", "5.7.26", auth)
        bounce(issue, "reader2@mail.example", "5.1.1", "550 5.1.1 user unknown")
        yield app, newsletter, issue


def bounce(issue, email: str, status: str, diagnostic: str) -> None:
    """A bounce about one delivery, named by its signed Message-ID, as the parsers give it."""
    delivery = db.session.scalar(select(Delivery).join(Subscriber).where(Delivery.issue_id == issue.id,
                                                                          Subscriber.email == email))
    local = message_id_local(SECRET.encode(), delivery.id, delivery.issue_id)
    reason = classify(status, diagnostic)
    event = FeedbackEvent(kind=kind_of_reason(reason), recipient=None, status=status, diagnostic=diagnostic,
                          message_id=f"<{local}@news.example.test>", envelope_token=None, occurred_at=None,
                          reason=reason)
    assert record_feedback(event, "inbound") is not None
    db.session.commit()


def test_issue_page_shows_reason_groups_and_the_refusing_domain(world):
    app, _newsletter, issue = world
    client = app.test_client()
    login(client, "maya@example.org")
    page = client.get(f"/admin/issues/{issue.id}/stats").get_data(as_text=True)
    assert 'data-group="sender"><th scope="row">Refused because of the sender' in page
    assert "Refused by outlook.example because of authentication (SPF, DKIM, DMARC or reverse DNS)" in page
    assert "Publish the DNS records of your sending domain" in page
    row = page.split('data-group="address"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">1</td>' in row


def test_newsletter_page_lists_sender_refusals_per_domain(world):
    app, newsletter, _issue = world
    client = app.test_client()
    login(client, "maya@example.org")
    page = client.get(f"/admin/n/{newsletter.slug}/stats").get_data(as_text=True)
    assert 'data-domain="outlook.example" data-reason="auth_failure"' in page
    assert 'data-figure="bounces_sender">2<' in page and 'data-figure="bounces_address">1<' in page


def test_the_api_gives_groups_and_refusals(world):
    app, newsletter, issue = world
    user = db.session.scalar(select(User).where(User.email == "maya@example.org"))
    _, secret = api_tokens.create_token(user, "tests")
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    record = app.test_client().get(f"/api/v1/stats/issues/{issue.id}", headers=headers).json
    assert (record["bounces_address"], record["bounces_sender"], record["bounces_reader"]) == (1, 2, 0)
    assert [(r["domain"], r["reason"], r["group"], r["deliveries"]) for r in record["sender_refusals"]] == [
        ("outlook.example", "auth_failure", "sender", 2)]
    document = app.test_client().get(f"/api/v1/stats/newsletters/{newsletter.slug}", headers=headers).json
    assert document["sender_refusals"][0]["domain"] == "outlook.example"
