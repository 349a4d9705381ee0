"""A dead sender's claims are taken over in seconds, not when its lease runs out: a sender killed mid-send and
started again, a sender frozen (alive but silent) past the heartbeat grace. Nobody is lost, nobody doubled."""

import signal
import time

import pytest
from sqlalchemy import func, select

from newsletter.extensions import db
from newsletter.models import Delivery, SenderHeartbeat
from newsletter.models import utcnow
from newsletter.sending.deliver import window_size
from tests.support.workers import (delivery_table, exactly_once, kill_mid_send, prepare, start_worker, stop,
                                   wait_until_sent, worker_env)

pytestmark = pytest.mark.slow
READERS = 150
RATE = 60  # messages per second for the first sender, so that it is killed mid-send
CONNECTIONS = 2  # SMTP connections of the first sender: a window in flight on each
IN_FLIGHT = CONNECTIONS * window_size({"SEND_RATE_PER_SECOND": RATE, "SEND_WINDOW": 16,
                                       "SEND_CONNECTIONS": CONNECTIONS})  # 2 x 3
LONG_LEASE = "300"  # the default: a takeover that waited for the lease would take five minutes


def claims_held_by_others(app, issue_id: int) -> int:
    """QUEUED rows of the issue under a lease that has not run out (what a dead holder leaves behind)."""
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(Delivery)
            .where(Delivery.issue_id == issue_id, Delivery.status == "queued", Delivery.lease_until > utcnow())
        )


def assert_once_each(smtp, app, issue_id: int, emails: list[str], in_flight: int) -> None:
    _rows, unknown = exactly_once(app, smtp, issue_id, emails)
    assert len(unknown) <= in_flight, f"more than the window in flight is unknown: {unknown}"


def test_a_sender_killed_mid_send_is_taken_over_at_once_when_one_starts_again(make_app, smtp):
    app = make_app(START_SENDER=False)
    issue_id, emails = prepare(app, READERS)
    settings = dict(SEND_RATE_PER_SECOND=str(RATE), SEND_CONNECTIONS=str(CONNECTIONS), SEND_LEASE_SECONDS=LONG_LEASE)
    kill_mid_send(app, smtp, 30, **settings)
    assert claims_held_by_others(app, issue_id) > 0, "the killed sender should have left claims behind"
    restarted = time.monotonic()
    second = start_worker(worker_env(app, SEND_LEASE_SECONDS=LONG_LEASE))
    try:
        wait_until_sent(app, issue_id, timeout=60)
    finally:
        stop(second)
    took = time.monotonic() - restarted
    assert_once_each(smtp, app, issue_id, emails, IN_FLIGHT)
    assert took < 60, f"the restarted sender took {took:.1f} s"
    print(f"\nrestart to sent: {took:.1f} s")


def test_a_frozen_sender_is_taken_over_after_the_grace_and_doubles_nobody_when_it_wakes(make_app, smtp):
    app = make_app(START_SENDER=False)
    issue_id, emails = prepare(app, READERS)
    settings = dict(SEND_LEASE_SECONDS=LONG_LEASE, SEND_HEARTBEAT_GRACE="2")
    first = start_worker(worker_env(app, SEND_RATE_PER_SECOND=str(RATE), SEND_CONNECTIONS=str(CONNECTIONS),
                                    **settings))
    second = None
    try:
        smtp.wait_for(30, timeout=60)
        first.send_signal(signal.SIGSTOP)  # alive (its pid is still its own) but silent: only the grace tells
        frozen = time.monotonic()
        assert claims_held_by_others(app, issue_id) > 0, "the frozen sender should hold claims"
        second = start_worker(worker_env(app, **settings))
        wait_until_sent(app, issue_id, timeout=60)
        took = time.monotonic() - frozen
        first.send_signal(signal.SIGCONT)  # it carries on where it stopped, and finds its rows taken over
    finally:
        first.send_signal(signal.SIGCONT)
        stop(first)
        if second is not None:
            stop(second)
    assert_once_each(smtp, app, issue_id, emails, IN_FLIGHT)
    owners = {owner for *_x, owner in delivery_table(app, issue_id)}
    assert len(owners) == 2 and took < 60
    with app.app_context():  # both stopped cleanly: no heartbeat left behind
        assert db.session.scalar(select(func.count()).select_from(SenderHeartbeat)) == 0
    print(f"\nfrozen to sent: {took:.1f} s")
