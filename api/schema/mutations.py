"""Write side: every mutation is one transaction that also writes its audit event.

Input is checked before anything is written; a rule violation, a missing
object or a duplicate key raises a coded GraphQL error and the transaction
rolls back, so a failed mutation leaves no trace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api import errors as service_errors
from api.db import models as m
from api.db.audit import record, snapshot
from api.db.models import EnvironmentTier, ReleaseType
from api.domain.releases import RuleViolation, check_window
from api.domain.text import normalise_key
from api.permissions import IsReleaseManager
from api.schema.context import Info
from api.schema.errors import bad_input, conflict, not_found
from api.schema.ids import expect_id
from api.schema.link_kinds import GraphLinkKind
from api.schema.types import (
    Application,
    BlackoutWindow,
    DeletePayload,
    Environment,
    Release,
    ReleasePhase,
    SourceLink,
)
from api.services.common import KEEP, Ref, applications_by_key
from api.services.releases import (
    NewPhase,
    NewRelease,
    PhasePatch,
    ReleasePatch,
    ReleaseService,
)
from connectors.errors import BadLinkKey

M = TypeVar("M", bound=m.Base)
UNSET: Any = strawberry.UNSET


def _given(value: Any) -> bool:
    return value is not strawberry.UNSET


def _rule(exc: RuleViolation) -> GraphQLError:
    return bad_input(str(exc), exc.field)


def _text(value: str, field: str, *, max_length: int, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise bad_input(f"{field} must not be empty", field)
    if len(value) > max_length:
        raise bad_input(f"{field} is longer than {max_length} characters", field)
    return value


def _key(value: str, field: str = "key", max_length: int = 80) -> str:
    value = normalise_key(value, field, max_length=max_length)
    if any(c.isspace() for c in value):
        raise bad_input(f"{field} must not contain spaces", field)
    return value


async def _get(session: AsyncSession, model: type[M], global_id: str, type_name: str,
               field: str = "id") -> M:
    pk = expect_id(global_id, type_name, field)
    row = await session.get(model, pk)
    if row is None:
        raise not_found(type_name, global_id, field)
    return row


async def _applications(session: AsyncSession, keys: Sequence[str],
                        field: str = "applicationKeys") -> list[m.Application]:
    return await applications_by_key(session, keys, field)


async def _unique(session: AsyncSession, model: type[m.Base], column: Any, value: str,
                  field: str, exclude_id: int | None = None) -> None:
    query = select(model).where(column == value)
    existing = await session.scalar(query)
    if existing is not None and getattr(existing, "id", None) != exclude_id:
        raise conflict(f"{field} {value!r} is already used", field)


async def _flush(session: AsyncSession, field: str) -> None:
    """Flush, turning a race on a unique constraint into CONFLICT."""
    try:
        await session.flush()
    except IntegrityError:
        raise conflict(f"{field} conflicts with an existing record", field) from None


def _ref(global_id: str, type_name: str, field: str = "id") -> Ref:
    return Ref(expect_id(global_id, type_name, field), global_id, field)


def _releases(info: Info) -> ReleaseService:
    return ReleaseService(info.context.sessions, info.context.actor)


EXPECTED_VERSION = strawberry.argument(description=(
    "The release's `version` as you read it. The write is refused with CONFLICT "
    "(extensions.currentVersion) if the release changed since; omit it to write regardless."))


def _app_keys(rows: Sequence[m.Application]) -> tuple[str, Any]:
    return ("applications", [a.key for a in rows])


async def _delete(info: Info, model: type[M], global_id: strawberry.ID, type_name: str,
                  action: str, key: Callable[[M], str],
                  release_of: Callable[[M], int | None] = lambda row: None) -> DeletePayload:
    """Delete one row and audit it with its last state, in one transaction."""
    async with info.context.transaction() as session:
        row = await _get(session, model, global_id, type_name)
        record(session, actor=info.context.actor, action=action, entity_type=type_name,
               entity_id=getattr(row, "id", None), entity_key=key(row),
               release_id=release_of(row), before=snapshot(row))
        await session.delete(row)
    return DeletePayload(id=global_id)


# --- inputs -----------------------------------------------------------------------------

@strawberry.input
class CreateReleaseInput:
    key: str
    name: str
    type: ReleaseType
    description: str = ""
    parent_id: strawberry.ID | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    application_keys: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="Only the fields given are changed; null clears an optional one.")
class UpdateReleaseInput:
    key: str | None = UNSET
    name: str | None = UNSET
    type: ReleaseType | None = UNSET
    description: str | None = UNSET
    parent_id: strawberry.ID | None = UNSET
    window_start: datetime | None = UNSET
    window_end: datetime | None = UNSET
    application_keys: list[str] | None = UNSET


@strawberry.input
class ApplicationInput:
    key: str
    name: str
    description: str = ""
    repositories: list[str] = strawberry.field(default_factory=list)
    jira_projects: list[str] = strawberry.field(default_factory=list)
    cmdb_items: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateApplicationInput:
    name: str | None = UNSET
    description: str | None = UNSET
    repositories: list[str] | None = UNSET
    jira_projects: list[str] | None = UNSET
    cmdb_items: list[str] | None = UNSET


@strawberry.input
class EnvironmentInput:
    name: str
    tier: EnvironmentTier
    deploy_target: str = ""
    description: str = ""
    application_keys: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateEnvironmentInput:
    name: str | None = UNSET
    tier: EnvironmentTier | None = UNSET
    deploy_target: str | None = UNSET
    description: str | None = UNSET
    application_keys: list[str] | None = UNSET


@strawberry.input
class BlackoutWindowInput:
    name: str
    start: datetime
    end: datetime
    reason: str = ""
    tiers: list[EnvironmentTier] = strawberry.field(default_factory=list)
    application_keys: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateBlackoutWindowInput:
    name: str | None = UNSET
    start: datetime | None = UNSET
    end: datetime | None = UNSET
    reason: str | None = UNSET
    tiers: list[EnvironmentTier] | None = UNSET
    application_keys: list[str] | None = UNSET


@strawberry.input
class ReleasePhaseInput:
    name: str
    position: int = 0
    start: datetime | None = None
    end: datetime | None = None


@strawberry.input
class UpdateReleasePhaseInput:
    name: str | None = UNSET
    position: int | None = UNSET
    start: datetime | None = UNSET
    end: datetime | None = UNSET


@strawberry.input
class SourceLinkInput:
    source: str = strawberry.field(description="A configured connector's name.")
    kind: GraphLinkKind
    external_key: str


def _required(value: Any, field: str) -> Any:
    if value is None:
        raise bad_input(f"{field} cannot be null", field)
    return value


# --- releases ---------------------------------------------------------------------------

@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def create_release(self, info: Info, input: CreateReleaseInput) -> Release:
        parent = None if input.parent_id is None else _ref(input.parent_id, "Release",
                                                           "parentId")
        row = await _releases(info).create(NewRelease(
            key=_key(input.key), name=_text(input.name, "name", max_length=200),
            type=input.type, description=input.description, parent=parent,
            window_start=input.window_start, window_end=input.window_end,
            application_keys=input.application_keys))
        return Release.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def update_release(
            self, info: Info, id: strawberry.ID, input: UpdateReleaseInput,
            expected_version: Annotated[int | None, EXPECTED_VERSION] = None) -> Release:
        parent: Ref | None = None
        if _given(input.parent_id) and input.parent_id is not None:
            parent = _ref(input.parent_id, "Release", "parentId")
        patch = ReleasePatch(
            key=_key(_required(input.key, "key")) if _given(input.key) else KEEP,
            name=_text(_required(input.name, "name"), "name", max_length=200)
            if _given(input.name) else KEEP,
            type=_required(input.type, "type") if _given(input.type) else KEEP,
            description=(input.description or "") if _given(input.description) else KEEP,
            parent=parent if _given(input.parent_id) else KEEP,
            window_start=input.window_start if _given(input.window_start) else KEEP,
            window_end=input.window_end if _given(input.window_end) else KEEP,
            application_keys=list(input.application_keys or [])
            if _given(input.application_keys) else KEEP)
        row = await _releases(info).update(_ref(id, "Release"), patch, expected_version)
        return Release.from_row(row)

    @strawberry.mutation(description="Delete a release; its children lose their parent.",
                         permission_classes=[IsReleaseManager])
    async def delete_release(
            self, info: Info, id: strawberry.ID,
            expected_version: Annotated[int | None, EXPECTED_VERSION] = None
    ) -> DeletePayload:
        await _releases(info).delete(_ref(id, "Release"), expected_version)
        return DeletePayload(id=id)

    # --- applications -------------------------------------------------------------------

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def create_application(self, info: Info, input: ApplicationInput) -> Application:
        key = _key(input.key, max_length=40)
        async with info.context.transaction() as session:
            await _unique(session, m.Application, m.Application.key, key, "key")
            row = m.Application(key=key, name=_text(input.name, "name", max_length=200),
                                description=input.description,
                                repositories=list(input.repositories),
                                jira_projects=list(input.jira_projects),
                                cmdb_items=list(input.cmdb_items))
            session.add(row)
            await _flush(session, "key")
            record(session, actor=info.context.actor, action="application.create",
                   entity_type="Application", entity_id=row.id, entity_key=row.key,
                   after=snapshot(row))
        return Application.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def update_application(self, info: Info, id: strawberry.ID,
                                 input: UpdateApplicationInput) -> Application:
        async with info.context.transaction() as session:
            row = await _get(session, m.Application, id, "Application")
            before = snapshot(row)
            if _given(input.name):
                row.name = _text(_required(input.name, "name"), "name", max_length=200)
            if _given(input.description):
                row.description = input.description or ""
            for field in ("repositories", "jira_projects", "cmdb_items"):
                value = getattr(input, field)
                if _given(value):
                    setattr(row, field, list(value or []))
            record(session, actor=info.context.actor, action="application.update",
                   entity_type="Application", entity_id=row.id, entity_key=row.key,
                   before=before, after=snapshot(row))
        return Application.from_row(row)

    @strawberry.mutation(description="Delete an application no release refers to.",
                         permission_classes=[IsReleaseManager])
    async def delete_application(self, info: Info, id: strawberry.ID) -> DeletePayload:
        async with info.context.transaction() as session:
            row = await _get(session, m.Application, id, "Application")
            used = await session.scalar(select(m.release_applications.c.release_id).where(
                m.release_applications.c.application_id == row.id).limit(1))
            if used is not None:
                raise conflict(f"application {row.key!r} is still part of a release", "id")
            record(session, actor=info.context.actor, action="application.delete",
                   entity_type="Application", entity_id=row.id, entity_key=row.key,
                   before=snapshot(row))
            await session.delete(row)
        return DeletePayload(id=id)

    # --- environments -------------------------------------------------------------------

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def create_environment(self, info: Info, input: EnvironmentInput) -> Environment:
        name = _text(input.name, "name", max_length=100)
        async with info.context.transaction() as session:
            await _unique(session, m.Environment, m.Environment.name, name, "name")
            apps = await _applications(session, input.application_keys)
            row = m.Environment(name=name, tier=input.tier, deploy_target=input.deploy_target,
                                description=input.description)
            session.add(row)
            await _flush(session, "name")
            await _set_links(session, m.environment_applications, "environment_id", row.id, apps)
            record(session, actor=info.context.actor, action="environment.create",
                   entity_type="Environment", entity_id=row.id, entity_key=row.name,
                   after=snapshot(row, _app_keys(apps)))
        return Environment.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def update_environment(self, info: Info, id: strawberry.ID,
                                 input: UpdateEnvironmentInput) -> Environment:
        async with info.context.transaction() as session:
            row = await _get(session, m.Environment, id, "Environment")
            before = snapshot(row)
            if _given(input.name):
                name = _text(_required(input.name, "name"), "name", max_length=100)
                await _unique(session, m.Environment, m.Environment.name, name, "name",
                              exclude_id=row.id)
                row.name = name
            if _given(input.tier):
                row.tier = _required(input.tier, "tier")
            if _given(input.deploy_target):
                row.deploy_target = input.deploy_target or ""
            if _given(input.description):
                row.description = input.description or ""
            extra: list[tuple[str, Any]] = []
            if _given(input.application_keys):
                apps = await _applications(session, input.application_keys or [])
                await _set_links(session, m.environment_applications, "environment_id", row.id,
                                 apps)
                extra.append(_app_keys(apps))
            await _flush(session, "name")
            record(session, actor=info.context.actor, action="environment.update",
                   entity_type="Environment", entity_id=row.id, entity_key=row.name,
                   before=before, after=snapshot(row, *extra))
        return Environment.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def delete_environment(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await _delete(info, m.Environment, id, "Environment", "environment.delete",
                             lambda row: row.name)

    # --- blackout windows ---------------------------------------------------------------

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def create_blackout_window(self, info: Info, input: BlackoutWindowInput
                                     ) -> BlackoutWindow:
        name = _text(input.name, "name", max_length=200)
        try:
            check_window(input.start, input.end, start_field="start", end_field="end")
        except RuleViolation as exc:
            raise _rule(exc) from None
        async with info.context.transaction() as session:
            apps = await _applications(session, input.application_keys)
            row = m.BlackoutWindow(name=name, start=input.start, end=input.end,
                                   reason=input.reason,
                                   tiers=sorted({t.name for t in input.tiers}))
            session.add(row)
            await session.flush()
            await _set_links(session, m.blackout_applications, "blackout_id", row.id, apps)
            record(session, actor=info.context.actor, action="blackout.create",
                   entity_type="BlackoutWindow", entity_id=row.id, entity_key=row.name,
                   after=snapshot(row, _app_keys(apps)))
        return BlackoutWindow.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def update_blackout_window(self, info: Info, id: strawberry.ID,
                                     input: UpdateBlackoutWindowInput) -> BlackoutWindow:
        async with info.context.transaction() as session:
            row = await _get(session, m.BlackoutWindow, id, "BlackoutWindow")
            before = snapshot(row)
            if _given(input.name):
                row.name = _text(_required(input.name, "name"), "name", max_length=200)
            if _given(input.start):
                row.start = _required(input.start, "start")
            if _given(input.end):
                row.end = _required(input.end, "end")
            if _given(input.reason):
                row.reason = input.reason or ""
            if _given(input.tiers):
                row.tiers = sorted({t.name for t in input.tiers or []})
            try:
                check_window(row.start, row.end, start_field="start", end_field="end")
            except RuleViolation as exc:
                raise _rule(exc) from None
            extra: list[tuple[str, Any]] = []
            if _given(input.application_keys):
                apps = await _applications(session, input.application_keys or [])
                await _set_links(session, m.blackout_applications, "blackout_id", row.id, apps)
                extra.append(_app_keys(apps))
            record(session, actor=info.context.actor, action="blackout.update",
                   entity_type="BlackoutWindow", entity_id=row.id, entity_key=row.name,
                   before=before, after=snapshot(row, *extra))
        return BlackoutWindow.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def delete_blackout_window(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await _delete(info, m.BlackoutWindow, id, "BlackoutWindow", "blackout.delete",
                             lambda row: row.name)

    # --- phases -------------------------------------------------------------------------

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def add_release_phase(
            self, info: Info, release_id: strawberry.ID, input: ReleasePhaseInput,
            expected_version: Annotated[int | None, EXPECTED_VERSION] = None
    ) -> ReleasePhase:
        new = NewPhase(name=_text(input.name, "name", max_length=100),
                       position=input.position, start=input.start, end=input.end)
        row = await _releases(info).add_phase(_ref(release_id, "Release", "releaseId"), new,
                                              expected_version)
        return ReleasePhase.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def update_release_phase(
            self, info: Info, id: strawberry.ID, input: UpdateReleasePhaseInput,
            expected_version: Annotated[int | None, EXPECTED_VERSION] = None
    ) -> ReleasePhase:
        patch = PhasePatch(
            name=_text(_required(input.name, "name"), "name", max_length=100)
            if _given(input.name) else KEEP,
            position=_required(input.position, "position") if _given(input.position) else KEEP,
            start=input.start if _given(input.start) else KEEP,
            end=input.end if _given(input.end) else KEEP)
        row = await _releases(info).update_phase(_ref(id, "ReleasePhase"), patch,
                                                 expected_version)
        return ReleasePhase.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def delete_release_phase(
            self, info: Info, id: strawberry.ID,
            expected_version: Annotated[int | None, EXPECTED_VERSION] = None
    ) -> DeletePayload:
        await _releases(info).delete_phase(_ref(id, "ReleasePhase"), expected_version)
        return DeletePayload(id=id)

    # --- source links -------------------------------------------------------------------

    @strawberry.mutation(description="Tie a release to an upstream record.",
                         permission_classes=[IsReleaseManager])
    async def link_source(
            self, info: Info, release_id: strawberry.ID, link: SourceLinkInput,
            expected_version: Annotated[int | None, EXPECTED_VERSION] = None) -> SourceLink:
        source = _key(link.source, "link.source")
        external_key = normalise_key(link.external_key, "link.externalKey", max_length=300)
        configured = {c.name for c in info.context.settings.connectors}
        if configured and source not in configured:
            raise bad_input(f"no connector named {source!r}; configured: "
                            f"{', '.join(sorted(configured))}", "link.source")
        kind = link.kind.stored()
        external_key = _link_key(info, source, kind, external_key)
        row = await _releases(info).link(
            _ref(release_id, "Release", "releaseId"), source=source, kind=kind,
            external_key=external_key, expected_version=expected_version)
        return SourceLink.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def unlink_source(
            self, info: Info, id: strawberry.ID,
            expected_version: Annotated[int | None, EXPECTED_VERSION] = None
    ) -> DeletePayload:
        await _releases(info).unlink(_ref(id, "SourceLink"), expected_version)
        return DeletePayload(id=id)


def _link_key(info: Info, source: str, kind: m.LinkKind, key: str) -> str:
    """The key as the source's kind writes it; a key it cannot name is refused."""
    try:
        return info.context.hub.parse_link(source, kind, key)
    except BadLinkKey as error:
        raise service_errors.bad_input(error.message, "link.externalKey",
                                       reason=error.reason) from None


async def _set_links(session: AsyncSession, table: Any, owner_column: str, owner_id: int,
                     apps: Sequence[m.Application]) -> None:
    await session.execute(table.delete().where(table.c[owner_column] == owner_id))
    if apps:
        await session.execute(table.insert(), [{owner_column: owner_id,
                                                "application_id": a.id} for a in apps])
