"""The releases list: one page by keyset, and its count, each an index read at any size.

The order is the window start with unscheduled releases last, then the id
(`models.release_sort_key`), which the indexes of migration 0014 hold alone and
after a status or a type. A page starts from a position (the sort key and id of
the row before it) given as a WHERE condition, never an OFFSET, so page 1,000
costs what page 1 costs and rows written meanwhile neither repeat nor vanish.

A filter on several statuses (or types) reads each value's own index range and
merges the few rows each gives (`_branches`): one range per value keeps the
order an index order, where an IN over them would sort every matching row.
A filter on an application reads that application's links instead, which carry
their release's sort key, status and type (migrations 0015 and 0016), from their
own indexes in the same way: the application's range, or one range per status (or
type) within it, the type checked in the status index's entries. Only a window
filter is checked on each link's release.

The count is exact up to `EXACT_COUNT_UP_TO` rows (`JOINED_COUNT_UP_TO` when an
application and a window filter are combined), read by a bounded scan of
the same indexes; past that it is an estimate, and says so. The estimate is asked
first, so a large match is never counted: PostgreSQL's planner row estimate, or on
SQLite the matching share of the newest rows times the table's size (told by its
ids, not counted).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from api.db import models as m
from api.db.models import ReleaseStatus, ReleaseType

# A count that reads index entries alone (a status's range, an application's links) is
# exact up to here.
EXACT_COUNT_UP_TO = 10_000
# A count that joins (an application and a window filter) reads a row at random for each
# candidate, so it goes less far; past either bound SQLite samples this many rows.
JOINED_COUNT_UP_TO = 1_000
SQLITE_SAMPLE = 500


@dataclass(frozen=True, slots=True)
class ReleaseQuery:
    """What the list is filtered on; every given condition must hold."""

    statuses: tuple[ReleaseStatus, ...] = ()
    types: tuple[ReleaseType, ...] = ()
    application: str | None = None  # an application key
    window_from: datetime | None = None  # windows ending after this
    window_to: datetime | None = None  # windows starting before this


class ReleaseRow(Protocol):
    """A release as a page lists it: a `models.Release` row's columns (an ORM instance
    has them too). A page is read as plain rows: a thousand releases need their
    columns, not an instance, its state and an identity map entry each."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def type(self) -> ReleaseType: ...
    @property
    def status(self) -> ReleaseStatus: ...
    @property
    def parent_id(self) -> int | None: ...
    @property
    def window_start(self) -> datetime | None: ...
    @property
    def window_end(self) -> datetime | None: ...
    @property
    def version(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


_RELEASE_COLUMNS = (m.Release.id, m.Release.key, m.Release.name, m.Release.description,
                    m.Release.type, m.Release.status, m.Release.parent_id,
                    m.Release.window_start, m.Release.window_end, m.Release.version,
                    m.Release.created_at, m.Release.updated_at)


@dataclass(frozen=True, slots=True)
class Position:
    """A row's place in the order: its window start (None when unscheduled) and id."""

    window_start: datetime | None
    id: int

    @classmethod
    def of(cls, row: ReleaseRow) -> Position:
        return cls(row.window_start, row.id)


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[ReleaseRow]  # in list order, whichever way it was read
    more: bool  # rows remain beyond the page, in the direction read


@dataclass(frozen=True, slots=True)
class Count:
    value: int
    exact: bool


class _NoMatch(Exception):
    """The filter names an application that does not exist: nothing matches."""


@dataclass(frozen=True, slots=True)
class Filter:
    """A query resolved against the database: the application's id, and the window
    conditions (statuses and types are the query's own)."""

    application_id: int | None
    windows: list[ColumnElement[bool]]


async def _conditions(session: AsyncSession, query: ReleaseQuery) -> Filter:
    conditions: list[ColumnElement[bool]] = []
    app_id = None
    if query.application is not None:
        # The id first, so the planner sees a constant it has statistics for.
        app_id = await session.scalar(select(m.Application.id)
                                      .where(m.Application.key == query.application))
        if app_id is None:
            raise _NoMatch
    if query.window_from is not None:
        conditions.append(m.Release.window_end > query.window_from)
    if query.window_to is not None:
        conditions.append(m.Release.window_start < query.window_to)
    return Filter(app_id, conditions)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A query with its application looked up once, for a page and its count alike;
    `filter` is None when the key names no application (nothing matches)."""

    query: ReleaseQuery
    filter: Filter | None


async def resolve(session: AsyncSession, query: ReleaseQuery) -> Resolved:
    try:
        return Resolved(query, await _conditions(session, query))
    except _NoMatch:
        return Resolved(query, None)


async def _resolved(session: AsyncSession, query: ReleaseQuery | Resolved) -> Resolved:
    return query if isinstance(query, Resolved) else await resolve(session, query)


@dataclass(frozen=True, slots=True)
class _Order:
    """The two columns a page is read in the order of: a sort key and a release id, of
    `releases` itself or of an application's links (which carry the key, migration 0015)."""

    key: ColumnElement[datetime]
    id: ColumnElement[int] | QueryableAttribute[int]

    @classmethod
    def of_releases(cls) -> _Order:
        return cls(m.release_sort_key(), m.Release.id)

    @classmethod
    def of_links(cls) -> _Order:
        links = m.release_applications.c
        return cls(m.release_sort_key(links.window_start), links.release_id)

    def by(self, backward: bool) -> list[Any]:
        return [self.key.desc(), self.id.desc()] if backward else [self.key, self.id]

    def beyond(self, position: Position, backward: bool, row_values: bool
               ) -> ColumnElement[bool]:
        """Rows after `position` in list order (before it when `backward`).

        With `row_values` (PostgreSQL) a row comparison, `(key, id) > (k, pk)`, which
        bounds the index range exactly, ties at `k` included. SQLite bounds a range by
        `key >= k AND (key > k OR id > pk)` only (and then skips the ties up to `pk`).
        """
        value = _key_value(position)
        if row_values:
            ours, theirs = tuple_(self.key, self.id), tuple_(value, literal(position.id))
            return ours < theirs if backward else ours > theirs
        if backward:
            return and_(self.key <= value, or_(self.key < value, self.id < position.id))
        return and_(self.key >= value, or_(self.key > value, self.id > position.id))


def _key_value(position: Position) -> ColumnElement[datetime]:
    if position.window_start is None:
        return m.Unscheduled()
    return literal(position.window_start, m.UTCDateTime())


@dataclass(frozen=True, slots=True)
class _Source:
    """Where a page (or a count) reads its rows in list order: `releases`, or one
    application's links, which carry their release's sort key, status and type."""

    order: _Order
    status: ColumnElement[ReleaseStatus] | QueryableAttribute[ReleaseStatus]
    type: ColumnElement[ReleaseType] | QueryableAttribute[ReleaseType]
    where: list[ColumnElement[bool]]  # the application, for links
    table: FromClause  # links are joined to their releases only for a window filter


def _source(filter: Filter) -> _Source:
    if filter.application_id is None:
        return _Source(_Order.of_releases(), m.Release.status, m.Release.type, [],
                       m.Release.__table__)
    links = m.release_applications
    table: FromClause = links
    if filter.windows:
        table = links.join(m.Release, m.Release.id == links.c.release_id)
    return _Source(_Order.of_links(), links.c.status, links.c.type,
                   [links.c.application_id == filter.application_id], table)


def _branches(query: ReleaseQuery, source: _Source
              ) -> tuple[Any, Sequence[Any], list[ColumnElement[bool]]]:
    """The column whose values each get their own index range, those values, and the
    conditions left for the other list."""
    if query.statuses:
        rest: list[ColumnElement[bool]] = [source.type.in_(query.types)] if query.types else []
        return source.status, sorted(set(query.statuses), key=lambda s: s.name), rest
    if query.types:
        return source.type, sorted(set(query.types), key=lambda t: t.name), []
    return None, (), []


def _keyset(order: _Order, after: Position | None, before: Position | None,
            row_values: bool) -> list[ColumnElement[bool]]:
    return ([order.beyond(after, False, row_values)] if after is not None else []) + (
        [order.beyond(before, True, row_values)] if before is not None else [])


def page_statement(query: ReleaseQuery, filter: Filter, size: int,
                   after: Position | None = None, before: Position | None = None,
                   backward: bool = False, row_values: bool = False) -> Select[*tuple[Any, ...]]:
    """The SELECT of one page of `size` rows plus one (to tell whether more remain).

    With an application, the ranges read are of its links, each joined to its release.
    Several statuses (or types) read `size` + 1 rows of each one's range, merged.
    """
    source = _source(filter)
    column, values, rest = _branches(query, source)
    where = [*source.where, *filter.windows, *rest,
             *_keyset(source.order, after, before, row_values)]
    if column is None or len(values) == 1:
        if column is not None:
            where.append(column == values[0])
        page = select(*_RELEASE_COLUMNS)
        if filter.application_id is not None:
            links = m.release_applications
            page = page.join(links, links.c.release_id == m.Release.id)
        return page.where(*where).order_by(*source.order.by(backward)).limit(size + 1)
    ranges = [select(source.order.id.label("id"), source.order.key.label("sort_key"))
              .select_from(source.table).where(*where, column == value)
              .order_by(*source.order.by(backward)).limit(size + 1).subquery()
              for value in values]
    merged = union_all(*(select(r.c.id, r.c.sort_key) for r in ranges)).subquery("merged")
    return (select(*_RELEASE_COLUMNS).join(merged, merged.c.id == m.Release.id)
            .order_by(*_Order(merged.c.sort_key, merged.c.id).by(backward)).limit(size + 1))


async def read_page(session: AsyncSession, query: ReleaseQuery | Resolved, size: int,
                    after: Position | None = None, before: Position | None = None,
                    backward: bool = False) -> Page:
    """`size` rows after `after` (forward) or before `before` (backward, when `backward`),
    within both when both are given; returned in list order."""
    resolved = await _resolved(session, query)
    if resolved.filter is None:
        return Page([], False)
    query, filter = resolved.query, resolved.filter
    rows: list[ReleaseRow] = list(await session.execute(
        page_statement(query, filter, size, after, before, backward,
                       row_values=session.get_bind().dialect.name == "postgresql")))
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
    return Page(rows, more)


def _filters(query: ReleaseQuery, filter: Filter) -> list[ColumnElement[bool]]:
    """The conditions on the release itself: windows, statuses, types."""
    where = list(filter.windows)
    if query.statuses:
        where.append(m.Release.status.in_(query.statuses))
    if query.types:
        where.append(m.Release.type.in_(query.types))
    return where


def _on_links(filter: Filter) -> bool:
    """Whether the application's links alone tell what matches: they carry the status and
    type, not the window."""
    return filter.application_id is not None and not filter.windows


def _matching(query: ReleaseQuery, filter: Filter) -> Select[Any]:
    """One row per matching release: from its application's links when one is given."""
    if filter.application_id is None:
        return (select(literal(1).label("one")).select_from(m.Release)
                .where(*_filters(query, filter)))
    links = m.release_applications
    matching = select(literal(1).label("one")).select_from(links)
    if not _on_links(filter):
        return (matching.join(m.Release, m.Release.id == links.c.release_id)
                .where(links.c.application_id == filter.application_id,
                       *_filters(query, filter)))
    source = _source(filter)
    return matching.where(*source.where, *(
        [source.status.in_(query.statuses)] if query.statuses else []), *(
        [source.type.in_(query.types)] if query.types else []))


def count_statement(query: ReleaseQuery, filter: Filter, up_to: int = EXACT_COUNT_UP_TO
                    ) -> Select[int]:
    """How many rows match, counting no further than `up_to` + 1 per index range read.

    With an application, the ranges are of its links, index entries alone. With a
    window filter too (which the links do not carry), each status's (or type's) range
    of releases is read with the application as a probe, and PostgreSQL picks its way
    by its statistics (a join it is given may cost it a sequential scan of the
    releases, to hash them). SQLite counts that case in `_linked_count`.
    """
    if _on_links(filter):
        source, probe = _source(filter), []
    else:
        source, probe = _source(Filter(None, filter.windows)), _in_application(filter)
    column, values, rest = _branches(query, source)
    where = [*source.where, *filter.windows, *probe, *rest]
    counts = [select(func.count().label("n")).select_from(
        select(literal(1).label("one")).select_from(source.table)
        .where(*where, *([column == value] if column is not None else [])).limit(up_to + 1)
        .subquery()) for value in (values if column is not None else [None])]
    if len(counts) == 1:
        return counts[0]
    each = union_all(*counts).subquery("each")
    return select(func.coalesce(func.sum(each.c.n), 0))


def _in_application(filter: Filter) -> list[ColumnElement[bool]]:
    if filter.application_id is None:
        return []
    links = m.release_applications.c
    return [exists().where(links.release_id == m.Release.id,
                           links.application_id == filter.application_id)]


async def count(session: AsyncSession, query: ReleaseQuery | Resolved,
                up_to: int | None = None) -> Count:
    """Exact when at most `up_to` rows match; otherwise an estimate, marked so.

    The default bound follows what a count reads per row: index entries alone
    (`EXACT_COUNT_UP_TO`), or a release looked up per link (`JOINED_COUNT_UP_TO`).
    PostgreSQL is asked for its estimate first (planning only), and counts only when
    that is at most the bound; the count stops past the bound in any case.
    """
    resolved = await _resolved(session, query)
    if resolved.filter is None:
        return Count(0, True)
    query, filter = resolved.query, resolved.filter
    where = _filters(query, filter)
    dialect = session.get_bind().dialect.name
    joined = filter.application_id is not None and bool(filter.windows)
    if up_to is None:
        up_to = JOINED_COUNT_UP_TO if joined else EXACT_COUNT_UP_TO
    if joined and dialect == "sqlite":
        return await _linked_count(session, filter, where, up_to)
    if dialect == "postgresql":
        estimate = await _planner_estimate(session, _matching(query, filter))
        if estimate > up_to:
            return Count(estimate, False)
        counted = await session.scalar(count_statement(query, filter, up_to)) or 0
    else:
        found, estimate = await _sqlite_count(session, query, filter, where, up_to)
        if found is None:
            return Count(estimate, False)
        counted = found
    if counted <= up_to:
        return Count(counted, True)
    return Count(max(estimate, up_to + 1), False)


async def _linked_count(session: AsyncSession, filter: Filter,
                        where: list[ColumnElement[bool]], up_to: int) -> Count:
    """SQLite, an application and a window filter: read the application's first `up_to` + 1
    links with their releases. When that was all its links the count is exact;
    otherwise it is the matching share of those times the application's links (counted
    in its index alone, up to `EXACT_COUNT_UP_TO`)."""
    links = m.release_applications.c
    of_application = links.application_id == filter.application_id
    first = select(links.release_id).where(of_application).limit(up_to + 1).subquery()
    read = await session.scalar(select(func.count()).select_from(first)) or 0
    matching = await session.scalar(
        select(func.count()).select_from(first)
        .join(m.Release, m.Release.id == first.c.release_id).where(*where)) or 0
    if read <= up_to:
        return Count(matching, True)
    every = select(links.release_id).where(of_application).limit(EXACT_COUNT_UP_TO + 1)
    total = await session.scalar(select(func.count()).select_from(every.subquery())) or 0
    return Count(round(total * matching / read), False)


async def _planner_estimate(session: AsyncSession, matching: Select[Any]) -> int:
    """PostgreSQL's own row estimate for `matching` (from ANALYZE's statistics)."""
    # Rendered with its values (typed: enums, instants and ids, never free text).
    sql = str(matching.compile(dialect=session.get_bind().dialect,
                               compile_kwargs={"literal_binds": True}))
    connection = await session.connection()
    plan = (await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


async def _sqlite_count(session: AsyncSession, query: ReleaseQuery, filter: Filter,
                        where: list[ColumnElement[bool]], up_to: int) -> tuple[int | None, int]:
    """SQLite's count in one statement, the estimate asked first as PostgreSQL's planner is,
    so a large match is never counted: the matching share of the newest `SQLITE_SAMPLE`
    releases, read in the table's own order (no lookup per row), times the table's size.
    The bounded count runs only when the whole table is within `up_to`, or the estimate
    is; the statement returns it (None when it did not run) and the estimate (0 when the
    table is small). One statement, not an estimate and then a count: each statement
    costs more in the driver's round trips than SQLite's own reading of either."""
    size = _table_size()
    ids = m.Release.id
    conditions = [*where, *_in_application(filter)]
    share = select(func.sum(case((and_(*conditions), 1.0), else_=0.0)) / func.count()).where(
        ids > select(func.max(ids)).scalar_subquery() - SQLITE_SAMPLE).scalar_subquery() \
        if conditions else literal(1.0)
    # SQLite reads each uncorrelated subquery once per statement, however often it is named.
    estimate = case((size > up_to, size * share), else_=0.0)
    exact = count_statement(query, filter, up_to).scalar_subquery()
    counted, guessed = (await session.execute(select(
        case((estimate <= up_to + 0.5, exact)), estimate))).one()
    return (None if counted is None else int(counted)), round(guessed or 0)


def _table_size() -> ColumnElement[int]:
    """How many releases there are, read from the ends of the primary key instead of
    counting them all (which reads every entry of an index): ids are handed out in
    order, so this is exact but for the releases deleted in between, which it
    overestimates by. For estimates only."""
    ids = m.Release.id
    # Two subqueries: SQLite reads a min() or max() from the index's end only when it is
    # its query's one aggregate.
    return (select(func.max(ids)).scalar_subquery() - select(func.min(ids)).scalar_subquery()
            + 1).label("size")
