"""The facts the conflict engine reads for a period: Heatshield's own, in one short session,
and change requests from every ITSM turned into the engine's words.

The rules are `api.domain.conflicts`; this only reads and translates. Reading
the changes from the ITSMs is the caller's (the graph's loaders), so no
database session is open while an upstream answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.domain.conflicts import (
    BlackoutFact,
    BookingFact,
    ChangeFact,
    EnvironmentFact,
    ReleaseFact,
    Span,
    World,
)
from api.domain.enums import EnvironmentTier
from connectors.records import ChangeRecord, LinkKind


@dataclass(frozen=True, slots=True)
class StoredWorld:
    world: World
    # Configuration item (lower case) -> the applications it belongs to.
    applications_by_ci: dict[str, frozenset[str]]


async def _apps(session: AsyncSession, table: Table, column: str, ids: Iterable[int]
                ) -> dict[int, frozenset[str]]:
    owner = table.c[column]
    found: dict[int, set[str]] = defaultdict(set)
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    for pk, key in (await session.execute(
            select(owner, m.Application.key)
            .join(table, table.c.application_id == m.Application.id)
            .where(owner.in_(wanted)))).all():
        found[pk].add(key)
    return {pk: frozenset(keys) for pk, keys in found.items()}


async def stored_world(sessions: async_sessionmaker[AsyncSession], start: datetime,
                       end: datetime) -> StoredWorld:
    """Releases, blackouts and bookings overlapping [start, end), and every environment."""
    async with sessions() as session:
        releases = list(await session.scalars(select(m.Release).where(
            m.Release.window_start < end, m.Release.window_end > start)))
        blackouts = list(await session.scalars(select(m.BlackoutWindow).where(
            m.BlackoutWindow.start < end, m.BlackoutWindow.end > start)))
        bookings = list(await session.scalars(select(m.EnvironmentBooking).where(
            m.EnvironmentBooking.start <= end, m.EnvironmentBooking.end >= start)))
        # A booking's release may lie outside the period: its key is read on its own.
        booked_for = sorted({b.release_id for b in bookings if b.release_id is not None})
        release_keys: dict[int, str] = {pk: key for pk, key in (await session.execute(
            select(m.Release.id, m.Release.key).where(m.Release.id.in_(booked_for)))
            ).all()} if booked_for else {}
        environments = list(await session.scalars(select(m.Environment)))
        applications = list(await session.scalars(select(m.Application)))
        release_apps = await _apps(session, m.release_applications, "release_id",
                                   (r.id for r in releases))
        blackout_apps = await _apps(session, m.blackout_applications, "blackout_id",
                                    (b.id for b in blackouts))
        env_apps = await _apps(session, m.environment_applications, "environment_id",
                               (e.id for e in environments))
        release_changes: dict[int, set[tuple[str, str]]] = defaultdict(set)
        release_ids = sorted(r.id for r in releases)
        if release_ids:
            for release_id, source, number in (await session.execute(
                    select(m.SourceLink.release_id, m.SourceLink.source,
                           m.SourceLink.external_key)
                    .where(m.SourceLink.kind == LinkKind.CHANGE_REQUEST,
                           m.SourceLink.release_id.in_(release_ids)))).all():
                release_changes[release_id].add((source, number.casefold()))
    by_ci: dict[str, set[str]] = defaultdict(set)
    for app in applications:
        for ci in app.cmdb_items:
            by_ci[ci.strip().lower()].add(app.key)
    world = World(
        releases=[ReleaseFact(r.id, r.key, r.status, Span(r.window_start, r.window_end)
                              if r.window_start and r.window_end else None,
                              release_apps.get(r.id, frozenset()),
                              frozenset(release_changes.get(r.id, ()))) for r in releases],
        blackouts=[BlackoutFact(b.id, b.name, Span(b.start, b.end),
                                frozenset(EnvironmentTier[t] for t in b.tiers),
                                blackout_apps.get(b.id, frozenset())) for b in blackouts],
        environments=[EnvironmentFact(e.id, e.name, e.tier, env_apps.get(e.id, frozenset()))
                      for e in environments],
        bookings=[BookingFact(b.id, b.environment_id, b.status, Span(b.start, b.end),
                              b.release_id, b.team, b.purpose,
                              release_keys.get(b.release_id, "") if b.release_id else "")
                  for b in bookings],
    )
    return StoredWorld(world, {ci: frozenset(apps) for ci, apps in by_ci.items()})


def change_facts(records: Sequence[ChangeRecord], applications_by_ci: dict[str, frozenset[str]],
                 products: Mapping[str, str] | None = None) -> list[ChangeFact]:
    """Change requests in the engine's words; a change whose window ends before it starts
    (an ITSM may hold one) is taken as the instant it starts. `products` names each
    source as people know it (its kind profile's product name), for the reasons."""
    products = products or {}
    facts = []
    for record in records:
        span = None
        if record.planned_start is not None and record.planned_end is not None:
            span = Span(record.planned_start, max(record.planned_start, record.planned_end))
        cis = frozenset(ci for ci in record.configuration_items if ci.strip())
        apps = frozenset(app for ci in cis
                         for app in applications_by_ci.get(ci.strip().lower(), ()))
        facts.append(ChangeFact(record.source, record.number, record.state, record.approval,
                                record.type, span, cis, apps,
                                products.get(record.source, "")))
    return facts


def for_application(world: World, application: str) -> World:
    """Only what concerns one application: its releases, changes on its items, the
    bookings of its environments or its releases, and every blackout."""
    releases = [r for r in world.releases if application in r.applications]
    release_ids = {r.id for r in releases}
    environments = [e for e in world.environments if application in e.applications]
    env_ids = {e.id for e in environments}
    return replace(world, releases=releases, environments=environments,
                   bookings=[b for b in world.bookings
                             if b.environment_id in env_ids or b.release_id in release_ids],
                   changes=[c for c in world.changes if application in c.applications])
