"""The one way to reach Redis (send pacing, webhook replay protection, the Celery dispatch claim): one client,
and so one connection pool, per URL and process. redis-py makes a forked process's pool anew by itself."""

import redis

_clients: dict[str, redis.Redis] = {}


def redis_client(url: str) -> redis.Redis:
    """The process's client for this Redis URL."""
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url)
    return client
