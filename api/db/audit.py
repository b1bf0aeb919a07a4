"""The audit trail: every write records who, what, before and after, in its own transaction."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import AuditEvent, Base


def snapshot(obj: Base | None, *extra: tuple[str, Any]) -> dict[str, Any] | None:
    """A JSON-ready copy of an entity's columns (plus named extras such as its applications)."""
    if obj is None:
        return None
    data: dict[str, Any] = {}
    for column in inspect(obj).mapper.column_attrs:
        value = getattr(obj, column.key)
        data[column.key] = _plain(value)
    for key, value in extra:
        data[key] = _plain(value)
    data.pop("created_at", None)
    data.pop("updated_at", None)
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def record(session: AsyncSession, *, actor: str, action: str, entity_type: str,
           entity_id: int | None, entity_key: str = "", release_id: int | None = None,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           reason: str = "") -> AuditEvent:
    event = AuditEvent(actor=actor, action=action, entity_type=entity_type, entity_id=entity_id,
                       entity_key=entity_key, release_id=release_id, before=before, after=after,
                       reason=reason)
    session.add(event)
    return event
