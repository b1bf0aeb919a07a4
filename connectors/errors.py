"""Typed upstream failures that the graph turns into partial results.

Every error names the connector instance (`source`) and carries a message
written for end users and logs: it never holds credentials, Authorization
headers or query strings, so it can be shown as-is in a GraphQL error.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    """The `extensions.code` values clients branch on."""

    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    UPSTREAM_RATE_LIMITED = "UPSTREAM_RATE_LIMITED"
    UPSTREAM_AUTH_FAILED = "UPSTREAM_AUTH_FAILED"
    UPSTREAM_BAD_RESPONSE = "UPSTREAM_BAD_RESPONSE"
    UPSTREAM_REFUSED = "UPSTREAM_REFUSED"


class UpstreamError(Exception):
    """An upstream call failed; `message` is safe to show anywhere."""

    code: ErrorCode = ErrorCode.UPSTREAM_UNAVAILABLE
    #: Whether repeating an idempotent call could succeed.
    retryable: bool = False
    #: Whether it says the upstream is broken (so it counts towards opening the
    #: circuit breaker), rather than that it answered deliberately (a refusal, a
    #: rate limit, refused credentials).
    upstream_fault: bool = True

    def __init__(
        self,
        source: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message
        self.status = status
        self.retry_after = retry_after
        #: Set once the HTTP layer has counted it in health, so it is counted once.
        self.recorded = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.source!r}, message={self.message!r})"

    def extensions(self) -> dict[str, Any]:
        """The GraphQL error `extensions` for this failure."""
        ext: dict[str, Any] = {"code": self.code.value, "source": self.source}
        if self.status is not None:
            ext["status"] = self.status
        if self.retry_after is not None:
            ext["retryAfter"] = round(self.retry_after, 3)
        return ext


class UpstreamUnavailable(UpstreamError):
    """Connection refused or reset, a 5xx, or this instance's breaker is open."""

    code = ErrorCode.UPSTREAM_UNAVAILABLE
    retryable = True


class UpstreamTimeout(UpstreamError):
    """The upstream did not connect or answer within the configured timeout."""

    code = ErrorCode.UPSTREAM_TIMEOUT
    retryable = True


class UpstreamRateLimited(UpstreamError):
    """The upstream asked us to slow down (429, or GitHub's 403 with no budget left)."""

    code = ErrorCode.UPSTREAM_RATE_LIMITED
    upstream_fault = False
    retryable = True


class UpstreamAuthFailed(UpstreamError):
    """Credentials were refused (401) or lack permission (403)."""

    code = ErrorCode.UPSTREAM_AUTH_FAILED
    upstream_fault = False


class UpstreamBadResponse(UpstreamError):
    """The upstream answered something we cannot use: bad JSON, wrong shape, odd status."""

    code = ErrorCode.UPSTREAM_BAD_RESPONSE


class UpstreamRefused(UpstreamError):
    """The upstream understood a write and declined it (e.g. an ITSM refused a transition)."""

    code = ErrorCode.UPSTREAM_REFUSED
    upstream_fault = False


class ConnectorConfigError(ValueError):
    """Configuration cannot produce a working connector (unknown kind, missing secret)."""
