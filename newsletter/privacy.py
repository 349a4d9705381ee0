"""What a reader can ask about their own data: everything held about them, as JSON."""

from sqlalchemy import select

from .extensions import db
from .models import Delivery, Feedback, Issue, Newsletter, Subscriber, Subscription, SubscriptionEvent

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
        "issues_sent": received_issues(subscriber),
        "bounces_and_complaints": [
            {"kind": f.kind, "status": f.status, "diagnostic": f.diagnostic, "at": _iso(f.received_at)}
            for f in db.session.scalars(select(Feedback).where(Feedback.subscriber_id == subscriber.id,
                                                               Feedback.kind != "reply").order_by(Feedback.id))
        ],
    }


def received_issues(subscriber: Subscriber) -> list[dict]:
    """Which issues went to this person, and what the mail server answered."""
    rows = db.session.execute(
        select(Newsletter.slug, Issue.subject, Delivery.status, Delivery.sent_at)
        .join(Issue, Issue.id == Delivery.issue_id)
        .join(Newsletter, Newsletter.id == Issue.newsletter_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id)
    ).all()
    return [{"newsletter": slug, "subject": subject, "status": status, "sent_at": _iso(sent_at)}
            for slug, subject, status, sent_at in rows]
