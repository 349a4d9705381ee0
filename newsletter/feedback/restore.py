"""Readers whom a refusal about the sender suppressed in the past, and putting back what it took.

Before bounces were read by reason, a refusal about the sender (a DKIM slip, a blocklist) could suppress a
living reader. Migration 0007 classified the stored bounces again; the readers such a refusal suppressed are
not re-subscribed silently: the admin page lists them with the evidence, and the admin decides.

A reader is listed when a refusal about the sender is on record for them, a subscription of theirs is
`bounced`, and nothing of their own asked for the stop: no bounce about the address (unknown user or
domain), no complaint, not enough soft bounces of their own mailbox to reach SOFT_BOUNCE_LIMIT, and no
instance-wide suppression for another cause (erasure, complaint, import). A restore lifts the instance-wide
suppression that bounce put there and moves back to `confirmed` each subscription that was confirmed just
before it and has not changed since (not one the reader had left or never confirmed, nor one a publisher's
own suppression list covers), each with an event naming the admin.
"""

from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, exists, select

from .. import consent
from ..errors import NotFound, Refused
from ..extensions import db
from ..models import Feedback, Issue, Subscriber, Subscription, SubscriptionEvent, Suppression, User
from ..states import SubscriptionStatus as S
from .parsers import COMPLAINT, HARD_BOUNCE, REFUSAL
from .record import soft_bounced_deliveries

BOUNCE_REASONS = ("hard_bounce", "soft_bounces")  # what stop_all_mail wrote for a bounce, in either table
EVER = datetime(1970, 1, 1, tzinfo=timezone.utc)
PAGE_SIZE = 50
SCAN = 200  # candidates read at a time while filling a page


@dataclass
class Refusal:
    """One piece of evidence: a stored bounce now known to be a refusal about the sender."""

    received_at: object
    reason: str
    diagnostic: str
    issue_subject: str | None


@dataclass
class WronglySuppressed:
    subscriber: Subscriber
    suppressed_at: object  # when the bounce moved a subscription to bounced
    subscriptions: list[Subscription]  # what a restore moves back to confirmed
    refusals: list[Refusal]


def suppressed_by_refusals(after: int = 0, size: int = PAGE_SIZE) -> tuple[list[WronglySuppressed], int | None]:
    """One page of listed readers, by subscriber id after `after`, and the cursor of the next page (or None)."""
    found: list[WronglySuppressed] = []
    cursor = after
    while len(found) <= size:
        ids = list(db.session.scalars(_candidates().where(Subscriber.id > cursor).order_by(Subscriber.id)
                                      .limit(SCAN)))
        found += [listed for listed in map(_assess, ids) if listed is not None]
        if len(ids) < SCAN:
            break
        cursor = ids[-1]
    more = len(found) > size
    return found[:size], (found[size - 1].subscriber.id if more else None)


def restore_reader(subscriber_id: int, admin: User) -> int:
    """Put back what a refusal about the sender took from one listed reader; the subscriptions restored.
    Refused if they are no longer listed (something of theirs has stopped mail meanwhile). Flushes."""
    if db.session.get(Subscriber, subscriber_id) is None:
        raise NotFound(_("There is no such reader: perhaps they were erased."))
    listed = _assess(subscriber_id)
    if listed is None:
        raise Refused(_("This reader is no longer listed: something of their own stops their mail now."))
    return _restore(listed, admin)


def restore_all(admin: User) -> tuple[int, int]:
    """Restore every listed reader; (readers, subscriptions) restored. Flushes."""
    readers = subscriptions = 0
    after = 0
    while True:
        page, after = suppressed_by_refusals(after)
        for listed in page:
            readers += 1
            subscriptions += _restore(listed, admin)
        if after is None:
            return readers, subscriptions


def _restore(listed: WronglySuppressed, admin: User) -> int:
    db.session.execute(delete(Suppression).where(
        Suppression.address_hmac == listed.subscriber.email_hmac, Suppression.newsletter_id.is_(None),
        Suppression.reason.in_(BOUNCE_REASONS)).execution_options(synchronize_session=False))
    note = f"restored by {admin.email}: the bounce that stopped it was a refusal about the sender"
    restored = sum(consent.restore_after_refusal(subscription, note) for subscription in listed.subscriptions)
    db.session.flush()
    return restored


def _candidates():
    """Subscribers with a refusal about the sender on record, a bounced subscription, no bounce about the
    address and no complaint (the cheap conditions; _assess checks the rest)."""
    def has(*kinds):
        return exists().where(Feedback.subscriber_id == Subscriber.id, Feedback.kind.in_(kinds))

    bounced = exists().where(Subscription.subscriber_id == Subscriber.id, Subscription.status == S.BOUNCED.value)
    return select(Subscriber.id).where(has(REFUSAL), bounced, ~has(HARD_BOUNCE, COMPLAINT))


def _assess(subscriber_id: int) -> WronglySuppressed | None:
    """The reader as listed, or None when something of their own stops their mail."""
    if db.session.scalar(_candidates().where(Subscriber.id == subscriber_id)) is None:
        return None
    subscriber = db.session.get(Subscriber, subscriber_id)
    # Their own mailbox's failures, whenever they came: under the limit, they never sufficed to stop mail.
    if soft_bounced_deliveries(subscriber, since=EVER) >= current_app.config["SOFT_BOUNCE_LIMIT"]:
        return None
    instance_wide = db.session.scalar(select(Suppression.reason).where(
        Suppression.address_hmac == subscriber.email_hmac, Suppression.newsletter_id.is_(None)))
    if instance_wide is not None and instance_wide not in BOUNCE_REASONS:
        return None
    restorable = [(subscription, at) for subscription in subscriber.subscriptions
                  if (at := _bounced_from_confirmed(subscription)) is not None]
    if not restorable:
        return None
    return WronglySuppressed(subscriber, min(at for _s, at in restorable), [s for s, _at in restorable],
                             _refusals_of(subscriber_id))


def _bounced_from_confirmed(subscription: Subscription):
    """When a bounce moved this confirmed subscription to bounced, if that is the last thing that happened to
    it and no suppression list of its newsletter covers the address; else None."""
    if subscription.status != S.BOUNCED:
        return None
    last = db.session.scalar(select(SubscriptionEvent).where(SubscriptionEvent.subscription_id == subscription.id)
                             .order_by(SubscriptionEvent.at.desc(), SubscriptionEvent.id.desc()).limit(1))
    if last is None or last.kind != S.BOUNCED.value or last.reason not in BOUNCE_REASONS \
            or last.from_status != S.CONFIRMED.value:
        return None
    own_list = db.session.scalar(select(exists().where(
        Suppression.address_hmac == subscription.subscriber.email_hmac,
        Suppression.newsletter_id == subscription.newsletter_id)))
    return None if own_list else last.at


def _refusals_of(subscriber_id: int) -> list[Refusal]:
    rows = db.session.execute(
        select(Feedback.received_at, Feedback.reason, Feedback.diagnostic, Issue.subject)
        .outerjoin(Issue, Issue.id == Feedback.issue_id)
        .where(Feedback.subscriber_id == subscriber_id, Feedback.kind == REFUSAL)
        .order_by(Feedback.received_at.desc(), Feedback.id.desc()).limit(20))
    return [Refusal(at, reason or "undetermined", diagnostic or "", subject) for at, reason, diagnostic, subject in rows]
