"""SEND_RATE_PER_SECOND across every worker: a pacing schedule kept in Redis when there is one.

Each message takes the next free slot (1/rate seconds after the previous one, whoever took it); a worker sleeps
until its slot. Without Redis (the embedded runner) the schedule is local to the process, which then is the
only sender.
"""

import threading
import time

from ..redis_client import redis_client

# KEYS[1]: the schedule; ARGV[1]: interval in microseconds. Returns the slot (microseconds since the epoch).
_TAKE_SLOT = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local next_us = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now_us, next_us)
redis.call('SET', KEYS[1], slot + tonumber(ARGV[1]), 'PX', 60000)
return {slot, now_us}
"""


class LocalPacer:
    """Spaces messages 1/rate seconds apart within this process."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Sleep until this message's slot."""
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class RedisPacer:
    """Spaces messages 1/rate seconds apart across every worker sharing the Redis server."""

    def __init__(self, rate: float, url: str, key: str = "newsletter:send-rate"):
        self.interval_us = int(1_000_000 / rate)
        self.client = redis_client(url)
        self.take = self.client.register_script(_TAKE_SLOT)
        self.key = key

    def wait(self) -> None:
        """Sleep until this message's slot (the clock is Redis's, shared by all)."""
        slot_us, now_us = self.take(keys=[self.key], args=[self.interval_us])
        if slot_us > now_us:
            time.sleep((slot_us - now_us) / 1_000_000)


def make_pacer(config: dict):
    """The pacer the settings ask for (no pacing when SEND_RATE_PER_SECOND is 0)."""
    rate = config["SEND_RATE_PER_SECOND"]
    if rate > 0 and config["REDIS_URL"]:
        return RedisPacer(rate, config["REDIS_URL"])
    return LocalPacer(rate)
