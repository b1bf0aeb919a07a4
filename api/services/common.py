"""Small parts every service shares: how a caller names a row, "leave as it is", lookups."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import models as m
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
