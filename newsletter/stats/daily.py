"""Subscription events counted per newsletter, UTC day and kind, kept for days that are over, so the "over
time" figures read a few hundred rows instead of every event.

Days enter the table lazily, the first time a page asks, and a newsletter's `event_days_through` says up to
which day. The last SETTLE_LAG days are always counted live: an event can be stamped a little in the past
(an import stamps every row with the time it started), so a day is kept only once nothing can still land in it.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, insert, literal, select, update

from ..extensions import db
from ..models import EventDay, Newsletter, SubscriptionEvent, utcnow
from ..states import SubscriptionStatus as S
from .periods import utc_day

SETTLE_LAG = timedelta(days=2)
LEFT_CONFIRMED = "left_confirmed"
DEPARTURES = ("unsubscribed", "bounced", "complained", "erased")


def day_counts(newsletter_id: int, since: datetime, kinds: tuple[str, ...]) -> dict[tuple[date, str], int]:
    """Events of these kinds (LEFT_CONFIRMED allowed) per (day, kind) from `since` on."""
    [through] = _up_to_date([newsletter_id]).values()
    counts: dict[tuple[date, str], int] = defaultdict(int)
    if through is not None and through >= since.date():
        cached = select(EventDay.day, EventDay.kind, EventDay.count).where(
            EventDay.newsletter_id == newsletter_id, EventDay.day >= since.date(), EventDay.kind.in_(kinds))
        for day, kind, count in db.session.execute(cached):
            counts[day, kind] += count
    for _, day, kind, count in _live([newsletter_id], _after(through, since), kinds, by_day=True):
        counts[day, kind] += count
    return counts


def kind_totals(newsletter_ids: list[int], since: datetime, kinds: tuple[str, ...]) -> dict[tuple[int, str], int]:
    """Events of these kinds per (newsletter, kind) from `since` on, for many newsletters at once."""
    by_mark = defaultdict(list)
    for newsletter_id, through in _up_to_date(newsletter_ids).items():
        by_mark[through].append(newsletter_id)
    totals: dict[tuple[int, str], int] = defaultdict(int)
    for through, ids in by_mark.items():
        if through is not None and through >= since.date():
            cached = (select(EventDay.newsletter_id, EventDay.kind, func.sum(EventDay.count))
                      .where(EventDay.newsletter_id.in_(ids), EventDay.day >= since.date(), EventDay.kind.in_(kinds))
                      .group_by(EventDay.newsletter_id, EventDay.kind))
            for newsletter_id, kind, count in db.session.execute(cached):
                totals[newsletter_id, kind] += int(count)
        for newsletter_id, _, kind, count in _live(ids, _after(through, since), kinds, by_day=False):
            totals[newsletter_id, kind] += count
    return totals


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def _after(through: date | None, since: datetime) -> datetime:
    """The first moment asked for that event_days does not hold."""
    return since if through is None else max(since, _start_of(through + timedelta(days=1)))


def _live(ids: list[int], after: datetime, kinds: tuple[str, ...], by_day: bool) -> list[tuple]:
    """(newsletter_id, day or None, kind, count) counted from the events themselves, from `after` on."""
    keys = [SubscriptionEvent.newsletter_id, *([utc_day(SubscriptionEvent.at)] if by_day else [])]
    scope = (SubscriptionEvent.newsletter_id.in_(ids), SubscriptionEvent.at >= after)
    plain = [kind for kind in kinds if kind != LEFT_CONFIRMED]
    found = []
    if plain:
        query = select(*keys, SubscriptionEvent.kind, func.count()).where(*scope, SubscriptionEvent.kind.in_(plain))
        for *key, kind, count in db.session.execute(query.group_by(*keys, SubscriptionEvent.kind)):
            found.append((key[0], key[1] if by_day else None, kind, count))
    if LEFT_CONFIRMED in kinds:
        query = select(*keys, func.count()).where(*scope, *_left_confirmed())
        for *key, count in db.session.execute(query.group_by(*keys)):
            found.append((key[0], key[1] if by_day else None, LEFT_CONFIRMED, count))
    return found


def _left_confirmed() -> tuple:
    return SubscriptionEvent.kind.in_(DEPARTURES), SubscriptionEvent.from_status == S.CONFIRMED.value


def _up_to_date(newsletter_ids: list[int]) -> dict[int, date | None]:
    """Bring each newsletter's counted days up to the settled ones; return how far each is counted."""
    settled = (utcnow() - SETTLE_LAG).date() - timedelta(days=1)
    marks = dict(db.session.execute(select(Newsletter.id, Newsletter.event_days_through)
                                    .where(Newsletter.id.in_(newsletter_ids))).all())
    for newsletter_id, through in marks.items():
        if (through is None or through < settled) and _count_days(newsletter_id, through, settled):
            marks[newsletter_id] = settled
    return marks


def _count_days(newsletter_id: int, through: date | None, settled: date) -> bool:
    """Count the days after `through` up to `settled` into event_days; False if another request did."""
    claim = update(Newsletter).where(Newsletter.id == newsletter_id).values(event_days_through=settled)
    claim = claim.where(Newsletter.event_days_through.is_(None) if through is None
                        else Newsletter.event_days_through == through)
    with db.session.begin_nested():
        # The conditional update is the lock: of two requests counting the same days, one does.
        if db.session.execute(claim.execution_options(synchronize_session=False)).rowcount != 1:
            return False
        day = utc_day(SubscriptionEvent.at)
        scope = [SubscriptionEvent.newsletter_id == newsletter_id,
                 SubscriptionEvent.at < _start_of(settled + timedelta(days=1))]
        if through is not None:
            scope.append(SubscriptionEvent.at >= _start_of(through + timedelta(days=1)))
        columns = ["newsletter_id", "day", "kind", "count"]
        db.session.execute(insert(EventDay).from_select(columns, select(
            literal(newsletter_id), day, SubscriptionEvent.kind, func.count()).where(*scope)
            .group_by(day, SubscriptionEvent.kind)))
        db.session.execute(insert(EventDay).from_select(columns, select(
            literal(newsletter_id), day, literal(LEFT_CONFIRMED), func.count()).where(*scope, *_left_confirmed())
            .group_by(day)))
    return True
