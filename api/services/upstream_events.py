"""What an ITSM's own news about a change does in the hub: no copy trusted, the cache told.

A change request that moved upstream (approved by the CAB, rescheduled,
closed) is read afresh on the next request: its cached copies are dropped. The
news is recorded in the audit trail of the release the change is linked to,
which tells live subscribers (api/events.py) within the same commit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.cache import change_tags
from api.db import models as m
from api.db.audit import record
from api.hub import Hub
from connectors.records import LinkKind
from connectors.webhooks import ChangeChanged


async def change_moved_upstream(sessions: async_sessionmaker[AsyncSession], hub: Hub,
                                source: str, event: ChangeChanged) -> list[str]:
    """Drop cached reads and record the news on each release linked to the change; their keys."""
    hub.cache.invalidate(change_tags(source))  # the next read of its changes is fresh
    async with sessions() as session, session.begin():
        rows = (await session.execute(
            select(m.Release.id, m.Release.key).join(
                m.SourceLink, m.SourceLink.release_id == m.Release.id)
            .where(m.SourceLink.source == source,
                   m.SourceLink.kind == LinkKind.CHANGE_REQUEST,
                   m.SourceLink.external_key == event.number))).all()
        for release_id, _key in rows:
            record(session, actor=f"{source} (upstream)", action="change.upstream",
                   entity_type="ChangeRequest", entity_id=None, entity_key=event.number,
                   release_id=release_id,
                   after={"state": event.state, "approval": event.approval})
    return [key for _id, key in rows]
