"""A running Heatshield server, over SQLite and over PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.db import models as m
from api.settings import load_settings
from tests.support.databases import BACKENDS, execute_db, fresh_database, query_db
from tests.support.graphql import GraphQLClient, add_principal, new_secret, principal_step
from tests.support.server import serve_asgi


@dataclass
class Server:
    url: str
    database_url: str
    backend: str
    client: GraphQLClient
    token: str


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    backend: str = request.param
    with fresh_database(backend, tmp_path_factory.mktemp(backend)) as url:
        settings = load_settings(None, database={"url": url})
        token = new_secret()  # a RELEASE_MANAGER's API token, written at start-up
        with serve_asgi(create_app(settings, startup=[principal_step(token)])) as base_url:
            client = GraphQLClient(base_url, token=token)
            try:
                yield Server(base_url, url, backend, client, token)
            finally:
                client.close()


@pytest.fixture
def gql(server: Server) -> GraphQLClient:
    return server.client


@pytest.fixture
def unique() -> str:
    """A suffix that keeps each test's keys apart on a shared server."""
    return uuid.uuid4().hex[:8].upper()


# --- a server with one user per role, for the access-control tests -------------------------

ROLES = (m.Role.VIEWER, m.Role.RELEASE_MANAGER, m.Role.ADMIN)
PASSWORD = "a long enough test password"


@dataclass
class Guarded:
    """Heatshield with a user per role: `tokens[role]` is each one's API token."""

    url: str
    database_url: str
    tokens: dict[m.Role, str]
    origin: str
    # Clients handed out, closed when the server stops.
    opened: list[Any] = field(default_factory=list)

    def username(self, role: m.Role) -> str:
        return f"{role.name.lower()}-user"

    def login(self, role: m.Role, **options: Any) -> httpx.Client:
        """A browser-like client signed in as `role`: session cookie, same-site Origin."""
        client = httpx.Client(base_url=self.url, timeout=30, headers={"Origin": self.origin},
                              **options)
        self.opened.append(client)
        response = client.post("/auth/login", json={"username": self.username(role),
                                                    "password": PASSWORD})
        assert response.status_code == 204, response.text
        return client

    def bearer(self, role: m.Role) -> GraphQLClient:
        client = GraphQLClient(self.url, token=self.tokens[role])
        self.opened.append(client)
        return client

    def query_db(self, sql: str) -> list[tuple[Any, ...]]:
        """Read Heatshield's database directly, as an attacker with a copy of it would."""
        return query_db(self.database_url, sql)

    def execute_db(self, sql: str) -> None:
        """Change the database behind the server's back (e.g. to age a session)."""
        execute_db(self.database_url, sql)


@contextmanager
def guarded_server(tmp: Path, **settings: Any) -> Iterator[Guarded]:
    url = f"sqlite+aiosqlite:///{tmp / 'guarded.db'}"
    tokens = {role: new_secret() for role in ROLES}

    async def users(sessions: Any) -> None:
        for role in ROLES:
            await add_principal(sessions, username=f"{role.name.lower()}-user", role=role,
                                token=tokens[role], password=PASSWORD)

    app = create_app(load_settings(None, database={"url": url}, **settings), startup=[users])
    with serve_asgi(app) as base_url:
        server = Guarded(base_url, url, tokens, base_url)
        try:
            yield server
        finally:
            for client in server.opened:
                client.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    with guarded_server(tmp_path_factory.mktemp("guarded"),
                        limits={"rate_limit_burst": 1000, "rate_limit_per_minute": 6000},
                        # These tests age sessions in the database behind the server's
                        # back, which a kept principal would not see for a few seconds;
                        # last uses are written five times a second instead of twice a
                        # minute (tests/api/test_principal_cache.py covers both as set).
                        security={"login_attempts_per_minute": 1000,
                                  "principal_cache_seconds": 0,
                                  "last_used_flush_seconds": 0.2}) as server:
        yield server
