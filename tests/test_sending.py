"""Sending an issue: to every confirmed reader once, with the headers and footer readers and mailers expect."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from newsletter import consent, suppression, tokens
from newsletter.extensions import db
from newsletter.models import Issue, Subscriber, Subscription
from newsletter.sending.deliver import window_size
from tests.conftest import create_demo_newsletter
from tests.support.sending_helpers import (
    confirmed_readers,
    deliveries,
    new_issue,
    received_by,
    send_to_the_end,
    start_sending,
)


def subscription_of(email: str) -> Subscription:
    return db.session.scalar(select(Subscription).join(Subscriber).where(Subscriber.email == email))


def test_issue_reaches_every_confirmed_reader_once_and_nobody_else(app, newsletter, smtp):
    readers = confirmed_readers(newsletter, 12)
    for email in ("pending1@example.net", "pending2@example.net"):
        consent.subscribe(newsletter, email, "", ip=None, source="t", wording="w")
    consent.unsubscribe(subscription_of(readers[0]))
    consent.pause(subscription_of(readers[1]), 1)
    suppression.suppress(suppression.hmac_of(readers[2]), "hard_bounce")
    db.session.commit()
    issue = new_issue(newsletter)
    start_sending(issue)
    send_to_the_end(app, issue.id)
    expected = set(readers[3:])
    assert received_by(smtp) == {email: 1 for email in expected}
    db.session.refresh(issue)
    assert issue.status == "sent" and issue.finished_at is not None and issue.recipients == len(expected)
    assert {d.status for d in deliveries(issue.id)} == {"sent"}


def test_issue_mail_headers_and_footer(app, newsletter, smtp):
    [email] = confirmed_readers(newsletter, 1)
    issue = new_issue(newsletter, subject="Notes d'été — ☀", body="Hello.\n\n" + "word " * 50)
    start_sending(issue)
    send_to_the_end(app, issue.id)
    [received] = smtp.wait_for(1)
    message = received.message
    head = received.raw.split(b"\r\n\r\n", 1)[0]
    assert all(byte < 128 for byte in head)
    assert message["Subject"] == "Notes d'été — ☀"
    assert str(message["From"]) == "Maya <maya@example.org>"
    assert message["Reply-To"].addresses[0].addr_spec == "maya@example.org"
    assert message["List-Id"].endswith("<slow-mornings.news.example.test>")
    assert message["List-Archive"] == "<https://news.example.test/n/slow-mornings>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [part.strip(" <>") for part in message["List-Unsubscribe"].split(",")]
    assert https.startswith("https://news.example.test/unsubscribe/") and mailto.startswith("mailto:")
    names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if not line[:1].isspace()]
    assert names.count(b"date") == 1 and names.count(b"message-id") == 1
    assert re.fullmatch(r"<d\d+\.i\d+\.[0-9a-f]{12}@news\.example\.test>", message["Message-ID"])
    date = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"date:"))
    assert date.endswith(b" +0000") and b"GMT" not in date  # a numeric zone, not the obsolete form
    assert message["Feedback-ID"] == f"{issue.id}:slow-mornings:{newsletter.owner_id}:news.example.test"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello." in text and "confirmed your subscription on" in text and "https://news.example.test/n/x" in text
    assert "style=" in html and "<style" not in html.split("<body")[1]
    assert https in text and https in html


def test_list_unsubscribe_url_unsubscribes_with_one_click(app, newsletter, smtp):
    [email] = confirmed_readers(newsletter, 1)
    issue = new_issue(newsletter)
    start_sending(issue)
    send_to_the_end(app, issue.id)
    message = smtp.wait_for(1)[0].message
    https = message["List-Unsubscribe"].split(",")[0].strip(" <>")
    answer = app.test_client(use_cookies=False).post(urlsplit(https).path, data="List-Unsubscribe=One-Click",
                                                      content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    db.session.expire_all()
    assert subscription_of(email).status == "unsubscribed"


def test_a_5000_character_line_is_wrapped_by_the_transfer_encoding(app, newsletter, smtp):
    confirmed_readers(newsletter, 1)
    long_word = "x" * 5000
    issue = new_issue(newsletter, body=f"Start {long_word} end.")
    start_sending(issue)
    send_to_the_end(app, issue.id)
    received = smtp.wait_for(1)[0]
    assert max(len(line) for line in received.raw.split(b"\r\n")) <= 998
    assert long_word in received.message.get_body(("plain",)).get_content()
    assert long_word in received.message.get_body(("html",)).get_content()


def test_each_reader_gets_their_own_links(app, newsletter, smtp):
    readers = confirmed_readers(newsletter, 3)
    issue = new_issue(newsletter)
    start_sending(issue)
    send_to_the_end(app, issue.id)
    links = {m.recipients[0]: m.message["List-Unsubscribe"] for m in smtp.wait_for(3)}
    assert len(set(links.values())) == 3
    for email, header in links.items():
        token = header.split(",")[0].strip(" <>").rsplit("/", 1)[1]
        assert consent.subscription_from_token(tokens.UNSUBSCRIBE, token).subscriber.email == email


def test_draft_and_scheduled_issues_are_not_sent(app, newsletter, smtp):
    confirmed_readers(newsletter, 2)
    draft = new_issue(newsletter, subject="draft")
    from tests.support.sending_helpers import transport_for
    from newsletter.sending.work import SendState, run_issue_work

    run_issue_work(SendState(app), transport_for(app), budget=1)
    assert smtp.messages == [] and deliveries(draft.id) == []


@pytest.mark.parametrize("window, rate, expected", [
    (16, 0.0, 16),  # unpaced: the setting
    (16, 1000.0, 16),  # a tenth of a second at 1,000/s is more than the setting
    (16, 60.0, 6),  # paced: a tenth of a second's messages
    (16, 0.5, 1),  # never less than one
    (1, 0.0, 1),
])
def test_window_is_the_setting_or_a_tenth_of_a_second_of_a_paced_send(window, rate, expected):
    assert window_size({"SEND_WINDOW": window, "SEND_RATE_PER_SECOND": rate}) == expected


def test_every_window_size_reaches_everyone_once(make_app, smtp):
    # 7 readers in windows of 3: two whole windows and a last one of one.
    app = make_app(START_SENDER=False, SEND_WINDOW=3)
    with app.app_context():
        newsletter = create_demo_newsletter()
        readers = confirmed_readers(newsletter, 7)
        issue = new_issue(newsletter)
        start_sending(issue)
        send_to_the_end(app, issue.id)
        assert received_by(smtp) == {email: 1 for email in readers}
        assert [(d.status, d.attempts) for d in deliveries(issue.id)] == [("sent", 1)] * 7


def test_pages_of_deliveries_are_created_ahead_and_reach_everyone_once(app, newsletter, smtp, monkeypatch):
    from newsletter.sending import work

    # Pages of 10 and batches of 3: the next page is made while 3 batches' worth still wait in the queue.
    monkeypatch.setattr(work, "ENQUEUE_PAGE", 10)
    app.config["SEND_BATCH_SIZE"] = 3
    readers = confirmed_readers(newsletter, 25)
    issue = new_issue(newsletter)
    start_sending(issue)
    queued_when_enqueued = []
    enqueue = work.enqueue_page

    def watched_enqueue(issue_id, size):
        queued_when_enqueued.append(sum(d.status == "queued" for d in deliveries(issue_id)))
        return enqueue(issue_id, size)

    monkeypatch.setattr(work, "enqueue_page", watched_enqueue)
    send_to_the_end(app, issue.id)
    assert received_by(smtp) == {email: 1 for email in readers}
    assert queued_when_enqueued[0] == 0 and any(queued for queued in queued_when_enqueued[1:])


def test_a_worker_never_waits_while_another_creates_a_page(app, newsletter):
    from sqlalchemy import text

    from newsletter.sending.ledger import enqueue_page

    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite takes the whole database's write lock instead (BEGIN IMMEDIATE)")
    confirmed_readers(newsletter, 3)
    issue = new_issue(newsletter)
    start_sending(issue)
    with db.engine.connect() as other:  # another worker, in the middle of creating a page
        other.execute(text("SELECT id FROM issues WHERE id = :id FOR UPDATE"), {"id": issue.id})
        assert enqueue_page(issue.id, 10) is None
        other.rollback()
    assert enqueue_page(issue.id, 10) == 3


def test_a_claimed_batch_carries_each_readers_details_and_leaves_out_erased_readers(app, newsletter):
    from newsletter.sending.ledger import claim_batch, enqueue_page, load_readers

    emails = confirmed_readers(newsletter, 4)
    issue = new_issue(newsletter)
    start_sending(issue)
    assert enqueue_page(issue.id, 10) == 4
    claimed = claim_batch(issue.id, "worker-a", 10, timedelta(minutes=5), timedelta(seconds=30))
    erased = db.session.scalar(select(Subscriber).where(Subscriber.email == emails[1]))
    db.session.delete(erased)  # the delivery row stays, without its reader (ON DELETE SET NULL)
    db.session.commit()
    readers = load_readers(claimed)
    assert [r.email for r in readers] == [emails[0], emails[2], emails[3]]
    assert [r.delivery_id for r in readers] == sorted(r.delivery_id for r in readers)
    for reader in readers:
        subscription = subscription_of(reader.email)
        assert (reader.subscription_id, reader.subscription_nonce, reader.subscriber_id, reader.name,
                reader.confirmed_at, reader.attempts) == (
            subscription.id, subscription.token_nonce, subscription.subscriber_id, subscription.subscriber.name,
            subscription.confirmed_at, 0)


def test_deliveries_leave_room_on_each_page_for_the_sends_marks(app):
    from sqlalchemy import text

    if db.engine.dialect.name != "postgresql":
        pytest.skip("a table's fill factor is a PostgreSQL setting; SQLite has none")
    options = db.session.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'deliveries'"))
    assert "fillfactor=50" in options


def test_a_reader_erased_while_the_issue_goes_out_is_skipped_and_the_send_finishes(app, newsletter, smtp):
    from newsletter.sending.ledger import enqueue_page

    emails = confirmed_readers(newsletter, 3)
    issue = new_issue(newsletter)
    start_sending(issue)
    assert enqueue_page(issue.id, 10) == 3  # the deliveries exist before the reader is erased
    consent.erase(db.session.scalar(select(Subscriber).where(Subscriber.email == emails[1])))
    db.session.commit()
    send_to_the_end(app, issue.id, timeout=10)
    assert received_by(smtp) == {emails[0]: 1, emails[2]: 1}
    assert [(d.status, d.subscriber_id is None) for d in deliveries(issue.id)] == [
        ("sent", False), ("skipped", True), ("sent", False)]
    assert db.session.get(Issue, issue.id).status == "sent"


def test_the_inbox_preview_is_the_preheader_or_the_first_paragraph(app, newsletter, smtp):
    from newsletter import publishing

    confirmed_readers(newsletter, 1)
    given = publishing.create_issue(newsletter, None, "With a preview", "# Heading\n\nFirst **words** here.",
                                    preheader="What this issue brings you")
    derived = publishing.create_issue(newsletter, None, "Without one", "# Heading\n\nFirst **words** [here](https://x.org).")
    db.session.commit()
    for issue in (given, derived):
        start_sending(issue)
        send_to_the_end(app, issue.id)
    by_subject = {m.message["Subject"]: m.message.get_body(("html",)).get_content() for m in smtp.wait_for(2)}
    for subject, preview in (("With a preview", "What this issue brings you"), ("Without one", "First words here")):
        html = by_subject[subject]
        hidden = html.split("<body", 1)[1].split('<div class="wrap"', 1)[0]
        assert "display:none" in hidden and preview in hidden  # before the masthead, hidden
