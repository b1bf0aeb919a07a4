"""What replicas must agree on: rate limits, login throttling, breaker state, and which
upstream answers are no longer true.

Two implementations with one interface. In-process (the default, no `[redis] url`):
each process counts for itself, as a single server always has. Redis (`[redis] url`):
counters live in Redis and are updated atomically by small Lua scripts that read
Redis's own clock, so every replica sees one budget per caller and one count of
failed logins; an open breaker is a key that expires when its cool-down does; an
upstream cache clear bumps a shared generation and is broadcast on a channel (each
replica ignores its own messages).

When Redis is configured but unreachable, nothing refuses service because of it:
rate limits and login throttling fall back to this process's own counts (logged as
a warning once per outage, and again when Redis is back), so throttling never
silently disappears, it only stops being shared; cache invalidation from other
replicas is not heard until Redis answers again (reads fail open, with the warning).
After a failure Redis is left alone for `RETRY_SECONDS`, so an outage costs requests
no time-outs. The Redis URL's password is never logged or put in an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cache import UpstreamCache
from api.domain.access import login_delay
from api.settings import RedisSettings, SecuritySettings, Settings
from connectors.http import CircuitBreaker

if TYPE_CHECKING:
    import redis.asyncio as aioredis

log = logging.getLogger("heatshield.shared_state")

#: After Redis fails, how long this process counts on its own before trying it again.
RETRY_SECONDS = 5.0
_T = TypeVar("_T")


# --- in-process: one server's own counts ------------------------------------------------

class RateLimiter:
    """A token bucket per caller: `per_minute` sustained, `burst` at once (this process)."""

    def __init__(self, per_minute: int, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def cost_of(self, cost: int) -> int:
        return max(1, min(cost, int(self.burst)))  # never more than a full bucket can hold

    async def take(self, key: str, cost: int = 1) -> float:
        """0 when a request of `cost` units may go ahead, else the seconds until it may."""
        return self.take_here(key, cost)

    def take_here(self, key: str, cost: int = 1) -> float:
        moment = self.clock()
        cost = self.cost_of(cost)
        tokens, last = self._buckets.get(key, (self.burst, moment))
        tokens = min(self.burst, tokens + (moment - last) * self.rate)
        if tokens >= cost:
            if len(self._buckets) > 100_000:
                self._buckets.clear()  # bounded memory under a flood of callers
            self._buckets[key] = (tokens - cost, moment)
            return 0.0
        self._buckets[key] = (tokens, moment)
        return (cost - tokens) / self.rate


class LoginThrottle:
    """Slows repeated failed logins per (user name, client address), in this process.

    A few failures are free; then each one doubles the wait before the next
    try from that address, up to a cap. The pair is the key so that someone
    guessing from one address never keeps the real user out from theirs.
    """

    _MAX_KEYS = 100_000

    def __init__(self, *, free_failures: int, base_seconds: float, max_seconds: float,
                 forget_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.free_failures = free_failures
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.forget_seconds = forget_seconds
        self.clock = clock
        # (name, client) -> (recent failures, time of the last); oldest first.
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}

    @classmethod
    def from_settings(cls, settings: SecuritySettings,
                      clock: Callable[[], float] = time.monotonic) -> LoginThrottle:
        return cls(free_failures=settings.login_max_failures,
                   base_seconds=settings.login_backoff_seconds,
                   max_seconds=settings.login_backoff_max_seconds,
                   forget_seconds=settings.login_lockout_minutes * 60, clock=clock)

    def delay(self, failures: int) -> float:
        return login_delay(failures, free=self.free_failures, base_seconds=self.base_seconds,
                           max_seconds=self.max_seconds)

    def _entry(self, key: tuple[str, str]) -> tuple[int, float] | None:
        entry = self._failures.get(key)
        if entry is not None and self.clock() - entry[1] > self.forget_seconds:
            del self._failures[key]
            return None
        return entry

    async def wait(self, name: str, client: str) -> float:
        """Seconds until `name` may be tried again from `client` (0: now)."""
        entry = self._entry((name.lower(), client))
        if entry is None:
            return 0.0
        count, last = entry
        return max(0.0, last + self.delay(count) - self.clock())

    async def failed(self, name: str, client: str) -> None:
        key = (name.lower(), client)
        entry = self._entry(key)
        self._failures.pop(key, None)
        if len(self._failures) >= self._MAX_KEYS:  # a flood of invented names: drop the oldest
            for old in list(self._failures)[: self._MAX_KEYS // 10]:
                del self._failures[old]
        self._failures[key] = ((entry[0] if entry else 0) + 1, self.clock())

    async def succeeded(self, name: str, client: str) -> None:
        self._failures.pop((name.lower(), client), None)


# --- Redis: one count for every replica -------------------------------------------------

class RedisLink:
    """One Redis client, its key prefix, this replica's id, and what an outage means."""

    def __init__(self, settings: RedisSettings) -> None:
        assert settings.url is not None
        # Imported here: the client (and the telemetry it loads) costs a start without Redis
        # about a fifth of a second.
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        #: What an outage raises: the caller falls back to this process's own counts.
        self.errors: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
        url = settings.url.get_secret_value()
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=settings.timeout_seconds,
            socket_connect_timeout=settings.timeout_seconds)
        self._password = self.client.connection_pool.connection_kwargs.get("password") or ""
        self.prefix = settings.key_prefix
        self.channel = self.key("events")
        #: Who this replica is on the channel, so it can ignore its own messages.
        self.origin = uuid.uuid4().hex
        # Outages are timed on the real clock, whatever clock the app was given.
        self.clock = time.monotonic
        self._down_until: float | None = None

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def describe(self, exc: BaseException) -> str:
        """An error as it may be logged: its kind and text, never the password."""
        text = f"{type(exc).__name__}: {exc}"
        return text.replace(self._password, "***") if self._password else text

    @property
    def down(self) -> bool:
        return self._down_until is not None and self.clock() < self._down_until

    async def call(self, work: Callable[[aioredis.Redis], Awaitable[_T]], what: str
                   ) -> tuple[bool, _T | None]:
        """(True, result), or (False, None) when Redis is down: the caller falls back."""
        if self.down:
            return False, None
        try:
            result = await work(self.client)
        except self.errors as exc:
            if self._down_until is None:
                log.warning("Redis is unreachable (%s) while %s: rate limits and login "
                            "throttling count in this process only, and other replicas' "
                            "cache invalidations are not heard, until it answers again",
                            self.describe(exc), what)
            self._down_until = self.clock() + RETRY_SECONDS
            return False, None
        if self._down_until is not None:
            log.warning("Redis answers again: limits, throttling and invalidation are "
                        "shared across replicas once more")
            self._down_until = None
        return True, result

    async def publish(self, message: Mapping[str, Any], what: str) -> None:
        body = json.dumps({"origin": self.origin, **message})
        await self.call(lambda r: r.publish(self.channel, body), what)

    async def aclose(self) -> None:
        await self.client.aclose()


# A token bucket in one hash; the time is Redis's own, so replicas' clocks never disagree.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""

# Failed logins for one (name, client): how many, and when the last was (Redis's clock).
_FAILED = """
local t = redis.call('TIME')
redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSET', KEYS[1], 'at', t[1] .. '.' .. string.format('%06d', tonumber(t[2])))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""
_WAIT = """
local t = redis.call('TIME')
local held = redis.call('HMGET', KEYS[1], 'count', 'at')
if not held[1] then return {0, '0'} end
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
return {tonumber(held[1]), tostring(now - tonumber(held[2]))}
"""


class RedisRateLimiter(RateLimiter):
    """One bucket per caller for all replicas; this process's own bucket while Redis is down."""

    def __init__(self, link: RedisLink, name: str, per_minute: int, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(per_minute, burst, clock)
        self.link = link
        self.name = name
        self._script = link.client.register_script(_TAKE)

    async def take(self, key: str, cost: int = 1) -> float:
        units = self.cost_of(cost)
        shared, wait = await self.link.call(
            lambda r: self._script(keys=[self.link.key("rate", self.name, key)],
                                   args=[self.rate, self.burst, units], client=r),
            "counting a request")
        if not shared:
            return self.take_here(key, cost)
        return float(wait.decode() if isinstance(wait, bytes) else str(wait))


class RedisLoginThrottle(LoginThrottle):
    """Failed logins counted for all replicas; in this process while Redis is down."""

    def __init__(self, link: RedisLink, settings: SecuritySettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(free_failures=settings.login_max_failures,
                         base_seconds=settings.login_backoff_seconds,
                         max_seconds=settings.login_backoff_max_seconds,
                         forget_seconds=settings.login_lockout_minutes * 60, clock=clock)
        self.link = link
        self._failed = link.client.register_script(_FAILED)
        self._wait = link.client.register_script(_WAIT)

    def _key(self, name: str, client: str) -> str:
        return self.link.key("login", client, name.lower())

    async def wait(self, name: str, client: str) -> float:
        here = await super().wait(name, client)  # what this process counted in an outage
        shared, held = await self.link.call(
            lambda r: self._wait(keys=[self._key(name, client)], client=r),
            "reading failed logins")
        if not shared or not held:
            return here
        count, since = int(held[0]), float(held[1].decode() if isinstance(held[1], bytes)
                                           else held[1])
        if count == 0:
            return here
        return max(here, self.delay(count) - since)

    async def failed(self, name: str, client: str) -> None:
        shared, _ = await self.link.call(
            lambda r: self._failed(keys=[self._key(name, client)],
                                   args=[max(1, int(self.forget_seconds))], client=r),
            "counting a failed login")
        if not shared:
            await super().failed(name, client)

    async def succeeded(self, name: str, client: str) -> None:
        await super().succeeded(name, client)
        await self.link.call(lambda r: r.delete(self._key(name, client)),
                             "forgetting failed logins")


class SharedUpstreams:
    """Upstream cache invalidation and breaker state, told to and heard from other replicas.

    A local cache clear bumps a shared generation and is published; a replica that
    hears it (or finds the generation moved when a request starts) clears its own
    cache. A breaker that opens here is written as a key that expires with its
    cool-down, and published; one that closes deletes the key. Replicas take what
    they hear with `CircuitBreaker.adopt`, which tells no one again.
    """

    def __init__(self, link: RedisLink, cache: UpstreamCache,
                 breakers: Mapping[str, CircuitBreaker]) -> None:
        self.link = link
        self.cache = cache
        self.breakers = dict(breakers)
        self._generation_key = link.key("cache", "generation")
        #: The shared generation this replica last took (compared by inequality, not order:
        #: a Redis that restarted empty counts from 0 again).
        self._seen: int | None = None
        self._hearing = False
        self._pending: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        cache.listeners.append(lambda _tags: self._cleared_here())
        for name, breaker in self.breakers.items():
            breaker.listener = lambda opened, name=name: self._breaker_here(name, opened)

    # what happened here, told to the others
    def _cleared_here(self) -> None:
        if not self._hearing:
            self._later(self._tell_cleared())

    def _breaker_here(self, name: str, opened: bool) -> None:
        self._later(self._tell_breaker(name, opened))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (a script's own clear): nobody to tell from here
            work.close()
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _tell_cleared(self) -> None:
        shared, generation = await self.link.call(
            lambda r: r.incr(self._generation_key), "announcing a cache clear")
        if shared:
            generation = int(generation or 0)
            if self._seen is None or generation != self._seen + 1:
                # Others cleared between our last look and our own clear's count: what we
                # fetched meanwhile may predate their writes.
                self._clear_as_heard()
            self._seen = generation
            await self.link.publish({"cache": "clear", "generation": generation},
                                    "announcing a cache clear")

    async def _tell_breaker(self, name: str, opened: bool) -> None:
        breaker = self.breakers[name]
        key = self.link.key("breaker", name)
        if opened:
            await self.link.call(lambda r: r.set(key, b"open", px=max(
                1, int(breaker.cooldown_seconds * 1000))), "sharing a breaker")
        else:
            await self.link.call(lambda r: r.delete(key), "sharing a breaker")
        await self.link.publish({"breaker": name,
                                 "open_for": breaker.cooldown_seconds if opened else 0},
                                "sharing a breaker")

    async def flush(self) -> None:
        """Wait until what happened here has been told (a write's answer waits for it)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # what happened elsewhere, taken here
    def _clear_as_heard(self) -> None:
        self._hearing = True
        try:
            self.cache.clear()
        finally:
            self._hearing = False

    async def catch_up(self) -> None:
        """Clear this replica's cache if another cleared since we last looked."""
        shared, value = await self.link.call(lambda r: r.get(self._generation_key),
                                             "reading the cache generation")
        if not shared:
            return
        generation = int(value or 0)
        if self._seen is not None and generation != self._seen:
            self._clear_as_heard()
        self._seen = generation

    def heard(self, raw: bytes | str) -> None:
        """One message from the channel; this replica's own are ignored."""
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("origin") == self.link.origin:
            return
        try:
            if message.get("cache") == "clear":
                generation = int(message.get("generation") or 0)
                if generation != self._seen:  # else taken already (by `catch_up`)
                    self._seen = generation
                    self._clear_as_heard()
            breaker = self.breakers.get(str(message.get("breaker")))
            if breaker is not None:
                breaker.adopt(float(message.get("open_for") or 0))
        except (TypeError, ValueError):
            log.warning("ignored a malformed message on the Redis channel")

    async def _adopt_open_breakers(self) -> None:
        for name, breaker in self.breakers.items():
            shared, left = await self.link.call(self._ttl_of(self.link.key("breaker", name)),
                                                "reading breakers")
            if shared and left is not None and left > 0:
                breaker.adopt(left / 1000)

    @staticmethod
    def _ttl_of(key: str) -> Callable[[aioredis.Redis], Awaitable[int]]:
        async def ttl(r: aioredis.Redis) -> int:
            return int(await r.pttl(key))
        return ttl

    async def start(self) -> None:
        await self.catch_up()
        await self._adopt_open_breakers()
        self._listener = asyncio.create_task(self._listen(), name="heatshield-shared-state")

    async def _listen(self) -> None:
        """Hear the channel for as long as the app runs; reconnect after an outage."""
        lost = False
        while True:
            pubsub = self.link.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.link.channel)
                if lost:
                    log.warning("listening to the Redis channel again")
                    lost = False
                # Anything said while we were not listening: read the shared state again.
                await self.catch_up()
                await self._adopt_open_breakers()
                while True:
                    # A bounded wait, so an idle channel is never taken for a broken one.
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self.heard(message["data"])
            except self.link.errors as exc:
                if not lost:  # once per outage, not every retry
                    log.warning("lost the Redis channel (%s): other replicas' invalidations "
                                "and breakers are not heard; trying again every %g s",
                                self.link.describe(exc), RETRY_SECONDS)
                    lost = True
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    # Typed from redis 8.2, untyped before: called as Any for both.
                    await cast(Any, pubsub).aclose()

    async def aclose(self) -> None:
        await self.flush()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener


class SharedState:
    """The limiters and throttle a server uses, and (with Redis) what ties replicas together."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        limits, security = settings.limits, settings.security
        attempts = security.login_attempts_per_minute
        self.link = RedisLink(settings.redis) if settings.redis.url else None
        self.limiter: RateLimiter
        self.login_limiter: RateLimiter
        self.login_throttle: LoginThrottle
        if self.link is None:
            self.limiter = RateLimiter(limits.rate_limit_per_minute, limits.rate_limit_burst,
                                       clock)
            # Anonymous login attempts, per client address.
            self.login_limiter = RateLimiter(attempts, attempts, clock)
            self.login_throttle = LoginThrottle.from_settings(security, clock)
        else:
            self.limiter = RedisRateLimiter(self.link, "requests",
                                            limits.rate_limit_per_minute,
                                            limits.rate_limit_burst, clock)
            self.login_limiter = RedisRateLimiter(self.link, "logins", attempts, attempts,
                                                  clock)
            self.login_throttle = RedisLoginThrottle(self.link, security, clock)
        self.upstreams: SharedUpstreams | None = None

    @property
    def shared(self) -> bool:
        return self.link is not None

    def attach(self, cache: UpstreamCache, breakers: Mapping[str, CircuitBreaker]) -> None:
        """Tie this replica's upstream cache and breakers to the others' (Redis only)."""
        if self.link is not None:
            self.upstreams = SharedUpstreams(self.link, cache, breakers)

    async def start(self) -> None:
        if self.upstreams is not None:
            await self.upstreams.start()

    async def aclose(self) -> None:
        if self.upstreams is not None:
            await self.upstreams.aclose()
        if self.link is not None:
            await self.link.aclose()


#: Paths that never read or change upstream answers (probes, sign-in, scrapes, assets):
#: no Redis round trip for them.
UPSTREAM_FREE = ("/healthz", "/readyz", "/metrics", "/auth/", "/assets/", "/favicon.ico")


class SharedStateMiddleware:
    """Each request first takes the invalidations other replicas made (so it is never
    answered from what they changed), and its answer leaves only once the invalidations
    it made are told (so a client's next request, on any replica, sees its write)."""

    def __init__(self, app: ASGIApp, *, state: SharedState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        upstreams = self.state.upstreams
        if scope["type"] != "http" or upstreams is None \
                or scope["path"].startswith(UPSTREAM_FREE):
            await self.app(scope, receive, send)
            return
        await upstreams.catch_up()

        async def told_first(message: Message) -> None:
            if message["type"] == "http.response.start":
                await upstreams.flush()
            await send(message)

        await self.app(scope, receive, told_first)
