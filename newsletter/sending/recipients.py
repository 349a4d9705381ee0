"""Who may receive an issue: one SQL condition, used when deliveries are created and again at delivery time."""

from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ..models import Subscriber, Subscription, Suppression
from ..states import SubscriptionStatus


def receives_mail(subscription_id, now: datetime) -> ColumnElement[bool]:
    """True for a confirmed, unpaused subscription whose address is not suppressed for its newsletter.

    `subscription_id` is a column or a value: this is the one rule every send path asks.
    """
    subscription = Subscription.__table__.alias("eligible_subscription")
    subscriber = Subscriber.__table__.alias("eligible_subscriber")
    suppression = Suppression.__table__.alias("eligible_suppression")
    suppressed = exists(
        select(suppression.c.id).where(
            suppression.c.address_hmac == subscriber.c.email_hmac,
            or_(suppression.c.newsletter_id.is_(None), suppression.c.newsletter_id == subscription.c.newsletter_id),
        )
    )
    return exists(
        select(subscription.c.id)
        .join(subscriber, subscriber.c.id == subscription.c.subscriber_id)
        .where(
            subscription.c.id == subscription_id,
            subscription.c.status == SubscriptionStatus.CONFIRMED.value,
            or_(subscription.c.paused_until.is_(None), subscription.c.paused_until <= now),
            ~suppressed,
        )
    )


def next_recipients(newsletter_id: int, after_id: int, now: datetime, limit: int):
    """Subscriptions (id, subscriber_id) of the next keyset page of readers who receive mail now."""
    return (
        select(Subscription.id, Subscription.subscriber_id)
        .where(
            and_(
                Subscription.newsletter_id == newsletter_id,
                Subscription.id > after_id,
                Subscription.status == SubscriptionStatus.CONFIRMED.value,
                receives_mail(Subscription.id, now),
            )
        )
        .order_by(Subscription.id)
        .limit(limit)
    )


def count_recipients(newsletter_id: int, now: datetime) -> int:
    """How many readers would receive an issue of this newsletter now (the send's plan, for progress)."""
    from ..extensions import db
    from sqlalchemy import func

    page = next_recipients(newsletter_id, 0, now, None).subquery()
    return db.session.scalar(select(func.count()).select_from(page))
