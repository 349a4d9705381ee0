"""Per-issue figures: deliveries by status, bounces, complaints, replies, the unsubscribes an issue caused,
how long its send took and how fast it went.

Counting a million deliveries on every page view is too slow, so an issue whose send is over gets its
delivery counts written once (`settle`: when the sender finishes it, or at the first look at a cancelled one).
Live counts remain for issues still sending, read from the (issue_id, status) index, and for the one change
a settled issue still sees: a bounce turning a sent or unknown delivery into a bounced one. So sent + unknown +
bounced never changes after settling, and the three are told apart by counting the two small ones live.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import MAX_ID, Delivery, Feedback, Issue, IssueStats, Newsletter, SubscriptionEvent, utcnow
from ..states import DeliveryStatus as D
from ..states import IssueStatus as I
from .bounces import groups_by_issue
from .reasons import reason_counts

STATUSES = tuple(status.value for status in D)
SETTLED_FIELDS = ("sent", "failed", "bounced", "skipped", "unknown")
AFTER_SETTLING = (D.BOUNCED.value, D.UNKNOWN.value)
TERMINAL = (I.SENT.value, I.CANCELLED.value)
PAGE_SIZE = 50

@dataclass(frozen=True)
class IssueFigures:
    """What one issue's send did. `counts` has every delivery status; `handed_over` excludes skipped."""

    id: int
    newsletter_slug: str
    newsletter_name: str
    subject: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    recipients: int
    counts: dict[str, int]
    soft_bounces: int
    complaints: int
    replies: int
    unsubscribes: int
    duration_seconds: int | None
    bounce_groups: dict[str, int]  # bounced deliveries per reason group (stats/bounces.py)

    @property
    def handed_over(self) -> int:
        """Messages given to the mail relay: accepted, refused, bounced later, or interrupted."""
        return sum(self.counts[s] for s in ("sent", "failed", "bounced", "unknown"))

    @property
    def per_minute(self) -> float | None:
        """Send rate over the whole duration (pauses included)."""
        if not self.duration_seconds:
            return None
        return round(self.handed_over * 60 / self.duration_seconds, 1)


@dataclass(frozen=True)
class IssuePage:
    issues: list[Issue]
    next_before: int | None  # pass as `before` for the following (older) page; None on the last page


def started_issues(newsletter_ids: list[int], before: int | None = None, size: int = PAGE_SIZE) -> IssuePage:
    """Issues whose send began, newest first, walked by keyset (id < before)."""
    if not newsletter_ids:
        return IssuePage([], None)
    query = (select(Issue).join(Newsletter, Newsletter.id == Issue.newsletter_id)
             .where(Issue.newsletter_id.in_(newsletter_ids), Issue.started_at.is_not(None))
             .order_by(Issue.id.desc()).limit(size + 1))
    if before is not None and before <= MAX_ID:  # past the top: every issue is older
        query = query.where(Issue.id < max(before, 0))
    found = list(db.session.scalars(query))
    return IssuePage(found[:size], found[size - 1].id if len(found) > size else None)


def figures_of(issues: list[Issue], now: datetime | None = None) -> list[IssueFigures]:
    """Figures of several issues with a handful of grouped, indexed queries (none per delivery)."""
    now = now or utcnow()
    ids = [issue.id for issue in issues]
    counts = delivery_counts(issues)
    feedback = _feedback_counts(ids)
    unsubscribes = _unsubscribe_counts(ids)
    groups = groups_by_issue(ids)
    return [
        IssueFigures(
            id=issue.id, newsletter_slug=issue.newsletter.slug, newsletter_name=issue.newsletter.name,
            subject=issue.subject, status=issue.status, started_at=issue.started_at,
            finished_at=issue.finished_at, recipients=issue.recipients, counts=counts[issue.id],
            soft_bounces=feedback.get((issue.id, "soft_bounce"), 0),
            complaints=feedback.get((issue.id, "complaint"), 0), replies=feedback.get((issue.id, "reply"), 0),
            unsubscribes=unsubscribes.get(issue.id, 0), duration_seconds=_duration(issue, now),
            bounce_groups=groups[issue.id],
        )
        for issue in issues
    ]


def figures_of_issue(issue: Issue) -> IssueFigures:
    """One issue's figures."""
    return figures_of([issue])[0]


def unsubscribe_reasons(issue: Issue) -> dict[str, int]:
    """Why the readers this issue made leave said they left."""
    return reason_counts(SubscriptionEvent.issue_id == issue.id)


def delivery_counts(issues: list[Issue]) -> dict[int, dict[str, int]]:
    """Deliveries per status for each issue: settled counts where written, live ones otherwise."""
    ids = [issue.id for issue in issues]
    settled = {row.issue_id: row for row in db.session.scalars(select(IssueStats).where(IssueStats.issue_id.in_(ids)))}
    live = [issue for issue in issues if issue.id not in settled]
    counts = _grouped_counts([issue.id for issue in live])
    for issue in live:
        if issue.status in TERMINAL and not counts[issue.id]["queued"] and not counts[issue.id]["sending"]:
            _store(issue.id, counts[issue.id])
    later = _grouped_counts(list(settled), AFTER_SETTLING)
    for issue_id, row in settled.items():
        counts[issue_id] = _settled_counts(row, later[issue_id])
    return counts


def settle(issue_id: int) -> bool:
    """Write the delivery counts of an issue whose send is over (idempotent; flushed, the caller commits)."""
    status = db.session.scalar(select(Issue.status).where(Issue.id == issue_id))
    if status not in TERMINAL or db.session.get(IssueStats, issue_id) is not None:
        return False
    counts = _grouped_counts([issue_id])[issue_id]
    if counts["queued"] or counts["sending"]:
        return False  # a cancelled send with messages still in flight: settled at a later look
    return _store(issue_id, counts)


def _store(issue_id: int, counts: dict[str, int]) -> bool:
    try:
        with db.session.begin_nested():
            db.session.add(IssueStats(issue_id=issue_id, **{field: counts[field] for field in SETTLED_FIELDS}))
    except IntegrityError:  # settled at the same moment by another request: the same counts
        return False
    return True


def _settled_counts(row: IssueStats, later: dict[str, int]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(failed=row.failed, skipped=row.skipped, bounced=later["bounced"], unknown=later["unknown"])
    counts["sent"] = row.sent + row.bounced + row.unknown - later["bounced"] - later["unknown"]
    return counts


def _grouped_counts(ids: list[int], statuses: tuple[str, ...] | None = None) -> dict[int, dict[str, int]]:
    counts = {issue_id: dict.fromkeys(STATUSES, 0) for issue_id in ids}
    if not ids:
        return counts
    query = (select(Delivery.issue_id, Delivery.status, func.count())
             .where(Delivery.issue_id.in_(ids)).group_by(Delivery.issue_id, Delivery.status))
    if statuses:
        query = query.where(Delivery.status.in_(statuses))
    for issue_id, status, count in db.session.execute(query):
        counts[issue_id][status] = count
    return counts


def _feedback_counts(ids: list[int]) -> dict[tuple[int, str], int]:
    """Replies are messages (a reader may write twice); bounces and complaints count once per delivery."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(Feedback.issue_id, Feedback.kind, func.count(), func.count(func.distinct(Feedback.delivery_id)))
        .where(Feedback.issue_id.in_(ids)).group_by(Feedback.issue_id, Feedback.kind)
    )
    return {(issue_id, kind): (messages if kind == "reply" else deliveries)
            for issue_id, kind, messages, deliveries in rows}


def _unsubscribe_counts(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(SubscriptionEvent.issue_id, func.count())
        .where(SubscriptionEvent.issue_id.in_(ids), SubscriptionEvent.kind == "unsubscribed")
        .group_by(SubscriptionEvent.issue_id)
    )
    return dict(rows.all())


def _duration(issue: Issue, now: datetime) -> int | None:
    if issue.started_at is None:
        return None
    end = issue.finished_at or (now if issue.status in (I.SENDING, I.PAUSED) else None)
    return max(0, int((end - issue.started_at).total_seconds())) if end else None
