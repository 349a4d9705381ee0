"""What becomes of each message of a batch, recorded in the ledger: the same for one connection (deliver.py)
and for a pool of them (parallel.py)."""

import math
from dataclasses import dataclass, field
from datetime import timedelta

from .. import tokens
from ..addresses import mail_domain
from ..mail.issue_message import Reader
from ..mail.transport import AmbiguousDelivery, DeliveryError, PermanentFailure, ServerUnavailable
from ..models import utcnow
from ..states import DeliveryStatus as D
from ..states import HoldStatus
from .holds import GIVEN_UP_NOTE, HELD_NOTE, DomainHolds
from .ledger import ClaimedReader, HotLedger


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
    relay_note: str | None = None  # relays taking fewer connections than configured (mail/relays.py)
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
    """Messages marked SENDING at a time per connection: SEND_WINDOW, or a tenth of a second's worth across
    the SEND_CONNECTIONS when the rate is capped (a paced send gains nothing from a larger window, and a crash
    would cost more readers)."""
    rate = config["SEND_RATE_PER_SECOND"]
    if rate > 0:
        return max(1, min(config["SEND_WINDOW"], math.ceil(rate / 10 / config.get("SEND_CONNECTIONS", 1))))
    return config["SEND_WINDOW"]


def claim_size(config: dict) -> int:
    """Deliveries a worker claims at a time: SEND_BATCH_SIZE, or half a minute's worth when the rate is capped
    (a claim ends well within its lease, and other workers find the rest). Between two claims each connection
    waits a round trip or two, so a claim of 1,000 (the default) costs a pool of 8 about 2 % of its time where
    200 cost 10 to 15 % (bench/send.py --rtt-ms 10)."""
    size, rate = config["SEND_BATCH_SIZE"], config["SEND_RATE_PER_SECOND"]
    return max(1, min(size, math.ceil(rate * 30))) if rate > 0 else size


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


def give_back(readers: list[ClaimedReader], ledger: HotLedger, outcome: BatchOutcome) -> None:
    """Rows marked SENDING whose message never went: QUEUED again, to be released with the batch's rest."""
    ids = [c.delivery_id for c in readers]
    ledger.abandon(ids)
    outcome.unstarted += ids


def set_aside(claimed: ClaimedReader, ledger: HotLedger, holds: DomainHolds, outcome: BatchOutcome) -> None:
    """A SENDING row whose domain is held (HELD, to wait for the publisher) or given up (SKIPPED)."""
    domain = mail_domain(claimed.email)
    if holds.stops(claimed.email) == HoldStatus.HELD:
        ledger.finish(claimed.delivery_id, D.HELD, None, HELD_NOTE.format(domain=domain), count_attempt=False)
        outcome.held += 1
    else:
        ledger.finish(claimed.delivery_id, D.SKIPPED, None, GIVEN_UP_NOTE.format(domain=domain),
                      count_attempt=False)
        outcome.skipped += 1


def record(claimed: ClaimedReader, failure: DeliveryError | None, ledger: HotLedger, policy: Policy,
           outcome: BatchOutcome, holds: DomainHolds) -> bool:
    """Record what became of one message handed over (None: accepted); False when the batch must stop."""
    delivery_id = claimed.delivery_id
    if isinstance(failure, ServerUnavailable):
        # Not the reader's fault: put it back without counting an attempt; the runner waits for the server.
        ledger.finish(delivery_id, D.QUEUED, failure.code, failure.reply, retry_at=utcnow(), count_attempt=False)
        outcome.server_down = failure.reply
        return False
    if isinstance(failure, AmbiguousDelivery):
        ledger.finish(delivery_id, D.UNKNOWN, None, failure.reply)
        outcome.unknown += 1
    elif isinstance(failure, PermanentFailure):
        if holds.refused(delivery_id, claimed.email, failure.reply):  # about the sender: not the reader's doing
            ledger.finish(delivery_id, D.HELD, failure.code, failure.reply)
            outcome.held += 1
        else:
            ledger.finish(delivery_id, D.FAILED, failure.code, failure.reply)
            outcome.failed += 1
            outcome.failure_streak += 1
    elif failure is not None:
        retry_or_fail(delivery_id, claimed.attempts + 1, failure, ledger, policy, outcome)
    else:
        ledger.sent_ok(delivery_id)
        outcome.sent += 1
        outcome.failure_streak = 0
    if outcome.failure_streak >= policy.max_failures:
        outcome.stop_reason = (f"Paused by itself: {outcome.failure_streak} messages in a row were refused by "
                               f"the SMTP server. Check the relay, then resume.")
        return False
    return True


def retry_or_fail(delivery_id, attempts, exc, ledger, policy, outcome) -> None:
    if attempts >= policy.max_attempts:
        ledger.finish(delivery_id, D.FAILED, exc.code, f"gave up after {attempts} attempts: {exc.reply}")
        outcome.failed += 1
        outcome.failure_streak += 1
        return
    delay = min(3600.0, policy.retry_base * 2 ** (attempts - 1))  # bounded exponential backoff
    ledger.finish(delivery_id, D.QUEUED, exc.code, exc.reply, retry_at=utcnow() + timedelta(seconds=delay))
    outcome.retried += 1
