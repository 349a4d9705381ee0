"""Reading the outbox folder of the development mail backend, for /admin/outbox."""

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

from ..errors import NotFound

NAME_PATTERN = re.compile(r"^\d{20}-[0-9a-f]{8}\.eml$")


@dataclass(frozen=True)
class OutboxEntry:
    name: str
    date: str
    sender: str
    recipient: str
    subject: str


@dataclass(frozen=True)
class OutboxMessage:
    entry: OutboxEntry
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    raw: str


def outbox_folder(instance_path: str) -> Path:
    return Path(instance_path) / "outbox"


def list_outbox(folder: Path, offset: int = 0, limit: int = 50) -> tuple[list[OutboxEntry], int]:
    """Newest first, one page; returns (entries, total)."""
    names = sorted((p.name for p in folder.glob("*.eml") if NAME_PATTERN.match(p.name)), reverse=True)
    page = names[offset:offset + limit]
    return [_entry(name, _parse(folder / name)) for name in page], len(names)


def read_outbox(folder: Path, name: str) -> OutboxMessage:
    """One message with its parts; NotFound for any name that is not an outbox file."""
    path = folder / name
    if not NAME_PATTERN.match(name) or not path.is_file():
        raise NotFound("No such message in the outbox.")
    raw = path.read_bytes()
    message = message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return OutboxMessage(
        entry=_entry(name, message),
        headers=[(k, str(v)) for k, v in message.items()],
        text=text.get_content() if text is not None else None,
        html=html.get_content() if html is not None else None,
        raw=raw.decode("utf-8", "replace"),
    )


def _parse(path: Path):
    with path.open("rb") as handle:
        # Headers are enough for the list; bodies can be large.
        head = handle.read(16384).split(b"\r\n\r\n", 1)[0]
    return message_from_bytes(head, policy=policy.default)


def _entry(name: str, message) -> OutboxEntry:
    return OutboxEntry(name=name, date=str(message.get("Date", "")), sender=str(message.get("From", "")),
                       recipient=str(message.get("X-Outbox-Envelope-To", message.get("To", ""))),
                       subject=str(message.get("Subject", "")))
