"""The one value every feedback source produces, and the small normalisers they share."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from ...addresses import normalise_address
from ...errors import InvalidAddress
from ..reasons import Group, classify, group_of
from .verp import verp_token

HARD_BOUNCE = "hard_bounce"  # about the address: suppresses at once
SOFT_BOUNCE = "soft_bounce"  # about the reader's mailbox for a while, or unclear: counted once per delivery
REFUSAL = "sender_refusal"  # about the sender: never against the reader, shown to the publisher
COMPLAINT = "complaint"
OPT_OUT = "opt_out"  # an ARF report with Feedback-Type: opt-out: the reader asked to leave
REPLY = "reply"
KINDS = (HARD_BOUNCE, SOFT_BOUNCE, REFUSAL, COMPLAINT, OPT_OUT, REPLY)
KIND_OF_GROUP = {Group.ADDRESS: HARD_BOUNCE, Group.READER: SOFT_BOUNCE, Group.UNCLEAR: SOFT_BOUNCE,
                 Group.SENDER: REFUSAL}


def kind_of_reason(reason: str) -> str:
    """The event kind a bounce reason gives (see reasons.py for what each does)."""
    return KIND_OF_GROUP[group_of(reason)]

MAX_DIAGNOSTIC = 1000
MAX_EVENTS = 100  # one of our messages has one recipient; a report naming more is junk or an attack
MAX_MESSAGE_ID = 500  # RFC 5322 sets no limit; anything longer is junk, not one of our ids
_BRACKETED_ID = re.compile(r"<([^<>\s]+)>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """What a bounce, complaint or reply tells us about one reader and one of our messages."""

    kind: str
    recipient: str | None
    status: str | None
    diagnostic: str
    message_id: str | None
    envelope_token: str | None
    occurred_at: datetime | None
    reason: str | None = None  # a bounce's reason (reasons.Reason); None for complaints, opt-outs, replies


@dataclass(frozen=True, slots=True)
class Envelope:
    """What one inbound message says about our original, shared by every event it yields."""

    message_id: str | None
    envelope_token: str | None
    occurred_at: datetime | None
    verp_local: str

    def with_fallbacks(self, ids: Iterable[str | None] = (), paths: Iterable[str | None] = ()) -> "Envelope":
        """Fill a missing message id or VERP token from further header values, tried in order."""
        message_id = self.message_id or first_message_id(*ids)
        token = self.envelope_token or first_verp_token(paths, self.verp_local)
        return replace(self, message_id=message_id, envelope_token=token)

    def with_date(self, when: datetime | None) -> "Envelope":
        """This envelope dated `when` if it has no date yet."""
        return self if self.occurred_at or when is None else replace(self, occurred_at=when)

    def event(self, kind: str, recipient: str | None, status: str | None, diagnostic: str,
              occurred_at: datetime | None = None, reason: str | None = None) -> FeedbackEvent:
        """A FeedbackEvent about `recipient` that carries this envelope's ids and date."""
        return FeedbackEvent(
            kind=kind,
            recipient=recipient,
            status=status,
            diagnostic=one_line(diagnostic),
            message_id=self.message_id,
            envelope_token=self.envelope_token,
            occurred_at=occurred_at or self.occurred_at,
            reason=reason,
        )

    def bounce(self, recipient: str | None, status: str | None, diagnostic: str, *more_words: str | None,
               occurred_at: datetime | None = None, reason: str | None = None) -> FeedbackEvent:
        """A bounce about `recipient`: its reason from the status and the words (or as given), its kind from that."""
        reason = reason or classify(status, diagnostic, *more_words)
        return self.event(kind_of_reason(reason), recipient, status, diagnostic, occurred_at, reason)


def first_verp_token(paths: Iterable[str | None], local: str) -> str | None:
    """The first VERP token found among addresses or address-list values."""
    for path in paths:
        for candidate in re.split(r"[\s,]+", path or ""):
            token = verp_token(candidate, local)
            if token:
                return token
    return None


def one_line(text: str | None, limit: int = MAX_DIAGNOSTIC) -> str:
    """Collapse whitespace and control characters into single spaces and cut to `limit` characters."""
    if not text:
        return ""
    flat = _SPACES.sub(" ", _CONTROL.sub(" ", str(text))).strip()
    return flat[:limit]


def recipient_or_none(raw: str | None) -> str | None:
    """The normalised address in `raw` ("rfc822; <a@b>", "<a@b>", "a@b"), or None if there is none."""
    if not raw:
        return None
    value = str(raw)
    if ";" in value:  # RFC 3464 2.3.2: address-type ";" generic-address
        value = value.split(";", 1)[1]
    value = value.strip()
    bracketed = _BRACKETED_ID.search(value)
    if bracketed:
        value = bracketed.group(1)
    value = value.strip().strip("<>\"'").strip()
    try:
        return normalise_address(value)
    except InvalidAddress:
        return None


def message_ids(raw: str | None) -> list[str]:
    """Every message id in a Message-ID, In-Reply-To or References value, in order, without <>."""
    if not raw:
        return []
    value = str(raw)
    found = _BRACKETED_ID.findall(value)
    if not found:
        # RFC 5322 requires <>, but RFC 5965's own example omits them: accept a bare id-left@id-right.
        found = [token for token in value.split() if "@" in token]
    return [item for item in found if len(item) <= MAX_MESSAGE_ID]


def first_message_id(*values: str | None) -> str | None:
    """The first message id found in the given header values, tried in order."""
    for value in values:
        found = message_ids(value)
        if found:
            return found[0]
    return None


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date as an aware UTC datetime, or None if it is missing or unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # RFC 5322 3.3: "-0000" means UTC with no local zone known
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
