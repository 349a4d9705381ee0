"""Sending when things go wrong: refusals, retries, a server that is down, a reader who leaves mid-send."""

import threading

import pytest
from sqlalchemy import select

from newsletter import consent, tokens
from newsletter.extensions import db
from newsletter.mail.transport import SmtpTransport
from newsletter.models import Issue, Subscriber, Subscription, utcnow
from newsletter.sending.work import SendState, run_issue_work
from newsletter.states import IssueStatus
from tests.conftest import create_demo_newsletter
from tests.support.sending_helpers import (
    confirmed_readers,
    deliveries,
    new_issue,
    received_by,
    send_to_the_end,
    start_sending,
    transport_for,
)
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def fast_retry_app(make_app, smtp):
    app = make_app(START_SENDER=False, SEND_RETRY_BASE_SECONDS="0.01", SEND_BATCH_SIZE="5")
    with app.app_context():
        yield app


def test_421_451_and_dropped_connections_are_retried_and_everyone_gets_it_once(fast_retry_app, smtp):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 10)
    smtp.mail_script.extend(["421", "ok", "drop", "451rcpt", "ok", "451rcpt", "drop", "ok", "421"])
    issue = new_issue(newsletter)
    start_sending(issue)
    send_to_the_end(fast_retry_app, issue.id)
    assert received_by(smtp) == {email: 1 for email in readers}
    rows = deliveries(issue.id)
    assert {d.status for d in rows} == {"sent"}
    assert sum(d.attempts for d in rows) == len(readers) + 2  # two 451s count; refused sessions do not


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_refusals_of_either_smtp_dialogue_are_retried_the_same(fast_retry_app, smtp, pipelining):
    smtp.pipelining = pipelining
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 4)
    smtp.mail_script.extend(["451rcpt", "ok", "421", "ok"])
    issue = new_issue(newsletter)
    start_sending(issue)
    send_to_the_end(fast_retry_app, issue.id)
    assert received_by(smtp) == {email: 1 for email in readers}


def test_permanent_refusal_is_recorded_for_that_reader(fast_retry_app, smtp):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 3)
    smtp.replies.extend(["550 5.1.1 <reader0@example.net>: Recipient address rejected: User unknown"])
    issue = new_issue(newsletter)
    start_sending(issue)
    send_to_the_end(fast_retry_app, issue.id)
    rows = deliveries(issue.id)
    assert [d.status for d in rows] == ["failed", "sent", "sent"]
    assert rows[0].smtp_code == 550 and "User unknown" in rows[0].smtp_reply
    db.session.refresh(issue)
    assert issue.status == "sent"


def test_a_reader_who_keeps_getting_4xx_fails_after_the_last_attempt(make_app, smtp):
    app = make_app(START_SENDER=False, SEND_RETRY_BASE_SECONDS="0.001", SEND_MAX_ATTEMPTS="3")
    with app.app_context():
        newsletter = create_demo_newsletter()
        confirmed_readers(newsletter, 1)
        smtp.replies.extend(["452 4.2.2 Mailbox full"] * 3)
        issue = new_issue(newsletter)
        start_sending(issue)
        send_to_the_end(app, issue.id)
        [row] = deliveries(issue.id)
        assert row.status == "failed" and row.attempts == 3 and "gave up after 3 attempts" in row.smtp_reply
        assert smtp.messages == []


def test_too_many_refusals_in_a_row_pause_the_send_and_say_why(make_app, smtp):
    app = make_app(START_SENDER=False, SEND_MAX_CONSECUTIVE_FAILURES="3", SEND_BATCH_SIZE="2")
    with app.app_context():
        newsletter = create_demo_newsletter()
        confirmed_readers(newsletter, 6)
        smtp.replies.extend(["554 5.7.1 Relay access denied"] * 6)
        issue = new_issue(newsletter)
        start_sending(issue)
        send_to_the_end(app, issue.id)
        db.session.refresh(issue)
        assert issue.status == "paused"
        assert "3 messages in a row were refused" in issue.stop_reason
        assert [d.status for d in deliveries(issue.id)].count("failed") == 3


def test_server_down_waits_without_losing_anyone_then_resumes(fast_retry_app, smtp):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 4)
    issue = new_issue(newsletter)
    start_sending(issue)
    late_server = SmtpServer()  # a port with nobody listening yet
    transport = SmtpTransport("127.0.0.1", late_server.port, timeout=2)
    state = SendState(fast_retry_app)
    assert run_issue_work(state, transport, budget=2) == 0
    db.session.refresh(issue)
    assert issue.status == "sending" and "Waiting for the mail server" in issue.stop_reason
    assert {d.status for d in deliveries(issue.id)} == {"queued"}
    assert all(d.attempts == 0 for d in deliveries(issue.id))
    late_server.start()
    try:
        state.server_retry_at = 0  # the wait is over: do not sleep in a test
        run_issue_work(state, transport, budget=5)
        late_server.recorder.wait_for(4)
        from newsletter.sending.work import finish_if_done
        finish_if_done(issue.id)
        db.session.refresh(issue)
        assert issue.status == "sent" and issue.stop_reason is None
        assert sorted(m.recipients[0] for m in late_server.recorder.messages) == sorted(readers)
    finally:
        transport.close()
        late_server.stop()


def test_connection_lost_after_the_message_is_recorded_unknown_and_not_resent(fast_retry_app, smtp):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 3)
    smtp.replies.extend(["250 OK", "drop"])
    issue = new_issue(newsletter)
    start_sending(issue)
    send_to_the_end(fast_retry_app, issue.id)
    assert received_by(smtp) == {email: 1 for email in readers}
    assert [d.status for d in deliveries(issue.id)] == ["sent", "unknown", "sent"]


def test_unsubscribe_during_a_send_stops_mail_to_that_reader(fast_retry_app, smtp):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 8)
    leaving = readers[6]
    token = consent.token_for(tokens.UNSUBSCRIBE, db.session.scalar(
        select(Subscription).join(Subscriber).where(Subscriber.email == leaving)))
    client = fast_retry_app.test_client(use_cookies=False)
    done = threading.Event()

    def leave_after_first(_received):
        if not done.is_set():
            done.set()
            with fast_retry_app.app_context():
                client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})

    smtp.on_message = leave_after_first
    issue = new_issue(newsletter)
    start_sending(issue)
    send_to_the_end(fast_retry_app, issue.id)
    got = received_by(smtp)
    assert leaving not in got and set(got) == set(readers) - {leaving}
    statuses = {d.subscriber_id: d.status for d in deliveries(issue.id)}
    assert "skipped" in statuses.values()


def status_after(app, smtp, issue_id: int, received: int, status: IssueStatus):
    """An SMTP hook: the publisher changes the issue's status as the server receives message `received`."""
    def change_status(_received):
        if len(smtp.messages) == received:
            with app.app_context():
                db.session.get(Issue, issue_id).status = status
                db.session.commit()

    return change_status


def test_pause_stops_before_the_next_message_and_resume_finishes_without_doubles(fast_retry_app, smtp):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 10)
    issue = new_issue(newsletter)
    start_sending(issue)
    issue_id = issue.id

    smtp.on_message = status_after(fast_retry_app, smtp, issue_id, 3, IssueStatus.PAUSED)
    send_to_the_end(fast_retry_app, issue_id)
    assert len(smtp.messages) == 3
    smtp.on_message = None
    db.session.refresh(issue)
    assert issue.status == "paused"
    issue.status = IssueStatus.SENDING
    db.session.commit()
    send_to_the_end(fast_retry_app, issue_id)
    assert received_by(smtp) == {email: 1 for email in readers}
    # Rows marked SENDING in the window but never handed over went back uncounted.
    assert [d.attempts for d in deliveries(issue_id)] == [1] * 10


def test_cancel_skips_what_is_left(fast_retry_app, smtp):
    newsletter = create_demo_newsletter()
    confirmed_readers(newsletter, 10)
    issue = new_issue(newsletter)
    start_sending(issue)
    issue_id = issue.id

    smtp.on_message = status_after(fast_retry_app, smtp, issue_id, 2, IssueStatus.CANCELLED)
    send_to_the_end(fast_retry_app, issue_id)
    run_issue_work(SendState(fast_retry_app), transport_for(fast_retry_app), budget=1)
    assert len(smtp.messages) == 2
    statuses = [d.status for d in deliveries(issue_id)]
    assert statuses.count("sent") == 2 and "queued" not in statuses and "skipped" in statuses


def test_scheduled_issue_starts_when_due(fast_retry_app, smtp):
    from datetime import timedelta

    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 2)
    later = new_issue(newsletter, subject="later")
    later.status, later.scheduled_at = IssueStatus.SCHEDULED, utcnow() + timedelta(hours=1)
    due = new_issue(newsletter, subject="due")
    due.status, due.scheduled_at = IssueStatus.SCHEDULED, utcnow() - timedelta(seconds=1)
    db.session.commit()
    send_to_the_end(fast_retry_app, due.id)
    db.session.refresh(later)
    assert later.status == "scheduled" and deliveries(later.id) == []
    assert received_by(smtp) == {email: 1 for email in readers}
