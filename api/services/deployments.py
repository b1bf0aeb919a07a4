"""A deployment report applied to the releases and changes it concerns.

The rules are `api.domain.deployments`; this does the I/O: which releases the
reported code belongs to (asked of the reporting connector through
`code_ref`, so no link format is known here), which changes they are linked
to, the change moves through `ChangeService` (which refuses any move that would
approve a change) and the release move through `ReleaseService.transition`
(the one compare-and-set path). A change the ITSM refuses to move is audited
as `change.webhook_refused` and reported, never retried.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.db.audit import record
from api.domain.deployments import (
    Action,
    ChangeStep,
    change_step,
    deployment_note,
    needs_change_record,
    release_step,
)
from api.errors import ServiceError
from api.hub import Hub
from api.services.changes import ChangeService
from api.services.common import Ref
from api.services.releases import ReleaseService
from api.settings import Settings
from connectors.base import ChangePatch, ChangeState
from connectors.errors import UpstreamRefused
from connectors.webhooks import DeploymentEvent

log = logging.getLogger("heatshield.deployments")


@dataclass
class Outcome:
    """What a report did, answered to the sender (and read by tests and operators)."""

    releases: list[str] = field(default_factory=list)
    changes: dict[str, str] = field(default_factory=dict)  # "source:number" -> what happened
    refused: dict[str, str] = field(default_factory=dict)  # "source:number" -> why


async def releases_of_code(sessions: async_sessionmaker[AsyncSession], hub: Hub, source: str,
                           repository: str, ref: str) -> list[tuple[int, str]]:
    """Releases linked (at `source`) to this repository's `ref`: (id, key), by release key."""
    connector = hub.connectors.get(source)
    if connector is None:
        return []
    async with sessions() as session:
        rows = (await session.execute(
            select(m.SourceLink.release_id, m.SourceLink.kind, m.SourceLink.external_key,
                   m.Release.key)
            .join(m.Release, m.Release.id == m.SourceLink.release_id)
            .where(m.SourceLink.source == source,
                   m.SourceLink.kind != m.LinkKind.CHANGE_REQUEST)
            .order_by(m.Release.key, m.SourceLink.id))).all()
    deployed = (repository.casefold(), ref)
    found: dict[int, str] = {}
    for release_id, kind, external_key, key in rows:
        code = connector.code_ref(kind, external_key)
        if code is not None and (code[0].casefold(), code[1]) == deployed:
            found.setdefault(release_id, key)
    return list(found.items())


class DeploymentService:
    """Applies one deployment report from the connector instance `source`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                 settings: Settings, source: str) -> None:
        self.sessions = sessions
        self.hub = hub
        self.changes = ChangeService(sessions, hub, settings)
        self.source = source
        self.actor = f"webhook:{source}"

    async def apply(self, event: DeploymentEvent) -> Outcome:
        """Move the linked changes, then (on success) the deployed releases; see the module."""
        outcome = Outcome()
        releases = await self._releases(event)
        outcome.releases = [key for _, key in releases]
        linked = await self._changes([release_id for release_id, _ in releases])
        try:
            for release_id, source, number in linked:
                await self._move(event, release_id, source, number, outcome)
            if (step := release_step(event.state)) is not None:
                for release_id, _ in releases:
                    await self._release(release_id, step[0], step[1], event)
        finally:
            self.hub.cache.clear()  # whatever moved, the next read must show it
        return outcome

    async def _releases(self, event: DeploymentEvent) -> list[tuple[int, str]]:
        return await releases_of_code(self.sessions, self.hub, self.source, event.repository,
                                      event.ref)

    async def _changes(self, release_ids: Sequence[int]) -> list[tuple[int, str, str]]:
        if not release_ids:
            return []
        async with self.sessions() as session:
            rows = (await session.execute(
                select(m.SourceLink.release_id, m.SourceLink.source, m.SourceLink.external_key)
                .where(m.SourceLink.release_id.in_(release_ids),
                       m.SourceLink.kind == m.LinkKind.CHANGE_REQUEST)
                .order_by(m.SourceLink.id))).all()
        return [(r, s, n) for r, s, n in rows]

    async def _move(self, event: DeploymentEvent, release_id: int, source: str,
                    number: str, outcome: Outcome) -> None:
        key = f"{source}:{number}"
        note = deployment_note(event)
        step = ChangeStep(Action.NOTHING)
        try:
            current = None
            if needs_change_record(event.state):
                current = (await self.changes.change_source(source).changes([number])).get(
                    number)
            step = change_step(event.state, current)
            if step.action is Action.NOTHING:
                outcome.changes[key] = step.outcome
                return
            if step.action is Action.REFUSE:
                reason = (f"change {number!r} does not exist in {source!r}" if step.not_found
                          else step.outcome)
                await self._refused(release_id, key, step.target, reason, outcome)
                return
            moved = await self.changes.update_change(
                source=source, number=number,
                patch=ChangePatch(state=step.target, note=note),
                actor=self.actor, reason=note)
            outcome.changes[key] = "noted" if step.action is Action.NOTE else moved.state.name
        except (UpstreamRefused, ServiceError) as error:
            await self._refused(release_id, key, step.target, error.message, outcome)

    async def _refused(self, release_id: int, key: str, target: ChangeState | None,
                       reason: str, outcome: Outcome) -> None:
        outcome.refused[key] = reason
        async with self.sessions() as session, session.begin():
            record(session, actor=self.actor, action="change.webhook_refused",
                   entity_type="ChangeRequest", entity_id=None, entity_key=key,
                   release_id=release_id,
                   after={"state": target.name} if target else None, reason=reason)

    async def _release(self, release_id: int, start: m.ReleaseStatus, to: m.ReleaseStatus,
                       event: DeploymentEvent) -> None:
        """Through the one transition path, only from `start`: a release in any other
        status, or moved meanwhile, is left as it is."""
        try:
            await ReleaseService(self.sessions, self.actor).transition(
                Ref(release_id, str(release_id)), to, reason=deployment_note(event),
                expected_status=start)
        except ServiceError as refused:
            log.info("release %s left as it is: %s", release_id, refused.message)
