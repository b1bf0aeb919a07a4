"""The typed request context handed to every resolver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from api.events import LocalBus
from api.hub import Hub
from api.loaders import Loaders
from api.permissions import Principal
from api.settings import Settings
from api.upstream_loaders import UpstreamLoaders


@dataclass(slots=True, kw_only=True)
class Context:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    hub: Hub
    # Who is asking (None: anonymous); set by the security middleware.
    principal: Principal | None = None
    actor: str = "anonymous"
    request: Any = None
    response: Any = None
    loaders: Loaders = field(init=False)
    upstream: UpstreamLoaders = field(init=False)
    # Errors of sources that failed while the rest of the query succeeded.
    partial_errors: list[GraphQLError] = field(default_factory=list)
    # (path, source, key) of each of them: one failing source over a list of a thousand
    # releases is checked against this set, not against every error reported so far.
    partial_seen: set[tuple[Any, ...]] = field(default_factory=set)
    # Request-scoped loaders of derived facts (a release's live facts, its work), by name.
    scoped: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)
    # Each listed release's work, when the upstream cache held all of it
    # (`api.schema.federated.start_reads`): a plain dict, not a future per release.
    prefetched_work: dict[int, Any] = field(default_factory=dict)
    # Committed writes, for subscriptions; and who may still hear them.
    bus: LocalBus | None = None
    still_allowed: Callable[[Principal], Awaitable[bool]] | None = None

    def __post_init__(self) -> None:
        if self.principal is not None:
            self.actor = self.principal.actor
        self.renew()

    def renew(self) -> None:
        """Fresh loaders and a fresh upstream deadline: a subscription's connection
        lives for hours, and each event it answers is a request of its own."""
        self.loaders = Loaders(self.sessions)
        # The request's deadline for upstream data starts with the request.
        self.upstream = UpstreamLoaders(self.hub, self.hub.deadline())
        self.scoped.clear()
        self.prefetched_work.clear()
        self.partial_errors.clear()
        self.partial_seen.clear()

    def scoped_loader(self, name: str, load: Callable[[list[Any]], Awaitable[Sequence[Any]]]
                      ) -> DataLoader[Any, Any]:
        """The request's loader `name`, made on first use: what several fields need about
        one parent is computed once per request, for all parents in one batch."""
        if name not in self.scoped:
            self.scoped[name] = DataLoader(load_fn=load)
        return self.scoped[name]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One mutation, one transaction: any error rolls back every write."""
        async with self.sessions() as session, session.begin():
            yield session


Info = strawberry.Info[Context, None]
