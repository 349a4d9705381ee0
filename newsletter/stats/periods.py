"""Time buckets of the "over time" figures: events are counted per UTC day in SQL (one small function per
database), then the few hundred day totals are folded into weeks when weeks are asked for.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..errors import InvalidInput

BY = ("day", "week")
DEFAULT_BY = "week"
DEFAULT_DAYS = 365
MAX_DAYS = 731


class utc_day(FunctionElement):
    """The day of a stored (naive UTC) datetime column, read back as a date."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element, compiler, **kw):
    # SQLite keeps datetimes as ISO text: the day is its first ten characters, cheaper than strftime().
    return "substr(%s, 1, 10)" % compiler.process(element.clauses, **kw)


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element, compiler, **kw):
    # A date groups faster than text (half the time of to_char over 100k events).
    return "CAST(%s AS DATE)" % compiler.process(element.clauses, **kw)


@dataclass(frozen=True)
class Period:
    """The days a figure covers, from `first` (a Monday when by week) to `last` (today, UTC), in buckets."""

    by: str
    days: int
    first: date
    last: date

    @property
    def since(self) -> datetime:
        """The first moment counted."""
        return datetime.combine(self.first, time(), tzinfo=timezone.utc)

    @property
    def step(self) -> timedelta:
        """The length of one bucket."""
        return timedelta(days=7 if self.by == "week" else 1)

    def starts(self) -> list[date]:
        """The first day of every bucket, oldest first."""
        count = (self.last - self.first) // self.step + 1
        return [self.first + index * self.step for index in range(count)]

    def bucket_of(self, day: date) -> date:
        """The first day of the bucket holding `day`."""
        return day - timedelta(days=day.weekday()) if self.by == "week" else day


def period_asked(args, fallback: bool = False) -> Period:
    """The period a query string asks for (`by`, `days`); InvalidInput if it makes no sense, or the default
    period with `fallback` (a page shows the default rather than an error)."""
    try:
        return period(args.get("by"), args.get("days"))
    except InvalidInput:
        if not fallback:
            raise
        return period()


def period(by: str | None = None, days: int | str | None = None, today: date | None = None) -> Period:
    """The last `days` days (365 unless said) by day or week (week unless said); InvalidInput otherwise."""
    by = by or DEFAULT_BY
    if by not in BY:
        raise InvalidInput("'by' is day or week.", code="invalid_period")
    try:
        days = DEFAULT_DAYS if days in (None, "") else int(days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"'days' is a whole number from 1 to {MAX_DAYS}.", code="invalid_period")
    last = today or datetime.now(timezone.utc).date()
    first = last - timedelta(days=days - 1)
    if by == "week":
        first -= timedelta(days=first.weekday())
    return Period(by=by, days=days, first=first, last=last)
