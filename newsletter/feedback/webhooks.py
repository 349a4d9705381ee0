"""What the webhook signature checks need from outside: the store of tokens already used (replay) and the
fetch of SNS signing certificates. Redis holds the store when it is configured, so every web process shares it.
"""

import time
import urllib.request

from flask import current_app

_seen_tokens: dict[str, float] = {}


def fetch_https(url: str) -> bytes:
    """GET a small https resource (SNS certificates and subscription confirmations)."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the parser allows only https SNS URLs
        return response.read(64 * 1024)


def fetch(url: str) -> bytes:
    """The one seam to AWS: tests put their own certificate server in app.extensions."""
    return current_app.extensions.get("newsletter.fetch_https", fetch_https)(url)


def seen_before(token: str) -> bool:
    """Mailgun replay protection: True if this token was already used (Redis when configured)."""
    url = current_app.config["REDIS_URL"]
    if url:
        import redis

        return not redis.Redis.from_url(url).set(f"newsletter:mailgun-token:{token}", 1, nx=True, ex=3600)
    now = time.time()
    for old in [t for t, at in _seen_tokens.items() if at < now - 3600]:
        del _seen_tokens[old]
    seen = token in _seen_tokens
    _seen_tokens[token] = now
    return seen
