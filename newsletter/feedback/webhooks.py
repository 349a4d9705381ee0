"""What the webhook signature checks need from outside: the stores of what was already received (Mailgun's
tokens, SNS MessageIds: replays) and the fetch of SNS signing certificates. Redis holds the stores when it is
configured, so every web process shares them.
"""

import time
import urllib.request

from flask import current_app

from ..redis_client import redis_client

_seen: dict[str, float] = {}
REMEMBERED_SECONDS = 2 * 3600  # longer than any accepted age (Mailgun 15 minutes, SNS one hour)


def fetch_https(url: str) -> bytes:
    """GET a small https resource (SNS certificates and subscription confirmations)."""
    # Reviewed for bandit: the SNS parser passes only https URLs on the documented sns.<region>.amazonaws.com hosts.
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  # nosec B310
        return response.read(64 * 1024)


def fetch(url: str) -> bytes:
    """The one seam to AWS: tests put their own certificate server in app.extensions."""
    return current_app.extensions.get("newsletter.fetch_https", fetch_https)(url)


def seen_before(kind: str, token: str) -> bool:
    """Replay protection: True if this `kind` of token ("mailgun-token", "sns-message") was already received."""
    url = current_app.config["REDIS_URL"]
    key = f"newsletter:{kind}:{token[:200]}"
    if url:
        return not redis_client(url).set(key, 1, nx=True, ex=REMEMBERED_SECONDS)
    now = time.time()
    for old in [t for t, at in _seen.items() if at < now - REMEMBERED_SECONDS]:
        del _seen[old]
    seen = key in _seen
    _seen[key] = now
    return seen
