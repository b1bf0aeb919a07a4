"""The change bridge's I/O: raise, update and sync change requests, never twice.

Raising follows one rule: write the intent (with a fresh correlation id) and
commit it *before* calling the ITSM; carry the correlation id into the
upstream record; and before any create, on retry or after a restart, look the
id up upstream. A lost response, a retry or a crash between the upstream write
and the local commit therefore finds the record instead of creating another.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.db.audit import record, snapshot
from api.domain.compose import ComposeConfig, ComposedChange
from api.domain.facts import AppFacts, BlackoutFacts, ReleaseFacts
from api.domain.gates import BlockerRule
from api.hub import Hub
from api.services.release_facts import blackouts_overlapping
from api.settings import Settings
from connectors.base import (
    ChangePatch,
    ChangeRecord,
    ChangeSource,
    ChangeType,
    RiskLevel,
    WorkStatus,
)
from connectors.errors import UpstreamError, UpstreamRefused

log = logging.getLogger("heatshield.changes")

# Test-only fault point: die right after the upstream create, before the local
# commit, to prove that a restart finds the change instead of raising it again.
CRASH_AFTER_CREATE_ENV = "HEATSHIELD_TEST_CRASH_AFTER_UPSTREAM_CREATE"


class ChangeBridgeError(Exception):
    """Refused before anything was sent upstream; `code` and `field` go to the client."""

    def __init__(self, message: str, code: str, field: str | None = None,
                 **extensions: Any) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.extensions = extensions


@dataclass(frozen=True, slots=True)
class Raised:
    change: ChangeRecord
    created: bool  # False when an earlier call (same idempotency key) had raised it


def compose_config(settings: Settings) -> ComposeConfig:
    return ComposeConfig(
        change_types={k: ChangeType[v] for k, v in settings.changes.change_types.items()},
        backout_plan=settings.changes.backout_plan,
        pre_approved_standard=settings.changes.pre_approved_standard)


def blocker_rule(settings: Settings) -> BlockerRule:
    changes = settings.changes
    return BlockerRule(priorities=frozenset(p.casefold() for p in changes.blocker_priorities),
                       statuses=frozenset(WorkStatus[s] for s in changes.blocker_statuses),
                       labels=frozenset(label.casefold() for label in changes.blocker_labels))


async def release_facts(session: AsyncSession, release: m.Release) -> ReleaseFacts:
    apps = (await session.scalars(
        select(m.Application).join(m.release_applications,
                                   m.release_applications.c.application_id == m.Application.id)
        .where(m.release_applications.c.release_id == release.id)
        .order_by(m.Application.key))).all()
    return ReleaseFacts(
        key=release.key, name=release.name, type=release.type.name,
        status=release.status.name, window_start=release.window_start,
        window_end=release.window_end, description=release.description,
        applications=tuple(AppFacts(a.key, a.name, tuple(a.cmdb_items)) for a in apps))


async def blackout_facts(session: AsyncSession, start: datetime | None, end: datetime | None
                         ) -> list[BlackoutFacts]:
    """Blackout windows overlapping [start, end); none when the window is unset."""
    if start is None or end is None:
        return []
    return await blackouts_overlapping(session, [(start, end)])


def _draft_json(composed: ComposedChange) -> dict[str, Any]:
    return {"title": composed.title, "type": composed.type.name, "risk": composed.risk.name,
            "planned_start": composed.planned_start.isoformat() if composed.planned_start
            else None,
            "planned_end": composed.planned_end.isoformat() if composed.planned_end else None,
            "configuration_items": list(composed.configuration_items),
            "description": composed.description}


class ChangeBridge:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                 settings: Settings) -> None:
        self.sessions = sessions
        self.hub = hub
        self.settings = settings

    def change_source(self, source: str, field: str = "source") -> ChangeSource:
        sources = self.hub.change_sources()
        if source not in sources:
            raise ChangeBridgeError(
                f"{source!r} is not a change source; change sources: "
                f"{', '.join(sorted(sources)) or 'none configured'}", "BAD_USER_INPUT", field)
        return sources[source]

    async def raise_change(self, *, release_id: int, source: str, composed: ComposedChange,
                           actor: str, idempotency_key: str | None = None) -> Raised:
        connector = self.change_source(source)
        async with self.sessions() as session, session.begin():
            release = await session.get(m.Release, release_id)
            if release is None:
                raise ChangeBridgeError("the release does not exist", "NOT_FOUND", "releaseId")
            intent = None
            if idempotency_key is not None:
                intent = await session.scalar(select(m.ChangeIntent).where(
                    m.ChangeIntent.release_id == release_id,
                    m.ChangeIntent.idempotency_key == idempotency_key))
            if intent is not None and intent.source != source:
                raise ChangeBridgeError(
                    f"idempotency key {idempotency_key!r} was used for a change in "
                    f"{intent.source!r}", "CONFLICT", "idempotencyKey")
            if intent is None:
                # Recorded and committed before any upstream call: nothing is lost.
                intent = m.ChangeIntent(
                    release_id=release_id, source=source,
                    correlation_id=f"heatshield-{uuid.uuid4().hex}",
                    idempotency_key=idempotency_key, draft=_draft_json(composed), actor=actor)
                session.add(intent)
                await session.flush()
                record(session, actor=actor, action="change.intent", entity_type="ChangeIntent",
                       entity_id=intent.id, entity_key=intent.correlation_id,
                       release_id=release_id, after=snapshot(intent))
            intent_id, correlation_id = intent.id, intent.correlation_id
            done = intent.status is m.IntentStatus.CREATED and intent.number
            number = intent.number
        if done and number:
            found = await connector.changes([number])
            if number in found:
                return Raised(found[number], created=False)
        existing = await connector.find_by_correlation_id(correlation_id)
        if existing is not None:
            await self._confirm(intent_id, existing, actor)
            return Raised(existing, created=False)
        try:
            created = await connector.create_change(composed.draft(correlation_id))
        except UpstreamRefused as error:
            await self._fail(intent_id, error.message, actor)
            raise
        if os.environ.get(CRASH_AFTER_CREATE_ENV):
            log.critical("test fault: exiting after the upstream create of %s", created.number)
            os._exit(70)
        await self._confirm(intent_id, created, actor)
        return Raised(created, created=True)

    async def _confirm(self, intent_id: int, change: ChangeRecord, actor: str) -> None:
        """Mark the intent done and link the change to its release, once."""
        async with self.sessions() as session, session.begin():
            intent = await session.get(m.ChangeIntent, intent_id)
            assert intent is not None
            before = snapshot(intent)
            intent.status = m.IntentStatus.CREATED
            intent.number = change.number
            linked = await session.scalar(select(m.SourceLink.id).where(
                m.SourceLink.release_id == intent.release_id,
                m.SourceLink.source == intent.source,
                m.SourceLink.kind == m.LinkKind.CHANGE_REQUEST,
                m.SourceLink.external_key == change.number))
            if linked is None:
                link = m.SourceLink(release_id=intent.release_id, source=intent.source,
                                    kind=m.LinkKind.CHANGE_REQUEST, external_key=change.number)
                session.add(link)
                await session.flush()
                record(session, actor=actor, action="change.raise", entity_type="SourceLink",
                       entity_id=link.id, entity_key=f"{intent.source}:{change.number}",
                       release_id=intent.release_id, before=before, after=snapshot(intent))

    async def _fail(self, intent_id: int, reason: str, actor: str) -> None:
        async with self.sessions() as session, session.begin():
            intent = await session.get(m.ChangeIntent, intent_id)
            assert intent is not None
            intent.status = m.IntentStatus.FAILED
            intent.error = reason
            record(session, actor=actor, action="change.refused", entity_type="ChangeIntent",
                   entity_id=intent.id, entity_key=intent.correlation_id,
                   release_id=intent.release_id, after=snapshot(intent), reason=reason)

    async def reconcile(self) -> int:
        """Finish intents a crash or a lost answer left pending; returns how many."""
        async with self.sessions() as session:
            pending = (await session.scalars(select(m.ChangeIntent).where(
                m.ChangeIntent.status == m.IntentStatus.PENDING))).all()
        finished = 0
        for intent in pending:
            connector = self.hub.change_sources().get(intent.source)
            if connector is None:
                continue
            try:
                found = await connector.find_by_correlation_id(intent.correlation_id)
            except UpstreamError as error:
                log.warning("could not reconcile %s: %s", intent.correlation_id, error.message)
                continue
            if found is not None:
                await self._confirm(intent.id, found, "heatshield")
                finished += 1
        return finished

    async def update_change(self, *, source: str, number: str, patch: ChangePatch,
                            actor: str, reason: str = "") -> ChangeRecord:
        connector = self.change_source(source)
        before = (await connector.changes([number])).get(number)
        if before is None:
            raise ChangeBridgeError(f"change {number!r} does not exist in {source!r}",
                                    "NOT_FOUND", "id")
        after = await connector.update_change(number, patch)
        await self._audit_change(source, number, "change.update", actor, before, after, reason)
        self.hub.cache.clear()  # the next read must show what we just wrote
        return after

    async def sync_change(self, *, source: str, number: str, actor: str) -> ChangeRecord:
        connector = self.change_source(source)
        found = (await connector.changes([number])).get(number)
        if found is None:
            raise ChangeBridgeError(f"change {number!r} does not exist in {source!r}",
                                    "NOT_FOUND", "id")
        await self._audit_change(source, number, "change.sync", actor, None, found, "")
        self.hub.cache.clear()
        return found

    async def _audit_change(self, source: str, number: str, action: str, actor: str,
                            before: ChangeRecord | None, after: ChangeRecord,
                            reason: str) -> None:
        async with self.sessions() as session, session.begin():
            release_ids: Sequence[int] = (await session.scalars(
                select(m.SourceLink.release_id).where(
                    m.SourceLink.source == source, m.SourceLink.external_key == number,
                    m.SourceLink.kind == m.LinkKind.CHANGE_REQUEST))).all()
            for release_id in release_ids or [None]:  # type: ignore[list-item]
                record(session, actor=actor, action=action, entity_type="ChangeRequest",
                       entity_id=None, entity_key=f"{source}:{number}", release_id=release_id,
                       before=_change_json(before), after=_change_json(after), reason=reason)


def _change_json(change: ChangeRecord | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"number": change.number, "state": change.state.name,
            "stateLabel": change.state_label, "approval": change.approval.name,
            "risk": change.risk.name if isinstance(change.risk, RiskLevel) else None,
            "plannedStart": change.planned_start.isoformat() if change.planned_start else None,
            "plannedEnd": change.planned_end.isoformat() if change.planned_end else None}
