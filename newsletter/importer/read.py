"""The importer's two entry points: consented subscribers and suppression lists, read as streams.

Each returns the file as recognised once (its kind, its layout) with its rows, which are read on iteration:
a pass over a file opens it once, sniffs its head once and parses each line once.
"""

import itertools
import os
from datetime import UTC, datetime
from typing import BinaryIO, Iterator

from ..addresses import normalise_address
from ..errors import InvalidAddress
from ..spreadsheet_cells import read_cell
from . import refusals
from .formats import MAILCHIMP_SOURCE, ConsentLayout, recognise, suppression_column
from .parse import Table, locate_table, open_records
from .phones import PhoneScanner
from .report import CSV, MAILCHIMP, OWN_EXPORT, SUPPRESSION_LIST
from .rows import EXPORT_COLUMNS, ConsentedRow, RowError
from .sniff import Head, Source, describe_non_table, read_head
from .validate import RowChecker

_REFUSAL_BY_KIND = {
    "address_book": refusals.address_book,
    "social_export": refusals.social_export,
    "not_csv": refusals.not_csv,
}


class FileRows:
    """A file recognised once, and its rows: iterating reads the file (once) from its first data row."""

    def __init__(self, kind: str, table: Table, layout: ConsentLayout | None):
        self.kind = kind  # report.OWN_EXPORT, CSV, MAILCHIMP or SUPPRESSION_LIST
        self.table = table
        self.layout = layout  # None for a suppression list
        self.rows: Iterator = iter(())
        self._stream: BinaryIO | None = None
        self._size = 0

    def __iter__(self):
        return self.rows

    def reading(self, stream: BinaryIO) -> None:
        """Called by the rows' generator once it has the file open, so progress can be measured on it."""
        position = stream.tell()
        self._size = stream.seek(0, os.SEEK_END)
        stream.seek(position)
        self._stream = stream

    @property
    def fraction_read(self) -> float:
        """How much of the file the rows read so far cover (by bytes, to the decoder's read-ahead), 0 to 1."""
        if self._stream is None or self._stream.closed or not self._size:
            return 0.0 if self._stream is None else 1.0
        return min(self._stream.tell() / self._size, 1.0)


def read_subscribers(source: Source, *, now: datetime) -> FileRows:
    """A consented subscriber file: its kind and layout, and one ConsentedRow or RowError per data row.

    A file refused as a whole raises ImportRefused here, before anything is yielded; a phone number found in
    a later row raises it while streaming, so callers read the whole file once before writing anything.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    table = _inspect_subscribers(read_head(source))
    layout = recognise(table)
    found = FileRows(_subscriber_kind(table, layout), table, layout)
    found.rows = _consented_rows(source, table, layout, now.astimezone(UTC), found)
    return found


def _inspect_subscribers(head: Head) -> Table:
    """Sniff a subscriber file and locate its header, raising ImportRefused for anything but a CSV table."""
    found = describe_non_table(head)
    if found:
        kind, looks_like = found
        raise _REFUSAL_BY_KIND[kind](looks_like)
    return locate_table(head)


def _subscriber_kind(table: Table, layout: ConsentLayout) -> str:
    if layout.fixed_source == MAILCHIMP_SOURCE:
        return MAILCHIMP
    return OWN_EXPORT if table.header == EXPORT_COLUMNS and table.delimiter == "," else CSV


def _consented_rows(
    source: Source, table: Table, layout: ConsentLayout, now: datetime, found: FileRows
) -> Iterator[ConsentedRow | RowError]:
    checker = RowChecker(layout, now)
    width = len(table.header)
    scanner = PhoneScanner(width, layout.typed, layout.not_phones)
    with open_records(source, table, found.reading) as records:
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


def read_suppressions(source: Source) -> FileRows:
    """A suppression list (CSV with an e-mail column, or one address per line): normalised addresses.

    Always allowed, whatever else the file holds; only a file that is not readable text is refused.
    """
    table = _inspect_suppressions(read_head(source))
    index, has_header = suppression_column(table)
    found = FileRows(SUPPRESSION_LIST, table, None)
    found.rows = _suppressed_addresses(source, table, index, has_header, found)
    return found


def _inspect_suppressions(head: Head) -> Table:
    found = describe_non_table(head)
    if found:
        raise refusals.not_csv(
            found[1], "A suppression list is a CSV file with an 'email' column, or one address per line."
        )
    return locate_table(head)


def _suppressed_addresses(source: Source, table: Table, index: int, has_header: bool,
                          found: FileRows) -> Iterator[str | RowError]:
    field = table.header[index] if has_header else "email"
    with open_records(source, table, found.reading) as records:
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
