"""A receiving domain that refuses the sender holds its own part of a send; the rest of the list keeps going,
and the publisher retries the domain or gives it up (issue 12)."""

import time

import pytest
from sqlalchemy import select

from newsletter import publishing, suppression
from newsletter.extensions import db
from newsletter.feedback.inbound import receive
from newsletter.mail.issue_message import IssueTemplate
from newsletter.models import Issue, SendHold, Subscriber, Subscription, utcnow
from newsletter.sending.ledger import counts_by_status, enqueue_page
from newsletter.sending.work import SendState, run_issue_work
from tests.conftest import create_demo_newsletter
from tests.support.feedback_mail import dsn
from tests.support.publishers import login, post_form
from tests.support.sending_helpers import (
    confirmed_readers,
    deliveries,
    new_issue,
    received_by,
    send_to_the_end,
    start_sending,
    transport_for,
)
from tests.support.smtp_server import Received

GMAIL_5_7_26 = ("550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail "
                "users, and has been blocked. The sender must authenticate with at least one of SPF or DKIM.")


@pytest.fixture
def hold_app(make_app, smtp):
    # Two refusals in a row would pause the whole send if they counted as failures: they must not.
    app = make_app(START_SENDER=False, SEND_HOLD_DOMAIN_AFTER="2", SEND_MAX_CONSECUTIVE_FAILURES="2",
                   SEND_BATCH_SIZE="3", BOUNCE_ADDRESS="bounces@example.org")
    with app.app_context():
        yield app


@pytest.fixture
def client(hold_app):
    return hold_app.test_client()


@pytest.fixture
def readers(hold_app):
    """Six readers at example.com, whose server refuses the sender, then six at example.net."""
    newsletter = create_demo_newsletter()
    return newsletter, confirmed_readers(newsletter, 6, domain="example.com"), confirmed_readers(newsletter, 6)


def send_until_settled(app, issue_id: int, timeout: float = 30.0) -> None:
    """Run passes until no delivery of the issue is queued or being handed over (a held issue stays sending)."""
    state, transport = SendState(app), transport_for(app)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_issue_work(state, transport, budget=5.0)
        counts = counts_by_status(issue_id)
        db.session.commit()
        if not counts.get("queued") and not counts.get("sending"):
            transport.close()
            return
    transport.close()
    raise AssertionError(f"issue {issue_id} still has messages to hand over after {timeout} s")


def held_send(app, newsletter, smtp) -> Issue:
    smtp.domain_replies["example.com"] = GMAIL_5_7_26
    issue = new_issue(newsletter)
    start_sending(issue)
    send_until_settled(app, issue.id)
    db.session.refresh(issue)
    return issue


def by_domain(issue_id: int) -> dict[str, list[str]]:
    statuses: dict[str, list[str]] = {}
    for row in deliveries(issue_id):
        email = db.session.get(Subscriber, row.subscriber_id).email
        statuses.setdefault(email.rpartition("@")[2], []).append(row.status)
    return statuses


def test_a_domain_answering_550_5_7_26_is_held_and_the_rest_of_the_list_gets_the_issue(hold_app, smtp, readers):
    newsletter, refusing, fine = readers
    issue = held_send(hold_app, newsletter, smtp)
    assert received_by(smtp) == {email: 1 for email in fine}
    assert smtp.refused_rcpts == refusing[:2]  # after two refusals, nothing more is tried there
    assert by_domain(issue.id) == {"example.com": ["held"] * 6, "example.net": ["sent"] * 6}
    assert issue.status == "sending" and issue.stop_reason is None  # not paused: only example.com waits
    [hold] = db.session.scalars(select(SendHold)).all()
    assert (hold.domain, hold.status, hold.reason, hold.refusals) == ("example.com", "held", "auth_failure", 2)
    assert "5.7.26" in hold.example


def test_held_readers_are_not_bounced_or_suppressed(hold_app, smtp, readers):
    newsletter, refusing, _ = readers
    held_send(hold_app, newsletter, smtp)
    statuses = db.session.scalars(select(Subscription.status).join(Subscriber)
                                  .where(Subscriber.email.in_(refusing))).all()
    assert statuses == ["confirmed"] * 6
    assert not any(suppression.is_suppressed(suppression.hmac_of(email)) for email in refusing)


def test_the_issue_page_says_which_domain_refused_why_and_what_to_do(hold_app, smtp, readers, client):
    newsletter, _, _ = readers
    issue = held_send(hold_app, newsletter, smtp)
    login(client, "maya@example.org")
    page = client.get(f"/admin/issues/{issue.id}").get_data(as_text=True)
    assert "example.com refused 2 messages because of authentication (SPF, DKIM, DMARC or reverse DNS)" in page
    assert "the rest of your list keeps going. 6 messages wait." in page
    assert "flask domains check" in page and "5.7.26 This mail is unauthenticated" in page
    assert "Retry example.com" in page and "Give up example.com for this issue" in page
    assert 'data-count="held">6<' in page


def test_retrying_the_domain_after_the_fix_sends_it_the_issue_once_and_finishes(hold_app, smtp, readers, client):
    newsletter, refusing, fine = readers
    issue = held_send(hold_app, newsletter, smtp)
    smtp.domain_replies.clear()  # the publisher published their DKIM record
    [hold] = db.session.scalars(select(SendHold)).all()
    login(client, "maya@example.org")
    answer = post_form(client, f"/admin/issues/{issue.id}/holds/{hold.id}/retry", follow_redirects=True)
    assert "6 messages are queued again." in answer.get_data(as_text=True)
    send_to_the_end(hold_app, issue.id)
    assert received_by(smtp) == {email: 1 for email in refusing + fine}
    db.session.refresh(issue)
    db.session.refresh(hold)
    assert issue.status == "sent"
    assert hold.status == "retried" and hold.decided_by.email == "maya@example.org"


def test_a_retried_domain_that_refuses_again_is_held_again(hold_app, smtp, readers, client):
    newsletter, refusing, _ = readers
    issue = held_send(hold_app, newsletter, smtp)
    [hold] = db.session.scalars(select(SendHold)).all()
    login(client, "maya@example.org")
    post_form(client, f"/admin/issues/{issue.id}/holds/{hold.id}/retry")
    send_until_settled(hold_app, issue.id)
    db.session.refresh(hold)
    assert hold.status == "held" and len(smtp.refused_rcpts) == 4  # two more tries, then held again
    assert by_domain(issue.id)["example.com"] == ["held"] * 6


def test_giving_up_the_domain_finishes_the_send_without_it(hold_app, smtp, readers, client):
    newsletter, refusing, fine = readers
    issue = held_send(hold_app, newsletter, smtp)
    [hold] = db.session.scalars(select(SendHold)).all()
    login(client, "maya@example.org")
    answer = post_form(client, f"/admin/issues/{issue.id}/holds/{hold.id}/give-up", follow_redirects=True)
    assert "6 messages will not be sent." in answer.get_data(as_text=True)
    send_to_the_end(hold_app, issue.id)
    db.session.refresh(issue)
    assert issue.status == "sent"
    assert sorted(by_domain(issue.id)["example.com"]) == ["failed"] * 2 + ["skipped"] * 4
    assert received_by(smtp) == {email: 1 for email in fine}


def test_a_decision_on_another_issues_hold_or_twice_is_refused(hold_app, smtp, readers, client):
    newsletter, _, _ = readers
    issue = held_send(hold_app, newsletter, smtp)
    [hold] = db.session.scalars(select(SendHold)).all()
    other = new_issue(newsletter, subject="Another")
    start_sending(other)
    login(client, "maya@example.org")
    assert post_form(client, f"/admin/issues/{other.id}/holds/{hold.id}/retry").status_code == 404
    assert post_form(client, f"/admin/issues/{issue.id}/holds/99999999999999999999/retry").status_code == 404
    assert post_form(client, f"/admin/issues/{issue.id}/holds/{hold.id}/give-up").status_code == 302
    answer = post_form(client, f"/admin/issues/{issue.id}/holds/{hold.id}/retry")
    assert answer.status_code == 409 and "cannot" in answer.get_data(as_text=True)
    db.session.refresh(hold)
    assert hold.status == "given_up"


def test_another_publisher_cannot_decide_on_a_hold(hold_app, smtp, readers, client):
    newsletter, _, _ = readers
    issue = held_send(hold_app, newsletter, smtp)
    [hold] = db.session.scalars(select(SendHold)).all()
    create_demo_newsletter(slug="other", owner="ines@example.org")
    login(client, "ines@example.org")
    assert post_form(client, f"/admin/issues/{issue.id}/holds/{hold.id}/retry").status_code == 404
    db.session.refresh(hold)
    assert hold.status == "held"


def test_a_refusal_below_the_threshold_fails_that_message_and_the_send_finishes(hold_app, smtp):
    newsletter = create_demo_newsletter()
    [refusing] = confirmed_readers(newsletter, 1, domain="example.com")
    fine = confirmed_readers(newsletter, 3)
    smtp.domain_replies["example.com"] = GMAIL_5_7_26
    issue = new_issue(newsletter)
    start_sending(issue)
    send_to_the_end(hold_app, issue.id)
    assert by_domain(issue.id) == {"example.com": ["failed"], "example.net": ["sent"] * 3}
    assert db.session.scalars(select(SendHold)).all() == []
    assert received_by(smtp) == {email: 1 for email in fine}


def test_sender_side_notices_about_an_issue_being_sent_count_toward_the_hold(hold_app, smtp, readers):
    newsletter, refusing, fine = readers
    issue = new_issue(newsletter)
    start_sending(issue)
    enqueue_page(issue.id, 100)
    # Two notices arrive about messages the relay accepted, saying example.com refused them (DMARC).
    template = IssueTemplate(issue)
    for row in deliveries(issue.id)[:2]:
        email = db.session.get(Subscriber, row.subscriber_id).email
        accepted = Received(template.envelope_from(row.id), [email], b"Subject: Spring notes\r\n\r\nbody")
        receive(dsn(accepted, status="5.7.26"), [accepted.envelope_from], envelope_from="")
    db.session.commit()
    send_until_settled(hold_app, issue.id)
    assert received_by(smtp) == {email: 1 for email in fine}
    assert smtp.refused_rcpts == []  # held before any was tried
    assert by_domain(issue.id)["example.com"] == ["held"] * 6
    [hold] = db.session.scalars(select(SendHold)).all()
    assert (hold.domain, hold.refusals) == ("example.com", 2)


def test_cancelling_a_held_send_skips_what_was_held(hold_app, smtp, readers):
    newsletter, _, _ = readers
    issue = held_send(hold_app, newsletter, smtp)
    publishing.cancel(issue)
    db.session.commit()
    run_issue_work(SendState(hold_app), transport_for(hold_app), budget=1.0)
    assert sorted(by_domain(issue.id)["example.com"]) == ["skipped"] * 6
    assert utcnow() >= issue.finished_at
