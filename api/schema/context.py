"""The typed request context handed to every resolver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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

    def __post_init__(self) -> None:
        if self.principal is not None:
            self.actor = self.principal.actor
        self.loaders = Loaders(self.sessions)
        self.upstream = UpstreamLoaders(self.hub)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One mutation, one transaction: any error rolls back every write."""
        async with self.sessions() as session, session.begin():
            yield session


Info = strawberry.Info[Context, None]
