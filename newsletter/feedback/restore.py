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
from sqlalchemy import delete, exists, func, select

from .. import consent
from ..errors import NotFound, Refused
from ..extensions import db
from ..models import Feedback, Issue, Subscriber, Subscription, SubscriptionEvent, Suppression, User
from ..states import SubscriptionStatus as S
from .parsers import COMPLAINT, HARD_BOUNCE, REFUSAL
from .record import soft_bounced_deliveries_of

BOUNCE_REASONS = ("hard_bounce", "soft_bounces")  # what stop_all_mail wrote for a bounce, in either table
EVER = datetime(1970, 1, 1, tzinfo=timezone.utc)
PAGE_SIZE = 50
SCAN = 200  # candidates read at a time while filling a page
RESTORE_CHUNK = 500  # readers restored at a time by restore_all


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
        found += _assess_many(ids)
        if len(ids) < SCAN:
            break
        cursor = ids[-1]
    more = len(found) > size
    page = found[:size]
    for listed in page:
        listed.refusals = _refusals_of(listed.subscriber.id)
    return page, (found[size - 1].subscriber.id if more else None)


def restore_reader(subscriber_id: int, admin: User) -> int:
    """Put back what a refusal about the sender took from one listed reader; the subscriptions restored.
    Refused if they are no longer listed (something of theirs has stopped mail meanwhile). Flushes."""
    if db.session.get(Subscriber, subscriber_id) is None:
        raise NotFound(_("There is no such reader: perhaps they were erased."))
    listed = _assess(subscriber_id)
    if listed is None:
        raise Refused(_("This reader is no longer listed: something of their own stops their mail now."))
    return _restore([listed], admin)


def restore_all(admin: User) -> tuple[int, int]:
    """Restore every listed reader; (readers, subscriptions) restored. Flushes.

    In chunks of RESTORE_CHUNK readers, a few statements each (10,000 readers one by one took minutes: longer
    than a request may last)."""
    readers = subscriptions = 0
    cursor = 0
    while ids := list(db.session.scalars(_candidates().where(Subscriber.id > cursor).order_by(Subscriber.id)
                                         .limit(RESTORE_CHUNK))):
        listed = _assess_many(ids)
        readers += len(listed)
        subscriptions += _restore(listed, admin)
        cursor = ids[-1]
    return readers, subscriptions


def _restore(listed: list[WronglySuppressed], admin: User) -> int:
    """Lift the instance-wide suppressions their bounces put there, and confirm their subscriptions again."""
    if not listed:
        return 0
    db.session.execute(delete(Suppression).where(
        Suppression.address_hmac.in_([each.subscriber.email_hmac for each in listed]),
        Suppression.newsletter_id.is_(None),
        Suppression.reason.in_(BOUNCE_REASONS)).execution_options(synchronize_session=False))
    note = f"restored by {admin.email}: the bounce that stopped it was a refusal about the sender"
    restored = consent.restore_after_refusal([s for each in listed for s in each.subscriptions], note)
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
    listed = _assess_many([subscriber_id])
    if not listed:
        return None
    listed[0].refusals = _refusals_of(subscriber_id)
    return listed[0]


def _assess_many(subscriber_ids: list[int]) -> list[WronglySuppressed]:
    """The readers among these who are listed, by id (without their refusals: the page reads them), in a few
    queries whatever their number."""
    ids = list(db.session.scalars(_candidates().where(Subscriber.id.in_(subscriber_ids)).order_by(Subscriber.id)))
    if not ids:
        return []
    subscribers = list(db.session.scalars(select(Subscriber).where(Subscriber.id.in_(ids)).order_by(Subscriber.id)))
    hmacs = [subscriber.email_hmac for subscriber in subscribers]
    # Their own mailbox's failures, whenever they came: under the limit, they never sufficed to stop mail.
    soft = soft_bounced_deliveries_of(ids, since=EVER)
    instance_wide = dict(db.session.execute(select(Suppression.address_hmac, Suppression.reason).where(
        Suppression.address_hmac.in_(hmacs), Suppression.newsletter_id.is_(None))).all())
    own_lists = set(db.session.execute(select(Suppression.address_hmac, Suppression.newsletter_id).where(
        Suppression.address_hmac.in_(hmacs), Suppression.newsletter_id.is_not(None))).all())
    bounced = list(db.session.scalars(select(Subscription).where(
        Subscription.subscriber_id.in_(ids), Subscription.status == S.BOUNCED.value).order_by(Subscription.id)))
    last = _last_events([subscription.id for subscription in bounced])
    bounced_of: dict[int, list[Subscription]] = {}
    for subscription in bounced:
        bounced_of.setdefault(subscription.subscriber_id, []).append(subscription)
    listed = []
    for subscriber in subscribers:
        if soft.get(subscriber.id, 0) >= current_app.config["SOFT_BOUNCE_LIMIT"] \
                or instance_wide.get(subscriber.email_hmac, BOUNCE_REASONS[0]) not in BOUNCE_REASONS:
            continue
        restorable = [(subscription, at) for subscription in bounced_of.get(subscriber.id, [])
                      if (at := _bounced_from_confirmed(last.get(subscription.id),
                                                        (subscriber.email_hmac, subscription.newsletter_id)
                                                        in own_lists)) is not None]
        if restorable:
            listed.append(WronglySuppressed(subscriber, min(at for _s, at in restorable),
                                            [s for s, _at in restorable], []))
    return listed


def _last_events(subscription_ids: list[int]) -> dict[int, tuple]:
    """The last event (kind, reason, from_status, at) of each of these subscriptions, in one query."""
    if not subscription_ids:
        return {}
    ranked = select(SubscriptionEvent.subscription_id, SubscriptionEvent.kind, SubscriptionEvent.reason,
                    SubscriptionEvent.from_status, SubscriptionEvent.at,
                    func.row_number().over(partition_by=SubscriptionEvent.subscription_id,
                                           order_by=(SubscriptionEvent.at.desc(), SubscriptionEvent.id.desc()))
                    .label("rank")).where(SubscriptionEvent.subscription_id.in_(subscription_ids)).subquery()
    rows = db.session.execute(select(ranked.c.subscription_id, ranked.c.kind, ranked.c.reason, ranked.c.from_status,
                                     ranked.c.at).where(ranked.c.rank == 1))
    return {subscription_id: rest for subscription_id, *rest in rows}


def _bounced_from_confirmed(last: tuple | None, own_list: bool):
    """When a bounce moved a confirmed subscription to bounced, if that is the last thing that happened to it
    (`last`: its last event) and no suppression list of its newsletter covers the address; else None."""
    if last is None or own_list:
        return None
    kind, reason, from_status, at = last
    if kind != S.BOUNCED.value or reason not in BOUNCE_REASONS or from_status != S.CONFIRMED.value:
        return None
    return at


def _refusals_of(subscriber_id: int) -> list[Refusal]:
    rows = db.session.execute(
        select(Feedback.received_at, Feedback.reason, Feedback.diagnostic, Issue.subject)
        .outerjoin(Issue, Issue.id == Feedback.issue_id)
        .where(Feedback.subscriber_id == subscriber_id, Feedback.kind == REFUSAL)
        .order_by(Feedback.received_at.desc(), Feedback.id.desc()).limit(20))
    return [Refusal(at, reason or "undetermined", diagnostic or "", subject) for at, reason, diagnostic, subject in rows]
