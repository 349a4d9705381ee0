"""Imports from the web page as background jobs: the check, then (once confirmed) the import, each run by the
runner that runs sending (a thread of the web process, or Celery workers), never inside a request.

A request only stores the upload and a row of import_jobs (start_check, confirm); a worker claims the job with
a lease (claim_next: admin_jobs/leases.py, as every background job), runs the writer's passes on the upload and,
once a second, a heartbeat thread writes how far it is (rows read, refused, written, the share of the pass done)
and extends the lease. A worker that dies (killed, restarted, out of memory) stops extending it: after
leases.LEASE_SECONDS another runner takes the job over and starts its step again, which is harmless (the writer's
batches are idempotent). The check keeps the rows it accepted beside the upload (uploads.checked_rows_path),
signed with a key of the upload's own, and the import writes them without reading the file again: the confirmed
import costs what the command line's second pass costs. After MAX_ATTEMPTS the job fails instead, so a file that
kills workers cannot kill them forever. Whatever way a job ends, its upload is deleted; a checked upload waits for
the publisher's confirmation for a day at most.
"""

import hashlib
import hmac
import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from flask import Flask, current_app
from sqlalchemy import func, select

from ..admin_jobs import leases
from ..admin_jobs.leases import JobLost
from ..errors import DomainError
from ..extensions import db
from ..models import ImportJob, Newsletter, utcnow
from ..states import ImportJobStatus as J
from ..transitions import initial, move
from . import uploads, writer
from .report import ImportReport, RowsRefused
from .spool import Spool

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
ACTIVE = (J.CHECKING, J.CHECKED, J.IMPORTING)  # the upload is kept: these count toward the quota
RUNNABLE = (J.CHECKING, J.IMPORTING)
FAILED_MESSAGE = ("The import stopped on an unexpected error; the rows written before it stay, nothing else was "
                  "changed. Upload the file again to finish it (readers already imported are left as they are).")
INTERRUPTED_MESSAGE = ("The import was interrupted {attempts} times (the worker running it was stopped or ran out "
                       "of memory), so it was given up and the file deleted. Split the file into smaller ones and "
                       "upload them one by one, or ask the administrator to import it with the command line.")


class TooManyUploads(DomainError):
    """The publisher already has IMPORT_PENDING_UPLOADS files being checked, waiting or being imported."""

    code = "too_many_uploads"
    status = 429

    def __init__(self, limit: int):
        super().__init__(
            f"You already have {limit} file(s) being checked, waiting for your confirmation or being imported, "
            f"the most this instance keeps for one person (IMPORT_PENDING_UPLOADS). Confirm or abandon one of "
            "them on its page, or wait until an import ends, then upload this file again."
        )
        self.limit = limit


class JobNotFound(DomainError):
    """No such job for this newsletter and user."""

    code = "not_found"
    status = 404

    def __init__(self):
        super().__init__("There is no such import for this newsletter.")


@dataclass
class Progress:
    """Where a running job is, shared between the job's thread and its heartbeat."""

    phase: str = ""
    phase_started_at: datetime | None = None
    fraction: float = 0.0
    report: ImportReport | None = None
    lost: threading.Event = field(default_factory=threading.Event)

    def update(self, report: ImportReport, phase: str, fraction: float) -> None:
        """The writer's on_progress: called after each batch."""
        if self.lost.is_set():
            raise JobLost()
        if phase != self.phase:
            self.phase_started_at = utcnow()
        self.report, self.phase, self.fraction = report, phase, fraction

    def values(self) -> dict:
        """The columns the heartbeat writes: the counts and the phase, once the first batch reported them."""
        if self.report is None:
            return {}
        return dict(_counts(self.report), phase=self.phase, fraction=self.fraction,
                    phase_started_at=self.phase_started_at)


def new_owner() -> str:
    """A name for one runner, as leases record it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


# --- what requests do ---------------------------------------------------------------------------------------------


def start_check(folder: Path, stream: BinaryIO, *, newsletter_id: int, user_id: int, file_name: str,
                suppress: bool, strict: bool, share_url: str, max_bytes: int, max_pending: int) -> ImportJob:
    """Store the upload and queue its check (the caller commits, then wakes the runner)."""
    abandon_expired(folder)
    if pending_uploads(user_id) >= max_pending:
        raise TooManyUploads(max_pending)
    upload_id, size = uploads.store_upload(folder, stream, max_bytes=max_bytes)
    job = ImportJob(newsletter_id=newsletter_id, user_id=user_id, upload_id=upload_id, file_bytes=size,
                    file_name=writer.source_name(file_name), suppress=suppress, strict=strict,
                    share_url=share_url, status=initial(J.CHECKING))
    db.session.add(job)
    db.session.flush()
    return job


def pending_uploads(user_id: int) -> int:
    """How many uploads of this user are kept: being checked, waiting for confirmation or being imported."""
    return db.session.scalar(select(func.count()).select_from(ImportJob)
                             .where(ImportJob.user_id == user_id, ImportJob.status.in_(ACTIVE)))


def pending_jobs(*, newsletter_id: int, user_id: int) -> list[ImportJob]:
    """This user's jobs for this newsletter that keep an upload, oldest first."""
    return list(db.session.scalars(
        select(ImportJob).where(ImportJob.newsletter_id == newsletter_id, ImportJob.user_id == user_id,
                                ImportJob.status.in_(ACTIVE)).order_by(ImportJob.id)))


def job_of(job_id: int, *, newsletter_id: int, user_id: int) -> ImportJob:
    """The job, if it is this user's for this newsletter; JobNotFound otherwise."""
    job = db.session.get(ImportJob, job_id)
    if job is None or (job.newsletter_id, job.user_id) != (newsletter_id, user_id):
        raise JobNotFound()
    return job


def confirm(folder: Path, job: ImportJob) -> None:
    """The publisher confirms a checked upload: queue its import (UploadGone if it was confirmed already)."""
    if not _move(job, J.CHECKED, J.IMPORTING, attempts=0, rows_read=0, rows_refused=0, rows_written=0,
                 phase="", fraction=0.0, phase_started_at=None, lease_owner=None, lease_until=None):
        raise uploads.UploadGone()
    try:
        uploads.keep_upload(folder, job.upload_id)
    except uploads.UploadGone:
        _move(job, J.IMPORTING, J.FAILED, refusal=uploads.UploadGone().message, finished_at=utcnow())
        raise


def abandon(folder: Path, job: ImportJob) -> None:
    """The publisher puts a checked upload aside: it is deleted at once."""
    if _move(job, J.CHECKED, J.ABANDONED, finished_at=utcnow()):
        uploads.discard_upload(folder, job.upload_id)


def abandon_expired(folder: Path) -> None:
    """Checked uploads left unconfirmed for a day are abandoned and deleted, as are stray files that old. The
    upload of a job that ended is deleted too: its runner deletes it just after recording the end, and a
    process stopped in between (a worker restarted) would otherwise leave it for a day."""
    oldest = utcnow() - timedelta(seconds=uploads.ABANDONED_AFTER_SECONDS)
    for job in db.session.scalars(select(ImportJob).where(ImportJob.status == J.CHECKED,
                                                          ImportJob.finished_at < oldest)):
        abandon(folder, job)
    ended = select(ImportJob.upload_id).where(ImportJob.status.not_in(ACTIVE), ImportJob.finished_at >= oldest)
    for upload_id in db.session.scalars(ended):
        uploads.discard_upload(folder, upload_id)
    for kept in (folder, uploads.checked_folder(folder)):  # stray uploads, and rows kept by their checks
        if kept.exists():
            uploads.discard_abandoned(kept)


def _move(job: ImportJob, old: str, new: J, *, owner: str | None = None, **values) -> bool:
    """Move the job from old to new if it is still in old (and, given an owner, still leased by it)."""
    where = [ImportJob.id == job.id] + ([ImportJob.lease_owner == owner] if owner is not None else [])
    moved = move(ImportJob, new, *where, from_=[old], **values) == 1
    db.session.expire(job)
    return moved


# --- what the runner does -----------------------------------------------------------------------------------------


def run_due_jobs(app: Flask, owner: str) -> int:
    """Claim and run queued jobs (and jobs whose runner died) until none is left; returns how many ran.
    Uploads left unconfirmed for a day are abandoned on the way."""
    abandon_expired(uploads.uploads_folder(app.instance_path))
    db.session.commit()
    ran = 0
    while (job_id := claim_next(owner)) is not None:
        run_job(app, job_id, owner)
        ran += 1
    return ran


def due_jobs() -> int:
    """How many jobs wait for a runner (queued, or their runner's lease ran out)."""
    return db.session.scalar(select(func.count()).select_from(ImportJob).where(*leases.due(ImportJob, RUNNABLE,
                                                                                           utcnow())))


def claim_next(owner: str) -> int | None:
    """Take the oldest due job with a lease; None if there is none. A job interrupted MAX_ATTEMPTS times fails."""
    job = leases.claim_within(ImportJob, RUNNABLE, owner, stamp="phase_started_at", max_attempts=MAX_ATTEMPTS,
                              give_up=lambda job: _end(job, owner, J.FAILED,
                                                       refusal=INTERRUPTED_MESSAGE.format(attempts=MAX_ATTEMPTS)))
    return None if job is None else job.id


def run_job(app: Flask, job_id: int, owner: str) -> None:
    """Run the claimed job's step (check or import) to its end, then release it."""
    job = db.session.get(ImportJob, job_id)
    folder = uploads.uploads_folder(app.instance_path)
    step = Step(job.newsletter, job.newsletter_id, job.file_name, job.share_url, job.strict, job.suppress,
                checking=job.status == J.CHECKING, checked=None if job.status == J.CHECKING else report_of(job),
                checked_rows=uploads.checked_rows_path(folder, job.upload_id), rows_key=_rows_key(job.upload_id))
    path = uploads.upload_path(folder, job.upload_id)
    progress = Progress()

    def on_progress(report: ImportReport, phase: str, fraction: float) -> None:
        progress.update(report, phase, fraction)
        # On SQLite every transaction, a read too, takes the write lock (database.py: BEGIN IMMEDIATE): end it
        # after each batch, so the heartbeat, and the readers subscribing meanwhile, write between batches.
        db.session.commit()

    db.session.commit()  # nothing held while the pass reads the file
    try:
        with Heartbeat(app, job_id, owner, progress):
            if not path.is_file():
                raise uploads.UploadGone()
            report = step.run(path, on_progress)
    except JobLost:
        db.session.rollback()
        log.warning("import job %s: lease lost to another runner, stopping here", job_id)
        return
    except writer.FileRefused as refused:
        db.session.rollback()
        _end(job, owner, J.REFUSED, refusal=refused.reason)
    except RowsRefused as refused:
        db.session.rollback()
        _end(job, owner, J.REFUSED, report=refused.report)
    except uploads.UploadGone as gone:
        db.session.rollback()
        _end(job, owner, J.FAILED, refusal=gone.message)
    except Exception:  # a bug or the database away: the job ends, the runner lives on
        db.session.rollback()
        log.exception("import job %s failed", job_id)
        _end(job, owner, J.FAILED, refusal=FAILED_MESSAGE)
    else:
        if step.checking and report.imported:
            _end(job, owner, J.CHECKED, report=report, keep_upload=True)
        else:
            _end(job, owner, J.DONE, report=report)


@dataclass(frozen=True)
class Step:
    """What a job's step needs, read from its row before the step starts (no transaction held meanwhile)."""

    newsletter: Newsletter
    newsletter_id: int
    file_name: str
    share_url: str
    strict: bool
    suppress: bool
    checking: bool
    checked: ImportReport | None  # the import: its check's report
    checked_rows: Path  # where the check keeps the rows it accepted
    rows_key: bytes  # what they are signed with

    def run(self, path: Path, on_progress: writer.OnProgress) -> ImportReport:
        """The check (pass 1 with read-only counts, keeping the rows it accepts) or the import: pass 2 from the
        rows the check kept, or both passes on the file if there are none (a check by an older version)."""
        if self.checking:
            with Spool.create(self.checked_rows, self.rows_key) as spool:
                report = self._check(path, spool, on_progress)
                spool.keep()
            return report
        if self.checked is not None and self.checked_rows.is_file():
            with Spool.open(self.checked_rows, self.rows_key) as spool:
                return self._write(spool, on_progress)
        return self._import(path, on_progress)

    def _check(self, path: Path, spool: Spool, on_progress: writer.OnProgress) -> ImportReport:
        options = dict(file_name=self.file_name, strict=self.strict, on_progress=on_progress, dry_run=True,
                       spool=spool)
        if self.suppress:
            return writer.check_suppressions(path, self.newsletter_id, **options)
        return writer.check_subscribers(path, self.newsletter, share_url=self.share_url, **options)

    def _write(self, spool: Spool, on_progress: writer.OnProgress) -> ImportReport:
        options = dict(checked=self.checked, commit=db.session.commit, on_progress=on_progress)
        if self.suppress:
            return writer.write_suppressions(spool, self.newsletter_id, **options)
        return writer.write_subscribers(spool, self.newsletter, **options)

    def _import(self, path: Path, on_progress: writer.OnProgress) -> ImportReport:
        options = dict(file_name=self.file_name, strict=self.strict, on_progress=on_progress,
                       commit=db.session.commit)
        if self.suppress:
            return writer.import_suppressions(path, self.newsletter_id, **options)
        return writer.import_subscribers(path, self.newsletter, share_url=self.share_url, **options)


def _rows_key(upload_id: str) -> bytes:
    """The key an upload's checked rows are signed with: from SECRET_KEY, and the upload's own."""
    secret = hashlib.sha256(("import-checked-rows:" + current_app.config["SECRET_KEY"]).encode()).digest()
    return hmac.digest(secret, upload_id.encode(), hashlib.sha256)


def _end(job: ImportJob, owner: str, status: str, *, report: ImportReport | None = None,
         refusal: str | None = None, keep_upload: bool = False) -> None:
    """Record how the step ended and release the lease; the upload goes unless it waits for a confirmation."""
    values = dict(lease_owner=None, lease_until=None, finished_at=utcnow(), refusal=refusal, fraction=1.0)
    if report is not None:
        values.update(report=report.to_json(), **_counts(report))
    old = db.session.scalar(select(ImportJob.status).where(ImportJob.id == job.id))
    moved = _move(job, old, J(status), owner=owner, **values)
    db.session.commit()
    if moved and not keep_upload:
        uploads.discard_upload(uploads.uploads_folder(current_app.instance_path), job.upload_id)


def _counts(report: ImportReport) -> dict:
    return dict(rows_read=report.rows_read, rows_refused=report.refused_rows, rows_written=report.imported)


class Heartbeat(leases.Heartbeat):
    """The import job's heartbeat: the rows read, refused and written, and the phase, once a second."""

    def __init__(self, app: Flask, job_id: int, owner: str, progress: Progress):
        super().__init__(app, ImportJob, RUNNABLE, job_id, owner, progress.values, progress.lost)


# --- what the progress page shows -----------------------------------------------------------------------------------


def report_of(job: ImportJob) -> ImportReport | None:
    """The report kept when the job's last step ended."""
    return ImportReport.from_json(job.report) if job.report else None


def estimate(job: ImportJob, now: datetime | None = None) -> dict:
    """Where a job is, for its page: the step, its share done, seconds since it began and an estimate of the
    seconds left in it (None until a few per cent are done)."""
    now = now or utcnow()
    running = job.status in RUNNABLE and job.lease_owner is not None
    elapsed = (now - job.phase_started_at).total_seconds() if running and job.phase_started_at else 0.0
    fraction = job.fraction if running else 0.0
    # An import writes the rows its check kept (step 2 of 2); without them (a check by an older version) it
    # reads the file again first (step 1).
    step = 2 if job.status == J.IMPORTING and job.phase == writer.WRITING else 1
    steps = 2 if job.status == J.IMPORTING else 1
    left = elapsed * (1 - fraction) / fraction if fraction >= 0.02 else None
    return {"running": running, "waiting": job.status in RUNNABLE and not running, "phase": job.phase,
            "step": step, "steps": steps, "percent": round(100 * fraction), "elapsed": round(elapsed),
            "seconds_left": None if left is None else round(left)}
