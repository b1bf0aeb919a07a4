"""Object types for Heatshield's own data.

Leaf fields are plain attributes copied from the row (cheap to resolve);
relations go through the request's DataLoaders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from sqlalchemy import ColumnElement, or_, select
from strawberry.scalars import JSON

from api.db import models as m
from api.db.models import (
    ActivityStatus,
    BookingStatus,
    EnvironmentTier,
    ReleaseStatus,
    ReleaseType,
    Role,
)
from api.domain.access import ACCESS_ACTION_PREFIXES, ACCESS_ENTITY_TYPES, audit_visible
from api.domain.notes import Audience, NotesFormat
from api.domain.releases import available_transitions
from api.loaders import LinkRow
from api.permissions import require_role
from api.schema import bridge_fields, federated
from api.schema.bridge_fields import ChangePreview, GateResult
from api.schema.context import Info
from api.schema.ids import encode_cursor, to_global_id
from api.schema.link_kinds import GraphLinkKind
from api.schema.node import Node, PageInfo
from api.schema.paging import check_page_size
from api.schema.upstream import (
    ChangeRequest,
    DeployedVersion,
    Deployment,
    Readiness,
    WorkItemConnection,
)
from api.services.bookings import overlapping_bookings
from api.services.release_list import Count, ReleaseRow
from connectors.base import WorkItem as WorkItemRecord
from connectors.base import WorkStatus

if TYPE_CHECKING:
    from api.schema.planning import DeploymentPlan

# The storage enums are the graph's enums: one definition, one set of names.
strawberry.enum(ReleaseStatus, description="Where a release stands.")
strawberry.enum(ReleaseType)
strawberry.enum(EnvironmentTier)
strawberry.enum(BookingStatus)
strawberry.enum(ActivityStatus)
strawberry.enum(Role)




@strawberry.type
class Application(Node):
    key: str
    name: str
    description: str
    repositories: list[str]
    jira_projects: list[str]
    cmdb_items: list[str]

    @classmethod
    def from_row(cls, row: m.Application) -> Application:
        return cls(id=strawberry.ID(to_global_id("Application", row.id)), key=row.key,
                   name=row.name, description=row.description,
                   repositories=list(row.repositories), jira_projects=list(row.jira_projects),
                   cmdb_items=list(row.cmdb_items))


@strawberry.type
class SourceLink(Node):
    source: str = strawberry.field(description="The connector instance's name.")
    kind: GraphLinkKind
    external_key: str = strawberry.field(
        description="The upstream record's key, as its kind writes it (a version, a "
                    "milestone, a code range, a change number); each kind validates it.")
    created_at: datetime

    @classmethod
    def from_row(cls, row: LinkRow) -> SourceLink:
        return cls(id=strawberry.ID(to_global_id("SourceLink", row.id)), source=row.source,
                   kind=GraphLinkKind.of(row.kind), external_key=row.external_key,
                   created_at=row.created_at)


@strawberry.type
class ReleasePhase(Node):
    name: str
    position: int
    start: datetime | None
    end: datetime | None

    @classmethod
    def from_row(cls, row: m.ReleasePhase) -> ReleasePhase:
        return cls(id=strawberry.ID(to_global_id("ReleasePhase", row.id)), name=row.name,
                   position=row.position, start=row.start, end=row.end)


@strawberry.type
class AuditEvent(Node):
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_key: str
    before: JSON | None
    after: JSON | None
    reason: str

    @classmethod
    def from_row(cls, row: m.AuditEvent) -> AuditEvent:
        return cls(id=strawberry.ID(to_global_id("AuditEvent", row.id)), at=row.at,
                   actor=row.actor, action=row.action, entity_type=row.entity_type,
                   entity_key=row.entity_key, before=cast(JSON, row.before),
                   after=cast(JSON, row.after),
                   reason=row.reason)


def audit_event_visible(info: Info, row: m.AuditEvent) -> bool:
    """Whether the caller may read this audit event (api.domain.access.audit_visible)."""
    principal = require_role(info, Role.VIEWER)
    return audit_visible(principal.role, action=row.action, entity_type=row.entity_type,
                         release_id=row.release_id)


@strawberry.type(description=(
    "A release or a team asking for an environment over a window [start, end), and the "
    "decision on it."))
class EnvironmentBooking(Node):
    db_id: strawberry.Private[int]
    environment_id: strawberry.Private[int]
    release_id: strawberry.Private[int | None]
    team: str = strawberry.field(description="Who it is for when no release is.")
    requested_by: str
    start: datetime
    end: datetime
    status: BookingStatus
    purpose: str
    decided_by: str = strawberry.field(description="Who approved, rejected or cancelled it.")
    decided_at: datetime | None
    decision_reason: str
    override_reason: str = strawberry.field(description=(
        "Why it was approved over another approved booking of the environment; empty "
        "when it was not."))
    version: int = strawberry.field(description=(
        "Grows with every decision; send it as `expectedVersion` to refuse yours if "
        "someone decided meanwhile."))
    created_at: datetime | None

    @classmethod
    def from_row(cls, row: m.EnvironmentBooking) -> EnvironmentBooking:
        return cls(id=strawberry.ID(to_global_id("EnvironmentBooking", row.id)), db_id=row.id,
                   environment_id=row.environment_id, release_id=row.release_id,
                   team=row.team, requested_by=row.requested_by, start=row.start,
                   end=row.end, status=row.status, purpose=row.purpose,
                   decided_by=row.decided_by, decided_at=row.decided_at,
                   decision_reason=row.decision_reason, override_reason=row.override_reason,
                   version=row.version, created_at=row.created_at)

    @strawberry.field(description=(
        "Requested or approved bookings of the same environment whose windows overlap this "
        "one: what approving it would clash with (approved ones refuse the approval unless "
        "overridden)."))
    async def overlapping(self, info: Info) -> list[EnvironmentBooking]:
        async with info.context.sessions() as session:
            rows = await overlapping_bookings(
                session, self.environment_id, self.start, self.end,
                [BookingStatus.REQUESTED, BookingStatus.APPROVED], exclude_id=self.db_id)
            return [EnvironmentBooking.from_row(r) for r in rows]

    @strawberry.field(description="Its audit trail (request, decisions, overrides), newest "
                                  "first.")
    async def history(self, info: Info) -> list[AuditEvent]:
        async with info.context.sessions() as session:
            rows = await session.scalars(
                select(m.AuditEvent).where(m.AuditEvent.entity_type == "EnvironmentBooking",
                                           m.AuditEvent.entity_id == self.db_id,
                                           *_readable_audit(info))
                .order_by(m.AuditEvent.id.desc()).limit(100))
            return [AuditEvent.from_row(r) for r in rows if audit_event_visible(info, r)]

    @strawberry.field
    async def environment(self, info: Info) -> Environment:
        row = await info.context.loaders.environment.load(self.environment_id)
        assert row is not None  # the foreign key guarantees it
        return Environment.from_row(row)

    @strawberry.field
    async def release(self, info: Info) -> Release | None:
        if self.release_id is None:
            return None
        row = await info.context.loaders.release.load(self.release_id)
        return Release.from_row(row) if row else None


@strawberry.type
class Environment(Node):
    db_id: strawberry.Private[int]
    name: str
    tier: EnvironmentTier
    deploy_target: str
    description: str

    @classmethod
    def from_row(cls, row: m.Environment) -> Environment:
        return cls(id=strawberry.ID(to_global_id("Environment", row.id)), db_id=row.id,
                   name=row.name, tier=row.tier, deploy_target=row.deploy_target,
                   description=row.description)

    @strawberry.field
    async def applications(self, info: Info) -> list[Application]:
        rows = await info.context.loaders.environment_applications.load(self.db_id)
        return [Application.from_row(r) for r in rows]

    @strawberry.field(description="The latest successful deployment of each of its "
                                  "applications' repositories, live.")
    async def deployed_versions(self, info: Info) -> list[DeployedVersion]:
        # Batched across environments, and no session is open while the sources answer.
        row, apps = await asyncio.gather(
            info.context.loaders.environment.load(self.db_id),
            info.context.loaders.environment_applications.load(self.db_id))
        assert row is not None  # it was read to make this object
        return await federated.environment_versions(info, row, apps)

    @strawberry.field
    async def bookings(self, info: Info, from_: Annotated[
            datetime | None, strawberry.argument(name="from")] = None,
            to: datetime | None = None) -> list[EnvironmentBooking]:
        query = select(m.EnvironmentBooking).where(
            m.EnvironmentBooking.environment_id == self.db_id)
        if from_ is not None:
            query = query.where(m.EnvironmentBooking.end > from_)
        if to is not None:
            query = query.where(m.EnvironmentBooking.start < to)
        async with info.context.sessions() as session:
            rows = await session.scalars(query.order_by(m.EnvironmentBooking.start))
            return [EnvironmentBooking.from_row(r) for r in rows]


@strawberry.type
class BlackoutWindow(Node):
    db_id: strawberry.Private[int]
    name: str
    start: datetime
    end: datetime
    tiers: list[EnvironmentTier]
    reason: str

    @classmethod
    def from_row(cls, row: m.BlackoutWindow) -> BlackoutWindow:
        return cls(id=strawberry.ID(to_global_id("BlackoutWindow", row.id)), db_id=row.id,
                   name=row.name, start=row.start, end=row.end,
                   tiers=[EnvironmentTier[t] for t in row.tiers], reason=row.reason)

    @strawberry.field(description="Applications it covers; empty means every application.")
    async def applications(self, info: Info) -> list[Application]:
        rows = await info.context.loaders.blackout_applications.load(self.db_id)
        return [Application.from_row(r) for r in rows]


@strawberry.type(description="A status a release could move to from where it stands now.")
class ReleaseTransition:
    to: ReleaseStatus
    allowed: bool = strawberry.field(description=(
        "Whether the status machine allows the move from the current status."))
    reason: str | None = strawberry.field(description="Why the move is refused, when it is.")
    gated: bool = strawberry.field(description=(
        "The move also has to pass the release gates (see `gates`), checked when it is "
        "made; `allowed` does not evaluate them."))


@strawberry.type
class Release(Node):
    db_id: strawberry.Private[int]
    parent_id: strawberry.Private[int | None]
    key: str
    name: str
    description: str
    type: ReleaseType
    status: ReleaseStatus
    window_start: datetime | None
    window_end: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description=(
        "Grows with every write of the release or its applications, phases and links; send "
        "it back as `expectedVersion` to refuse your write if someone wrote meanwhile."))

    @classmethod
    def from_row(cls, row: ReleaseRow) -> Release:
        return cls(id=strawberry.ID(to_global_id("Release", row.id)), db_id=row.id,
                   parent_id=row.parent_id, key=row.key, name=row.name,
                   description=row.description, type=row.type, status=row.status,
                   window_start=row.window_start, window_end=row.window_end,
                   created_at=row.created_at, updated_at=row.updated_at,
                   version=row.version)

    @strawberry.field
    async def parent(self, info: Info) -> Release | None:
        if self.parent_id is None:
            return None
        row = await info.context.loaders.release.load(self.parent_id)
        return Release.from_row(row) if row else None

    @strawberry.field
    async def children(self, info: Info) -> list[Release]:
        rows = await info.context.loaders.children.load(self.db_id)
        return [Release.from_row(r) for r in rows]

    @strawberry.field
    async def applications(self, info: Info) -> list[Application]:
        rows = await info.context.loaders.release_applications.load(self.db_id)
        return [Application.from_row(r) for r in rows]

    @strawberry.field
    async def phases(self, info: Info) -> list[ReleasePhase]:
        rows = await info.context.loaders.phases.load(self.db_id)
        return [ReleasePhase.from_row(r) for r in rows]

    @strawberry.field(description="Upstream records this release is tied to.")
    async def links(self, info: Info) -> list[SourceLink]:
        rows = await info.context.loaders.links.load(self.db_id)
        return [SourceLink.from_row(r) for r in rows]

    @strawberry.field(description="Environment bookings made for this release, by start.")
    async def bookings(self, info: Info) -> list[EnvironmentBooking]:
        rows = await info.context.loaders.bookings_by_release.load(self.db_id)
        return [EnvironmentBooking.from_row(r) for r in rows]

    @strawberry.field(description=(
        "The release's deployment plan (runbook), or null when it has none yet."))
    async def plan(self, info: Info) -> Annotated[
            DeploymentPlan, strawberry.lazy("api.schema.planning")] | None:
        from api.schema.planning import DeploymentPlan
        return await DeploymentPlan.of_release(info, self.db_id)

    @strawberry.field(description="Live work items from every linked planned version, "
                                  "milestone and code range.", graphql_type=WorkItemConnection)
    def work_items(self, info: Info, status: WorkStatus | None = None, first: int = 100,
                   after: str | None = None
                   ) -> WorkItemConnection | Awaitable[WorkItemConnection]:
        # Answered at once when the request holds the release's work already (a list of
        # releases prefetches it when every link is cached): no coroutine, task or
        # wait per release of a list of a thousand. Else read as it comes.
        check_page_size(info, first)
        work = federated.known_work(info, self.db_id)
        if work is None:
            return self._work_items_read(info, status, first, after)
        return federated.work_item_page(info, _work_list(work), status, first, after)

    async def _work_items_read(self, info: Info, status: WorkStatus | None, first: int,
                               after: str | None) -> WorkItemConnection:
        work = await federated.release_work(info, self.db_id)
        return federated.work_item_page(info, _work_list(work), status, first, after)

    @strawberry.field(description="Linked change requests, live from their ITSM.")
    async def change_requests(self, info: Info) -> list[ChangeRequest]:
        return federated.change_requests(info, await federated.release_changes(info, self.db_id))

    @strawberry.field(description="Deployments of the release's compare-range head, live.")
    async def deployments(self, info: Info) -> list[Deployment]:
        return await federated.release_deployments(info, self.db_id)

    @strawberry.field
    async def readiness(self, info: Info) -> Readiness:
        return await federated.release_readiness(info, self.db_id)

    @strawberry.field(description=(
        "Every status, with whether the release may move there from its current one and, "
        "when not, why. Gates are not evaluated here: a move marked `gated` also needs them."))
    def available_transitions(self) -> list[ReleaseTransition]:
        return [ReleaseTransition(to=o.to, allowed=o.allowed, reason=o.reason, gated=o.gated)
                for o in available_transitions(self.status)]

    @strawberry.field(description="The conditions for entering DEPLOYING, evaluated live.")
    async def gates(self, info: Info) -> list[GateResult]:
        return await bridge_fields.release_gates(info, self.db_id)

    @strawberry.field(description="The change request raiseChangeRequest would compose now.")
    async def change_preview(self, info: Info) -> ChangePreview:
        return await bridge_fields.change_preview(info, self.db_id)

    @strawberry.field(description="Release notes in the words of their audience.")
    async def release_notes(self, info: Info, audience: Audience,
                            format: NotesFormat = NotesFormat.MARKDOWN) -> str:
        return await bridge_fields.release_notes(info, self.db_id, audience, format)

    @strawberry.field(description="Audit trail of this release and its parts, newest first.")
    async def history(self, info: Info, first: int = 50) -> list[AuditEvent]:
        first = max(0, min(first, info.context.settings.limits.max_page_size))
        async with info.context.sessions() as session:
            rows = await session.scalars(
                select(m.AuditEvent).where(m.AuditEvent.release_id == self.db_id,
                                           *_readable_audit(info))
                .order_by(m.AuditEvent.id.desc()).limit(first))
            return [AuditEvent.from_row(r) for r in rows if audit_event_visible(info, r)]


def _readable_audit(info: Info) -> list[ColumnElement[bool]]:
    """SQL conditions leaving out the audit events the caller may not read."""
    if require_role(info, Role.VIEWER).role is Role.ADMIN:
        return []
    return [~or_(*(m.AuditEvent.action.startswith(p, autoescape=True)
                   for p in ACCESS_ACTION_PREFIXES),
                 m.AuditEvent.entity_type.in_(sorted(ACCESS_ENTITY_TYPES)))]


CalendarEntry = Annotated[Release | BlackoutWindow | EnvironmentBooking, strawberry.union(
    "CalendarEntry", description=(
        "Something with a time window on the release calendar: a release, a blackout "
        "window, or a requested or approved environment booking."))]




def _work_list(work: federated.WorkBySource) -> Sequence[WorkItemRecord]:
    """A release's items in list order; one source's list as it is (the page copies)."""
    if len(work) == 1:
        return work[0][1]
    return [item for _, source_items, _, _ in work for item in source_items]


def release_cursor(row: ReleaseRow) -> str:
    """A releases cursor: the row's window start (null when unscheduled) and id."""
    return encode_cursor([row.window_start.isoformat() if row.window_start else None, row.id])


def _release_edge_cursor(root: ReleaseEdge) -> str:
    return release_cursor(root.row)


@strawberry.type
class ReleaseEdge:
    """A cursor is encoded only when the query asks for it (most ask for nodes)."""

    row: strawberry.Private[ReleaseRow]
    cursor: str = strawberry.field(resolver=_release_edge_cursor)
    node: Release


class LazyCount:
    """A list's count, read once and only when asked for (by either field that shows it)."""

    def __init__(self, read: Callable[[], Awaitable[Count]]) -> None:
        self._read = read
        self._task: asyncio.Task[Count] | None = None

    async def get(self) -> Count:
        if self._task is None:
            self._task = asyncio.ensure_future(self._read())
        return await self._task


def _release_edges(root: ReleaseConnection) -> list[ReleaseEdge]:
    return [ReleaseEdge(row=row, node=node)
            for row, node in zip(root.rows, root.releases, strict=True)]


@strawberry.type
class ReleaseConnection:
    """One page of releases: the nodes, and their rows for the edges' cursors. Edges are
    made when the query asks for them (most ask for nodes alone)."""

    rows: strawberry.Private[list[ReleaseRow]]
    releases: strawberry.Private[list[Release]]
    edges: list[ReleaseEdge] = strawberry.field(resolver=_release_edges)
    page_info: PageInfo
    counter: strawberry.Private[LazyCount]

    @strawberry.field(description=(
        "How many releases match the filter: exact up to 10,000 (1,000 when an application "
        "and other filters are combined), an estimate past that (see "
        "totalCountIsEstimate). Counted only when asked for."))
    async def total_count(self) -> int:
        return (await self.counter.get()).value

    @strawberry.field(description="Whether totalCount is an estimate (past the bound "
                                  "where an exact count would read every matching row).")
    async def total_count_is_estimate(self) -> bool:
        return not (await self.counter.get()).exact

    @strawberry.field
    def nodes(self) -> list[Release]:
        return self.releases


@strawberry.type
class DeletePayload:
    id: strawberry.ID
