"""What the change-bridge rules know about releases from Heatshield's own storage.

Read in one short session for any number of releases (a page of fifty costs
four queries), and closed before anything waits on an upstream: a request
never holds a database connection while a source is slow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.domain.facts import AppFacts, BlackoutFacts, OverrideFacts, ReleaseFacts, as_utc
from api.domain.plans import RunbookStep


@dataclass(frozen=True, slots=True)
class StoredFacts:
    """One release's stored facts: itself, its applications' repositories, its blackouts."""

    facts: ReleaseFacts
    repositories: tuple[str, ...]
    blackouts: tuple[BlackoutFacts, ...]


async def stored_facts(sessions: async_sessionmaker[AsyncSession], release_ids: Sequence[int]
                       ) -> dict[int, StoredFacts]:
    """The stored facts of each release that exists, by id."""
    ids = sorted(set(release_ids))
    if not ids:
        return {}
    async with sessions() as session:
        releases = list(await session.scalars(select(m.Release).where(m.Release.id.in_(ids))))
        owner = m.release_applications.c.release_id
        apps: dict[int, list[m.Application]] = defaultdict(list)
        for release_id, app in (await session.execute(
                select(owner, m.Application)
                .join(m.release_applications,
                      m.release_applications.c.application_id == m.Application.id)
                .where(owner.in_(ids)).order_by(m.Application.key))).all():
            apps[release_id].append(app)
        plans = await runbooks(session, ids)
        overrides = await gate_overrides(session, ids)
        blackouts = await blackouts_overlapping(session, [
            (r.window_start, r.window_end) for r in releases
            if r.window_start is not None and r.window_end is not None])
    found: dict[int, StoredFacts] = {}
    for release in releases:
        own = apps.get(release.id, [])
        facts = ReleaseFacts(
            key=release.key, name=release.name, type=release.type.name,
            status=release.status.name, window_start=release.window_start,
            window_end=release.window_end, description=release.description,
            applications=tuple(AppFacts(a.key, a.name, tuple(a.cmdb_items)) for a in own),
            runbook=plans.get(release.id, ()), override=overrides.get(release.id))
        found[release.id] = StoredFacts(
            facts=facts, repositories=tuple(repo for a in own for repo in a.repositories),
            blackouts=tuple(overlapping(blackouts, release.window_start, release.window_end)))
    return found


async def gate_overrides(session: AsyncSession, release_ids: Sequence[int]
                         ) -> dict[int, OverrideFacts]:
    """Each release's latest gate override from the audit trail, in one query: the notes
    mark a release deploying under override for as long as it is deploying or deployed."""
    found: dict[int, OverrideFacts] = {}
    for row in await session.scalars(
            select(m.AuditEvent).where(m.AuditEvent.action == "gate.override",
                                       m.AuditEvent.release_id.in_(release_ids))
            .order_by(m.AuditEvent.id)):
        failed = (row.before or {}).get("failed") or []
        assert row.release_id is not None
        found[row.release_id] = OverrideFacts(row.actor, as_utc(row.at), row.reason or "",
                                              tuple(str(g) for g in failed))
    return found


async def runbooks(session: AsyncSession, release_ids: Sequence[int]
                   ) -> dict[int, tuple[RunbookStep, ...]]:
    """Each release's deployment plan as the change request tells it, in one query."""
    if not release_ids:
        return {}
    rows = (await session.execute(
        select(m.DeploymentPlan.release_id, m.DeploymentActivity, m.Environment.name)
        .join(m.DeploymentActivity, m.DeploymentActivity.plan_id == m.DeploymentPlan.id)
        .outerjoin(m.Environment, m.Environment.id == m.DeploymentActivity.environment_id)
        .where(m.DeploymentPlan.release_id.in_(sorted(set(release_ids))))
        .order_by(m.DeploymentPlan.release_id, m.DeploymentActivity.position))).all()
    steps: dict[int, list[RunbookStep]] = defaultdict(list)
    for release_id, activity, environment in rows:
        steps[release_id].append(RunbookStep(
            title=activity.title, implementation=activity.implementation_steps,
            backout=activity.backout_steps, environment=environment or "",
            planned_start=activity.planned_start, duration_minutes=activity.duration_minutes))
    return {release_id: tuple(found) for release_id, found in steps.items()}


def overlapping(blackouts: Sequence[BlackoutFacts], start: datetime | None,
                end: datetime | None) -> list[BlackoutFacts]:
    """The windows overlapping [start, end); none when the window is unset."""
    if start is None or end is None:
        return []
    low, high = as_utc(start), as_utc(end)
    return [b for b in blackouts if as_utc(b.start) < high and as_utc(b.end) > low]


async def blackouts_overlapping(session: AsyncSession,
                                windows: Sequence[tuple[datetime, datetime]]
                                ) -> list[BlackoutFacts]:
    """Blackout windows overlapping any of `windows`, with their applications: two
    queries whatever the number of windows and blackouts (no query per row)."""
    if not windows:
        return []
    low = min(start for start, _ in windows)
    high = max(end for _, end in windows)
    rows = list(await session.scalars(
        select(m.BlackoutWindow).where(m.BlackoutWindow.start < high, m.BlackoutWindow.end > low)
        .order_by(m.BlackoutWindow.start, m.BlackoutWindow.id)))
    if not rows:
        return []
    owner = m.blackout_applications.c.blackout_id
    keys: dict[int, list[str]] = defaultdict(list)
    for blackout_id, key in (await session.execute(
            select(owner, m.Application.key)
            .join(m.blackout_applications,
                  m.blackout_applications.c.application_id == m.Application.id)
            .where(owner.in_([r.id for r in rows])).order_by(m.Application.key))).all():
        keys[blackout_id].append(key)
    found = [BlackoutFacts(name=r.name, start=r.start, end=r.end, reason=r.reason,
                           tiers=tuple(r.tiers), applications=tuple(keys.get(r.id, [])))
             for r in rows]
    return [b for b in found if any(overlapping([b], start, end) for start, end in windows)]
