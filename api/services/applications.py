"""Application use cases: the catalogue releases, environments and blackouts refer to.

Each runs in one transaction with its audit event; an update or delete locks
the application's row first (`lock_row`), so its audit "before" is what the
write replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from api.db import models as m
from api.db.audit import snapshot
from api.errors import conflict
from api.services.common import KEEP, Keep, Ref, Service, flush_unique, lock_row


@dataclass(frozen=True, slots=True)
class NewApplication:
    key: str
    name: str
    description: str = ""
    repositories: Sequence[str] = ()
    jira_projects: Sequence[str] = ()
    cmdb_items: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ApplicationPatch:
    """What an update changes; a field left at KEEP stays as stored."""

    name: str | Keep = KEEP
    description: str | Keep = KEEP
    repositories: Sequence[str] | Keep = KEEP
    jira_projects: Sequence[str] | Keep = KEEP
    cmdb_items: Sequence[str] | Keep = KEEP


class ApplicationService(Service):
    async def create(self, new: NewApplication) -> m.Application:
        async with self.transaction() as session:
            taken = await session.scalar(select(m.Application.id)
                                         .where(m.Application.key == new.key))
            if taken is not None:
                raise conflict(f"key {new.key!r} is already used", "key")
            row = m.Application(key=new.key, name=new.name, description=new.description,
                                repositories=list(new.repositories),
                                jira_projects=list(new.jira_projects),
                                cmdb_items=list(new.cmdb_items))
            session.add(row)
            await flush_unique(session, "key")
            self.record(session, "application.create", "Application", row.id, row.key,
                        after=snapshot(row))
        return row

    async def update(self, application: Ref, patch: ApplicationPatch) -> m.Application:
        async with self.transaction() as session:
            row = await lock_row(session, m.Application, application, "Application")
            before = snapshot(row)
            if not isinstance(patch.name, Keep):
                row.name = patch.name
            if not isinstance(patch.description, Keep):
                row.description = patch.description
            if not isinstance(patch.repositories, Keep):
                row.repositories = list(patch.repositories)
            if not isinstance(patch.jira_projects, Keep):
                row.jira_projects = list(patch.jira_projects)
            if not isinstance(patch.cmdb_items, Keep):
                row.cmdb_items = list(patch.cmdb_items)
            self.record(session, "application.update", "Application", row.id, row.key,
                        before=before, after=snapshot(row))
        return row

    async def delete(self, application: Ref) -> None:
        """Delete an application no release refers to."""
        async with self.transaction() as session:
            row = await lock_row(session, m.Application, application, "Application")
            used = await session.scalar(select(m.release_applications.c.release_id).where(
                m.release_applications.c.application_id == row.id).limit(1))
            if used is not None:
                raise conflict(f"application {row.key!r} is still part of a release", "id")
            self.record(session, "application.delete", "Application", row.id, row.key,
                        before=snapshot(row))
            await session.delete(row)
