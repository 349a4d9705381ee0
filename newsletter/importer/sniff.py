"""What kind of file is this? Decided from its first bytes, never from its name."""

import codecs
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from . import refusals

HEAD_BYTES = 64 * 1024  # enough for any real header and a few rows; the rest is streamed

Source = str | os.PathLike | BinaryIO

# Magic numbers of files people pick by mistake: what they are and how to get a CSV out of them.
_MAGIC = (
    (b"PK\x03\x04", "a spreadsheet or another zip archive (.xlsx, .ods, .numbers)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "an image"),
    (b"\xff\xd8\xff", "an image"),
    (b"GIF8", "an image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"SQLite format 3", "a database file"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\x0c\r") + b"\x7f"
_SOCIAL_JSON = (
    ("friends_v2", "Facebook friends in JSON"),
    ('"friends"', "Facebook friends in JSON"),
    ("instagram.com", "Instagram followers or following in JSON"),
    ("relationships_follow", "Instagram followers or following in JSON"),
    ('"followers', "a followers list in JSON"),
    ('"following', "a following list in JSON"),
    ('"connections', "a connections list in JSON"),
)


@dataclass(frozen=True, slots=True)
class Head:
    """The start of a file, decoded, without BOM, cut after its last complete line."""

    text: str


@contextmanager
def open_binary(source: Source) -> Iterator[BinaryIO]:
    """Open a path, or rewind a file object the caller owns (and leave it open)."""
    if hasattr(source, "read"):
        source.seek(0)
        yield source
        return
    with open(source, "rb") as stream:
        yield stream


def read_head(source: Source) -> Head:
    """Read and decode the start of a file, refusing empty, binary and non-UTF-8 files."""
    with open_binary(source) as stream:
        raw = stream.read(HEAD_BYTES + 1)
    complete = len(raw) <= HEAD_BYTES
    raw = raw[:HEAD_BYTES]
    _refuse_binary(raw)
    text = _decode(raw, complete)
    if not text.strip():
        raise refusals.empty_file()
    return Head(text if complete else _cut_after_last_line(text))


def _refuse_binary(raw: bytes) -> None:
    if not raw.strip():
        raise refusals.empty_file()
    if raw.startswith(_UTF16_BOMS):
        raise refusals.not_utf8("it is UTF-16 text, which Excel calls 'Unicode Text'")
    for magic, looks_like in _MAGIC:
        if raw.startswith(magic):
            raise refusals.not_csv(looks_like, "Open it and save it as CSV UTF-8, then import the CSV file.")
    controls = len(raw) - len(raw.translate(None, _CONTROL_BYTES))
    if controls > _tolerated(len(raw)):
        raise refusals.not_csv("a binary file (it holds control characters, not text)")


def _tolerated(length: int) -> int:
    # A stray control character is a bad cell, reported on its row; many of them make a binary file.
    return max(2, length // 200)


def _decode(raw: bytes, complete: bool) -> str:
    # Incremental, so that a character cut by the end of the head is not taken for an encoding error.
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        return decoder.decode(raw, final=complete)
    except UnicodeDecodeError as exc:
        bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
        position = exc.start + bom
        raise refusals.not_utf8(
            f"byte 0x{raw[position]:02X} at position {position} is not UTF-8; "
            "the file was probably saved as Windows-1252 or Latin-1"
        ) from None


def _cut_after_last_line(text: str) -> str:
    end = max(text.rfind("\n"), text.rfind("\r"))
    if end < 0:
        raise refusals.not_csv("a file whose first line is longer than 64 KiB")
    return text[: end + 1]


def describe_non_table(head: Head) -> tuple[str, str] | None:
    """(refusal kind, what it looks like) for contact cards, JSON and markup; None for anything table-like."""
    start = head.text.lstrip()
    upper = start[:4096].upper()
    if upper.startswith("BEGIN:VCARD") or "\nBEGIN:VCARD" in upper:
        return "address_book", "vCard contacts"
    if upper.startswith("DN:") and "OBJECTCLASS" in upper:
        return "address_book", "LDIF contacts, as Thunderbird exports them"
    if start.startswith("window.YTD."):
        return "social_export", _twitter_archive(start)
    if start[:1] in ("[", "{"):
        return _describe_json(start)
    if start.startswith("<"):
        return "not_csv", "a web page or an XML document"
    return None


def _twitter_archive(start: str) -> str:
    part = start[len("window.YTD.") :].split(".", 1)[0]
    return f"X/Twitter archive data, {part}.js"


def _describe_json(start: str) -> tuple[str, str]:
    sample = start[:HEAD_BYTES].lower()
    for marker, looks_like in _SOCIAL_JSON:
        if marker in sample:
            return "social_export", looks_like
    return "not_csv", "a JSON file"


def text_stream(binary: BinaryIO) -> io.TextIOWrapper:
    """Decode a binary stream as UTF-8 (BOM dropped), keeping line ends for the csv module."""
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="strict", newline="")
