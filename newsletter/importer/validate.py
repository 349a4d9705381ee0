"""Row checks: each data row becomes a ConsentedRow or a RowError. Pure: no app, no database."""

import re
import socket
from datetime import UTC, datetime

from ..addresses import clean_display_name, has_header_breaker, normalise_address
from ..errors import InvalidAddress, InvalidInput
from ..spreadsheet_cells import read_cell
from .formats import ConsentLayout
from .rows import ConsentedRow, RowError

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # before any mailing list kept consent records
MAX_SOURCE = 500
ISO_EXAMPLE = "2024-03-01T09:15:00+00:00"
_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Problem(Exception):
    """A row's first problem; becomes a RowError. Internal: rows are data, never exceptions for the caller."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index
        self.message = message


class RowChecker:
    """Checks the rows of one file against its layout and a fixed 'now'."""

    def __init__(self, layout: ConsentLayout, now: datetime):
        self._layout = layout
        self._now = now

    def check(self, line: int, cells: list[str]) -> ConsentedRow | RowError:
        """The row (at least as wide as the header) as a ConsentedRow, or a RowError naming its first problem."""
        try:
            return self._consented(line, cells)
        except _Problem as problem:
            return RowError(line, self._layout.header[problem.index], problem.message)

    def _consented(self, line: int, cells: list[str]) -> ConsentedRow:
        layout = self._layout
        self._refuse_leavers(cells)
        email = self._email(cells)
        name = self._name(cells)
        consent_at = self._moment(cells, layout.consent_at, layout.unasked_message)
        confirmed_at = self._moment(cells, layout.confirmed_at, layout.unconfirmed_message)
        if confirmed_at < consent_at:
            raise _Problem(
                layout.confirmed_at,
                f"Confirmed ({confirmed_at.isoformat()}) before the person asked ({consent_at.isoformat()}); "
                "a confirmation always follows the request.",
            )
        return ConsentedRow(
            line, email, name, consent_at, confirmed_at, self._source(cells),
            _ip(cells, layout.consent_ip), _ip(cells, layout.confirm_ip),
        )

    def _refuse_leavers(self, cells: list[str]) -> None:
        for index in self._layout.left:
            if cells[index].strip():
                raise _Problem(
                    index,
                    f"This person left the list ({cells[index].strip()}); "
                    "an import never subscribes anyone again.",
                )

    def _email(self, cells: list[str]) -> str:
        index = self._layout.email
        if not cells[index].strip():
            raise _Problem(index, "Missing: the e-mail address.")
        try:
            return normalise_address(read_cell(cells[index]))
        except InvalidAddress as exc:
            raise _Problem(index, exc.message) from None

    def _name(self, cells: list[str]) -> str:
        parts = []
        for index in self._layout.names:
            raw = read_cell(cells[index])
            if has_header_breaker(raw):  # checked before strip(), which would hide a trailing CR or LF
                raise _Problem(index, "A name cannot hold line breaks or control characters: names go into e-mail headers.")
            if raw.strip():
                parts.append(raw.strip())
        try:
            return clean_display_name(" ".join(parts))
        except InvalidInput as exc:
            raise _Problem(self._layout.names[0], exc.message) from None

    def _moment(self, cells: list[str], index: int, missing: str) -> datetime:
        value = cells[index].strip()
        if not value:
            raise _Problem(index, missing)
        moment = _parse_moment(value, index)
        if moment < EARLIEST:
            raise _Problem(index, f"{value[:60]!r} is before 1990, which is not plausible for an e-mail consent.")
        if moment > self._now:
            now = self._now.isoformat(timespec="seconds")
            raise _Problem(index, f"{value[:60]!r} is in the future (now is {now}).")
        return moment

    def _source(self, cells: list[str]) -> str:
        index = self._layout.consent_source
        if index is None:
            return self._layout.fixed_source
        raw = read_cell(cells[index])
        if has_header_breaker(raw):
            raise _Problem(index, "The consent source must be one line (no line breaks or control characters).")
        source = raw.strip()
        if not source:
            raise _Problem(index, "Missing: where the person gave consent (the form's URL or the place).")
        if len(source) > MAX_SOURCE:
            raise _Problem(
                index, f"A consent source has at most {MAX_SOURCE} characters (this one has {len(source)})."
            )
        return source


def _parse_moment(value: str, index: int) -> datetime:
    # fromisoformat reads ISO 8601 with or without zone and Mailchimp's 'YYYY-MM-DD HH:MM:SS'; no zone means UTC.
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted out of range by its zone
        raise _Problem(index, f"{value[:60]!r} is not a plausible date for an e-mail consent.") from None
    except ValueError:
        if _DATE_SHAPE.match(value):
            raise _Problem(
                index, f"{value[:60]!r} is not a real date or time (day, month or hour out of range)."
            ) from None
        raise _Problem(
            index, f"{value[:60]!r} is not a date and time; write it as ISO 8601, e.g. {ISO_EXAMPLE}."
        ) from None


def _ip(cells: list[str], index: int | None) -> str | None:
    if index is None:
        return None
    value = cells[index].strip()
    if not value:
        return None
    # The C library's inet_pton rather than ipaddress (pure Python, ten times slower): this runs twice per row.
    family = socket.AF_INET6 if ":" in value else socket.AF_INET
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, value))
    except (OSError, ValueError):
        raise _Problem(index, f"{value[:60]!r} is not an IP address.") from None
