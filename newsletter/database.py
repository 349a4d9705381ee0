"""Engine set-up per database, and the after-commit hook that wakes the sender.

SQLite: WAL, foreign keys on, and every transaction started with BEGIN IMMEDIATE. pysqlite's own
transaction handling breaks SAVEPOINT and lets two deferred transactions both read, then fail to write
(SQLITE_BUSY that no timeout cures); taking the write lock up front turns that into a short wait.
"""

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
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
