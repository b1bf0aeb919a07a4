"""Many releases fast, for plan tests and the scale bench: bulk inserts, no use cases.

The rows are what the use cases would write (releases with a status, a type and a
window, one or two applications each, bookings and audit events), spread so every
filter the graph offers matches a steady share of them at any size.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import models as m

APPLICATIONS = 20
ENVIRONMENTS = 10
START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
BATCH = 5_000


def application_key(n: int) -> str:
    return f"BULK{n:02d}"


def status_of(i: int) -> m.ReleaseStatus:
    return list(m.ReleaseStatus)[i % len(m.ReleaseStatus)]


def applications_of(i: int) -> list[int]:
    """Release `i`'s applications (0-based numbers), drawn at random but the same every
    run; every third release has a second one."""
    draw = random.Random(i)
    first = draw.randrange(APPLICATIONS)
    return [first] + ([(first + 1 + draw.randrange(APPLICATIONS - 1)) % APPLICATIONS]
                      if i % 3 == 0 else [])


def _start(i: int, count: int) -> datetime | None:
    """Every tenth release unscheduled; the others spread at random over as many hours
    as a third of the releases (so several share a start)."""
    if i % 10 == 0:
        return None
    return START + timedelta(hours=random.Random(-i).randrange(max(1, count // 3)))


async def _insert(engine: AsyncEngine, table: Any, rows: list[dict[str, Any]]) -> None:
    for at in range(0, len(rows), BATCH):
        async with engine.begin() as connection:
            await connection.execute(insert(table), rows[at:at + BATCH])


async def seed_releases(engine: AsyncEngine, count: int) -> None:
    """`count` releases (every tenth unscheduled), their applications, as many bookings
    and audit events; then the planner's statistics."""
    now = datetime.now(UTC)
    types = list(m.ReleaseType)
    await _insert(engine, m.Application.__table__, [
        {"id": 1_000 + a, "key": application_key(a), "name": f"Bulk application {a}",
         "description": "", "repositories": [], "jira_projects": [], "cmdb_items": [],
         "created_at": now, "updated_at": now} for a in range(APPLICATIONS)])
    await _insert(engine, m.Environment.__table__, [
        {"id": 1_000 + e, "name": f"bulk-env-{e}", "tier": m.EnvironmentTier.TEST,
         "deploy_target": "", "description": "", "created_at": now, "updated_at": now}
        for e in range(ENVIRONMENTS)])
    releases, links, bookings, audit = [], [], [], []
    for i in range(1, count + 1):
        start = _start(i, count)
        kind, status = types[i % len(types)], status_of(i)
        releases.append({
            "id": i, "key": f"BULK-{i}", "name": f"Bulk release {i}", "description": "",
            "type": kind, "status": status,
            "parent_id": None, "window_start": start,
            "window_end": start + timedelta(hours=4) if start else None, "version": 1,
            "created_at": now, "updated_at": now})
        links += [{"release_id": i, "application_id": 1_000 + a, "window_start": start,
                   "status": status, "type": kind} for a in applications_of(i)]
        day = START + timedelta(hours=random.Random(i + count).randrange(max(1, count // 2)))
        bookings.append({
            "id": i, "environment_id": 1_000 + i % ENVIRONMENTS, "release_id": i, "team": "",
            "requested_by": "bulk", "start": day, "end": day + timedelta(hours=3),
            "status": list(m.BookingStatus)[i % len(m.BookingStatus)], "purpose": "",
            "decided_by": "", "decided_at": None, "decision_reason": "", "override_reason": "",
            "version": 1, "created_at": now, "updated_at": now})
        audit.append({"at": now, "actor": "bulk", "action": "release.create",
                      "entity_type": "Release", "entity_id": i, "entity_key": f"BULK-{i}",
                      "release_id": i, "before": None, "after": None, "reason": ""})
    await _insert(engine, m.Release.__table__, releases)
    await _insert(engine, m.release_applications, links)
    await _insert(engine, m.EnvironmentBooking.__table__, bookings)
    await _insert(engine, m.AuditEvent.__table__, audit)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    else:
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
