"""Whether this instance can do its work, for `/healthz`: the database answers, its schema is the migrations'
head, and while issues are being sent some sender beat within the grace. Only yes/no, revisions and ages:
nothing secret (no URL, host name or address).
"""

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .models import Issue, SenderHeartbeat, utcnow
from .sending.heartbeats import alive_senders
from .states import IssueStatus

_HEADS: dict[str, set[str]] = {}


def migration_heads(directory: str) -> set[str]:
    """The head revisions of the migrations directory (read once per process)."""
    if directory not in _HEADS:
        config = Config()
        config.set_main_option("script_location", directory)
        _HEADS[directory] = set(ScriptDirectory.from_config(config).get_heads())
    return _HEADS[directory]


def check(app: Flask) -> dict:
    """{"ok": bool, "checks": {"database": ..., "migrations": ..., "sender": ...}}; each check has "ok"."""
    try:
        current = set(MigrationContext.configure(db.session.connection()).get_current_heads())
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        return {"ok": False, "checks": {"database": {"ok": False, "error": "the database does not answer"}}}
    heads = migration_heads(app.extensions["migrate"].directory)
    checks = {
        "database": {"ok": True},
        "migrations": {"ok": current == heads, "current": sorted(current), "head": sorted(heads)},
        "sender": _sender(app),
    }
    return {"ok": all(item["ok"] for item in checks.values()), "checks": checks}


def _sender(app: Flask) -> dict:
    """Some sender beat within the grace, if an issue is sending (Celery workers beat too, while they work)."""
    grace = app.config["SEND_HEARTBEAT_GRACE"]
    try:
        sending = db.session.scalar(select(func.count()).where(Issue.status == IssueStatus.SENDING.value))
        last_beat = db.session.scalar(select(func.max(SenderHeartbeat.beat_at)))
        alive = bool(sending) and bool(alive_senders(app.config))
        db.session.commit()
    except SQLAlchemyError:  # a schema behind the code: the migrations check says so
        db.session.rollback()
        return {"ok": False, "error": "the senders cannot be read: run 'flask --app app db upgrade'"}
    age = round((utcnow() - last_beat).total_seconds(), 1) if last_beat else None
    report = {"sending_issues": sending, "last_beat_seconds_ago": age, "grace_seconds": grace}
    if not sending or alive:
        return {"ok": True, **report}
    return {"ok": False, **report, "error": "issues are sending but no sender's heartbeat is fresh: start "
                                            "'flask worker', the web process or the Celery workers"}
