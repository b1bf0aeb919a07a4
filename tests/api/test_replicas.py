"""Two replicas over one PostgreSQL and one Redis behave as one service.

Replica A is `heatshield serve --workers 2` and replica B a plain `heatshield serve`,
each a real process on its own port, both over one fresh PostgreSQL database and one
Redis (a key prefix of this module's own), reading the sandboxes over real sockets.
They start at the same moment over the empty database, so they also race to migrate it.
What one replica counts or changes, the other must see: a login slowed on A is slowed
on B, one rate budget covers both, and a change request written through A is never
read stale through B, although B keeps upstream answers for five minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.db import models as m
from api.db.engine import create_engine, session_factory
from api.demo import CREDENTIALS, build_sandboxes, demo_connectors, demo_environ, seed
from connectors.sandbox.world import build_world
from tests.support.databases import fresh_database
from tests.support.graphql import GraphQLClient, add_principal, new_secret
from tests.support.hub_process import free_port
from tests.support.itsm import SN_TABLE, servicenow_change
from tests.support.paths import REPO
from tests.support.redis import redis_prefix, redis_url
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

pytestmark = pytest.mark.postgres

PASSWORD = "a long enough replica password"
BURST = 8  # requests per caller at once, for both replicas together
FREE_FAILURES = 2  # failed logins before each further one is slowed
RELEASE = "query($k: String!) { release(key: $k) { id changeRequests { number title risk } } }"
RAISE = """mutation($id: ID!) { raiseChangeRequest(releaseId: $id, source: "servicenow",
  idempotencyKey: "replicas") { changeRequest { id number title risk } } }"""
UPDATE = """mutation($id: ID!, $risk: RiskLevel!) { updateChangeRequest(id: $id,
  input: {risk: $risk}, reason: "Risk reassessed through replica A") { risk } }"""


@dataclass
class Replicas:
    a: str
    b: str
    upstreams: Upstreams
    tokens: dict[str, str]  # username -> API token
    logs: list[Path]

    def gql(self, url: str, user: str) -> GraphQLClient:
        return GraphQLClient(url, token=self.tokens[user])


def _environment(database: str, redis: str, prefix: str, upstreams: str) -> dict[str, str]:
    connectors = [c.model_dump(mode="json") | {"timeout_seconds": 5, "max_retries": 1}
                  for c in demo_connectors(upstreams)]
    return {**os.environ, **demo_environ(),
            "HEATSHIELD_DATABASE__URL": database,
            "HEATSHIELD_REDIS__URL": redis,
            "HEATSHIELD_REDIS__KEY_PREFIX": prefix,
            "HEATSHIELD_CONNECTORS": json.dumps(connectors),
            # Sessions signed alike on every replica; upstream answers kept for long enough
            # that only an invalidation can make a replica read again.
            "HEATSHIELD_SECURITY__SECRET_KEY": "replicas-test-signing-key-" + prefix,
            "HEATSHIELD_SECURITY__LOGIN_MAX_FAILURES": str(FREE_FAILURES),
            "HEATSHIELD_SECURITY__LOGIN_BACKOFF_SECONDS": "120",
            "HEATSHIELD_LIMITS__RATE_LIMIT_BURST": str(BURST),
            "HEATSHIELD_LIMITS__RATE_LIMIT_PER_MINUTE": str(BURST),
            "HEATSHIELD_FEDERATION__CACHE_TTL_SECONDS": "300",
            "HEATSHIELD_EVENTS__POLL_SECONDS": "0"}


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"replica at {url} did not start:\n{log.read_text()[-3000:]}")


async def _seed(database: str, world: Any, tokens: dict[str, str]) -> None:
    engine = create_engine(database)
    try:
        sessions = session_factory(engine)
        await seed(sessions, world)
        for username, token in tokens.items():
            await add_principal(sessions, username=username, role=m.Role.RELEASE_MANAGER,
                                token=token, password=PASSWORD)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    tmp = tmp_path_factory.mktemp("replicas")
    redis = redis_url()
    world = build_world()
    with fresh_database("postgres", tmp) as database, redis_prefix(redis) as prefix, \
            serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as sandboxes:
        env = _environment(database, redis, prefix, sandboxes)
        ports = {"a": free_port(), "b": free_port()}
        commands = {"a": ["--workers", "2"], "b": []}
        processes: list[subprocess.Popen[bytes]] = []
        logs: list[Path] = []
        try:
            for name, port in ports.items():  # both at once, over the empty database
                log = tmp / f"replica-{name}.log"
                logs.append(log)
                with log.open("wb") as out:
                    processes.append(subprocess.Popen(
                        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1",
                         "--port", str(port), *commands[name]],
                        cwd=tmp, env={**env, "PYTHONPATH": str(REPO)},
                        stdout=out, stderr=subprocess.STDOUT))
            for port, process, log in zip(ports.values(), processes, logs, strict=True):
                _wait_healthy(f"http://127.0.0.1:{port}", process, log)
            tokens = {user: new_secret() for user in ("throttled", "budget", "writer")}
            asyncio.run(_seed(database, world, tokens))
            yield Replicas(f"http://127.0.0.1:{ports['a']}", f"http://127.0.0.1:{ports['b']}",
                           Upstreams(sandboxes, world), tokens, logs)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def _login(url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/auth/login", json={"username": username, "password": password},
                      headers={"Origin": url}, timeout=30)


def test_both_replicas_migrated_one_database_without_racing(replicas: Replicas) -> None:
    for log in replicas.logs:
        text = log.read_text()
        assert "Traceback" not in text, text[-3000:]
    for url in (replicas.a, replicas.b):
        ready = httpx.get(f"{url}/readyz", timeout=10).json()
        assert ready == {"status": "ok", "database": "postgresql"}


def test_a_login_slowed_on_one_replica_is_slowed_on_the_other(replicas: Replicas) -> None:
    for _ in range(FREE_FAILURES):
        assert _login(replicas.a, "throttled", "a wrong password guess").status_code == 401
    # B never saw those failures itself; the right password is still held back there.
    refused = _login(replicas.b, "throttled", PASSWORD)
    assert refused.status_code == 429, refused.text
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(refused.headers["Retry-After"]) > 60
    # Only that name is slowed: another user from the same address signs in on B.
    assert _login(replicas.b, "writer", PASSWORD).status_code == 204


def test_one_rate_budget_covers_both_replicas(replicas: Replicas) -> None:
    answered: dict[str, list[int]] = {replicas.a: [], replicas.b: []}
    headers = {"Authorization": f"Bearer {replicas.tokens['budget']}"}
    for turn in range(2 * BURST):
        url = replicas.a if turn % 2 == 0 else replicas.b
        status = httpx.get(f"{url}/auth/session", headers=headers, timeout=30).status_code
        answered[url].append(status)
    statuses = answered[replicas.a] + answered[replicas.b]
    assert set(statuses) == {200, 429}
    # One budget of BURST for the caller (a request's worth may refill meanwhile), not one
    # per replica: each replica alone would have let all 2 x BURST through.
    assert BURST <= statuses.count(200) <= BURST + 1, answered
    assert 429 in answered[replicas.a] and 429 in answered[replicas.b]


def test_a_change_raised_through_one_replica_is_never_read_stale_through_the_other(
        replicas: Replicas) -> None:
    world = replicas.upstreams.world
    key = [r.key for r in world.releases if r.app_key == world.applications[0].key][-1]
    a, b = replicas.gql(replicas.a, "writer"), replicas.gql(replicas.b, "writer")
    try:
        release = b.data(RELEASE, {"k": key})["release"]
        assert release["changeRequests"] == []

        change = a.data(RAISE, {"id": release["id"]})["raiseChangeRequest"]["changeRequest"]
        seen = b.data(RELEASE, {"k": key})["release"]["changeRequests"]
        assert [c["number"] for c in seen] == [change["number"]]
        assert seen[0]["risk"] == change["risk"]
        risk = "LOW" if change["risk"] != "LOW" else "VERY_HIGH"

        # B keeps what it read: a change made behind the hub's back is not seen yet ...
        row = servicenow_change(replicas.upstreams.url, change["number"])
        httpx.patch(f"{replicas.upstreams.url}{SN_TABLE}/{row['sys_id']}",
                    json={"short_description": "Edited in the ITSM directly"},
                    auth=(CREDENTIALS.username, CREDENTIALS.password)).raise_for_status()
        cached = b.data(RELEASE, {"k": key})["release"]["changeRequests"]
        assert cached[0]["title"] == change["title"]

        # ... but a write through A invalidates B's copy before A answers.
        updated = a.data(UPDATE, {"id": change["id"], "risk": risk})["updateChangeRequest"]
        assert updated["risk"] == risk
        fresh = b.data(RELEASE, {"k": key})["release"]["changeRequests"]
        assert fresh[0]["risk"] == risk
        assert fresh[0]["title"] == "Edited in the ITSM directly"
    finally:
        a.close()
        b.close()
