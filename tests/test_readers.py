"""Managing readers: search and filters, a reader's page (evidence, history, issues, bounces), what a publisher may
do on a reader's request (with a reason kept), invitations that only send the confirmation mail, CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from newsletter import consent, reader_requests, readers, suppression, tokens
from newsletter.admin_jobs.dispatch import run_due_jobs
from newsletter.errors import InvalidInput, Refused
from newsletter.export import export_subscribers
from newsletter.stats.newsletters import status_counts
from newsletter.extensions import db
from newsletter.models import Subscriber, Subscription, SubscriptionEvent, SystemMail, utcnow
from tests.support.publishers import login, post_form
from tests.support.sending_helpers import confirmed_readers


@pytest.fixture
def maya(client, newsletter):
    login(client, "maya@example.org")
    return client


def pending(newsletter, email: str, name: str = "") -> Subscription:
    consent.subscribe(newsletter, email, name, ip="192.0.2.1", source="https://news.example.test/n/slow-mornings",
                      wording="Yes, send me Slow Mornings.")
    db.session.commit()
    return db.session.scalar(select(Subscription).join(Subscriber).where(Subscriber.email == email))


def confirmation_mails(email: str) -> int:
    return db.session.scalar(select(func.count(SystemMail.id)).where(SystemMail.recipient == email,
                                                                     SystemMail.kind == "confirm"))


def test_search_finds_readers_by_part_of_the_address_or_the_name_in_any_case(maya, newsletter):
    confirmed_readers(newsletter, 2)
    pending(newsletter, "zoe@studio.example", "Zoë Martin")
    assert [r.email for r in readers.reader_page(newsletter, search="MARTIN").rows] == ["zoe@studio.example"]
    assert [r.email for r in readers.reader_page(newsletter, search="studio.ex").rows] == ["zoe@studio.example"]
    assert readers.reader_page(newsletter, search="100%_").rows == []  # wildcards are plain characters
    page = maya.get(f"/admin/n/{newsletter.slug}/subscribers?q=reader1&status=confirmed").text
    assert "reader1@example.net" in page and "reader0@example.net" not in page and "zoe@" not in page


def test_reader_page_shows_evidence_history_and_actions(maya, newsletter):
    subscription = pending(newsletter, "zoe@studio.example")
    page = maya.get(f"/admin/n/{newsletter.slug}/subscribers/{subscription.id}").text
    assert "Yes, send me Slow Mornings." in page and "192.0.2.1" in page and "Asked to subscribe" in page
    assert "Send the confirmation mail again" in page and "Erase on request" in page


def test_another_newsletters_reader_is_not_found(maya, newsletter):
    from tests.conftest import create_demo_newsletter
    other = create_demo_newsletter(slug="deep-rest", owner="bea@example.org")
    subscription = pending(other, "x@example.net")
    assert maya.get(f"/admin/n/{newsletter.slug}/subscribers/{subscription.id}").status_code == 404
    assert maya.get(f"/admin/n/{newsletter.slug}/subscribers/99999999999").status_code == 404


def test_unsubscribe_on_request_needs_a_reason_and_records_it(maya, newsletter):
    confirmed_readers(newsletter, 1)
    subscription = db.session.scalars(select(Subscription)).one()
    url = f"/admin/n/{newsletter.slug}/subscribers/{subscription.id}/unsubscribe"
    refused = post_form(maya, url, {"unsubscribe-reason": "  "})
    assert refused.status_code == 400 and "Say why" in refused.text
    db.session.expire_all()
    assert subscription.status == "confirmed"
    assert post_form(maya, url, {"unsubscribe-reason": "asked by e-mail on 3 May"}).status_code == 302
    db.session.expire_all()
    assert subscription.status == "unsubscribed"
    assert subscription.unsubscribe_reason == "on_request: asked by e-mail on 3 May"


def test_erase_on_request_keeps_only_a_fingerprint_for_this_newsletter(maya, newsletter):
    from tests.conftest import create_demo_newsletter
    other = create_demo_newsletter(slug="deep-rest", owner="bea@example.org")
    subscription = pending(newsletter, "zoe@studio.example")
    pending(other, "zoe@studio.example")
    hmac = subscription.subscriber.email_hmac
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/subscribers/{subscription.id}/erase",
                       {"erase-reason": "asked in class"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(Subscription, subscription.id) is None
    assert suppression.is_suppressed(hmac, newsletter.id) and not suppression.is_suppressed(hmac, other.id)
    assert db.session.scalar(select(Subscriber).where(Subscriber.email == "zoe@studio.example")) is not None
    assert db.session.scalar(select(func.count(SystemMail.id)).where(
        SystemMail.recipient == "zoe@studio.example", SystemMail.envelope_from == "bea@example.org")) == 1
    assert db.session.scalar(select(func.count(SystemMail.id)).where(
        SystemMail.recipient == "zoe@studio.example", SystemMail.envelope_from == "maya@example.org")) == 0
    event = db.session.scalars(select(SubscriptionEvent).where(SubscriptionEvent.kind == "erased")).one()
    assert (event.reason, event.subscription_id, event.newsletter_id) == ("asked in class", None, newsletter.id)


def test_erasing_a_reader_of_only_this_newsletter_removes_the_person(newsletter):
    subscription = pending(newsletter, "zoe@studio.example")
    reader_requests.erase_on_request(subscription, "asked by phone")
    db.session.commit()
    assert db.session.scalar(select(func.count(Subscriber.id))) == 0
    assert confirmation_mails("zoe@studio.example") == 0  # a queued mail to them is gone too


def test_resend_confirmation_at_most_once_a_week_per_address(newsletter):
    subscription = pending(newsletter, "zoe@studio.example")
    subscription.confirm_sent_at = utcnow() - timedelta(hours=2)  # the first mail went a while ago
    db.session.commit()
    reader_requests.resend_confirmation(subscription, "lost the first mail")
    db.session.commit()
    assert confirmation_mails("zoe@studio.example") == 2
    subscription.confirm_sent_at = utcnow() - timedelta(hours=2)
    with pytest.raises(Refused, match="The next one can go from"):
        reader_requests.resend_confirmation(subscription, "again")


def test_a_confirmed_reader_gets_no_confirmation_mail_again(newsletter):
    confirmed_readers(newsletter, 1)
    with pytest.raises(Refused):
        reader_requests.resend_confirmation(db.session.scalars(select(Subscription)).one(), "why not")


def test_invite_sends_only_the_confirmation_mail_and_adds_no_reader(maya, newsletter):
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/invite",
                       {"email": "Met@Workshop.example", "name": "Léa", "note": "workshop in Lyon, 14 June"})
    assert answer.status_code == 302
    subscription = db.session.scalars(select(Subscription)).one()
    assert subscription.status == "pending" and subscription.confirmed_at is None
    assert "Invited in person by maya@example.org: workshop in Lyon, 14 June" == subscription.consent_source
    assert confirmation_mails("met@workshop.example") == 1
    assert status_counts(newsletter)["confirmed"] == 0
    again = post_form(maya, f"/admin/n/{newsletter.slug}/invite",
                      {"email": "met@workshop.example", "note": "second try"})
    assert again.status_code == 400 and "The next one can go from" in again.text
    assert confirmation_mails("met@workshop.example") == 1


@pytest.mark.parametrize("status", ["unsubscribed", "confirmed"])
def test_invite_never_brings_back_who_left_nor_touches_a_reader(maya, newsletter, status):
    confirmed_readers(newsletter, 1)
    subscription = db.session.scalars(select(Subscription)).one()
    if status == "unsubscribed":
        consent.unsubscribe(subscription)
        db.session.commit()
    answer = post_form(maya, f"/admin/n/{newsletter.slug}/invite", {"email": "reader0@example.net", "note": "met"})
    assert answer.status_code == 400
    db.session.expire_all()
    assert subscription.status == status


def test_invite_of_an_erased_address_is_refused(newsletter):
    suppression.suppress(suppression.hmac_of("gone@example.net"), "erased")
    with pytest.raises(Refused):
        reader_requests.invite(newsletter, "gone@example.net", "", "met", newsletter.owner)
    with pytest.raises(InvalidInput):
        reader_requests.invite(newsletter, "not an address", "", "met", newsletter.owner)


def test_export_button_gives_the_same_file_as_the_command_line(app, maya, newsletter):
    # The export runs as a background job (tests/test_export_jobs.py); its old address leads to its page.
    confirmed_readers(newsletter, 3)
    assert maya.get(f"/admin/n/{newsletter.slug}/subscribers.csv").headers["Location"].endswith(
        f"/admin/n/{newsletter.slug}/exports")
    job_page = post_form(maya, f"/admin/n/{newsletter.slug}/exports").headers["Location"]
    run_due_jobs(app, "test-runner")
    answer = maya.get(f"{job_page}/download")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == "attachment; filename=slow-mornings-readers.csv"
    expected = io.StringIO()
    export_subscribers(newsletter, expected)
    assert answer.text == expected.getvalue()
    assert len(list(csv.reader(io.StringIO(answer.text)))) == 4


def test_invite_refuses_a_token_of_another_purpose_nothing(newsletter):
    # An invited reader confirms through the ordinary link: only that click makes them a reader.
    subscription = reader_requests.invite(newsletter, "met@workshop.example", "", "met", newsletter.owner)
    db.session.commit()
    consent.confirm(consent.token_for(tokens.CONFIRM, subscription), "192.0.2.9")
    db.session.commit()
    assert subscription.status == "confirmed" and subscription.confirm_ip == "192.0.2.9"
