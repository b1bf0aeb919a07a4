"""Deployment plans (runbooks): create from a template or the previous release's plan,
edit the activities, and run them live, each write with its audit event.

Every write claims the plan's row first (a conditional UPDATE bumping its
version, the transaction's first statement: the technique of
`api.services.releases.claim`), so two people editing or running one plan
queue, each sees what the other did, and a caller that read version N may send
it as `expected_version` to be refused with CONFLICT if anyone wrote since. The
status rules and the dependency rules are `api.domain.plans`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import models as m
from api.db.audit import snapshot
from api.domain.plans import ActivityFacts, Move, check_dependencies, check_move, ordered
from api.domain.releases import RuleViolation
from api.errors import ServiceError, bad_input, conflict, not_found
from api.services.common import KEEP, Keep, Ref, Service


@dataclass(frozen=True, slots=True)
class NewActivity:
    title: str
    owner: str = ""
    planned_start: datetime | None = None
    duration_minutes: int = 0
    environment: Ref | None = None
    depends_on: Sequence[Ref] = ()
    implementation_steps: str = ""
    backout_steps: str = ""


@dataclass(frozen=True, slots=True)
class ActivityPatch:
    title: str | Keep = KEEP
    owner: str | Keep = KEEP
    planned_start: datetime | Keep | None = KEEP
    duration_minutes: int | Keep = KEEP
    environment: Ref | Keep | None = KEEP
    depends_on: Sequence[Ref] | Keep = KEEP
    implementation_steps: str | Keep = KEEP
    backout_steps: str | Keep = KEEP


@dataclass(frozen=True, slots=True)
class PlanSource:
    """Where a new plan's activities come from: a template, the previous release's plan,
    or nothing (an empty plan)."""

    template: str | None = None
    copy_previous: bool = False
    notes: str = ""


def _rule(exc: RuleViolation) -> ServiceError:
    return bad_input(str(exc), exc.field)


def _stale(expected: int | None, current: int) -> ServiceError:
    return conflict(f"the plan changed since version {expected}: it is at version {current} "
                    "now; read it again", "expectedVersion", currentVersion=current)


def _facts(rows: Sequence[m.DeploymentActivity]) -> list[ActivityFacts]:
    return [ActivityFacts(r.id, r.title, r.status, tuple(r.depends_on)) for r in rows]


async def _activities(session: AsyncSession, plan_id: int) -> list[m.DeploymentActivity]:
    return list(await session.scalars(
        select(m.DeploymentActivity).where(m.DeploymentActivity.plan_id == plan_id)
        .order_by(m.DeploymentActivity.position)
        .execution_options(populate_existing=True)))


async def _renumber(session: AsyncSession, ids: Sequence[int]) -> None:
    """Positions 0..n-1 in the order of `ids`, without ever breaking (plan, position)."""
    for index, pk in enumerate(ids):
        await session.execute(update(m.DeploymentActivity).where(m.DeploymentActivity.id == pk)
                              .values(position=-(index + 1))
                              .execution_options(synchronize_session=False))
    for index, pk in enumerate(ids):
        await session.execute(update(m.DeploymentActivity).where(m.DeploymentActivity.id == pk)
                              .values(position=index)
                              .execution_options(synchronize_session=False))


def _schedule(start: datetime | None, durations: Sequence[int],
              depends: Sequence[Sequence[int]]) -> list[datetime | None]:
    """Planned starts from `start`: each step starts when the last thing it needs ends."""
    if start is None:
        return [None] * len(durations)
    starts: list[datetime] = []
    for index in range(len(durations)):
        starts.append(max((starts[d] + timedelta(minutes=durations[d]) for d in depends[index]
                           if d < index), default=start))
    return list(starts)


class PlanService(Service):
    """A release's deployment plan, on behalf of `actor`."""

    # --- the plan -------------------------------------------------------------------------

    async def _claim(self, session: AsyncSession, plan_id: int, ref: Ref,
                     expected_version: int | None) -> m.DeploymentPlan:
        bump = (update(m.DeploymentPlan).where(m.DeploymentPlan.id == plan_id)
                .values(version=m.DeploymentPlan.version + 1)
                .returning(m.DeploymentPlan.version)
                .execution_options(synchronize_session=False))
        if expected_version is not None:
            bump = bump.where(m.DeploymentPlan.version == expected_version)
        if (await session.execute(bump)).scalar_one_or_none() is None:
            current = await session.scalar(select(m.DeploymentPlan.version)
                                           .where(m.DeploymentPlan.id == plan_id))
            if current is None:
                raise ref.missing("DeploymentPlan")
            raise _stale(expected_version, current)
        plan = await session.get(m.DeploymentPlan, plan_id, populate_existing=True)
        assert plan is not None  # the UPDATE above found it, and holds it
        return plan

    async def _plan_of_release(self, release: Ref) -> int:
        async with self.sessions() as session:
            plan_id = await session.scalar(select(m.DeploymentPlan.id)
                                           .where(m.DeploymentPlan.release_id == release.pk))
            if plan_id is None:
                if await session.get(m.Release, release.pk) is None:
                    raise release.missing("Release")
                raise not_found("DeploymentPlan of release", release.name, release.field)
        return plan_id

    async def _plan_of_activity(self, activity: Ref) -> int:
        # An activity never moves to another plan, so this read may precede the claim.
        async with self.sessions() as session:
            plan_id = await session.scalar(select(m.DeploymentActivity.plan_id)
                                           .where(m.DeploymentActivity.id == activity.pk))
        if plan_id is None:
            raise activity.missing("DeploymentActivity")
        return plan_id

    async def create_plan(self, release: Ref, source: PlanSource) -> m.DeploymentPlan:
        if source.template is not None and source.copy_previous:
            raise bad_input("start from a template or from the previous release's plan, not "
                            "both", "copyPrevious")
        async with self.transaction() as session:
            # Claim the release row first: two creators of one plan queue here.
            locked = (await session.execute(
                update(m.Release).where(m.Release.id == release.pk)
                .values(key=m.Release.key).returning(m.Release.id)
                .execution_options(synchronize_session=False))).scalar_one_or_none()
            if locked is None:
                raise release.missing("Release")
            row = await session.get(m.Release, release.pk, populate_existing=True)
            assert row is not None
            if await session.scalar(select(m.DeploymentPlan.id)
                                    .where(m.DeploymentPlan.release_id == row.id)):
                raise conflict(f"release {row.key} already has a deployment plan; edit it or "
                               "delete it first", "releaseId")
            plan = m.DeploymentPlan(release_id=row.id, notes=source.notes, origin="")
            session.add(plan)
            await session.flush()
            if source.template is not None:
                plan.origin = f"template: {source.template}"
                await self._from_template(session, plan, row, source.template)
            elif source.copy_previous:
                plan.origin = await self._from_previous(session, plan, row)
            activities = await _activities(session, plan.id)
            self.record(session, "plan.create", "DeploymentPlan", plan.id, row.key, row.id,
                        after=snapshot(plan, ("activities", [a.title for a in activities])))
        return plan

    async def _release_environments(self, session: AsyncSession, release_id: int
                                    ) -> list[m.Environment]:
        return list(await session.scalars(
            select(m.Environment).join(
                m.environment_applications,
                m.environment_applications.c.environment_id == m.Environment.id)
            .join(m.release_applications, m.release_applications.c.application_id
                  == m.environment_applications.c.application_id)
            .where(m.release_applications.c.release_id == release_id)
            .order_by(m.Environment.name).distinct()))

    async def _from_template(self, session: AsyncSession, plan: m.DeploymentPlan,
                             release: m.Release, name: str) -> None:
        template = await session.scalar(select(m.PlanTemplate)
                                        .where(m.PlanTemplate.name == name))
        if template is None:
            names = list(await session.scalars(select(m.PlanTemplate.name)
                                               .order_by(m.PlanTemplate.name)))
            raise bad_input(f"no plan template named {name!r}; templates: "
                            f"{', '.join(names) or 'none'}", "template")
        environments = await self._release_environments(session, release.id)
        steps = list(template.activities)
        starts = _schedule(release.window_start, [int(s.get("duration_minutes", 0))
                                                  for s in steps],
                           [list(s.get("depends_on", [])) for s in steps])
        rows: list[m.DeploymentActivity] = []
        for index, step in enumerate(steps):
            tier = step.get("environment_tier")
            env = next((e for e in environments if e.tier.name == tier), None)
            rows.append(m.DeploymentActivity(
                plan_id=plan.id, position=index, title=str(step["title"]), owner="",
                planned_start=starts[index],
                duration_minutes=int(step.get("duration_minutes", 0)),
                environment_id=env.id if env else None, depends_on=[],
                implementation_steps=str(step.get("implementation_steps", "")),
                backout_steps=str(step.get("backout_steps", ""))))
        session.add_all(rows)
        await session.flush()
        for row, step in zip(rows, steps, strict=True):
            row.depends_on = [rows[i].id for i in step.get("depends_on", []) if i < len(rows)]
        await session.flush()

    async def _from_previous(self, session: AsyncSession, plan: m.DeploymentPlan,
                             release: m.Release) -> str:
        """Copy the plan of the latest earlier release sharing an application."""
        apps = select(m.release_applications.c.application_id).where(
            m.release_applications.c.release_id == release.id)
        earlier = (m.Release.window_start < release.window_start
                   if release.window_start is not None else m.Release.id < release.id)
        previous = await session.scalar(
            select(m.Release).join(m.DeploymentPlan, m.DeploymentPlan.release_id == m.Release.id)
            .join(m.release_applications, m.release_applications.c.release_id == m.Release.id)
            .where(m.Release.id != release.id, earlier,
                   m.release_applications.c.application_id.in_(apps))
            .order_by(m.Release.window_start.desc().nulls_last(), m.Release.id.desc())
            .limit(1))
        if previous is None:
            raise bad_input(f"no earlier release of {release.key}'s applications has a "
                            "deployment plan to copy", "copyPrevious")
        source_plan = await session.scalar(select(m.DeploymentPlan)
                                           .where(m.DeploymentPlan.release_id == previous.id))
        assert source_plan is not None
        old = await _activities(session, source_plan.id)
        shift = (release.window_start - previous.window_start
                 if release.window_start and previous.window_start else None)
        rows = [m.DeploymentActivity(
            plan_id=plan.id, position=a.position, title=a.title, owner=a.owner,
            planned_start=a.planned_start + shift if a.planned_start and shift else None,
            duration_minutes=a.duration_minutes, environment_id=a.environment_id,
            depends_on=[], implementation_steps=a.implementation_steps,
            backout_steps=a.backout_steps) for a in old]
        session.add_all(rows)
        await session.flush()
        new_id = {a.id: r.id for a, r in zip(old, rows, strict=True)}
        for a, r in zip(old, rows, strict=True):
            r.depends_on = [new_id[d] for d in a.depends_on if d in new_id]
        await session.flush()
        return f"copied from {previous.key}"

    async def delete_plan(self, release: Ref, expected_version: int | None = None) -> None:
        plan_id = await self._plan_of_release(release)
        async with self.transaction() as session:
            plan = await self._claim(session, plan_id, release, expected_version)
            activities = await _activities(session, plan.id)
            key = await session.scalar(select(m.Release.key)
                                       .where(m.Release.id == plan.release_id))
            self.record(session, "plan.delete", "DeploymentPlan", plan.id, key or "",
                        plan.release_id,
                        before=snapshot(plan, ("activities", [a.title for a in activities])))
            await session.delete(plan)

    # --- editing ---------------------------------------------------------------------------

    async def _check_refs(self, session: AsyncSession, plan_id: int,
                          environment: Ref | Keep | None, depends_on: Sequence[Ref] | Keep
                          ) -> None:
        if isinstance(environment, Ref) and await session.get(m.Environment,
                                                              environment.pk) is None:
            raise environment.missing("Environment")
        if not isinstance(depends_on, Keep):
            ids = {r.pk for r in depends_on}
            found = set(await session.scalars(
                select(m.DeploymentActivity.id).where(m.DeploymentActivity.id.in_(ids),
                                                      m.DeploymentActivity.plan_id == plan_id)))
            for ref in depends_on:
                if ref.pk not in found:
                    raise bad_input(f"activity {ref.name!r} is not in this plan", "dependsOn")

    async def _key(self, session: AsyncSession, plan: m.DeploymentPlan) -> str:
        return await session.scalar(select(m.Release.key)
                                    .where(m.Release.id == plan.release_id)) or ""

    async def add_activity(self, release: Ref, new: NewActivity,
                           expected_version: int | None = None) -> m.DeploymentActivity:
        plan_id = await self._plan_of_release(release)
        async with self.transaction() as session:
            plan = await self._claim(session, plan_id, release, expected_version)
            await self._check_refs(session, plan.id, new.environment, new.depends_on)
            position = await session.scalar(
                select(func.coalesce(func.max(m.DeploymentActivity.position) + 1, 0))
                .where(m.DeploymentActivity.plan_id == plan.id))
            row = m.DeploymentActivity(
                plan_id=plan.id, position=position or 0, title=new.title, owner=new.owner,
                planned_start=new.planned_start, duration_minutes=new.duration_minutes,
                environment_id=new.environment.pk if new.environment else None,
                depends_on=sorted({r.pk for r in new.depends_on}),
                implementation_steps=new.implementation_steps,
                backout_steps=new.backout_steps)
            session.add(row)
            await session.flush()
            self.record(session, "activity.add", "DeploymentActivity", row.id, row.title,
                        plan.release_id, after=snapshot(row))
        return row

    async def update_activity(self, activity: Ref, patch: ActivityPatch,
                              expected_version: int | None = None) -> m.DeploymentActivity:
        plan_id = await self._plan_of_activity(activity)
        async with self.transaction() as session:
            plan = await self._claim(session, plan_id, activity, expected_version)
            await self._check_refs(session, plan.id, patch.environment, patch.depends_on)
            rows = await _activities(session, plan.id)
            row = next(r for r in rows if r.id == activity.pk)
            before = snapshot(row)
            for name in ("title", "owner", "planned_start", "duration_minutes",
                         "implementation_steps", "backout_steps"):
                value = getattr(patch, name)
                if not isinstance(value, Keep):
                    setattr(row, name, value)
            if not isinstance(patch.environment, Keep):
                row.environment_id = patch.environment.pk if patch.environment else None
            if not isinstance(patch.depends_on, Keep):
                row.depends_on = sorted({r.pk for r in patch.depends_on})
                try:
                    check_dependencies(_facts(rows))
                except RuleViolation as exc:
                    raise _rule(exc) from None
            await session.flush()
            self.record(session, "activity.update", "DeploymentActivity", row.id, row.title,
                        plan.release_id, before=before, after=snapshot(row))
        return row

    async def remove_activity(self, activity: Ref, expected_version: int | None = None) -> None:
        plan_id = await self._plan_of_activity(activity)
        async with self.transaction() as session:
            plan = await self._claim(session, plan_id, activity, expected_version)
            rows = await _activities(session, plan.id)
            row = next(r for r in rows if r.id == activity.pk)
            needed_by = [r.title for r in rows if row.id in r.depends_on]
            if needed_by:
                raise conflict(f"\"{row.title}\" is needed by "
                               f"{', '.join(repr(t) for t in needed_by)}; remove that "
                               "dependency first", "id")
            self.record(session, "activity.remove", "DeploymentActivity", row.id, row.title,
                        plan.release_id, before=snapshot(row))
            await session.delete(row)
            await session.flush()
            await _renumber(session, [r.id for r in rows if r.id != row.id])

    async def reorder(self, release: Ref, order: Sequence[Ref],
                      expected_version: int | None = None) -> m.DeploymentPlan:
        plan_id = await self._plan_of_release(release)
        async with self.transaction() as session:
            plan = await self._claim(session, plan_id, release, expected_version)
            rows = await _activities(session, plan.id)
            try:
                new_order = ordered(_facts(rows), [r.pk for r in order])
            except RuleViolation as exc:
                raise _rule(exc) from None
            await _renumber(session, new_order)
            titles = {r.id: r.title for r in rows}
            self.record(session, "plan.reorder", "DeploymentPlan", plan.id,
                        await self._key(session, plan), plan.release_id,
                        before={"order": [r.title for r in rows]},
                        after={"order": [titles[i] for i in new_order]})
        return plan

    # --- running ---------------------------------------------------------------------------

    async def move(self, activity: Ref, move: Move, note: str = "",
                   expected_version: int | None = None) -> m.DeploymentActivity:
        plan_id = await self._plan_of_activity(activity)
        async with self.transaction() as session:
            plan = await self._claim(session, plan_id, activity, expected_version)
            rows = await _activities(session, plan.id)
            row = next(r for r in rows if r.id == activity.pk)
            try:
                target = check_move(next(f for f in _facts(rows) if f.id == row.id), move,
                                    _facts(rows), note)
            except RuleViolation as exc:
                raise _rule(exc) from None
            before = {"status": row.status.name}
            now = datetime.now(UTC)
            row.status = target
            if move is Move.START:
                row.started_at, row.started_by = now, self.actor
                row.finished_at, row.finished_by = None, ""
            else:
                row.finished_at, row.finished_by = now, self.actor
            row.outcome_note = note.strip()
            await session.flush()
            self.record(session, f"activity.{move.value}", "DeploymentActivity", row.id,
                        row.title, plan.release_id, before=before,
                        after={"status": target.name, "at": now.isoformat()},
                        reason=note.strip())
        return row
