"""Exponential backoff of failed logins, per (address, IP) pair and per IP, instead of locking accounts.

A stranger's failures count against their own pair and their own IP, never against the account, so the owner's
right password keeps working from the owner's network while someone guesses elsewhere. Counters are keyed by a
keyed hash of the address as typed (known or not: an unknown address backs off exactly like a real one, so a
wait tells nothing about which accounts exist), never by the address itself, which may be a mistyped password.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .addresses import address_hmac
from .extensions import db
from .models import LoginThrottle


@dataclass(frozen=True)
class Rule:
    prefix: str
    free: int  # failures answered at once; each one after waits twice as long as the one before
    max_wait: timedelta


PAIR = Rule("pair", free=3, max_wait=timedelta(minutes=15))
# A shared office or a workshop's Wi-Fi is one IP for many people: the IP allows many more mistakes than a pair.
IP = Rule("ip", free=20, max_wait=timedelta(minutes=15))
FORGET_AFTER = timedelta(hours=24)  # a counter with no failure for this long starts again from zero


def throttle_keys(address: str, ip: str | None) -> dict[Rule, str]:
    """The counters one attempt touches."""
    ip = (ip or "unknown")[:45]
    typed = address_hmac(current_app.config["SECRET_KEY"].encode(), address.strip().lower())[:32]
    return {PAIR: f"pair:{typed}:{ip}", IP: f"ip:{ip}"}


def waiting(keys: dict[Rule, str], now: datetime) -> bool:
    """Whether any of these counters asks this attempt to wait."""
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys.values()))).all()
    return any(row.retry_after > now for row in rows)


def record_failure(keys: dict[Rule, str], now: datetime) -> None:
    """Count a refused attempt on each counter and set when the next attempt may come. Flushes.

    An attempt refused because it came too early counts too: every refusal does the same work, and a script
    that keeps knocking only makes its own wait longer.
    """
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)
    for rule, key in keys.items():
        db.session.execute(insert(LoginThrottle).values(key=key, failures=0, last_failure_at=now, retry_after=now)
                           .on_conflict_do_nothing(index_elements=["key"]))
        # One statement, so parallel failures each count.
        db.session.execute(update(LoginThrottle).where(LoginThrottle.key == key, LoginThrottle.last_failure_at
                                                       < now - FORGET_AFTER).values(failures=0))
        db.session.execute(update(LoginThrottle).where(LoginThrottle.key == key)
                           .values(failures=LoginThrottle.failures + 1, last_failure_at=now))
        failures = db.session.scalar(select(LoginThrottle.failures).where(LoginThrottle.key == key))
        db.session.execute(update(LoginThrottle).where(LoginThrottle.key == key)
                           .values(retry_after=now + wait_after(rule, failures)))
    forget_old(now)
    db.session.flush()


def wait_after(rule: Rule, failures: int) -> timedelta:
    """1 s after the first failure past the free ones, then 2 s, 4 s... up to the rule's maximum."""
    if failures <= rule.free:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - rule.free - 1, 20)), rule.max_wait)


def record_success(keys: dict[Rule, str]) -> None:
    """The right password from this pair: its counter starts again (the IP's keeps its strangers' count)."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[PAIR]))
    db.session.flush()


def forget_old(now: datetime) -> int:
    """Drop counters with no failure for a day; how many were dropped."""
    result = db.session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER))
    return result.rowcount
