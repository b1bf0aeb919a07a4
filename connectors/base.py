"""The `Connector` base class, plus every canonical record and protocol (re-exported).

Records and protocols live in `connectors.records`, which does no I/O, so the
rules in `api/domain` can use them without pulling in the HTTP layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

from connectors.config import ConnectorConfig
from connectors.http import UpstreamClient
from connectors.records import (
    ApprovalState,
    BreakerState,
    ChangeDraft,
    ChangePatch,
    ChangeRecord,
    ChangeSource,
    ChangeState,
    ChangeType,
    Deployment,
    DeploymentSource,
    DeploymentState,
    E,
    LinkKind,
    LinkRef,
    PullRequest,
    RepositoryIssue,
    RiskLevel,
    SourceHealth,
    SourceStatus,
    TimeWindow,
    TrackerIssue,
    VersionRef,
    VersionSource,
    WorkItem,
    WorkItemSource,
    WorkStatus,
    map_status,
)

__all__ = [
    "ApprovalState",
    "BreakerState",
    "ChangeDraft",
    "ChangePatch",
    "ChangeRecord",
    "ChangeSource",
    "ChangeState",
    "ChangeType",
    "Connector",
    "Deployment",
    "DeploymentSource",
    "DeploymentState",
    "E",
    "LinkKind",
    "LinkRef",
    "PullRequest",
    "RepositoryIssue",
    "RiskLevel",
    "SourceHealth",
    "SourceStatus",
    "TimeWindow",
    "TrackerIssue",
    "VersionRef",
    "VersionSource",
    "WorkItem",
    "WorkItemSource",
    "WorkStatus",
    "map_status",
]


# --------------------------------------------------------------------------- connector


class Connector:
    """A configured instance of a kind; subclasses add one or more source protocols.

    It owns its `UpstreamClient`, so the app's lifespan closes both through
    `aclose()`. The entry point of a kind names the subclass (or any callable
    with the signature of `from_settings`).
    """

    kind: ClassVar[str] = ""

    def __init__(self, settings: ConnectorConfig, http: UpstreamClient) -> None:
        self.settings = settings
        self.http = http

    @property
    def name(self) -> str:
        return self.settings.name

    @classmethod
    def from_settings(cls, settings: ConnectorConfig, http: UpstreamClient) -> Self:
        return cls(settings, http)

    async def health(self) -> SourceHealth:
        """The recorded health; kinds may refresh it with a live probe first (for the CLI or
        a background check, never per request)."""
        return self.recorded_health()

    def recorded_health(self) -> SourceHealth:
        """From the HTTP layer's bookkeeping (breaker, last error, latency): no I/O, so a
        hung upstream cannot hold whoever asks how it is doing."""
        snap = self.http.health()
        if snap.breaker is not BreakerState.CLOSED:
            status = SourceStatus.DOWN
        elif snap.calls == 0:
            status = SourceStatus.UNKNOWN
        elif snap.last_error_at and (snap.last_success_at is None
                                     or snap.last_error_at > snap.last_success_at):
            status = SourceStatus.DEGRADED
        else:
            status = SourceStatus.UP
        return SourceHealth(
            name=self.name,
            kind=self.settings.kind,
            status=status,
            breaker=snap.breaker,
            calls=snap.calls,
            failures=snap.failures,
            latency_ms=snap.avg_latency_ms,
            last_success_at=snap.last_success_at,
            last_error_code=snap.last_error_code,
            last_error_message=snap.last_error_message,
            last_error_at=snap.last_error_at,
        )

    def canonical(self, raw: str, defaults: Mapping[str, E], fallback: E) -> E:
        """`map_status` with this instance's `status_map` overrides."""
        return map_status(raw, defaults, self.settings.status_map, fallback)

    async def aclose(self) -> None:
        await self.http.aclose()
