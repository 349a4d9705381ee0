"""Per-newsletter figures: readers now, and over a period: subscribe requests and confirmations, confirmed
readers, unsubscribes with their reasons, bounces, complaints and pauses.

The subscription events are the ledger (counted per day by `daily`). Confirmed readers over time are counted
back from today's count: each day's change is its confirmations and imports minus departures from the
confirmed status (events record the status they left), so the last point always equals the live count.
"""

from dataclasses import dataclass, field, fields
from datetime import date, datetime

from sqlalchemy import func, select

from ..extensions import db
from ..models import MAX_ID, Issue, Newsletter, Subscription, SubscriptionEvent, User, utcnow
from ..states import IssueStatus
from ..states import SubscriptionStatus as S
from .bounces import refusals_of_newsletter
from .daily import LEFT_CONFIRMED, day_counts, kind_totals
from .periods import Period
from .reasons import latest_comments, reason_counts

KIND_FIELDS = {
    "subscribed": "requests", "resubscribed": "requests", "confirmed": "confirmations", "imported": "imported",
    "unsubscribed": "unsubscribes", "bounced": "bounces", "complained": "complaints", "paused": "pauses",
    "erased": "erasures", "restored": "restored",
}
PAGE_SIZE = 100

@dataclass
class Bucket:
    """One day or week: what happened in it, and the confirmed readers at its end."""

    start: date
    requests: int = 0
    confirmations: int = 0
    imported: int = 0
    unsubscribes: int = 0
    bounces: int = 0
    complaints: int = 0
    pauses: int = 0
    erasures: int = 0
    restored: int = 0  # confirmed again by an admin: the bounce was a refusal about the sender
    confirmed: int = 0


COUNTED = tuple(f.name for f in fields(Bucket) if f.name not in ("start", "confirmed"))


@dataclass
class NewsletterFigures:
    newsletter: Newsletter
    period: Period
    readers: dict[str, int]  # subscriptions per status, and "paused" among the confirmed
    timeline: list[Bucket]
    reasons: dict[str, int]
    comments: list[tuple[datetime, str]]
    totals: dict[str, int] = field(default_factory=dict)
    refusals: list = field(default_factory=list)  # sender-side refusals per receiving domain (stats/bounces.py)

    @property
    def confirmation_rate(self) -> float | None:
        """Confirmations per request over the period."""
        return confirmation_rate(self.totals["requests"], self.totals["confirmations"])


@dataclass(frozen=True)
class NewsletterSummary:
    """One line of the overview: readers now, and the period's requests, confirmations and unsubscribes."""

    newsletter: Newsletter
    confirmed: int
    pending: int
    requests: int
    confirmations: int
    unsubscribes: int
    issues_sent: int
    last_sent_at: datetime | None

    @property
    def confirmation_rate(self) -> float | None:
        """Confirmations per request over the period."""
        return confirmation_rate(self.requests, self.confirmations)


def confirmation_rate(requests: int, confirmations: int) -> float | None:
    """Confirmations per subscribe request, as a fraction.

    Capped at 1: a request made just before the period and confirmed inside it counts only in the second.
    """
    return min(1.0, confirmations / requests) if requests else None


def newsletter_figures(newsletter: Newsletter, period: Period) -> NewsletterFigures:
    """Everything the newsletter's statistics page and its API call show."""
    readers = reader_counts(newsletter)
    timeline = _timeline(newsletter.id, period, readers["confirmed"])
    in_period = (SubscriptionEvent.newsletter_id == newsletter.id, SubscriptionEvent.at >= period.since)
    figures = NewsletterFigures(
        newsletter=newsletter, period=period, readers=readers, timeline=timeline,
        reasons=reason_counts(*in_period), comments=latest_comments(*in_period),
    )
    figures.totals = {name: sum(getattr(bucket, name) for bucket in timeline) for name in COUNTED}
    figures.refusals = refusals_of_newsletter(newsletter.id, period.since)
    return figures


def status_counts(newsletter: Newsletter) -> dict[str, int]:
    """How many subscriptions of the newsletter are in each status (every status present, 0 if none)."""
    counts = {status.value: 0 for status in S}
    rows = db.session.execute(
        select(Subscription.status, func.count())
        .where(Subscription.newsletter_id == newsletter.id)
        .group_by(Subscription.status)
    )
    counts.update({status: count for status, count in rows})
    return counts


def reader_counts(newsletter: Newsletter) -> dict[str, int]:
    """Subscriptions per status now, and how many confirmed readers are pausing."""
    counts = status_counts(newsletter)
    counts["paused"] = db.session.scalar(
        select(func.count()).where(Subscription.newsletter_id == newsletter.id, Subscription.paused_until > utcnow(),
                                   Subscription.status == S.CONFIRMED.value))
    return counts


def summaries(newsletters: list[Newsletter], period: Period) -> list[NewsletterSummary]:
    """The overview's lines, with grouped queries over every newsletter at once."""
    ids = [item.id for item in newsletters]
    if not ids:
        return []
    statuses = _grouped(select(Subscription.newsletter_id, Subscription.status, func.count())
                        .where(Subscription.newsletter_id.in_(ids),
                               Subscription.status.in_((S.CONFIRMED.value, S.PENDING.value)))
                        .group_by(Subscription.newsletter_id, Subscription.status))
    events = kind_totals(ids, period.since, ("subscribed", "resubscribed", "confirmed", "unsubscribed"))
    sent = {row[0]: row[1:] for row in db.session.execute(
        select(Issue.newsletter_id, func.count(), func.max(Issue.started_at))
        .where(Issue.newsletter_id.in_(ids), Issue.status == IssueStatus.SENT.value).group_by(Issue.newsletter_id))}
    return [
        NewsletterSummary(
            newsletter=item, confirmed=statuses.get((item.id, "confirmed"), 0),
            pending=statuses.get((item.id, "pending"), 0),
            requests=events.get((item.id, "subscribed"), 0) + events.get((item.id, "resubscribed"), 0),
            confirmations=events.get((item.id, "confirmed"), 0), unsubscribes=events.get((item.id, "unsubscribed"), 0),
            issues_sent=sent.get(item.id, (0, None))[0], last_sent_at=sent.get(item.id, (0, None))[1],
        )
        for item in newsletters
    ]


def newsletters_page(user: User, after: int | None = None, size: int = PAGE_SIZE) -> tuple[list[Newsletter], int | None]:
    """The newsletters a user may see (all for an admin), by id after `after` (keyset); and the next cursor."""
    query = select(Newsletter).order_by(Newsletter.id).limit(size + 1)
    if not user.is_admin:
        query = query.where(Newsletter.owner_id == user.id)
    if after is not None:
        query = query.where(Newsletter.id > min(max(after, 0), MAX_ID))
    found = list(db.session.scalars(query))
    return found[:size], (found[size - 1].id if len(found) > size else None)


def _grouped(query) -> dict[tuple, int]:
    return {(first, second): count for first, second, count in db.session.execute(query)}


def _timeline(newsletter_id: int, period: Period, confirmed_now: int) -> list[Bucket]:
    """Buckets of the period, oldest first: day counts folded into buckets, then the readers counted back."""
    buckets = {start: Bucket(start) for start in period.starts()}
    lost = dict.fromkeys(buckets, 0)
    for (day, kind), count in day_counts(newsletter_id, period.since, (*KIND_FIELDS, LEFT_CONFIRMED)).items():
        start = period.bucket_of(day)
        if start not in buckets:
            continue
        if kind == LEFT_CONFIRMED:
            lost[start] += count
        else:
            setattr(buckets[start], KIND_FIELDS[kind], getattr(buckets[start], KIND_FIELDS[kind]) + count)
    level = confirmed_now
    for bucket in reversed(list(buckets.values())):
        bucket.confirmed = level
        level -= bucket.confirmations + bucket.imported + bucket.restored - lost[bucket.start]
    return list(buckets.values())
