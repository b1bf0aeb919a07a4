"""The planning part of the graph: environment bookings, deployment plans, and conflicts.

Resolvers parse, call a service (`api/services/bookings.py`, `plans.py`,
`conflicts.py`) or the conflict engine (`api/domain/conflicts.py`), and shape.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import strawberry
from sqlalchemy import select

from api.db import models as m
from api.db.models import ActivityStatus, BookingStatus, Role
from api.domain import conflicts as rules
from api.domain.plans import Move
from api.errors import bad_input
from api.permissions import IsReleaseManager, IsViewer, require_role
from api.schema.context import Info
from api.schema.ids import expect_id, to_global_id
from api.schema.node import Node
from api.schema.partial_results import report
from api.schema.types import Environment, EnvironmentBooking, Release
from api.schema.upstream import ChangeRequest, change_request
from api.services.bookings import BookingService, NewBooking
from api.services.common import KEEP, Ref
from api.services.conflicts import change_facts, for_application, stored_world
from api.services.plans import ActivityPatch, NewActivity, PlanService, PlanSource
from connectors.base import KindProfile
from connectors.records import ChangeRecord, TimeWindow

From = Annotated[datetime, strawberry.argument(name="from")]
OptionalFrom = Annotated[datetime | None, strawberry.argument(name="from")]
UNSET = strawberry.UNSET
MAX_TEXT = 10_000

strawberry.enum(rules.ConflictKind, description=(
    "RELEASE_OVERLAP: two open releases of one application at once. RELEASE_IN_BLACKOUT / "
    "CHANGE_IN_BLACKOUT: a release or change window in a blackout over production for its "
    "applications. CHANGE_NOT_APPROVED: an open change with a window and no approval. "
    "BOOKING_OVERLAP: two requested or approved bookings of one environment at once. "
    "NO_PRODUCTION_BOOKING: a release window not covered by an approved booking of a "
    "production environment it deploys to. CONFIGURATION_ITEM_OVERLAP: two open changes, "
    "from any ITSM, on one configuration item at once. RELEASE_OUTSIDE_CHANGE_WINDOW: an "
    "open release whose window leaves the window its linked change was approved for."))
strawberry.enum(rules.Severity, description=(
    "BLOCKING: a gate or a rule refuses it as it stands. WARNING: worth a look."))


def _ref(global_id: str, type_name: str, field: str = "id") -> Ref:
    return Ref(expect_id(global_id, type_name, field), global_id, field)


def _text(value: str, field: str, *, max_length: int = MAX_TEXT, required: bool = False
          ) -> str:
    value = value.strip()
    if required and not value:
        raise bad_input(f"{field} must not be empty", field)
    if len(value) > max_length:
        raise bad_input(f"{field} is longer than {max_length} characters", field)
    return value


def _given(value: object) -> bool:
    return value is not UNSET


# --- bookings ------------------------------------------------------------------------------

@strawberry.input(description="Ask for an environment over [start, end) for a release or a "
                              "team (one of them).")
class BookingRequestInput:
    environment_id: strawberry.ID
    start: datetime
    end: datetime
    purpose: str
    release_id: strawberry.ID | None = None
    team: str = ""


def _bookings(info: Info) -> BookingService:
    principal = require_role(info, Role.VIEWER)
    return BookingService(info.context.sessions, info.context.actor,
                          subject=principal.subject,
                          manager=principal.allows(Role.RELEASE_MANAGER))


EXPECTED = strawberry.argument(description=(
    "The `version` you read; the write is refused with CONFLICT (extensions.currentVersion) "
    "if it changed since. Omit to write regardless."))


# --- plans ---------------------------------------------------------------------------------

@strawberry.type(description="One step of a deployment plan.")
class DeploymentActivity(Node):
    db_id: strawberry.Private[int]
    environment_id: strawberry.Private[int | None]
    depends_on_ids: strawberry.Private[list[int]]
    position: int = strawberry.field(description="Its place in the plan, from 0.")
    title: str
    owner: str
    planned_start: datetime | None
    duration_minutes: int
    status: ActivityStatus
    implementation_steps: str
    backout_steps: str
    started_at: datetime | None
    started_by: str
    finished_at: datetime | None = strawberry.field(description=(
        "When it was completed, failed or skipped."))
    finished_by: str
    outcome_note: str = strawberry.field(description="Why it failed or was skipped.")

    @classmethod
    def from_row(cls, row: m.DeploymentActivity) -> DeploymentActivity:
        return cls(id=strawberry.ID(to_global_id("DeploymentActivity", row.id)), db_id=row.id,
                   environment_id=row.environment_id, depends_on_ids=list(row.depends_on),
                   position=row.position, title=row.title, owner=row.owner,
                   planned_start=row.planned_start, duration_minutes=row.duration_minutes,
                   status=row.status, implementation_steps=row.implementation_steps,
                   backout_steps=row.backout_steps, started_at=row.started_at,
                   started_by=row.started_by, finished_at=row.finished_at,
                   finished_by=row.finished_by, outcome_note=row.outcome_note)

    @strawberry.field(description="Planned start plus duration.")
    def planned_end(self) -> datetime | None:
        if self.planned_start is None:
            return None
        return self.planned_start + timedelta(minutes=self.duration_minutes)

    @strawberry.field(description="Ids of the activities that must be done or skipped first.")
    def depends_on(self) -> list[strawberry.ID]:
        return [strawberry.ID(to_global_id("DeploymentActivity", pk))
                for pk in self.depends_on_ids]

    @strawberry.field
    async def environment(self, info: Info) -> Environment | None:
        if self.environment_id is None:
            return None
        row = await info.context.loaders.environment.load(self.environment_id)
        return Environment.from_row(row) if row else None


@strawberry.type(description="A release's runbook: its activities in order.")
class DeploymentPlan(Node):
    db_id: strawberry.Private[int]
    release_id: strawberry.Private[int]
    notes: str
    origin: str = strawberry.field(description=(
        "Where it came from: a template's name or the release it was copied from."))
    version: int = strawberry.field(description=(
        "Grows with every write of the plan or its activities; send it as "
        "`expectedVersion`."))
    activities: list[DeploymentActivity]

    @classmethod
    def from_rows(cls, plan: m.DeploymentPlan, activities: list[m.DeploymentActivity]
                  ) -> DeploymentPlan:
        return cls(id=strawberry.ID(to_global_id("DeploymentPlan", plan.id)), db_id=plan.id,
                   release_id=plan.release_id, notes=plan.notes, origin=plan.origin,
                   version=plan.version,
                   activities=[DeploymentActivity.from_row(a) for a in activities])

    @classmethod
    async def of_release(cls, info: Info, release_id: int) -> DeploymentPlan | None:
        async with info.context.sessions() as session:
            plan = await session.scalar(select(m.DeploymentPlan)
                                        .where(m.DeploymentPlan.release_id == release_id))
            if plan is None:
                return None
            rows = list(await session.scalars(
                select(m.DeploymentActivity).where(m.DeploymentActivity.plan_id == plan.id)
                .order_by(m.DeploymentActivity.position)))
        return cls.from_rows(plan, rows)

    @strawberry.field(description="Where the run stands: how many activities in each status.")
    def progress(self) -> list[ActivityCount]:
        return [ActivityCount(status=s, count=sum(a.status is s for a in self.activities))
                for s in ActivityStatus]

    @strawberry.field
    async def release(self, info: Info) -> Release | None:
        row = await info.context.loaders.release.load(self.release_id)
        return Release.from_row(row) if row else None


@strawberry.type
class ActivityCount:
    status: ActivityStatus
    count: int


@strawberry.type(description="A runbook a plan can start from (activities without dates).")
class PlanTemplate(Node):
    name: str
    description: str
    activity_titles: list[str]

    @classmethod
    def from_row(cls, row: m.PlanTemplate) -> PlanTemplate:
        return cls(id=strawberry.ID(to_global_id("PlanTemplate", row.id)), name=row.name,
                   description=row.description,
                   activity_titles=[str(a.get("title", "")) for a in row.activities])


@strawberry.input
class PlanActivityInput:
    title: str
    owner: str = ""
    planned_start: datetime | None = None
    duration_minutes: int = 0
    environment_id: strawberry.ID | None = None
    depends_on: list[strawberry.ID] = strawberry.field(default_factory=list)
    implementation_steps: str = ""
    backout_steps: str = ""


@strawberry.input(description="Only the fields given change; null clears an optional one.")
class UpdatePlanActivityInput:
    title: str | None = UNSET
    owner: str | None = UNSET
    planned_start: datetime | None = UNSET
    duration_minutes: int | None = UNSET
    environment_id: strawberry.ID | None = UNSET
    depends_on: list[strawberry.ID] | None = UNSET
    implementation_steps: str | None = UNSET
    backout_steps: str | None = UNSET


def _duration(value: int) -> int:
    if not 0 <= value <= 7 * 24 * 60:
        raise bad_input("durationMinutes must be between 0 and 10080 (a week)",
                        "durationMinutes")
    return value


def _activity_refs(ids: list[strawberry.ID]) -> list[Ref]:
    return [_ref(i, "DeploymentActivity", "dependsOn") for i in ids]


def _plans(info: Info) -> PlanService:
    return PlanService(info.context.sessions, info.context.actor)


async def _plan_answer(info: Info, release_id: int) -> DeploymentPlan:
    plan = await DeploymentPlan.of_release(info, release_id)
    assert plan is not None  # just written
    return plan


# --- conflicts -----------------------------------------------------------------------------

@strawberry.type(description="A record a conflict involves.")
class ConflictRecord:
    type: str = strawberry.field(description=(
        "Release, ChangeRequest, BlackoutWindow, EnvironmentBooking or Environment."))
    id: strawberry.ID = strawberry.field(description=(
        "Its graph id: `node(id:)` reads Heatshield's records; a change's id is the one "
        "`changeRequest` carries."))
    label: str = strawberry.field(description="What people call it: a key, a number, a name.")
    change_request: ChangeRequest | None = strawberry.field(description=(
        "The change request, live from its ITSM, when the record is one."))


@strawberry.type(description="Something in the plan that clashes, with the records involved.")
class Conflict:
    kind: rules.ConflictKind
    severity: rules.Severity
    start: datetime = strawberry.field(description="Where the clash starts.")
    end: datetime = strawberry.field(description="Where it ends (= start for an instant).")
    reason: str = strawberry.field(description="The clash in plain words.")
    records: list[ConflictRecord]


@strawberry.input(description="All given conditions must hold.")
class ConflictFilter:
    kinds: list[rules.ConflictKind] | None = None
    severity: rules.Severity | None = None
    application: str | None = strawberry.field(default=None, description=(
        "Only conflicts about this application's releases, changes and environments."))


_OWN_TYPES = {"Release", "BlackoutWindow", "EnvironmentBooking", "Environment"}


def _record(info: Info, involved: rules.Involved, changes: dict[str, ChangeRecord]
            ) -> ConflictRecord:
    if involved.type in _OWN_TYPES:
        return ConflictRecord(type=involved.type, label=involved.label, change_request=None,
                              id=strawberry.ID(to_global_id(involved.type,
                                                            int(involved.id))))
    change = change_request(info, changes[involved.id])
    return ConflictRecord(type=involved.type, id=change.id, label=involved.label,
                          change_request=change)


def _products(info: Info) -> dict[str, str]:
    """Each source's product name (from its kind profile), for conflict reasons."""
    return {name: KindProfile.of(type(connector)).product
            for name, connector in info.context.hub.connectors.items()}


async def find_conflicts(info: Info, start: datetime, end: datetime,
                         filter: ConflictFilter | None = None) -> list[Conflict]:
    """The conflict engine over [start, end): stored facts and every ITSM's changes."""
    if end <= start:
        raise bad_input("to must be after from", "to")
    if end - start > MAX_PERIOD:
        raise bad_input("the period may be at most 400 days", "to")
    filter = filter or ConflictFilter()
    stored = await stored_world(info.context.sessions, start, end)
    records: list[ChangeRecord] = []
    sources = sorted(info.context.hub.change_sources())
    for _, result in await info.context.upstream.search_changes(
            sources, (None, TimeWindow(start, end))):
        report(info, result)
        records += result.value or []
    changes = {f"{r.source}:{r.number}": r for r in records}
    world = rules.World(releases=stored.world.releases, blackouts=stored.world.blackouts,
                        environments=stored.world.environments,
                        bookings=stored.world.bookings,
                        changes=change_facts(list(changes.values()), stored.applications_by_ci,
                                             _products(info)))
    if filter.application:
        world = for_application(world, filter.application)
    found = rules.find_conflicts(world, filter.kinds)
    if filter.severity is not None:
        found = [c for c in found if c.severity is filter.severity]
    return [Conflict(kind=c.kind, severity=c.severity, start=c.span.start, end=c.span.end,
                     reason=c.reason,
                     records=[_record(info, i, changes) for i in c.involved])
            for c in found]


MAX_PERIOD = timedelta(days=400)


# --- the graph -----------------------------------------------------------------------------

@strawberry.type
class PlanningQuery:
    @strawberry.field(description=(
        "Environment bookings overlapping [from, to), by start; optionally of one "
        "environment and in some statuses."), permission_classes=[IsViewer])
    async def bookings(self, info: Info, from_: OptionalFrom = None, to: datetime | None = None,
                       environment_id: strawberry.ID | None = None,
                       status: list[BookingStatus] | None = None,
                       first: int = 100) -> list[EnvironmentBooking]:
        first = max(0, min(first, 500))
        query = select(m.EnvironmentBooking)
        if from_ is not None:
            query = query.where(m.EnvironmentBooking.end > from_)
        if to is not None:
            query = query.where(m.EnvironmentBooking.start < to)
        if environment_id is not None:
            query = query.where(m.EnvironmentBooking.environment_id == expect_id(
                environment_id, "Environment", "environmentId"))
        if status:
            query = query.where(m.EnvironmentBooking.status.in_(status))
        async with info.context.sessions() as session:
            rows = await session.scalars(query.order_by(m.EnvironmentBooking.start,
                                                        m.EnvironmentBooking.id).limit(first))
            return [EnvironmentBooking.from_row(r) for r in rows]

    @strawberry.field(description=(
        "Every conflict in [from, to) (at most 400 days), by start: across releases, "
        "blackouts, bookings and the change requests of every ITSM. A failing ITSM leaves "
        "its changes out, with an error saying so."), permission_classes=[IsViewer])
    async def conflicts(self, info: Info, from_: From, to: datetime,
                        filter: ConflictFilter | None = None) -> list[Conflict]:
        return await find_conflicts(info, from_, to, filter)

    @strawberry.field(description="Runbooks a deployment plan can start from.",
                      permission_classes=[IsViewer])
    async def plan_templates(self, info: Info) -> list[PlanTemplate]:
        async with info.context.sessions() as session:
            rows = await session.scalars(select(m.PlanTemplate).order_by(m.PlanTemplate.name))
            return [PlanTemplate.from_row(r) for r in rows]


@strawberry.type
class PlanningMutation:
    # --- bookings --------------------------------------------------------------------------

    @strawberry.mutation(description=(
        "Ask for an environment. Anyone signed in may ask; a release manager decides."),
        permission_classes=[IsViewer])
    async def request_booking(self, info: Info, input: BookingRequestInput
                              ) -> EnvironmentBooking:
        release = (None if input.release_id is None
                   else _ref(input.release_id, "Release", "releaseId"))
        row = await _bookings(info).request(NewBooking(
            environment=_ref(input.environment_id, "Environment", "environmentId"),
            start=input.start, end=input.end,
            purpose=_text(input.purpose, "purpose", required=True),
            release=release, team=_text(input.team, "team", max_length=100)))
        return EnvironmentBooking.from_row(row)

    @strawberry.mutation(description=(
        "Approve a requested booking. Refused with CONFLICT (extensions.overlapping: the "
        "approved bookings' ids) when an approved booking of the environment overlaps, "
        "unless `override` gives a written reason, which is audited."),
        permission_classes=[IsReleaseManager])
    async def approve_booking(
            self, info: Info, id: strawberry.ID, reason: str = "",
            override: str | None = None,
            expected_version: Annotated[int | None, EXPECTED] = None) -> EnvironmentBooking:
        row = await _bookings(info).approve(
            _ref(id, "EnvironmentBooking"), reason=_text(reason, "reason"),
            override=None if override is None else _text(override, "override"),
            expected_version=expected_version)
        return EnvironmentBooking.from_row(row)

    @strawberry.mutation(description="Reject a requested booking, saying why.",
                         permission_classes=[IsReleaseManager])
    async def reject_booking(
            self, info: Info, id: strawberry.ID, reason: str,
            expected_version: Annotated[int | None, EXPECTED] = None) -> EnvironmentBooking:
        row = await _bookings(info).reject(_ref(id, "EnvironmentBooking"),
                                           reason=_text(reason, "reason"),
                                           expected_version=expected_version)
        return EnvironmentBooking.from_row(row)

    @strawberry.mutation(description=(
        "Cancel a requested or approved booking: its requester or a release manager."),
        permission_classes=[IsViewer])
    async def cancel_booking(
            self, info: Info, id: strawberry.ID, reason: str = "",
            expected_version: Annotated[int | None, EXPECTED] = None) -> EnvironmentBooking:
        row = await _bookings(info).cancel(_ref(id, "EnvironmentBooking"),
                                           reason=_text(reason, "reason"),
                                           expected_version=expected_version)
        return EnvironmentBooking.from_row(row)

    # --- plans -----------------------------------------------------------------------------

    @strawberry.mutation(description=(
        "Give a release its deployment plan: from a template (see `planTemplates`), as a "
        "copy of the plan of the latest earlier release of its applications, or empty. "
        "Template activities are scheduled from the release's window start, one after "
        "what each depends on, in the release's environments of the template's tiers."),
        permission_classes=[IsReleaseManager])
    async def create_deployment_plan(self, info: Info, release_id: strawberry.ID,
                                     template: str | None = None, copy_previous: bool = False,
                                     notes: str = "") -> DeploymentPlan:
        release = _ref(release_id, "Release", "releaseId")
        await _plans(info).create_plan(release, PlanSource(
            template=template, copy_previous=copy_previous, notes=_text(notes, "notes")))
        return await _plan_answer(info, release.pk)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def delete_deployment_plan(
            self, info: Info, release_id: strawberry.ID,
            expected_version: Annotated[int | None, EXPECTED] = None) -> strawberry.ID:
        await _plans(info).delete_plan(_ref(release_id, "Release", "releaseId"),
                                       expected_version)
        return release_id

    @strawberry.mutation(description="Add an activity at the end of the release's plan.",
                         permission_classes=[IsReleaseManager])
    async def add_plan_activity(
            self, info: Info, release_id: strawberry.ID, input: PlanActivityInput,
            expected_version: Annotated[int | None, EXPECTED] = None) -> DeploymentPlan:
        release = _ref(release_id, "Release", "releaseId")
        await _plans(info).add_activity(release, NewActivity(
            title=_text(input.title, "title", max_length=300, required=True),
            owner=_text(input.owner, "owner", max_length=100),
            planned_start=input.planned_start, duration_minutes=_duration(
                input.duration_minutes),
            environment=None if input.environment_id is None else _ref(
                input.environment_id, "Environment", "environmentId"),
            depends_on=_activity_refs(input.depends_on),
            implementation_steps=_text(input.implementation_steps, "implementationSteps"),
            backout_steps=_text(input.backout_steps, "backoutSteps")), expected_version)
        return await _plan_answer(info, release.pk)

    @strawberry.mutation(description=(
        "Edit an activity; dependencies that would loop are refused."),
        permission_classes=[IsReleaseManager])
    async def update_plan_activity(
            self, info: Info, id: strawberry.ID, input: UpdatePlanActivityInput,
            expected_version: Annotated[int | None, EXPECTED] = None) -> DeploymentActivity:
        def text(value: str | None, field: str, limit: int = MAX_TEXT,
                 required: bool = False) -> str:
            if value is None:
                if required:
                    raise bad_input(f"{field} cannot be null", field)
                return ""
            return _text(value, field, max_length=limit, required=required)

        environment: Ref | None = None
        if _given(input.environment_id) and input.environment_id is not None:
            environment = _ref(input.environment_id, "Environment", "environmentId")
        patch = ActivityPatch(
            title=text(input.title, "title", 300, True) if _given(input.title) else KEEP,
            owner=text(input.owner, "owner", 100) if _given(input.owner) else KEEP,
            planned_start=input.planned_start if _given(input.planned_start) else KEEP,
            duration_minutes=_duration(input.duration_minutes or 0)
            if _given(input.duration_minutes) else KEEP,
            environment=environment if _given(input.environment_id) else KEEP,
            depends_on=_activity_refs(input.depends_on or [])
            if _given(input.depends_on) else KEEP,
            implementation_steps=text(input.implementation_steps, "implementationSteps")
            if _given(input.implementation_steps) else KEEP,
            backout_steps=text(input.backout_steps, "backoutSteps")
            if _given(input.backout_steps) else KEEP)
        row = await _plans(info).update_activity(_ref(id, "DeploymentActivity"), patch,
                                                 expected_version)
        return DeploymentActivity.from_row(row)

    @strawberry.mutation(description=(
        "Remove an activity; refused while another depends on it."),
        permission_classes=[IsReleaseManager])
    async def remove_plan_activity(
            self, info: Info, id: strawberry.ID,
            expected_version: Annotated[int | None, EXPECTED] = None) -> strawberry.ID:
        await _plans(info).remove_activity(_ref(id, "DeploymentActivity"), expected_version)
        return id

    @strawberry.mutation(description="Put the plan's activities in this order (all of them).",
                         permission_classes=[IsReleaseManager])
    async def reorder_plan_activities(
            self, info: Info, release_id: strawberry.ID, activity_ids: list[strawberry.ID],
            expected_version: Annotated[int | None, EXPECTED] = None) -> DeploymentPlan:
        release = _ref(release_id, "Release", "releaseId")
        await _plans(info).reorder(
            release, [_ref(i, "DeploymentActivity", "activityIds") for i in activity_ids],
            expected_version)
        return await _plan_answer(info, release.pk)

    @strawberry.mutation(description=(
        "Start (or retry after a failure) an activity whose dependencies are done or "
        "skipped."), permission_classes=[IsReleaseManager])
    async def start_activity(self, info: Info, id: strawberry.ID, note: str = ""
                             ) -> DeploymentActivity:
        return await _move(info, id, Move.START, note)

    @strawberry.mutation(permission_classes=[IsReleaseManager])
    async def complete_activity(self, info: Info, id: strawberry.ID, note: str = ""
                                ) -> DeploymentActivity:
        return await _move(info, id, Move.COMPLETE, note)

    @strawberry.mutation(description="Mark an activity in progress as failed, saying why.",
                         permission_classes=[IsReleaseManager])
    async def fail_activity(self, info: Info, id: strawberry.ID, note: str
                            ) -> DeploymentActivity:
        return await _move(info, id, Move.FAIL, note)

    @strawberry.mutation(description="Skip an activity not started (or failed), saying why.",
                         permission_classes=[IsReleaseManager])
    async def skip_activity(self, info: Info, id: strawberry.ID, note: str
                            ) -> DeploymentActivity:
        return await _move(info, id, Move.SKIP, note)


async def _move(info: Info, id: strawberry.ID, move: Move, note: str) -> DeploymentActivity:
    row = await _plans(info).move(_ref(id, "DeploymentActivity"), move,
                                  _text(note, "note"))
    return DeploymentActivity.from_row(row)
