"""Publishers' time zones: which names are valid, and a local wall-clock time read as a moment in UTC.

Times are stored in UTC everywhere; a publisher types and reads them in their own zone (an IANA name such as
Europe/Paris), kept on their account.
"""

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask_babel import gettext as _

from .errors import InvalidInput
from .extensions import db
from .models import User

DEFAULT_ZONE = "UTC"


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every zone name the system knows, sorted (for the account's menu)."""
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def check_zone(name: str | None) -> str:
    """A valid IANA zone name, or InvalidInput saying what to choose."""
    name = (name or "").strip()
    if name not in zone_names():
        raise InvalidInput(_("Choose a time zone from the list, such as Europe/Paris."))
    return name


def zone_of(user: User | None) -> str:
    """The user's zone, UTC until they (or their browser) chose one."""
    return (user.timezone if user is not None and user.timezone else None) or DEFAULT_ZONE


def set_zone(user: User, name: str) -> User:
    """Keep the user's time zone; InvalidInput for a name that is not a zone."""
    user.timezone = check_zone(name)
    db.session.flush()
    return user


def adopt_browser_zone(user: User, name: str | None) -> None:
    """Take the browser's zone as the user's if they have none yet and it is valid; otherwise change nothing."""
    if user.timezone is None and name and name in zone_names():
        user.timezone = name
        db.session.flush()


def to_utc(local: datetime, zone: str) -> datetime:
    """A naive wall-clock time in `zone` as an aware UTC moment (a time skipped by a clock change moves on)."""
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
