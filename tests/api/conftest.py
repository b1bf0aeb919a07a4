"""A running Heatshield server, over SQLite and over PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from api.app import create_app
from api.settings import load_settings
from tests.support.databases import BACKENDS, fresh_database
from tests.support.graphql import GraphQLClient, new_secret, principal_step
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
