"""Live updates over `graphql-transport-ws`: a release or its change requests changed.

Each message names what changed and carries the release as it is now, read
afresh for that message (with its own upstream deadline), so a subscriber
never sees state older than the event. A subscription ends, with an error,
when its caller's session ends or token is revoked: that is checked every
`events.recheck_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable

import strawberry
from sqlalchemy import select

from api.db import models as m
from api.errors import ErrorCode, ServiceError, bad_input, not_found
from api.events import Event, SubscriberLimit
from api.schema.context import Info
from api.schema.types import Release
from api.schema.upstream import Source

# Audit entities whose writes change what a release's change requests look like.
CHANGE_ENTITIES = frozenset({"ChangeRequest", "ChangeIntent", "SourceLink"})


@strawberry.type(description="A committed write that concerns a release.")
class ReleaseEvent:
    action: str = strawberry.field(description="What was done, e.g. `release.update`, "
                                   "`change.raise`, `change.decision`.")
    entity: str = strawberry.field(description="The kind of record written: `Release`, "
                                   "`ReleasePhase`, `SourceLink`, `ChangeRequest`...")
    key: str = strawberry.field(description="The written record's key.")
    release: Release | None = strawberry.field(
        description="The release as it is now; null once it has been deleted.")


async def _release_id(info: Info, key: str) -> int:
    async with info.context.sessions() as session:
        found = await session.scalar(select(m.Release.id).where(m.Release.key == key))
    if found is None:
        raise not_found("release", key)
    return found


async def _current(info: Info, release_id: int | None) -> Release | None:
    if release_id is None:
        return None
    async with info.context.sessions() as session:
        row = await session.get(m.Release, release_id)
    return Release.from_row(row) if row else None


async def _events(info: Info, wanted: Callable[[Event], bool]
                  ) -> AsyncGenerator[ReleaseEvent, None]:
    context = info.context
    principal = context.principal
    if context.bus is None or principal is None:
        raise ServiceError(ErrorCode.FORBIDDEN, "subscriptions need a signed-in caller")
    recheck = context.settings.events.recheck_seconds
    try:
        subscription = context.bus.subscribe(principal.subject, wanted)
    except SubscriberLimit as exc:
        raise ServiceError(ErrorCode.RATE_LIMITED, str(exc)) from None
    try:
        while True:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), timeout=recheck)
            except TimeoutError:
                if context.still_allowed and not await context.still_allowed(principal):
                    raise ServiceError(ErrorCode.UNAUTHENTICATED,
                                       "the session ended; sign in again") from None
                continue
            context.renew()
            yield ReleaseEvent(action=event.action, entity=event.entity, key=event.key,
                               release=await _current(info, event.release_id))
    finally:
        with contextlib.suppress(Exception):
            subscription.close()


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every committed write that concerns the release "
                             "`key` (or any release when `key` is null): its status, window, "
                             "phases, links, bookings, plan and change requests.")
    async def release_changed(self, info: Info, key: str | None = None
                              ) -> AsyncGenerator[ReleaseEvent, None]:
        release_id = await _release_id(info, key) if key is not None else None
        async for item in _events(info, lambda e: e.release_id is not None and (
                release_id is None or e.release_id == release_id)):
            yield item

    @strawberry.subscription(description="Every source, whenever one's status or breaker "
                             "changes (from this server's recorded calls; no upstream is called "
                             "to answer). The first message is the sources as they are.")
    async def sources_changed(self, info: Info, every_seconds: float = 2.0
                              ) -> AsyncGenerator[list[Source], None]:
        context = info.context
        principal = context.principal
        if principal is None:
            raise ServiceError(ErrorCode.FORBIDDEN, "subscriptions need a signed-in caller")
        if not 0.5 <= every_seconds <= 300:
            raise bad_input("everySeconds must be between 0.5 and 300", "everySeconds")
        recheck = context.settings.events.recheck_seconds
        last: tuple[tuple[str, str, str], ...] | None = None
        waited = 0.0
        while True:
            sources = [Source.of(c) for c in context.hub.connectors.values()]
            now = tuple((s.name, s.status.name, str(s.breaker)) for s in sources)
            if now != last:
                last = now
                yield sources
            await asyncio.sleep(every_seconds)
            waited += every_seconds
            if waited >= recheck:
                waited = 0.0
                if context.still_allowed and not await context.still_allowed(principal):
                    raise ServiceError(ErrorCode.UNAUTHENTICATED,
                                       "the session ended; sign in again")

    @strawberry.subscription(description="A change request of the release `release` (or of "
                             "any release) was raised, decided upstream, moved or linked.")
    async def change_request_changed(self, info: Info, release: str | None = None
                                     ) -> AsyncGenerator[ReleaseEvent, None]:
        release_id = await _release_id(info, release) if release is not None else None
        async for item in _events(info, lambda e: e.entity in CHANGE_ENTITIES and (
                release_id is None or e.release_id == release_id)):
            yield item
