"""A pool of SMTP connections per worker (SEND_CONNECTIONS): connections in use at once, relays that take
fewer than configured, a fallback relay, and the pause that still stops the send promptly."""

import pytest

from newsletter.extensions import db
from newsletter.mail.relays import RelayPool
from newsletter.mail.transport import make_transport
from newsletter.models import Issue
from newsletter.sending.work import SendState, run_issue_work
from newsletter.states import IssueStatus
from tests.conftest import create_demo_newsletter
from tests.support.publishers import login
from tests.support.sending_helpers import (
    confirmed_readers,
    deliveries,
    new_issue,
    received_by,
    send_to_the_end,
    start_sending,
)
from tests.support.smtp_server import PipeliningProbe, SmtpServer


def pool_app(make_app, **settings):
    app = make_app(START_SENDER=False, SEND_RETRY_BASE_SECONDS="0.01", **settings)
    return app


def pooled(app) -> RelayPool:
    pool = make_transport(app.config, app.instance_path)
    assert isinstance(pool, RelayPool)
    return pool


def sending_issue(readers: int) -> tuple[Issue, list[str]]:
    newsletter = create_demo_newsletter()
    emails = confirmed_readers(newsletter, readers)
    issue = new_issue(newsletter)
    start_sending(issue)
    return issue, emails


def test_one_connection_streams_each_message_end_with_the_next_envelope(make_app):
    """SEND_CONNECTIONS=1 is a pool of one: one round trip a message (the wait for 354), not two. Only the
    window's last message ends alone (the next window is marked first), and the batch's last."""
    with PipeliningProbe() as relay:
        app = pool_app(make_app, SEND_CONNECTIONS="1", SEND_WINDOW="6", SEND_BATCH_SIZE="12",
                       MAIL_PORT=str(relay.port))
        with app.app_context():
            issue, emails = sending_issue(12)
            transport = make_transport(app.config, app.instance_path)
            assert isinstance(transport, RelayPool) and transport.size == 1
            send_to_the_end(app, issue.id, transport=transport)
            assert {d.status for d in deliveries(issue.id)} == {"sent"}
    assert sorted(relay.recipients) == sorted(emails)
    assert relay.streamed == [True] * 5 + [False] + [True] * 5 + [False]


def test_the_pool_sends_over_k_connections_at_once_and_everyone_gets_it_once(make_app, smtp):
    app = pool_app(make_app, SEND_CONNECTIONS="4", SEND_WINDOW="4", SEND_BATCH_SIZE="40")
    with app.app_context():
        issue, emails = sending_issue(40)
        send_to_the_end(app, issue.id, transport=pooled(app))
        assert received_by(smtp) == {email: 1 for email in emails}
        assert {d.status for d in deliveries(issue.id)} == {"sent"}
        assert [d.attempts for d in deliveries(issue.id)] == [1] * 40
    assert smtp.peak_sessions == 4


def test_a_relay_refusing_the_third_connection_shrinks_the_pool_says_so_and_the_send_finishes(make_app, smtp):
    smtp.max_sessions = 2
    app = pool_app(make_app, SEND_CONNECTIONS="4", SEND_WINDOW="4", SEND_BATCH_SIZE="16")
    with app.app_context():
        issue, emails = sending_issue(40)
        issue_id = issue.id
    notes = []

    def look_at_the_issue_page(_received):  # once the first batch is recorded
        if len(smtp.messages) == 30:
            with app.app_context():
                client = app.test_client()
                login(client, "maya@example.org")
                notes.append(client.get(f"/admin/issues/{issue_id}").get_data(as_text=True))

    smtp.on_message = look_at_the_issue_page
    with app.app_context():
        pool = pooled(app)
        send_to_the_end(app, issue_id, transport=pool)
        assert received_by(smtp) == {email: 1 for email in emails}
        rows = deliveries(issue_id)
        assert {d.status for d in rows} == {"sent"} and [d.attempts for d in rows] == [1] * 40
    assert "took 2 of its 4 connections (421 4.7.0 Error: too many connections" in notes[0]
    assert smtp.refused_sessions >= 1 and pool.relays[0].allowed == 2 and smtp.peak_sessions <= 4


def test_the_fallback_relay_takes_what_the_primary_refuses(make_app, smtp):
    fallback = SmtpServer().start()
    try:
        smtp.max_sessions = 1
        app = pool_app(make_app, SEND_CONNECTIONS="3", SEND_WINDOW="2", SEND_BATCH_SIZE="12",
                       MAIL_FALLBACK_SERVER="127.0.0.1", MAIL_FALLBACK_PORT=str(fallback.port),
                       SEND_FALLBACK_CONNECTIONS="2")
        with app.app_context():
            issue, emails = sending_issue(24)
            send_to_the_end(app, issue.id, transport=pooled(app))
            got = received_by(smtp)
            for email, count in received_by(fallback.recorder).items():
                got[email] = got.get(email, 0) + count
            assert got == {email: 1 for email in emails}
        assert fallback.recorder.messages, "the fallback relay should have taken part"
    finally:
        fallback.stop()


def test_a_relay_taking_no_connection_makes_the_send_wait_for_it(make_app, smtp):
    nobody = SmtpServer()  # nobody listens on its port
    app = pool_app(make_app, SEND_CONNECTIONS="3", MAIL_PORT=str(nobody.port))
    with app.app_context():
        issue, _emails = sending_issue(6)
        run_issue_work(SendState(app), pooled(app), budget=2)
        db.session.refresh(issue)
        assert issue.status == "sending" and "Waiting for the mail server" in issue.stop_reason
        assert {d.status for d in deliveries(issue.id)} == {"queued"}
        assert all(d.attempts == 0 for d in deliveries(issue.id))


@pytest.mark.parametrize("target", [IssueStatus.PAUSED, IssueStatus.CANCELLED])
def test_pause_or_cancel_stops_each_connection_before_its_next_message(make_app, smtp, target):
    app = pool_app(make_app, SEND_CONNECTIONS="3", SEND_WINDOW="4", SEND_BATCH_SIZE="30")
    with app.app_context():
        issue, emails = sending_issue(30)
        issue_id = issue.id

    def stop_at_the_fifth(_received):
        if len(smtp.messages) == 5:
            with app.app_context():
                db.session.get(Issue, issue_id).status = target
                db.session.commit()

    smtp.on_message = stop_at_the_fifth
    with app.app_context():
        send_to_the_end(app, issue_id, transport=pooled(app))
        # The other two connections may each have had a message past its last check: no more.
        assert 5 <= len(smtp.messages) <= 7
        rows = deliveries(issue_id)
        assert not [d for d in rows if d.status == "sending"]
        assert all(count == 1 for count in received_by(smtp).values())


def test_a_claim_is_a_thousand_deliveries_or_half_a_minute_of_a_capped_rate(make_app, smtp):
    from newsletter.sending.outcomes import claim_size

    assert claim_size(make_app(START_SENDER=False).config) == 1000
    assert claim_size(make_app(START_SENDER=False, SEND_RATE_PER_SECOND="2").config) == 60
    assert claim_size(make_app(START_SENDER=False, SEND_RATE_PER_SECOND="1000", SEND_BATCH_SIZE="300").config) == 300
