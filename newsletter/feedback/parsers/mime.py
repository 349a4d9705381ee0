"""Lenient reading of inbound MIME: headers, text, report fields and the returned original.

Bounces come from every MTA ever written, so this reads with the compat32 policy, which keeps going
over broken headers and boundaries, and decodes with replacement rather than refusing.
"""

import email
import html
import re
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import getaddresses

MAX_DEPTH = 8  # multipart nesting we follow; real reports use two or three levels
MAX_PARTS = 200
MAX_TEXT = 256 * 1024  # characters of notice text scanned; the failure is always near the top
MAX_HEADER = 20_000
REPORT_TYPES = {"message/delivery-status", "message/global-delivery-status"}  # RFC 3464, RFC 6533
FEEDBACK_TYPES = {"message/feedback-report"}  # RFC 5965 3
ORIGINAL_MESSAGE_TYPES = {"message/rfc822", "message/global"}  # RFC 6533 for the global variants
ORIGINAL_HEADER_TYPES = {"text/rfc822-headers", "message/rfc822-headers", "message/global-headers"}
_TAG = re.compile(r"<[^<>]*>")


def read_message(raw: bytes) -> Message:
    """Parse raw bytes into a Message without ever refusing them."""
    return email.message_from_bytes(raw, policy=compat32)


def clean_text(value: str) -> str:
    """Turn bytes smuggled as surrogates back into UTF-8 text, replacing what is not UTF-8."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def decode_value(value: object) -> str:
    """A header value as text: RFC 2047 encoded words decoded, bad charsets replaced."""
    raw = clean_text(str(value))[:MAX_HEADER]
    try:
        decoded = str(make_header(decode_header(raw)))
    except (MessageError, ValueError, LookupError, UnicodeError, TypeError, AssertionError):
        return raw
    return clean_text(decoded)


def header_text(msg: Message | None, name: str) -> str:
    """The first `name` header of `msg`, decoded; "" when absent."""
    if msg is None:
        return ""
    value = msg.get(name)
    return "" if value is None else decode_value(value).strip()


def header_values(msg: Message | None, name: str) -> list[str]:
    """Every `name` header of `msg`, decoded, in order."""
    if msg is None:
        return []
    return [decode_value(value).strip() for value in msg.get_all(name, [])]


def addresses_in(values: list[str]) -> list[str]:
    """The bare addresses in address-list header values ("Name <a@b>, c@d" -> ["a@b", "c@d"])."""
    return [address for _name, address in getaddresses(values) if address]


def top_parts(msg: Message, depth: int = 0):
    """`msg` and its MIME parts, depth first, without descending into enclosed messages."""
    yield msg
    if depth >= MAX_DEPTH or msg.get_content_maintype() == "message" or not msg.is_multipart():
        return
    payload = msg.get_payload()
    for part in payload[:MAX_PARTS] if isinstance(payload, list) else ():
        if isinstance(part, Message):
            yield from top_parts(part, depth + 1)


def first_of_type(parts: list[Message], types: set[str]) -> Message | None:
    """The first part whose content type is in `types`."""
    return next((part for part in parts if part.get_content_type() in types), None)


def part_text(part: Message) -> str:
    """The decoded text of a leaf part, whatever its transfer encoding and declared charset."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = part.get_payload()
        return clean_text(payload)[:MAX_TEXT] if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except (LookupError, ValueError, TypeError):
        text = payload.decode("utf-8", "replace")  # an unknown charset name: UTF-8 is the best guess
    return text[:MAX_TEXT]


def notice_text(parts: list[Message]) -> str:
    """The human-readable text of a notice: its text/plain parts, else its HTML with tags removed."""
    texts = [part_text(p) for p in parts if p.get_content_type() == "text/plain" or _lost_structure(p)]
    if not any(t.strip() for t in texts):
        texts = [_TAG.sub(" ", part_text(p)) for p in parts if p.get_content_type() == "text/html"]
        texts = [html.unescape(t) for t in texts]
    return "\n\n".join(texts)[:MAX_TEXT]


def _lost_structure(part: Message) -> bool:
    """True for a multipart whose boundary was missing or wrong: its whole body is one string."""
    return part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), str)


def field_blocks(text: str) -> list[dict[str, str]]:
    """RFC 3464 / RFC 5965 style "Name: value" groups separated by blank lines, names lower-cased."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text[:MAX_TEXT].splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
        elif line[0] in " \t" and last:
            current[last] += " " + line.strip()  # RFC 5322 2.2.3 folding
        else:
            name, sep, value = line.partition(":")
            name = name.strip().lower()
            last = name if sep and name and " " not in name and name not in current else None
            if last:
                current[last] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def report_blocks(part: Message) -> list[dict[str, str]]:
    """The field groups of a delivery-status or feedback-report part, however the parser split it."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return field_blocks(part_text(part))
    blocks: list[dict[str, str]] = []
    for block in payload[:MAX_PARTS]:
        if not isinstance(block, Message):
            continue
        fields: dict[str, str] = {}
        for name, value in block.items():
            fields.setdefault(name.strip().lower(), decode_value(value).strip())
        if fields:
            blocks.append(fields)
        body = block.get_payload()
        if isinstance(body, str) and body.strip():
            blocks.extend(field_blocks(clean_text(body)))  # the non-special message/* subtypes
    return blocks


def returned_original(parts: list[Message]) -> Message | None:
    """The headers of our original message returned inside a report, if it carries them."""
    for part in parts:
        content_type = part.get_content_type()
        if content_type in ORIGINAL_MESSAGE_TYPES:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            return HeaderParser(policy=compat32).parsestr(part_text(part), headersonly=True)
        if content_type in ORIGINAL_HEADER_TYPES:
            return HeaderParser(policy=compat32).parsestr(part_text(part), headersonly=True)
    return None
