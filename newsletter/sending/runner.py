"""Runners decide where the send path runs: a thread in this process, or Celery workers.

Which one runs is one setting (CELERY_BROKER_URL); both call the same functions.
"""

import logging
import threading

from flask import Flask

from ..mail.transport import make_transport

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0


def run_pending_work(app: Flask, transport) -> int:
    """One pass over everything due. Returns how many messages were handed over."""
    from .system_mail import send_due_system_mails

    return send_due_system_mails(transport)


class EmbeddedRunner:
    """A daemon thread that wakes on commit (or every POLL_SECONDS) and runs the pending work."""

    def __init__(self, app: Flask):
        self.app = app
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Ask for a pass now (called after a commit that queued mail)."""
        self.start()
        self._wake.set()

    def start(self) -> None:
        """Start the thread once; later calls do nothing."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self.run, name="newsletter-sender", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current pass and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """The loop: a pass, then wait for a wake-up or the poll interval."""
        transport = make_transport(self.app.config, self.app.instance_path)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                with self.app.app_context():
                    busy = run_pending_work(self.app, transport) > 0
            except Exception:  # a bug or the database away: log it, keep the thread alive
                log.exception("sending pass failed; trying again in %s s", POLL_SECONDS)
                busy = False
            if not busy:
                transport.close()  # idle connections get dropped by servers; reopen when needed
                self._wake.wait(POLL_SECONDS)
        transport.close()


class CeleryRunner:
    """Hands the work to Celery workers; nothing runs in this process."""

    def __init__(self, app: Flask):
        self.app = app

    def wake(self) -> None:
        """Queue a pass on a worker."""
        from ..tasks import run_pending

        run_pending.delay()

    def start(self) -> None:
        """Workers are separate processes: nothing to start here."""

    def stop(self, timeout: float = 10.0) -> None:
        """Nothing runs here."""


def make_runner(app: Flask):
    """The runner the settings ask for."""
    return CeleryRunner(app) if app.config["CELERY_BROKER_URL"] else EmbeddedRunner(app)
