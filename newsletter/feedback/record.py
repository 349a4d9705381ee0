"""What bounces, complaints, opt-outs and replies do, by their kind (the reason table decided the kind):

- a bounce about the address, or a complaint, suppresses the address for every newsletter at once;
- a soft bounce (the reader's mailbox, for a while, or unclear) counts once per delivery and suppresses after
  SOFT_BOUNCE_LIMIT deliveries within SOFT_BOUNCE_WINDOW_DAYS;
- a refusal about the sender changes nothing for the reader: it is recorded per issue and receiving domain
  for the publisher (and may hold that domain's part of a send, see sending/holds.py);
- an ARF opt-out unsubscribes the reader from that newsletter, the report kept as the evidence;
- replies are counted per issue (their text is not kept).
"""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, func, select

from .. import consent, suppression
from ..addresses import mail_domain, normalise_address
from ..errors import InvalidAddress
from ..extensions import db
from ..mail import identifiers
from ..models import Delivery, Feedback, Issue, Subscriber, Subscription, SubscriptionEvent, utcnow
from ..states import DeliveryStatus as D
from ..states import SubscriptionStatus as S
from ..states import UnsubscribeReason, can_transition
from ..transitions import move, move_record
from .parsers import COMPLAINT, HARD_BOUNCE, OPT_OUT, REFUSAL, REPLY, SOFT_BOUNCE, FeedbackEvent
from .reasons import find_enhanced_status

log = logging.getLogger(__name__)
SEND_TIME_SOURCE = "smtp"  # the feedback's source when the SMTP server refused the message during the send


def record_feedback(event: FeedbackEvent, source: str, *, trusted: bool = False) -> Feedback | None:
    """Store one event and apply its consequences (flushed; the caller commits). None if it names nobody.

    Anyone can send mail to the inbound endpoint, so an inbound event counts only when it carries one of our
    signed identifiers (VERP token or Message-ID). Webhooks whose signature was verified are `trusted`: their
    recipient address alone is enough.
    """
    delivery = _delivery_of(event)
    subscriber = _subscriber_of(event, delivery, trusted)
    if delivery is None and subscriber is None:
        log.info("%s from %s names no delivery and no known reader; ignored", event.kind, source)
        return None
    return _record(event, source, delivery, subscriber)


def record_send_refusal(delivery_id: int, reason: str, reply: str) -> Feedback:
    """A refusal about the sender that the SMTP server answered during the send, kept as a notice's would be
    (flushed; the caller commits): it changes nothing for the reader."""
    delivery = db.session.get(Delivery, delivery_id)
    subscriber = db.session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    event = FeedbackEvent(kind=REFUSAL, recipient=None, status=find_enhanced_status(reply), diagnostic=reply,
                          message_id=None, envelope_token=None, occurred_at=utcnow(), reason=reason)
    return _record(event, SEND_TIME_SOURCE, delivery, subscriber)


def _record(event: FeedbackEvent, source: str, delivery: Delivery | None, subscriber: Subscriber | None) -> Feedback:
    issue = db.session.get(Issue, delivery.issue_id) if delivery else None
    record = Feedback(
        kind=event.kind, source=source, delivery_id=delivery.id if delivery else None,
        issue_id=issue.id if issue else None, newsletter_id=issue.newsletter_id if issue else None,
        subscriber_id=subscriber.id if subscriber else None, status=(event.status or "")[:32] or None,
        reason=event.reason, domain=mail_domain(subscriber.email if subscriber else event.recipient),
        diagnostic=event.diagnostic[:1000] or None, occurred_at=event.occurred_at,
    )
    db.session.add(record)
    db.session.flush()
    if event.kind == HARD_BOUNCE and delivery is not None:
        _mark_delivery_bounced(delivery)
    if subscriber is not None and event.kind not in (REPLY, REFUSAL):
        _consequences(record, subscriber, delivery)
    return record


def _consequences(record: Feedback, subscriber: Subscriber, delivery: Delivery | None) -> None:
    if record.kind == HARD_BOUNCE:
        stop_all_mail(subscriber, "hard_bounce", S.BOUNCED)
    elif record.kind == COMPLAINT:
        stop_all_mail(subscriber, "complaint", S.COMPLAINED)
    elif record.kind == SOFT_BOUNCE and soft_bounced_deliveries(subscriber) >= current_app.config["SOFT_BOUNCE_LIMIT"]:
        stop_all_mail(subscriber, "soft_bounces", S.BOUNCED)
    elif record.kind == OPT_OUT and delivery is not None and delivery.subscription_id is not None:
        subscription = db.session.get(Subscription, delivery.subscription_id)
        # The report is the evidence: which feedback loop said the reader asked to leave, kept with the event.
        consent.unsubscribe(subscription, UnsubscribeReason.FEEDBACK_REPORT,
                            f"opt-out report #{record.id} from {record.diagnostic or record.source}")


def stop_all_mail(subscriber: Subscriber, reason: str, status: S) -> None:
    """Suppress the address instance-wide and move each live subscription to BOUNCED or COMPLAINED."""
    suppression.suppress(subscriber.email_hmac, reason)
    for subscription in subscriber.subscriptions:
        left = subscription.status
        if left != status and can_transition(S, left, status) and move_record(subscription, status):
            db.session.add(SubscriptionEvent(newsletter_id=subscription.newsletter_id, subscription_id=subscription.id,
                                             kind=status.value, reason=reason, from_status=left))
    db.session.flush()


def soft_bounced_deliveries(subscriber: Subscriber, since: datetime | None = None) -> int:
    """Deliveries that soft-bounced within the window (or since `since`): several notices about one message
    count once."""
    return soft_bounced_deliveries_of([subscriber.id], since).get(subscriber.id, 0)


def soft_bounced_deliveries_of(subscriber_ids: list[int], since: datetime | None = None) -> dict[int, int]:
    """soft_bounced_deliveries for many readers in one query: subscriber id -> count (readers with none left out)."""
    since = since or utcnow() - timedelta(days=current_app.config["SOFT_BOUNCE_WINDOW_DAYS"])
    # A verified webhook may name the reader without a delivery: each such notice counts on its own.
    unattributed = func.sum(case((Feedback.delivery_id.is_(None), 1), else_=0))
    rows = db.session.execute(
        select(Feedback.subscriber_id, func.count(func.distinct(Feedback.delivery_id)) + unattributed)
        .where(Feedback.subscriber_id.in_(subscriber_ids), Feedback.kind == SOFT_BOUNCE, Feedback.received_at >= since)
        .group_by(Feedback.subscriber_id))
    return {subscriber_id: count for subscriber_id, count in rows}


def _mark_delivery_bounced(delivery: Delivery) -> None:
    # Only a bounce about the address turns a sent message into a bounced one; the others are counted.
    move(Delivery, D.BOUNCED, Delivery.id == delivery.id, updated_at=utcnow())  # from SENT or UNKNOWN only


def _delivery_of(event: FeedbackEvent) -> Delivery | None:
    secret = current_app.config["SECRET_KEY"].encode()
    delivery_id = (identifiers.delivery_of_verp_token(secret, event.envelope_token)
                   or identifiers.delivery_of_message_id(secret, event.message_id))
    return db.session.get(Delivery, delivery_id) if delivery_id else None


def _subscriber_of(event: FeedbackEvent, delivery: Delivery | None, trusted: bool) -> Subscriber | None:
    if delivery is not None and delivery.subscriber_id is not None:
        return db.session.get(Subscriber, delivery.subscriber_id)
    # A bounce of a confirmation or welcome mail names its reader in the signed VERP token.
    reader = identifiers.subscriber_of_verp_token(current_app.config["SECRET_KEY"].encode(), event.envelope_token)
    if reader is not None:
        return db.session.get(Subscriber, reader)
    if not trusted or event.kind == REPLY or not event.recipient:
        return None  # a forged bounce must not be able to stop someone's mail
    try:
        address = normalise_address(event.recipient)
    except InvalidAddress:
        return None
    return db.session.scalar(select(Subscriber).where(Subscriber.email == address))
