"""The inbox: every upstream event is stored first, then applied, at least once, in order.

A webhook route (or a poller) verifies an event and `accept`s it: one row in
`webhook_deliveries`, whose unique delivery id and body digest refuse a replay.
Only then is it applied, by whoever gets to it first: the route itself, at
once, for a quick answer; or the background `run` loop of any replica, for
what a crash, a restart or an unreachable ITSM left behind. A processor claims
a row with a lease before applying it, so two replicas never apply it at the
same time; a row is applied only when every older row of the same record
(`record_key`: a change's number, a repository's environment) has been, so
events of one record are applied in the order they arrived. What is applied
twice (a processor that died after applying, before marking) must be
harmless: the services that apply events move records forward only.

Processed rows are kept `keep_days` for their delivery ids (replays are
refused while they are), then pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, get_args

from sqlalchemy import and_, delete, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.db.models import utcnow
from connectors.errors import UpstreamError
from connectors.records import DeploymentState
from connectors.webhooks import (
    ChangeChanged,
    DeploymentEvent,
    WebhookEvent,
    WorkChanged,
)

log = logging.getLogger("heatshield.inbox")

class _Turn(enum.Enum):
    BEHIND = "behind"  # an older event of the same record is still pending

#: What applying an event answers: an HTTP status and a JSON body for the sender.
Applied = tuple[int, dict[str, Any]]
Apply = Callable[[str, WebhookEvent], Awaitable[Applied]]

# Every kind of neutral event, by name: a new one is stored and read back without a change here.
_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in get_args(WebhookEvent)}


def encode(event: WebhookEvent) -> dict[str, Any]:
    data = asdict(event)
    for name, value in data.items():
        if isinstance(value, DeploymentState):
            data[name] = value.value
        elif isinstance(value, tuple):
            data[name] = list(value)
    return {"type": type(event).__name__, **data}


def decode(payload: dict[str, Any]) -> WebhookEvent:
    data = dict(payload)
    cls = _TYPES[str(data.pop("type"))]
    if cls is DeploymentEvent:
        data["state"] = DeploymentState(data["state"])
    if cls is WorkChanged:
        data["keys"] = tuple(data.get("keys", ()))
    event: WebhookEvent = cls(**data)
    return event


def record_key(event: WebhookEvent) -> str:
    """Events with the same key are applied in arrival order; '' needs no order."""
    match event:
        case DeploymentEvent():
            return f"deployment:{event.repository}:{event.environment}"[:200]
        case ChangeChanged():
            return f"change:{event.number}"[:200]
        case _:
            return ""


class Inbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], apply: Apply, *,
                 lease_seconds: float = 60.0, keep_days: float = 30.0,
                 max_backoff_seconds: float = 300.0, max_attempts: int = 20,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.apply = apply
        self.lease = timedelta(seconds=lease_seconds)
        self.keep = timedelta(days=keep_days)
        self.max_backoff = max_backoff_seconds
        self.max_attempts = max_attempts
        self.now = now
        self.wake = asyncio.Event()

    async def accept(self, source: str, delivery: str, event_type: str, digest: str,
                     event: WebhookEvent) -> int | None:
        """Store the event, held by the caller for a lease (it means to `process(..., held=True)`
        it next); None when its delivery id or body was seen before."""
        moment = self.now()
        try:
            async with self.sessions() as session, session.begin():
                row = m.WebhookDelivery(source=source, delivery_id=delivery, event=event_type,
                                        digest=digest, record_key=record_key(event),
                                        payload=encode(event), received_at=moment,
                                        claimed_until=moment + self.lease)
                session.add(row)
                await session.flush()
                row_id = row.id
        except IntegrityError:
            return None
        return row_id

    async def remember(self, source: str, delivery: str, event_type: str, digest: str) -> bool:
        """Record a delivery as already known without applying it (a poller's first look);
        False when it was known before."""
        moment = self.now()
        try:
            async with self.sessions() as session, session.begin():
                session.add(m.WebhookDelivery(source=source, delivery_id=delivery,
                                              event=event_type, digest=digest,
                                              received_at=moment, processed_at=moment))
        except IntegrityError:
            return False
        return True

    async def process(self, row_id: int, *, held: bool = False,
                      wait_seconds: float = 0.0) -> Applied | None:
        """Apply one stored event now if it is its record's next and nobody else holds it
        (`held`: the caller does, since it `accept`ed it).

        When an older event of its record is still pending, a holder waits up to
        `wait_seconds` for it (deliveries of one record arriving together are
        then answered in turn); past that it lets go. None when it must wait
        (or another processor holds it) or when applying it failed (it is
        retried later, after a growing pause); the background loop takes it
        from there.
        """
        deadline = time.monotonic() + wait_seconds
        while True:
            outcome = await self._process(row_id, held=held,
                                          let_go=time.monotonic() >= deadline)
            if outcome is not _Turn.BEHIND:
                return outcome
            await asyncio.sleep(0.05)

    async def _process(self, row_id: int, *, held: bool, let_go: bool
                       ) -> Applied | _Turn | None:
        moment = self.now()
        async with self.sessions() as session, session.begin():
            row = await session.get(m.WebhookDelivery, row_id)
            if row is None or row.processed_at is not None or row.payload is None:
                return None
            if row.record_key and await session.scalar(select(m.WebhookDelivery.id).where(
                    m.WebhookDelivery.source == row.source,
                    m.WebhookDelivery.record_key == row.record_key,
                    m.WebhookDelivery.processed_at.is_(None),
                    m.WebhookDelivery.id < row.id).limit(1)):
                if not (held and not let_go):
                    if held:  # an older event of this record goes first; the loop takes it
                        row.claimed_until = None
                        self.wake.set()
                    return None
                return _Turn.BEHIND
            source, payload, attempts = row.source, dict(row.payload), row.attempts + 1
            free = or_(m.WebhookDelivery.claimed_until.is_(None),
                       m.WebhookDelivery.claimed_until <= moment)
            claimed = await session.execute(
                update(m.WebhookDelivery)
                .where(m.WebhookDelivery.id == row_id, m.WebhookDelivery.processed_at.is_(None),
                       true() if held else free)
                .values(claimed_until=moment + self.lease,
                        attempts=m.WebhookDelivery.attempts + 1))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
        try:
            answer = await self.apply(source, decode(payload))
        except UpstreamError as error:  # the upstream was unreachable: try again later
            await self._failed(row_id, source, attempts, f"{error.source}: {error.message}")
            return None
        except Exception as exc:  # a bug or bad data: keep it, retry, and give up in the end
            log.exception("inbox event %d from %s failed", row_id, source)
            await self._failed(row_id, source, attempts, f"internal error: {type(exc).__name__}")
            return None
        await self._finish(row_id)
        return answer

    async def _failed(self, row_id: int, source: str, attempts: int, error: str) -> None:
        if attempts >= self.max_attempts:
            log.error("inbox event %d from %s given up after %d attempts: %s", row_id, source,
                      attempts, error)
            await self._finish(row_id, error=f"given up after {attempts} attempts: {error}")
            return
        pause = min(self.max_backoff, 2.0 ** attempts)
        self.wake.set()  # the loop waits out the pause, then tries again
        log.warning("inbox event %d from %s not applied (attempt %d): %s", row_id, source,
                    attempts, error)
        await self._finish(row_id, error=error, retry_at=self.now() + timedelta(seconds=pause))

    async def _finish(self, row_id: int, *, error: str = "",
                      retry_at: datetime | None = None) -> None:
        values: dict[str, Any] = ({"claimed_until": retry_at, "last_error": error[:2000]}
                                  if retry_at is not None else
                                  {"processed_at": self.now(), "claimed_until": None,
                                   "last_error": error[:2000]})
        async with self.sessions() as session, session.begin():
            await session.execute(update(m.WebhookDelivery)
                                  .where(m.WebhookDelivery.id == row_id).values(**values))

    async def drain(self, limit: int = 200) -> int:
        """Apply what is pending and due, oldest first; how many were applied."""
        moment = self.now()
        async with self.sessions() as session:
            pending = list(await session.scalars(
                select(m.WebhookDelivery.id)
                .where(m.WebhookDelivery.processed_at.is_(None),
                       m.WebhookDelivery.payload.is_not(None),
                       or_(m.WebhookDelivery.claimed_until.is_(None),
                           m.WebhookDelivery.claimed_until <= moment))
                .order_by(m.WebhookDelivery.id).limit(limit)))
        applied = 0
        for row_id in pending:
            if await self.process(row_id) is not None:
                applied += 1
        return applied

    async def pending(self) -> int:
        async with self.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(m.WebhookDelivery)
                                         .where(m.WebhookDelivery.processed_at.is_(None),
                                                m.WebhookDelivery.payload.is_not(None)))
            return int(count or 0)

    async def prune(self) -> int:
        """Forget processed events older than `keep_days`; how many went."""
        async with self.sessions() as session, session.begin():
            result = await session.execute(delete(m.WebhookDelivery).where(and_(
                m.WebhookDelivery.processed_at.is_not(None),
                m.WebhookDelivery.received_at < self.now() - self.keep)))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def run(self, interval: float = 1.0, prune_every: float = 3600.0) -> None:
        """Apply pending events until cancelled: woken by `accept`, else every `interval`."""
        since_prune = prune_every  # prune once at start-up
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=interval)
            self.wake.clear()
            try:
                while await self.drain():
                    pass
                since_prune += interval
                if since_prune >= prune_every:
                    since_prune = 0.0
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not stop the loop; say so, go on
                log.exception("inbox processing failed; retrying")
