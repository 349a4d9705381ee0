"""The readers export as a background job: the publisher asks for it, a runner writes the file (the same bytes as
`flask subscribers export`) to instance/exports/, the job's page offers it for download until it is deleted,
by the publisher or KEEP_SECONDS after it was written. The folder is never served as static files: a download
goes through the job's page, which checks who asks."""

import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import or_, select

from ..export import export_subscribers, readers_to_export
from ..extensions import db
from ..importer.uploads import discard_abandoned
from ..models import AdminJob, utcnow
from ..states import AdminJobKind as K
from ..states import AdminJobStatus as A
from . import leases, queue

log = logging.getLogger(__name__)

KEEP_SECONDS = 24 * 3600  # a file of readers' addresses is kept a day at most
FAILED_MESSAGE = ("The export stopped on an unexpected error and its file was deleted. Ask for it again; if it fails "
                  "again, ask the administrator (`flask subscribers export` writes the same file).")
_FILE_ID = re.compile(r"[0-9a-f]{32}")


class ExportGone(queue.JobNotFound):
    """The file is not there (not written yet, deleted or expired)."""


def exports_folder(instance_path: str) -> Path:
    """Where export files wait for their download (not a static folder)."""
    return Path(instance_path) / "exports"


def export_path(folder: Path, job: AdminJob) -> Path:
    """The file of an export job (its id is checked: it never names anything outside the folder)."""
    if job.file_id is None or not _FILE_ID.fullmatch(job.file_id):
        raise ExportGone()
    return folder / f"{job.file_id}.csv"


def start_export(newsletter_id: int, user_id: int, *, max_pending: int) -> AdminJob:
    """Queue the export of a newsletter's confirmed readers (the caller commits, then wakes the runner)."""
    return queue.queue_job(K.EXPORT, user_id=user_id, newsletter_id=newsletter_id, max_pending=max_pending,
                           file_id=secrets.token_hex(16))


def ready_file(folder: Path, job: AdminJob) -> Path:
    """The written file of a done export; ExportGone if it is not (or no longer) there."""
    path = export_path(folder, job)
    if job.status != A.DONE or not path.is_file():
        raise ExportGone()
    return path


def delete_export(folder: Path, job: AdminJob) -> None:
    """Delete the file now (or cancel the export before it is written); the runner writing it stops."""
    if queue.end(job, A.DELETED):
        export_path(folder, job).unlink(missing_ok=True)


def sweep(folder: Path) -> None:
    """Files kept KEEP_SECONDS go, their jobs marked deleted; so do the files of jobs that ended without one
    (failed, deleted) once no runner holds them, and any stray file that old."""
    now = utcnow()
    oldest = now - timedelta(seconds=KEEP_SECONDS)
    for job in db.session.scalars(select(AdminJob).where(AdminJob.kind == K.EXPORT, AdminJob.status == A.DONE,
                                                         AdminJob.finished_at < oldest)):
        delete_export(folder, job)
    ended = select(AdminJob).where(AdminJob.kind == K.EXPORT, AdminJob.status.in_((A.FAILED, A.DELETED)),
                                   AdminJob.finished_at >= oldest,
                                   or_(AdminJob.lease_until.is_(None), AdminJob.lease_until < now))
    for job in db.session.scalars(ended):
        for path in folder.glob(f"{export_path(folder, job).stem}.*"):  # the file and any part left
            path.unlink(missing_ok=True)
    db.session.commit()
    if folder.exists():
        discard_abandoned(folder, KEEP_SECONDS)


@dataclass
class Progress:
    """How far the export is, shared between its thread and its heartbeat."""

    total: int
    done: int = 0
    lost: threading.Event = field(default_factory=threading.Event)

    def values(self) -> dict:
        """The columns the heartbeat writes."""
        return {"rows_done": self.done, "rows_total": max(self.total, self.done)}


def run_export(app: Flask, job: AdminJob, owner: str) -> None:
    """Write the claimed export's file (as a .part, renamed once complete), then record the job done."""
    folder = exports_folder(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    final = export_path(folder, job)
    part = final.with_suffix(f".{job.attempts}.part")  # a runner that took the job over writes its own
    newsletter = job.newsletter
    progress = Progress(total=readers_to_export(newsletter))
    db.session.commit()  # nothing held between pages

    def on_page(count: int) -> None:
        progress.done = count
        if progress.lost.is_set():
            raise leases.JobLost()
        # On SQLite every transaction, a read too, takes the write lock (database.py: BEGIN IMMEDIATE): end it
        # after each page, so the heartbeat, and the readers subscribing meanwhile, write between pages.
        db.session.commit()

    try:
        with leases.Heartbeat(app, AdminJob, queue.RUNNABLE, job.id, owner, progress.values, progress.lost):
            with part.open("w", encoding="utf-8", newline="") as out:
                written = export_subscribers(newsletter, out, on_page)
            os.replace(part, final)
    except leases.JobLost:
        db.session.rollback()
        part.unlink(missing_ok=True)
        log.warning("export job %s: deleted or taken over by another runner, stopping here", job.id)
        return
    except Exception:  # a bug, the disk full or the database away: the job ends, the runner lives on
        db.session.rollback()
        log.exception("export job %s failed", job.id)
        part.unlink(missing_ok=True)
        queue.end(job, A.FAILED, owner=owner, refusal=FAILED_MESSAGE)
        return
    if not queue.end(job, A.DONE, owner=owner, rows_done=written, rows_total=max(progress.total, written),
                     file_bytes=final.stat().st_size):
        final.unlink(missing_ok=True)  # deleted by its owner while it was written
