"""Environment and blackout-window use cases: create, update, delete.

Each runs in one transaction with its audit event. An update or delete starts
by locking the row it changes (`lock_row`, the technique of `ReleaseService`'s
claim), so the application set it reads is the one it replaces: two parallel
updates run one after the other, the second sees the first, and the audit
event's "before" is what was really there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import models as m
from api.db.audit import snapshot
from api.db.models import EnvironmentTier
from api.domain.releases import RuleViolation, check_window
from api.errors import bad_input, conflict
from api.services.common import (
    KEEP,
    Keep,
    Ref,
    Service,
    applications_by_key,
    flush_unique,
    lock_row,
)


@dataclass(frozen=True, slots=True)
class NewEnvironment:
    name: str
    tier: EnvironmentTier
    deploy_target: str = ""
    description: str = ""
    application_keys: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class EnvironmentPatch:
    """What an update changes; a field left at KEEP stays as stored."""

    name: str | Keep = KEEP
    tier: EnvironmentTier | Keep = KEEP
    deploy_target: str | Keep = KEEP
    description: str | Keep = KEEP
    application_keys: Sequence[str] | Keep = KEEP


@dataclass(frozen=True, slots=True)
class NewBlackout:
    name: str
    start: datetime
    end: datetime
    reason: str = ""
    tiers: Sequence[EnvironmentTier] = ()
    application_keys: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class BlackoutPatch:
    name: str | Keep = KEEP
    start: datetime | Keep = KEEP
    end: datetime | Keep = KEEP
    reason: str | Keep = KEEP
    tiers: Sequence[EnvironmentTier] | Keep = KEEP
    application_keys: Sequence[str] | Keep = KEEP


def _window(start: datetime, end: datetime) -> None:
    try:
        check_window(start, end, start_field="start", end_field="end")
    except RuleViolation as exc:
        raise bad_input(str(exc), exc.field) from None


def _tiers(tiers: Sequence[EnvironmentTier]) -> list[str]:
    return sorted({t.name for t in tiers})


async def _applications_of(session: AsyncSession, table: Table, owner_column: str,
                           owner_id: int) -> list[str]:
    rows = await session.scalars(
        select(m.Application.key).join(table, table.c.application_id == m.Application.id)
        .where(table.c[owner_column] == owner_id).order_by(m.Application.key))
    return list(rows)


async def _set_applications(session: AsyncSession, table: Table, owner_column: str,
                            owner_id: int, apps: Sequence[m.Application]) -> None:
    await session.execute(table.delete().where(table.c[owner_column] == owner_id))
    if apps:
        await session.execute(table.insert(), [{owner_column: owner_id,
                                                "application_id": a.id} for a in apps])


async def _name_free(session: AsyncSession, name: str, exclude_id: int | None = None) -> None:
    existing = await session.scalar(select(m.Environment.id)
                                    .where(m.Environment.name == name))
    if existing is not None and existing != exclude_id:
        raise conflict(f"name {name!r} is already used", "name")


def _apps(keys: Sequence[str]) -> tuple[str, Any]:
    return ("applications", list(keys))


_ENV_APPS = (m.environment_applications, "environment_id")
_BLACKOUT_APPS = (m.blackout_applications, "blackout_id")


class EnvironmentService(Service):
    """Environments and the blackout windows that freeze them."""

    # --- environments -------------------------------------------------------------------

    async def create_environment(self, new: NewEnvironment) -> m.Environment:
        async with self.transaction() as session:
            await _name_free(session, new.name)
            apps = await applications_by_key(session, new.application_keys)
            row = m.Environment(name=new.name, tier=new.tier, deploy_target=new.deploy_target,
                                description=new.description)
            session.add(row)
            await flush_unique(session, "name")
            await _set_applications(session, *_ENV_APPS, row.id, apps)
            self.record(session, "environment.create", "Environment", row.id, row.name,
                        after=snapshot(row, _apps([a.key for a in apps])))
        return row

    async def update_environment(self, environment: Ref, patch: EnvironmentPatch
                                 ) -> m.Environment:
        async with self.transaction() as session:
            row = await lock_row(session, m.Environment, environment, "Environment")
            keys = await _applications_of(session, *_ENV_APPS, row.id)
            before = snapshot(row, _apps(keys))
            if not isinstance(patch.name, Keep):
                await _name_free(session, patch.name, exclude_id=row.id)
                row.name = patch.name
            if not isinstance(patch.tier, Keep):
                row.tier = patch.tier
            if not isinstance(patch.deploy_target, Keep):
                row.deploy_target = patch.deploy_target
            if not isinstance(patch.description, Keep):
                row.description = patch.description
            if not isinstance(patch.application_keys, Keep):
                apps = await applications_by_key(session, patch.application_keys)
                await _set_applications(session, *_ENV_APPS, row.id, apps)
                keys = [a.key for a in apps]
            await flush_unique(session, "name")
            self.record(session, "environment.update", "Environment", row.id, row.name,
                        before=before, after=snapshot(row, _apps(keys)))
        return row

    async def delete_environment(self, environment: Ref) -> None:
        async with self.transaction() as session:
            row = await lock_row(session, m.Environment, environment, "Environment")
            keys = await _applications_of(session, *_ENV_APPS, row.id)
            self.record(session, "environment.delete", "Environment", row.id, row.name,
                        before=snapshot(row, _apps(keys)))
            await session.delete(row)

    # --- blackout windows ---------------------------------------------------------------

    async def create_blackout(self, new: NewBlackout) -> m.BlackoutWindow:
        _window(new.start, new.end)
        async with self.transaction() as session:
            apps = await applications_by_key(session, new.application_keys)
            row = m.BlackoutWindow(name=new.name, start=new.start, end=new.end,
                                   reason=new.reason, tiers=_tiers(new.tiers))
            session.add(row)
            await session.flush()
            await _set_applications(session, *_BLACKOUT_APPS, row.id, apps)
            self.record(session, "blackout.create", "BlackoutWindow", row.id, row.name,
                        after=snapshot(row, _apps([a.key for a in apps])))
        return row

    async def update_blackout(self, blackout: Ref, patch: BlackoutPatch) -> m.BlackoutWindow:
        async with self.transaction() as session:
            row = await lock_row(session, m.BlackoutWindow, blackout, "BlackoutWindow")
            keys = await _applications_of(session, *_BLACKOUT_APPS, row.id)
            before = snapshot(row, _apps(keys))
            if not isinstance(patch.name, Keep):
                row.name = patch.name
            if not isinstance(patch.start, Keep):
                row.start = patch.start
            if not isinstance(patch.end, Keep):
                row.end = patch.end
            if not isinstance(patch.reason, Keep):
                row.reason = patch.reason
            if not isinstance(patch.tiers, Keep):
                row.tiers = _tiers(patch.tiers)
            _window(row.start, row.end)
            if not isinstance(patch.application_keys, Keep):
                apps = await applications_by_key(session, patch.application_keys)
                await _set_applications(session, *_BLACKOUT_APPS, row.id, apps)
                keys = [a.key for a in apps]
            self.record(session, "blackout.update", "BlackoutWindow", row.id, row.name,
                        before=before, after=snapshot(row, _apps(keys)))
        return row

    async def delete_blackout(self, blackout: Ref) -> None:
        async with self.transaction() as session:
            row = await lock_row(session, m.BlackoutWindow, blackout, "BlackoutWindow")
            keys = await _applications_of(session, *_BLACKOUT_APPS, row.id)
            self.record(session, "blackout.delete", "BlackoutWindow", row.id, row.name,
                        before=snapshot(row, _apps(keys)))
            await session.delete(row)
