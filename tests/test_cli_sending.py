"""The command line for sending and for inbound mail."""

import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from newsletter import publishing
from newsletter.extensions import db
from newsletter.models import Delivery, Issue, Subscriber, Subscription
from newsletter.sending.work import SendState
from tests.conftest import SECRET, create_demo_newsletter
from tests.support.feedback_mail import dsn
from tests.support.sending_helpers import confirmed_readers, new_issue, received_by, start_sending
from tests.support.smtp_server import free_port

ROOT = Path(__file__).resolve().parent.parent


def invoke(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_create_then_send_with_wait_shows_progress_and_exits_0(app, smtp, tmp_path):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 5)
    body = tmp_path / "issue.md"
    body.write_text("# Hello\n\nA first letter, with a [link](https://example.org).\n", encoding="utf-8")
    created = invoke(app, "issues", "create", newsletter.slug, "--subject", "First letter", "--body-file", str(body))
    assert created.exit_code == 0, created.stderr
    issue_id = int(created.stdout.strip())
    sent = invoke(app, "issues", "send", str(issue_id), "--wait")
    assert sent.exit_code == 0, sent.stderr + sent.stdout
    assert "Sent: 5 handed to the relay" in sent.stdout
    assert received_by(smtp) == {email: 1 for email in readers}
    assert db.session.get(Issue, issue_id).status == "sent"


def test_send_refuses_an_empty_issue_with_exit_1(app, smtp):
    newsletter = create_demo_newsletter()
    confirmed_readers(newsletter, 1)
    issue = Issue(newsletter=newsletter, subject="Nothing", body_markdown="")
    db.session.add(issue)
    db.session.commit()
    result = invoke(app, "issues", "send", str(issue.id))
    assert result.exit_code == 1 and result.stderr.startswith("Error:")
    db.session.refresh(issue)
    assert issue.status == "draft" and smtp.messages == []


def test_send_unknown_issue_exits_1_and_bad_id_exits_2(app, smtp):
    assert invoke(app, "issues", "send", "999").exit_code == 1
    assert invoke(app, "issues", "send", "abc").exit_code == 2


def test_worker_refuses_when_celery_is_configured(make_app, smtp):
    app = make_app(START_SENDER=False, CELERY_BROKER_URL="redis://127.0.0.1:6379/13")
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 1 and "celery -A newsletter.tasks worker" in result.stderr


def test_bounces_serve_receives_a_bounce(make_app, smtp):
    app = make_app(START_SENDER=False, BOUNCE_ADDRESS="bounces@example.org")
    with app.app_context():
        newsletter = create_demo_newsletter()
        [reader] = confirmed_readers(newsletter, 1)
        created = invoke(app, "issues", "create", newsletter.slug, "--subject", "Hi", "--body-file", "-",
                         input="Some words for you.\n")
        assert invoke(app, "issues", "send", created.stdout.strip(), "--wait").exit_code == 0
        db.session.commit()
    original = smtp.wait_for(1)[0]
    port = free_port()
    env = {**os.environ, "NEWSLETTER_ENV": "testing", "SECRET_KEY": SECRET, "INSTANCE_PATH": app.instance_path,
           "DATABASE_URL": app.config["DATABASE_URL"], "BOUNCE_ADDRESS": "bounces@example.org"}
    server = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "bounces", "serve", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.sendmail("", [original.envelope_from], dsn(original))
                break
            except OSError:
                time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
    with app.app_context():
        status = db.session.scalar(select(Subscription.status).join(Subscriber).where(Subscriber.email == reader))
    assert status == "bounced"


def test_bounces_poll_needs_a_mailbox_url(app):
    result = invoke(app, "bounces", "poll", "--once")
    assert result.exit_code == 2 and "imaps://" in result.output


def test_pause_resume_and_cancel_from_the_command_line(app, smtp):
    newsletter = create_demo_newsletter()
    confirmed_readers(newsletter, 3)
    issue = Issue(newsletter=newsletter, subject="Letter", body_markdown="Words that matter.")
    db.session.add(issue)
    db.session.commit()
    assert invoke(app, "issues", "pause", str(issue.id)).exit_code == 1  # a draft is not sending
    assert invoke(app, "issues", "send", str(issue.id)).exit_code == 0
    assert invoke(app, "issues", "pause", str(issue.id)).exit_code == 0
    db.session.refresh(issue)
    assert issue.status == "paused"
    assert invoke(app, "issues", "resume", str(issue.id)).exit_code == 0
    db.session.refresh(issue)
    assert issue.status == "sending"
    result = invoke(app, "issues", "cancel", str(issue.id))
    assert result.exit_code == 0 and "cancelled" in result.stdout
    db.session.refresh(issue)
    assert issue.status == "cancelled"
    assert invoke(app, "issues", "resume", str(issue.id)).exit_code == 1


def lease_owners(issue_id: int) -> set[str]:
    return set(db.session.scalars(select(Delivery.lease_owner).where(Delivery.issue_id == issue_id)))


def test_send_with_wait_is_one_sender_one_smtp_session_one_lease_owner(make_app, smtp):
    # START_SENDER as `flask` runs it: the commit that starts the send wakes the embedded sender, which must not
    # start in a command's process and send beside it.
    # One connection per sender (SEND_CONNECTIONS), so that the sessions count the senders.
    app = make_app(START_SENDER=True, SEND_BATCH_SIZE=10, SEND_CONNECTIONS=1)
    with app.app_context():
        newsletter = create_demo_newsletter()
        emails = confirmed_readers(newsletter, 60)
        issue_id = new_issue(newsletter).id
    before = smtp.opened_sessions
    with app.app_context():
        result = invoke(app, "issues", "send", str(issue_id), "--wait")
        assert result.exit_code == 0, result.stderr + result.stdout
        assert received_by(smtp) == {email: 1 for email in emails}
        assert len(lease_owners(issue_id)) == 1
    assert smtp.opened_sessions - before == 1
    assert app.extensions["newsletter.runner"]._thread is None


def test_send_on_an_issue_already_sending_says_so_with_its_progress_and_exits_0(app, smtp):
    newsletter = create_demo_newsletter()
    confirmed_readers(newsletter, 3)
    issue = new_issue(newsletter)
    publishing.start_sending(issue)
    db.session.commit()
    SendState(app, "worker").heartbeat.beat()  # a live `flask worker` elsewhere on this machine
    result = invoke(app, "issues", "send", str(issue.id))
    assert result.exit_code == 0, result.stderr
    assert f"Issue {issue.id} is already sending: 0 of 3 done" in result.stderr
    assert "worker on " in result.stderr and "carries it on" in result.stderr
    assert db.session.get(Issue, issue.id).status == "sending" and smtp.messages == []


def test_send_on_an_issue_no_live_sender_holds_says_how_it_resumes(app, smtp):
    newsletter = create_demo_newsletter()
    confirmed_readers(newsletter, 3)
    issue = new_issue(newsletter)
    start_sending(issue)
    result = invoke(app, "issues", "send", str(issue.id))
    assert result.exit_code == 0, result.stderr
    assert "No sender is running" in result.stderr
    assert "flask --app app worker" in result.stderr and f"issues send {issue.id} --wait" in result.stderr


def test_send_with_wait_resumes_an_issue_no_live_sender_holds(app, smtp):
    newsletter = create_demo_newsletter()
    emails = confirmed_readers(newsletter, 4)
    issue = new_issue(newsletter)
    start_sending(issue)  # left sending: its sender died, nobody else runs
    result = invoke(app, "issues", "send", str(issue.id), "--wait")
    assert result.exit_code == 0, result.stderr + result.stdout
    assert "Sent: 4 handed to the relay" in result.stdout
    assert received_by(smtp) == {email: 1 for email in emails}


def test_a_refused_transition_reads_as_a_sentence(app, smtp):
    newsletter = create_demo_newsletter()
    confirmed_readers(newsletter, 1)
    issue = new_issue(newsletter)
    invoke(app, "issues", "send", str(issue.id), "--wait")
    result = invoke(app, "issues", "send", str(issue.id))
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: An issue cannot go from sent to being sent."
