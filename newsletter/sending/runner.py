"""Runners decide where the send path and the background jobs run: threads in this process, or Celery workers.

Which one runs is one setting (CELERY_BROKER_URL); both call the same functions. Background jobs (the import
page's check and import, importer/jobs.py; the admin jobs such as the readers export, admin_jobs/) get their own
thread, so that a long import or export never holds up sending.
"""

import logging
import signal
import threading

from flask import Flask

from ..admin_jobs import dispatch as admin_jobs
from ..extensions import db
from ..importer import jobs as import_jobs
from ..mail.transport import make_transport

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0
IMPORT_POLL_SECONDS = 5.0  # how soon a job whose runner died is taken over, at most (after its lease ends)


def run_pending_work(state, transport) -> int:
    """One pass over everything due: system mails first (a confirmation should not wait behind an issue; they
    go through Flask-Mail), then issue batches (through `transport`). Returns how many were handed over."""
    from .system_mail import send_due_system_mails
    from .work import run_issue_work

    return send_due_system_mails() + run_issue_work(state, transport)


class EmbeddedRunner:
    """A daemon thread that wakes on commit (or every POLL_SECONDS) and runs the pending work; another that
    runs import and admin jobs (woken when one is queued, or every IMPORT_POLL_SECONDS)."""

    def __init__(self, app: Flask, kind: str = "thread"):
        self.app = app
        self.kind = kind  # thread (in a web process) or worker (`flask worker`)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._imports = ImportThread(app)

    def wake_imports(self) -> None:
        """An import job was queued (after the commit): run it now."""
        self._imports.wake()

    def wake_admin_jobs(self) -> None:
        """An admin job (an export) was queued (after the commit): run it now."""
        self._imports.wake()

    def wake(self) -> None:
        """Ask the thread for a pass now (called after a commit that queued mail). A wake never starts it: the
        web process starts it with its first request, so a command's process (`issues send --wait` sends
        itself) never runs a second sender beside the command."""
        self._wake.set()

    def start(self) -> None:
        """Start the thread once; later calls do nothing."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self.run, name="newsletter-sender", daemon=True)
                self._thread.start()
        self._imports.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current pass and end the thread (an import in progress stops where it is; another
        runner takes it over once its lease ends)."""
        self._stop.set()
        self._wake.set()
        self._imports.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """The loop: a pass, then wait for a wake-up or the poll interval."""
        from .work import SendState

        transport = make_transport(self.app.config, self.app.instance_path)
        state = SendState(self.app, self.kind)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                with self.app.app_context():
                    busy = run_pending_work(state, transport) > 0
            except Exception:  # a bug or the database away: log it, keep the thread alive
                log.exception("sending pass failed; trying again in %s s", POLL_SECONDS)
                busy = False
            if not busy:
                transport.close()  # idle connections get dropped by servers; reopen when needed
                self._wake.wait(POLL_SECONDS)
        transport.close()
        state.heartbeat.close()


class ImportThread:
    """The embedded runner's import jobs, then its admin jobs: one at a time, in a daemon thread of their own."""

    def __init__(self, app: Flask):
        self.app = app
        self.owner = import_jobs.new_owner()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self.start()
        self._wake.set()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self.run, name="newsletter-imports", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            for name, run_due_jobs in (("import", import_jobs.run_due_jobs), ("admin", admin_jobs.run_due_jobs)):
                try:
                    with self.app.app_context():
                        try:
                            run_due_jobs(self.app, self.owner)
                        finally:
                            db.session.remove()
                except Exception:  # the database away: log it, keep the thread alive
                    log.exception("%s jobs pass failed; trying again in %s s", name, IMPORT_POLL_SECONDS)
            self._wake.wait(IMPORT_POLL_SECONDS)


class CeleryRunner:
    """Hands the work to Celery workers; nothing runs in this process."""

    def __init__(self, app: Flask):
        self.app = app

    def wake(self) -> None:
        """Queue a pass on a worker."""
        from ..tasks import tick

        tick.delay()

    def wake_imports(self) -> None:
        """Queue the import jobs on a worker."""
        from ..tasks import run_imports

        run_imports.delay()

    def wake_admin_jobs(self) -> None:
        """Queue the admin jobs (exports) on a worker."""
        from ..tasks import run_admin_jobs

        run_admin_jobs.delay()

    def start(self) -> None:
        """Workers are separate processes: nothing to start here."""

    def stop(self, timeout: float = 10.0) -> None:
        """Nothing runs here."""


def run_in_foreground(app: Flask) -> None:
    """`flask worker`: the embedded loop in this thread (and import jobs in another) until SIGTERM or SIGINT."""
    runner = EmbeddedRunner(app, kind="worker")

    def stop(_signal, _frame):
        runner._stop.set()
        runner._wake.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runner._imports.start()  # import jobs too, in their own thread
    try:
        runner.run()
    finally:
        runner._imports.stop()


def make_runner(app: Flask):
    """The runner the settings ask for."""
    return CeleryRunner(app) if app.config["CELERY_BROKER_URL"] else EmbeddedRunner(app)
