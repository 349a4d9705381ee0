"""Bounces read from a real IMAP mailbox (Dovecot) by `flask bounces poll`."""

import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Subscriber, Subscription
from tests.support import imap_server
from tests.conftest import create_demo_newsletter
from tests.support.feedback_mail import dsn
from tests.support.sending_helpers import confirmed_readers, new_issue, send_to_the_end, start_sending

pytestmark = pytest.mark.skipif(not imap_server.available(),
                                reason="needs Debian's dovecot-imapd (apt-get install dovecot-imapd), run as root")


@pytest.fixture
def imap():
    # Not under pytest's tmp_path: Dovecot's mail processes run as nobody and must reach the mailbox.
    root = Path(tempfile.mkdtemp(prefix="newsletter-imap-"))
    root.chmod(0o755)
    server = imap_server.ImapServer(root).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_poll_reads_a_bounce_from_the_mailbox_once(make_app, smtp, imap):
    app = make_app(START_SENDER=False, BOUNCE_ADDRESS="bounces@example.org", IMAP_URL=imap.url())
    with app.app_context():
        newsletter = create_demo_newsletter()
        [reader] = confirmed_readers(newsletter, 1)
        issue = new_issue(newsletter)
        start_sending(issue)
        send_to_the_end(app, issue.id)
        imap.append(dsn(smtp.wait_for(1)[0]))
        runner = app.test_cli_runner()
        first = runner.invoke(args=["bounces", "poll", "--once"])
        second = runner.invoke(args=["bounces", "poll", "--once"])
        assert first.exit_code == 0 and "Read 1 message(s)." in first.output
        assert second.exit_code == 0 and "Read 0 message(s)." in second.output
        db.session.expire_all()
        status = db.session.scalar(select(Subscription.status).join(Subscriber).where(Subscriber.email == reader))
        assert status == "bounced"


def test_poll_with_a_wrong_password_exits_1(make_app, smtp, imap):
    app = make_app(START_SENDER=False)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["bounces", "poll", "--once", "--imap-url",
                                                    imap.url().replace(":secret@", ":wrong@")])
    assert result.exit_code == 1 and "cannot read" in result.stderr
