"""Change requests: raise exactly once, update without approving, sync.

Raising follows three rules.

- The intent (with a fresh correlation id) is written and committed before
  the ITSM is called, and the correlation id travels into the upstream
  record; whoever finishes an interrupted raise looks the id up upstream
  first. A lost answer, a retry or a crash therefore finds the record
  instead of creating another.
- Only the holder of an intent's claim calls the ITSM. The claim is a
  compare-and-set on `change_intents.lease_owner/lease_until`; a retry with
  the same idempotency key waits briefly for the holder's outcome, or is
  told `CHANGE_IN_PROGRESS` with a retry hint. A lease that ran out (its
  holder died) may be taken over.
- A release has at most one open change per change source unless the caller
  asks for an additional one with a reason. Recording a new intent takes a
  lock on the release row (PostgreSQL) or the database's single write lock
  (SQLite) before it looks for a rival, so two raises with different keys
  cannot both pass.

Updating never approves: `api.domain.change_flow.check_hub_move` refuses a
move that is the change board's to make, before anything is sent upstream.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.cache import change_tags
from api.db import models as m
from api.db.audit import record, snapshot
from api.db.models import utcnow
from api.domain.change_flow import check_hub_move, hub_moves, is_open
from api.domain.compose import ComposeConfig, ComposedChange
from api.domain.facts import AppFacts, BlackoutFacts, ReleaseFacts
from api.domain.gates import BlockerRule
from api.domain.releases import RuleViolation
from api.errors import ErrorCode, ServiceError, bad_input, conflict
from api.hub import Hub
from api.services.release_facts import blackouts_overlapping, runbooks
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

# Shortest reason for an additional change beside an open one.
MIN_REASON_CHARS = 10
# How often a waiting retry looks at the claimer's outcome.
_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Raised:
    change: ChangeRecord
    created: bool  # False when an earlier call (same idempotency key) had raised it


@dataclass(frozen=True, slots=True)
class _Claim:
    """This request holds the intent: it alone may call the ITSM for it."""

    intent_id: int
    correlation_id: str
    owner: str
    takeover: bool  # someone held it before: the change may exist upstream already


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
        applications=tuple(AppFacts(a.key, a.name, tuple(a.cmdb_items)) for a in apps),
        runbook=(await runbooks(session, [release.id])).get(release.id, ()))


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


def _not_found_upstream(number: str, source: str) -> ServiceError:
    return ServiceError(ErrorCode.NOT_FOUND, f"change {number!r} does not exist in {source!r}",
                        "id")


class ChangeService:
    """The change request use cases; the graph, webhooks and the CLI call these."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                 settings: Settings) -> None:
        self.sessions = sessions
        self.hub = hub
        self.settings = settings
        self.lease = timedelta(seconds=settings.changes.claim_lease_seconds)
        self.wait_seconds = settings.changes.claim_wait_seconds

    def change_source(self, source: str, field: str = "source") -> ChangeSource:
        sources = self.hub.change_sources()
        if source not in sources:
            raise bad_input(
                f"{source!r} is not a change source; change sources: "
                f"{', '.join(sorted(sources)) or 'none configured'}", field)
        return sources[source]

    # --- raise ---------------------------------------------------------------------------

    async def raise_change(self, *, release_id: int, source: str, composed: ComposedChange,
                           actor: str, idempotency_key: str | None = None,
                           additional_reason: str | None = None) -> Raised:
        """Raise the release's change in `source`, once; see the module docstring."""
        connector = self.change_source(source)
        if additional_reason is not None:
            additional_reason = additional_reason.strip()
            if len(additional_reason) < MIN_REASON_CHARS:
                raise bad_input(f"an additional change needs a written reason (at least "
                                f"{MIN_REASON_CHARS} characters)", "additional.reason")
        owner = uuid.uuid4().hex
        if idempotency_key is not None:
            known = await self._intent_by_key(release_id, idempotency_key)
            if known is not None:
                return await self._follow(known, source, composed, actor, owner, connector)
        checked: set[str] = set()
        if additional_reason is None:
            checked = await self._refuse_open_change(release_id, source, connector, actor)
        try:
            outcome = await self._record_intent(release_id, source, composed, actor,
                                                idempotency_key, additional_reason, owner,
                                                checked)
        except IntegrityError:
            # The same key was recorded by a concurrent call: follow that one.
            outcome = None
        if isinstance(outcome, _Claim):
            return await self._raise_claimed(outcome, composed, actor, connector)
        assert idempotency_key is not None  # only a key can be taken by another call
        known = await self._intent_by_key(release_id, idempotency_key)
        if known is None:  # pragma: no cover - the unique key says it exists
            raise ServiceError(ErrorCode.CONFLICT, "the idempotency key is in use",
                               "idempotencyKey")
        return await self._follow(known, source, composed, actor, owner, connector)

    async def _intent_by_key(self, release_id: int, key: str) -> m.ChangeIntent | None:
        async with self.sessions() as session:
            return await session.scalar(select(m.ChangeIntent).where(
                m.ChangeIntent.release_id == release_id,
                m.ChangeIntent.idempotency_key == key))

    async def _refuse_open_change(self, release_id: int, source: str,
                                  connector: ChangeSource, actor: str) -> set[str]:
        """CONFLICT when the release has an open change in `source`; returns what was read.

        Read live through the connector, outside any transaction. An intent
        whose claim ran out is looked up first, so a raise a crash cut short
        counts once found upstream.
        """
        now = utcnow()
        async with self.sessions() as session:
            numbers = set(await self._linked_numbers(session, release_id, source))
            stale = (await session.scalars(select(m.ChangeIntent).where(
                m.ChangeIntent.release_id == release_id, m.ChangeIntent.source == source,
                m.ChangeIntent.status == m.IntentStatus.PENDING,
                or_(m.ChangeIntent.lease_until.is_(None),
                    m.ChangeIntent.lease_until <= now)))).all()
        for intent in stale:
            found = await connector.find_by_correlation_id(intent.correlation_id)
            if found is not None:
                await self._confirm(intent.id, found, "heatshield")
                numbers.add(found.number)
        if not numbers:
            return set()
        live = await connector.changes(sorted(numbers))
        open_changes = [c for c in live.values() if is_open(c.state)]
        if open_changes:
            raise self._open_conflict(source, open_changes)
        return numbers

    @staticmethod
    def _open_conflict(source: str, changes: Sequence[ChangeRecord]) -> ServiceError:
        first = changes[0]
        return conflict(
            f"the release already has an open change request in {source!r}: {first.number} "
            f"({first.state_label}); ask for an additional change with a reason if another "
            "is really needed", "additional", number=first.number, source=source,
            state=first.state.name, numbers=[c.number for c in changes])

    @staticmethod
    async def _linked_numbers(session: AsyncSession, release_id: int, source: str
                              ) -> Sequence[str]:
        linked = (await session.scalars(select(m.SourceLink.external_key).where(
            m.SourceLink.release_id == release_id, m.SourceLink.source == source,
            m.SourceLink.kind == m.LinkKind.CHANGE_REQUEST))).all()
        raised = (await session.scalars(select(m.ChangeIntent.number).where(
            m.ChangeIntent.release_id == release_id, m.ChangeIntent.source == source,
            m.ChangeIntent.status == m.IntentStatus.CREATED,
            m.ChangeIntent.number.is_not(None)))).all()
        return [*linked, *(n for n in raised if n is not None)]

    async def _record_intent(self, release_id: int, source: str, composed: ComposedChange,
                             actor: str, key: str | None, additional_reason: str | None,
                             owner: str, checked: set[str]) -> _Claim | None:
        """Write a claimed intent, or None when `key` is already taken.

        Serialised per release: the release row is locked on PostgreSQL; on
        SQLite the insert takes the single write lock before the rival check.
        """
        now = utcnow()
        async with self.sessions() as session, session.begin():
            locked = await session.scalar(
                select(m.Release.id).where(m.Release.id == release_id)
                .with_for_update(key_share=True))
            if locked is None:
                raise ServiceError(ErrorCode.NOT_FOUND, "the release does not exist",
                                   "releaseId")
            if key is not None and await session.scalar(select(m.ChangeIntent.id).where(
                    m.ChangeIntent.release_id == release_id,
                    m.ChangeIntent.idempotency_key == key)) is not None:
                return None
            intent = m.ChangeIntent(
                release_id=release_id, source=source,
                correlation_id=f"heatshield-{uuid.uuid4().hex}", idempotency_key=key,
                draft=_draft_json(composed), actor=actor, lease_owner=owner,
                lease_until=now + self.lease, reason=additional_reason or "")
            session.add(intent)
            await session.flush()  # SQLite: the write lock is ours from here to commit
            if additional_reason is None:
                await self._refuse_rival(session, intent, checked, now)
            record(session, actor=actor, action="change.intent", entity_type="ChangeIntent",
                   entity_id=intent.id, entity_key=intent.correlation_id,
                   release_id=release_id, after=snapshot(intent),
                   reason=additional_reason or "")
            return _Claim(intent.id, intent.correlation_id, owner, takeover=False)

    async def _refuse_rival(self, session: AsyncSession, mine: m.ChangeIntent,
                            checked: set[str], now: datetime) -> None:
        """CONFLICT when another raise for the release and source is running or just done."""
        running = await session.scalar(select(m.ChangeIntent).where(
            m.ChangeIntent.release_id == mine.release_id,
            m.ChangeIntent.source == mine.source, m.ChangeIntent.id != mine.id,
            m.ChangeIntent.status == m.IntentStatus.PENDING,
            m.ChangeIntent.lease_until > now).order_by(m.ChangeIntent.id).limit(1))
        if running is not None:
            raise conflict(
                f"another change request for this release is being raised in "
                f"{mine.source!r} (correlation id {running.correlation_id}); ask for an "
                "additional change with a reason if another is really needed",
                "additional", source=mine.source, correlationId=running.correlation_id,
                retryAfterSeconds=self._retry_after(running))
        fresh = [n for n in await self._linked_numbers(session, mine.release_id, mine.source)
                 if n not in checked]
        if fresh:  # raised or linked since the live check: open as far as anyone knows
            raise conflict(
                f"the release already has an open change request in {mine.source!r}: "
                f"{fresh[0]}; ask for an additional change with a reason if another is "
                "really needed", "additional", number=fresh[0], source=mine.source,
                numbers=fresh)

    async def _follow(self, intent: m.ChangeIntent, source: str, composed: ComposedChange,
                      actor: str, owner: str, connector: ChangeSource) -> Raised:
        """The same idempotency key again: its change, its claim, or its outcome."""
        if intent.source != source:
            raise conflict(f"idempotency key {intent.idempotency_key!r} was used for a change "
                           f"in {intent.source!r}", "idempotencyKey")
        deadline = time.monotonic() + self.wait_seconds
        while True:
            if intent.status is m.IntentStatus.CREATED and intent.number:
                found = (await connector.changes([intent.number])).get(intent.number)
                if found is None:
                    raise conflict(f"change {intent.number} was raised with this idempotency "
                                   f"key but no longer exists in {source!r}",
                                   "idempotencyKey", number=intent.number)
                return Raised(found, created=False)
            claim = await self._claim(intent.id, owner, actor)
            if claim is not None:
                return await self._raise_claimed(claim, composed, actor, connector)
            if time.monotonic() >= deadline:
                raise ServiceError(
                    ErrorCode.CHANGE_IN_PROGRESS,
                    f"the change request for idempotency key {intent.idempotency_key!r} is "
                    "being raised by another request; retry to get it",
                    "idempotencyKey", correlationId=intent.correlation_id,
                    retryAfterSeconds=self._retry_after(intent))
            await asyncio.sleep(_POLL_SECONDS)
            async with self.sessions() as session:
                reread = await session.get(m.ChangeIntent, intent.id)
            assert reread is not None
            intent = reread

    def _retry_after(self, intent: m.ChangeIntent) -> int:
        """Seconds until the outcome is likely known: a short wait, at most the lease."""
        left = ((intent.lease_until - utcnow()).total_seconds()
                if intent.lease_until is not None else 0.0)
        return max(1, math.ceil(min(max(left, 0.0), max(self.wait_seconds, 1.0))))

    async def _claim(self, intent_id: int, owner: str, actor: str) -> _Claim | None:
        """Take the intent if nobody holds it (never claimed, failed, or lease run out)."""
        now = utcnow()
        async with self.sessions() as session, session.begin():
            result = cast(CursorResult[Any], await session.execute(
                update(m.ChangeIntent)
                .where(m.ChangeIntent.id == intent_id,
                       m.ChangeIntent.status.in_([m.IntentStatus.PENDING,
                                                  m.IntentStatus.FAILED]),
                       or_(m.ChangeIntent.lease_until.is_(None),
                           m.ChangeIntent.lease_until <= now))
                .values(lease_owner=owner, lease_until=now + self.lease,
                        status=m.IntentStatus.PENDING, error="")
                .execution_options(synchronize_session=False)))
            if result.rowcount != 1:
                return None
            intent = await session.get(m.ChangeIntent, intent_id, populate_existing=True)
            assert intent is not None
            record(session, actor=actor, action="change.claim", entity_type="ChangeIntent",
                   entity_id=intent.id, entity_key=intent.correlation_id,
                   release_id=intent.release_id, after=snapshot(intent))
            return _Claim(intent.id, intent.correlation_id, owner, takeover=True)

    async def _raise_claimed(self, claim: _Claim, composed: ComposedChange, actor: str,
                             connector: ChangeSource) -> Raised:
        """Only the claim holder gets here: find (after a takeover) or create, then confirm."""
        try:
            if claim.takeover:
                existing = await connector.find_by_correlation_id(claim.correlation_id)
                if existing is not None:
                    await self._confirm(claim.intent_id, existing, actor)
                    return Raised(existing, created=False)
            created = await connector.create_change(composed.draft(claim.correlation_id))
        except UpstreamRefused as error:
            await self._fail(claim, error.message, actor)
            raise
        except UpstreamError:
            # Outcome unknown (timeout, lost answer): let the next retry take over now;
            # it looks the correlation id up before creating anything.
            await self._release(claim)
            raise
        if os.environ.get(CRASH_AFTER_CREATE_ENV):
            log.critical("test fault: exiting after the upstream create of %s", created.number)
            os._exit(70)
        await self._confirm(claim.intent_id, created, actor)
        return Raised(created, created=True)

    async def _confirm(self, intent_id: int, change: ChangeRecord, actor: str) -> None:
        """Mark the intent done and link the change to its release, once."""
        async with self.sessions() as session, session.begin():
            intent = await session.scalar(select(m.ChangeIntent).where(
                m.ChangeIntent.id == intent_id).with_for_update())
            assert intent is not None
            if intent.status is m.IntentStatus.CREATED and intent.number == change.number:
                return  # a takeover finished it already
            before = snapshot(intent)
            intent.status = m.IntentStatus.CREATED
            intent.number = change.number
            intent.lease_owner = None
            intent.lease_until = None
            await session.flush()  # SQLite: take the write lock before looking for the link
            linked = await session.scalar(select(m.SourceLink.id).where(
                m.SourceLink.release_id == intent.release_id,
                m.SourceLink.source == intent.source,
                m.SourceLink.kind == m.LinkKind.CHANGE_REQUEST,
                m.SourceLink.external_key == change.number))
            link_id = linked
            if linked is None:
                link = m.SourceLink(release_id=intent.release_id, source=intent.source,
                                    kind=m.LinkKind.CHANGE_REQUEST, external_key=change.number)
                session.add(link)
                await session.flush()
                link_id = link.id
            record(session, actor=actor, action="change.raise", entity_type="SourceLink",
                   entity_id=link_id, entity_key=f"{intent.source}:{change.number}",
                   release_id=intent.release_id, before=before, after=snapshot(intent),
                   reason=intent.reason)

    async def _fail(self, claim: _Claim, reason: str, actor: str) -> None:
        async with self.sessions() as session, session.begin():
            intent = await session.get(m.ChangeIntent, claim.intent_id)
            assert intent is not None
            if intent.lease_owner != claim.owner:
                return  # taken over meanwhile: the new holder decides
            intent.status = m.IntentStatus.FAILED
            intent.error = reason
            intent.lease_owner = None
            intent.lease_until = None
            record(session, actor=actor, action="change.refused", entity_type="ChangeIntent",
                   entity_id=intent.id, entity_key=intent.correlation_id,
                   release_id=intent.release_id, after=snapshot(intent), reason=reason)

    async def _release(self, claim: _Claim) -> None:
        """Give the claim up early, keeping the intent PENDING (the change may exist)."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(m.ChangeIntent)
                .where(m.ChangeIntent.id == claim.intent_id,
                       m.ChangeIntent.lease_owner == claim.owner,
                       m.ChangeIntent.status == m.IntentStatus.PENDING)
                .values(lease_until=utcnow())
                .execution_options(synchronize_session=False))

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

    # --- update and sync -----------------------------------------------------------------

    async def update_change(self, *, source: str, number: str, patch: ChangePatch,
                            actor: str, reason: str = "") -> ChangeRecord:
        """Push `patch` to the ITSM; a move that would approve the change is refused first."""
        connector = self.change_source(source)
        before = (await connector.changes([number])).get(number)
        if before is None:
            raise _not_found_upstream(number, source)
        if patch.state is not None and patch.state is not before.state:
            try:
                check_hub_move(before.state, before.approval, patch.state)
            except RuleViolation as exc:
                raise ServiceError(
                    ErrorCode.TRANSITION_REFUSED, str(exc), exc.field,
                    current=before.state.name, approval=before.approval.name,
                    allowed=sorted(s.name for s in hub_moves(before.state, before.approval))
                ) from None
        after = await connector.update_change(number, patch)
        await self._audit_change(source, number, "change.update", actor, before, after, reason)
        self.hub.cache.invalidate(change_tags(source))  # the next read shows what we wrote
        return after

    async def sync_change(self, *, source: str, number: str, actor: str) -> ChangeRecord:
        connector = self.change_source(source)
        found = (await connector.changes([number])).get(number)
        if found is None:
            raise _not_found_upstream(number, source)
        await self._audit_change(source, number, "change.sync", actor, None, found, "")
        self.hub.cache.invalidate(change_tags(source))
        return found

    async def _audit_change(self, source: str, number: str, action: str, actor: str,
                            before: ChangeRecord | None, after: ChangeRecord,
                            reason: str) -> None:
        async with self.sessions() as session, session.begin():
            release_ids: Sequence[int | None] = (await session.scalars(
                select(m.SourceLink.release_id).where(
                    m.SourceLink.source == source, m.SourceLink.external_key == number,
                    m.SourceLink.kind == m.LinkKind.CHANGE_REQUEST))).all()
            for release_id in release_ids or [None]:
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
