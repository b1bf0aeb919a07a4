"""Per-request DataLoaders: one query per kind of read, whatever the number of parents.

Each batch opens its own short session: sibling fields resolve concurrently
and an AsyncSession must not be shared between concurrent tasks.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from api.db import models as m

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
Sessions = async_sessionmaker[AsyncSession]


class LinkRow(Protocol):
    """A release's link as the read paths see it: a `models.SourceLink` row's columns
    (an ORM instance has them too)."""

    @property
    def id(self) -> int: ...
    @property
    def release_id(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def kind(self) -> m.LinkKind: ...
    @property
    def external_key(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


_LINK_COLUMNS = (m.SourceLink.id, m.SourceLink.release_id, m.SourceLink.source,
                 m.SourceLink.kind, m.SourceLink.external_key, m.SourceLink.created_at)


def _many(sessions: Sessions, fetch: Callable[[AsyncSession, Sequence[int]],
                                              Awaitable[Sequence[tuple[int, T]]]]
          ) -> DataLoader[int, list[T]]:
    async def load(keys: list[int]) -> list[list[T]]:
        async with sessions() as session:
            rows = await fetch(session, keys)
        grouped: dict[int, list[T]] = defaultdict(list)
        for key, value in rows:
            grouped[key].append(value)
        return [grouped.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


async def load_all(loader: DataLoader[K, V], keys: Sequence[K]) -> list[V]:
    """`loader.load_many(keys)` for a long list: what the loader holds or is reading is
    taken from it, and the rest read in one call of its load function, kept in it (and
    awaited by other fields asking meanwhile) as a DataLoader keeps its reads. One await
    and a future per key read, where `load_many` gathers a future per key and batches
    each (a list of a thousand releases reads their links at once)."""
    cache = loader.cache_map
    reading: dict[K, asyncio.Future[V]] = {}
    for key in keys:
        future = cache.get(key)
        if (future is None or future.cancelled()) and key not in reading:
            reading[key] = loader.loop.create_future()
            cache.set(key, reading[key])
    if reading:
        try:
            values = await loader.load_fn(list(reading))
        except BaseException as error:
            for future in reading.values():
                future.set_exception(error)
                future.exception()  # raised here; a field awaiting it gets it too
            raise
        for future, value in zip(reading.values(), values, strict=True):
            if isinstance(value, BaseException):
                future.set_exception(value)
            else:
                future.set_result(value)
    return [await cast(Awaitable[V], future) for future in [cache.get(key) for key in keys]]


def _apps_through(table: Table, column: str) -> Callable[
        [AsyncSession, Sequence[int]], Awaitable[Sequence[tuple[int, m.Application]]]]:
    async def fetch(session: AsyncSession, keys: Sequence[int]
                    ) -> Sequence[tuple[int, m.Application]]:
        owner = table.c[column]
        result = await session.execute(
            select(owner, m.Application).join(table, table.c.application_id == m.Application.id)
            .where(owner.in_(keys)).order_by(m.Application.key))
        return [(row[0], row[1]) for row in result.all()]

    return fetch


async def _link_rows(session: AsyncSession, release_ids: Sequence[int]
                     ) -> Sequence[tuple[int, LinkRow]]:
    rows = await session.execute(select(*_LINK_COLUMNS)
                                 .where(m.SourceLink.release_id.in_(release_ids))
                                 .order_by(m.SourceLink.id))
    return [(row.release_id, cast(LinkRow, row)) for row in rows]


class Loaders:
    """The request's loaders, created lazily so a request pays only for what it reads."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._cache: dict[str, DataLoader[Any, Any]] = {}

    def _get(self, name: str, make: Callable[[], DataLoader[Any, Any]]) -> DataLoader[Any, Any]:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    @property
    def release(self) -> DataLoader[int, m.Release | None]:
        async def load(keys: list[int]) -> list[m.Release | None]:
            async with self._sessions() as session:
                rows = (await session.scalars(select(m.Release).where(m.Release.id.in_(keys))))
                found = {r.id: r for r in rows}
            return [found.get(k) for k in keys]

        return self._get("release", lambda: DataLoader(load_fn=load))

    @property
    def release_applications(self) -> DataLoader[int, list[m.Application]]:
        return self._get("release_applications", lambda: _many(
            self._sessions, _apps_through(m.release_applications, "release_id")))

    @property
    def environment_applications(self) -> DataLoader[int, list[m.Application]]:
        return self._get("environment_applications", lambda: _many(
            self._sessions, _apps_through(m.environment_applications, "environment_id")))

    @property
    def blackout_applications(self) -> DataLoader[int, list[m.Application]]:
        return self._get("blackout_applications", lambda: _many(
            self._sessions, _apps_through(m.blackout_applications, "blackout_id")))

    @property
    def children(self) -> DataLoader[int, list[m.Release]]:
        async def fetch(session: AsyncSession, keys: Sequence[int]
                        ) -> Sequence[tuple[int, m.Release]]:
            rows = await session.scalars(select(m.Release).where(m.Release.parent_id.in_(keys))
                                         .order_by(m.Release.key))
            return [(r.parent_id or 0, r) for r in rows]

        return self._get("children", lambda: _many(self._sessions, fetch))

    @property
    def links(self) -> DataLoader[int, list[LinkRow]]:
        """Read as plain rows, not ORM instances: a list of a thousand releases reads
        thousands of links, only to read their columns (no instance state, no identity
        map, a fraction of the allocations)."""
        return self._get("links", lambda: _many(self._sessions, _link_rows))

    async def read_links(self, session: AsyncSession, release_ids: Sequence[int]
                         ) -> dict[int, list[LinkRow]]:
        """The releases' links read in `session` (one the caller has open already) and
        kept as the `links` loader's answers: a list of releases starts its upstream
        reads without a session and a loop turn more."""
        grouped: dict[int, list[LinkRow]] = {release_id: [] for release_id in release_ids}
        for release_id, row in await _link_rows(session, release_ids):
            grouped[release_id].append(row)
        self.links.prime_many(grouped)
        return grouped

    @property
    def releases_by_change(self) -> DataLoader[tuple[str, str], list[m.Release]]:
        """Releases linked to a change request, keyed by (source, change number)."""
        async def load(keys: list[tuple[str, str]]) -> list[list[m.Release]]:
            numbers = {number for _, number in keys}
            async with self._sessions() as session:
                rows = (await session.execute(
                    select(m.SourceLink.source, m.SourceLink.external_key, m.Release)
                    .join(m.Release, m.Release.id == m.SourceLink.release_id)
                    .where(m.SourceLink.kind == m.LinkKind.CHANGE_REQUEST,
                           m.SourceLink.external_key.in_(numbers))
                    .order_by(m.Release.key))).all()
            found: dict[tuple[str, str], list[m.Release]] = defaultdict(list)
            for source, number, release in rows:
                found[(source, number)].append(release)
            return [found.get(key, []) for key in keys]

        return self._get("releases_by_change", lambda: DataLoader(load_fn=load))

    @property
    def phases(self) -> DataLoader[int, list[m.ReleasePhase]]:
        async def fetch(session: AsyncSession, keys: Sequence[int]
                        ) -> Sequence[tuple[int, m.ReleasePhase]]:
            rows = await session.scalars(select(m.ReleasePhase)
                                         .where(m.ReleasePhase.release_id.in_(keys))
                                         .order_by(m.ReleasePhase.position, m.ReleasePhase.id))
            return [(r.release_id, r) for r in rows]

        return self._get("phases", lambda: _many(self._sessions, fetch))

    @property
    def bookings_by_release(self) -> DataLoader[int, list[m.EnvironmentBooking]]:
        async def fetch(session: AsyncSession, keys: Sequence[int]
                        ) -> Sequence[tuple[int, m.EnvironmentBooking]]:
            rows = await session.scalars(select(m.EnvironmentBooking)
                                         .where(m.EnvironmentBooking.release_id.in_(keys))
                                         .order_by(m.EnvironmentBooking.start))
            return [(r.release_id or 0, r) for r in rows]

        return self._get("bookings_by_release", lambda: _many(self._sessions, fetch))

    @property
    def environment(self) -> DataLoader[int, m.Environment | None]:
        async def load(keys: list[int]) -> list[m.Environment | None]:
            async with self._sessions() as session:
                rows = await session.scalars(select(m.Environment)
                                             .where(m.Environment.id.in_(keys)))
                found = {r.id: r for r in rows}
            return [found.get(k) for k in keys]

        return self._get("environment", lambda: DataLoader(load_fn=load))
