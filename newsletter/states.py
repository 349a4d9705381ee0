"""Named statuses and the one table of allowed transitions for each kind of record.

A status is written only by `newsletter/transitions.py`, which checks every change against TRANSITIONS (and
every new row's first status against INITIAL), so a rule like "an unsubscribed reader is never made confirmed
except by confirming again" lives here and nowhere else.
"""

import re
from enum import StrEnum

from flask_babel import lazy_gettext as _l

from .errors import Refused


class SubscriptionStatus(StrEnum):
    PENDING = "pending"  # asked, not confirmed: receives nothing but the confirmation mail
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class IssueStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"  # a send stopped for good
    DISCARDED = "discarded"  # a draft put aside: it can be restored for a while, then it is gone


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to the SMTP server, reply not yet recorded
    SENT = "sent"  # the relay accepted it: not the same as delivered to the inbox
    FAILED = "failed"
    BOUNCED = "bounced"
    SKIPPED = "skipped"  # no longer eligible when its turn came (unsubscribed, paused, suppressed)
    UNKNOWN = "unknown"  # left in SENDING by a crash: maybe sent, never retried (at most once)
    HELD = "held"  # its domain refused the sender: kept until the publisher retries or gives up on the domain


class HoldStatus(StrEnum):
    """One receiving domain during one issue's send (sending/holds.py)."""

    HELD = "held"  # refused the sender too often: nothing more goes there until the publisher decides
    RETRIED = "retried"  # the publisher fixed the cause: its messages are queued again, refusals counted anew
    GIVEN_UP = "given_up"  # the publisher gave the domain up for this issue: its messages are skipped


class SystemMailStatus(StrEnum):
    """A queued system mail (confirmation, welcome, a publisher's test): sending/system_mail.py."""

    QUEUED = "queued"  # waits for its next attempt (sent rows are deleted: nothing to keep)
    SENDING = "sending"  # claimed by a runner; claimed again if that runner vanished (stale lease)
    FAILED = "failed"  # refused for good, or too many attempts


class UnsubscribeReason(StrEnum):
    """Why a reader left, stored with the departure as 'code' or 'code: their own words'."""

    TOO_OFTEN = "too_often"
    NOT_RELEVANT = "not_relevant"
    NEVER_ASKED = "never_asked"
    OTHER = "other"
    MAILTO = "mailto"  # wrote to the List-Unsubscribe address
    FEEDBACK_REPORT = "feedback_report"  # an opt-out report from their mailbox provider
    ON_REQUEST = "on_request"  # asked the publisher, who unsubscribed them from the readers page


UNSUBSCRIBE_REASONS = tuple(reason.value for reason in UnsubscribeReason)
READER_REASONS = (UnsubscribeReason.TOO_OFTEN, UnsubscribeReason.NOT_RELEVANT, UnsubscribeReason.NEVER_ASKED,
                  UnsubscribeReason.OTHER)  # what the unsubscribe page offers
NO_REASON = "none"  # in the figures: a departure without a reason
REASON_LABELS = {
    UnsubscribeReason.TOO_OFTEN: _l("Too many e-mails"),
    UnsubscribeReason.NOT_RELEVANT: _l("The content is not for me any more"),
    UnsubscribeReason.NEVER_ASKED: _l("I never asked for this"),
    UnsubscribeReason.OTHER: _l("Another reason"),
    UnsubscribeReason.MAILTO: _l("Left by e-mail (the unsubscribe address)"),
    UnsubscribeReason.FEEDBACK_REPORT: _l("Asked to leave through their mailbox provider (opt-out report)"),
    UnsubscribeReason.ON_REQUEST: _l("Asked the publisher, who unsubscribed them"),
    NO_REASON: _l("I'd rather not say"),
}


class ImportJobStatus(StrEnum):
    """An uploaded file's way through the background import (importer/jobs.py)."""

    CHECKING = "checking"  # pass 1 with read-only counts, waiting for a worker or running
    CHECKED = "checked"  # the report is ready; the upload waits for the publisher's confirmation
    IMPORTING = "importing"  # confirmed: both passes, waiting for a worker or running
    DONE = "done"  # imported, or checked with nothing to import; the upload is deleted
    REFUSED = "refused"  # refused as a whole (or by --strict); nothing stored, the upload deleted
    FAILED = "failed"  # stopped by an error or by too many interrupted attempts; the upload deleted
    ABANDONED = "abandoned"  # checked, then put aside by the publisher or left unconfirmed for a day; upload deleted



class AdminJobKind(StrEnum):
    """What a background admin job does (admin_jobs/)."""

    EXPORT = "export"  # the newsletter's confirmed readers as CSV, a file to download


class AdminJobStatus(StrEnum):
    """A long admin action's way through its background job (admin_jobs/)."""

    QUEUED = "queued"  # waiting for a worker, or running (a lease is held)
    DONE = "done"  # done: an export's file is ready to download until it expires
    FAILED = "failed"  # stopped by an error or by too many interrupted attempts; its file deleted
    DELETED = "deleted"  # its file deleted, by its owner or once expired (or the job cancelled before it ended)


S, I, D, H, M, J = SubscriptionStatus, IssueStatus, DeliveryStatus, HoldStatus, SystemMailStatus, ImportJobStatus
A = AdminJobStatus

TRANSITIONS: dict[type, dict[str, set[str]]] = {
    SubscriptionStatus: {
        # Only a person's own confirmation (or an import carrying proof of one) leads to CONFIRMED.
        S.PENDING: {S.PENDING, S.CONFIRMED, S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED},
        S.CONFIRMED: {S.CONFIRMED, S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED},
        # Leaving is final: the way back is subscribing again, which starts a new double opt-in.
        S.UNSUBSCRIBED: {S.UNSUBSCRIBED, S.PENDING},
        # Back to CONFIRMED only to undo a bounce that was a refusal about the sender (feedback/restore.py).
        S.BOUNCED: {S.BOUNCED, S.PENDING, S.COMPLAINED, S.CONFIRMED},
        S.COMPLAINED: {S.COMPLAINED, S.PENDING},
    },
    IssueStatus: {
        I.DRAFT: {I.DRAFT, I.SCHEDULED, I.SENDING, I.CANCELLED, I.DISCARDED},
        I.SCHEDULED: {I.DRAFT, I.SENDING, I.CANCELLED, I.DISCARDED},
        I.SENDING: {I.PAUSED, I.SENT, I.CANCELLED},
        I.PAUSED: {I.SENDING, I.CANCELLED},
        I.SENT: set(),
        I.CANCELLED: set(),
        I.DISCARDED: {I.DRAFT},
    },
    DeliveryStatus: {
        D.QUEUED: {D.SENDING, D.SKIPPED, D.FAILED, D.HELD},
        D.SENDING: {D.SENT, D.QUEUED, D.FAILED, D.UNKNOWN, D.SKIPPED, D.HELD},
        D.SENT: {D.BOUNCED},
        D.FAILED: set(),
        D.BOUNCED: set(),
        D.SKIPPED: set(),
        D.UNKNOWN: {D.BOUNCED},
        # Not the reader's doing: queued again when the publisher retries the domain, skipped when they give it
        # up or cancel, failed if the send ends without the domain having been held (a refusal or two).
        D.HELD: {D.QUEUED, D.SKIPPED, D.FAILED},
    },
    HoldStatus: {
        H.HELD: {H.RETRIED, H.GIVEN_UP},
        H.RETRIED: {H.HELD},
        H.GIVEN_UP: set(),
    },
    SystemMailStatus: {
        M.QUEUED: {M.SENDING},
        # SENDING again: a runner takes over a claim whose runner vanished; QUEUED: deferred after a failure.
        M.SENDING: {M.SENDING, M.QUEUED, M.FAILED},
        M.FAILED: set(),
    },
    ImportJobStatus: {
        J.CHECKING: {J.CHECKED, J.DONE, J.REFUSED, J.FAILED},
        J.CHECKED: {J.IMPORTING, J.ABANDONED},
        J.IMPORTING: {J.DONE, J.REFUSED, J.FAILED},
        J.DONE: set(),
        J.REFUSED: set(),
        J.FAILED: set(),
        J.ABANDONED: set(),
    },
    AdminJobStatus: {
        A.QUEUED: {A.DONE, A.FAILED, A.DELETED},
        A.DONE: {A.DELETED},
        A.FAILED: set(),
        A.DELETED: set(),
    },
}

# The status a new row may be written with. A subscription starts CONFIRMED only when an import carries the
# proof of a confirmed opt-in (importer/batch.py); every other starts PENDING.
INITIAL: dict[type, set[str]] = {
    SubscriptionStatus: {S.PENDING, S.CONFIRMED},
    IssueStatus: {I.DRAFT},
    DeliveryStatus: {D.QUEUED},
    HoldStatus: {H.HELD},
    SystemMailStatus: {M.QUEUED},
    ImportJobStatus: {J.CHECKING},
    AdminJobStatus: {A.QUEUED},
}


def sources(new: StrEnum) -> set[str]:
    """Every status from which a record may move to `new` (`new` itself left out: that is no move)."""
    return {old for old, targets in TRANSITIONS[type(new)].items() if new in targets and old != new}


# How a status reads in a sentence ("An issue cannot go from sent to being sent."); others read as they are.
IN_WORDS: dict[type, dict[str, str]] = {
    IssueStatus: {I.DRAFT: "a draft", I.SENDING: "being sent"},
    SubscriptionStatus: {S.PENDING: "waiting for confirmation"},
    DeliveryStatus: {D.SENDING: "being handed over"},
    HoldStatus: {H.GIVEN_UP: "given up"},
}


def _named(kind: type) -> str:
    noun = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", kind.__name__.removesuffix("Status")).lower()  # "system mail"
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def can_transition(kind: type, old: str, new: str) -> bool:
    """True if a record of this status kind may go from old to new."""
    return new in TRANSITIONS[kind].get(old, set())


def check_transition(kind: type, old: str, new: str) -> None:
    """Raise Refused unless the transition is in the table."""
    if not can_transition(kind, old, new):
        words = [IN_WORDS.get(kind, {}).get(status, status) for status in (old, new)]
        raise Refused(f"{_named(kind).capitalize()} cannot go from {words[0]} to {words[1]}.")
