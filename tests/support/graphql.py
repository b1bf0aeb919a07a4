"""A minimal GraphQL-over-HTTP client for tests, as any client would post.

Heatshield refuses anonymous callers, so test servers get a user and an API
token written straight into their database at start-up (`principal_step`),
and clients send that token as `Authorization: Bearer`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import auth
from api.db import models as m

Startup = Callable[[async_sessionmaker[AsyncSession]], Awaitable[None]]


def new_secret() -> str:
    """A fresh API token secret, in the shape Heatshield issues."""
    return auth.new_token()[0]


async def add_principal(sessions: async_sessionmaker[AsyncSession], *, username: str,
                        role: m.Role, token: str | None = None,
                        password: str | None = None) -> int:
    """A user (made if missing) and, given `token`, an API token with that secret."""
    async with sessions() as session, session.begin():
        user = await session.scalar(select(m.User).where(m.User.username == username))
        if user is None:
            user = m.User(username=username, role=role,
                          password_hash=auth.hash_password(password or auth.new_token()[0]))
            session.add(user)
            await session.flush()
        known = token is not None and await session.scalar(
            select(m.ApiToken.id).where(m.ApiToken.token_hash == auth.digest(token)))
        if token is not None and not known:  # a restarted server keeps its tokens
            session.add(m.ApiToken(user_id=user.id, name=f"{username}-tests",
                                   token_hash=auth.digest(token), prefix=token[:10], role=role))
        return user.id


def principal_step(token: str, role: m.Role = m.Role.RELEASE_MANAGER,
                   username: str = "test-release-manager") -> Startup:
    """A start-up step that lets `token` in with `role`."""
    async def step(sessions: async_sessionmaker[AsyncSession]) -> None:
        await add_principal(sessions, username=username, role=role, token=token)
    return step


class GraphQLClient:
    def __init__(self, base_url: str, token: str | None = None, **client_options: Any) -> None:
        headers = dict(client_options.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=base_url, timeout=30, headers=headers,
                                 **client_options)

    @classmethod
    def signed_in(cls, base_url: str, username: str, password: str) -> GraphQLClient:
        """A browser-like client of `username`: a session cookie and the site's own Origin."""
        client = cls(base_url, headers={"Origin": base_url})
        response = client.http.post("/auth/login", json={"username": username,
                                                         "password": password})
        assert response.status_code == 204, response.text
        return client

    def post(self, query: str, variables: dict[str, Any] | None = None,
             **kwargs: Any) -> dict[str, Any]:
        response = self.http.post("/graphql", json={"query": query, "variables": variables or {}},
                                  **kwargs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an operation that must succeed."""
        body = self.post(query, variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The single error of an operation that must fail."""
        body = self.post(query, variables)
        assert body.get("errors"), f"expected an error, got {body}"
        assert len(body["errors"]) == 1, body["errors"]
        error: dict[str, Any] = body["errors"][0]
        return error

    def close(self) -> None:
        self.http.close()
