"""Exactly once across processes: a worker killed mid-send, two workers at once, Celery workers on Redis."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletter.extensions import db
from newsletter.models import Delivery, Issue
from newsletter.sending.deliver import window_size
from tests.conftest import SECRET, create_demo_newsletter
from tests.support.sending_helpers import confirmed_readers, new_issue, received_by, start_sending

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


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
    from newsletter.models import Subscriber

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


def send_with(workers: list[subprocess.Popen], ready: str, app, issue_id: int) -> None:
    """Once every worker says `ready`, start the issue and wait until it is sent; stop the workers."""
    try:
        for worker in workers:
            wait_ready(worker, ready)
        start_issue(app, issue_id)
        wait_until_sent(app, issue_id)
    finally:
        for worker in workers:
            stop(worker)


@pytest.mark.parametrize("window", [1, 16])
def test_worker_killed_mid_send_loses_nobody_and_doubles_nobody(make_app, smtp, window):
    app = make_app(START_SENDER=False)
    issue_id, emails = prepare(app, 120)
    settings = dict(SEND_RATE_PER_SECOND="60", SEND_WINDOW=str(window), SEND_CONNECTIONS="1")
    in_flight = window_size({"SEND_RATE_PER_SECOND": 60.0, "SEND_WINDOW": window})  # 1, and 6 at this rate
    first = start_worker(worker_env(app, **settings))
    try:
        smtp.wait_for(30, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    killed_at = len(smtp.messages)
    second = start_worker(worker_env(app))
    try:
        wait_until_sent(app, issue_id)
    finally:
        stop(second)
    got = received_by(smtp)
    rows = delivery_table(app, issue_id)
    unknown = [email for email, status, _owner in rows if status == "unknown"]
    assert all(count == 1 for count in got.values()), "somebody got the issue twice"
    assert set(got) | set(unknown) == set(emails), "somebody was lost"
    assert len(unknown) <= in_flight, f"more than the window in flight is unknown: {unknown}"
    assert 30 <= killed_at < len(emails) and len({owner for *_x, owner in rows}) == 2


def test_worker_killed_mid_send_over_a_pool_leaves_at_most_its_windows_unknown(make_app, smtp):
    app = make_app(START_SENDER=False)
    issue_id, emails = prepare(app, 160)
    settings = dict(SEND_RATE_PER_SECOND="120", SEND_WINDOW="16", SEND_CONNECTIONS="4")
    window = window_size({"SEND_RATE_PER_SECOND": 120.0, "SEND_WINDOW": 16, "SEND_CONNECTIONS": 4})  # 3
    first = start_worker(worker_env(app, **settings))
    try:
        smtp.wait_for(40, timeout=60)
        assert smtp.peak_sessions == 4, "the pool should have had its four connections open"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    killed_at = len(smtp.messages)
    second = start_worker(worker_env(app))
    try:
        wait_until_sent(app, issue_id)
    finally:
        stop(second)
    got = received_by(smtp)
    rows = delivery_table(app, issue_id)
    unknown = [email for email, status, _owner in rows if status == "unknown"]
    assert all(count == 1 for count in got.values()), "somebody got the issue twice"
    assert set(got) | set(unknown) == set(emails), "somebody was lost"
    assert len(unknown) <= window * 4, f"more than the windows in flight are unknown: {unknown}"
    assert 40 <= killed_at < len(emails)


def test_two_workers_in_parallel_never_send_one_delivery_twice(make_app, smtp):
    app = make_app(START_SENDER=False)
    issue_id, emails = prepare(app, 300, start=False)
    # Paced per worker so that the send outlasts the 2 s polling interval and both workers take part.
    workers = [start_worker(worker_env(app, SEND_RATE_PER_SECOND="80")) for _ in range(2)]
    send_with(workers, "Sending in the foreground", app, issue_id)
    assert received_by(smtp) == {email: 1 for email in emails}
    owners = {owner for *_x, owner in delivery_table(app, issue_id)}
    assert len(owners) == 2, "both workers should have sent part of the issue"


def test_celery_workers_on_redis_send_every_reader_once(make_app, smtp, redis_url, tmp_path):
    # The broker gets the database just below the test one (14 beside the default 15), so that suites run side by
    # side with their own TEST_REDIS_URL never share a broker.
    base, number = redis_url.rsplit("/", 1)
    broker = f"{base}/{int(number) - 1}"
    import redis

    redis.Redis.from_url(broker).flushdb()
    app = make_app(START_SENDER=False)
    issue_id, emails = prepare(app, 200, start=False)
    # Paced (through Redis, across both workers) so that the send lasts long enough for both to take part: the
    # second worker builds its app at its first task, while the first one, which ran the tick, has it already.
    env = worker_env(app, CELERY_BROKER_URL=broker, SEND_RATE_PER_SECOND="100", SEND_BATCH_SIZE="10")
    command = [sys.executable, "-m", "celery", "-A", "newsletter.tasks", "worker", "--pool=solo", "--loglevel=INFO"]
    workers = [
        subprocess.Popen(command + ["-B", "--schedule", str(tmp_path / "beat"), "-n", "one@%h"], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
        subprocess.Popen(command + ["-n", "two@%h"], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
    ]
    send_with(workers, "ready.", app, issue_id)
    assert received_by(smtp) == {email: 1 for email in emails}
    assert len({owner for *_x, owner in delivery_table(app, issue_id)}) == 2
