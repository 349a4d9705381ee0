"""The deliveries table as a ledger: deliveries are created page by page, claimed under a lease, and each
one moves QUEUED -> SENDING -> SENT (or FAILED, UNKNOWN, back to QUEUED for a retry) by conditional updates.

Exactly once, the argument: a delivery is marked SENDING, and that mark committed, before its message goes to
the SMTP server; only the lease holder can mark it; a row left in SENDING by a crash becomes UNKNOWN and is
never sent again. So a crash costs at most the message in flight (recorded UNKNOWN), never a duplicate, and a
QUEUED row whose worker died is claimed again when its lease runs out.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import Boolean, Integer, and_, bindparam, case, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..extensions import db
from ..models import Delivery, Issue, Subscriber, Subscription, UTCDateTime, utcnow
from ..states import DeliveryStatus as D
from ..states import IssueStatus
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


def enqueue_page(issue_id: int, size: int) -> int:
    """Create deliveries for the next page of eligible readers (one INSERT ... SELECT); return how many."""
    now = utcnow()
    issue = db.session.execute(select(Issue).where(Issue.id == issue_id).with_for_update()).scalar_one()
    if issue.enqueue_done or issue.status != IssueStatus.SENDING:
        db.session.commit()
        return 0
    page = next_recipients(issue.newsletter_id, issue.enqueue_cursor, now, size).subquery()
    count, last_id = db.session.execute(select(func.count(), func.max(page.c.id))).one()
    if count:
        rows = select(literal(issue_id), page.c.id, page.c.subscriber_id, literal(D.QUEUED.value), literal(0),
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


def claim_batch(issue_id: int, owner: str, size: int, lease: timedelta) -> list[int]:
    """Take a lease on up to `size` due QUEUED deliveries nobody holds (SKIP LOCKED on PostgreSQL). Commits."""
    now = utcnow()
    free = (
        select(Delivery.id)
        .where(
            Delivery.issue_id == issue_id,
            Delivery.status == D.QUEUED.value,
            Delivery.next_attempt_at <= now,
            (Delivery.lease_until.is_(None)) | (Delivery.lease_until < now),
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
    """What a message needs about each claimed delivery, in one query."""
    if not delivery_ids:
        return []
    rows = db.session.execute(
        select(Delivery.id, Subscription.id, Subscription.token_nonce, Subscriber.id, Subscriber.token_nonce,
               Subscriber.email, Subscriber.name, Subscription.confirmed_at, Subscription.consent_source,
               Delivery.attempts)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.id.in_(delivery_ids))
        .order_by(Delivery.id)
    ).all()
    db.session.commit()
    return [ClaimedReader(*row) for row in rows]


def recover_stale(now: datetime, grace: timedelta) -> int:
    """SENDING rows whose holder vanished become UNKNOWN (maybe sent: never resent). Commits."""
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.status == D.SENDING.value, Delivery.lease_until < now - grace)
        .values(status=D.UNKNOWN.value, lease_until=None, updated_at=now,
                smtp_reply="the sender stopped while this message was being handed over; not resent")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


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


class HotLedger:
    """Per-message marks with one statement per message, compiled once and run on the DB-API cursor.

    Building and executing SQL through the ORM per message costs more than sending the message, so the hot
    statement is compiled once (FastStatement). It marks the previous message SENT and the next one SENDING
    in one autocommitted statement, which re-checks that the reader still receives mail and that the issue is
    still sending: an unsubscribe or a pause takes effect before the next message.
    """

    def __init__(self, connection: Connection, owner: str):
        self.connection = connection
        self.owner = owner
        self.postgres = connection.dialect.name == "postgresql"
        self.sent: int | None = None  # the last message handed over, not yet marked SENT
        self.statements = _statements(connection.dialect)

    def start(self, delivery_id: int) -> "Start":
        """Mark SENDING (and the previous message SENT), or say why not."""
        now = utcnow()
        marked = self.statements["step"].run(self.connection, next_id=delivery_id, prev_id=self.sent or 0,
                                              owner=self.owner, now=now)
        self.sent = None
        if delivery_id in marked:
            return Start.STARTED
        with self._transaction():
            skipped = self.connection.execute(self.statements["skip"],
                                              dict(delivery_id=delivery_id, owner=self.owner, now=now)).rowcount
        return Start.SKIPPED if skipped == 1 else Start.HALTED

    def sent_ok(self, delivery_id: int) -> None:
        """Remember a SENT mark; written with the next start() or flush()."""
        self.flush()
        self.sent = delivery_id

    def flush(self) -> None:
        """Write the pending SENT mark now."""
        if self.sent is not None:
            with self._transaction():
                self.connection.execute(self.statements["sent"], dict(sent_id=self.sent, owner=self.owner,
                                                                       now=utcnow()))
            self.sent = None

    def finish(self, delivery_id: int, status: D, code: int | None, reply: str,
               retry_at: datetime | None = None, count_attempt: bool = True) -> None:
        """Record a failure, a retry (back to QUEUED at retry_at) or an UNKNOWN, for a SENDING row."""
        self.flush()
        now = utcnow()
        params = dict(delivery_id=delivery_id, owner=self.owner, now=now, status=status.value, code=code,
                      reply=reply[:1000], retry_at=retry_at or now, uncount=0 if count_attempt else 1,
                      keep_lease=status != D.QUEUED)
        with self._transaction():
            self.connection.execute(self.statements["finish"], params)

    def _transaction(self):
        # PostgreSQL runs in autocommit (each statement is its own transaction); SQLite needs BEGIN IMMEDIATE.
        return _NoTransaction() if self.postgres else self.connection.begin()


class FastStatement:
    """A Core statement compiled once for a dialect and executed straight on the DB-API cursor.

    Literal values of the statement and the type conversions (dates on SQLite) come from the compiled form,
    so the SQL and its parameters are exactly what SQLAlchemy would send, without its per-call overhead.
    """

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.processors = compiled._bind_processors
        self.defaults = compiled.construct_params(_check=False)  # the statement's own literals ('queued', 250...)
        for name, process in self.processors.items():
            if self.defaults.get(name) is not None:
                self.defaults[name] = process(self.defaults[name])
        self.order = compiled.positiontup if compiled.positional else None

    def run(self, connection: Connection, **values) -> list:
        """Execute in autocommit; return the first column of the returned rows."""
        params = dict(self.defaults)
        for name, value in values.items():
            process = self.processors.get(name)
            params[name] = process(value) if process is not None and value is not None else value
        if self.order is not None:
            params = tuple(params[name] for name in self.order)
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.execute(self.sql, params)
            return [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()


_STATEMENTS: dict[str, dict] = {}


def _statements(dialect) -> dict:
    """The hot path's statements, built once per dialect with bound parameters."""
    if dialect.name not in _STATEMENTS:
        _STATEMENTS[dialect.name] = _build_statements(dialect)
    return _STATEMENTS[dialect.name]


def _build_statements(dialect) -> dict:
    now = bindparam("now", type_=UTCDateTime())
    ours = Delivery.lease_owner == bindparam("owner")
    this_queued = and_(Delivery.id == bindparam("delivery_id"), Delivery.status == D.QUEUED.value, ours)
    is_next = Delivery.id == bindparam("next_id")
    step = (
        update(Delivery)
        .where(ours, or_(
            and_(is_next, Delivery.status == D.QUEUED.value, receives_mail(Delivery.subscription_id, now),
                 _issue_is_sending()),
            and_(Delivery.id == bindparam("prev_id"), Delivery.status == D.SENDING.value),
        ))
        .values(
            status=case((is_next, D.SENDING.value), else_=D.SENT.value),
            attempts=case((is_next, Delivery.attempts + 1), else_=Delivery.attempts),
            sent_at=case((is_next, Delivery.sent_at), else_=now),
            smtp_code=case((is_next, Delivery.smtp_code), else_=250),
            lease_until=case((is_next, Delivery.lease_until), else_=None),
            updated_at=now,
        )
        .returning(Delivery.id)
    )
    sent = (
        update(Delivery)
        .where(Delivery.id == bindparam("sent_id"), Delivery.status == D.SENDING.value, ours)
        .values(status=D.SENT.value, sent_at=now, smtp_code=250, lease_until=None, updated_at=now)
    )
    skip = (
        update(Delivery)
        .where(this_queued, ~receives_mail(Delivery.subscription_id, now), _issue_is_sending())
        .values(status=D.SKIPPED.value, lease_until=None, updated_at=now,
                smtp_reply="not sent: the reader left, paused or was suppressed before their turn")
    )
    finish = (
        update(Delivery)
        .where(Delivery.id == bindparam("delivery_id"), Delivery.status == D.SENDING.value, ours)
        .values(status=bindparam("status"), smtp_code=bindparam("code"), smtp_reply=bindparam("reply"),
                updated_at=now, next_attempt_at=bindparam("retry_at", type_=UTCDateTime()),
                attempts=Delivery.attempts - bindparam("uncount", type_=Integer()),
                lease_until=case((bindparam("keep_lease", type_=Boolean()), Delivery.lease_until), else_=None))
    )
    return dict(step=FastStatement(step, dialect), sent=sent, skip=skip, finish=finish)


class _NoTransaction:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _issue_is_sending():
    return exists().where(and_(Issue.id == Delivery.issue_id, Issue.status == IssueStatus.SENDING.value))
