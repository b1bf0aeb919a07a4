"""A real Redis for tests: 127.0.0.1:6379 (or ``HEATSHIELD_TEST_REDIS_URL``), each test's
keys under a prefix of its own, removed afterwards.

Without a Redis these tests skip and say why; with ``HEATSHIELD_REQUIRE_REDIS=1``
(``.ci/run`` sets it, and starts redis-server when it is down) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

REDIS_ENV = "HEATSHIELD_TEST_REDIS_URL"
DEFAULT_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    """The Redis to test against, or a skip (a failure where CI requires it)."""
    url = os.environ.get(REDIS_ENV, DEFAULT_URL)
    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        reason = f"these tests need a Redis at {REDIS_ENV} or {DEFAULT_URL} ({type(exc).__name__})"
        if os.environ.get("HEATSHIELD_REQUIRE_REDIS"):
            pytest.fail(f"{reason}, and HEATSHIELD_REQUIRE_REDIS is set")
        pytest.skip(f"{reason}; .ci/run starts one")
    return url


@contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    """A key prefix no other test (or helper sharing this Redis) uses; its keys go after."""
    prefix = f"heatshield-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
