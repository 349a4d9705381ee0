"""System mail goes through Flask-Mail: to the real SMTP server, to the outbox, and never stuck on a silent relay."""

import time

from sqlalchemy import select

from newsletter import consent
from newsletter.extensions import db, mail
from newsletter.mail.connection import StoredMessage
from newsletter.mail.outbox import list_outbox, outbox_folder
from newsletter.models import SystemMail
from newsletter.sending.system_mail import send_due_system_mails
from tests.conftest import create_demo_newsletter
from tests.support.smtp_server import SilentServer, free_port


def ask_to_subscribe(newsletter, *addresses: str) -> None:
    for address in addresses:
        consent.subscribe(newsletter, address, "Zoë", ip=None, source="t", wording="w")
    db.session.commit()


def queued() -> list[SystemMail]:
    db.session.expire_all()
    return list(db.session.scalars(select(SystemMail).order_by(SystemMail.id)))


def test_confirmation_is_dispatched_by_flask_mail_to_the_smtp_server_as_queued(app, newsletter, smtp):
    ask_to_subscribe(newsletter, "reader@example.net")
    [stored] = queued()
    raw = stored.raw
    with mail.record_messages() as dispatched:
        assert send_due_system_mails() == 1
    assert [type(m) for m in dispatched] == [StoredMessage]
    assert dispatched[0].recipients == ["reader@example.net"]
    [received] = smtp.wait_for(1)
    assert received.recipients == ["reader@example.net"] and received.envelope_from == "maya@example.org"
    assert received.raw.rstrip(b"\r\n") == raw.rstrip(b"\r\n")
    assert queued() == []


def test_mails_share_one_session_and_a_refusal_fails_only_its_own_mail(app, newsletter, smtp):
    ask_to_subscribe(newsletter, "gone@example.net", "reader@example.net")
    smtp.replies.append("550 5.1.1 mailbox unavailable")
    assert send_due_system_mails() == 1
    assert [m.recipients for m in smtp.wait_for(1)] == [["reader@example.net"]]
    [refused] = queued()
    assert refused.recipient == "gone@example.net" and refused.status == "failed"
    assert refused.last_error.startswith("550")


def test_a_silent_relay_is_given_up_within_mail_timeout(make_app):
    with SilentServer() as relay:
        app = make_app(MAIL_PORT=str(relay.port), MAIL_TIMEOUT="1", START_SENDER=False)
        with app.app_context():
            ask_to_subscribe(create_demo_newsletter(), "reader@example.net")
            started = time.monotonic()
            assert send_due_system_mails() == 0
            elapsed = time.monotonic() - started
            [waiting] = queued()
        assert relay.accepted, "the relay never saw the connection"
    assert elapsed < 1 + 2
    assert waiting.status == "queued" and waiting.attempts == 1
    assert "timed out" in waiting.last_error


def test_relay_down_stops_the_pass_and_every_mail_waits_its_turn(make_app):
    app = make_app(MAIL_PORT=str(free_port()), START_SENDER=False)
    with app.app_context():
        ask_to_subscribe(create_demo_newsletter(), "one@example.net", "two@example.net")
        assert send_due_system_mails() == 0
        first, second = queued()
    assert (first.status, first.attempts) == ("queued", 1) and "cannot reach the SMTP server" in first.last_error
    assert (second.status, second.attempts) == ("queued", 0)


def test_outbox_backend_gets_system_mail_through_flask_mail(make_app):
    app = make_app(MAIL_BACKEND="outbox", START_SENDER=False)
    with app.app_context(), mail.record_messages() as dispatched:
        ask_to_subscribe(create_demo_newsletter(), "reader@example.net")
        assert send_due_system_mails() == 1
    assert len(dispatched) == 1
    [entry], total = list_outbox(outbox_folder(app.instance_path))
    assert total == 1 and entry.recipient == "reader@example.net"
    assert entry.subject == "Please confirm: Slow Mornings"
