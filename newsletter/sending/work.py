"""One pass of the send path, shared by the embedded thread, `flask worker` and the Celery tasks.

A pass starts scheduled issues that are due, turns abandoned SENDING rows into UNKNOWN, then for each issue
that is sending: creates the next page of deliveries when the queue runs low, claims a batch, delivers it,
and marks the issue sent when nothing is left.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask
from sqlalchemy import select, update

from ..errors import Refused
from ..extensions import db
from ..sending_domains import signer_for
from ..mail.issue_message import IssueTemplate
from ..models import Delivery, Issue, utcnow
from ..states import DeliveryStatus as D
from ..states import IssueStatus as I
from ..stats.issues import settle
from ..transitions import move
from . import holds
from .deliver import BatchOutcome, Policy, deliver_batch
from .outcomes import claim_size
from .heartbeats import Heartbeat, grace
from .ledger import (
    HotLedger,
    claim_batch,
    enqueue_page,
    load_readers,
    queue_is_low,
    recover_stale,
    release,
    unfinished,
)
from .rate import make_pacer
from .start import start_issue

log = logging.getLogger(__name__)
ENQUEUE_PAGE = 2000
ENQUEUE_AHEAD = 3  # batches left in the queue when the next page is created
ENQUEUE_WAIT = 0.02  # seconds, when the queue is empty and another worker is filling it
MAX_SERVER_WAIT = 60.0


@dataclass
class SendState:
    """What a sending process keeps between passes: its identity and heartbeat, rendered issues, pacing, the
    wait for a down server. `kind` says what runs it: thread, worker, celery or cli."""

    app: Flask
    kind: str = "thread"
    templates: dict = field(default_factory=dict)
    pacer: object = None
    server_wait: float = 0.0
    server_retry_at: float = 0.0
    streaks: dict = field(default_factory=dict)
    relay_notes: dict = field(default_factory=dict)  # issue -> what the issue page says about the relays

    def __post_init__(self):
        self.pacer = make_pacer(self.app.config)
        self.policy = Policy.from_config(self.app.config)
        self.heartbeat = Heartbeat(self.app, self.kind)

    @property
    def owner(self) -> str:
        """The lease_owner of this sender's claims."""
        return self.heartbeat.owner

    def template(self, issue: Issue) -> IssueTemplate:
        """The issue rendered once per process (again only if it was edited)."""
        key = (issue.id, issue.updated_at)
        if key not in self.templates:
            self.templates = {k: v for k, v in self.templates.items() if k[0] != issue.id}
            self.templates[key] = IssueTemplate(issue, signer=signer_for(issue.newsletter))
        return self.templates[key]


def run_issue_work(state: SendState, transport, budget: float = 10.0, only_issue: int | None = None) -> int:
    """One pass over the issues being sent; returns how many messages were handed over."""
    config = state.app.config
    now = utcnow()
    start_due_issues(now)
    settle_cancelled()
    state.heartbeat.reap_neighbours()
    recover_stale(now, grace(config), timedelta(seconds=config["MAIL_TIMEOUT"] * 2))
    issue_ids = sending_issue_ids(only_issue)
    if not issue_ids:
        return 0
    with state.heartbeat.holding():  # beats while waiting for a down server too: the sender is alive
        if time.monotonic() < state.server_retry_at:
            return 0
        deadline = time.monotonic() + budget
        handed = 0
        for issue_id in issue_ids:
            handed += send_issue_batches(state, transport, issue_id, deadline)
            finish_if_done(issue_id)
            if time.monotonic() >= deadline or time.monotonic() < state.server_retry_at:
                break
        return handed


def send_issue_batches(state: SendState, transport, issue_id: int, deadline: float) -> int:
    """Claim and deliver batches of one issue until the deadline or until nothing is claimable."""
    config = state.app.config
    lease, dead_after = timedelta(seconds=config["SEND_LEASE_SECONDS"]), grace(config)
    size = claim_size(config)
    handed = 0
    listed = False  # every reader has a delivery row: nothing more to enqueue
    while time.monotonic() < deadline:
        claimed = claim_batch(issue_id, state.owner, size, lease, dead_after)
        # The next page is created before the queue runs dry, so that other workers keep claiming meanwhile.
        if not listed and (len(claimed) < size or queue_is_low(issue_id, ENQUEUE_AHEAD * size)):
            added = enqueue_page(issue_id, ENQUEUE_PAGE)
            listed = added == 0
            if added and len(claimed) < size:
                claimed += claim_batch(issue_id, state.owner, size - len(claimed), lease,
                                       dead_after)
            elif added is None and not claimed:  # another worker is creating the page this one waits for
                time.sleep(ENQUEUE_WAIT)
                continue
        if not claimed:
            return handed
        issue = db.session.get(Issue, issue_id)
        try:
            template = state.template(issue)
        except Refused as error:  # its key cannot be read (a changed SECRET_KEY, a key file gone)
            db.session.rollback()
            release(claimed, state.owner)
            pause_by_itself(issue_id, error.message)
            return handed
        db.session.commit()
        outcome = _deliver(state, transport, template, issue_id, claimed)
        handed += outcome.sent
        if not _after_batch(state, issue_id, outcome):
            return handed
    return handed


def _deliver(state: SendState, transport, template, issue_id: int, claimed: list[int]) -> BatchOutcome:
    readers = load_readers(claimed)
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        ledger = HotLedger(connection, state.owner, issue_id)
        outcome = deliver_batch(template, readers, ledger, transport, state.pacer, state.policy,
                                state.streaks.get(issue_id, 0))
        loaded = {reader.delivery_id for reader in readers}
        erased = [delivery_id for delivery_id in claimed if delivery_id not in loaded]
        if erased:  # readers erased since their rows were made: they no longer receive mail, so SKIPPED
            window = ledger.open_window(erased)
            outcome.skipped += len(window.skipped)
            outcome.unstarted += [delivery_id for delivery_id in erased if delivery_id not in window.skipped]
        return outcome


def _after_batch(state: SendState, issue_id: int, outcome: BatchOutcome) -> bool:
    """Give back what was not started, note a down server or a self-pause; True to keep going."""
    release(outcome.unstarted, state.owner)
    state.streaks[issue_id] = outcome.failure_streak
    if outcome.server_down:
        # Back off while nothing gets through; a server that was just working gets the short wait again.
        state.server_wait = 1.0 if outcome.sent else min(MAX_SERVER_WAIT, max(1.0, state.server_wait * 2))
        state.server_retry_at = time.monotonic() + state.server_wait
        note_waiting(issue_id, f"Waiting for the mail server ({outcome.server_down[:300]}); sending resumes "
                               f"by itself when it answers.")
        return False
    if state.server_wait:
        state.server_wait = 0.0
        note_waiting(issue_id, None)
    if outcome.relay_note != state.relay_notes.get(issue_id):  # a relay took fewer connections, or all again
        state.relay_notes[issue_id] = outcome.relay_note
        note_waiting(issue_id, outcome.relay_note)
    if outcome.stop_reason:
        pause_by_itself(issue_id, outcome.stop_reason)
        state.streaks[issue_id] = 0
        return False
    return not outcome.halted or _still_sending(issue_id)


def _still_sending(issue_id: int) -> bool:
    status = db.session.scalar(select(Issue.status).where(Issue.id == issue_id))
    db.session.commit()
    return status == I.SENDING


def sending_issue_ids(only_issue: int | None = None) -> list[int]:
    """Issues in SENDING, oldest first."""
    query = select(Issue.id).where(Issue.status == I.SENDING.value).order_by(Issue.started_at, Issue.id)
    if only_issue is not None:
        query = query.where(Issue.id == only_issue)
    ids = list(db.session.scalars(query))
    db.session.commit()
    return ids


def start_due_issues(now) -> int:
    """Scheduled issues whose time has come start sending, through the same start as "send now" (their checks
    ran when they were scheduled); of several runners, one starts each."""
    due = db.session.scalars(
        select(Issue.id).where(Issue.status == I.SCHEDULED.value, Issue.scheduled_at <= now)
    ).all()
    started = sum(start_issue(issue_id, now, from_=[I.SCHEDULED]) for issue_id in due)
    db.session.commit()
    return started


def settle_cancelled() -> None:
    """Deliveries still queued (or held for their domain) for a cancelled issue will not go out."""
    cancelled = select(Issue.id).where(Issue.status == I.CANCELLED.value).scalar_subquery()
    move(Delivery, D.SKIPPED, Delivery.issue_id.in_(cancelled), from_=[D.QUEUED, D.HELD],
         smtp_reply="not sent: the issue was cancelled", lease_until=None)
    db.session.commit()


def finish_if_done(issue_id: int) -> bool:
    """SENDING -> SENT once every delivery is settled, the list is exhausted and no domain is held."""
    issue = db.session.get(Issue, issue_id)
    done = issue is not None and issue.status == I.SENDING and issue.enqueue_done and not unfinished(issue_id) \
        and not holds.holding(issue_id)
    if done:
        holds.settle(issue_id)  # refusals of domains that were never held are failures after all
        now = utcnow()
        move(Issue, I.SENT, Issue.id == issue_id, from_=[I.SENDING], finished_at=now, stop_reason=None,
             updated_at=now)
        settle(issue_id)  # the issue's delivery counts, written once for the statistics pages
    db.session.commit()
    return done


def pause_by_itself(issue_id: int, reason: str) -> None:
    """Stop a send that keeps failing and say why (the publisher resumes it)."""
    log.warning("issue %s paused: %s", issue_id, reason)
    move(Issue, I.PAUSED, Issue.id == issue_id, from_=[I.SENDING], stop_reason=reason[:500])
    db.session.commit()


def note_waiting(issue_id: int, note: str | None) -> None:
    """Show (or clear) why a send is waiting, on the issue page."""
    db.session.execute(
        update(Issue).where(Issue.id == issue_id).values(stop_reason=note[:500] if note else None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
