"""Deliver one claimed batch, a window at a time: mark the window, then per reader re-check, personalise, hand
over, record (outcomes.py). The same code for every runner; over a pool of connections, parallel.py."""

import logging

from ..mail.issue_message import IssueTemplate
from ..mail.relays import RelayPool
from ..mail.transport import DeliveryError, Transport
from .holds import DomainHolds
from .ledger import ClaimedReader, HotLedger, Start
from .outcomes import BatchOutcome, Policy, give_back, reader_of, record, set_aside, window_size  # noqa: F401
from .parallel import Parallel

log = logging.getLogger(__name__)


def deliver_batch(template: IssueTemplate, readers: list[ClaimedReader], ledger: HotLedger,
                  transport: Transport | RelayPool, pacer, policy: Policy, streak: int = 0,
                  holds: DomainHolds | None = None) -> BatchOutcome:
    """Send a claimed batch in order; stop early when the issue stops, the server is down or refusals pile up.
    Nothing goes to a domain `holds` stops; a refusal about the sender is the domain's, not the reader's.
    Over a pool of connections, sending/parallel.py does the same with a window per connection."""
    outcome = BatchOutcome(failure_streak=streak)
    holds = holds or DomainHolds.load(template.issue_id, policy.hold_after)
    if isinstance(transport, RelayPool):
        Parallel(template, readers, ledger, transport, pacer, policy, outcome, holds).run()
        return outcome
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
        give_back(started, ledger, outcome)
        outcome.unstarted += [c.delivery_id for c in window
                              if c.delivery_id not in opened.started and c.delivery_id not in opened.skipped]
        outcome.halted = True
        return False
    for index, claimed in enumerate(started):
        if holds.stops(claimed.email):  # its domain is held or given up: nothing goes out, no pacing
            set_aside(claimed, ledger, holds, outcome)
            continue
        if index:
            pacer.wait()
        due = ledger.still_due(claimed.delivery_id) if index else Start.STARTED  # the first: checked just now
        if due is Start.SKIPPED:
            outcome.skipped += 1
            continue
        if due is Start.HALTED:
            give_back(started[index:], ledger, outcome)
            outcome.halted = True
            return False
        raw = template.message_for(reader_of(claimed, policy.secret))  # signed by the template's key, if any
        if not _hand_over(template, claimed, raw, ledger, transport, policy, outcome, holds):
            give_back(started[index + 1:], ledger, outcome)
            return False
    return True


def _hand_over(template, claimed, raw, ledger, transport, policy, outcome, holds) -> bool:
    """Send one message and record what happened; False when the batch must stop."""
    try:
        transport.send(template.envelope_from(claimed.delivery_id), claimed.email, raw)
    except DeliveryError as failure:
        return record(claimed, failure, ledger, policy, outcome, holds)
    return record(claimed, None, ledger, policy, outcome, holds)


