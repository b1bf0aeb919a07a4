"""Federated types: work items, change requests, deployments and the sources they come from.

These are read live through the hub; the classes here only shape canonical
connector records for the graph. Each record keeps the upstream's own word
(`statusLabel`, `stateLabel`) beside the canonical one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from api.schema.context import Info
from api.schema.ids import encode_cursor, to_global_key
from api.schema.node import Node, PageInfo
from connectors import base as c
from connectors.base import Connector, KindProfile
from connectors.records import BreakerState

if TYPE_CHECKING:
    from api.schema.types import Release

strawberry.enum(c.WorkStatus, description="Canonical work status: TODO, IN_PROGRESS, DONE.")
strawberry.enum(c.ChangeState, description="Canonical, ITSM-neutral change state.")
strawberry.enum(c.ChangeType)
strawberry.enum(c.RiskLevel)
strawberry.enum(c.ApprovalState)
strawberry.enum(c.DeploymentState)
strawberry.enum(c.SourceStatus)
strawberry.enum(BreakerState, name="BreakerState")
strawberry.enum(c.Capability, description="What a connector kind does for a release.")


@strawberry.type(description="A configured connector instance and how it is doing.")
class Source:
    name: str
    kind: str
    product: str = strawberry.field(
        description="The upstream product's name as people say it, declared by its kind.")
    capabilities: list[c.Capability] = strawberry.field(
        description="What this source does for a release, declared by its kind.")
    status: c.SourceStatus
    breaker: BreakerState
    calls: int
    failures: int
    latency_ms: float | None
    last_success_at: datetime | None
    last_error_code: str | None
    last_error: str | None
    last_error_at: datetime | None

    @classmethod
    def of(cls, connector: Connector) -> Source:
        health = connector.recorded_health()
        profile = KindProfile.of(type(connector))
        return cls(name=health.name, kind=health.kind, product=profile.product,
                   capabilities=sorted(profile.capabilities, key=lambda cap: cap.value),
                   status=health.status,
                   breaker=health.breaker, calls=health.calls, failures=health.failures,
                   latency_ms=health.latency_ms, last_success_at=health.last_success_at,
                   last_error_code=health.last_error_code.value if health.last_error_code
                   else None,
                   last_error=health.last_error_message, last_error_at=health.last_error_at)


async def source_named(info: Info, name: str) -> Source:
    connector = info.context.hub.connectors.get(name)
    if connector is None:
        return Source(name=name, kind="unknown", product=name, capabilities=[],
                      status=c.SourceStatus.UNKNOWN,
                      breaker=BreakerState.CLOSED, calls=0, failures=0, latency_ms=None,
                      last_success_at=None, last_error_code=None, last_error=None,
                      last_error_at=None)
    return Source.of(connector)


class _TypedByItsObject:
    """Every object the graph returns of these types is an instance of one concrete
    Strawberry type, so its type is read off the object: Strawberry's general resolvers
    (cast lookups, possible-type sets) cost a measurable share of a list of thousands."""

    @classmethod
    def resolve_type(cls, obj: Any, info: Any, abstract_type: Any) -> str:
        return obj.__strawberry_definition__.name  # type: ignore[no-any-return]

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, cls)


@strawberry.interface(description="A unit of work in a tracker or code host.")
class WorkItem(_TypedByItsObject, Node):
    source_name: strawberry.Private[str]
    key: str
    title: str
    url: str
    status: c.WorkStatus
    status_label: str = strawberry.field(description="The upstream system's own word.")
    kind: str
    assignee: str | None
    updated_at: datetime

    @strawberry.field
    async def source(self, info: Info) -> Source:
        return await source_named(info, self.source_name)


def _work_fields(item: c.WorkItem, type_name: str) -> dict[str, object]:
    return {"id": strawberry.ID(to_global_key(type_name, f"{item.source}:{item.key}")),
            "source_name": item.source, "key": item.key, "title": item.title, "url": item.url,
            "status": item.status, "status_label": item.status_label, "kind": item.kind,
            "assignee": item.assignee, "updated_at": item.updated_at}


# Graph types per record shape (`connectors.base.GRAPH_SHAPES`). A kind picks its
# type by name through `Connector.graph_types`; a kind that names none, or a name
# this graph does not hold, gets the neutral type of the shape (listed first).


@strawberry.type(description="A work item of a kind that says nothing more about it than "
                             "every work item has.")
class GenericWorkItem(WorkItem):
    pass


@strawberry.type(description="An issue in a tracker whose kind registers no type of its own.")
class GenericIssue(WorkItem):
    issue_type: str
    priority: str | None
    fix_versions: list[str]


@strawberry.type
class JiraIssue(WorkItem):
    issue_type: str
    priority: str | None
    fix_versions: list[str]


@strawberry.type(description="An issue of a code host whose kind registers no type of its "
                             "own.")
class GenericRepositoryIssue(WorkItem):
    repository: str
    number: int
    milestone: str | None


@strawberry.type
class GitHubIssue(WorkItem):
    repository: str
    number: int
    milestone: str | None


@strawberry.type(description="A proposed code change (a pull or merge request) whose kind "
                             "registers no type of its own.")
class GenericCodeChange(WorkItem):
    repository: str
    number: int
    milestone: str | None
    merged: bool
    merged_at: datetime | None
    base_ref: str | None


@strawberry.type
class GitHubPullRequest(WorkItem):
    repository: str
    number: int
    milestone: str | None
    merged: bool
    merged_at: datetime | None
    base_ref: str | None


GRAPH_TYPES: dict[str, tuple[type, ...]] = {
    "WorkItem": (GenericWorkItem,),
    "TrackerIssue": (GenericIssue, JiraIssue),
    "RepositoryIssue": (GenericRepositoryIssue, GitHubIssue),
    "PullRequest": (GenericCodeChange, GitHubPullRequest),
}


def graph_type(info: Info, source: str, shape: str) -> type:
    """The graph type for a record of `shape` from `source`: its kind's, else the neutral."""
    connector = info.context.hub.connectors.get(source)
    kind = type(connector) if connector else None
    known = _KIND_TYPES.get((kind, shape))
    if known is None:
        neutral, *named = GRAPH_TYPES[shape]
        wanted = kind.graph_types.get(shape) if kind else None
        known = _KIND_TYPES[(kind, shape)] = next(
            (t for t in named if t.__name__ == wanted), neutral)
    return known


# (connector class, shape) -> graph type, found once: a list asks for each of its items.
_KIND_TYPES: dict[tuple[type[Connector] | None, str], type] = {}


def work_item(info: Info, item: c.WorkItem) -> WorkItem:
    if isinstance(item, c.PullRequest):
        code = graph_type(info, item.source, "PullRequest")
        return code(**_work_fields(item, code.__name__), repository=item.repository,  # type: ignore[no-any-return]
                    number=item.number, milestone=item.milestone, merged=item.merged,
                    merged_at=item.merged_at, base_ref=item.base_ref)
    if isinstance(item, c.RepositoryIssue):
        issue = graph_type(info, item.source, "RepositoryIssue")
        return issue(**_work_fields(item, issue.__name__), repository=item.repository,  # type: ignore[no-any-return]
                     number=item.number, milestone=item.milestone)
    if isinstance(item, c.TrackerIssue):
        tracked = graph_type(info, item.source, "TrackerIssue")
        return tracked(**_work_fields(item, tracked.__name__), issue_type=item.issue_type,  # type: ignore[no-any-return]
                       priority=item.priority, fix_versions=list(item.versions))
    plain = graph_type(info, item.source, "WorkItem")
    return plain(**_work_fields(item, plain.__name__))  # type: ignore[no-any-return]


def _edge_cursor(root: Any) -> str:
    """An edge's cursor, encoded only when the query asks for it (api/schema/paging.py)."""
    return encode_cursor(root.identity)


@strawberry.type
class WorkItemEdge:
    identity: strawberry.Private[list[Any]]
    cursor: str = strawberry.field(resolver=_edge_cursor)
    node: WorkItem


@strawberry.type
class WorkItemConnection:
    edges: list[WorkItemEdge]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[WorkItem]:
        return [edge.node for edge in self.edges]


@strawberry.interface(description="A change request in an ITSM, in canonical words.")
class ChangeRequest(_TypedByItsObject, Node):
    source_name: strawberry.Private[str]
    number: str
    title: str
    url: str
    state: c.ChangeState
    state_label: str = strawberry.field(description="The ITSM's own state word.")
    type: c.ChangeType
    risk: c.RiskLevel | None
    approval: c.ApprovalState
    planned_start: datetime | None
    planned_end: datetime | None
    correlation_id: str | None

    @strawberry.field
    async def source(self, info: Info) -> Source:
        return await source_named(info, self.source_name)

    @strawberry.field(description="The releases this change request is linked to.")
    async def releases(self, info: Info) -> list[Annotated[
            Release, strawberry.lazy("api.schema.types")]]:
        from api.schema.types import Release  # the release types import this module

        rows = await info.context.loaders.releases_by_change.load(
            (self.source_name, self.number))
        return [Release.from_row(row) for row in rows]


@strawberry.type(description="A change request in an ITSM whose kind registers no type of "
                             "its own.")
class GenericChange(ChangeRequest):
    upstream_id: str = strawberry.field(description="The ITSM's own id of the record.")


@strawberry.type
class ServiceNowChange(ChangeRequest):
    sys_id: str


@strawberry.type
class RemedyChange(ChangeRequest):
    request_id: str


# Each change type's field holding the ITSM's own record id.
_UPSTREAM_ID: dict[type, str] = {GenericChange: "upstream_id", ServiceNowChange: "sys_id",
                RemedyChange: "request_id"}
GRAPH_TYPES["ChangeRequest"] = tuple(_UPSTREAM_ID)
CHANGE_TYPE_NAMES = frozenset(t.__name__ for t in _UPSTREAM_ID)


def change_request(info: Info, record: c.ChangeRecord) -> ChangeRequest:
    change = graph_type(info, record.source, "ChangeRequest")
    return change(  # type: ignore[no-any-return]
        id=strawberry.ID(to_global_key(change.__name__, f"{record.source}:{record.number}")),
        source_name=record.source, number=record.number, title=record.title,
        url=record.url, state=record.state, state_label=record.state_label,
        type=record.type, risk=record.risk, approval=record.approval,
        planned_start=record.planned_start, planned_end=record.planned_end,
        correlation_id=record.correlation_id,
        **{_UPSTREAM_ID[change]: record.upstream_id})


@strawberry.type
class ChangeRequestEdge:
    identity: strawberry.Private[list[Any]]
    cursor: str = strawberry.field(resolver=_edge_cursor)
    node: ChangeRequest


@strawberry.type
class ChangeRequestConnection:
    edges: list[ChangeRequestEdge]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[ChangeRequest]:
        return [edge.node for edge in self.edges]


@strawberry.type
class Deployment(_TypedByItsObject, Node):
    source_name: strawberry.Private[str]
    repository: str
    environment: str
    ref: str
    sha: str
    state: c.DeploymentState
    state_label: str
    created_at: datetime
    updated_at: datetime
    url: str
    creator: str | None

    @classmethod
    def from_record(cls, record: c.Deployment) -> Deployment:
        return cls(id=strawberry.ID(to_global_key("Deployment", f"{record.source}:{record.id}")),
                   source_name=record.source, repository=record.repository,
                   environment=record.environment, ref=record.ref, sha=record.sha,
                   state=record.state, state_label=record.state_label,
                   created_at=record.created_at, updated_at=record.updated_at, url=record.url,
                   creator=record.creator)

    @strawberry.field
    async def source(self, info: Info) -> Source:
        return await source_named(info, self.source_name)


@strawberry.type(description="What runs in an environment for one repository.")
class DeployedVersion:
    application: str | None
    deployment: Deployment


@strawberry.type
class SourceReadiness:
    source: str
    total: int
    done: int
    stale: bool
    available: bool


@strawberry.type(description="How close a release is to shipping, from the live sources.")
class Readiness:
    total: int
    done: int
    ratio: float = strawberry.field(description="done / total; 1.0 when there is nothing to do.")
    per_source: list[SourceReadiness]
    open_blockers: list[WorkItem]
    change_approved: bool
    complete: bool = strawberry.field(
        description="False when a source could not be read, so the figures are partial.")
