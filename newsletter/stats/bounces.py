"""Bounces by what they mean: per reason group (address, reader temporary, sender-side, unclear) and the
sender-side refusals per receiving domain and reason, so a publisher reads "outlook.com refuses your mail
because of authentication" rather than "412 hard bounces".
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ..extensions import db
from ..feedback.parsers import HARD_BOUNCE, REFUSAL, SOFT_BOUNCE
from ..feedback.reasons import Group, group_of
from ..models import Feedback

BOUNCE_KINDS = (HARD_BOUNCE, SOFT_BOUNCE, REFUSAL)
GROUPS = tuple(group.value for group in Group)
MAX_DOMAINS = 50


@dataclass(frozen=True)
class DomainRefusals:
    """How many deliveries one receiving domain refused for one sender-side reason, with one example reply."""

    domain: str
    reason: str
    deliveries: int
    example: str


def groups_by_issue(issue_ids: list[int]) -> dict[int, dict[str, int]]:
    """Bounced deliveries of each issue per reason group (a delivery counted once per reason)."""
    counts = {issue_id: dict.fromkeys(GROUPS, 0) for issue_id in issue_ids}
    if not issue_ids:
        return counts
    rows = db.session.execute(
        select(Feedback.issue_id, Feedback.reason, func.count(func.distinct(Feedback.delivery_id)))
        .where(Feedback.issue_id.in_(issue_ids), Feedback.kind.in_(BOUNCE_KINDS))
        .group_by(Feedback.issue_id, Feedback.reason)
    )
    for issue_id, reason, deliveries in rows:
        counts[issue_id][group_of(reason or "").value] += deliveries
    return counts


def sender_refusals(*where) -> list[DomainRefusals]:
    """Sender-side refusals per receiving domain and reason, the most frequent first (feedback rows `where`)."""
    rows = db.session.execute(
        select(Feedback.domain, Feedback.reason, func.count(func.distinct(Feedback.delivery_id)),
               func.max(Feedback.diagnostic))
        .where(Feedback.kind == REFUSAL, *where)
        .group_by(Feedback.domain, Feedback.reason)
        .order_by(func.count(func.distinct(Feedback.delivery_id)).desc(), Feedback.domain)
        .limit(MAX_DOMAINS)
    )
    return [DomainRefusals(domain or "?", reason or "undetermined", count, example or "")
            for domain, reason, count, example in rows]


def refusals_of_issue(issue_id: int) -> list[DomainRefusals]:
    """An issue's sender-side refusals per receiving domain."""
    return sender_refusals(Feedback.issue_id == issue_id)


def refusals_of_newsletter(newsletter_id: int, since: datetime) -> list[DomainRefusals]:
    """A newsletter's sender-side refusals per receiving domain since a date."""
    return sender_refusals(Feedback.newsletter_id == newsletter_id, Feedback.received_at >= since)


def refusal_record(refusal: DomainRefusals) -> dict:
    """One domain's refusals, flat (API and CSV)."""
    return {"domain": refusal.domain, "reason": refusal.reason, "group": group_of(refusal.reason).value,
            "deliveries": refusal.deliveries, "example": refusal.example}
