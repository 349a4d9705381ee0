"""Bounces, complaints and replies through the inbound SMTP endpoint, and what they change."""

import smtplib

import pytest
from sqlalchemy import select

from newsletter import suppression
from newsletter.extensions import db
from newsletter.feedback.listener import make_listener
from newsletter.models import Delivery, Feedback, Subscriber, Subscription, SubscriptionEvent
from tests.conftest import create_demo_newsletter
from tests.support.feedback_mail import arf, dsn, reply
from tests.support.sending_helpers import confirmed_readers, new_issue, received_by, send_to_the_end, start_sending
from tests.support.smtp_server import free_port


@pytest.fixture
def bounce_app(make_app, smtp):
    app = make_app(START_SENDER=False, BOUNCE_ADDRESS="bounces@example.org", SOFT_BOUNCE_LIMIT="2")
    with app.app_context():
        yield app


@pytest.fixture
def inbound(bounce_app):
    """The inbound SMTP endpoint (what `flask bounces serve` runs), on a free port."""
    port = free_port()
    listener = make_listener(bounce_app, "127.0.0.1", port)
    listener.start()

    def deliver(raw: bytes, to: str, sender: str = ""):
        db.session.commit()  # the listener writes from its own thread: hold no transaction meanwhile
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(sender, [to], raw)
        db.session.expire_all()

    yield deliver
    listener.stop()


def send_issue(app, newsletter, smtp, subject="First"):
    issue = new_issue(newsletter, subject=subject)
    start_sending(issue)
    send_to_the_end(app, issue.id)
    return issue


def status_of(email):
    return db.session.scalar(select(Subscription.status).join(Subscriber).where(Subscriber.email == email))


def test_messages_carry_a_signed_verp_return_path(bounce_app, smtp):
    newsletter = create_demo_newsletter()
    confirmed_readers(newsletter, 1)
    send_issue(bounce_app, newsletter, smtp)
    [received] = smtp.wait_for(1)
    assert received.envelope_from.startswith("bounces+d") and received.envelope_from.endswith("@example.org")


def test_hard_bounce_through_the_inbound_endpoint_stops_mail_in_the_next_send(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 3)
    first = send_issue(bounce_app, newsletter, smtp)
    bounced = next(m for m in smtp.messages if m.recipients == [readers[1]])
    inbound(dsn(bounced), bounced.envelope_from)
    assert status_of(readers[1]) == "bounced"
    assert suppression.is_suppressed(suppression.hmac_of(readers[1]))
    delivery = db.session.scalar(select(Delivery).join(Subscriber).where(Subscriber.email == readers[1]))
    assert delivery.status == "bounced"
    [record] = db.session.scalars(select(Feedback)).all()
    assert (record.kind, record.issue_id, record.status) == ("hard_bounce", first.id, "5.1.1")
    smtp.messages.clear()
    send_issue(bounce_app, newsletter, smtp, subject="Second")
    assert set(received_by(smtp)) == {readers[0], readers[2]}


def test_a_complaint_suppresses_the_address_for_every_newsletter(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    other = create_demo_newsletter("other-letter")
    [reader] = confirmed_readers(newsletter, 1)
    confirmed_readers(other, 1)  # the same address, confirmed to a second newsletter
    send_issue(bounce_app, newsletter, smtp)
    original = smtp.wait_for(1)[0]
    inbound(arf(original), original.envelope_from)
    statuses = db.session.scalars(select(Subscription.status).join(Subscriber).where(Subscriber.email == reader)).all()
    assert statuses == ["complained", "complained"]
    assert suppression.is_suppressed(suppression.hmac_of(reader))


def test_soft_bounces_suppress_after_the_configured_count_of_deliveries(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    [reader] = confirmed_readers(newsletter, 1)
    send_issue(bounce_app, newsletter, smtp)
    first = smtp.wait_for(1)[0]
    inbound(dsn(first, status="5.2.2"), first.envelope_from)
    inbound(dsn(first, status="5.2.2"), first.envelope_from)  # the same delivery again: counted once
    assert status_of(reader) == "confirmed"
    send_issue(bounce_app, newsletter, smtp, subject="Second")
    second = smtp.wait_for(2)[1]
    inbound(dsn(second, status="4.2.2"), second.envelope_from)
    assert status_of(reader) == "bounced"
    assert [(f.kind, f.reason) for f in db.session.scalars(select(Feedback))] == [("soft_bounce", "mailbox_full")] * 3


def test_delay_warnings_are_not_bounces(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    [reader] = confirmed_readers(newsletter, 1)
    send_issue(bounce_app, newsletter, smtp)
    original = smtp.wait_for(1)[0]
    for _ in range(3):
        inbound(dsn(original, status="4.4.1", action="delayed"), original.envelope_from)
    assert status_of(reader) == "confirmed" and db.session.scalars(select(Feedback)).all() == []


def test_a_refusal_about_the_sender_never_costs_the_reader(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    [reader] = confirmed_readers(newsletter, 1)
    issue = send_issue(bounce_app, newsletter, smtp)
    original = smtp.wait_for(1)[0]
    inbound(dsn(original, status="5.7.26"), original.envelope_from)
    assert status_of(reader) == "confirmed"
    assert not suppression.is_suppressed(suppression.hmac_of(reader))
    [record] = db.session.scalars(select(Feedback)).all()
    assert (record.kind, record.reason, record.issue_id, record.domain) == (
        "sender_refusal", "auth_failure", issue.id, reader.rpartition("@")[2])


def test_an_opt_out_report_unsubscribes_the_reader_with_the_report_as_evidence(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    [reader] = confirmed_readers(newsletter, 1)
    send_issue(bounce_app, newsletter, smtp)
    original = smtp.wait_for(1)[0]
    inbound(arf(original, "opt-out"), original.envelope_from)
    assert status_of(reader) == "unsubscribed"
    event = db.session.scalars(select(SubscriptionEvent).where(SubscriptionEvent.kind == "unsubscribed")).one()
    assert event.reason.startswith("feedback_report: opt-out report #") and "ExampleFBL" in event.reason
    assert not suppression.is_suppressed(suppression.hmac_of(reader))  # it leaves one newsletter, as asked


def test_a_forged_bounce_without_our_signature_changes_nothing(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    [reader] = confirmed_readers(newsletter, 1)
    send_issue(bounce_app, newsletter, smtp)
    original = smtp.wait_for(1)[0]
    forged = dsn(original).replace(original.envelope_from.encode(), b"bounces+d1.000000000000@example.org")
    forged = forged.replace(original.message["Message-ID"].encode(), b"<d1.i1.000000000000@news.example.test>")
    inbound(forged, "bounces+d1.000000000000@example.org")
    assert status_of(reader) == "confirmed"
    assert db.session.scalars(select(Feedback)).all() == []


def test_replies_are_counted_per_issue_without_keeping_their_text(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 2)
    issue = send_issue(bounce_app, newsletter, smtp)
    for received in smtp.wait_for(2):
        inbound(reply(received, "A very personal answer"), "replies@news.example.test", received.recipients[0])
    records = db.session.scalars(select(Feedback)).all()
    assert [(r.kind, r.issue_id) for r in records] == [("reply", issue.id)] * 2
    assert all("personal" not in (r.diagnostic or "") for r in records)
    assert [status_of(email) for email in readers] == ["confirmed", "confirmed"]


def test_mailto_unsubscribe_through_the_inbound_endpoint(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    [reader] = confirmed_readers(newsletter, 1)
    send_issue(bounce_app, newsletter, smtp)
    mailto = smtp.wait_for(1)[0].message["List-Unsubscribe"].split(",")[1].strip(" <>")
    address, _, query = mailto.removeprefix("mailto:").partition("?subject=")
    message = f"From: {reader}\r\nTo: {address}\r\nSubject: {query.replace('%20', ' ')}\r\n\r\n\r\n".encode()
    inbound(message, address)
    assert status_of(reader) == "unsubscribed"


def test_malformed_inbound_mail_is_accepted_and_ignored(bounce_app, smtp, inbound, caplog):
    newsletter = create_demo_newsletter()
    [reader] = confirmed_readers(newsletter, 1)
    inbound(b"\x00\x01garbage\r\n\r\n\xff\xfe", "bounces@example.org")
    inbound(b"Content-Type: multipart/report; boundary=\"x\"\r\n\r\n--x\r\ntruncated", "bounces@example.org")
    assert status_of(reader) == "confirmed" and db.session.scalars(select(Feedback)).all() == []


def test_the_endpoint_reads_the_null_envelope_sender_as_a_notice(bounce_app, smtp, inbound):
    newsletter = create_demo_newsletter()
    [reader] = confirmed_readers(newsletter, 1)
    send_issue(bounce_app, newsletter, smtp)
    original = smtp.wait_for(1)[0]
    notice = (f"From: Mail System <mail-system@mx.example.net>\r\nTo: {original.envelope_from}\r\n"
              f"Subject: Delivery failure\r\n\r\nYour message to <{reader}> could not be delivered: user unknown.\r\n")
    inbound(notice.encode(), original.envelope_from, sender=reader)  # from a person: a reply, not a bounce
    assert status_of(reader) == "confirmed"
    inbound(notice.encode(), original.envelope_from)  # the null sender (<>): a notice
    assert status_of(reader) == "bounced"
