"""The deliveries table as a ledger: deliveries are created page by page, claimed under a lease, and each
one moves QUEUED -> SENDING -> SENT (or FAILED, UNKNOWN, back to QUEUED for a retry) by conditional updates.

Exactly once, the argument: a delivery is marked SENDING, and that mark committed, before its message goes to
the SMTP server; only the holder of its claim (`lease_owner`) can mark it, and every later mark of the holder
(SENT, a retry back to QUEUED, a give-back) is conditional on the row being SENDING and still its own; just
before each message goes, the holder re-reads that the row is still SENDING and its own. A row left in SENDING
by a holder that died becomes UNKNOWN and is never sent again. Rows are marked a window at a time (SEND_WINDOW,
default 16), one window per SMTP connection (SEND_CONNECTIONS: each connection finishes its window before it
asks for another, and the SENT marks of the window before are written in the same transaction as the next
window's SENDING marks; sending/parallel.py), so a crash costs at most SEND_WINDOW x SEND_CONNECTIONS messages
(recorded UNKNOWN: maybe sent, maybe not), never a duplicate.

A holder is dead when its heartbeat (sending/heartbeats.py) is older than SEND_HEARTBEAT_GRACE, when it ran on
this machine and its process is gone, or, as a backstop for a holder that beats but is stuck, when its lease
(SEND_LEASE_SECONDS) ran out. Its QUEUED claims are then free for any sender and its SENDING rows become
UNKNOWN, on the same pass. A holder wrongly thought dead (a frozen process that wakes up) cannot double
anyone: its SENDING rows are UNKNOWN, which it cannot change, its QUEUED rows carry another owner, which it
cannot mark, and its re-read before the next message stops it.
"""

import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..database import FastStatement
from ..extensions import db
from ..models import Delivery, Issue, Subscriber, Subscription, UTCDateTime, utcnow
from ..states import DeliveryStatus as D
from ..states import IssueStatus
from ..transitions import initial, move, transition
from .heartbeats import live_owners
from .recipients import next_recipients, receives_mail


@dataclass(frozen=True)
class ClaimedReader:
    delivery_id: int
    subscription_id: int
    subscription_nonce: str
    subscriber_id: int
    subscriber_nonce: str
    email: str
    name: str
    confirmed_at: datetime
    consent_source: str
    attempts: int


def enqueue_page(issue_id: int, size: int) -> int | None:
    """Create deliveries for the next page of eligible readers (one INSERT ... SELECT); return how many, or None
    when another worker is doing it right now (it holds the issue's row: nobody waits for it)."""
    now = utcnow()
    issue = db.session.execute(
        select(Issue).where(Issue.id == issue_id).with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if issue is None:
        db.session.commit()
        return None
    if issue.enqueue_done or issue.status != IssueStatus.SENDING:
        db.session.commit()
        return 0
    page = next_recipients(issue.newsletter_id, issue.enqueue_cursor, now, size).subquery()
    count, last_id = db.session.execute(select(func.count(), func.max(page.c.id))).one()
    if count:
        rows = select(literal(issue_id), page.c.id, page.c.subscriber_id, literal(initial(D.QUEUED)), literal(0),
                      literal(now, UTCDateTime()), literal(now, UTCDateTime())).where(page.c.id <= last_id)
        insert = (postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert)(Delivery)
        db.session.execute(
            insert.from_select(["issue_id", "subscription_id", "subscriber_id", "status", "attempts",
                                "next_attempt_at", "updated_at"], rows)
            .on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"])
        )
        issue.enqueue_cursor = last_id
        issue.recipients += count
    issue.enqueue_done = count < size
    db.session.commit()
    return count


def queue_is_low(issue_id: int, rows: int) -> bool:
    """Fewer than `rows` deliveries of the issue wait in the queue (an index range of at most `rows` entries)."""
    waiting = select(Delivery.id).where(Delivery.issue_id == issue_id, Delivery.status == D.QUEUED.value).limit(rows)
    count = db.session.scalar(select(func.count()).select_from(waiting.subquery()))
    db.session.commit()
    return count < rows


def claim_batch(issue_id: int, owner: str, size: int, lease: timedelta, grace: timedelta) -> list[int]:
    """Take a lease on up to `size` due QUEUED deliveries nobody alive holds: unclaimed, their lease run out, or
    their holder's heartbeat older than `grace` (SKIP LOCKED on PostgreSQL). Commits."""
    now = utcnow()
    free = (
        select(Delivery.id)
        .where(
            Delivery.issue_id == issue_id,
            Delivery.status == D.QUEUED.value,
            Delivery.next_attempt_at <= now,
            Delivery.lease_until.is_(None) | (Delivery.lease_until < now)
            | Delivery.lease_owner.not_in(live_owners(now, grace).scalar_subquery()),
        )
        .order_by(Delivery.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    claimed = db.session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(free.scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed)


def load_readers(delivery_ids: list[int]) -> list[ClaimedReader]:
    """What a message needs about each claimed delivery (a delivery whose reader was erased has none).

    Three lookups by primary key, joined here: as one joined query, PostgreSQL reads the whole subscriptions
    and subscribers tables into hash tables while they are small enough to look cheap (11 ms a batch at 20,000
    readers, against 0.5 ms this way).
    """
    if not delivery_ids:
        return []
    deliveries = db.session.execute(
        select(Delivery.id, Delivery.subscription_id, Delivery.subscriber_id, Delivery.attempts)
        .where(Delivery.id.in_(delivery_ids))
        .order_by(Delivery.id)
    ).all()
    subscriptions = {row.id: row for row in db.session.execute(
        select(Subscription.id, Subscription.token_nonce, Subscription.confirmed_at, Subscription.consent_source)
        .where(Subscription.id.in_({row.subscription_id for row in deliveries}))
    )}
    subscribers = {row.id: row for row in db.session.execute(
        select(Subscriber.id, Subscriber.token_nonce, Subscriber.email, Subscriber.name)
        .where(Subscriber.id.in_({row.subscriber_id for row in deliveries}))
    )}
    db.session.commit()
    readers = []
    for delivery_id, subscription_id, subscriber_id, attempts in deliveries:
        subscription, subscriber = subscriptions.get(subscription_id), subscribers.get(subscriber_id)
        if subscription is not None and subscriber is not None:
            readers.append(ClaimedReader(delivery_id, subscription.id, subscription.token_nonce, subscriber.id,
                                         subscriber.token_nonce, subscriber.email, subscriber.name,
                                         subscription.confirmed_at, subscription.consent_source, attempts))
    return readers


def recover_stale(now: datetime, grace: timedelta, lease_grace: timedelta) -> int:
    """SENDING rows whose holder died become UNKNOWN (maybe sent: never resent): its heartbeat is older than
    `grace`, or its lease ran out more than `lease_grace` ago. Commits."""
    # Only issues that can still have SENDING rows (one is marked sent once none is left): the deliveries of
    # every past issue would otherwise be read on each pass.
    unsettled = select(Issue.id).where(Issue.status.in_([IssueStatus.SENDING.value, IssueStatus.PAUSED.value,
                                                          IssueStatus.CANCELLED.value]))
    moved = move(Delivery, D.UNKNOWN, Delivery.issue_id.in_(unsettled.scalar_subquery()),
                 (Delivery.lease_until < now - lease_grace)
                 | Delivery.lease_owner.not_in(live_owners(now, grace).scalar_subquery()),
                 from_=[D.SENDING], lease_until=None, updated_at=now,
                 smtp_reply="the sender stopped while this message was being handed over; not resent")
    db.session.commit()
    return moved


def release(delivery_ids: list[int], owner: str) -> None:
    """Give back claimed rows that were not started (pause, cancel, server down). Commits."""
    if delivery_ids:
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids), Delivery.status == D.QUEUED.value, Delivery.lease_owner == owner)
            .values(lease_until=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


def unfinished(issue_id: int) -> bool:
    """True while some delivery of the issue is QUEUED or SENDING."""
    return db.session.scalar(
        select(exists().where(Delivery.issue_id == issue_id, Delivery.status.in_([D.QUEUED.value, D.SENDING.value])))
    )


def counts_by_status(issue_id: int) -> dict[str, int]:
    """Deliveries of an issue per status (for progress and statistics)."""
    rows = db.session.execute(
        select(Delivery.status, func.count()).where(Delivery.issue_id == issue_id).group_by(Delivery.status)
    ).all()
    return {status: count for status, count in rows}


class Start(Enum):
    STARTED = "started"  # marked SENDING: the message may go
    SKIPPED = "skipped"  # the reader no longer receives mail (left, paused, suppressed): marked SKIPPED
    HALTED = "halted"  # the issue is no longer sending, or another worker holds the row


@dataclass
class Window:
    """What opening a window did to its rows."""

    started: set[int]  # marked SENDING
    skipped: set[int]  # the reader no longer receives mail: marked SKIPPED
    halted: bool  # some rows could not start: the issue stopped sending, or another worker holds them


class HotLedger:
    """The marks of the send path, written a window of messages at a time.

    Opening a window marks its rows SENDING (and the previous window's handed-over messages SENT) in one
    transaction, re-checking that each reader still receives mail and that the issue is still sending. Before
    each message goes, a read re-checks the same, so an unsubscribe, a suppression or a pause takes effect
    before the next message, as with a mark per message. Writing one transaction per window instead of per
    message is what lets the send path keep up with the SMTP server; the price is that a crash leaves up to
    one window of rows per connection SENDING, recorded UNKNOWN. Only the sender's own thread uses it.

    Every statement is a FastStatement (compiled once, run on the DB-API cursor): SQLAlchemy's per-call work
    costs more than the statements. On PostgreSQL the connection is in autocommit, so that the read before each
    message is one round trip, and opening a window is one statement (data-modifying CTEs).
    """

    def __init__(self, connection: Connection, owner: str, issue_id: int):
        self.connection = connection
        self.cursor = connection.connection.driver_connection.cursor()
        self.postgres = connection.dialect.name == "postgresql"
        self.ours = dict(owner=owner, sending_issue=issue_id)
        self.sent: list[int] = []  # handed over, not yet marked SENT
        self.statements = _statements(connection.dialect)

    def open_window(self, delivery_ids: list[int]) -> Window:
        """Mark the window's rows SENDING, or SKIPPED for readers who no longer receive mail."""
        now, ids = utcnow(), self._ids(delivery_ids)
        if self.postgres:
            rows = self._run("window", ids=ids, sent_ids=self._ids(self.sent), now=now)
            self.sent = []
        else:
            with self._transaction():
                self._write_sent()
                rows = self._run("start", ids=ids, now=now) + self._run("skip", ids=ids, now=now)
        started = {delivery_id for delivery_id, kind in rows if kind == D.SENDING.value}
        skipped = {delivery_id for delivery_id, kind in rows if kind == D.SKIPPED.value}
        return Window(started, skipped, halted=len(started) + len(skipped) < len(delivery_ids))

    def still_due(self, delivery_id: int) -> Start:
        """Just before a SENDING row's message goes: may it still go? SKIPPED and HALTED are written."""
        now = utcnow()
        if self._run("due", delivery_id=delivery_id, now=now):
            return Start.STARTED
        dropped = self._run("drop", delivery_id=delivery_id, now=now)
        return Start.SKIPPED if dropped else Start.HALTED

    def abandon(self, delivery_ids: list[int]) -> None:
        """SENDING rows whose message was never handed over go back to QUEUED, the attempt uncounted."""
        if delivery_ids:
            with self._transaction():
                self._write_sent()
                self._run("abandon", ids=self._ids(delivery_ids), now=utcnow())

    def sent_ok(self, delivery_id: int) -> None:
        """Remember a SENT mark; written when the next window opens, or by flush()."""
        self.sent.append(delivery_id)

    def flush(self) -> None:
        """Write the pending SENT marks now."""
        self._write_sent()

    def finish(self, delivery_id: int, status: D, code: int | None, reply: str,
               retry_at: datetime | None = None, count_attempt: bool = True) -> None:
        """Record a failure, a retry (back to QUEUED at retry_at), an UNKNOWN or a HELD, for a SENDING row."""
        now = utcnow()
        with self._transaction():
            self._write_sent()
            self._run(f"finish_{status.value}", delivery_id=delivery_id, now=now, code=code,
                      reply=reply[:1000], retry_at=retry_at or now, uncount=0 if count_attempt else 1,
                      keep_lease=status != D.QUEUED)

    def _write_sent(self) -> None:
        if self.sent:
            self._run("sent", ids=self._ids(self.sent), now=utcnow())
            self.sent = []

    def _run(self, name: str, **values) -> list:
        return self.statements[name].rows(self.cursor, **self.ours, **values)

    def _ids(self, delivery_ids: list[int]):
        # A list of ids is one parameter, so that each statement's SQL never changes: an array on PostgreSQL,
        # JSON read by json_each() on SQLite.
        return list(delivery_ids) if self.postgres else json.dumps(delivery_ids)

    @contextmanager
    def _transaction(self):
        self.cursor.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.cursor.execute("ROLLBACK")
            raise
        self.cursor.execute("COMMIT")


_STATEMENTS: dict[str, dict] = {}


def _statements(dialect) -> dict:
    """The hot path's statements, built once per dialect with bound parameters."""
    if dialect.name not in _STATEMENTS:
        _STATEMENTS[dialect.name] = _build_statements(dialect)
    return _STATEMENTS[dialect.name]


def _build_statements(dialect) -> dict:
    now = bindparam("now", type_=UTCDateTime())
    ours = Delivery.lease_owner == bindparam("owner")
    this_one = Delivery.id == bindparam("delivery_id")
    eligible = and_(receives_mail(Delivery.subscription_id, now), _issue_is_sending())
    ineligible = and_(~receives_mail(Delivery.subscription_id, now), _issue_is_sending())
    left = "not sent: the reader left, paused or was suppressed before their turn"
    # Each mark is a statement of the transition table (transitions.transition), built once: the status
    # written and the status it is written over are the table's, and the prepared path only runs them.
    start = (transition(Delivery, D.SENDING, _among(dialect, "ids"), ours, eligible, from_=[D.QUEUED],
                        attempts=Delivery.attempts + 1, updated_at=now)
             .returning(Delivery.id, Delivery.status))
    skip = (transition(Delivery, D.SKIPPED, _among(dialect, "ids"), ours, ineligible, from_=[D.QUEUED],
                       lease_until=None, updated_at=now, smtp_reply=left)
            .returning(Delivery.id, Delivery.status))

    def sent(ids: str):
        return transition(Delivery, D.SENT, _among(dialect, ids), ours, from_=[D.SENDING], sent_at=now,
                          smtp_code=250, lease_until=None, updated_at=now)

    def finish(status: D):
        # One statement per outcome, so that each is checked against the table (the SQL is the same but for
        # the status written).
        return transition(Delivery, status, this_one, ours, from_=[D.SENDING], smtp_code=bindparam("code"),
                          smtp_reply=bindparam("reply"), updated_at=now,
                          next_attempt_at=bindparam("retry_at", type_=UTCDateTime()),
                          attempts=Delivery.attempts - bindparam("uncount", type_=Integer()),
                          lease_until=case((bindparam("keep_lease", type_=Boolean()), Delivery.lease_until),
                                           else_=None))

    statements = dict(
        start=start,
        skip=skip,
        sent=sent("ids"),
        # Still SENDING and ours: a holder taken over (thought dead, then woken up) stops here.
        due=select(Delivery.id).where(this_one, Delivery.status == D.SENDING.value, ours, eligible),
        drop=(transition(Delivery, D.SKIPPED, this_one, ours, ineligible, from_=[D.SENDING],
                         attempts=Delivery.attempts - 1, lease_until=None, updated_at=now, smtp_reply=left)
              .returning(Delivery.id)),
        abandon=transition(Delivery, D.QUEUED, _among(dialect, "ids"), ours, from_=[D.SENDING],
                           attempts=Delivery.attempts - 1, updated_at=now),
        **{f"finish_{status.value}": finish(status) for status in (D.FAILED, D.QUEUED, D.UNKNOWN, D.HELD, D.SKIPPED)},
    )
    if dialect.name == "postgresql":
        # One round trip and one transaction per window: the previous window's SENT marks, then this one's
        # SENDING or SKIPPED marks (disjoint rows; all three see the same snapshot).
        started, skipped = start.cte("started"), skip.cte("skipped")
        statements["window"] = (
            select(started.c.id, started.c.status)
            .union_all(select(skipped.c.id, skipped.c.status))
            .add_cte(sent("sent_ids").returning(Delivery.id).cte("sent"))
        )
    return {name: FastStatement(statement, dialect) for name, statement in statements.items()}


def _among(dialect, name: str):
    """Delivery.id is one of a list given as one parameter (see HotLedger._ids)."""
    if dialect.name == "postgresql":
        return Delivery.id == any_(bindparam(name, type_=postgresql.ARRAY(BigInteger())))
    each = func.json_each(bindparam(name, type_=String())).table_valued("value")
    return Delivery.id.in_(select(each.c.value))


def _issue_is_sending():
    # Not correlated with the delivery row: PostgreSQL evaluates it once per statement, instead of turning it
    # into a join that starts from the issue and walks all of its queued deliveries (which, with statistics
    # taken before the send filled the table, it believes to be few).
    return exists().where(Issue.id == bindparam("sending_issue"), Issue.status == IssueStatus.SENDING.value)
