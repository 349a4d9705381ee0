"""What the database already knows about a batch of addresses: read-only, one query per table and batch.

The outcome of a row decides what an import may do with it; leaving is final, so anyone who left this
newsletter or is on the suppression list is skipped whatever the file says.
"""

import json
from dataclasses import dataclass

from sqlalchemy import any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from .. import suppression
from ..extensions import db
from ..models import Subscriber, Subscription, Suppression
from ..states import SubscriptionStatus as S

NEW = "new"  # no subscription to this newsletter: subscribe as confirmed, with the file's evidence
PENDING = "pending"  # asked and never confirmed, never left: confirm with the file's evidence
ALREADY = "already"  # confirmed already: unchanged
SUPPRESSED = "suppressed"  # on the suppression list for this newsletter (erased, bounced, complained...)
LEFT = "left"  # unsubscribed, bounced or complained here: only the person can come back
_LEFT_STATUSES = frozenset((S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED))


@dataclass(frozen=True, slots=True)
class Subscribed:
    """An existing subscription of the newsletter: its id, status and whether the person ever left."""

    id: int
    status: str
    has_left: bool


@dataclass(frozen=True, slots=True)
class Known:
    """The database's answers for one batch of normalised addresses."""

    hmacs: dict[str, str]  # address -> suppression key
    suppressed: frozenset[str]  # suppression keys covering this newsletter
    subscribers: dict[str, tuple[int, str]]  # address -> (subscriber id, name)
    subscriptions: dict[int, Subscribed]  # subscriber id -> subscription of this newsletter

    def outcome(self, address: str) -> str:
        """NEW, PENDING, ALREADY, SUPPRESSED or LEFT for an address of the batch."""
        if self.hmacs[address] in self.suppressed:
            return SUPPRESSED
        subscriber = self.subscribers.get(address)
        subscribed = self.subscriptions.get(subscriber[0]) if subscriber else None
        if subscribed is None:
            return NEW
        if subscribed.status in _LEFT_STATUSES or subscribed.has_left:
            return LEFT
        return ALREADY if subscribed.status == S.CONFIRMED else PENDING


def look_up(newsletter_id: int, addresses: list[str]) -> Known:
    """Suppression, subscriber and subscription facts about these addresses, for one newsletter."""
    hmacs = dict(zip(addresses, suppression.hmacs_of(addresses)))
    suppressed = frozenset(suppressed_among(newsletter_id, list(hmacs.values())))
    subscribers = {
        email: (ident, name)
        for ident, email, name in db.session.execute(
            select(Subscriber.id, Subscriber.email, Subscriber.name).where(among(Subscriber.email, addresses))
        )
    }
    return Known(hmacs, suppressed, subscribers, _subscriptions(newsletter_id, subscribers))


def suppressed_among(newsletter_id: int | None, hmacs: list[str]) -> set[str]:
    """The keys among these that are suppressed for the newsletter (instance-wide only, without one)."""
    query = select(Suppression.address_hmac).where(suppression.covers(newsletter_id))
    if _on_postgresql():
        query = query.where(among(Suppression.address_hmac, hmacs))
    else:  # SQLite would scan the whole list for "IN (json_each) AND (... OR ...)": join the keys instead
        keys = _json_values(hmacs)
        query = query.join_from(keys, Suppression, Suppression.address_hmac == keys.c.value)
    return set(db.session.scalars(query))


def _subscriptions(newsletter_id: int, subscribers: dict[str, tuple[int, str]]) -> dict[int, Subscribed]:
    if not subscribers:
        return {}
    rows = db.session.execute(
        select(Subscription.subscriber_id, Subscription.id, Subscription.status, Subscription.unsubscribed_at)
        .where(Subscription.newsletter_id == newsletter_id,
               among(Subscription.subscriber_id, [ident for ident, _ in subscribers.values()]))
    )
    return {
        subscriber_id: Subscribed(ident, status, unsubscribed_at is not None)
        for subscriber_id, ident, status, unsubscribed_at in rows
    }


def among(column, values: list):
    """SQL condition: column IN values, given as one parameter (an array, or on SQLite a JSON array)."""
    # With one placeholder per value, SQLAlchemy expands thousands of placeholders for every batch and psycopg
    # parses them out of the query text again: three times slower than the lookup itself.
    if _on_postgresql():
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(select(_json_values(values).c.value))


def _json_values(values: list):
    """SQLite: the values as a one-column table ('value'), from one JSON text parameter."""
    return func.json_each(json.dumps(values)).table_valued("value")


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"
