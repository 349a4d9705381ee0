"""The relays a worker sends through and its pool of connections to them.

A worker keeps up to SEND_CONNECTIONS connections open, one per sending thread (sending/parallel.py). They go
to the primary relay (MAIL_SERVER) first and to the fallback (MAIL_FALLBACK_SERVER), if there is one, for what
the primary cannot take, up to the fallback's own size (SEND_FALLBACK_CONNECTIONS). A relay that refuses a
connection (a `421` such as "too many connections", a refused or dropped TCP connection) is allowed only the
connections it is taking at that moment; after a wait that doubles with each refusal (RETRY_FIRST seconds at
first, at most RETRY_MOST) it is offered one more. A relay that takes none waits the same way.

This module knows nothing of SMTP: a relay makes its connections with the factory it is given.
"""

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

RETRY_FIRST = 5.0
RETRY_MOST = 300.0


@dataclass
class Relay:
    """One relay and the pool's view of it."""

    name: str  # host:port, as the issue page shows it
    size: int  # connections it may have at most
    connect: Callable[[], object]  # a new, unopened transport to it
    allowed: int = 0  # connections it may have now (fewer than size after a refusal)
    in_use: int = 0
    idle: list = field(default_factory=list)  # open connections kept for the next batch
    retry_at: float = 0.0  # when it is offered one more connection
    wait: float = RETRY_FIRST
    refusal: str = ""  # its last refusal, in its own words

    def __post_init__(self):
        self.allowed = self.size


@dataclass
class Lease:
    """A connection a sending thread holds."""

    relay: Relay
    transport: object


class RelayPool:
    """Up to `connections` connections to the relays, handed out to sending threads (thread-safe)."""

    def __init__(self, relays: list[Relay], connections: int):
        self.relays = relays
        self.size = connections
        self.lock = threading.Lock()

    def acquire(self) -> Lease | None:
        """A connection to the first relay that may take one more now, or None when none may."""
        with self.lock:
            now = time.monotonic()
            for relay in self.relays:
                if relay.allowed < relay.size and now >= relay.retry_at:
                    relay.allowed += 1  # offer a relay that refused one more connection now and then
                    relay.retry_at = now + relay.wait
                    if relay.allowed == relay.size:
                        relay.wait = RETRY_FIRST
                if relay.in_use < relay.allowed:
                    relay.in_use += 1
                    return Lease(relay, relay.idle.pop() if relay.idle else relay.connect())
        return None

    def release(self, lease: Lease) -> None:
        """Give a connection back; an open one is kept for the next batch."""
        with self.lock:
            lease.relay.in_use -= 1
            if lease.transport.connected:
                lease.relay.idle.append(lease.transport)

    def refused(self, lease: Lease, reply: str) -> None:
        """The relay refused this connection: it keeps the ones it is taking, and gets a rest before more."""
        lease.transport.abort()
        with self.lock:
            relay = lease.relay
            relay.in_use -= 1
            relay.allowed = min(relay.allowed, relay.in_use)
            relay.retry_at = time.monotonic() + relay.wait
            relay.wait = min(RETRY_MOST, relay.wait * 2)
            relay.refusal = reply

    def note(self) -> str | None:
        """What the publisher should know about relays taking fewer connections than configured."""
        with self.lock:
            short = [relay for relay in self.relays if relay.allowed < relay.size]
            if not short:
                return None
            return " ".join(
                f"The relay {relay.name} took {relay.allowed} of its {relay.size} connections "
                f"({relay.refusal[:160]}); the send goes on over what it takes and offers it more later."
                for relay in short)

    def close(self) -> None:
        """Say QUIT on every kept connection (servers drop idle sessions anyway)."""
        with self.lock:
            idle = [transport for relay in self.relays for transport in relay.idle]
            for relay in self.relays:
                relay.idle = []
        for transport in idle:
            transport.close()
