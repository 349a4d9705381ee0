"""The importer's two entry points: consented subscribers and suppression lists, read as streams."""

import itertools
from datetime import UTC, datetime
from typing import Iterator

from ..addresses import normalise_address
from ..errors import InvalidAddress
from ..spreadsheet_cells import read_cell
from . import refusals
from .formats import ConsentLayout, recognise, suppression_column
from .parse import Table, locate_table, open_records
from .phones import PhoneScanner
from .rows import ConsentedRow, RowError
from .sniff import Head, Source, describe_non_table, read_head
from .validate import RowChecker

_REFUSAL_BY_KIND = {
    "address_book": refusals.address_book,
    "social_export": refusals.social_export,
    "not_csv": refusals.not_csv,
}


def read_subscribers(source: Source, *, now: datetime) -> Iterator[ConsentedRow | RowError]:
    """Stream a consented subscriber file: one ConsentedRow or RowError per data row.

    A file refused as a whole raises ImportRefused here, before anything is yielded; a phone number found in
    a later row raises it while streaming, so callers read the whole file once before writing anything.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    table = inspect_subscribers(source)
    return _consented_rows(source, table, recognise(table), now.astimezone(UTC))


def inspect_subscribers(source: Source) -> Table:
    """Sniff a subscriber file and locate its header, raising ImportRefused for anything but a CSV table."""
    head = read_head(source)
    found = describe_non_table(head)
    if found:
        kind, looks_like = found
        raise _REFUSAL_BY_KIND[kind](looks_like)
    return locate_table(head)


def _consented_rows(
    source: Source, table: Table, layout: ConsentLayout, now: datetime
) -> Iterator[ConsentedRow | RowError]:
    checker = RowChecker(layout, now)
    width = len(table.header)
    scanner = PhoneScanner(width, layout.typed, layout.not_phones)
    with open_records(source, table) as records:
        for line, cells in records:
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            item = checker.check(line, cells)
            phone_at = scanner.phone_at(cells, type(item) is ConsentedRow)
            if phone_at is not None:
                raise refusals.phone_numbers(f"line {line}, column {_column_name(table, phone_at)}")
            yield item


def _column_name(table: Table, index: int) -> str:
    return repr(table.header[index]) if index < len(table.header) else f"number {index + 1}, beyond the header"


def read_suppressions(source: Source) -> Iterator[str | RowError]:
    """Stream a suppression list (CSV with an e-mail column, or one address per line): normalised addresses.

    Always allowed, whatever else the file holds; only a file that is not readable text is refused.
    """
    table = _inspect_suppressions(read_head(source))
    index, has_header = suppression_column(table)
    return _suppressed_addresses(source, table, index, has_header)


def _inspect_suppressions(head: Head) -> Table:
    found = describe_non_table(head)
    if found:
        raise refusals.not_csv(
            found[1], "A suppression list is a CSV file with an 'email' column, or one address per line."
        )
    return locate_table(head)


def _suppressed_addresses(source: Source, table: Table, index: int, has_header: bool) -> Iterator[str | RowError]:
    field = table.header[index] if has_header else "email"
    with open_records(source, table) as records:
        first = [(table.skip + 1, list(table.header))] if not has_header else []
        for line, cells in itertools.chain(first, records):
            item = _suppressed(line, cells, index, field)
            if item is not None:
                yield item


def _suppressed(line: int, cells: list[str], index: int, field: str) -> str | RowError | None:
    raw = cells[index] if index < len(cells) else ""
    if not raw.strip():
        return None  # a row without an address suppresses nobody
    try:
        return normalise_address(read_cell(raw))  # an export of ours, made a suppression list, reads the same
    except InvalidAddress as exc:
        return RowError(line, field, exc.message)
