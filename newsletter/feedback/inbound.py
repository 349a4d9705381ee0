"""Mail arriving at the instance: bounces, complaints and replies, and RFC 2369 mailto: unsubscribes.

Used by the inbound SMTP/LMTP endpoint (`flask bounces serve`), the IMAP poller (`flask bounces poll`) and
anything else that hands over raw messages. Never raises on content: a broken message is logged and dropped.
"""

import logging
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from flask import current_app

from .. import consent, tokens
from .parsers import parse_inbound
from ..errors import DomainError
from ..states import UnsubscribeReason
from .record import record_feedback

log = logging.getLogger(__name__)
UNSUBSCRIBE_MAILBOX = "unsubscribe"
_TOKEN_IN_SUBJECT = re.compile(r"unsubscribe\s+([A-Za-z0-9_.-]{20,400})", re.IGNORECASE)


@dataclass
class InboundResult:
    events: list[str] = field(default_factory=list)  # kinds of the events recorded
    unsubscribed: bool = False


def bounce_mailbox() -> str:
    """The local part of BOUNCE_ADDRESS (VERP tokens follow it after a '+')."""
    address = current_app.config["BOUNCE_ADDRESS"]
    return address.rpartition("@")[0] if address else "bounces"


def receive(raw: bytes, envelope_to: list[str], source: str = "inbound",
            envelope_from: str | None = None) -> InboundResult:
    """Handle one inbound message (flushed; the caller commits).

    `envelope_from` is the SMTP MAIL FROM when known ("" for the null sender of a notice)."""
    result = InboundResult()
    if any(to.lower().split("@")[0] == UNSUBSCRIBE_MAILBOX for to in envelope_to):
        result.unsubscribed = _mailto_unsubscribe(raw)
        return result
    for event in parse_inbound(raw, envelope_to, envelope_from=envelope_from, verp_local=bounce_mailbox()):
        if record_feedback(event, source) is not None:
            result.events.append(event.kind)
    return result


def _mailto_unsubscribe(raw: bytes) -> bool:
    """The List-Unsubscribe mailto: link puts the unsubscribe token in the subject."""
    try:
        subject = str(message_from_bytes(raw, policy=policy.default).get("Subject", ""))
    except Exception:  # noqa: BLE001 - an unreadable header is just not an unsubscribe request
        subject = ""
    match = _TOKEN_IN_SUBJECT.search(subject)
    if not match:
        log.info("mail to the unsubscribe address without a token in its subject; ignored")
        return False
    try:
        consent.unsubscribe(consent.subscription_from_token(tokens.UNSUBSCRIBE, match.group(1)), UnsubscribeReason.MAILTO)
    except DomainError as error:
        log.info("mailto unsubscribe refused: %s", error.message)
        return False
    return True
