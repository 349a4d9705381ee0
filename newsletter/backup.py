"""Backups of the embedded database: a consistent copy of a running SQLite instance, and its restore.

SQLite's online backup API copies the database page by page through a connection, so readers and writers
carry on and the copy is one committed state. PostgreSQL has its own tools; the refusals name them.
"""

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from .errors import Refused
from .extensions import db
from .models import Newsletter, Subscriber, Subscription
from .states import SubscriptionStatus

PG_DUMP_HINT = ("This instance runs on PostgreSQL: back it up with pg_dump, e.g. "
                "pg_dump --format=custom --file newsletter.dump '{url}'")
PG_RESTORE_HINT = ("This instance runs on PostgreSQL: restore a pg_dump file with pg_restore, e.g. "
                   "pg_restore --dbname '{url}' --no-owner newsletter.dump")


@dataclass(frozen=True)
class Contents:
    """What a database holds, said in a line after a backup or a restore."""

    revision: str
    newsletters: int
    readers: int
    confirmed: int


def back_up(target: Path) -> Contents:
    """Copy the live SQLite database into a new file `target`; Refused on PostgreSQL or an existing file."""
    _refuse_unless_sqlite(PG_DUMP_HINT)
    if target.exists():
        raise Refused(f"{target} already exists: give the name of a new file (a backup never overwrites one).")
    if not target.parent.is_dir():
        raise Refused(f"There is no folder {target.parent}: create it first.")
    partial = target.with_name(f".{target.name}.partial")  # a failed copy never looks like a backup
    partial.unlink(missing_ok=True)
    source = db.engine.raw_connection()
    try:
        partial.touch(mode=0o600)  # readers' addresses and consent records: for the owner's eyes only
        with closing(sqlite3.connect(partial)) as copy:
            source.driver_connection.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        partial.rename(target)
    except (OSError, sqlite3.Error) as error:
        raise Refused(f"The backup could not be written to {target}: {error}.") from None
    finally:
        source.close()
        partial.unlink(missing_ok=True)
    return contents()


def restore(source: Path) -> Contents:
    """Load a backup into this instance, which must be empty; Refused if it is not, or the file is no backup."""
    _refuse_unless_sqlite(PG_RESTORE_HINT)
    revision = backup_revision(source)
    _refuse_unless_empty()
    db.session.remove()
    db.engine.dispose()  # no pooled connection may keep a view of the empty database
    target = db.engine.raw_connection()
    try:
        with closing(_open_read_only(source)) as backup:
            backup.backup(target.driver_connection)
    finally:
        target.close()
        db.engine.dispose()
    found = contents()
    if found.revision != revision:
        raise Refused(f"The restore did not complete: the database says revision {found.revision}.")
    return found


def backup_revision(source: Path) -> str:
    """The schema revision of a backup file; Refused unless it is an intact SQLite database of this schema."""
    unusable = f"{source} is not a backup of this newsletter"
    try:
        with closing(_open_read_only(source)) as backup:
            intact = backup.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            tables = {row[0] for row in backup.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            rows = backup.execute("SELECT version_num FROM alembic_version").fetchall() \
                if "alembic_version" in tables else []
    except sqlite3.DatabaseError as error:
        raise Refused(f"{unusable}: it cannot be read as an SQLite database ({error}).") from None
    if not intact:
        raise Refused(f"{unusable}: SQLite finds it damaged (PRAGMA quick_check).")
    if len(rows) != 1 or not {"subscribers", "subscriptions"} <= tables:
        raise Refused(f"{unusable}: it holds no newsletter schema (no alembic_version, subscribers, subscriptions).")
    revision = rows[0][0]
    known = {script.revision for script in _migrations().walk_revisions()}
    if revision not in known:
        raise Refused(f"{unusable}: its schema revision {revision} is not one this version knows "
                      f"(it may come from a newer version: restore it with that version).")
    return revision


def head_revision() -> str:
    """The schema revision this code's migrations end at."""
    return _migrations().get_current_head()


def contents() -> Contents:
    """Counts of what the database holds, and its schema revision."""
    found = Contents(
        revision=db.session.execute(db.text("SELECT version_num FROM alembic_version")).scalar_one(),
        newsletters=db.session.scalar(select(func.count(Newsletter.id))),
        readers=db.session.scalar(select(func.count(Subscriber.id))),
        confirmed=db.session.scalar(select(func.count(Subscription.id))
                                    .where(Subscription.status == SubscriptionStatus.CONFIRMED)),
    )
    db.session.commit()
    return found


def _refuse_unless_sqlite(hint: str) -> None:
    url = make_url(current_app.config["DATABASE_URL"])
    if url.get_backend_name() != "sqlite":
        # Without the password: pg_dump and pg_restore read it from ~/.pgpass or PGPASSWORD.
        plain = url._replace(drivername="postgresql", password=None)  # URL is a NamedTuple; set() keeps a None
        raise Refused(hint.format(url=plain.render_as_string(hide_password=False)))


def _refuse_unless_empty() -> None:
    tables = [name for name in inspect(db.engine).get_table_names() if name != "alembic_version"]
    for name in tables:
        # Reviewed for bandit: the names are the database's own tables (inspect), quoted; no input reaches them.
        if db.session.execute(db.text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None:  # nosec B608
            db.session.rollback()
            raise Refused(f"This instance is not empty (table {name} has rows): restore into a new, empty "
                          f"database (set DATABASE_URL to a new file), never over one in use.")
    db.session.rollback()


def _open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _migrations() -> ScriptDirectory:
    return ScriptDirectory(current_app.extensions["migrate"].directory)
