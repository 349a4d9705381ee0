"""Deliver a claimed batch over a pool of SMTP connections (SEND_CONNECTIONS), one thread per connection.

The caller's thread, the sender, keeps every piece of database work and builds every message (the session
and the ledger's cursor are its own; RSA signing holds the GIL wherever it runs). Each connection thread only
talks SMTP: it asks the sender for its next message, writes that message's envelope (MAIL, RCPT, DATA), and
once the relay has answered 354, asks whether the message may still go - the same re-check as on one
connection, just before the content leaves - then writes the content together with the next message's
envelope (one round trip a message) and reports what the relay said, which the sender records.

Exactly once, with K connections: each connection thread works through a window of its own, which the sender
marks SENDING when the thread asks for it, and finishes it before asking for another (the SENT marks of the
one before are written in the same transaction). So at most SEND_WINDOW x SEND_CONNECTIONS rows are SENDING,
and a crash leaves at most that many UNKNOWN; a row is only ever in one thread's window.

Why threads rather than asyncio: the connections spend their time waiting on sockets, which releases the GIL,
and the work between waits (the database, building and signing) has to happen once per message whatever
runs it; the measured send (docs/benchmarks.md) reaches most of one message per round trip per connection, so
an event loop would have little left to win, and would have needed a second SMTP client and an executor for
the database and for signing.
"""

import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass

from ..mail.relays import Lease, RelayPool
from ..mail.transport import AmbiguousDelivery, DeliveryError, ServerUnavailable, check_envelope
from .ledger import ClaimedReader, Start
from .outcomes import give_back, reader_of, record, set_aside

log = logging.getLogger(__name__)
STOP = {"next": None, "check": (Start.HALTED, None), "done": None, "unsent": None}  # answers once it failed


@dataclass
class Outgoing:
    """A message a connection thread holds: built and, while it waits for its turn, SENDING."""

    claimed: ClaimedReader
    envelope_from: str
    raw: bytes


class Parallel:
    """One batch over the pool: the sender's side (runs the requests of the connection threads in turn)."""

    def __init__(self, template, readers, ledger, pool: RelayPool, pacer, policy, outcome, holds):
        self.template, self.ledger, self.pool, self.pacer = template, ledger, pool, pacer
        self.policy, self.outcome, self.holds = policy, outcome, holds
        self.pending = deque(readers)  # not yet in a window
        self.windows: dict[int, deque] = {}  # a thread's window: its rows not handed to it yet
        self.requests: queue.Queue = queue.Queue()
        self.stopping = False
        self.refusal: str | None = None  # the last relay refusal, for "waiting for the mail server"
        self.threads = min(pool.size, len(readers))

    def run(self) -> None:
        """Start the connection threads and serve them until the last one is done."""
        for lane in range(self.threads):
            threading.Thread(target=Lane(self, lane).run, name=f"newsletter-smtp-{lane}", daemon=True).start()
        alive, stranded, failure = self.threads, 0, None
        while alive:
            kind, lane, args, answer = self.requests.get()
            if kind == "exit":
                alive, stranded = alive - 1, stranded + args[0]
                self._give_back_window(lane)
                continue
            try:
                result = STOP[kind] if failure else getattr(self, kind)(lane, *args)
            except BaseException as exc:  # the database went away: let the threads finish, then raise
                failure, self.stopping, result = exc, True, STOP[kind]
            if answer is not None:
                answer.put(result)
        self.outcome.unstarted += [claimed.delivery_id for claimed in self.pending]
        if stranded == self.threads and not self.stopping:  # no relay takes a connection now
            self.outcome.server_down = self.refusal or "no relay takes a connection now"
        self.outcome.relay_note = self.pool.note()
        if failure is not None:
            raise failure
        self.ledger.flush()

    # The requests, run on the sender thread.
    def next(self, lane: int, may_open: bool) -> Outgoing | None:
        """The thread's next message: from its window, or (when it may) from a new one; None when none."""
        window = self.windows.get(lane)
        while True:
            if not window:
                if not may_open or self.stopping or not self.pending:
                    return None
                window = self.windows[lane] = self._open_window()
                continue
            claimed = window.popleft()
            if self.holds.stops(claimed.email):  # its domain is held or given up: nothing goes out
                set_aside(claimed, self.ledger, self.holds, self.outcome)
                continue
            raw = self.template.message_for(reader_of(claimed, self.policy.secret))
            return Outgoing(claimed, self.template.envelope_from(claimed.delivery_id), raw)

    def check(self, lane: int, message: Outgoing) -> tuple[Start, Outgoing | None]:
        """May the message go now (the relay said 354)? With STARTED, the message to pipeline after it."""
        due = Start.HALTED if self.stopping else self.ledger.still_due(message.claimed.delivery_id)
        if due is Start.STARTED:
            return due, self.next(lane, False)
        if due is Start.SKIPPED:
            self.outcome.skipped += 1
        else:
            if not self.stopping:
                self.outcome.halted = True
            self.stopping = True
            give_back([message.claimed], self.ledger, self.outcome)
        return due, None

    def done(self, _lane: int, message: Outgoing, failure: DeliveryError | None) -> None:
        """Record what the relay said about a message."""
        if isinstance(failure, ServerUnavailable):  # put back, uncounted, for the next batch
            self.refusal = failure.reply
            record(message.claimed, failure, self.ledger, self.policy, self.outcome, self.holds)
            self.outcome.server_down = None  # the other connections go on; run() decides at the end
        elif not record(message.claimed, failure, self.ledger, self.policy, self.outcome, self.holds):
            self.stopping = True

    def unsent(self, _lane: int, messages: list[Outgoing]) -> None:
        """Messages a thread took but could not start: back to QUEUED, given back with the batch's rest."""
        give_back([message.claimed for message in messages], self.ledger, self.outcome)

    def _open_window(self) -> deque:
        # Spread what is left over the threads, so that the batch's end does not wait on one of them.
        size = min(self.policy.window, -(-len(self.pending) // self.threads))
        window = [self.pending.popleft() for _ in range(size)]
        opened = self.ledger.open_window([claimed.delivery_id for claimed in window])
        self.outcome.skipped += len(opened.skipped)
        started = [claimed for claimed in window if claimed.delivery_id in opened.started]
        if opened.halted:  # the issue stopped, or rows were taken over: hand nothing over
            give_back(started, self.ledger, self.outcome)
            self.outcome.unstarted += [c.delivery_id for c in window
                                       if c.delivery_id not in opened.started and c.delivery_id not in opened.skipped]
            self.outcome.halted = self.stopping = True
            return deque()
        return deque(started)

    def _give_back_window(self, lane: int) -> None:
        rest = self.windows.pop(lane, None)
        if rest:
            give_back(list(rest), self.ledger, self.outcome)


class Lane:
    """One connection thread: SMTP only; every decision and record is the sender's (Parallel)."""

    def __init__(self, batch: Parallel, lane: int):
        self.batch, self.lane, self.pool = batch, lane, batch.pool
        self.answers: queue.Queue = queue.Queue()
        self.lease: Lease | None = None
        self.stranded = False  # no relay would take a connection
        self.kept = False  # the connection was kept from an earlier batch and has not answered yet

    def ask(self, kind: str, *args):
        self.batch.requests.put((kind, self.lane, args, self.answers))
        return self.answers.get()

    def tell(self, kind: str, *args) -> None:
        self.batch.requests.put((kind, self.lane, args, None))

    def run(self) -> None:
        try:
            message = self.ask("next", True)
            while message is not None and not self.stranded:
                message = self.stream(message) or (None if self.stranded else self.ask("next", True))
        except Exception:  # a bug: the rows in hand stay SENDING and become UNKNOWN, never sent twice
            log.exception("a sending connection thread failed")
        finally:
            if self.lease is not None:
                self.pool.release(self.lease)
            self.tell("exit", self.stranded)

    def connect(self, message: Outgoing) -> bool:
        """Hold an open connection for `message`; False (the message given back) when no relay takes one."""
        while True:
            if self.lease is None:
                self.lease = self.pool.acquire()
                if self.lease is None:
                    self.stranded = True
                    self.tell("unsent", [message])
                    return False
            self.kept = self.lease.transport.connected
            try:
                self.lease.transport.pipelines()
                return True
            except ServerUnavailable as refusal:  # could not open one: the relay takes one connection less
                self.pool.refused(self.lease, refusal.reply)
                self.lease = None
                self.batch.refusal = refusal.reply

    def stream(self, message: Outgoing) -> Outgoing | None:
        """Send `message` and those after it in this thread's window over one connection, pipelined; return a
        message still to send on a new connection, or None when the window is done."""
        if not self.connect(message):
            return None
        transport = self.lease.transport
        if not transport.pipelines():
            return self.one_by_one(message)
        try:
            transport.write_envelope(message.envelope_from, message.claimed.email)
        except DeliveryError as failure:
            return self.lost(message, failure)
        while True:
            try:
                transport.read_envelope_replies()
            except DeliveryError as failure:
                return self.lost(message, failure)
            self.kept = False
            self.batch.pacer.wait()
            due, after = self.ask("check", message)
            if due is not Start.STARTED:
                transport.abort()  # leave DATA without a message: nothing is delivered
                return None if due is Start.HALTED else self.ask("next", False)
            try:
                if after is not None:
                    check_envelope(after.envelope_from, after.claimed.email)
            except DeliveryError as failure:
                self.tell("done", after, failure)
                after = None
            try:
                if after is None:
                    transport.write_content(message.raw)
                else:
                    transport.write_envelope(after.envelope_from, after.claimed.email, content=message.raw)
                transport.read_content_reply()
                self.tell("done", message, None)
            except (AmbiguousDelivery, ServerUnavailable) as failure:
                return self.lost(message, failure, after)
            except DeliveryError as failure:  # refused; the session goes on with the next envelope
                self.tell("done", message, failure)
            if after is None:
                return None
            message = after

    def lost(self, message: Outgoing, failure: DeliveryError, after: Outgoing | None = None) -> Outgoing | None:
        """`message` was refused or its connection failed: report it, and go on with the window."""
        if after is not None:
            self.tell("unsent", [after])
        if isinstance(failure, ServerUnavailable):
            if self.kept:  # a kept connection the server dropped while idle: the same message on a new one
                self.kept = False
                return message
            self.pool.refused(self.lease, failure.reply)  # a 421, a drop: the relay takes one connection less
            self.lease = None
        self.tell("done", message, failure)
        return self.ask("next", False)

    def one_by_one(self, message: Outgoing) -> Outgoing | None:
        """A relay without PIPELINING: each message on its own, re-checked before it goes."""
        while message is not None:
            self.batch.pacer.wait()
            due, after = self.ask("check", message)
            if due is not Start.STARTED:
                return None if due is Start.HALTED else self.ask("next", False)
            try:
                self.lease.transport.send(message.envelope_from, message.claimed.email, message.raw)
                self.tell("done", message, None)
            except (AmbiguousDelivery, ServerUnavailable) as failure:
                return self.lost(message, failure, after)
            except DeliveryError as failure:
                self.tell("done", message, failure)
            message = after
        return None
