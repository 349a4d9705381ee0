"""The admin page of readers a refusal about the sender suppressed in the past, and restoring them (issue 12)."""

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter import consent, suppression
from newsletter.extensions import db
from newsletter.feedback import record as feedback
from newsletter.feedback import restore
from newsletter.feedback.parsers import FeedbackEvent, verp_token
from newsletter.mail.issue_message import IssueTemplate
from newsletter.models import Delivery, Subscriber, Subscription, SubscriptionEvent
from newsletter.stats.newsletters import newsletter_figures
from newsletter.stats.periods import period
from newsletter.suppression import hmac_of
from tests.conftest import create_demo_newsletter
from tests.support.publishers import PASSWORD, login, post_form
from tests.support.sending_helpers import confirmed_readers, new_issue, received_by, send_to_the_end, start_sending

MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0007_feedback_reasons.py"
UNAUTHENTICATED = ("550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and "
                   "Gmail users, and has been blocked.")


@pytest.fixture
def restore_app(make_app, smtp):
    app = make_app(START_SENDER=False, BOUNCE_ADDRESS="bounces@example.org")
    with app.app_context():
        yield app


@pytest.fixture
def world(restore_app, smtp):
    """Three confirmed readers got an issue; before bounces were read by reason, example.net's refusal of the
    sender for reader0 was taken for a hard bounce, and stopped all of reader0's mail."""
    from newsletter import accounts

    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 3)
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    issue = new_issue(newsletter, subject="Winter notes")
    start_sending(issue)
    send_to_the_end(restore_app, issue.id)
    suppressed_in_the_past(issue, readers[0], "5.7.26", UNAUTHENTICATED)
    reclassify()
    return newsletter, issue, readers


def suppressed_in_the_past(issue, email: str, status: str, diagnostic: str, kind: str = "hard_bounce") -> None:
    """What the code before the reason table did with a notice: the kind by the first digit, then the stop."""
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == email))
    delivery = db.session.scalar(select(Delivery).where(Delivery.issue_id == issue.id,
                                                        Delivery.subscriber_id == subscriber.id))
    token = verp_token(IssueTemplate(issue).envelope_from(delivery.id), "bounces")
    feedback.record_feedback(FeedbackEvent(kind=kind, recipient=email, status=status, diagnostic=diagnostic,
                                           message_id=None, envelope_token=token, occurred_at=None), "inbound")
    db.session.commit()


def reclassify() -> None:
    """Migration 0007's re-classification of the stored bounces, run on this database."""
    spec = importlib.util.spec_from_file_location("feedback_reasons_0007", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    migration.reclassify(db.session.connection())
    db.session.commit()


def subscription_of(email: str) -> Subscription:
    db.session.expire_all()
    return db.session.scalar(select(Subscription).join(Subscriber).where(Subscriber.email == email))


def admin_client(app):
    client = app.test_client()
    assert login(client, "admin@example.org").status_code == 302
    return client


def test_the_page_lists_the_reader_with_the_evidence_and_says_what_restore_does(restore_app, world):
    _, _, readers = world
    assert subscription_of(readers[0]).status == "bounced"  # what the old reading did
    page = admin_client(restore_app).get("/admin/suppressed").get_data(as_text=True)
    assert readers[0] in page and readers[1] not in page
    assert "refused because of authentication (SPF, DKIM, DMARC or reverse DNS)" in page
    assert "5.7.26 This mail is unauthenticated" in page and "Winter notes" in page and "Slow Mornings" in page
    assert "lifts the instance-wide suppression" in page and "recorded in the reader's history" in page


def test_restoring_confirms_again_lifts_the_suppression_and_names_the_admin(restore_app, world, smtp):
    newsletter, _, readers = world
    subscription = subscription_of(readers[0])
    confirmed_at = subscription.confirmed_at
    assert suppression.is_suppressed(hmac_of(readers[0]))
    client = admin_client(restore_app)
    answer = post_form(client, f"/admin/suppressed/{subscription.subscriber_id}/restore", follow_redirects=True)
    assert "The reader receives 1 newsletter again." in answer.get_data(as_text=True)
    assert readers[0] not in answer.get_data(as_text=True).split("<h1>")[1]
    subscription = subscription_of(readers[0])
    assert (subscription.status, subscription.confirmed_at) == ("confirmed", confirmed_at)
    assert not suppression.is_suppressed(hmac_of(readers[0]))
    event = db.session.scalar(select(SubscriptionEvent).where(SubscriptionEvent.subscription_id == subscription.id)
                              .order_by(SubscriptionEvent.id.desc()).limit(1))
    assert (event.kind, event.from_status) == ("restored", "bounced") and "admin@example.org" in event.reason
    # The readers over time count the restore as one back: three confirmed today, none the day before.
    figures = newsletter_figures(newsletter, period("day", 30))
    assert (figures.timeline[-1].restored, figures.timeline[-1].confirmed, figures.timeline[-2].confirmed) == (1, 3, 0)
    smtp.messages.clear()
    issue = new_issue(newsletter, subject="Spring notes")
    start_sending(issue)
    send_to_the_end(restore_app, issue.id)
    assert received_by(smtp) == {email: 1 for email in readers}


def complained(world):
    _, issue, readers = world
    suppressed_in_the_past(issue, readers[0], "", "spam report", kind="complaint")


def bounced_for_itself(world):
    _, issue, readers = world
    suppressed_in_the_past(issue, readers[0], "5.1.1", "550 5.1.1 User unknown")


def erased(world):
    _, _, readers = world
    consent.erase(subscription_of(readers[0]).subscriber)
    db.session.commit()


def covered_by_the_publishers_list(world):
    newsletter, _, readers = world
    suppression.suppress(hmac_of(readers[0]), "imported", newsletter.id)
    db.session.commit()


def subscribed_again_then_left(world):
    newsletter, _, readers = world
    consent.subscribe(newsletter, readers[0], None, ip="192.0.2.9", source="form", wording="w")
    consent.unsubscribe(subscription_of(readers[0]))
    db.session.commit()


@pytest.mark.parametrize("own_doing", [complained, bounced_for_itself, erased, covered_by_the_publishers_list,
                                       subscribed_again_then_left])
def test_a_reader_something_of_their_own_stops_is_neither_listed_nor_restored(restore_app, world, own_doing):
    _, _, readers = world
    subscriber_id = subscription_of(readers[0]).subscriber_id
    own_doing(world)
    before = subscription_of(readers[0])
    before = before.status if before else None
    client = admin_client(restore_app)
    assert readers[0] not in client.get("/admin/suppressed").get_data(as_text=True)
    answer = post_form(client, f"/admin/suppressed/{subscriber_id}/restore")
    assert answer.status_code in (404, 409)
    after = subscription_of(readers[0])
    assert (after.status if after else None) == before != "confirmed"


def test_a_reader_who_had_not_confirmed_is_not_listed(restore_app, smtp):
    from newsletter import accounts

    newsletter = create_demo_newsletter()
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    consent.subscribe(newsletter, "pending@example.net", None, ip="192.0.2.9", source="form", wording="w")
    db.session.commit()
    feedback.record_feedback(FeedbackEvent(kind="hard_bounce", recipient="pending@example.net", status="5.7.26",
                                           diagnostic=UNAUTHENTICATED, message_id=None, envelope_token=None,
                                           occurred_at=None), "webhook", trusted=True)
    db.session.commit()
    reclassify()
    assert subscription_of("pending@example.net").status == "bounced"
    assert "pending@example.net" not in admin_client(restore_app).get("/admin/suppressed").get_data(as_text=True)


def test_restore_all_restores_every_listed_reader(restore_app, world):
    _, issue, readers = world
    suppressed_in_the_past(issue, readers[1], "5.7.1", "554 5.7.1 Service unavailable; Client host blocked using "
                                                       "zen.spamhaus.org")
    reclassify()
    client = admin_client(restore_app)
    answer = post_form(client, "/admin/suppressed/restore-all", follow_redirects=True)
    assert "2 readers receive their newsletters again." in answer.get_data(as_text=True)
    assert [subscription_of(email).status for email in readers] == ["confirmed"] * 3
    assert "No reader is suppressed by a refusal about the sender." in answer.get_data(as_text=True)


def test_only_admins_see_the_page_and_act(restore_app, world):
    _, _, readers = world
    subscriber_id = subscription_of(readers[0]).subscriber_id
    client = restore_app.test_client()
    login(client, "maya@example.org")
    assert client.get("/admin/suppressed").status_code == 404
    assert post_form(client, f"/admin/suppressed/{subscriber_id}/restore").status_code == 404
    assert post_form(client, "/admin/suppressed/restore-all").status_code == 404
    assert subscription_of(readers[0]).status == "bounced"


def test_a_restore_without_the_forms_token_or_for_nobody_changes_nothing(restore_app, world):
    _, _, readers = world
    subscriber_id = subscription_of(readers[0]).subscriber_id
    client = admin_client(restore_app)
    assert client.post(f"/admin/suppressed/{subscriber_id}/restore").status_code == 400
    assert client.post("/admin/suppressed/restore-all").status_code == 400
    assert post_form(client, "/admin/suppressed/99999999/restore").status_code == 404
    assert post_form(client, "/admin/suppressed/99999999999999999999/restore").status_code == 404
    assert client.get("/admin/suppressed?after=junk").status_code == 200
    assert subscription_of(readers[0]).status == "bounced"


def test_restore_all_works_through_every_chunk_and_leaves_who_is_not_listed(restore_app, world, monkeypatch):
    """Restore all goes by chunks of readers, a few statements each (10,000 readers one by one took minutes);
    every listed reader is restored with the admin named, and a reader whose own newsletter's suppression list
    covers them is left as they are, whatever chunk they fall in."""
    newsletter, issue, readers = world
    for email in readers[1:]:
        suppressed_in_the_past(issue, email, "5.7.26", UNAUTHENTICATED)
    reclassify()
    suppression.suppress(hmac_of(readers[2]), "imported", newsletter_id=newsletter.id)
    db.session.commit()
    monkeypatch.setattr(restore, "RESTORE_CHUNK", 1)
    answer = post_form(admin_client(restore_app), "/admin/suppressed/restore-all", follow_redirects=True)
    assert "2 readers receive their newsletters again." in answer.get_data(as_text=True)
    assert [subscription_of(email).status for email in readers] == ["confirmed", "confirmed", "bounced"]
    assert not suppression.is_suppressed(hmac_of(readers[1])) and suppression.is_suppressed(hmac_of(readers[2]))
    events = db.session.execute(select(SubscriptionEvent.kind, SubscriptionEvent.from_status, SubscriptionEvent.reason)
                                .where(SubscriptionEvent.kind == "restored")).all()
    assert len(events) == 2 and all(e.from_status == "bounced" and "admin@example.org" in e.reason for e in events)
