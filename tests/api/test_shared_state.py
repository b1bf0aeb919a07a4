"""Shared state between replicas (api/shared_state.py) over a real Redis, and without one.

Two `SharedState`s in one process stand for two replicas: what they share goes
through Redis exactly as between processes (tests/api/test_replicas.py runs real
ones). A server whose Redis does not answer keeps throttling in its own process,
says so in its log, and never logs the Redis password.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.cache import UpstreamCache
from api.db.models import Role
from api.settings import SettingsError, load_settings
from api.shared_state import SharedState
from connectors.http import CircuitBreaker
from connectors.records import BreakerState
from tests.support.clock import FakeClock
from tests.support.graphql import add_principal, new_secret
from tests.support.hub_process import free_port
from tests.support.redis import redis_prefix, redis_url
from tests.support.server import serve_asgi

PASSWORD = "a long enough password here"
SOURCE = "itsm"


class Replica:
    def __init__(self, state: SharedState, cache: UpstreamCache, breaker: CircuitBreaker,
                 clock: FakeClock) -> None:
        self.state, self.cache, self.breaker, self.clock = state, cache, breaker, clock


@pytest.fixture
def prefix() -> Iterator[tuple[str, str]]:
    url = redis_url()
    with redis_prefix(url) as prefix:
        yield url, prefix


@pytest.fixture
async def replica(prefix: tuple[str, str]
                  ) -> AsyncIterator[Callable[[], Awaitable[Replica]]]:
    url, key_prefix = prefix
    # A budget of 5 that refills one a minute: nothing refills while a test runs.
    settings = load_settings(None, redis={"url": url, "key_prefix": key_prefix},
                             limits={"rate_limit_burst": 5, "rate_limit_per_minute": 1})
    started: list[SharedState] = []

    async def start() -> Replica:
        clock = FakeClock()
        state = SharedState(settings, clock)
        cache = UpstreamCache(ttl=300, clock=clock)
        breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=30, clock=clock)
        state.attach(cache, {SOURCE: breaker})
        await state.start()
        started.append(state)
        return Replica(state, cache, breaker, clock)

    yield start
    for state in started:
        await state.aclose()


async def until(condition: Callable[[], bool]) -> None:
    """Wait for what another replica said to arrive (a bound, not a measured time)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("what one replica said never reached the other")


async def test_a_breaker_opened_on_one_replica_is_open_on_the_others_until_a_trial_closes_it(
        replica: Callable[[], Awaitable[Replica]]) -> None:
    a, b = await replica(), await replica()
    a.breaker.record_failure()
    a.breaker.record_failure()
    assert a.breaker.state is BreakerState.OPEN
    await until(lambda: b.breaker.state is BreakerState.OPEN)
    assert not b.breaker.allow()

    late = await replica()  # started after it opened: reads the breaker's key
    assert late.breaker.state is BreakerState.OPEN
    assert 0 < late.breaker.retry_in() <= 30

    a.clock.advance(31)  # A's cool-down is over: its trial call succeeds
    assert a.breaker.allow()
    a.breaker.record_success()
    await until(lambda: b.breaker.state is BreakerState.CLOSED)
    await until(lambda: late.breaker.state is BreakerState.CLOSED)
    assert b.breaker.allow()


async def test_a_cache_clear_reaches_every_other_replica_and_is_not_heard_back(
        replica: Callable[[], Awaitable[Replica]]) -> None:
    a, b = await replica(), await replica()
    a.cache.put("release-1 changes", ["CHG0001"])
    b.cache.put("release-1 changes", ["CHG0001"])
    a_generation, b_generation = a.cache.generation, b.cache.generation

    a.cache.clear()
    assert a.state.upstreams is not None
    await a.state.upstreams.flush()
    await until(lambda: b.cache.fresh("release-1 changes") is None)
    assert b.cache.generation == b_generation + 1

    # A's own announcement comes back to it on the channel before B's does; it is ignored,
    # so A clears once for its own clear and once for B's, never for its own twice.
    a.cache.put("release-1 changes", ["CHG0001", "CHG0002"])
    b.cache.clear()
    await until(lambda: a.cache.fresh("release-1 changes") is None)
    assert a.cache.generation == a_generation + 2


async def test_a_request_on_a_replica_that_missed_the_message_still_sees_the_clear(
        replica: Callable[[], Awaitable[Replica]]) -> None:
    a, b = await replica(), await replica()
    assert b.state.upstreams is not None and a.state.upstreams is not None
    b.cache.put("release-1 changes", ["CHG0001"])
    a.cache.clear()  # B is listening once it has heard this one
    await until(lambda: b.cache.fresh("release-1 changes") is None)

    b.state.upstreams.heard = lambda raw: None  # type: ignore[method-assign]  # a lost message
    b.cache.put("release-1 changes", ["CHG0001"])
    a.cache.clear()
    await a.state.upstreams.flush()
    assert b.cache.fresh("release-1 changes") is not None
    await b.state.upstreams.catch_up()  # what each request does first
    assert b.cache.fresh("release-1 changes") is None


async def test_one_rate_budget_and_one_failed_login_count_for_every_replica(
        replica: Callable[[], Awaitable[Replica]]) -> None:
    a, b = await replica(), await replica()
    burst = int(a.state.limiter.burst)
    taken = [await (a if i % 2 else b).state.limiter.take("user:7") for i in range(burst)]
    assert taken == [0.0] * burst
    assert await b.state.limiter.take("user:7") > 0
    assert await a.state.limiter.take("user:8") == 0.0  # another caller has its own

    throttle = a.state.login_throttle
    for _ in range(throttle.free_failures):
        await a.state.login_throttle.failed("Alice", "192.0.2.10")
    assert await b.state.login_throttle.wait("alice", "192.0.2.10") > 0
    assert await b.state.login_throttle.wait("alice", "192.0.2.11") == 0
    await b.state.login_throttle.succeeded("alice", "192.0.2.10")
    assert await a.state.login_throttle.wait("alice", "192.0.2.10") == 0


def test_with_redis_down_logins_are_still_throttled_and_the_password_is_never_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "redis-pass-" + new_secret()[3:15]
    closed = free_port()  # nothing listens there
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
        redis={"url": f"redis://:{secret}@127.0.0.1:{closed}/0"},
        security={"login_max_failures": 2, "login_backoff_seconds": 60},
        limits={"rate_limit_burst": 3, "rate_limit_per_minute": 3})
    token = new_secret()

    async def users(sessions: object) -> None:
        await add_principal(sessions, username="ops", role=Role.VIEWER,  # type: ignore[arg-type]
                            token=token, password=PASSWORD)

    caplog.set_level(logging.WARNING, logger="heatshield.shared_state")
    with serve_asgi(create_app(settings, startup=[users])) as url, \
            httpx.Client(base_url=url, headers={"Origin": url}, timeout=30) as client:
        def login(password: str) -> httpx.Response:
            return client.post("/auth/login", json={"username": "ops", "password": password})

        assert [login("wrong password!!").status_code for _ in range(2)] == [401, 401]
        slowed = login(PASSWORD)
        assert slowed.status_code == 429, slowed.text
        assert int(slowed.headers["Retry-After"]) > 30

        bearer = {"Authorization": f"Bearer {token}"}
        statuses = [client.get("/auth/session", headers=bearer).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]

    said = "\n".join(record.getMessage() for record in caplog.records)
    assert "Redis is unreachable" in said and str(closed) in said
    assert secret not in said


@contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of this test's own, which it may stop and start again."""
    binary = shutil.which("redis-server")
    if binary is None:
        redis_url()  # the same skip-or-fail rule as for the shared Redis
        pytest.skip("redis-server is not installed")
    process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port),
                                "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.02)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_while_redis_is_down_each_replica_fails_open_and_shares_again_once_it_is_back(
        caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    settings = load_settings(None, redis={"url": f"redis://127.0.0.1:{port}/0"},
                             security={"login_max_failures": 1})
    caplog.set_level(logging.WARNING, logger="heatshield.shared_state")
    replicas: list[Replica] = []
    with private_redis(port):
        for _ in range(2):
            clock = FakeClock()
            state = SharedState(settings, clock)
            cache = UpstreamCache(ttl=300, clock=clock)
            state.attach(cache, {SOURCE: CircuitBreaker(clock=clock)})
            await state.start()
            replicas.append(Replica(state, cache, state.upstreams.breakers[SOURCE], clock))
    a, b = replicas
    try:
        # Redis is gone: nothing raises, throttling holds in the replica that counted ...
        await a.state.login_throttle.failed("bob", "192.0.2.20")
        assert await a.state.login_throttle.wait("bob", "192.0.2.20") > 0
        assert await a.state.limiter.take("user:9") == 0.0
        # ... and invalidations stay where they happened (reads fail open).
        b.cache.put("release-2 changes", ["CHG0002"])
        a.cache.clear()
        await a.state.upstreams.flush()
        assert b.cache.fresh("release-2 changes") is not None
        said = "\n".join(record.getMessage() for record in caplog.records)
        assert "Redis is unreachable" in said

        with private_redis(port):
            # Within RETRY_SECONDS each replica tries Redis again and listens again.
            async def shared_again() -> bool:
                a.cache.clear()
                await a.state.upstreams.flush()
                await asyncio.sleep(0.2)
                return b.cache.fresh("release-2 changes") is None

            for _ in range(100):
                if await shared_again():
                    break
            else:
                raise AssertionError("the replicas never shared again")
            said = "\n".join(record.getMessage() for record in caplog.records)
            assert "Redis answers again" in said
    finally:
        for replica in replicas:
            await replica.state.aclose()


def test_a_bad_redis_url_is_named_without_its_password() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(None, redis={"url": "http://:hunter2-secret@cache.internal:6379/0"})
    assert "redis.url" in str(refused.value) and "redis://" in str(refused.value)
    assert "hunter2-secret" not in str(refused.value)
