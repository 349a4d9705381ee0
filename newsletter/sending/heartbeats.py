"""Which senders are alive. Each sending process (the thread in a web process, `flask worker`, a Celery worker
process, `issues send --wait`) has an identity, the `lease_owner` of its claims, and a row in sender_heartbeats
that a small thread beats every few seconds while the sender works on a sending issue.

A claim whose holder has no beat younger than SEND_HEARTBEAT_GRACE is free for the next pass of any sender, and
its SENDING rows become UNKNOWN at that moment (ledger.claim_batch, ledger.recover_stale). A holder on this
machine whose process is gone (or whose pid another process now has) is dead at once, without waiting for the
grace: a restarted process never waits for its previous incarnation.
"""

import logging
import os
import secrets
import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import psutil
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import SenderHeartbeat, utcnow

log = logging.getLogger(__name__)
HOST = socket.gethostname()[:255]
MAX_BEAT_EVERY = 5.0  # seconds between beats, at most (a third of the grace when that is shorter)
FORGET_AFTER = timedelta(days=1)  # rows of senders gone this long are deleted


def grace(config) -> timedelta:
    """How old a holder's last beat may be before its claims are taken over."""
    return timedelta(seconds=config["SEND_HEARTBEAT_GRACE"])


def beat_interval(config) -> float:
    """Seconds between two beats: several beats fit in the grace, so one slow write never looks like death."""
    return min(MAX_BEAT_EVERY, config["SEND_HEARTBEAT_GRACE"] / 3)


def live_owners(now: datetime, within: timedelta):
    """The owners whose last beat is younger than `within` (a subquery for the ledger's conditions)."""
    return select(SenderHeartbeat.owner).where(SenderHeartbeat.beat_at >= now - within)


def alive_senders(config) -> list[SenderHeartbeat]:
    """Senders whose beat is younger than the grace, less those of this machine whose process is gone. Commits
    (a read left open would hold SQLite's write lock)."""
    rows = db.session.scalars(
        select(SenderHeartbeat).where(SenderHeartbeat.beat_at >= utcnow() - grace(config))
        .order_by(SenderHeartbeat.beat_at.desc())
    ).all()
    db.session.commit()
    return [row for row in rows if row.host != HOST or _same_process(row.pid, row.process_started)]


def _process_started(pid: int) -> float | None:
    """When the process with this pid started, or None when there is none (a zombie counts as gone)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


class Heartbeat:
    """This sender's identity and its row; `holding()` surrounds the work on sending issues."""

    def __init__(self, app: Flask, kind: str):
        self.app = app
        self.kind = kind
        self.pid = os.getpid()
        self.owner = f"{HOST[:40]}:{self.pid}:{secrets.token_hex(4)}"
        self.started = _process_started(self.pid) or time.time()
        self.every = beat_interval(app.config)
        self._holding = 0
        self._last_beat = 0.0
        self._last_reap = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def holding(self):
        """Beat now (before any claim is taken), and every few seconds until the block ends. Commits."""
        if time.monotonic() - self._last_beat > self.every / 2:
            self.beat()
        with self._lock:
            self._holding += 1
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="newsletter-heartbeat", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._holding -= 1

    def beat(self) -> None:
        """Write this sender's row with the time now. Commits."""
        now = utcnow()
        insert = (postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert)(SenderHeartbeat)
        db.session.execute(
            insert.values(owner=self.owner, kind=self.kind, host=HOST, pid=self.pid,
                          process_started=self.started, started_at=now, beat_at=now)
            .on_conflict_do_update(index_elements=["owner"], set_={"beat_at": now})
        )
        db.session.commit()
        self._last_beat = time.monotonic()

    def reap_neighbours(self) -> int:
        """Senders of this machine whose process is gone are dead now: their rows go, so that their claims are
        free at once (checked at most once per beat interval). Commits; returns how many went."""
        first = not self._last_reap
        if not first and time.monotonic() - self._last_reap < self.every:
            return 0
        self._last_reap = time.monotonic()
        rows = db.session.execute(
            select(SenderHeartbeat.owner, SenderHeartbeat.pid, SenderHeartbeat.process_started)
            .where(SenderHeartbeat.host == HOST, SenderHeartbeat.owner != self.owner)
        ).all()
        dead = [owner for owner, pid, started in rows if not _same_process(pid, started)]
        if dead:
            db.session.execute(delete(SenderHeartbeat).where(SenderHeartbeat.owner.in_(dead)))
            log.warning("senders gone from this machine, their claims taken over: %s", ", ".join(dead))
        if first:  # rows of senders long gone elsewhere
            db.session.execute(delete(SenderHeartbeat).where(SenderHeartbeat.beat_at < utcnow() - FORGET_AFTER))
        db.session.commit()
        return len(dead)

    def close(self) -> None:
        """Stop beating and remove the row (a clean stop holds no claims)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            with self.app.app_context():
                db.session.execute(delete(SenderHeartbeat).where(SenderHeartbeat.owner == self.owner))
                db.session.commit()
        except Exception:  # the database away at shutdown: the row simply goes stale
            log.warning("could not remove the heartbeat of %s", self.owner, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                if not self._holding:  # nothing held: the thread ends, the next holding() starts another
                    self._thread = None
                    return
            try:
                with self.app.app_context():
                    self.beat()
            except Exception:  # the database away for a moment: the next beat tries again
                log.warning("heartbeat of %s failed", self.owner, exc_info=True)


def _same_process(pid: int, started: float) -> bool:
    current = _process_started(pid)
    return current is not None and abs(current - started) < 0.5
