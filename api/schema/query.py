"""Read side of the graph over Heatshield's own data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select

from api.db import models as m
from api.db.models import EnvironmentTier, ReleaseStatus, ReleaseType
from api.domain.instants import InstantError, parse_instant
from api.errors import bad_input
from api.schema import federated
from api.schema.context import Info
from api.schema.ids import check_pk, decode_cursor, from_global_id
from api.schema.link_candidates import LinkCandidate, resolve_link_candidates
from api.schema.link_kinds import GraphLinkKind
from api.schema.node import Node, PageInfo
from api.schema.paging import check_page_size, slice_page
from api.schema.partial_results import report
from api.schema.planning import DeploymentActivity, PlanTemplate
from api.schema.types import (
    Application,
    AuditEvent,
    BlackoutWindow,
    CalendarEntry,
    Environment,
    EnvironmentBooking,
    LazyCount,
    Release,
    ReleaseConnection,
    ReleasePhase,
    SourceLink,
    audit_event_visible,
    release_cursor,
)
from api.schema.upstream import (
    ChangeRequest,
    ChangeRequestConnection,
    ChangeRequestEdge,
    Source,
)
from api.services import release_list
from api.services.release_list import Count, Position, ReleaseQuery
from connectors.base import ChangeRecord, ChangeState, TimeWindow

From = Annotated[datetime | None, strawberry.argument(name="from")]


@strawberry.input(description="All given conditions must hold.")
class ChangeRequestFilter:
    state: ChangeState | None = None
    source: str | None = strawberry.field(default=None,
                                          description="Only this connector instance.")
    window_from: datetime | None = strawberry.field(
        default=None, description="Changes whose planned window ends after this instant.")
    window_to: datetime | None = strawberry.field(
        default=None, description="Changes whose planned window starts before this instant.")
FromRequired = Annotated[datetime, strawberry.argument(name="from")]


@strawberry.input(description="All given conditions must hold.")
class ReleaseFilter:
    status: list[ReleaseStatus] | None = None
    type: list[ReleaseType] | None = None
    application: str | None = strawberry.field(default=None,
                                               description="An application key.")
    window_from: datetime | None = strawberry.field(
        default=None, description="Releases whose window ends after this instant.")
    window_to: datetime | None = strawberry.field(
        default=None, description="Releases whose window starts before this instant.")


def release_query(filter: ReleaseFilter | None) -> ReleaseQuery:
    if filter is None:
        return ReleaseQuery()
    return ReleaseQuery(statuses=tuple(filter.status or ()), types=tuple(filter.type or ()),
                        application=filter.application, window_from=filter.window_from,
                        window_to=filter.window_to)


def _position(cursor: str | None, field: str) -> Position | None:
    """A releases cursor: the row's window start (null when unscheduled) and id."""
    if cursor is None:
        return None
    values = decode_cursor(cursor, field)
    if len(values) != 2 or not (values[0] is None or isinstance(values[0], str)):
        raise bad_input("not a releases cursor", field)
    pk = check_pk(values[1], field)
    if values[0] is None:
        return Position(None, pk)
    try:
        return Position(parse_instant(values[0]), pk)
    except InstantError:
        raise bad_input("not a releases cursor", field) from None


async def releases_page(info: Info, query: ReleaseQuery, first: int, after: str | None,
                        last: int | None = None, before: str | None = None
                        ) -> ReleaseConnection:
    """A page read by keyset: `first` after `after`, or `last` before `before`."""
    backward = last is not None
    size = last if last is not None else first
    check_page_size(info, size, "last" if backward else "first")
    start, end = _position(after, "after"), _position(before, "before")
    reads = federated.listed_reads(info)
    async with info.context.sessions() as session:
        # The application's id is looked up once, for the page and the count alike.
        resolved = await release_list.resolve(session, query)
        page = await release_list.read_page(session, resolved, size, start, end, backward)
        if page.rows and reads:
            # The links of a page whose releases ask upstream, in the same session; their
            # reads start while the session closes (its connection goes back in turns).
            federated.start_reads(info.context, await info.context.loaders.read_links(
                session, [r.id for r in page.rows]), reads)

    async def count() -> Count:
        async with info.context.sessions() as session:
            return await release_list.count(session, resolved)

    return ReleaseConnection(
        rows=page.rows, releases=[Release.from_row(r) for r in page.rows],
        counter=LazyCount(count),
        page_info=PageInfo(
            has_next_page=page.more if not backward else before is not None,
            has_previous_page=page.more if backward else after is not None,
            start_cursor=release_cursor(page.rows[0]) if page.rows else None,
            end_cursor=release_cursor(page.rows[-1]) if page.rows else None))


def change_page(changes: list[ChangeRequest], first: int, after: str | None
                ) -> ChangeRequestConnection:
    page = slice_page(changes, lambda c: [c.source_name, c.number], first, after)
    return ChangeRequestConnection(
        edges=[ChangeRequestEdge(identity=page.identity(c), node=c) for c in page.items],
        total_count=page.total, page_info=page.page_info())


_NODE_TYPES: dict[str, tuple[type[m.Base], Any]] = {
    "Release": (m.Release, Release),
    "Application": (m.Application, Application),
    "Environment": (m.Environment, Environment),
    "BlackoutWindow": (m.BlackoutWindow, BlackoutWindow),
    "ReleasePhase": (m.ReleasePhase, ReleasePhase),
    "SourceLink": (m.SourceLink, SourceLink),
    "EnvironmentBooking": (m.EnvironmentBooking, EnvironmentBooking),
    "AuditEvent": (m.AuditEvent, AuditEvent),
    "DeploymentActivity": (m.DeploymentActivity, DeploymentActivity),
    "PlanTemplate": (m.PlanTemplate, PlanTemplate),
}


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, pk = from_global_id(id)
        if type_name not in _NODE_TYPES:
            return None
        model, gql_type = _NODE_TYPES[type_name]
        async with info.context.sessions() as session:
            row = await session.get(model, pk)
        if isinstance(row, m.AuditEvent) and not audit_event_visible(info, row):
            return None  # as if it did not exist: no hint of whom it names
        return gql_type.from_row(row) if row is not None else None

    @strawberry.field(description=(
        "Releases ordered by window start (unscheduled last), then by id. Page forward "
        "with `first` and `after`, or backward with `last` and `before`."))
    async def releases(self, info: Info, filter: ReleaseFilter | None = None, first: int = 50,
                       after: str | None = None, last: int | None = None,
                       before: str | None = None) -> ReleaseConnection:
        return await releases_page(info, release_query(filter), first, after, last, before)

    @strawberry.field
    async def release(self, info: Info, key: str) -> Release | None:
        async with info.context.sessions() as session:
            row = await session.scalar(select(m.Release).where(m.Release.key == key))
        return Release.from_row(row) if row else None

    @strawberry.field
    async def applications(self, info: Info) -> list[Application]:
        async with info.context.sessions() as session:
            rows = await session.scalars(select(m.Application).order_by(m.Application.key))
            return [Application.from_row(r) for r in rows]

    @strawberry.field
    async def environments(self, info: Info, tier: EnvironmentTier | None = None
                           ) -> list[Environment]:
        query = select(m.Environment)
        if tier is not None:
            query = query.where(m.Environment.tier == tier)
        async with info.context.sessions() as session:
            rows = await session.scalars(query.order_by(m.Environment.tier, m.Environment.name))
            return [Environment.from_row(r) for r in rows]

    @strawberry.field(description="Blackout windows overlapping [from, to), by start.")
    async def blackout_windows(self, info: Info, from_: From = None, to: datetime | None = None
                               ) -> list[BlackoutWindow]:
        query = select(m.BlackoutWindow)
        if from_ is not None:
            query = query.where(m.BlackoutWindow.end > from_)
        if to is not None:
            query = query.where(m.BlackoutWindow.start < to)
        async with info.context.sessions() as session:
            rows = await session.scalars(query.order_by(m.BlackoutWindow.start))
            return [BlackoutWindow.from_row(r) for r in rows]

    @strawberry.field(description="Every configured connector and how it is doing, from its "
                                  "recorded calls (no upstream is called to answer).")
    def sources(self, info: Info) -> list[Source]:
        return [Source.of(connector)
                for connector in info.context.hub.connectors.values()]

    @strawberry.field(description="Change requests across every ITSM source, live, by "
                                  "planned start.")
    async def change_requests(self, info: Info, filter: ChangeRequestFilter | None = None,
                              first: int = 50, after: str | None = None
                              ) -> ChangeRequestConnection:
        check_page_size(info, first)
        filter = filter or ChangeRequestFilter()
        sources = sorted(info.context.hub.change_sources())
        if filter.source is not None:
            if filter.source not in sources:
                raise bad_input(f"{filter.source!r} is not a change source; change sources: "
                                f"{', '.join(sources) or 'none'}", "filter.source")
            sources = [filter.source]
        window = None
        if filter.window_from is not None or filter.window_to is not None:
            window = TimeWindow(filter.window_from or datetime.min.replace(tzinfo=UTC),
                                filter.window_to or datetime.max.replace(tzinfo=UTC))
        records: list[ChangeRecord] = []
        for _, result in await info.context.upstream.search_changes(sources,
                                                                     (filter.state, window)):
            report(info, result)
            records += result.value or []
        far = datetime.max.replace(tzinfo=UTC)
        records.sort(key=lambda r: (r.planned_start or far, r.source, r.number))
        return change_page(federated.change_requests(info, records), first, after)

    @strawberry.field(description="Releases, blackout windows and requested or approved "
                                  "environment bookings overlapping [from, to), by start.")
    async def calendar(self, info: Info, from_: FromRequired, to: datetime
                       ) -> list[CalendarEntry]:
        if to <= from_:
            raise bad_input("to must be after from", "to")
        async with info.context.sessions() as session:
            releases = await session.scalars(select(m.Release).where(
                m.Release.window_start < to, m.Release.window_end > from_))
            windows = await session.scalars(select(m.BlackoutWindow).where(
                m.BlackoutWindow.start < to, m.BlackoutWindow.end > from_))
            entries: list[tuple[datetime, str, Release | BlackoutWindow | EnvironmentBooking]] = [
                (r.window_start, r.key, Release.from_row(r)) for r in releases
                if r.window_start is not None]
            entries += [(w.start, w.name, BlackoutWindow.from_row(w)) for w in windows]
            bookings = await session.scalars(select(m.EnvironmentBooking).where(
                m.EnvironmentBooking.start < to, m.EnvironmentBooking.end > from_,
                m.EnvironmentBooking.status.in_([m.BookingStatus.REQUESTED,
                                                 m.BookingStatus.APPROVED])))
            entries += [(b.start, f"~booking {b.id:010d}", EnvironmentBooking.from_row(b))
                        for b in bookings]
        entries.sort(key=lambda e: (e[0], e[1]))
        return [e[2] for e in entries]

    @strawberry.field(description="Upstream records a release could link to: versions of a "
                                  "tracker project, milestones of a repository (`container`), "
                                  "change requests by number or words.")
    async def link_candidates(self, info: Info, source: str, kind: GraphLinkKind,
                              container: str, search: str | None = None, first: int = 20
                              ) -> list[LinkCandidate]:
        return await resolve_link_candidates(info, source, kind, container, search, first)
