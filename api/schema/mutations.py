"""Write side: each mutation parses its input, calls a service, and shapes the answer.

The services (`api/services`) run every write in one transaction with its audit
event; a rule violation, a missing object or a duplicate key is a `ServiceError`
and the transaction rolls back, so a failed mutation leaves no trace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from api.db import models as m
from api.db.models import EnvironmentTier, ReleaseType
from api.domain.text import normalise_key
from api.errors import bad_input
from api.permissions import IsReleaseManager
from api.schema.context import Info
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
from api.services.applications import ApplicationPatch, ApplicationService, NewApplication
from api.services.common import KEEP, Ref
from api.services.environments import (
    BlackoutPatch,
    EnvironmentPatch,
    EnvironmentService,
    NewBlackout,
    NewEnvironment,
)
from api.services.releases import (
    NewPhase,
    NewRelease,
    PhasePatch,
    ReleasePatch,
    ReleaseService,
)
from connectors.errors import BadLinkKey

UNSET: Any = strawberry.UNSET


def _given(value: Any) -> bool:
    return value is not strawberry.UNSET


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


def _ref(global_id: str, type_name: str, field: str = "id") -> Ref:
    return Ref(expect_id(global_id, type_name, field), global_id, field)


def _releases(info: Info) -> ReleaseService:
    return ReleaseService(info.context.sessions, info.context.actor)


def _applications(info: Info) -> ApplicationService:
    return ApplicationService(info.context.sessions, info.context.actor)


def _environments(info: Info) -> EnvironmentService:
    return EnvironmentService(info.context.sessions, info.context.actor)


EXPECTED_VERSION = strawberry.argument(description=(
    "The release's `version` as you read it. The write is refused with CONFLICT "
    "(extensions.currentVersion) if the release changed since; omit it to write regardless."))


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
        row = await _applications(info).create(NewApplication(
            key=_key(input.key, max_length=40), name=_text(input.name, "name", max_length=200),
            description=input.description, repositories=input.repositories,
            jira_projects=input.jira_projects, cmdb_items=input.cmdb_items))
        return Application.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def update_application(self, info: Info, id: strawberry.ID,
                                 input: UpdateApplicationInput) -> Application:
        patch = ApplicationPatch(
            name=_text(_required(input.name, "name"), "name", max_length=200)
            if _given(input.name) else KEEP,
            description=(input.description or "") if _given(input.description) else KEEP,
            repositories=list(input.repositories or [])
            if _given(input.repositories) else KEEP,
            jira_projects=list(input.jira_projects or [])
            if _given(input.jira_projects) else KEEP,
            cmdb_items=list(input.cmdb_items or []) if _given(input.cmdb_items) else KEEP)
        row = await _applications(info).update(_ref(id, "Application"), patch)
        return Application.from_row(row)

    @strawberry.mutation(description="Delete an application no release refers to.",
                         permission_classes=[IsReleaseManager])
    async def delete_application(self, info: Info, id: strawberry.ID) -> DeletePayload:
        await _applications(info).delete(_ref(id, "Application"))
        return DeletePayload(id=id)

    # --- environments -------------------------------------------------------------------

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def create_environment(self, info: Info, input: EnvironmentInput) -> Environment:
        row = await _environments(info).create_environment(NewEnvironment(
            name=_text(input.name, "name", max_length=100), tier=input.tier,
            deploy_target=input.deploy_target, description=input.description,
            application_keys=input.application_keys))
        return Environment.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def update_environment(self, info: Info, id: strawberry.ID,
                                 input: UpdateEnvironmentInput) -> Environment:
        patch = EnvironmentPatch(
            name=_text(_required(input.name, "name"), "name", max_length=100)
            if _given(input.name) else KEEP,
            tier=_required(input.tier, "tier") if _given(input.tier) else KEEP,
            deploy_target=(input.deploy_target or "") if _given(input.deploy_target) else KEEP,
            description=(input.description or "") if _given(input.description) else KEEP,
            application_keys=list(input.application_keys or [])
            if _given(input.application_keys) else KEEP)
        row = await _environments(info).update_environment(_ref(id, "Environment"), patch)
        return Environment.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def delete_environment(self, info: Info, id: strawberry.ID) -> DeletePayload:
        await _environments(info).delete_environment(_ref(id, "Environment"))
        return DeletePayload(id=id)

    # --- blackout windows ---------------------------------------------------------------

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def create_blackout_window(self, info: Info, input: BlackoutWindowInput
                                     ) -> BlackoutWindow:
        row = await _environments(info).create_blackout(NewBlackout(
            name=_text(input.name, "name", max_length=200), start=input.start, end=input.end,
            reason=input.reason, tiers=input.tiers, application_keys=input.application_keys))
        return BlackoutWindow.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def update_blackout_window(self, info: Info, id: strawberry.ID,
                                     input: UpdateBlackoutWindowInput) -> BlackoutWindow:
        patch = BlackoutPatch(
            name=_text(_required(input.name, "name"), "name", max_length=200)
            if _given(input.name) else KEEP,
            start=_required(input.start, "start") if _given(input.start) else KEEP,
            end=_required(input.end, "end") if _given(input.end) else KEEP,
            reason=(input.reason or "") if _given(input.reason) else KEEP,
            tiers=list(input.tiers or []) if _given(input.tiers) else KEEP,
            application_keys=list(input.application_keys or [])
            if _given(input.application_keys) else KEEP)
        row = await _environments(info).update_blackout(_ref(id, "BlackoutWindow"), patch)
        return BlackoutWindow.from_row(row)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def delete_blackout_window(self, info: Info, id: strawberry.ID) -> DeletePayload:
        await _environments(info).delete_blackout(_ref(id, "BlackoutWindow"))
        return DeletePayload(id=id)

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
        raise bad_input(error.message, "link.externalKey",
                                       reason=error.reason) from None
