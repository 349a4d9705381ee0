"""Claiming a background job with a lease, and the heartbeat that keeps it: shared by the import jobs
(importer/jobs.py) and the admin jobs (admin_jobs/queue.py).

A runner takes the oldest due job (queued, or whose lease ran out) by one conditional UPDATE, so two runners never
take the same one; while it runs, a heartbeat thread writes its progress and extends the lease once a second. A
runner that dies stops extending it, and after LEASE_SECONDS another runner takes the job over.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import or_, select, update

from ..extensions import db
from ..models import utcnow

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
HEARTBEAT_SECONDS = 1.0


class JobLost(Exception):
    """The lease went to another runner (this one was too slow to extend it), or the job was ended meanwhile
    (deleted by its owner): stop without touching the job."""


def due(model, runnable: Sequence[str], now: datetime) -> list:
    """The conditions of a job a runner may take: runnable, and nobody's lease on it."""
    return [model.status.in_(runnable), or_(model.lease_until.is_(None), model.lease_until < now)]


def claim(model, runnable: Sequence[str], owner: str, *, stamp: str) -> int | None:
    """Lease the oldest due job of `model` to `owner` (counting the attempt, and setting the `stamp` column to
    now) and commit; its id, or None if no job is due."""
    while True:
        now = utcnow()
        job_id = db.session.scalar(select(model.id).where(*due(model, runnable, now)).order_by(model.id).limit(1))
        if job_id is None:
            db.session.commit()
            return None
        claimed = db.session.execute(
            update(model).where(model.id == job_id, *due(model, runnable, now))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=LEASE_SECONDS),
                    attempts=model.attempts + 1, **{stamp: now})
            .execution_options(synchronize_session=False)).rowcount == 1
        db.session.commit()
        if claimed:
            return job_id


def claim_within(model, runnable: Sequence[str], owner: str, *, stamp: str, max_attempts: int,
                 give_up: Callable[[object], None]):
    """Lease the oldest due job, as claim() does, and return it; one already taken max_attempts times (its
    runners kept dying) goes to `give_up`, which ends it, and the next one is tried. None if no job is due."""
    while (job_id := claim(model, runnable, owner, stamp=stamp)) is not None:
        job = db.session.get(model, job_id)
        db.session.refresh(job)
        if job.attempts <= max_attempts:
            return job
        give_up(job)
    return None


class Heartbeat:
    """A thread that writes the job's progress (`values()`, columns to write) and extends its lease every
    HEARTBEAT_SECONDS, in its own session, so that a slow batch never looks like a dead runner. A lease found
    taken, or the job no longer runnable, sets `lost`: the job's own thread then stops (JobLost)."""

    def __init__(self, app: Flask, model, runnable: Sequence[str], job_id: int, owner: str,
                 values: Callable[[], dict], lost: threading.Event):
        self.app, self.model, self.runnable, self.job_id, self.owner = app, model, runnable, job_id, owner
        self.values, self.lost = values, lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{model.__tablename__}-heartbeat-{job_id}",
                                        daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with self.app.app_context():
            try:
                while not self._stop.wait(HEARTBEAT_SECONDS):
                    self.beat()
            finally:
                db.session.remove()

    def beat(self) -> None:
        """Write the progress and extend the lease; a lease taken by another runner stops the job."""
        model = self.model
        values = {"lease_until": utcnow() + timedelta(seconds=LEASE_SECONDS), **self.values()}
        try:
            kept = db.session.execute(
                update(model).where(model.id == self.job_id, model.lease_owner == self.owner,
                                    model.status.in_(self.runnable))
                .values(**values).execution_options(synchronize_session=False)).rowcount == 1
            db.session.commit()
        except Exception:  # the database away for a moment: try again at the next beat
            db.session.rollback()
            log.warning("%s %s: progress not written", model.__tablename__, self.job_id, exc_info=True)
            return
        if not kept:
            self.lost.set()
