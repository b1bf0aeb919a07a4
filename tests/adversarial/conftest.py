"""Real parts for the adversarial tests: the sandboxes (with fault injection) and a hub.

Each property of the trust promise is tried the way a careful tester or an
attacker would: over HTTP against a real uvicorn server, on SQLite and on
PostgreSQL where storage is involved, with the upstream sandboxes on real
sockets. A test module that needs other settings builds its own hub with
`start_hub(...)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.db.models import Role
from api.demo import build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.sandbox.world import build_world
from tests.support.databases import BACKENDS, fresh_database
from tests.support.graphql import GraphQLClient, add_principal, new_secret
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

PASSWORD = "a long enough test password"


@dataclass
class Hub:
    """A running Heatshield: its URL, its database and a client per role."""

    url: str
    database_url: str
    backend: str
    tokens: dict[Role, str]
    opened: list[Any] = field(default_factory=list)

    def username(self, role: Role) -> str:
        return f"{role.name.lower()}-user"

    def client(self, role: Role = Role.RELEASE_MANAGER) -> GraphQLClient:
        """A GraphQL client with `role`'s API token."""
        client = GraphQLClient(self.url, token=self.tokens[role])
        self.opened.append(client)
        return client

    def login(self, role: Role, **options: Any) -> httpx.Client:
        """A browser-like client signed in as `role`: session cookie, same-site Origin."""
        client = httpx.Client(base_url=self.url, timeout=30, headers={"Origin": self.url},
                              **options)
        self.opened.append(client)
        response = client.post("/auth/login", json={"username": self.username(role),
                                                    "password": PASSWORD})
        assert response.status_code == 204, response.text
        return client


@contextmanager
def start_hub(upstreams: Upstreams, database_url: str, backend: str, **settings: Any
              ) -> Iterator[Hub]:
    """Heatshield over `database_url`, linked to the sandboxes, one user per role."""
    tokens = {role: new_secret() for role in Role}
    overrides: dict[str, Any] = {
        "database": {"url": database_url},
        "connectors": [c.model_dump() | {"timeout_seconds": 3, "max_retries": 1}
                       for c in demo_connectors(upstreams.url)],
        "federation": {"cache_ttl_seconds": 0},
        "limits": {"rate_limit_burst": 10_000, "rate_limit_per_minute": 60_000},
        "security": {"login_attempts_per_minute": 10_000},
    }
    for section, values in settings.items():
        if isinstance(values, dict) and isinstance(overrides.get(section), dict):
            overrides[section] = overrides[section] | values
        else:
            overrides[section] = values

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, upstreams.world)
        for role in Role:
            await add_principal(sessions, username=f"{role.name.lower()}-user", role=role,
                                token=tokens[role], password=PASSWORD)

    app = create_app(load_settings(None, **overrides), environ=demo_environ(),
                     startup=[seed_step])
    with serve_asgi(app) as url:
        hub = Hub(url, database_url, backend, tokens)
        try:
            yield hub
        finally:
            for client in hub.opened:
                client.close()


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world()
    sandboxes = build_sandboxes(world)
    with serve_asgi(Starlette(routes=sandboxes.mounts())) as url:
        yield Upstreams(url, world, sandboxes.apps)


@pytest.fixture(autouse=True)
def no_faults(upstreams: Upstreams) -> Iterator[None]:
    upstreams.clear_faults()
    yield
    upstreams.clear_faults()


@pytest.fixture(scope="module", params=BACKENDS)
def hub(request: pytest.FixtureRequest, upstreams: Upstreams,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The hub on SQLite, and on PostgreSQL when one is available."""
    backend: str = request.param
    tmp: Path = tmp_path_factory.mktemp(backend)
    with fresh_database(backend, tmp) as url, start_hub(upstreams, url, backend) as running:
        yield running


@pytest.fixture
def rm(hub: Hub) -> GraphQLClient:
    """A release manager's API client."""
    return hub.client(Role.RELEASE_MANAGER)


@pytest.fixture
def viewer(hub: Hub) -> GraphQLClient:
    return hub.client(Role.VIEWER)
