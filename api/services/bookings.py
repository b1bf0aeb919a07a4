"""Environment bookings: request, approve, reject, cancel, each with its audit event.

Approving is where two writers can collide: two overlapping requests of one
environment approved at the same moment by two people must not both hold it.
Every decision therefore starts by locking the environment's row (`lock_row`,
the conditional UPDATE that is the lock on SQLite and PostgreSQL) as its
transaction's first statement, then reads the approved bookings of that
environment: decisions on one environment run one after the other, and the
second sees the first's approval and is refused with CONFLICT naming it,
unless its approver overrides with a written reason (audited).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.db.audit import snapshot
from api.db.models import BookingStatus
from api.domain.bookings import check_booking_move, describe
from api.domain.conflicts import Span
from api.domain.releases import RuleViolation, check_override_reason, check_window
from api.errors import ErrorCode, ServiceError, bad_input, conflict
from api.services.common import Ref, Service, lock_row


@dataclass(frozen=True, slots=True)
class NewBooking:
    environment: Ref
    start: datetime
    end: datetime
    purpose: str
    release: Ref | None = None
    team: str = ""


def _rule(exc: RuleViolation) -> ServiceError:
    return bad_input(str(exc), exc.field)


async def overlapping_bookings(session: AsyncSession, environment_id: int, start: datetime,
                               end: datetime, statuses: Sequence[BookingStatus],
                               exclude_id: int | None = None) -> list[m.EnvironmentBooking]:
    """Bookings of the environment in `statuses` whose window overlaps [start, end)."""
    rows = await session.scalars(
        select(m.EnvironmentBooking).where(
            m.EnvironmentBooking.environment_id == environment_id,
            m.EnvironmentBooking.status.in_(list(statuses)),
            m.EnvironmentBooking.start <= end, m.EnvironmentBooking.end >= start)
        .order_by(m.EnvironmentBooking.start, m.EnvironmentBooking.id))
    window = Span(start, end)
    return [r for r in rows if r.id != exclude_id and Span(r.start, r.end).overlaps(window)]


class BookingService(Service):
    """Bookings on behalf of `actor`; `manager` says whether the caller may decide them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], actor: str, *, subject: str = "",
                 manager: bool = False) -> None:
        super().__init__(sessions, actor)
        self.subject = subject or actor
        self.manager = manager

    async def request(self, new: NewBooking) -> m.EnvironmentBooking:
        try:
            check_window(new.start, new.end, start_field="start", end_field="end")
        except RuleViolation as exc:
            raise _rule(exc) from None
        if new.release is None and not new.team.strip():
            raise bad_input("say who the environment is for: a release or a team", "team")
        if not new.purpose.strip():
            raise bad_input("purpose must not be empty", "purpose")
        async with self.transaction() as session:
            env = await session.get(m.Environment, new.environment.pk)
            if env is None:
                raise new.environment.missing("Environment")
            release = None
            if new.release is not None:
                release = await session.get(m.Release, new.release.pk)
                if release is None:
                    raise new.release.missing("Release")
            row = m.EnvironmentBooking(
                environment_id=env.id, release_id=release.id if release else None,
                team=new.team.strip(), requested_by=self.subject, start=new.start,
                end=new.end, purpose=new.purpose.strip(), status=BookingStatus.REQUESTED)
            session.add(row)
            await session.flush()
            self.record(session, "booking.request", "EnvironmentBooking", row.id,
                        describe(row.id, env.name), release.id if release else None,
                        after=snapshot(row))
        return row

    async def _environment_of(self, booking: Ref) -> int:
        # A booking never moves to another environment, so this read may precede the lock.
        async with self.sessions() as session:
            env_id = await session.scalar(select(m.EnvironmentBooking.environment_id)
                                          .where(m.EnvironmentBooking.id == booking.pk))
        if env_id is None:
            raise booking.missing("EnvironmentBooking")
        return env_id

    async def _decide(self, booking: Ref, to: BookingStatus, *, reason: str = "",
                      override: str | None = None, expected_version: int | None = None
                      ) -> m.EnvironmentBooking:
        env_id = await self._environment_of(booking)
        async with self.transaction() as session:
            env = await lock_row(session, m.Environment, Ref(env_id, booking.name),
                                 "Environment")
            row = await session.get(m.EnvironmentBooking, booking.pk, populate_existing=True)
            if row is None:
                raise booking.missing("EnvironmentBooking")
            if expected_version is not None and row.version != expected_version:
                raise conflict(f"the booking changed since version {expected_version}: it is "
                               f"at version {row.version} now; read it again",
                               "expectedVersion", currentVersion=row.version)
            if to is BookingStatus.CANCELLED and not self.manager \
                    and row.requested_by != self.subject:
                raise ServiceError(ErrorCode.FORBIDDEN, "only whoever requested a booking, or "
                                   "a release manager, may cancel it", "id")
            try:
                check_booking_move(row.status, to, reason)
            except RuleViolation as exc:
                raise _rule(exc) from None
            before = snapshot(row)
            recorded_override = ""
            if to is BookingStatus.APPROVED:
                clashes = await overlapping_bookings(session, env.id, row.start, row.end,
                                                     [BookingStatus.APPROVED],
                                                     exclude_id=row.id)
                if clashes and override is None:
                    names = "; ".join(
                        f"{describe(c.id, env.name)} for {c.team or 'a release'} from "
                        f"{c.start:%Y-%m-%d %H:%M} to {c.end:%Y-%m-%d %H:%M} UTC"
                        for c in clashes)
                    raise conflict(f"{env.name} is already booked then: {names}. Approve "
                                   "with an override and a reason to book it anyway.",
                                   "override", overlapping=[c.id for c in clashes])
                if clashes and override is not None:
                    try:
                        recorded_override = check_override_reason(override)
                    except RuleViolation as exc:
                        raise bad_input(str(exc), "override.reason") from None
            await session.execute(
                update(m.EnvironmentBooking).where(m.EnvironmentBooking.id == row.id)
                .values(status=to, decided_by=self.subject, decided_at=datetime.now(UTC),
                        decision_reason=reason.strip(), override_reason=recorded_override,
                        version=m.EnvironmentBooking.version + 1)
                .execution_options(synchronize_session=False))
            row = await session.get(m.EnvironmentBooking, booking.pk, populate_existing=True)
            assert row is not None
            action = {BookingStatus.APPROVED: "booking.approve",
                      BookingStatus.REJECTED: "booking.reject",
                      BookingStatus.CANCELLED: "booking.cancel"}[to]
            self.record(session, action, "EnvironmentBooking", row.id,
                        describe(row.id, env.name), row.release_id, before=before,
                        after=snapshot(row), reason=recorded_override or reason.strip())
            if recorded_override:
                self.record(session, "booking.override", "EnvironmentBooking", row.id,
                            describe(row.id, env.name), row.release_id,
                            after={"status": to.name}, reason=recorded_override)
        return row

    async def approve(self, booking: Ref, *, reason: str = "", override: str | None = None,
                      expected_version: int | None = None) -> m.EnvironmentBooking:
        return await self._decide(booking, BookingStatus.APPROVED, reason=reason,
                                  override=override, expected_version=expected_version)

    async def reject(self, booking: Ref, *, reason: str,
                     expected_version: int | None = None) -> m.EnvironmentBooking:
        return await self._decide(booking, BookingStatus.REJECTED, reason=reason,
                                  expected_version=expected_version)

    async def cancel(self, booking: Ref, *, reason: str = "",
                     expected_version: int | None = None) -> m.EnvironmentBooking:
        return await self._decide(booking, BookingStatus.CANCELLED, reason=reason,
                                  expected_version=expected_version)
