"""When to wait, retry or stop calling: timeouts, the retry policy, the circuit breaker,
and how long an upstream asks us to wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from connectors.records import BreakerState

#: Methods whose repetition changes nothing more: the only ones retried unasked.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


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
        #: Told when this breaker opens (True) or closes (False) on its own calls' outcomes,
        #: so the server can tell its other replicas (api/shared_state.py); never told of
        #: what `adopt` sets.
        self.listener: Callable[[bool], None] | None = None

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
        was_open = self._opened_at is not None
        self._before_success = (self._failures, self._opened_at)
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False
        if was_open:
            self._tell(False)

    def record_failure(self) -> None:
        self._before_success = None
        if self._trial_in_flight or self._opened_at is not None:
            self._opened_at = self._clock()
            self._trial_in_flight = False
            self._tell(True)
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._tell(True)

    def adopt(self, open_for: float) -> None:
        """Take a state another replica saw: open for `open_for` more seconds, or (0)
        closed. The listener is not told: what was heard is not said again."""
        self._trial_in_flight = False
        self._before_success = None
        if open_for > 0:
            self._failures = max(self._failures, self.failure_threshold)
            self._opened_at = self._clock() - self.cooldown_seconds + min(
                open_for, self.cooldown_seconds)
        else:
            self._failures = 0
            self._opened_at = None

    def _tell(self, opened: bool) -> None:
        if self.listener is not None:
            self.listener(opened)

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


def is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    # GitHub signals an exhausted primary budget with 403 and remaining 0.
    return response.status_code == 403 and (
        response.headers.get("x-ratelimit-remaining") == "0"
        or "retry-after" in response.headers
    )
