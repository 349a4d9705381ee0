"""A send seen from the command line: who is sending it, and its progress followed to the end.

One sender per process: `issues send --wait` sends from its own process only while no other sender is alive
(and no Celery workers are configured); otherwise it follows the progress of the thread or worker that sends.
The embedded sender thread is never started in a command's process (sending/runner.py), so it never sends
beside the command.
"""

import time
from dataclasses import dataclass

from flask import Flask

from . import publishing
from .extensions import db
from .mail.transport import make_transport
from .models import Issue
from .sending.heartbeats import alive_senders
from .sending.work import SendState, run_issue_work
from .states import IssueStatus


@dataclass(frozen=True)
class Situation:
    """Where a send stands and who carries it on."""

    progress: dict  # publishing.progress()
    senders: list[str]  # the live senders: "worker on host (pid 123)"
    celery: bool  # Celery workers send (their liveness shows once one works on the issue)

    @property
    def carried_on(self) -> bool:
        """Something will go on sending without this process."""
        return bool(self.senders) or self.celery


def running(app: Flask, issue: Issue) -> Situation | None:
    """For an issue already sending: its progress and its live senders; None for any other issue."""
    if issue.status != IssueStatus.SENDING:
        return None
    senders = [f"{row.kind} on {row.host} (pid {row.pid})" for row in alive_senders(app.config)]
    return Situation(publishing.progress(issue), senders, bool(app.config["CELERY_BROKER_URL"]))


def follow(app: Flask, issue_id: int, report, every: float = 0.5) -> dict:
    """Call report(progress, rate) until the issue leaves SENDING; returns the last progress.

    This process sends only when nothing else would: no Celery workers and no other live sender. If the
    sender it follows dies, it carries the send on itself once that sender's heartbeat is older than the grace.
    """
    state = transport = None
    started, first_done = time.monotonic(), None
    try:
        while True:
            if state is None and not app.config["CELERY_BROKER_URL"] and not alive_senders(app.config):
                state, transport = SendState(app, "cli"), make_transport(app.config, app.instance_path)
            if state is not None:
                run_issue_work(state, transport, budget=every, only_issue=issue_id)
            else:
                time.sleep(every)
            db.session.expire_all()
            progress = publishing.progress(db.session.get(Issue, issue_id))
            db.session.commit()
            first_done = progress["done"] if first_done is None else first_done
            report(progress, (progress["done"] - first_done) / max(time.monotonic() - started, 1e-6))
            if progress["status"] != "sending":
                return progress
    finally:
        if state is not None:
            transport.close()
            state.heartbeat.close()
