"""Polling the ITSMs that push nothing (`ChangePoller` kinds): what changed since a watermark.

Every `events.poll_seconds`, for each source whose kind is a `ChangePoller`,
one batched question: which of the changes linked to releases still in play
were modified at or after the watermark? Each answer goes into the inbox under
`number@last-modified`, so an answer seen twice (the watermark is inclusive,
and a restart may ask again) is taken once, and none is lost between polls.
The watermark is the source's own last-modified time, never the hub's clock,
so clock skew between the two cannot open a gap. On a source's first poll the
watermark is set to what is there, without telling anyone of old news.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.domain.enums import ReleaseStatus
from api.hub import Hub
from api.inbox import Inbox
from connectors.errors import UpstreamError
from connectors.records import ChangePoller, ChangeRecord, LinkKind
from connectors.webhooks import ChangeChanged

log = logging.getLogger("heatshield.poller")

# Releases whose changes no longer matter to anyone waiting on them.
SETTLED = (ReleaseStatus.DEPLOYED, ReleaseStatus.CANCELLED)


def _delivery(record: ChangeRecord) -> str:
    """One modification of a change: its time, and what it says (two in one second differ)."""
    assert record.updated_at is not None
    return (f"{record.number}@{record.updated_at.isoformat()}/{record.state_label}/"
            f"{record.approval.value}")[:200]


class ChangePolling:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub, inbox: Inbox
                 ) -> None:
        self.sessions = sessions
        self.hub = hub
        self.inbox = inbox

    def sources(self) -> list[str]:
        return [name for name, connector in self.hub.connectors.items()
                if isinstance(connector, ChangePoller)]

    async def _numbers(self, source: str) -> list[str]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(m.SourceLink.external_key).join(
                    m.Release, m.Release.id == m.SourceLink.release_id)
                .where(m.SourceLink.source == source,
                       m.SourceLink.kind == LinkKind.CHANGE_REQUEST,
                       m.Release.status.not_in(SETTLED)))
            return sorted(set(rows))

    async def _watermark(self, source: str) -> datetime | None:
        async with self.sessions() as session:
            row = await session.get(m.PollWatermark, source)
            return row.watermark if row else None

    async def _store(self, source: str, watermark: datetime) -> None:
        async with self.sessions() as session, session.begin():
            row = await session.get(m.PollWatermark, source, with_for_update=True)
            if row is None:
                session.add(m.PollWatermark(source=source, watermark=watermark))
            elif watermark > row.watermark:  # another replica may have gone further
                row.watermark = watermark
                row.polled_at = m.utcnow()

    async def poll(self, source: str) -> int:
        """One poll of `source`; how many changes it heard of (0 on a first poll)."""
        connector = self.hub.connectors[source]
        assert isinstance(connector, ChangePoller)
        numbers = await self._numbers(source)
        if not numbers:
            return 0
        since = await self._watermark(source)
        records: Sequence[ChangeRecord] = await connector.changes_modified_since(since, numbers)
        stamped = [r for r in records if r.updated_at is not None]
        if not stamped:
            return 0
        newest = max(r.updated_at for r in stamped if r.updated_at is not None)
        heard = 0
        for record in stamped:
            delivery = _delivery(record)
            digest = hashlib.sha256(f"{source}/{delivery}".encode()).hexdigest()
            if since is None:  # first poll: old news is no news, but is known from now on
                await self.inbox.remember(source, delivery, "poll", digest)
                continue
            row_id = await self.inbox.accept(
                source, delivery, "poll", digest,
                ChangeChanged(number=record.number, state=record.state_label,
                              approval=record.approval.value))
            if row_id is not None:
                heard += 1
                await self.inbox.process(row_id, held=True)
        await self._store(source, newest)
        return heard

    async def run(self, interval: float) -> None:
        """Poll every source every `interval` seconds until cancelled."""
        while True:
            for source in self.sources():
                try:
                    await self.poll(source)
                except asyncio.CancelledError:
                    raise
                except UpstreamError as error:
                    log.info("polling %s: %s", source, error.message)
                except Exception:  # a bug must not stop polling the others; say so
                    log.exception("polling %s failed", source)
            await asyncio.sleep(interval)
