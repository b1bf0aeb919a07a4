"""The one HTTP layer every connector talks through.

One pooled `httpx.AsyncClient` per connector instance, opened and closed by
the app's lifespan. Around it: timeouts; retries of idempotent calls (stamina)
whose waits obey `Retry-After` and rate-limit reset headers; ETag revalidation;
a circuit breaker; de-duplication of identical in-flight GETs; and health
bookkeeping for `Query.sources`. Failures surface as `connectors.errors` types
whose messages hold no secret, no Authorization header and no query string.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import random
import time
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import (
    AsyncGenerator,
    Callable,
    Collection,
    Generator,
    Iterable,
    Mapping,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import httpx
import stamina
from pydantic import SecretStr

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
from connectors.records import BreakerState

log = logging.getLogger("heatshield.connectors.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_DEDUPE_METHODS = frozenset({"GET", "HEAD"})
_FROM_CACHE = "heatshield.from_etag_cache"
E = TypeVar("E", bound=UpstreamError)


# --------------------------------------------------------------------------- paths


def has_control(text: str) -> bool:
    """Control, format (bidi overrides, zero-width) and line/paragraph separator characters."""
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def segment(value: str) -> str:
    """One URL path segment from data (a key, a name), percent-encoded whole.

    `/` is encoded too, so a value stays one segment; `.` and `..`, which
    would walk the path, and control characters are refused with ValueError.
    """
    if value in ("", ".", "..") or has_control(value):
        raise ValueError(f"{value!r} cannot be a URL path segment")
    return quote(value, safe="")


def api_path(*segments: str) -> str:
    """A relative path of literal words and already-`segment`ed parts, checked once more."""
    path = "/".join(segments)
    for part in path.split("/"):
        if unquote(part) in (".", ".."):
            raise ValueError("a URL path must not have dot segments")
    return path


# --------------------------------------------------------------------------- redaction


class _SecretScrubber(logging.Filter):
    """Replace known secret values in log records: a net under the rule of never logging them.

    Logger filters only see records logged to that exact logger, so it is attached
    to each logger that may format request data (ours, httpx, httpcore, stamina).
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: Counter[str] = Counter()

    def add(self, values: Iterable[str]) -> None:
        self._secrets.update(v for v in values if v)

    def discard(self, values: Iterable[str]) -> None:
        self._secrets.subtract(v for v in values if v)
        self._secrets = +self._secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return True
        if any(s in message for s in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


_SCRUBBER = _SecretScrubber()
for _name in ("heatshield", "heatshield.connectors.http", "httpx", "httpcore",
              "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
              "stamina"):
    logging.getLogger(_name).addFilter(_SCRUBBER)


def register_secret(*values: str) -> None:
    """Have log redaction scrub these values (for tokens obtained at runtime)."""
    _SCRUBBER.add(values)


def forget_secret(*values: str) -> None:
    """Undo `register_secret` once a credential is dropped."""
    _SCRUBBER.discard(values)


# --------------------------------------------------------------------------- auth


class BasicAuth(httpx.Auth):
    """HTTP Basic; the encoded header is kept in a `SecretStr` so reprs stay clean."""

    def __init__(self, username: str, password: SecretStr) -> None:
        raw = f"{username}:{password.get_secret_value()}".encode()
        encoded = base64.b64encode(raw).decode("ascii")
        self._header = SecretStr(f"Basic {encoded}")
        register_secret(encoded)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header.get_secret_value()
        yield request


class BearerAuth(httpx.Auth):
    """`Authorization: <scheme> <token>` (Bearer by default)."""

    def __init__(self, token: SecretStr, scheme: str = "Bearer") -> None:
        self._header = SecretStr(f"{scheme} {token.get_secret_value()}")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header.get_secret_value()
        yield request


class LoginFailed(Exception):
    """A `LoginTokenAuth` login was refused; the message must be safe to show."""


class LoginTokenAuth(httpx.Auth):
    """Hook for session-token schemes: log in, send the token, log in again on a 401.

    A kind subclasses it with its login request, how to read the token from the
    login response, and how to put the token on a request; it may override
    `current_token` to expire a token early and `remember` to note when it got one.
    In async clients one login is in flight at a time: concurrent first calls
    wait for it and share its token, and a 401 renews the token once, unless
    another caller already renewed it.
    """

    requires_response_body = True

    def __init__(self) -> None:
        self._token: SecretStr | None = None
        self._lock = asyncio.Lock()
        #: Logins made so far (renewals included).
        self.logins = 0

    def login_request(self) -> httpx.Request:
        raise NotImplementedError

    def token_from(self, response: httpx.Response) -> str:
        """Extract the token; raise `LoginFailed` when the login was refused."""
        raise NotImplementedError

    def apply(self, request: httpx.Request, token: str) -> None:
        raise NotImplementedError

    def current_token(self) -> str | None:
        """The token to send, or None when a login is needed first."""
        return None if self._token is None else self._token.get_secret_value()

    def remember(self, token: str) -> None:
        """Keep a fresh token, replacing (and un-registering) the old one."""
        self.drop()
        register_secret(token)
        self._token = SecretStr(token)
        self.logins += 1

    def drop(self) -> None:
        """Forget the token (after a logout, or before a new one replaces it)."""
        if self._token is not None:
            forget_secret(self._token.get_secret_value())
        self._token = None

    def _login(self) -> Generator[httpx.Request, httpx.Response, str]:
        response = yield self.login_request()
        token = self.token_from(response)
        self.remember(token)
        return token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The synchronous flow (sync clients have no concurrent first calls to share)."""
        token = self.current_token() or (yield from self._login())
        self.apply(request, token)
        response = yield request
        if response.status_code == 401:
            token = yield from self._login()
            self.apply(request, token)
            yield request

    async def async_auth_flow(self, request: httpx.Request
                              ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = self.current_token()
        if token is None:
            async with self._lock:
                token = self.current_token()
                if token is None:
                    login = yield self.login_request()
                    token = await self._stored(login)
        self.apply(request, token)
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            fresh = self.current_token()
            if fresh is None or fresh == token:
                login = yield self.login_request()
                fresh = await self._stored(login)
        self.apply(request, fresh)
        yield request

    async def _stored(self, response: httpx.Response) -> str:
        await response.aread()
        token = self.token_from(response)
        self.remember(token)
        return token


def auth_from_secrets(secrets: AuthSecrets) -> httpx.Auth | None:
    """The standard schemes; `None` for none, and for kinds that install their own (ar-jwt)."""
    if secrets.type == "basic":
        password = secrets.password or secrets.token
        assert secrets.username is not None and password is not None  # config validated
        return BasicAuth(secrets.username, password)
    if secrets.type in ("token", "bearer"):
        assert secrets.token is not None  # config validated
        return BearerAuth(secrets.token)
    return None


# --------------------------------------------------------------------------- policies


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    read: float = 10.0
    write: float = 10.0
    pool: float = 5.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write,
                             pool=self.pool)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries apply to idempotent calls only; a POST is never repeated behind the caller."""

    max_retries: int = 3
    wait_initial: float = 0.2
    wait_max: float = 5.0
    wait_jitter: float = 0.5
    #: A server asking for a longer pause than this gets a rate-limit error instead.
    max_retry_after: float = 30.0
    #: Give up retrying once this much time has passed in total.
    total_timeout: float = 60.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})


class CircuitBreaker:
    """Stops calling an upstream that keeps failing, and probes it again after a cool-down.

    Closed -> open after `failure_threshold` consecutive failures; open -> half-open
    once `cooldown_seconds` have passed, letting a single trial call through;
    the trial's success closes it, its failure opens it again.
    """

    def __init__(self, failure_threshold: int = 5, cooldown_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        # What the last success replaced, so a bad answer can take it back.
        self._before_success: tuple[int, float | None] | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_in(self) -> float:
        """Seconds until the next trial call is allowed (0 when not open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown_seconds - self._clock())

    def allow(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._before_success = (self._failures, self._opened_at)
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._before_success = None
        if self._trial_in_flight or self._opened_at is not None:
            self._opened_at = self._clock()
            self._trial_in_flight = False
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self._clock()

    def record_bad_answer(self) -> None:
        """An answer counted as a success proved unusable (a bad payload): take the
        success back and count a failure, so repeated bad answers open the breaker
        and a half-open trial that got one reopens it."""
        if self._before_success is not None:
            self._failures, self._opened_at = self._before_success
            self._before_success = None
        self.record_failure()

    def release(self) -> None:
        """An allowed call ended with no verdict (cancelled); free the trial slot."""
        self._trial_in_flight = False


# --------------------------------------------------------------------------- header rules


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float | None:
    """How long the upstream asks us to wait, from `Retry-After` or `X-RateLimit-Reset`.

    `Retry-After` is seconds or an HTTP date; `X-RateLimit-Reset` is epoch
    seconds (GitHub, ServiceNow) or an ISO-8601 instant (JIRA Cloud).
    """
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            try:
                moment = datetime.fromisoformat(reset)
            except ValueError:
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return max(0.0, moment.timestamp() - now)
    return None


def _is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    # GitHub signals an exhausted primary budget with 403 and remaining 0.
    return response.status_code == 403 and (
        response.headers.get("x-ratelimit-remaining") == "0"
        or "retry-after" in response.headers
    )


def from_etag_cache(response: httpx.Response) -> bool:
    """Whether this response was served from the ETag cache after a 304."""
    return bool(response.extensions.get(_FROM_CACHE))


# --------------------------------------------------------------------------- bookkeeping


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


@dataclass(frozen=True, slots=True)
class _Cached:
    etag: str
    status: int
    headers: list[tuple[str, str]]
    content: bytes


@dataclass(slots=True)
class _EtagCache:
    """Bounded LRU of validated bodies, keyed by URL, params, credential and headers."""

    max_entries: int = 512
    _entries: OrderedDict[tuple[str, ...], _Cached] = field(default_factory=OrderedDict)

    def get(self, key: tuple[str, ...]) -> _Cached | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[str, ...], entry: _Cached) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


# --------------------------------------------------------------------------- the client


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
    ) -> None:
        self.name = name
        self.base_url = httpx.URL(base_url.rstrip("/") + "/")
        self.secrets = secrets
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
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
        self._etags = _EtagCache(etag_cache_size)
        self._inflight: dict[tuple[str, ...], asyncio.Task[httpx.Response]] = {}
        self._stats = _Stats()

    @classmethod
    def from_config(cls, config: ConnectorConfig, *,
                    environ: Mapping[str, str] | None = None,
                    transport: httpx.AsyncBaseTransport | None = None) -> UpstreamClient:
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
            breaker=CircuitBreaker(config.breaker_failures, config.breaker_cooldown_seconds),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"UpstreamClient(name={self.name!r}, base_url={str(self.base_url)!r})"

    @property
    def credential_fingerprint(self) -> str:
        """A short hash of the credentials, so caches keep users' answers apart."""
        return self._fingerprint

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
            error = UpstreamUnavailable(
                self.name, f"circuit open after repeated failures; next try in "
                f"{self.breaker.retry_in():.0f}s")
            error.retryable = False
            raise error
        cached = self._etags.get(cache_key) if cache_key else None
        if cached is not None:
            request.headers["If-None-Match"] = cached.etag
        started = time.monotonic()
        self._stats.calls += 1
        try:
            response = await self._client.send(request)
        except httpx.TimeoutException:
            self.breaker.record_failure()
            raise UpstreamTimeout(self.name, f"{method} {path}: timed out") from None
        except httpx.DecodingError:
            self.breaker.record_success()
            raise UpstreamBadResponse(self.name, f"{method} {path}: undecodable body") from None
        except httpx.RequestError as exc:
            self.breaker.record_failure()
            raise UpstreamUnavailable(
                self.name, f"{method} {path}: {type(exc).__name__}") from None
        except LoginFailed as exc:
            self.breaker.record_success()
            raise UpstreamAuthFailed(self.name, f"login refused: {exc}") from None
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
        return self._classify(response, cached, cache_key, accept)

    def _classify(self, response: httpx.Response, cached: _Cached | None,
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
        if _is_rate_limited(response):
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
                                  request=response.request, extensions={_FROM_CACHE: True})
        etag = response.headers.get("etag")
        if cache_key is not None and etag and status == 200:
            headers = [(k, v) for k, v in response.headers.items()
                       if k.lower() not in ("content-encoding", "content-length",
                                            "transfer-encoding", "set-cookie")]
            self._etags.put(cache_key, _Cached(etag, status, headers, response.content))
        return response
