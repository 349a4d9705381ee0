"""The admin jobs' ledger, whatever their kind: queue one (within the per-person limit), find it for its page,
lease it to a runner (leases.py; a job interrupted MAX_ATTEMPTS times fails instead), end it, and say where it is.
"""

from datetime import datetime

from sqlalchemy import func, select

from ..errors import DomainError
from ..extensions import db
from ..models import AdminJob, utcnow
from ..states import AdminJobKind
from ..states import AdminJobStatus as A
from ..transitions import initial, move
from . import leases

MAX_ATTEMPTS = 3
RUNNABLE = (A.QUEUED,)
INTERRUPTED_MESSAGE = ("This job was interrupted {attempts} times (the worker running it was stopped or ran out of "
                       "memory), so it was given up. Start it again; if it fails again, ask the administrator "
                       "(the command line does the same without a worker).")


class TooManyJobs(DomainError):
    """The person already has as many jobs of this kind waiting or running as the instance allows."""

    code = "too_many_jobs"
    status = 429

    def __init__(self, limit: int):
        super().__init__(
            f"You already have {limit} export(s) waiting or running, the most this instance runs at once for one "
            "person (EXPORT_PENDING_JOBS). Wait until one is ready (its page shows how far it is), or delete one, "
            "then ask again.")
        self.limit = limit


class JobNotFound(DomainError):
    """No such job of this kind for this newsletter."""

    code = "not_found"
    status = 404

    def __init__(self):
        super().__init__("There is no such job for this newsletter.")


def queue_job(kind: AdminJobKind, *, user_id: int, newsletter_id: int | None, max_pending: int,
              **values) -> AdminJob:
    """A new job of this kind, waiting for a runner (the caller commits, then wakes the runner); TooManyJobs
    if this person already has max_pending of this kind waiting or running."""
    if pending_jobs(kind, user_id) >= max_pending:
        raise TooManyJobs(max_pending)
    job = AdminJob(kind=kind.value, user_id=user_id, newsletter_id=newsletter_id, status=initial(A.QUEUED), **values)
    db.session.add(job)
    db.session.flush()
    return job


def pending_jobs(kind: AdminJobKind, user_id: int) -> int:
    """How many jobs of this kind the person has waiting or running."""
    return db.session.scalar(select(func.count()).select_from(AdminJob).where(
        AdminJob.user_id == user_id, AdminJob.kind == kind, AdminJob.status.in_(RUNNABLE)))


def job_of(job_id: int, *, kind: AdminJobKind, newsletter_id: int) -> AdminJob:
    """The job, if it is of this kind and for this newsletter (the caller checked who may see the newsletter);
    JobNotFound otherwise."""
    job = db.session.get(AdminJob, job_id)
    if job is None or (job.kind, job.newsletter_id) != (kind, newsletter_id):
        raise JobNotFound()
    return job


def jobs_of(kind: AdminJobKind, newsletter_id: int, statuses=(A.QUEUED, A.DONE)) -> list[AdminJob]:
    """This newsletter's jobs of this kind in these statuses, newest first."""
    return list(db.session.scalars(select(AdminJob).where(
        AdminJob.kind == kind, AdminJob.newsletter_id == newsletter_id, AdminJob.status.in_(statuses))
        .order_by(AdminJob.id.desc())))


def due_jobs() -> int:
    """How many jobs wait for a runner (queued, or their runner's lease ran out)."""
    return db.session.scalar(select(func.count()).select_from(AdminJob).where(*leases.due(AdminJob, RUNNABLE,
                                                                                          utcnow())))


def claim_next(owner: str) -> AdminJob | None:
    """Lease the oldest due job to `owner`; None if there is none. A job interrupted MAX_ATTEMPTS times fails."""
    return leases.claim_within(AdminJob, RUNNABLE, owner, stamp="started_at", max_attempts=MAX_ATTEMPTS,
                               give_up=lambda job: end(job, A.FAILED, owner=owner,
                                                       refusal=INTERRUPTED_MESSAGE.format(attempts=MAX_ATTEMPTS)))


def end(job: AdminJob, status: A, *, owner: str | None = None, **values) -> bool:
    """Move a queued (or, to DELETED, a done) job to `status`, releasing its lease (only if `owner` still holds it,
    given one), and commit; False if it had moved meanwhile."""
    where = [AdminJob.id == job.id] + ([AdminJob.lease_owner == owner] if owner is not None else [])
    moved = move(AdminJob, status, *where, from_=[A.QUEUED, A.DONE] if status == A.DELETED else [A.QUEUED],
                 finished_at=utcnow(), lease_owner=None, lease_until=None, **values) == 1
    db.session.commit()
    db.session.expire(job)
    return moved


def estimate(job: AdminJob, now: datetime | None = None) -> dict:
    """Where a job is, for its page: rows done of the total, the share done, seconds since it began and an
    estimate of the seconds left (None until a few per cent are done)."""
    now = now or utcnow()
    running = job.status in RUNNABLE and job.lease_owner is not None
    elapsed = (now - job.started_at).total_seconds() if running and job.started_at else 0.0
    fraction = min(job.rows_done / job.rows_total, 1.0) if running and job.rows_total else 0.0
    left = elapsed * (1 - fraction) / fraction if fraction >= 0.02 else None
    return {"running": running, "waiting": job.status in RUNNABLE and not running, "percent": round(100 * fraction),
            "elapsed": round(elapsed), "seconds_left": None if left is None else round(left)}
