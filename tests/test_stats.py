"""Statistics figures equal the counts of what really happened: sends through the real send path, feedback
through record_feedback, readers through the consent services. Expected values are counted here, apart from
newsletter.stats, and checked against the scenario's own numbers.
"""

from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from newsletter import consent, tokens
from newsletter.feedback import record as feedback
from newsletter.feedback.parsers import COMPLAINT, HARD_BOUNCE, REPLY, SOFT_BOUNCE, FeedbackEvent
from newsletter.extensions import db
from newsletter.mail.identifiers import message_id_local
from newsletter.models import (Delivery, Feedback, IssueStats, Subscriber, Subscription, SubscriptionEvent,
                               utcnow)
from newsletter.sending.ledger import enqueue_page
from newsletter.states import DeliveryStatus
from newsletter.states import SubscriptionStatus as S
from newsletter.stats import issues as issue_stats
from newsletter.stats import newsletters as newsletter_stats
from newsletter.stats.periods import period
from tests.conftest import SECRET, create_demo_newsletter
from tests.support.sending_helpers import confirmed_readers, new_issue, send_to_the_end, start_sending


@pytest.fixture
def stats_app(make_app, smtp):
    app = make_app(START_SENDER=False, SEND_RETRY_BASE_SECONDS="0.01", SEND_BATCH_SIZE="5")
    with app.app_context():
        yield app


# --- building the state -----------------------------------------------------------------------------------

def subscription_of(email: str, newsletter=None) -> Subscription:
    query = select(Subscription).join(Subscriber).where(Subscriber.email == email)
    if newsletter is not None:
        query = query.where(Subscription.newsletter_id == newsletter.id)
    return db.session.scalar(query)


def delivery_to(issue, email: str) -> Delivery:
    return db.session.scalar(select(Delivery).join(Subscriber).where(Delivery.issue_id == issue.id,
                                                                      Subscriber.email == email))


def report(kind: str, delivery: Delivery, status: str | None = None) -> None:
    """A bounce, complaint or reply about one delivery, named by its signed Message-ID, as a parser gives it."""
    local = message_id_local(SECRET.encode(), delivery.id, delivery.issue_id)
    event = FeedbackEvent(kind=kind, recipient=None, status=status, diagnostic="", message_id=f"<{local}@news.example.test>",
                          envelope_token=None, occurred_at=None)
    assert feedback.record_feedback(event, "inbound") is not None
    db.session.commit()


def join(newsletter, email: str) -> Subscription:
    """Subscribe and confirm, as a reader does."""
    consent.subscribe(newsletter, email, None, ip="192.0.2.1", source="https://news.example.test/n/x", wording="w")
    subscription = subscription_of(email, newsletter)
    consent.confirm(consent.token_for(tokens.CONFIRM, subscription), "192.0.2.2")
    db.session.commit()
    return subscription


def sent_issue_world(app, smtp) -> dict:
    """Six readers and one issue through the real send path: 2 sent, 1 failed, 1 unknown, 1 bounced, 1 skipped;
    then 1 complaint, 3 replies (two from one reader), 1 soft bounce and 1 unsubscribe within the week.
    """
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 6)
    issue = new_issue(newsletter, subject="Spring notes")
    start_sending(issue)
    enqueue_page(issue.id, 100)
    consent.unsubscribe(subscription_of(readers[5]))  # after its delivery was queued: skipped at its turn
    db.session.commit()
    smtp.replies.extend(["250 OK", "550 5.1.1 User unknown", "drop"])  # readers 0, 1, 2 in delivery order
    send_to_the_end(app, issue.id)
    report(HARD_BOUNCE, delivery_to(issue, readers[3]), "5.1.1")
    report(COMPLAINT, delivery_to(issue, readers[4]))
    report(COMPLAINT, delivery_to(issue, readers[4]))  # the same complaint twice: one complaint
    for email in (readers[0], readers[0], readers[4]):
        report(REPLY, delivery_to(issue, email))
    report(SOFT_BOUNCE, delivery_to(issue, readers[0]), "4.2.2")
    consent.unsubscribe(subscription_of(readers[0]), "too_often", "Lovely, but weekly is a lot")
    db.session.commit()
    return {"newsletter": newsletter, "issue": issue, "readers": readers}


def counted_deliveries(issue_id: int) -> dict[str, int]:
    """Deliveries per status, counted row by row."""
    counts = dict.fromkeys((status.value for status in DeliveryStatus), 0)
    for status in db.session.scalars(select(Delivery.status).where(Delivery.issue_id == issue_id)):
        counts[status] += 1
    return counts


def counted_feedback(issue_id: int) -> dict[str, int]:
    rows = db.session.execute(select(Feedback.kind, Feedback.delivery_id).where(Feedback.issue_id == issue_id)).all()
    return {
        "replies": sum(kind == REPLY for kind, _ in rows),
        "complaints": len({d for kind, d in rows if kind == COMPLAINT}),
        "soft_bounces": len({d for kind, d in rows if kind == SOFT_BOUNCE}),
    }


def counted_unsubscribes(issue_id: int) -> int:
    return db.session.scalar(select(func.count()).where(SubscriptionEvent.issue_id == issue_id,
                                                        SubscriptionEvent.kind == "unsubscribed"))


# --- per issue ------------------------------------------------------------------------------------------

def test_issue_figures_equal_the_counts_of_the_real_send(stats_app, smtp):
    world = sent_issue_world(stats_app, smtp)
    issue = world["issue"]
    db.session.expire_all()
    figures = issue_stats.figures_of_issue(issue)
    assert figures.counts == counted_deliveries(issue.id)
    assert figures.counts == {"queued": 0, "sending": 0, "sent": 2, "failed": 1, "bounced": 1, "skipped": 1,
                              "unknown": 1, "held": 0}
    assert figures.recipients == 6 == sum(figures.counts.values())
    found = counted_feedback(issue.id)
    assert (figures.replies, figures.complaints, figures.soft_bounces) == (found["replies"], found["complaints"],
                                                                           found["soft_bounces"]) == (3, 1, 1)
    assert figures.unsubscribes == counted_unsubscribes(issue.id) == 1
    assert figures.handed_over == 5
    assert figures.duration_seconds == int((issue.finished_at - issue.started_at).total_seconds())


def test_a_finished_send_is_settled_and_later_bounces_still_count(stats_app, smtp):
    world = sent_issue_world(stats_app, smtp)
    issue, readers = world["issue"], world["readers"]
    settled = db.session.get(IssueStats, issue.id)
    assert settled is not None, "finish_if_done writes the counts when the send ends"
    report(HARD_BOUNCE, delivery_to(issue, readers[2]), "5.1.1")  # the unknown one bounced after all
    db.session.expire_all()
    figures = issue_stats.figures_of_issue(issue)
    assert figures.counts == counted_deliveries(issue.id)
    assert (figures.counts["sent"], figures.counts["bounced"], figures.counts["unknown"]) == (2, 2, 0)


def test_unsubscribes_go_to_the_last_issue_sent_in_the_7_days_before(stats_app, smtp):
    newsletter = create_demo_newsletter()
    readers = confirmed_readers(newsletter, 3)
    first, second = new_issue(newsletter, subject="One"), new_issue(newsletter, subject="Two")
    for issue in (first, second):
        start_sending(issue)
        send_to_the_end(stats_app, issue.id)
    old = utcnow() - timedelta(days=8)
    db.session.execute(update(Delivery).where(Delivery.issue_id == second.id,
                                              Delivery.subscription_id == subscription_of(readers[1]).id)
                       .values(sent_at=old))
    db.session.execute(update(Delivery).where(Delivery.subscription_id == subscription_of(readers[2]).id)
                       .values(sent_at=old))
    db.session.commit()
    for email in readers:
        consent.unsubscribe(subscription_of(email))
    db.session.commit()
    attributed = dict(db.session.execute(select(SubscriptionEvent.subscription_id, SubscriptionEvent.issue_id)
                                         .where(SubscriptionEvent.kind == "unsubscribed")).all())
    assert [attributed[subscription_of(email).id] for email in readers] == [second.id, first.id, None]
    assert [f.unsubscribes for f in issue_stats.figures_of([first, second])] == [1, 1]


def test_a_cancelled_send_is_counted_live_then_settled(stats_app, smtp):
    from newsletter import publishing

    newsletter = create_demo_newsletter()
    confirmed_readers(newsletter, 4)
    issue = new_issue(newsletter)
    start_sending(issue)
    enqueue_page(issue.id, 100)
    publishing.cancel(issue)
    db.session.commit()
    assert issue_stats.figures_of_issue(issue).counts["queued"] == 4
    assert db.session.get(IssueStats, issue.id) is None  # queued rows may still go: not final yet
    send_to_the_end(stats_app, issue.id)  # the next pass marks them skipped
    figures = issue_stats.figures_of_issue(issue)
    db.session.commit()
    assert figures.counts == counted_deliveries(issue.id) and figures.counts["skipped"] == 4
    assert db.session.get(IssueStats, issue.id) is not None


def test_issue_pages_are_walked_by_keyset(stats_app):
    newsletter = create_demo_newsletter()
    issues = [new_issue(newsletter, subject=f"Issue {n}") for n in range(5)]
    for issue in issues:
        start_sending(issue)
    first = issue_stats.started_issues([newsletter.id], size=2)
    second = issue_stats.started_issues([newsletter.id], first.next_before, size=2)
    third = issue_stats.started_issues([newsletter.id], second.next_before, size=2)
    seen = [i.id for page in (first, second, third) for i in page.issues]
    assert seen == sorted((i.id for i in issues), reverse=True) and third.next_before is None


# --- per newsletter, over time ----------------------------------------------------------------------------

def live_confirmed(newsletter) -> int:
    return db.session.scalar(select(func.count()).where(Subscription.newsletter_id == newsletter.id,
                                                        Subscription.status == S.CONFIRMED.value))


def stamp_new_events(after_id: int, day: date) -> int:
    """Move the events written since `after_id` to noon of `day`; return the last event id."""
    moment = datetime.combine(day, time(12), tzinfo=timezone.utc)
    db.session.execute(update(SubscriptionEvent).where(SubscriptionEvent.id > after_id).values(at=moment))
    db.session.commit()
    return db.session.scalar(select(func.max(SubscriptionEvent.id))) or 0


def readers_history(newsletter) -> tuple[dict[date, int], dict[date, dict[str, int]]]:
    """Five days of a newsletter's life, one step a day. Returns the live confirmed count at the end of each
    day and what happened each day, as this test counts it."""
    today = utcnow().date()
    days = [today - timedelta(days=n) for n in (5, 4, 3, 2, 1, 0)]
    confirmed, happened, last = {}, {}, 0

    def day_done(index: int, **counts) -> None:
        nonlocal last
        last = stamp_new_events(last, days[index])
        confirmed[days[index]] = live_confirmed(newsletter)
        happened[days[index]] = counts

    for name in ("ana", "ben", "chloe"):
        join(newsletter, f"{name}@example.net")
    consent.subscribe(newsletter, "dan@example.net", None, ip=None, source="s", wording="w")
    db.session.commit()
    day_done(0, requests=4, confirmations=3)
    consent.unsubscribe(subscription_of("ana@example.net"), "too_often")
    consent.unsubscribe(subscription_of("dan@example.net"), "never_asked")  # never confirmed: count unchanged
    db.session.commit()
    day_done(1, unsubscribes=2)
    for name in ("eve", "fay"):
        join(newsletter, f"{name}@example.net")
    consent.pause(subscription_of("ben@example.net"), 1)  # a paused reader is still a confirmed reader
    db.session.commit()
    day_done(2, requests=2, confirmations=2, pauses=1)
    feedback.stop_all_mail(db.session.scalar(select(Subscriber).where(Subscriber.email == "ben@example.net")),
                           "hard_bounce", S.BOUNCED)
    consent.subscribe(newsletter, "gus@example.net", None, ip=None, source="s", wording="w")
    db.session.commit()
    day_done(3, bounces=1, requests=1)
    consent.erase(db.session.scalar(select(Subscriber).where(Subscriber.email == "chloe@example.net")))
    join(newsletter, "ana@example.net")  # came back: a new request, confirmed again
    day_done(4, erasures=1, requests=1, confirmations=1)
    day_done(5)
    return confirmed, happened


def test_confirmed_readers_over_time_equal_the_live_count_each_day(stats_app):
    newsletter = create_demo_newsletter()
    confirmed, happened = readers_history(newsletter)
    figures = newsletter_stats.newsletter_figures(newsletter, period("day", 6))
    assert [b.start for b in figures.timeline] == list(confirmed)
    assert {b.start: b.confirmed for b in figures.timeline} == confirmed == dict(zip(confirmed, [3, 2, 4, 3, 3, 3]))
    for bucket in figures.timeline:
        expected = happened[bucket.start]
        for name in ("requests", "confirmations", "unsubscribes", "bounces", "pauses", "erasures"):
            assert getattr(bucket, name) == expected.get(name, 0), (bucket.start, name)


def test_weeks_sum_their_days(stats_app):
    newsletter = create_demo_newsletter()
    confirmed, happened = readers_history(newsletter)
    figures = newsletter_stats.newsletter_figures(newsletter, period("week", 6))
    for bucket in figures.timeline:
        days = [d for d in confirmed if bucket.start <= d < bucket.start + timedelta(days=7)]
        assert bucket.start.weekday() == 0
        assert bucket.requests == sum(happened[d].get("requests", 0) for d in days)
        assert bucket.unsubscribes == sum(happened[d].get("unsubscribes", 0) for d in days)
        assert bucket.confirmed == confirmed[max(days)]


def test_readers_now_rate_and_reasons(stats_app):
    newsletter = create_demo_newsletter()
    readers_history(newsletter)
    figures = newsletter_stats.newsletter_figures(newsletter, period())
    statuses = dict(db.session.execute(select(Subscription.status, func.count())
                                       .where(Subscription.newsletter_id == newsletter.id)
                                       .group_by(Subscription.status)).all())
    assert {k: v for k, v in figures.readers.items() if k != "paused" and v} == statuses
    assert figures.readers["paused"] == 0  # ben paused, then bounced
    requests = db.session.scalar(select(func.count()).where(
        SubscriptionEvent.newsletter_id == newsletter.id, SubscriptionEvent.kind.in_(["subscribed", "resubscribed"])))
    confirmations = db.session.scalar(select(func.count()).where(
        SubscriptionEvent.newsletter_id == newsletter.id, SubscriptionEvent.kind == "confirmed"))
    assert (figures.totals["requests"], figures.totals["confirmations"]) == (requests, confirmations) == (8, 6)
    assert figures.confirmation_rate == pytest.approx(6 / 8)
    assert {k: v for k, v in figures.reasons.items() if v} == {"too_often": 1, "never_asked": 1}


def test_reader_comments_are_shown_without_who_wrote_them(stats_app):
    newsletter = create_demo_newsletter()
    join(newsletter, "ana@example.net")
    consent.unsubscribe(subscription_of("ana@example.net"), "other", "Moving to paper letters")
    db.session.commit()
    figures = newsletter_stats.newsletter_figures(newsletter, period())
    assert [text for _, text in figures.comments] == ["Moving to paper letters"]
    assert figures.reasons["other"] == 1


def test_overview_lines_match_each_newsletter(stats_app):
    first = create_demo_newsletter()
    second = create_demo_newsletter("deep-rest", owner="bea@example.org")
    readers_history(first)
    join(second, "zoe@example.net")
    lines = {s.newsletter.slug: s for s in newsletter_stats.summaries([first, second], period())}
    assert (lines["slow-mornings"].confirmed, lines["deep-rest"].confirmed) == (live_confirmed(first),
                                                                                 live_confirmed(second))
    assert (lines["slow-mornings"].requests, lines["slow-mornings"].unsubscribes) == (8, 2)
    assert (lines["deep-rest"].requests, lines["deep-rest"].confirmations, lines["deep-rest"].pending) == (1, 1, 0)


@pytest.mark.parametrize("by, days", [("month", 10), ("day", 0), ("day", 800), ("day", "x")])
def test_a_period_out_of_bounds_is_refused(by, days):
    from newsletter.errors import InvalidInput

    with pytest.raises(InvalidInput):
        period(by, days)


def test_days_that_are_over_are_kept_and_read_back_the_same(stats_app):
    from newsletter.models import EventDay, Newsletter
    from newsletter.stats.daily import SETTLE_LAG

    newsletter = create_demo_newsletter()
    confirmed, _ = readers_history(newsletter)
    first = newsletter_stats.newsletter_figures(newsletter, period("day", 6))
    db.session.commit()
    settled = (utcnow() - SETTLE_LAG).date() - timedelta(days=1)
    assert db.session.scalar(select(Newsletter.event_days_through).where(Newsletter.id == newsletter.id)) == settled
    kept = {day for day in db.session.scalars(select(EventDay.day).where(EventDay.newsletter_id == newsletter.id))}
    assert kept and max(kept) <= settled < max(confirmed)  # the last days are still counted live
    again = newsletter_stats.newsletter_figures(newsletter, period("day", 6))
    assert [vars(b) for b in again.timeline] == [vars(b) for b in first.timeline]
    assert {b.start: b.confirmed for b in again.timeline} == confirmed


def test_an_event_stamped_in_the_recent_past_still_counts(stats_app):
    newsletter = create_demo_newsletter()
    join(newsletter, "ana@example.net")
    newsletter_stats.newsletter_figures(newsletter, period("day", 10))  # keeps the days that are over
    db.session.commit()
    last = db.session.scalar(select(func.max(SubscriptionEvent.id)))
    consent.unsubscribe(subscription_of("ana@example.net"), "too_often")
    db.session.commit()
    yesterday = utcnow().date() - timedelta(days=1)
    stamp_new_events(last, yesterday)  # as an import that began yesterday stamps its rows
    figures = newsletter_stats.newsletter_figures(newsletter, period("day", 10))
    assert {b.start: b.unsubscribes for b in figures.timeline}[yesterday] == 1
    lines = newsletter_stats.summaries([newsletter], period("day", 10))
    assert lines[0].unsubscribes == 1
