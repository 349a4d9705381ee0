"""Building state for sending tests through the services, and running the send path to the end."""

import time

from sqlalchemy import delete, select

from newsletter import consent, tokens
from newsletter.extensions import db
from newsletter.mail.transport import SmtpTransport
from newsletter.models import Delivery, Issue, Subscription, SystemMail, utcnow
from newsletter.sending.work import SendState, run_issue_work
from newsletter.states import IssueStatus, check_transition


def confirmed_readers(newsletter, count: int, prefix: str = "reader", domain: str = "example.net") -> list[str]:
    """Subscribe and confirm `count` readers; return their addresses."""
    emails = [f"{prefix}{index}@{domain}" for index in range(count)]
    for email in emails:
        consent.subscribe(newsletter, email, f"Reader {email.split('@')[0]}", ip="192.0.2.1",
                          source="https://news.example.test/n/x", wording="w")
    db.session.flush()
    for subscription in db.session.scalars(select(Subscription).where(Subscription.status == "pending")):
        consent.confirm(consent.token_for(tokens.CONFIRM, subscription), "192.0.2.2")
    # The confirmation and welcome mails of these readers are not what the sending tests look at.
    db.session.execute(delete(SystemMail))
    db.session.commit()
    return emails


def new_issue(newsletter, subject: str = "Spring notes", body: str = "Hello **friends**.\n\nA [link](https://example.org).") -> Issue:
    issue = Issue(newsletter=newsletter, subject=subject, body_markdown=body)
    db.session.add(issue)
    db.session.commit()
    return issue


def start_sending(issue: Issue) -> None:
    check_transition(IssueStatus, issue.status, IssueStatus.SENDING)
    issue.status = IssueStatus.SENDING
    issue.started_at = utcnow()
    db.session.commit()


def transport_for(app) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", app.config["MAIL_PORT"], timeout=5)


def send_to_the_end(app, issue_id: int, transport=None, timeout: float = 30.0) -> SendState:
    """Run passes until the issue leaves SENDING (or fail the test after `timeout` seconds)."""
    state = SendState(app)
    transport = transport or transport_for(app)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_issue_work(state, transport, budget=5.0)
        status = db.session.scalar(select(Issue.status).where(Issue.id == issue_id))
        db.session.commit()
        if status != IssueStatus.SENDING:
            transport.close()
            return state
        time.sleep(0.01)
    transport.close()
    raise AssertionError(f"issue {issue_id} still sending after {timeout} s")


def deliveries(issue_id: int) -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(Delivery).where(Delivery.issue_id == issue_id).order_by(Delivery.id)))


def received_by(smtp) -> dict[str, int]:
    """How many issue messages (not confirmation or welcome mails) each address got."""
    counts: dict[str, int] = {}
    for message in smtp.messages:
        if b"\r\nList-Id:" not in message.raw.split(b"\r\n\r\n", 1)[0]:
            continue
        for recipient in message.recipients:
            counts[recipient] = counts.get(recipient, 0) + 1
    return counts
