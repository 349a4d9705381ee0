"""The audit log of state-changing actions: admins and publishers on the pages (web), API tokens' writes (api)
and commands run on the server (cli). Written here only, read by the admin's page."""

from dataclasses import dataclass

from sqlalchemy import select

from .extensions import db
from .models import AuditEntry, User

PAGE_SIZE = 50
WEB, API, CLI = "web", "api", "cli"
CHANNELS = (WEB, API, CLI)


def record(user: User, action: str, target: str = "", ip: str | None = None, channel: str = WEB) -> AuditEntry:
    """Add one line: `user` did `action` (a name like 'admin.issue_send' or 'login') on `target`. Flushes."""
    return _add(AuditEntry(user_id=user.id, user_email=user.email, action=action[:80], target=target[:300],
                           ip=(ip or None) and ip[:45], channel=channel))


def record_command(os_user: str, action: str, target: str = "") -> AuditEntry:
    """Add one line for a command run on the server: no account acts, the OS user `os_user` does. Flushes."""
    return _add(AuditEntry(user_id=None, user_email=f"cli:{os_user}"[:254], action=action[:80],
                           target=target[:300], channel=CLI))


def _add(entry: AuditEntry) -> AuditEntry:
    db.session.add(entry)
    db.session.flush()
    return entry


@dataclass(frozen=True)
class Page:
    entries: list[AuditEntry]
    next_before: int | None  # the id to ask for the next (older) page; None on the last page


def entries(*, user_id: int | None = None, action: str | None = None, channel: str | None = None,
            before: int | None = None) -> Page:
    """The newest entries first, filtered by user, action and channel, PAGE_SIZE a page (keyset on id)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE_SIZE + 1)
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if channel in CHANNELS:
        query = query.where(AuditEntry.channel == channel)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = db.session.scalars(query).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return Page(rows, rows[-1].id if more else None)


def actions() -> list[str]:
    """Every action name in the log, for the filter."""
    return list(db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def people() -> list[tuple[int, str]]:
    """(id, address) of every account, for the filter."""
    return [(row.id, row.email) for row in db.session.execute(select(User.id, User.email).order_by(User.email))]
