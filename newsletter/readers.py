"""A newsletter's readers as its publisher sees them: counts by status, a paged list with search, one reader's
page (consent evidence, history, issues received, bounces).

Nothing here changes a reader: the only ways in are the subscribe form (double opt-in) and the consent-checked
import; what a publisher may do on a reader's request lives in reader_requests.py.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from .errors import NotFound
from .extensions import db
from .models import (MAX_ID, Delivery, Feedback, Issue, Newsletter, Subscriber, Subscription, SubscriptionEvent,
                     is_id)
from .states import SubscriptionStatus

PAGE_SIZE = 50
MAX_SEARCH_LENGTH = 254


@dataclass(frozen=True)
class ReaderRow:
    subscription_id: int
    email: str
    name: str
    status: str
    confirmed_at: datetime | None
    source: str


@dataclass(frozen=True)
class ReaderPage:
    rows: list[ReaderRow]
    next_before: int | None  # pass as `before` for the following (older) page; None on the last page


def confirmed_counts(newsletters: list[Newsletter]) -> dict[int, int]:
    """Confirmed readers per newsletter id, in one query (for the dashboard)."""
    ids = [item.id for item in newsletters]
    if not ids:
        return {}
    rows = db.session.execute(
        select(Subscription.newsletter_id, func.count())
        .where(Subscription.newsletter_id.in_(ids), Subscription.status == SubscriptionStatus.CONFIRMED)
        .group_by(Subscription.newsletter_id)
    )
    return {newsletter_id: count for newsletter_id, count in rows}


def reader_page(newsletter: Newsletter, before: int | None = None, status: str | None = None,
                size: int | None = None, search: str | None = None) -> ReaderPage:
    """Newest subscriptions first, `size` at a time, walked by keyset (id < before), never by OFFSET.

    `search` keeps readers whose address or name contains it (any case).
    """
    size = size or PAGE_SIZE
    if before is not None and not 0 < before <= MAX_ID:
        before = None if before > 0 else 1  # past the end: the first page; zero or less: nothing older
    query = (
        select(Subscription, Subscriber.email, Subscriber.name)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(Subscription.newsletter_id == newsletter.id)
        .order_by(Subscription.id.desc())
        .limit(size + 1)
    )
    if before is not None:
        query = query.where(Subscription.id < before)
    if status in {s.value for s in SubscriptionStatus}:
        query = query.where(Subscription.status == status)
    words = " ".join((search or "").replace("\x00", "").split())[:MAX_SEARCH_LENGTH]
    if words:
        pattern = "%" + words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(func.lower(Subscriber.email).like(pattern, escape="\\"),
                                func.lower(Subscriber.name).like(pattern, escape="\\")))
    found = db.session.execute(query).all()
    rows = [_row(subscription, address, name) for subscription, address, name in found[:size]]
    return ReaderPage(rows=rows, next_before=rows[-1].subscription_id if len(found) > size else None)


def _row(subscription: Subscription, address: str, name: str) -> ReaderRow:
    source = subscription.consent_source
    if subscription.imported_from:
        source = f"{source} (import: {subscription.imported_from})"
    return ReaderRow(subscription_id=subscription.id, email=address, name=name, status=subscription.status,
                     confirmed_at=subscription.confirmed_at, source=source)


@dataclass(frozen=True)
class ReaderDetail:
    """One reader of one newsletter, as the publisher's reader page shows them."""

    subscription: Subscription
    wording: str | None
    events: list[SubscriptionEvent]
    received: list[tuple[int, str, str, datetime | None]]  # issue id, subject, delivery status, sent at
    feedback: list[Feedback]


def reader_detail(newsletter: Newsletter, subscription_id: int) -> ReaderDetail:
    """A subscription of this newsletter with its evidence and history; NotFound for any other id."""
    subscription = db.session.get(Subscription, subscription_id) if is_id(subscription_id) else None
    if subscription is None or subscription.newsletter_id != newsletter.id:
        raise NotFound("There is no such reader of this newsletter.")
    events = db.session.scalars(select(SubscriptionEvent).where(SubscriptionEvent.subscription_id == subscription.id)
                                .order_by(SubscriptionEvent.at.desc(), SubscriptionEvent.id.desc())).all()
    received = db.session.execute(
        select(Issue.id, Issue.subject, Delivery.status, Delivery.sent_at)
        .join(Issue, Issue.id == Delivery.issue_id)
        .where(Delivery.subscription_id == subscription.id)
        .order_by(Delivery.id.desc())
    ).all()
    feedback = db.session.scalars(
        select(Feedback).where(Feedback.subscriber_id == subscription.subscriber_id,
                               Feedback.newsletter_id == newsletter.id, Feedback.kind != "reply")
        .order_by(Feedback.id.desc())
    ).all()
    return ReaderDetail(subscription=subscription, wording=subscription.wording.text if subscription.wording else None,
                        events=list(events), received=[tuple(row) for row in received], feedback=list(feedback))
