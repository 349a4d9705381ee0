"""What a reader can ask about their own data: everything held about them, as JSON."""

from sqlalchemy import select

from .extensions import db
from .models import Subscriber, Subscription, SubscriptionEvent

EVIDENCE_FIELDS = ("consent_at", "consent_ip", "consent_source", "confirmed_at", "confirm_ip",
                   "imported_from", "imported_at")


def _iso(value):
    return value.isoformat() if value is not None else None


def subscription_record(subscription: Subscription) -> dict:
    """One subscription with its consent evidence (what, when, where from, which words)."""
    record = {
        "newsletter": {"slug": subscription.newsletter.slug, "name": subscription.newsletter.name},
        "status": subscription.status,
        "consent_wording": subscription.wording.text if subscription.wording else None,
        "paused_until": _iso(subscription.paused_until),
        "unsubscribed_at": _iso(subscription.unsubscribed_at),
        "unsubscribe_reason": subscription.unsubscribe_reason,
    }
    for field in EVIDENCE_FIELDS:
        value = getattr(subscription, field)
        record[field] = _iso(value) if hasattr(value, "isoformat") else value
    return record


def personal_data(subscriber: Subscriber) -> dict:
    """Everything held about a person, for the 'download my data' link."""
    events = db.session.scalars(
        select(SubscriptionEvent)
        .join(Subscription, SubscriptionEvent.subscription_id == Subscription.id)
        .where(Subscription.subscriber_id == subscriber.id)
        .order_by(SubscriptionEvent.at, SubscriptionEvent.id)
    ).all()
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "created_at": _iso(subscriber.created_at),
        "subscriptions": [subscription_record(s) for s in subscriber.subscriptions],
        "history": [
            {"newsletter": e.newsletter.slug, "event": e.kind, "reason": e.reason, "at": _iso(e.at)}
            for e in events
        ],
    }
