"""Deliver one claimed batch, a window at a time: mark the window, then per reader re-check, personalise, hand
over, record. The same code for every runner."""

import logging
import math
from dataclasses import dataclass, field
from datetime import timedelta

from .. import tokens
from ..addresses import mail_domain
from ..mail.issue_message import IssueTemplate, Reader
from ..mail.transport import (
    AmbiguousDelivery,
    PermanentFailure,
    ServerUnavailable,
    TransientFailure,
    Transport,
)
from ..models import utcnow
from ..states import DeliveryStatus as D
from ..states import HoldStatus
from .holds import GIVEN_UP_NOTE, HELD_NOTE, DomainHolds
from .ledger import ClaimedReader, HotLedger, Start

log = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    skipped: int = 0
    held: int = 0  # its domain refused the sender: set aside for the publisher (holds.py)
    failure_streak: int = 0
    server_down: str | None = None  # the transport's words when the SMTP server could not be used
    stop_reason: str | None = None  # why the issue must pause (too many refusals in a row)
    halted: bool = False  # the issue stopped sending (paused, cancelled) or the rows were taken over
    unstarted: list[int] = field(default_factory=list)  # claimed rows to give back


@dataclass
class Policy:
    retry_base: float
    max_attempts: int
    max_failures: int
    secret: str
    window: int = 1
    hold_after: int = 5  # sender-side refusals from one domain that hold the rest of its mail (holds.py)

    @classmethod
    def from_config(cls, config: dict) -> "Policy":
        return cls(config["SEND_RETRY_BASE_SECONDS"], config["SEND_MAX_ATTEMPTS"],
                   config["SEND_MAX_CONSECUTIVE_FAILURES"], config["SECRET_KEY"], window_size(config),
                   config["SEND_HOLD_DOMAIN_AFTER"])


def window_size(config: dict) -> int:
    """Messages marked SENDING at a time: SEND_WINDOW, or a tenth of a second's worth when the rate is capped
    (a paced send gains nothing from a larger window, and a crash would cost more readers)."""
    rate = config["SEND_RATE_PER_SECOND"]
    if rate > 0:
        return max(1, min(config["SEND_WINDOW"], math.ceil(rate / 10)))
    return config["SEND_WINDOW"]


def reader_of(claimed: ClaimedReader, secret: str) -> Reader:
    """The personal parts of a claimed delivery, tokens included."""
    return Reader(
        email=claimed.email, name=claimed.name, confirmed_at=claimed.confirmed_at,
        consent_source=claimed.consent_source, delivery_id=claimed.delivery_id,
        unsubscribe_token=tokens.make_token(secret, tokens.UNSUBSCRIBE, claimed.subscription_id,
                                            claimed.subscription_nonce),
        preferences_token=tokens.make_token(secret, tokens.PREFERENCES, claimed.subscriber_id,
                                            claimed.subscriber_nonce),
    )


def deliver_batch(template: IssueTemplate, readers: list[ClaimedReader], ledger: HotLedger, transport: Transport,
                  pacer, policy: Policy, streak: int = 0, holds: DomainHolds | None = None) -> BatchOutcome:
    """Send a claimed batch in order; stop early when the issue stops, the server is down or refusals pile up.
    Nothing goes to a domain `holds` stops; a refusal about the sender is the domain's, not the reader's."""
    outcome = BatchOutcome(failure_streak=streak)
    holds = holds or DomainHolds.load(template.issue_id, policy.hold_after)
    for first in range(0, len(readers), policy.window):
        window = readers[first:first + policy.window]
        if not _deliver_window(template, window, ledger, transport, pacer, policy, outcome, holds):
            outcome.unstarted += [c.delivery_id for c in readers[first + len(window):]]
            break
    ledger.flush()
    return outcome


def _deliver_window(template, window, ledger, transport, pacer, policy, outcome, holds) -> bool:
    """Mark a window SENDING, then hand its messages over one by one; False when the batch must stop."""
    pacer.wait()  # the first message's turn: its check is the window's own
    opened = ledger.open_window([c.delivery_id for c in window])
    outcome.skipped += len(opened.skipped)
    started = [c for c in window if c.delivery_id in opened.started]
    if opened.halted:  # the issue stopped, or rows were taken over: hand nothing over
        _give_back(started, ledger, outcome)
        outcome.unstarted += [c.delivery_id for c in window
                              if c.delivery_id not in opened.started and c.delivery_id not in opened.skipped]
        outcome.halted = True
        return False
    for index, claimed in enumerate(started):
        if holds.stops(claimed.email):  # its domain is held or given up: nothing goes out, no pacing
            _set_aside(claimed, ledger, holds, outcome)
            continue
        if index:
            pacer.wait()
        due = ledger.still_due(claimed.delivery_id) if index else Start.STARTED  # the first: checked just now
        if due is Start.SKIPPED:
            outcome.skipped += 1
            continue
        if due is Start.HALTED:
            _give_back(started[index:], ledger, outcome)
            outcome.halted = True
            return False
        raw = template.message_for(reader_of(claimed, policy.secret))  # signed by the template's key, if any
        if not _hand_over(template, claimed, raw, ledger, transport, policy, outcome, holds):
            _give_back(started[index + 1:], ledger, outcome)
            return False
    return True


def _give_back(readers: list[ClaimedReader], ledger: HotLedger, outcome: BatchOutcome) -> None:
    """Rows marked SENDING whose message never went: QUEUED again, to be released with the batch's rest."""
    ids = [c.delivery_id for c in readers]
    ledger.abandon(ids)
    outcome.unstarted += ids


def _set_aside(claimed: ClaimedReader, ledger: HotLedger, holds: DomainHolds, outcome: BatchOutcome) -> None:
    """A SENDING row whose domain is held (HELD, to wait for the publisher) or given up (SKIPPED)."""
    domain = mail_domain(claimed.email)
    if holds.stops(claimed.email) == HoldStatus.HELD:
        ledger.finish(claimed.delivery_id, D.HELD, None, HELD_NOTE.format(domain=domain), count_attempt=False)
        outcome.held += 1
    else:
        ledger.finish(claimed.delivery_id, D.SKIPPED, None, GIVEN_UP_NOTE.format(domain=domain),
                      count_attempt=False)
        outcome.skipped += 1


def _hand_over(template, claimed, raw, ledger, transport, policy, outcome, holds) -> bool:
    """Send one message and record what happened; False when the batch must stop."""
    delivery_id = claimed.delivery_id
    try:
        transport.send(template.envelope_from(delivery_id), claimed.email, raw)
    except ServerUnavailable as exc:
        # Not the reader's fault: put it back without counting an attempt; the runner waits for the server.
        ledger.finish(delivery_id, D.QUEUED, exc.code, exc.reply, retry_at=utcnow(), count_attempt=False)
        outcome.server_down = exc.reply
        return False
    except AmbiguousDelivery as exc:
        ledger.finish(delivery_id, D.UNKNOWN, None, exc.reply)
        outcome.unknown += 1
    except PermanentFailure as exc:
        if holds.refused(delivery_id, claimed.email, exc.reply):  # about the sender: not the reader's doing
            ledger.finish(delivery_id, D.HELD, exc.code, exc.reply)
            outcome.held += 1
        else:
            ledger.finish(delivery_id, D.FAILED, exc.code, exc.reply)
            outcome.failed += 1
            outcome.failure_streak += 1
    except TransientFailure as exc:
        _retry_or_fail(delivery_id, claimed.attempts + 1, exc, ledger, policy, outcome)
    else:
        ledger.sent_ok(delivery_id)
        outcome.sent += 1
        outcome.failure_streak = 0
    if outcome.failure_streak >= policy.max_failures:
        outcome.stop_reason = (f"Paused by itself: {outcome.failure_streak} messages in a row were refused by "
                               f"the SMTP server. Check the relay, then resume.")
        return False
    return True


def _retry_or_fail(delivery_id, attempts, exc, ledger, policy, outcome) -> None:
    if attempts >= policy.max_attempts:
        ledger.finish(delivery_id, D.FAILED, exc.code, f"gave up after {attempts} attempts: {exc.reply}")
        outcome.failed += 1
        outcome.failure_streak += 1
        return
    delay = min(3600.0, policy.retry_base * 2 ** (attempts - 1))  # bounded exponential backoff
    ledger.finish(delivery_id, D.QUEUED, exc.code, exc.reply, retry_at=utcnow() + timedelta(seconds=delay))
    outcome.retried += 1
