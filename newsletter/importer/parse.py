"""Where the header is, which delimiter separates cells, and the data rows with their physical line numbers."""

import csv
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from . import refusals
from .sniff import Head, Source, open_binary, text_stream

# Same line ends as io.TextIOWrapper(newline=""), which the csv module reads: line numbers must agree.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEPARATORS = re.compile(r"[\s_\-]+")
DELIMITERS = (",", ";")


@dataclass(frozen=True, slots=True)
class Table:
    """How to read a CSV file: lines before the header, the delimiter, and the header as written."""

    skip: int
    delimiter: str
    header: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """Column names compared without case, spaces, hyphens or underscores differences."""
        return tuple(column_key(name) for name in self.header)


def column_key(name: str) -> str:
    """'E-mail 1 - Value' -> 'e_mail_1_value', 'OPTIN_TIME' -> 'optin_time', ' Email ' -> 'email'."""
    return _SEPARATORS.sub("_", name.strip().casefold()).strip("_")


def locate_table(head: Head) -> Table:
    """Find the header line (after any preamble) and the delimiter from the start of the file."""
    lines = _LINE_BREAK.split(head.text)
    first = _skip_preamble(lines)
    if first >= len(lines) or not lines[first].strip():
        raise refusals.empty_file()
    delimiter = _choose_delimiter(lines[first])
    rest = "\n".join(lines[first:])
    try:
        header = next(csv.reader(io.StringIO(rest), delimiter=delimiter))
    except csv.Error as exc:
        raise refusals.not_csv(f"text that is not readable as CSV ({exc})") from None
    return Table(first, delimiter, tuple(cell.strip() for cell in header))


def _skip_preamble(lines: list[str]) -> int:
    index = _skip_blank(lines, 0)
    # LinkedIn puts "Notes:" and a paragraph before its header; a preamble ends at the first blank line.
    if index < len(lines) and _opens_preamble(lines[index]):
        while index < len(lines) and lines[index].strip():
            index += 1
        index = _skip_blank(lines, index)
    return index


def _opens_preamble(line: str) -> bool:
    stripped = line.strip()
    return stripped.endswith(":") and not any(d in stripped for d in DELIMITERS)


def _skip_blank(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def _choose_delimiter(line: str) -> str:
    # Excel writes ';' where the decimal separator is a comma (France, Germany...); headers rarely hold either.
    return ";" if line.count(";") > line.count(",") else ","


@contextmanager
def open_records(source: Source, table: Table, opened: Callable[[BinaryIO], None] | None = None
                 ) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """Stream the data rows as (physical line of the row's start, cells), skipping blank rows.

    `opened`, if given, is handed the binary stream once it is open (to measure how far the reading is).
    """
    with open_binary(source) as binary:
        if opened is not None:
            opened(binary)
        text = text_stream(binary)
        try:
            yield _records(text, table)
        finally:
            text.detach()  # the binary stream belongs to open_binary (or to the caller)


def _records(text: io.TextIOWrapper, table: Table) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text, delimiter=table.delimiter)
    done = 0
    try:
        for _ in range(table.skip):  # inside the try: decoding works by chunks, any read may meet a bad byte
            text.readline()
        next(reader, None)  # the header, already read from the head
        done = reader.line_num
        for cells in reader:
            line = table.skip + done + 1
            done = reader.line_num
            if any(cells):
                yield line, cells
    except UnicodeDecodeError:
        raise refusals.not_utf8(
            f"near line {table.skip + done + 1} a byte is not UTF-8; "
            "the file was probably saved as Windows-1252 or Latin-1"
        ) from None
    except csv.Error as exc:
        raise refusals.not_csv(
            f"text that is not readable as CSV from line {table.skip + done + 1} ({exc}; often a quote that is "
            "never closed)",
            "Check the quotes around that line, or export the file again as CSV UTF-8.",
        ) from None
