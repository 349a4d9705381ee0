"""How an import writes quickly: inserts without SQLAlchemy's per-row work, and each database's settings for a
long series of batches. Nothing here decides what is written; batch.py does.
"""

import base64
import contextlib
import secrets
import sqlite3
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from ..database import FastStatement
from ..extensions import db
from ..models import UTCDateTime

SQLITE_CACHE_KIB = 32 * 1024  # page cache of the import's connection: flat memory whatever the file's size
SQLITE_CHECKPOINT_PAGES = 32_000  # WAL pages between checkpoints (default 1,000): the WAL file grows to 128 MB


class BulkInsert(FastStatement):
    """An INSERT compiled once, then run for many rows at a time with the DB-API's executemany."""

    def __init__(self, statement, dialect):
        super().__init__(statement, dialect)
        if dialect.name == "sqlite":
            columns = statement.table.c
            self.processors = {name: sqlite_datetime if isinstance(columns[name].type, UTCDateTime) else process
                               for name, process in self.processors.items()}

    def run_many(self, connection: Connection, columns: dict[str, list]) -> None:
        """Insert rows given column by column (lists of equal length), in the connection's current transaction."""
        # Column by column, so that converting and transposing run in C loops (map, zip), not per row in Python.
        count = len(next(iter(columns.values())))
        values = {name: [value] * count for name, value in self.defaults.items() if name not in columns}
        for name, column in columns.items():
            process = self.processors.get(name)
            values[name] = list(map(process, column)) if process is not None else column
        if self.order is not None:
            params = list(zip(*(values[name] for name in self.order)))
        else:
            names = list(values)
            params = [dict(zip(names, row)) for row in zip(*values.values())]
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.executemany(self.sql, params)
        finally:
            cursor.close()


def insert_ignoring_conflicts(model):
    """INSERT ... ON CONFLICT DO NOTHING on the model's table, in the session's SQL dialect."""
    dialect = db.session.get_bind().dialect.name
    build = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return build(model.__table__).on_conflict_do_nothing()


def new_nonces(count: int) -> list[str]:
    """count values of models.new_nonce() (secrets.token_urlsafe(12)), from one call to the system's CSPRNG."""
    # token_urlsafe(12) is the URL-safe Base64 of 12 random bytes: 16 characters. 12 being a multiple of 3, the
    # Base64 of 12 * count bytes is those count values end to end, at a tenth of the cost of count calls.
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(12 * count)).decode("ascii")
    return [encoded[start:start + 16] for start in range(0, 16 * count, 16)]


def sqlite_datetime(moment: datetime | None) -> str | None:
    """The text UTCDateTime stores on SQLite ('2024-03-01 09:15:00.000000', naive UTC), three times faster."""
    # SQLAlchemy's SQLite DATETIME builds a dict per value: 4 µs, twice per imported row. isoformat writes the
    # same text, followed by the offset ('+00:00' once in UTC), which the slice drops (years have 4 digits).
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.isoformat(" ", "microseconds")
    return moment.astimezone(UTC).isoformat(" ", "microseconds")[:26]


class ImportTuning:
    """Per-database settings while an import writes its batches; `prepare` runs before each batch."""

    def __init__(self) -> None:
        self.dialect = db.session.get_bind().dialect.name
        self._sqlite_settings: dict[sqlite3.Connection, tuple[int, int]] = {}
        self._counted: float | None = None  # rows the statistics know of; read before the first batch
        self._written_when_counted = 0

    def __enter__(self) -> "ImportTuning":
        return self

    def __exit__(self, *exc) -> None:
        for connection, (cache_size, checkpoint) in self._sqlite_settings.items():
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed meanwhile: nothing left to restore
                connection.execute(f"PRAGMA cache_size = {cache_size}")
                connection.execute(f"PRAGMA wal_autocheckpoint = {checkpoint}")

    def prepare(self, written: int) -> None:
        """Before a batch, with the number of rows this import has written so far."""
        if self.dialect == "sqlite":
            self._tune_sqlite()
        elif self.dialect == "postgresql":
            if self._counted is None:
                self._counted = self._rows_counted()
            if written - self._written_when_counted > self._counted:
                self._analyze(written)

    def _tune_sqlite(self) -> None:
        # SQLite's default 2 MB cache cannot hold one batch's changes to the unique indexes of subscribers once
        # they pass a few hundred thousand rows: it writes them out and reads them again within the batch.
        # And each batch changes thousands of pages, so each commit would copy them all back into the database
        # (and fsync it); checkpoints every few batches copy a page changed by several of them only once.
        connection = db.session.connection().connection.driver_connection
        if connection not in self._sqlite_settings:  # once per pooled connection; given back on __exit__
            self._sqlite_settings[connection] = (connection.execute("PRAGMA cache_size").fetchone()[0],
                                                 connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
            connection.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            connection.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_CHECKPOINT_PAGES}")

    def _analyze(self, written: int) -> None:
        # PostgreSQL plans the lookups by newsletter from table statistics, and tables an import fills from
        # (nearly) empty have none until autovacuum comes by: the lookup then reads every subscription of the
        # newsletter, batch after batch. So ANALYZE whenever the import has doubled what the statistics count:
        # about log2(rows) times into a new instance, once at most for a small import into a large one.
        db.session.execute(text("ANALYZE subscribers"))
        db.session.execute(text("ANALYZE subscriptions"))
        self._counted = self._rows_counted()
        self._written_when_counted = written

    @staticmethod
    def _rows_counted() -> float:
        return db.session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'subscriptions'::regclass"))
