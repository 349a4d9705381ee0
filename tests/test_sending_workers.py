"""Exactly once across processes: a worker killed mid-send, two workers at once, Celery workers on Redis."""

import subprocess
import sys

import pytest

from newsletter.sending.deliver import window_size
from tests.support.sending_helpers import received_by
from tests.support.workers import (ROOT, delivery_table, exactly_once, kill_mid_send, prepare, start_issue, start_worker,
                                   stop, wait_ready, wait_until_sent, worker_env)

pytestmark = pytest.mark.slow


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
    killed_at = kill_mid_send(app, smtp, 30, **settings)
    second = start_worker(worker_env(app))
    try:
        wait_until_sent(app, issue_id)
    finally:
        stop(second)
    rows, unknown = exactly_once(app, smtp, issue_id, emails)
    assert len(unknown) <= in_flight, f"more than the window in flight is unknown: {unknown}"
    assert 30 <= killed_at < len(emails) and len({owner for *_x, owner in rows}) == 2


def test_worker_killed_mid_send_over_a_pool_leaves_at_most_its_windows_unknown(make_app, smtp):
    app = make_app(START_SENDER=False)
    issue_id, emails = prepare(app, 160)
    settings = dict(SEND_RATE_PER_SECOND="120", SEND_WINDOW="16", SEND_CONNECTIONS="4")
    window = window_size({"SEND_RATE_PER_SECOND": 120.0, "SEND_WINDOW": 16, "SEND_CONNECTIONS": 4})  # 3
    killed_at = kill_mid_send(app, smtp, 40, **settings)
    assert smtp.peak_sessions == 4, "the pool should have had its four connections open"
    second = start_worker(worker_env(app))
    try:
        wait_until_sent(app, issue_id)
    finally:
        stop(second)
    _rows, unknown = exactly_once(app, smtp, issue_id, emails)
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
