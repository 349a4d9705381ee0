"""Engine set-up per database, the after-commit hook that wakes the sender, and FastStatement.

SQLite: WAL, foreign keys on, and every transaction started with BEGIN IMMEDIATE. pysqlite's own
transaction handling breaks SAVEPOINT and lets two deferred transactions both read, then fail to write
(SQLITE_BUSY that no timeout cures); taking the write lock up front turns that into a short wait.
"""

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from flask_sqlalchemy.session import Session


def configure_engine(engine: Engine) -> None:
    """Apply per-dialect settings once per engine."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_connect):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)


def _sqlite_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (SQLAlchemy's documented recipe)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@event.listens_for(Session, "after_commit")
def _wake_sender(session) -> None:
    # Mail queued in this transaction becomes visible to the sender only now.
    if session.info.pop("wake_sender", False) and has_app_context():
        runner = current_app.extensions.get("newsletter.runner")
        if runner is not None and current_app.config.get("START_SENDER", True):
            runner.wake()


class FastStatement:
    """A Core statement compiled once for a dialect and executed straight on the DB-API cursor (the send path's
    marks, an import's inserts): SQLAlchemy's per-call work costs more than those statements.

    The SQL, the statement's own literals and each parameter's type conversion (dates on SQLite) come from the
    compiled form through public APIs (`bind_names`, `TypeEngine.bind_processor`), so what is sent is exactly
    what SQLAlchemy would send.
    """

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.processors = {}
        self.defaults = {}  # the statement's own literals ('queued', 250...), converted; None for the others
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.processors[name] = process
            value = bind.effective_value
            self.defaults[name] = process(value) if process is not None and value is not None else value
        self.order = compiled.positiontup if compiled.positional else None

    def run(self, connection: Connection, **values) -> list:
        """Execute in autocommit; return the first column of the returned rows."""
        cursor = connection.connection.driver_connection.cursor()
        try:
            return [row[0] for row in self.rows(cursor, **values)]
        finally:
            cursor.close()

    def rows(self, cursor, **values) -> list[tuple]:
        """Execute on a DB-API cursor; the returned rows ([] for a statement that returns none). Values the
        statement has no parameter for are ignored."""
        params = dict(self.defaults)
        for name, value in values.items():
            if name in params:
                process = self.processors.get(name)
                params[name] = process(value) if process is not None and value is not None else value
        if self.order is not None:
            params = tuple(params[name] for name in self.order)
        cursor.execute(self.sql, params)
        return cursor.fetchall() if cursor.description is not None else []
