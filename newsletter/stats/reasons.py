"""Why readers left: the reason codes of unsubscribe events, counted in SQL, and the readers' own words."""

from datetime import datetime

from sqlalchemy import case, func, or_, select

from ..extensions import db
from ..models import SubscriptionEvent
from ..states import NO_REASON, UNSUBSCRIBE_REASONS, UnsubscribeReason

UNKNOWN_REASON = UnsubscribeReason.OTHER.value
REASON_CODES = (*UNSUBSCRIBE_REASONS, NO_REASON)
LATEST_COMMENTS = 10


def reason_code(column):
    """SQL: the code of a stored reason ('code' or 'code: comment'); 'none' when the reader gave none."""
    whens = [(or_(column == code, func.substr(column, 1, len(code) + 1) == f"{code}:"), code)
             for code in UNSUBSCRIBE_REASONS]
    return case((column.is_(None), NO_REASON), *whens, else_=UNKNOWN_REASON)


def reason_counts(*conditions) -> dict[str, int]:
    """Unsubscribe events matching `conditions`, counted per reason code (every code present, 0 if none)."""
    code = reason_code(SubscriptionEvent.reason)
    rows = db.session.execute(
        select(code, func.count()).where(SubscriptionEvent.kind == "unsubscribed", *conditions).group_by(code)
    )
    counts = dict.fromkeys(REASON_CODES, 0)
    for key, count in rows:
        counts[key] += count
    return counts


def latest_comments(*conditions, limit: int = LATEST_COMMENTS) -> list[tuple[datetime, str]]:
    """The newest words readers left when unsubscribing (no address: what they said, not who said it)."""
    rows = db.session.execute(
        select(SubscriptionEvent.at, SubscriptionEvent.reason)
        .where(SubscriptionEvent.kind == "unsubscribed", SubscriptionEvent.reason.like("%: %"), *conditions)
        .order_by(SubscriptionEvent.at.desc(), SubscriptionEvent.id.desc())
        .limit(limit)
    )
    return [(at, reason.partition(": ")[2]) for at, reason in rows]
