"""The client every connector talks through: one pooled `httpx.AsyncClient` per instance.

Opened and closed by the app's lifespan. Around each call: the policies of
`connectors.http.policy` (timeouts, retries of idempotent calls whose waits obey
`Retry-After`, the circuit breaker), ETag revalidation (`connectors.http.etag`),
de-duplication of identical in-flight GETs, and health bookkeeping for
`Query.sources`. Failures surface as `connectors.errors` types whose messages
hold no secret, no Authorization header and no query string.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx

from connectors.config import AuthSecrets, ConnectorConfig
from connectors.errors import (
    ErrorCode,
    UnsafeRequest,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http.auth import LoginFailed, auth_from_secrets
from connectors.http.etag import FROM_CACHE, Cached, EtagCache
from connectors.http.observe import (
    CallObserver,
    CallOutcome,
    outcome_of_error,
    outcome_of_response,
)
from connectors.http.paths import has_control
from connectors.http.policy import (
    IDEMPOTENT_METHODS,
    CircuitBreaker,
    RetryPolicy,
    Timeouts,
    is_rate_limited,
    retry_after_seconds,
)
from connectors.http.redaction import forget_secret, register_secret
from connectors.http.turns import SendTurns, turns_for
from connectors.records import BreakerState

log = logging.getLogger("heatshield.connectors.http")

_DEDUPE_METHODS = frozenset({"GET", "HEAD"})
E = TypeVar("E", bound=UpstreamError)


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    breaker: BreakerState
    calls: int
    failures: int
    last_latency_ms: float | None
    avg_latency_ms: float | None
    last_success_at: datetime | None
    last_error_code: ErrorCode | None
    last_error_message: str | None
    last_error_at: datetime | None


@dataclass(slots=True)
class _Stats:
    calls: int = 0
    failures: int = 0
    last_latency_ms: float | None = None
    avg_latency_ms: float | None = None
    last_success_at: datetime | None = None
    last_error: UpstreamError | None = None
    last_error_at: datetime | None = None

    def latency(self, ms: float) -> None:
        self.last_latency_ms = ms
        self.avg_latency_ms = ms if self.avg_latency_ms is None else (
            0.8 * self.avg_latency_ms + 0.2 * ms)


class UpstreamClient:
    """One connector instance's connection to its upstream.

    `request()` returns the response for any status the connector should
    interpret itself (2xx, 3xx, 404, 409, 422 ...) and raises a typed
    `UpstreamError` for transport failures, timeouts, 401/403, rate limits and 5xx,
    except for statuses the caller names in `accept`: those come back as they are
    (not retried, not counted as failures), for connectors that read the
    upstream's own error body, such as an ITSM refusing a write with 403 or 500.
    Errors a connector finds itself (a bad payload, a GraphQL error) go through
    `note_error`, so they count in health and the breaker like the layer's own.
    `clock` (monotonic seconds) ages what the connection keeps: the breaker's
    cool-down and, for kinds that log in, their token's lifetime.
    `observer`, when set, hears of every exchange on the wire (`connectors.http.observe`):
    the server counts calls with it, and the layer stays free of metrics.
    `turns` orders the writing of requests (`connectors.http.turns`); by default the
    clients of one event loop share its turns.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        secrets: AuthSecrets | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        headers: Mapping[str, str] | None = None,
        etag_cache_size: int = 512,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        turns: SendTurns | None = None,
    ) -> None:
        self.name = name
        self.turns = turns
        self.clock = clock
        self.base_url = httpx.URL(base_url.rstrip("/") + "/")
        self.secrets = secrets
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(clock=clock)
        self._secret_values = secrets.values() if secrets else []
        register_secret(*self._secret_values)
        self._fingerprint = hashlib.sha256(
            "\0".join([secrets.username or "" if secrets else "", *self._secret_values]).encode()
        ).hexdigest()[:16]
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            timeout=(timeouts or Timeouts()).to_httpx(),
            headers={"User-Agent": "heatshield", "Accept": "application/json", **(headers or {})},
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            transport=transport,
            follow_redirects=False,
        )
        self._etags = EtagCache(etag_cache_size)
        self._inflight: dict[tuple[str, ...], asyncio.Task[httpx.Response]] = {}
        self._stats = _Stats()
        self.observer: CallObserver | None = None

    @classmethod
    def from_config(cls, config: ConnectorConfig, *,
                    environ: Mapping[str, str] | None = None,
                    transport: httpx.AsyncBaseTransport | None = None,
                    clock: Callable[[], float] = time.monotonic) -> UpstreamClient:
        """Build from an instance's settings, reading its secrets from the environment."""
        secrets = config.auth.resolve(environ)
        return cls(
            config.name,
            config.base_url,
            auth=auth_from_secrets(secrets),
            secrets=secrets,
            timeouts=Timeouts(connect=config.connect_timeout_seconds,
                              read=config.timeout_seconds, write=config.timeout_seconds),
            retry=RetryPolicy(max_retries=config.max_retries),
            breaker=CircuitBreaker(config.breaker_failures, config.breaker_cooldown_seconds,
                                   clock=clock),
            transport=transport,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"UpstreamClient(name={self.name!r}, base_url={str(self.base_url)!r})"

    @property
    def credential_fingerprint(self) -> str:
        """A short hash of the credentials, so caches keep users' answers apart."""
        return self._fingerprint

    def instrument(self, apply: Callable[[httpx.AsyncClient], object]) -> None:
        """Let the server wrap the pooled client (tracing) before its first call; the
        layer itself knows no tracer."""
        apply(self._client)

    @property
    def auth(self) -> httpx.Auth | None:
        return self._client.auth

    @auth.setter
    def auth(self, value: httpx.Auth | None) -> None:
        """Kinds with their own scheme (e.g. a login token) install it here."""
        self._client.auth = value  # type: ignore[assignment]  # httpx accepts None here

    async def __aenter__(self) -> UpstreamClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
        forget_secret(*self._secret_values)
        self._secret_values = []

    def health(self) -> HealthSnapshot:
        s = self._stats
        return HealthSnapshot(
            breaker=self.breaker.state,
            calls=s.calls,
            failures=s.failures,
            last_latency_ms=s.last_latency_ms,
            avg_latency_ms=s.avg_latency_ms,
            last_success_at=s.last_success_at,
            last_error_code=s.last_error.code if s.last_error else None,
            last_error_message=s.last_error.message if s.last_error else None,
            last_error_at=s.last_error_at,
        )

    # ------------------------------------------------------------------ public calls

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        etag_cache: bool = True,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """Send one logical call; see the class docstring for what raises."""
        accepted = frozenset(accept)
        method = method.upper()
        self._check_path(path)
        await self._turns().wait_free()
        request = self._client.build_request(method, path, params=params, json=json,
                                             data=data, headers=headers)
        self._check_origin(request)
        retryable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        use_cache = etag_cache and method == "GET" and "if-none-match" not in {
            k.lower() for k in (headers or {})}
        if method not in _DEDUPE_METHODS or json is not None or data is not None:
            return await self._logical_call(request, retryable, use_cache, accepted)

        # Callers accepting different statuses may not share one outcome.
        key = (*self._key(request), "accept:" + ",".join(map(str, sorted(accepted))))
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(
                self._logical_call(request, retryable, use_cache, accepted))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._forget_inflight(key, t))
        return await asyncio.shield(task)

    async def get_json(self, path: str, *, params: Mapping[str, Any] | None = None,
                       headers: Mapping[str, str] | None = None) -> Any:
        """GET a 2xx JSON body; any other status is a bad response."""
        response = await self.request("GET", path, params=params, headers=headers)
        if not response.is_success:
            raise self.unexpected(response)
        return self.json(response)

    def json(self, response: httpx.Response) -> Any:
        """Parse a body, turning invalid JSON into `UpstreamBadResponse`."""
        try:
            return response.json()
        except ValueError:
            raise self.note_error(UpstreamBadResponse(
                self.name, f"{response.request.method} {response.request.url.path}: "
                f"invalid JSON in a {response.status_code} response",
                status=response.status_code)) from None

    def unexpected(self, response: httpx.Response) -> UpstreamBadResponse:
        """An error for a status the connector did not expect, for it to raise."""
        return self.note_error(UpstreamBadResponse(
            self.name, f"{response.request.method} {response.request.url.path}: "
            f"unexpected status {response.status_code}", status=response.status_code))

    def note_error(self, error: E) -> E:
        """Count a failure the connector found in an answer the layer let through.

        It shows in health like the layer's own errors, and one that says the
        upstream is broken (`upstream_fault`: a bad payload) counts towards
        opening the breaker. Each error counts once, however often it is noted.
        Returns the error, for `raise self.http.note_error(...)`.
        """
        if error.recorded:
            return error
        self._note_error(error)
        # A refused request (400, 422: one bad key) says nothing about the upstream's health.
        if error.upstream_fault and not error.blames_request:
            self.breaker.record_bad_answer()
        return error

    # ------------------------------------------------------------------ internals

    def _check_origin(self, request: httpx.Request) -> None:
        """Absolute URLs (pagination links) must stay on our host: credentials go with them."""
        url, base = request.url, self.base_url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise UpstreamBadResponse(self.name, "refusing to follow a URL to another host")

    def _check_path(self, path: str) -> None:
        """A path built from data stays inside the API root; the token goes where it goes.

        Absolute URLs (pagination links, a configured GraphQL endpoint) are the
        upstream's or the operator's own and only need to stay on the host.
        """
        url = httpx.URL(path) if not has_control(path) else None
        if url is not None and url.is_absolute_url:
            return
        raw = path.partition("?")[0].partition("#")[0]
        if has_control(raw) or any(unquote(part) in (".", "..") for part in raw.split("/")):
            raise UnsafeRequest(self.name, "refusing a request path with a dot segment or a "
                                "control character")

    def _key(self, request: httpx.Request) -> tuple[str, ...]:
        varying = sorted(f"{k.lower()}:{v}" for k, v in request.headers.items()
                         if k.lower() in ("accept", "authorization", "accept-language"))
        return (request.method, str(request.url), self._fingerprint, *varying)

    def _forget_inflight(self, key: tuple[str, ...],
                         task: asyncio.Task[httpx.Response]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not reported twice

    def _backoff(self, exc: Exception) -> bool | float:
        """stamina hook: retry typed transient errors, waiting what the upstream asked."""
        if not isinstance(exc, UpstreamError) or not exc.retryable:
            return False
        wait = exc.retry_after
        if wait is None or wait <= 0:
            return True
        if wait > self.retry.max_retry_after:
            return False
        return wait + random.uniform(0, min(self.retry.wait_jitter, wait * 0.1))

    async def _logical_call(self, request: httpx.Request, retryable: bool,
                            use_cache: bool, accept: frozenset[int]) -> httpx.Response:
        cache_key = self._key(request) if use_cache else None
        try:
            if not retryable or self.retry.max_retries == 0:
                return await self._attempt(request, cache_key, accept)
            # Loaded by the first retryable call, not by every start (tenacity comes with it).
            import stamina

            _log_retries_ourselves()

            response: httpx.Response | None = None
            async for attempt in stamina.retry_context(
                on=self._backoff,
                attempts=self.retry.max_retries + 1,
                timeout=self.retry.total_timeout,
                wait_initial=self.retry.wait_initial,
                wait_max=self.retry.wait_max,
                wait_jitter=self.retry.wait_jitter,
            ):
                with attempt:
                    response = await self._attempt(request, cache_key, accept)
            assert response is not None
            return response
        except UpstreamError as error:
            self._note_error(error)
            raise

    def _note_error(self, error: UpstreamError) -> None:
        """Health bookkeeping only; the breaker saw the call's outcome already."""
        error.recorded = True
        self._stats.failures += 1
        self._stats.last_error = error
        self._stats.last_error_at = datetime.now(UTC)
        log.info("%s: %s", self.name, error.message)

    async def _attempt(self, request: httpx.Request, cache_key: tuple[str, ...] | None,
                       accept: frozenset[int]) -> httpx.Response:
        method, path = request.method, request.url.path
        if not self.breaker.allow():
            self._observe(CallOutcome.BREAKER_OPEN, None)
            error = UpstreamUnavailable(
                self.name, f"circuit open after repeated failures; next try in "
                f"{self.breaker.retry_in():.0f}s")
            error.retryable = False
            raise error
        cached = self._etags.get(cache_key) if cache_key else None
        if cached is not None:
            request.headers["If-None-Match"] = cached.etag
        turns = self._turns()
        started = time.monotonic()
        self._stats.calls += 1
        try:
            async with turns.turn(request):
                response = await self._client.send(request)
        except httpx.TimeoutException:
            self.breaker.record_failure()
            raise self._observed(UpstreamTimeout(self.name, f"{method} {path}: timed out"),
                                 started) from None
        except httpx.DecodingError:
            self.breaker.record_success()
            raise self._observed(UpstreamBadResponse(
                self.name, f"{method} {path}: undecodable body"), started) from None
        except httpx.RequestError as exc:
            self.breaker.record_failure()
            raise self._observed(UpstreamUnavailable(
                self.name, f"{method} {path}: {type(exc).__name__}"), started) from None
        except LoginFailed as exc:
            self.breaker.record_success()
            raise self._observed(UpstreamAuthFailed(self.name, f"login refused: {exc}"),
                                 started) from None
        except BaseException:
            self.breaker.release()
            raise
        finally:
            if cached is not None:
                request.headers.pop("If-None-Match", None)
        elapsed_ms = (time.monotonic() - started) * 1000
        self._stats.latency(elapsed_ms)
        status = response.status_code
        log.debug("%s %s %s -> %d in %.0f ms", self.name, method, path, status, elapsed_ms)
        if self.observer is not None:
            self._observe_earlier(response)
            try:
                classified = self._classify(response, cached, cache_key, accept)
            except UpstreamError as error:
                self.observer(self.name, outcome_of_error(error), elapsed_ms / 1000)
                raise
            self.observer(self.name, outcome_of_response(response, accept), elapsed_ms / 1000)
            return classified
        return self._classify(response, cached, cache_key, accept)

    def _turns(self) -> SendTurns:
        return self.turns or turns_for(asyncio.get_running_loop())

    def _observe(self, outcome: CallOutcome, seconds: float | None) -> None:
        if self.observer is not None:
            self.observer(self.name, outcome, seconds)

    def _observed(self, error: E, started: float) -> E:
        """Report a send that ended without an answer to read; returns the error to raise."""
        self._observe(outcome_of_error(error), time.monotonic() - started)
        return error

    def _observe_earlier(self, response: httpx.Response) -> None:
        """Exchanges an auth flow made before the answer (a login, a 401 that renewed the
        token) are calls to the upstream too. A login whose follow-up then fails to send
        is not seen: httpx drops it with the exception."""
        assert self.observer is not None
        for earlier in response.history:
            try:
                seconds: float | None = earlier.elapsed.total_seconds()
            except RuntimeError:  # never read to the end
                seconds = None
            self.observer(self.name, outcome_of_response(earlier), seconds)

    def _classify(self, response: httpx.Response, cached: Cached | None,
                  cache_key: tuple[str, ...] | None, accept: frozenset[int]) -> httpx.Response:
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}"
        if status in accept:  # the upstream answered on purpose; the caller reads it
            self.breaker.record_success()
            self._stats.last_success_at = datetime.now(UTC)
            return response
        if status >= 500:
            self.breaker.record_failure()
            error = UpstreamUnavailable(self.name, f"{where}: upstream answered {status}",
                                        status=status,
                                        retry_after=retry_after_seconds(response.headers))
            error.retryable = status in self.retry.statuses
            raise error
        self.breaker.record_success()
        self._stats.last_success_at = datetime.now(UTC)
        if is_rate_limited(response):
            raise UpstreamRateLimited(self.name, f"{where}: rate limited ({status})",
                                      status=status,
                                      retry_after=retry_after_seconds(response.headers))
        if status == 401:
            raise UpstreamAuthFailed(self.name, f"{where}: credentials refused (401)",
                                     status=status)
        if status == 403:
            raise UpstreamAuthFailed(self.name, f"{where}: permission denied (403)",
                                     status=status)
        if status == 304 and cached is not None:
            return httpx.Response(cached.status, headers=cached.headers, content=cached.content,
                                  request=response.request, extensions={FROM_CACHE: True})
        etag = response.headers.get("etag")
        if cache_key is not None and etag and status == 200:
            headers = [(k, v) for k, v in response.headers.items()
                       if k.lower() not in ("content-encoding", "content-length",
                                            "transfer-encoding", "set-cookie")]
            self._etags.put(cache_key, Cached(etag, status, headers, response.content))
        return response


_RETRIES_LOGGED = False


def _log_retries_ourselves() -> None:
    """Once per process, stamina's own retry log line ("stamina.retry_scheduled" at
    WARNING, naming neither the upstream nor the call) gives way to ours: the upstream,
    what failed and the wait, at INFO, like the failure that ends a call. Its Prometheus
    counter (`stamina_retries_total`) stays."""
    global _RETRIES_LOGGED
    if _RETRIES_LOGGED:
        return
    from stamina import instrumentation

    instrumentation.set_on_retry_hooks([instrumentation.PrometheusOnRetryHook, _log_retry])
    _RETRIES_LOGGED = True


def _log_retry(details: Any) -> None:
    error = details.caused_by
    if isinstance(error, UpstreamError):
        what = f"{error.source}: {error.message}"
    else:
        what = f"{type(error).__name__}: {error}"
    log.info("%s; retry %d in %.2f s", what, details.retry_num, details.wait_for)
