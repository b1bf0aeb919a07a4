"""Typed upstream failures that the graph turns into partial results.

Every error names the connector instance (`source`) and carries a message
written for end users and logs: it never holds credentials, Authorization
headers or query strings, so it can be shown as-is in a GraphQL error.
"""

from __future__ import annotations

import enum
from typing import Any, Self


class ErrorCode(enum.StrEnum):
    """The `extensions.code` values clients branch on."""

    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    UPSTREAM_RATE_LIMITED = "UPSTREAM_RATE_LIMITED"
    UPSTREAM_AUTH_FAILED = "UPSTREAM_AUTH_FAILED"
    UPSTREAM_BAD_RESPONSE = "UPSTREAM_BAD_RESPONSE"
    UPSTREAM_REFUSED = "UPSTREAM_REFUSED"
    BAD_LINK_KEY = "BAD_LINK_KEY"


class UpstreamError(Exception):
    """An upstream call failed; `message` is safe to show anywhere."""

    code: ErrorCode = ErrorCode.UPSTREAM_UNAVAILABLE
    #: Whether repeating an idempotent call could succeed.
    retryable: bool = False
    #: Whether it says the upstream is broken (so it counts towards opening the
    #: circuit breaker), rather than that it answered deliberately (a refusal, a
    #: rate limit, refused credentials).
    upstream_fault: bool = True
    #: Whether it is the upstream's last word on the key (the record is gone): an older
    #: copy kept for outages must not stand in for it.
    final: bool = False

    def __init__(
        self,
        source: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message
        self.status = status
        self.retry_after = retry_after
        #: The one key (link key, change number, record key) the failure is tied to, if any.
        self.key = key
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
        if self.key is not None:
            ext["key"] = self.key
        return ext

    @property
    def blames_request(self) -> bool:
        """Whether the upstream refused what was asked (400, 413, 414, 422) rather than
        failing: a smaller batch, without the key at fault, may then succeed."""
        return self.status in (400, 413, 414, 422)

    def for_key(self, key: str) -> Self:
        """The same failure, tied to one key (named in the message too)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.key = key
        if key not in self.message:
            clone.message = f"{self.message} (key {key!r})"
        Exception.__init__(clone, f"{clone.source}: {clone.message}")
        return clone


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


class BadLinkKey(UpstreamError):
    """A link key its kind cannot name: refused when linked, reported for old rows.

    Nothing is sent upstream for such a key, so it never counts against the
    source's health; the message quotes the key (escaped) and says what is wrong.
    """

    code = ErrorCode.BAD_LINK_KEY
    upstream_fault = False

    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(source, f"link key {key!r} {reason}", key=key)
        self.reason = reason


class LinkTargetMissing(UpstreamError):
    """A well-formed link key the upstream says names nothing (deleted, renamed, or hidden
    from this connector's account): the link's work is unknown, not empty, so nothing
    that counts it (readiness, the blocker gate) may read it as "none"."""

    code = ErrorCode.BAD_LINK_KEY
    upstream_fault = False
    final = True


class UnsafeRequest(UpstreamError):
    """A request built from data would leave the upstream's API (a dot segment, a
    control character): refused before it is sent, credentials and all."""

    code = ErrorCode.BAD_LINK_KEY
    upstream_fault = False

    @property
    def blames_request(self) -> bool:
        return True


class ConnectorConfigError(ValueError):
    """Configuration cannot produce a working connector (unknown kind, missing secret)."""
