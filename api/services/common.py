"""Small parts every service shares: how a caller names a row, "leave as it is", lookups."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.db.audit import record
from api.errors import ServiceError, bad_input, conflict, not_found


@dataclass(frozen=True, slots=True)
class Ref:
    """A row as the caller named it: its key in storage, and the name and input field the
    caller used, so a refusal speaks the caller's words (a graph id, a CLI key)."""

    pk: int
    name: str
    field: str = "id"

    def missing(self, what: str) -> ServiceError:
        return not_found(what, self.name, self.field)


class Keep(enum.Enum):
    """The value of a patch field the caller did not give: the stored value stays."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


async def applications_by_key(session: AsyncSession, keys: Sequence[str],
                              field: str = "applicationKeys") -> list[m.Application]:
    """The applications named by `keys` (duplicates ignored), by key; unknown keys refused."""
    wanted = list(dict.fromkeys(keys))
    rows = list(await session.scalars(select(m.Application)
                                      .where(m.Application.key.in_(wanted))))
    missing = sorted(set(wanted) - {r.key for r in rows})
    if missing:
        raise bad_input(f"unknown application key(s): {', '.join(missing)}", field)
    return sorted(rows, key=lambda r: r.key)


async def flush_unique(session: AsyncSession, field: str) -> None:
    """Flush, turning a race on a unique constraint into CONFLICT."""
    try:
        await session.flush()
    except IntegrityError:
        raise conflict(f"{field} conflicts with an existing record", field) from None


LockedRow = TypeVar("LockedRow", m.Application, m.Environment, m.BlackoutWindow)


async def lock_row(session: AsyncSession, model: type[LockedRow], ref: Ref, what: str
                   ) -> LockedRow:
    """Take `ref`'s row for this transaction, then read it as it now is.

    The technique of `api.services.releases.claim`: a conditional UPDATE (here one
    that changes nothing) as the transaction's first statement is the lock on both
    databases. PostgreSQL holds the row lock until commit; SQLite's driver opens
    the write transaction at that statement, so it waits for any other writer to
    commit and then reads what that one committed. Whatever the caller reads after
    this (the row, its application set) is what its write replaces.
    """
    locked = (await session.execute(
        update(model).where(model.id == ref.pk).values(name=model.name).returning(model.id)
        .execution_options(synchronize_session=False))).scalar_one_or_none()
    if locked is None:
        raise ref.missing(what)
    row = await session.get(model, ref.pk, populate_existing=True)
    assert row is not None  # the UPDATE above found it, and holds it
    return row


class Service:
    """A set of use cases run on behalf of `actor` (the name audit events carry)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], actor: str) -> None:
        self.sessions = sessions
        self.actor = actor

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: the writes of a use case and its audit events commit together."""
        async with self.sessions() as session, session.begin():
            yield session

    def record(self, session: AsyncSession, action: str, entity_type: str,
               entity_id: int | None, entity_key: str, release_id: int | None = None,
               **changes: Any) -> None:
        record(session, actor=self.actor, action=action, entity_type=entity_type,
               entity_id=entity_id, entity_key=entity_key, release_id=release_id, **changes)
