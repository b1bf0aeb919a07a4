"""SQLite under write contention: writes wait their turn, and none fails as locked.

A burst of concurrent writes through the graph must all succeed (each one is a
transaction with its audit event); and a write must outwait another process holding
the database's write lock for longer than SQLite's usual five seconds.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.settings import load_settings
from tests.support.databases import query_db
from tests.support.graphql import new_secret, principal_step
from tests.support.server import serve_asgi

CREATE = "mutation($i: ApplicationInput!) { createApplication(input: $i) { key } }"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    database = tmp_path / "hub.db"
    token = new_secret()
    settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{database}"},
                             limits={"rate_limit_per_minute": 1_000_000,
                                     "rate_limit_burst": 1_000_000})
    with serve_asgi(create_app(settings, startup=[principal_step(token)])) as base_url:
        yield base_url, token, database


def _create(client: httpx.Client, base_url: str, key: str) -> tuple[int, str]:
    answer = client.post(f"{base_url}/graphql", json={
        "query": CREATE, "variables": {"i": {"key": key, "name": key}}})
    errors = answer.json().get("errors") if answer.status_code == 200 else None
    return answer.status_code, str(errors or "")


def test_a_burst_of_concurrent_writes_all_succeed(hub: tuple[str, str, Path]) -> None:
    base_url, token, database = hub
    keys = [f"BURST{n:04d}" for n in range(480)]
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=120,
                      limits=httpx.Limits(max_connections=24)) as client, \
            ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = list(pool.map(lambda key: _create(client, base_url, key), keys))
    assert [o for o in outcomes if o != (200, "")] == []
    [(stored,)] = query_db(f"sqlite+aiosqlite:///{database}",
                           "SELECT count(*) FROM applications WHERE key LIKE 'BURST%'")
    [(audited,)] = query_db(f"sqlite+aiosqlite:///{database}",
                            "SELECT count(*) FROM audit_events WHERE entity_key LIKE 'BURST%'")
    assert (stored, audited) == (len(keys), len(keys))


def test_a_write_outwaits_another_process_holding_the_lock_past_five_seconds(
        hub: tuple[str, str, Path]) -> None:
    base_url, token, database = hub
    held = threading.Event()

    def hold() -> None:  # another process's writer: the lock for 6.5 seconds
        other = sqlite3.connect(database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(6.5)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        outcome = _create(client, base_url, "OUTWAITED")
    holder.join()
    assert outcome == (200, "")
