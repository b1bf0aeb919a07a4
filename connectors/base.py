"""The `Connector` base class, plus every canonical record and protocol (re-exported).

Records and protocols live in `connectors.records`, which does no I/O, so the
rules in `api/domain` can use them without pulling in the HTTP layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Self

from connectors.config import ConnectorConfig
from connectors.errors import BadLinkKey
from connectors.http import UpstreamClient, has_control
from connectors.records import (
    Answer,
    ApprovalState,
    BatchRead,
    BatchSource,
    BreakerState,
    Capability,
    ChangeDraft,
    ChangePatch,
    ChangePoller,
    ChangeRecord,
    ChangeSource,
    ChangeState,
    ChangeType,
    Deployment,
    DeploymentSource,
    DeploymentsRead,
    DeploymentState,
    E,
    IncidentRecord,
    IncidentSource,
    LinkKind,
    LinkRef,
    MergedWorkSource,
    PullRequest,
    Records,
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
    WorkItemsRead,
    WorkStatus,
    map_status,
)

__all__ = [
    "Answer",
    "ApprovalState",
    "BatchRead",
    "BatchSource",
    "BreakerState",
    "Capability",
    "ChangeDraft",
    "ChangePatch",
    "ChangePoller",
    "ChangeRecord",
    "ChangeSource",
    "ChangeState",
    "ChangeType",
    "Connector",
    "Deployment",
    "DeploymentSource",
    "DeploymentState",
    "DeploymentsRead",
    "E",
    "IncidentRecord",
    "IncidentSource",
    "KindProfile",
    "LinkKind",
    "LinkRef",
    "MergedWorkSource",
    "PullRequest",
    "Records",
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
    "WorkItemsRead",
    "WorkStatus",
    "map_status",
]


# --------------------------------------------------------------------------- connector

# The canonical record classes a kind may give its own graph type name: the keys of
# `Connector.graph_types`. A record of a shape the kind names nothing for is shown
# under the graph's neutral type for that shape.
GRAPH_SHAPES = ("TrackerIssue", "RepositoryIssue", "PullRequest", "ChangeRequest")


@dataclass(frozen=True, slots=True)
class KindProfile:
    """What a connector kind declares about itself: product name, capabilities, graph types.

    Read from the class, so the graph and the dashboard learn a kind from the kind
    and keep no list of kinds of their own.
    """

    kind: str
    product: str
    capabilities: frozenset[Capability] = frozenset()
    graph_types: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, connector: type[Connector]) -> KindProfile:
        return cls(kind=connector.kind, product=connector.product or connector.kind,
                   capabilities=frozenset(connector.capabilities),
                   graph_types=dict(connector.graph_types))



class Connector:
    """A configured instance of a kind; subclasses add one or more source protocols.

    It owns its `UpstreamClient`, so the app's lifespan closes both through
    `aclose()`. The entry point of a kind names the subclass (or any callable
    with the signature of `from_settings`).
    """

    kind: ClassVar[str] = ""
    # The product's own name, as people say it ("ServiceNow"); the kind when empty.
    product: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # Canonical record class name (one of GRAPH_SHAPES) -> the graph type this kind
    # registers for it, e.g. {"ChangeRequest": "ServiceNowChange"}.
    graph_types: ClassVar[Mapping[str, str]] = {}

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

    # ------------------------------------------------------------------ link keys

    def parse_link(self, kind: LinkKind, key: str) -> str:
        """The canonical form of a link key of `kind`, or `BadLinkKey` saying what is wrong.

        The one place a kind's key format lives: `linkSource` refuses what this
        refuses, and reads answer an old row it refuses with that error instead
        of sending it upstream. Kinds override it; this default takes any
        printable key, for kinds that bring no format of their own.
        """
        return self.plain_key(key)

    def plain_key(self, key: str) -> str:
        """`key` without surrounding blanks; empty or with control characters is refused."""
        text = key.strip()
        if not text:
            raise BadLinkKey(self.name, key, "is empty")
        if has_control(text):
            raise BadLinkKey(self.name, key, "contains a control character")
        return text

    def wrong_kind(self, kind: LinkKind, key: str) -> BadLinkKey:
        return BadLinkKey(self.name, key, f"cannot be a {kind.value} link: a "
                          f"{self.settings.kind} source has none")

    def code_ref(self, kind: LinkKind, key: str) -> tuple[str, str] | None:
        """(repository, ref) that a link names in code, to match deployments; None when
        the link names no code (or is invalid)."""
        return None

    def canonical(self, raw: str, defaults: Mapping[str, E], fallback: E) -> E:
        """`map_status` with this instance's `status_map` overrides."""
        return map_status(raw, defaults, self.settings.status_map, fallback)

    async def aclose(self) -> None:
        await self.http.aclose()
