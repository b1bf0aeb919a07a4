"""What the HTTP layer tells an observer about each exchange, so the server can count calls
without the connectors knowing about metrics.

An observer is a plain callable `(source, outcome, seconds)`; `seconds` is None when
nothing was sent (the breaker was open). The outcomes are a closed set, so whoever
turns them into labels has a bounded vocabulary.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection

import httpx

from connectors.errors import ErrorCode, UpstreamError
from connectors.http.policy import is_rate_limited


class CallOutcome(enum.StrEnum):
    OK = "ok"
    #: A 4xx the connector reads itself (400, 404, 409, 422 ...).
    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"
    BAD_RESPONSE = "bad_response"
    #: Not sent: the circuit breaker is open.
    BREAKER_OPEN = "breaker_open"


CallObserver = Callable[[str, CallOutcome, float | None], None]

_BY_CODE = {
    ErrorCode.UPSTREAM_TIMEOUT: CallOutcome.TIMEOUT,
    ErrorCode.UPSTREAM_UNAVAILABLE: CallOutcome.UNAVAILABLE,
    ErrorCode.UPSTREAM_RATE_LIMITED: CallOutcome.RATE_LIMITED,
    ErrorCode.UPSTREAM_AUTH_FAILED: CallOutcome.AUTH_FAILED,
    ErrorCode.UPSTREAM_BAD_RESPONSE: CallOutcome.BAD_RESPONSE,
    ErrorCode.UPSTREAM_REFUSED: CallOutcome.REFUSED,
}


def outcome_of_error(error: UpstreamError) -> CallOutcome:
    return _BY_CODE.get(error.code, CallOutcome.BAD_RESPONSE)


def outcome_of_response(response: httpx.Response, accept: Collection[int] = ()
                        ) -> CallOutcome:
    """The outcome of an answered exchange, by the rules `UpstreamClient` classifies with."""
    status = response.status_code
    if status in accept:
        return CallOutcome.OK
    if status >= 500:
        return CallOutcome.UNAVAILABLE
    if is_rate_limited(response):
        return CallOutcome.RATE_LIMITED
    if status in (401, 403):
        return CallOutcome.AUTH_FAILED
    if status >= 400:
        return CallOutcome.REFUSED
    return CallOutcome.OK
