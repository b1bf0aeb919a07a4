"""Mutations of the change bridge: raise, update and sync change requests; gated transitions.

The rules live in `api/domain`; the use cases (never-twice raising, updates
that never approve) in `api/services/changes.py`. This module turns GraphQL
input into those calls; their `ServiceError`s become coded errors in
`api.graphql_view`, and upstream failures here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

import strawberry

from api.cache import change_tags
from api.db import models as m
from api.db.models import ReleaseStatus, Role
from api.domain.compose import ChangeOverrides
from api.errors import ErrorCode, ServiceError, bad_input, not_found
from api.permissions import IsReleaseManager, require_role
from api.schema import bridge_fields
from api.schema.context import Info
from api.schema.ids import expect_id
from api.schema.mutations import EXPECTED_VERSION
from api.schema.types import Release
from api.schema.upstream import CHANGE_TYPE_NAMES, ChangeRequest, change_request
from api.services.changes import ChangeService
from api.services.common import Ref
from api.services.releases import FailedGate, ReleaseService
from connectors.base import ChangePatch, ChangeState, ChangeType, RiskLevel
from connectors.errors import UpstreamError


@strawberry.input(description="Overrides of the composed change request; omitted fields keep "
                              "what Heatshield composed.")
class ChangeRequestInput:
    title: str | None = None
    description: str | None = None
    type: ChangeType | None = None
    risk: RiskLevel | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    backout_plan: str | None = None
    test_evidence: str | None = None
    configuration_items: list[str] | None = None
    assignment_group: str | None = None

    def overrides(self) -> ChangeOverrides:
        return ChangeOverrides(
            title=self.title, description=self.description, type=self.type, risk=self.risk,
            planned_start=self.planned_start, planned_end=self.planned_end,
            backout_plan=self.backout_plan, test_evidence=self.test_evidence,
            configuration_items=tuple(self.configuration_items)
            if self.configuration_items is not None else None,
            assignment_group=self.assignment_group)


@strawberry.input(description="What to change on a change request, pushed to its ITSM.")
class ChangeUpdateInput:
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    description: str | None = None
    risk: RiskLevel | None = None
    state: ChangeState | None = strawberry.field(
        default=None, description="A requested transition; the ITSM may refuse it.")
    note: str | None = strawberry.field(default=None, description="Added as a work note.")


@strawberry.input(description="Proceed although gates fail; needs a release manager and a "
                              "written reason, and is audited.")
class GateOverrideInput:
    reason: str


@strawberry.input(description="Ask for a change request beside one that is still open in the "
                              "same ITSM; needs a written reason, which is stored and audited.")
class AdditionalChangeInput:
    reason: str = strawberry.field(description="Why another change is needed (at least 10 "
                                               "characters).")


@strawberry.type
class RaiseChangePayload:
    change_request: ChangeRequest
    created: bool = strawberry.field(
        description="False when an earlier call with the same idempotency key raised it.")
    warnings: list[str]


def _bridge(info: Info) -> ChangeService:
    ctx = info.context
    return ChangeService(ctx.sessions, ctx.hub, ctx.settings)


@asynccontextmanager
async def _coded() -> AsyncIterator[None]:
    """Turn the upstream's failures into coded GraphQL errors (ServiceErrors pass through)."""
    try:
        yield
    except UpstreamError as error:
        extensions = error.extensions()
        del extensions["code"]
        raise ServiceError(ErrorCode(error.code.value), f"{error.source}: {error.message}",
                           **extensions) from None


def change_key(global_id: str) -> tuple[str, str]:
    """(source, number) from a ChangeRequest id."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, rest = base64.urlsafe_b64decode(padded).decode().partition(":")
    except (binascii.Error, ValueError):  # not base64, not ASCII, not UTF-8
        raise bad_input(f"{global_id!r} is not a change request id", "id") from None
    source, _, number = rest.partition(":")
    if type_name not in CHANGE_TYPE_NAMES or not source or not number:
        raise bad_input(f"{global_id!r} is not a change request id", "id")
    return source, number


@strawberry.type
class ChangeBridgeMutation:
    @strawberry.mutation(permission_classes=[IsReleaseManager], description=(
        "Raise the release's change request in an ITSM, composed from the release and its "
        "live work items. Idempotent with `idempotencyKey`; never a duplicate upstream. A "
        "retry while the first is still being raised waits briefly for it or gets "
        "CHANGE_IN_PROGRESS (extensions.retryAfterSeconds). Refused with CONFLICT while "
        "the release has an open change in that ITSM, unless `additional` says why."))
    async def raise_change_request(
            self, info: Info, release_id: strawberry.ID,
            itsm: Annotated[str | None, strawberry.argument(
                name="source", description="The change source (connector name).")] = None,
            input: ChangeRequestInput | None = None, idempotency_key: str | None = None,
            acknowledge_blackout: bool = False,
            additional: Annotated[AdditionalChangeInput | None, strawberry.argument(
                description="Raise although the release has an open change in this ITSM; "
                            "without it such a raise is refused with CONFLICT naming the "
                            "open change.")] = None) -> RaiseChangePayload:
        pk = expect_id(release_id, "Release", "releaseId")
        target = itsm or info.context.settings.changes.default_source
        if not target:
            raise bad_input("name the change source (no default_source is configured)",
                            "source")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
            raise bad_input("idempotencyKey must have 1 to 200 characters", "idempotencyKey")
        async with info.context.sessions() as session:
            if await session.get(m.Release, pk) is None:
                raise not_found("Release", release_id, "releaseId")
        state = await bridge_fields.live(info, pk)
        composed = bridge_fields.compose(info, state, (input or ChangeRequestInput()).overrides())
        if composed.planned_start and composed.planned_end and \
                composed.planned_end <= composed.planned_start:
            raise bad_input("plannedEnd must be after plannedStart", "input.plannedEnd")
        warnings = bridge_fields.warnings(state, composed)
        if warnings and not acknowledge_blackout:
            raise ServiceError(
                ErrorCode.BLACKOUT_WARNING,
                "the planned window falls in a blackout window: " + "; ".join(warnings),
                "acknowledgeBlackout", warnings=warnings)
        async with _coded():
            raised = await _bridge(info).raise_change(
                release_id=pk, source=target, composed=composed, actor=info.context.actor,
                idempotency_key=idempotency_key,
                additional_reason=additional.reason if additional is not None else None)
        # Only what a new change in `target` can alter; work items and deployments stay warm.
        info.context.hub.cache.invalidate(change_tags(target))
        return RaiseChangePayload(
            change_request=change_request(info, raised.change),
            created=raised.created, warnings=warnings)

    @strawberry.mutation(permission_classes=[IsReleaseManager], description=(
        "Change a change request's window, description, risk or state in its ITSM. "
        "Heatshield never approves: a state only an approved change may reach, or advancing "
        "one whose approvers are being asked, is refused with TRANSITION_REFUSED "
        "(extensions.allowed lists the moves it may make)."))
    async def update_change_request(self, info: Info, id: strawberry.ID,
                                    input: ChangeUpdateInput, reason: str = "") -> ChangeRequest:
        source, number = change_key(id)
        if (input.planned_start and input.planned_end
                and input.planned_end <= input.planned_start):
            raise bad_input("plannedEnd must be after plannedStart", "input.plannedEnd")
        patch = ChangePatch(state=input.state, description=input.description,
                            planned_start=input.planned_start, planned_end=input.planned_end,
                            risk=input.risk, note=input.note)
        async with _coded():
            updated = await _bridge(info).update_change(
                source=source, number=number, patch=patch, actor=info.context.actor,
                reason=reason)
        return change_request(info, updated)

    @strawberry.mutation(permission_classes=[IsReleaseManager], description=(
        "Read a change request afresh from its ITSM (bypassing the cache) and audit it."))
    async def sync_change_request(self, info: Info, id: strawberry.ID) -> ChangeRequest:
        source, number = change_key(id)
        async with _coded():
            found = await _bridge(info).sync_change(source=source, number=number,
                                                    actor=info.context.actor)
        return change_request(info, found)

    @strawberry.mutation(permission_classes=[IsReleaseManager], description=(
        "Move a release along its status machine, only from the status it is in when read "
        "(CONFLICT if someone moved it meanwhile). Entering DEPLOYING passes the gates, "
        "or needs an override with a reason."))
    async def transition_release(
            self, info: Info, id: strawberry.ID, to: ReleaseStatus, reason: str = "",
            override: GateOverrideInput | None = None,
            expected_version: Annotated[int | None, EXPECTED_VERSION] = None) -> Release:
        release = Ref(expect_id(id, "Release"), id)

        async def failed_gates() -> list[FailedGate]:
            live = await bridge_fields.live(info, release.pk)
            return [FailedGate(g.name, g.reason)
                    for g in bridge_fields.gate_results(bridge_fields.gates(info, live))
                    if not g.passed]

        if override is not None:
            require_role(info, Role.RELEASE_MANAGER)
        row = await ReleaseService(info.context.sessions, info.context.actor).transition(
            release, to, reason=reason, expected_version=expected_version,
            override_reason=override.reason if override is not None else None,
            gates=failed_gates)
        return Release.from_row(row)
