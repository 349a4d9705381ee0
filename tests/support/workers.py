"""Sending workers as separate processes (`flask worker`), for the tests that kill, pause or share them."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Delivery, Issue, Subscriber
from tests.conftest import SECRET, create_demo_newsletter
from tests.support.sending_helpers import confirmed_readers, new_issue, received_by, start_sending

ROOT = Path(__file__).resolve().parent.parent.parent


def worker_env(app, **extra) -> dict:
    config = app.config
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "SEND_", "CELERY", "REDIS"))}
    env.update({
        "NEWSLETTER_ENV": "testing", "SECRET_KEY": SECRET, "DATABASE_URL": config["DATABASE_URL"],
        "INSTANCE_PATH": app.instance_path, "BASE_URL": config["BASE_URL"], "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(config["MAIL_PORT"]), "MAIL_TIMEOUT": "1",
        "SEND_LEASE_SECONDS": "1", "SEND_BATCH_SIZE": "20",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def prepare(app, readers: int, start: bool = True) -> tuple[int, list[str]]:
    with app.app_context():
        newsletter = create_demo_newsletter()
        emails = confirmed_readers(newsletter, readers)
        issue = new_issue(newsletter)
        if start:
            start_sending(issue)
        return issue.id, emails


def start_issue(app, issue_id: int) -> None:
    with app.app_context():
        start_sending(db.session.get(Issue, issue_id))


def wait_ready(process: subprocess.Popen, marker: str, timeout: float = 60.0) -> None:
    """Read a worker's log until it says it is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline().decode(errors="replace")
        if marker in line:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keep draining the pipe
            return
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"the worker did not get ready (exit code {process.poll()})")


def wait_until_sent(app, issue_id: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            status = db.session.scalar(select(Issue.status).where(Issue.id == issue_id))
        if status == "sent":
            return
        time.sleep(0.2)
    raise AssertionError(f"issue {issue_id} is {status} after {timeout} s")


def delivery_table(app, issue_id: int) -> list[tuple[str, str, str]]:
    with app.app_context():
        return db.session.execute(
            select(Subscriber.email, Delivery.status, Delivery.lease_owner)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.issue_id == issue_id)
        ).all()


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kill_mid_send(app, smtp, received: int, **settings) -> int:
    """Start a worker with these settings, SIGKILL it once the server has `received` messages; how many it had."""
    first = start_worker(worker_env(app, **settings))
    try:
        smtp.wait_for(received, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    return len(smtp.messages)


def exactly_once(app, smtp, issue_id: int, emails: list[str]) -> tuple[list, list[str]]:
    """Assert nobody got the issue twice and nobody was lost (the unknown may lack it); the rows and the unknown."""
    got = received_by(smtp)
    rows = delivery_table(app, issue_id)
    unknown = [email for email, status, _owner in rows if status == "unknown"]
    assert all(count == 1 for count in got.values()), "somebody got the issue twice"
    assert set(got) | set(unknown) == set(emails), "somebody was lost"
    return rows, unknown
