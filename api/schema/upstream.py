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
from api.schema.paging import Slice
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


def _work_item_id(root: c.WorkItem, info: Info) -> strawberry.ID:
    # The path names the concrete type the item was resolved to (`resolve_type` below).
    return strawberry.ID(to_global_key(info.path.typename or "", f"{root.source}:{root.key}"))


async def _work_item_source(root: c.WorkItem, info: Info) -> Source:
    return await source_named(info, root.source)


def _fix_versions(root: c.TrackerIssue) -> list[str]:
    return list(root.versions)


@strawberry.interface(description="A unit of work in a tracker or code host.")
class WorkItem(Node):
    """Served by the connector records themselves (`connectors.records.WorkItem` and its
    subclasses, whose fields these name): a list of thousands builds no object per item,
    and an item's global id is encoded only when the query asks for it."""

    id: strawberry.ID = strawberry.field(resolver=_work_item_id)
    key: str
    title: str
    url: str
    status: c.WorkStatus
    status_label: str = strawberry.field(description="The upstream system's own word.")
    kind: str
    assignee: str | None
    updated_at: datetime
    source: Source = strawberry.field(resolver=_work_item_source)

    @classmethod
    def resolve_type(cls, obj: Any, info: Any, abstract_type: Any) -> str:
        return work_type(info, obj).__name__

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, _RECORD_OF[cls])


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
    fix_versions: list[str] = strawberry.field(resolver=_fix_versions)


@strawberry.type
class JiraIssue(WorkItem):
    issue_type: str
    priority: str | None
    fix_versions: list[str] = strawberry.field(resolver=_fix_versions)


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

# The record each shape's types are served by, most specific first (a pull request is
# a repository issue): `is_type_of` checks an item against it.
_SHAPE_RECORDS: tuple[tuple[str, type[c.WorkItem]], ...] = (
    ("PullRequest", c.PullRequest), ("RepositoryIssue", c.RepositoryIssue),
    ("TrackerIssue", c.TrackerIssue), ("WorkItem", c.WorkItem))
_RECORD_OF: dict[type, type[c.WorkItem]] = {
    graph: record for shape, record in _SHAPE_RECORDS for graph in GRAPH_TYPES[shape]}


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


def work_type(info: Info, item: c.WorkItem) -> type:
    """The graph type serving a work item record: its shape's, as its source's kind names it.

    Asked for each item of a list: two dict lookups once a (record class, connector
    class) pair has been seen."""
    connector = info.context.hub.connectors.get(item.source)
    pair = (type(item), type(connector) if connector else None)
    known = _WORK_TYPES.get(pair)
    if known is None:
        shape = next(name for name, record in _SHAPE_RECORDS if isinstance(item, record))
        known = _WORK_TYPES[pair] = graph_type(info, item.source, shape)
    return known


# (record class, connector class) -> graph type.
_WORK_TYPES: dict[tuple[type, type[Connector] | None], type] = {}


def _edge_cursor(root: Any) -> str:
    """An edge's cursor, encoded only when the query asks for it (api/schema/paging.py)."""
    return encode_cursor(root.identity)


@strawberry.type
class WorkItemEdge:
    identity: strawberry.Private[list[Any]]
    cursor: str = strawberry.field(resolver=_edge_cursor)
    node: c.WorkItem = strawberry.field(graphql_type=WorkItem)


@strawberry.type
class WorkItemConnection:
    """One page of a release's work items. Edges, cursors and page facts are made when
    the query asks for them (most ask for nodes alone), and nodes are the records."""

    page: strawberry.Private[Slice[c.WorkItem]]

    @strawberry.field
    def edges(self) -> list[WorkItemEdge]:
        identity = self.page.identity
        return [WorkItemEdge(identity=identity(item), node=item) for item in self.page.items]

    @strawberry.field
    def page_info(self) -> PageInfo:
        return self.page.page_info()

    @strawberry.field
    def total_count(self) -> int:
        return self.page.total

    @strawberry.field(graphql_type=list[WorkItem])
    def nodes(self) -> list[c.WorkItem]:
        return self.page.items


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
    problem: str | None = strawberry.field(
        default=None, description="What the source answered in place of its figures, when "
        "they are missing or stale (a broken link names the key); null when it was read.")
    problem_code: str | None = strawberry.field(
        default=None, description="The code of `problem`, as a partial-result error's "
        "extensions.code: BAD_LINK_KEY for a link whose record is gone upstream, "
        "UPSTREAM_UNAVAILABLE, UPSTREAM_TIMEOUT, ...")


@strawberry.type(description="How close a release is to shipping, from the live sources.")
class Readiness:
    total: int
    done: int
    ratio: float = strawberry.field(description="done / total; 1.0 when there is nothing to do.")
    per_source: list[SourceReadiness]
    open_blockers: list[c.WorkItem] = strawberry.field(graphql_type=list[WorkItem])
    change_approved: bool
    complete: bool = strawberry.field(
        description="False when a source could not be read, so the figures are partial.")
