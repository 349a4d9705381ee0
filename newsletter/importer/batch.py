"""One batch of consented rows applied to the database with set-based SQL: bulk lookups, then multi-row
INSERT ... ON CONFLICT DO NOTHING, then one 'imported' event per subscription written.

The two inserts that run once per row (subscribers, subscriptions) are compiled once per import and run with
the DB-API's executemany (bulk.BulkInsert): SQLAlchemy's per-row parameter handling was most of the time an
import spent writing.
"""

from datetime import datetime

from sqlalchemy import bindparam, insert, literal, select, update

from ..extensions import db
from ..models import Subscriber, Subscription, SubscriptionEvent
from ..states import SubscriptionStatus as S
from ..transitions import initial, move
from . import known
from .bulk import BulkInsert, insert_ignoring_conflicts, new_nonces
from .report import ImportReport
from .rows import ConsentedRow


class BatchWriter:
    """Writes the batches of one import: one newsletter, one file name and one import time for every row."""

    def __init__(self, newsletter_id: int, file_name: str, now: datetime):
        self.newsletter_id = newsletter_id
        self.file_name = file_name
        self.now = now
        dialect = db.session.get_bind().dialect
        # inline(): no RETURNING of the new ids, which PostgreSQL would otherwise be asked for on every row.
        self._subscribers = BulkInsert(insert_ignoring_conflicts(Subscriber).inline().values(
            email=bindparam("email"), email_hmac=bindparam("email_hmac"), name=bindparam("name"),
            token_nonce=bindparam("token_nonce"), created_at=now,
        ), dialect)
        self._subscriptions = BulkInsert(insert_ignoring_conflicts(Subscription).inline().values(
            newsletter_id=newsletter_id, subscriber_id=bindparam("subscriber_id"), status=initial(S.CONFIRMED),
            token_nonce=bindparam("token_nonce"), consent_at=bindparam("consent_at"),
            consent_ip=bindparam("consent_ip"), consent_source=bindparam("consent_source"),
            confirmed_at=bindparam("confirmed_at"), confirm_ip=bindparam("confirm_ip"),
            imported_from=file_name, imported_at=now, created_at=now, updated_at=now,
        ), dialect)

    def write(self, report: ImportReport, batch: list[ConsentedRow]) -> None:
        """Import the batch's rows that may be imported; count every row of it in the report."""
        facts = known.look_up(self.newsletter_id, [row.email for row in batch])
        todo: dict[str, list[ConsentedRow]] = {known.NEW: [], known.PENDING: []}
        for row in batch:
            outcome = facts.outcome(row.email)
            if outcome in todo:
                todo[outcome].append(row)
            else:
                count(report, outcome)
        writing = todo[known.NEW] + todo[known.PENDING]
        subscriber_ids = self._ensure_subscribers(writing, facts)
        self._insert_subscriptions(todo[known.NEW], subscriber_ids)
        self._confirm_pending(todo[known.PENDING], facts, subscriber_ids)
        imported = self._record_imported([subscriber_ids[row.email] for row in writing])
        report.imported += imported
        # Rows another request subscribed (or made leave) between the lookup and the write: left as they are.
        report.already += len(writing) - imported

    def _ensure_subscribers(self, rows: list[ConsentedRow], facts: known.Known) -> dict[str, int]:
        """Subscriber ids by address, creating the missing ones; a nameless subscriber takes the file's name."""
        ids = {email: ident for email, (ident, _) in facts.subscribers.items()}
        missing = [row for row in rows if row.email not in facts.subscribers]
        if missing:
            emails = [row.email for row in missing]
            self._subscribers.run_many(db.session.connection(), {
                "email": emails, "email_hmac": [facts.hmacs[email] for email in emails],
                "name": [row.name for row in missing], "token_nonce": new_nonces(len(missing)),
            })
            created = select(Subscriber.email, Subscriber.id).where(known.among(Subscriber.email, emails))
            ids.update(db.session.connection().execute(created).all())  # also those created meanwhile by others
        nameless = [{"ident": facts.subscribers[row.email][0], "new_name": row.name} for row in rows
                    if row.email in facts.subscribers and row.name and not facts.subscribers[row.email][1]]
        if nameless:
            table = Subscriber.__table__
            named = update(table).where(table.c.id == bindparam("ident"), table.c.name == "")
            db.session.execute(named.values(name=bindparam("new_name")), nameless)
        return ids

    def _insert_subscriptions(self, rows: list[ConsentedRow], subscriber_ids: dict[str, int]) -> None:
        """Confirmed subscriptions carrying the file's evidence, marked with this import's file and time."""
        if not rows:
            return
        self._subscriptions.run_many(db.session.connection(), {
            "subscriber_id": [subscriber_ids[row.email] for row in rows], "token_nonce": new_nonces(len(rows)),
            "consent_at": [row.consent_at for row in rows], "consent_ip": [row.consent_ip for row in rows],
            "consent_source": [row.consent_source for row in rows],
            "confirmed_at": [row.confirmed_at for row in rows], "confirm_ip": [row.confirm_ip for row in rows],
        })

    def _confirm_pending(self, rows: list[ConsentedRow], facts: known.Known, subscriber_ids: dict[str, int]) -> None:
        """Confirm pending subscriptions that never left, with the file's evidence."""
        # One conditional UPDATE per row (few people are both pending and in a file): whoever unsubscribes at the
        # same moment stays unsubscribed.
        for row in rows:
            move(Subscription, S.CONFIRMED, Subscription.id == facts.subscriptions[subscriber_ids[row.email]].id,
                 Subscription.unsubscribed_at.is_(None), from_=[S.PENDING], consent_wording_sha256=None,
                 consent_at=row.consent_at, consent_ip=row.consent_ip, consent_source=row.consent_source,
                 confirmed_at=row.confirmed_at, confirm_ip=row.confirm_ip, imported_from=self.file_name,
                 imported_at=self.now, updated_at=self.now)

    def _record_imported(self, subscriber_ids: list[int]) -> int:
        """One 'imported' event per subscription this batch wrote (marked with this import's time); how many."""
        if not subscriber_ids:
            return 0
        events, written = SubscriptionEvent.__table__, Subscription.__table__
        result = db.session.execute(insert(events).from_select(
            ["newsletter_id", "subscription_id", "kind", "reason", "at"],
            select(written.c.newsletter_id, written.c.id, literal("imported"), written.c.imported_from,
                   written.c.imported_at)
            .where(written.c.newsletter_id == self.newsletter_id,
                   known.among(written.c.subscriber_id, subscriber_ids), written.c.imported_at == self.now),
        ).execution_options(preserve_rowcount=True))  # without it, psycopg's count of an INSERT ... SELECT is lost
        return result.rowcount


def count(report: ImportReport, outcome: str) -> None:
    """Count a row that is not written (or, in a dry run, any row) under its outcome."""
    if outcome in (known.NEW, known.PENDING):
        report.imported += 1
    elif outcome == known.ALREADY:
        report.already += 1
    elif outcome == known.SUPPRESSED:
        report.suppressed += 1
    else:
        report.left += 1
