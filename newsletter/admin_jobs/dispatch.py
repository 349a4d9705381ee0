"""The runners' pass over admin jobs: which function runs each kind, and the sweep of what expired."""

from flask import Flask

from ..extensions import db
from ..states import AdminJobKind as K
from . import exports, queue

RUN = {K.EXPORT: exports.run_export}


def run_due_jobs(app: Flask, owner: str) -> int:
    """Sweep expired export files, then claim and run queued jobs (and jobs whose runner died) until none is
    left; returns how many ran."""
    exports.sweep(exports.exports_folder(app.instance_path))
    ran = 0
    while (job := queue.claim_next(owner)) is not None:
        RUN[K(job.kind)](app, job, owner)
        ran += 1
    db.session.commit()
    return ran


def due_jobs() -> int:
    """How many admin jobs wait for a runner."""
    return queue.due_jobs()
