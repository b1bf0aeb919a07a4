"""Finding the caller without a database write per request, and without keeping one who lost
access: over HTTP, with the statements the hub's engine sends counted by a listener.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from api.app import create_app
from api.db import models as m
from api.settings import load_settings
from tests.support.databases import BACKENDS, fresh_database, query_db
from tests.support.graphql import add_principal, new_secret
from tests.support.server import serve_asgi

ADMIN = new_secret()
READER = new_secret()  # a viewer's token, "reader-tests"
PASSWORD = "a long enough test password"
OWNER = new_secret()  # an admin's token, "owner-tests", whose role the admin lowers


def statements(app: Starlette) -> list[str]:
    """Every statement the app's engine sends from now on, as sent."""
    sent: list[str] = []
    event.listen(app.state.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: sent.append(statement))
    return sent


@contextmanager
def hub(url: str, **security: Any) -> Iterator[tuple[str, Starlette]]:
    async def admin(sessions: Any) -> None:
        await add_principal(sessions, username="the-admin", role=m.Role.ADMIN, token=ADMIN,
                            password=PASSWORD)
        await add_principal(sessions, username="reader", role=m.Role.VIEWER, token=READER)
        await add_principal(sessions, username="owner", role=m.Role.ADMIN, token=OWNER)

    app = create_app(load_settings(None, database={"url": url}, security=security,
                                   limits={"rate_limit_burst": 1000}), startup=[admin])
    with serve_asgi(app) as base:
        yield base, app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def graph(base: str, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables},
                          headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    return body


def token_id(base: str, name: str) -> str:
    tokens = graph(base, ADMIN, "{ apiTokens { id name } }")["data"]["apiTokens"]
    found: str = next(t["id"] for t in tokens if t["name"] == name)
    return found


def revoke(base: str, name: str) -> None:
    graph(base, ADMIN, "mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }",
          id=token_id(base, name))


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


def test_requests_write_nothing_and_last_use_lands_with_the_flush(database: str) -> None:
    with hub(database, last_used_flush_seconds=3600) as (base, app):
        secret = READER
        sent = statements(app)
        for _ in range(25):
            assert httpx.get(f"{base}/auth/session", headers=bearer(secret)).status_code == 200
        updates = [s for s in sent if s.lstrip().upper().startswith("UPDATE")]
        token_reads = [s for s in sent if "FROM api_tokens" in s]
        assert updates == []
        assert len(token_reads) <= 1  # found once, then kept
        assert query_db(database, "SELECT last_used_at FROM api_tokens "
                                  "WHERE name = 'reader-tests'") == [(None,)]
    # The server stopped: its shutdown wrote the last use, in one statement.
    (last_used,), = query_db(database, "SELECT last_used_at FROM api_tokens "
                                       "WHERE name = 'reader-tests'")
    assert last_used is not None


def test_a_revoked_token_is_refused_on_its_very_next_request(database: str) -> None:
    with hub(database, principal_cache_seconds=300) as (base, _app):
        assert httpx.get(f"{base}/auth/session", headers=bearer(READER)).status_code == 200
        revoke(base, "reader-tests")
        refused = httpx.get(f"{base}/auth/session", headers=bearer(READER))
        assert refused.status_code == 401


def test_a_role_change_shows_on_the_next_request(database: str) -> None:
    with hub(database, principal_cache_seconds=300) as (base, _app):
        secret = OWNER
        who = "{ viewer { role } }"
        assert graph(base, secret, who)["data"]["viewer"]["role"] == "ADMIN"
        users = graph(base, ADMIN, "{ users { id username } }")["data"]["users"]
        owner = next(u["id"] for u in users if u["username"] == "owner")
        # Roles change from an admin's session. The token's owner becomes a viewer, and a
        # token's role is capped by its owner's.
        with httpx.Client(base_url=base, headers={"Origin": base}) as browser:
            signed_in = browser.post("/auth/login", json={"username": "the-admin",
                                                          "password": PASSWORD})
            assert signed_in.status_code == 204, signed_in.text
            changed = browser.post("/graphql", json={
                "query": "mutation($id: ID!) { setUserRole(id: $id, role: VIEWER) { role } }",
                "variables": {"id": owner}}).json()
            assert changed["data"]["setUserRole"]["role"] == "VIEWER", changed
        assert graph(base, secret, who)["data"]["viewer"]["role"] == "VIEWER"


@pytest.mark.postgres
def test_a_token_revoked_on_one_replica_is_refused_by_the_other(tmp_path: Path) -> None:
    with fresh_database("postgres", tmp_path) as url, \
            hub(url, principal_cache_seconds=300) as (one, _), \
            hub(url, principal_cache_seconds=300) as (two, _):
        secret = READER
        assert httpx.get(f"{two}/auth/session", headers=bearer(secret)).status_code == 200
        revoke(one, "reader-tests")
        deadline = time.monotonic() + 10  # the event travels by PostgreSQL NOTIFY
        while httpx.get(f"{two}/auth/session", headers=bearer(secret)).status_code == 200:
            assert time.monotonic() < deadline, "the other replica kept the revoked token"
            time.sleep(0.05)
