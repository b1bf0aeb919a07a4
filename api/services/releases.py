"""Release use cases: create, update, delete, phases, links, and the one status transition.

Every write of a release or of a part it owns (its applications, phases and
links) runs in one transaction with its audit event, and starts by claiming
the release's row (`claim`): from then on no other writer of that release can
run until this one commits, so what the write reads is what it replaces, and
the audit event's "before" is true. Every such write bumps `releases.version`;
a caller that read version N may send it as `expected_version`, and the write
is refused with CONFLICT if anyone wrote since.

The status moves only through `ReleaseService.transition`, for the graph,
the webhooks and any later entry point: it checks the rule, and updates only
from the status it read (a compare-and-set), so two racing transitions cannot
both apply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.db.audit import record, snapshot
from api.db.models import LinkKind, ReleaseStatus, ReleaseType
from api.domain.releases import (
    RuleViolation,
    check_override_reason,
    check_parent,
    check_transition,
    check_window,
    gated,
)
from api.domain.words import gate_word, plain
from api.errors import ErrorCode, ServiceError, bad_input, conflict
from api.services.common import KEEP, Keep, Ref, applications_by_key, flush_unique

Row = TypeVar("Row", m.ReleasePhase, m.SourceLink)


@dataclass(frozen=True, slots=True)
class NewRelease:
    key: str
    name: str
    type: ReleaseType
    description: str = ""
    parent: Ref | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    application_keys: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ReleasePatch:
    """What an update changes; a field left at KEEP stays as stored."""

    key: str | Keep = KEEP
    name: str | Keep = KEEP
    type: ReleaseType | Keep = KEEP
    description: str | Keep = KEEP
    parent: Ref | Keep | None = KEEP
    window_start: datetime | Keep | None = KEEP
    window_end: datetime | Keep | None = KEEP
    application_keys: Sequence[str] | Keep = KEEP


@dataclass(frozen=True, slots=True)
class NewPhase:
    name: str
    position: int = 0
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class PhasePatch:
    name: str | Keep = KEEP
    position: int | Keep = KEEP
    start: datetime | Keep | None = KEEP
    end: datetime | Keep | None = KEEP


@dataclass(frozen=True, slots=True)
class FailedGate:
    name: str
    reason: str


# Evaluates the release's gates (live upstream facts) and returns those that fail.
GateCheck = Callable[[], Awaitable[Sequence[FailedGate]]]


def _rule(exc: RuleViolation, **extensions: Any) -> ServiceError:
    return bad_input(str(exc), exc.field, **extensions)


def _stale(expected: int | None, current: int) -> ServiceError:
    return conflict(f"the release changed since version {expected}: it is at version "
                    f"{current} now; read it again", "expectedVersion", currentVersion=current)


async def claim(session: AsyncSession, release: Ref, expected_version: int | None = None
                ) -> tuple[m.Release, int]:
    """Take the release's row for this transaction and bump its version; refuse a stale
    `expected_version`. Returns the row as it now is, and the version it had.

    One conditional UPDATE, the transaction's first statement, is the lock on both
    databases. PostgreSQL holds the row lock it takes until commit (as
    SELECT ... FOR UPDATE would); a second writer waits, then re-checks the
    WHERE against the committed row. SQLite has one writer at a time, and its
    driver opens the transaction at the first write: making that write come
    before any read means the transaction waits (busy_timeout) for the other
    writer to commit, then reads what it committed. A read first and a write
    later would read outside the lock on both, which is how updates were lost.
    """
    bump = (update(m.Release).where(m.Release.id == release.pk)
            .values(version=m.Release.version + 1).returning(m.Release.version)
            .execution_options(synchronize_session=False))
    if expected_version is not None:
        bump = bump.where(m.Release.version == expected_version)
    version = (await session.execute(bump)).scalar_one_or_none()
    if version is None:
        current = await session.scalar(select(m.Release.version)
                                       .where(m.Release.id == release.pk))
        if current is None:
            raise release.missing("Release")
        raise _stale(expected_version, current)
    row = await session.get(m.Release, release.pk, populate_existing=True)
    assert row is not None  # the UPDATE above found it, and holds it
    return row, version - 1


async def _applications_of(session: AsyncSession, release_id: int) -> list[m.Application]:
    rows = await session.scalars(
        select(m.Application).join(m.release_applications,
                                   m.release_applications.c.application_id == m.Application.id)
        .where(m.release_applications.c.release_id == release_id).order_by(m.Application.key))
    return list(rows)


async def _set_applications(session: AsyncSession, row: m.Release,
                            apps: Sequence[m.Application]) -> None:
    """Replace the release's links; each carries the release's window start, status and
    type, which the application-filtered list sorts and filters on (migrations 0015-16)."""
    table = m.release_applications
    await session.execute(table.delete().where(table.c.release_id == row.id))
    if apps:
        await session.execute(table.insert(), [m.link_row(row, a.id) for a in apps])


async def _copy_to_links(session: AsyncSession, row: m.Release) -> None:
    """Keep the links' copies of the window start, status and type in step with the
    release's."""
    table = m.release_applications
    await session.execute(table.update().where(table.c.release_id == row.id).values(
        window_start=row.window_start, status=row.status, type=row.type))


def _snapshot(row: m.Release, apps: Sequence[m.Application]) -> dict[str, Any] | None:
    return snapshot(row, ("applications", [a.key for a in apps]))


async def _key_free(session: AsyncSession, key: str, exclude_id: int | None = None) -> None:
    existing = await session.scalar(select(m.Release.id).where(m.Release.key == key))
    if existing is not None and existing != exclude_id:
        raise conflict(f"key {key!r} is already used", "key")


async def _parent_id(session: AsyncSession, release_id: int | None, parent: Ref | None
                     ) -> int | None:
    if parent is None:
        return None
    if await session.get(m.Release, parent.pk) is None:
        raise parent.missing("Release")
    rows = await session.execute(select(m.Release.id, m.Release.parent_id))
    try:
        check_parent(release_id, parent.pk, {pk: up for pk, up in rows.all()})
    except RuleViolation as exc:
        raise _rule(exc) from None
    return parent.pk


class ReleaseService:
    """The release use cases, on behalf of `actor` (the name audit events carry)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], actor: str) -> None:
        self.sessions = sessions
        self.actor = actor

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    def _record(self, session: AsyncSession, action: str, entity_type: str,
                entity_id: int | None, entity_key: str, release_id: int | None,
                **changes: Any) -> None:
        record(session, actor=self.actor, action=action, entity_type=entity_type,
               entity_id=entity_id, entity_key=entity_key, release_id=release_id, **changes)

    # --- the release --------------------------------------------------------------------

    async def create(self, new: NewRelease) -> m.Release:
        try:
            check_window(new.window_start, new.window_end)
        except RuleViolation as exc:
            raise _rule(exc) from None
        async with self._transaction() as session:
            await _key_free(session, new.key)
            apps = await applications_by_key(session, new.application_keys)
            parent_id = await _parent_id(session, None, new.parent)
            row = m.Release(key=new.key, name=new.name, type=new.type,
                            description=new.description, parent_id=parent_id,
                            window_start=new.window_start, window_end=new.window_end,
                            status=ReleaseStatus.PLANNED, version=1)
            session.add(row)
            await flush_unique(session, "key")
            await _set_applications(session, row, apps)
            self._record(session, "release.create", "Release", row.id, row.key, row.id,
                         after=_snapshot(row, apps))
        return row

    async def update(self, release: Ref, patch: ReleasePatch,
                     expected_version: int | None = None) -> m.Release:
        """Change the fields the patch names (and replace the application set if given)."""
        async with self._transaction() as session:
            row, read_version = await claim(session, release, expected_version)
            apps = await _applications_of(session, row.id)
            before = _snapshot(row, apps)
            assert before is not None
            before["version"] = read_version  # what the claim replaced
            if not isinstance(patch.key, Keep):
                await _key_free(session, patch.key, exclude_id=row.id)
                row.key = patch.key
            if not isinstance(patch.name, Keep):
                row.name = patch.name
            if not isinstance(patch.type, Keep):
                row.type = patch.type
            if not isinstance(patch.description, Keep):
                row.description = patch.description
            if not isinstance(patch.parent, Keep):
                row.parent_id = await _parent_id(session, row.id, patch.parent)
            if not isinstance(patch.window_start, Keep):
                row.window_start = patch.window_start
            if not isinstance(patch.window_end, Keep):
                row.window_end = patch.window_end
            try:
                check_window(row.window_start, row.window_end)
            except RuleViolation as exc:
                raise _rule(exc) from None
            if not isinstance(patch.application_keys, Keep):
                apps = await applications_by_key(session, patch.application_keys)
                await _set_applications(session, row, apps)
            elif not (isinstance(patch.window_start, Keep) and isinstance(patch.type, Keep)):
                await _copy_to_links(session, row)
            await flush_unique(session, "key")
            self._record(session, "release.update", "Release", row.id, row.key, row.id,
                         before=before, after=_snapshot(row, apps))
        return row

    async def delete(self, release: Ref, expected_version: int | None = None) -> None:
        """Delete a release with its phases and links; its children lose their parent."""
        async with self._transaction() as session:
            row, read_version = await claim(session, release, expected_version)
            before = _snapshot(row, await _applications_of(session, row.id))
            assert before is not None
            before["version"] = read_version
            self._record(session, "release.delete", "Release", row.id, row.key, None,
                         before=before)
            await session.delete(row)

    # --- the status machine -------------------------------------------------------------

    async def transition(self, release: Ref, to: ReleaseStatus, *, reason: str = "",
                         expected_version: int | None = None,
                         expected_status: ReleaseStatus | None = None,
                         override_reason: str | None = None,
                         gates: GateCheck | None = None) -> m.Release:
        """Move the release to `to`, only from the status read here.

        Entering a gated status evaluates `gates` (live upstream facts, read
        with no database session held) between the read and the write; failed
        gates need `override_reason`, which is audited. The write is
        `UPDATE ... WHERE status = <read>`: if anyone moved the release
        meanwhile, nothing is written and the caller gets CONFLICT naming the
        status it is in now. `expected_status` is for callers that may only
        move a release from one status (a deployment report: DEPLOYING).
        """
        async with self.sessions() as session:
            current = await session.get(m.Release, release.pk)
            if current is None:
                raise release.missing("Release")
            read_status, read_version = current.status, current.version
        if expected_status is not None and read_status is not expected_status:
            raise conflict(f"the release is {read_status.name}, not {expected_status.name}",
                           "to", currentStatus=read_status.name, currentVersion=read_version)
        try:  # first: "already READY" tells a stale page more than a version number
            check_transition(read_status, to)
        except RuleViolation as exc:
            raise _rule(exc, current=read_status.name) from None
        if expected_version is not None and read_version != expected_version:
            raise _stale(expected_version, read_version)
        failed = list(await gates()) if gates is not None and gated(to) else []
        override = None
        if failed:
            if override_reason is None:
                raise ServiceError(
                    ErrorCode.GATE_FAILED, f"the release cannot move to {plain(to.name)}: "
                    + "; ".join(f"{gate_word(g.name).lower()}: {g.reason}" for g in failed),
                    "to",
                    gates=[{"name": g.name, "reason": g.reason} for g in failed])
            try:
                override = check_override_reason(override_reason)
            except RuleViolation as exc:
                raise _rule(exc) from None

        async with self._transaction() as session:
            cas = (update(m.Release)
                   .where(m.Release.id == release.pk, m.Release.status == read_status)
                   .values(status=to, version=m.Release.version + 1)
                   .returning(m.Release.version)
                   .execution_options(synchronize_session=False))
            if expected_version is not None:
                cas = cas.where(m.Release.version == expected_version)
            version = (await session.execute(cas)).scalar_one_or_none()
            if version is None:
                raise await self._moved_meanwhile(session, release, read_status, to)
            row = await session.get(m.Release, release.pk, populate_existing=True)
            assert row is not None
            await _copy_to_links(session, row)
            self._record(session, "release.transition", "Release", row.id, row.key, row.id,
                         before={"status": read_status.name, "version": version - 1},
                         after={"status": to.name, "version": version}, reason=reason)
            if override is not None:
                self._record(session, "gate.override", "Release", row.id, row.key, row.id,
                             before={"failed": [g.name for g in failed]},
                             after={"status": to.name}, reason=override)
        return row

    @staticmethod
    async def _moved_meanwhile(session: AsyncSession, release: Ref, read: ReleaseStatus,
                               to: ReleaseStatus) -> ServiceError:
        now = (await session.execute(select(m.Release.status, m.Release.version)
                                     .where(m.Release.id == release.pk))).one_or_none()
        if now is None:
            return release.missing("Release")
        status, version = now
        return conflict(f"the release is {status.name} now (it was {read.name} when read); "
                        f"it was not moved to {to.name}", "to", currentStatus=status.name,
                        currentVersion=version)

    # --- parts the release owns ---------------------------------------------------------

    async def _owned(self, session: AsyncSession, model: type[Row], ref: Ref, what: str,
                     expected_version: int | None) -> Row:
        """Claim the release that owns `ref`'s row, then that row as it now is.

        Only the owner's id (which never changes) is read before the claim.
        """
        owner = await session.scalar(select(model.release_id).where(model.id == ref.pk))
        if owner is None:
            raise ref.missing(what)
        try:
            await claim(session, Ref(owner, ref.name, ref.field), expected_version)
        except ServiceError as error:
            if error.code is ErrorCode.NOT_FOUND:  # the release went, and its parts with it
                raise ref.missing(what) from None
            raise
        row = await session.get(model, ref.pk, populate_existing=True)
        if row is None:  # deleted before the claim
            raise ref.missing(what)
        return row

    async def add_phase(self, release: Ref, new: NewPhase,
                        expected_version: int | None = None) -> m.ReleasePhase:
        try:
            check_window(new.start, new.end, start_field="start", end_field="end")
        except RuleViolation as exc:
            raise _rule(exc) from None
        async with self._transaction() as session:
            owner, _ = await claim(session, release, expected_version)
            taken = await session.scalar(select(m.ReleasePhase.id).where(
                m.ReleasePhase.release_id == owner.id, m.ReleasePhase.name == new.name))
            if taken is not None:
                raise conflict(f"release {owner.key!r} already has a phase {new.name!r}",
                               "name")
            row = m.ReleasePhase(release_id=owner.id, name=new.name, position=new.position,
                                 start=new.start, end=new.end)
            session.add(row)
            await flush_unique(session, "name")
            self._record(session, "phase.create", "ReleasePhase", row.id, row.name, owner.id,
                         after=snapshot(row))
        return row

    async def update_phase(self, phase: Ref, patch: PhasePatch,
                           expected_version: int | None = None) -> m.ReleasePhase:
        async with self._transaction() as session:
            row = await self._owned(session, m.ReleasePhase, phase, "ReleasePhase",
                                    expected_version)
            before = snapshot(row)
            if not isinstance(patch.name, Keep):
                row.name = patch.name
            if not isinstance(patch.position, Keep):
                row.position = patch.position
            if not isinstance(patch.start, Keep):
                row.start = patch.start
            if not isinstance(patch.end, Keep):
                row.end = patch.end
            try:
                check_window(row.start, row.end, start_field="start", end_field="end")
            except RuleViolation as exc:
                raise _rule(exc) from None
            await flush_unique(session, "name")
            self._record(session, "phase.update", "ReleasePhase", row.id, row.name,
                         row.release_id, before=before, after=snapshot(row))
        return row

    async def delete_phase(self, phase: Ref, expected_version: int | None = None) -> None:
        async with self._transaction() as session:
            row = await self._owned(session, m.ReleasePhase, phase, "ReleasePhase",
                                    expected_version)
            self._record(session, "phase.delete", "ReleasePhase", row.id, row.name,
                         row.release_id, before=snapshot(row))
            await session.delete(row)

    async def link(self, release: Ref, *, source: str, kind: LinkKind, external_key: str,
                   expected_version: int | None = None) -> m.SourceLink:
        """Tie the release to an upstream record (the caller validated the key)."""
        async with self._transaction() as session:
            owner, _ = await claim(session, release, expected_version)
            taken = await session.scalar(select(m.SourceLink.id).where(
                m.SourceLink.release_id == owner.id, m.SourceLink.source == source,
                m.SourceLink.kind == kind, m.SourceLink.external_key == external_key))
            if taken is not None:
                raise conflict("the release already has this link", "link")
            row = m.SourceLink(release_id=owner.id, source=source, kind=kind,
                               external_key=external_key)
            session.add(row)
            await flush_unique(session, "link")
            self._record(session, "link.create", "SourceLink", row.id,
                         f"{source}:{external_key}", owner.id, after=snapshot(row))
        return row

    async def unlink(self, link: Ref, expected_version: int | None = None) -> None:
        async with self._transaction() as session:
            row = await self._owned(session, m.SourceLink, link, "SourceLink",
                                    expected_version)
            self._record(session, "link.delete", "SourceLink", row.id,
                         f"{row.source}:{row.external_key}", row.release_id,
                         before=snapshot(row))
            await session.delete(row)
