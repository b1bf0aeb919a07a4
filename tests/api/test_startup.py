"""Start-up: `/healthz` answers only once the graph can, and serving imports only what
serving needs (a Redis client, trace exporters, the retry library, the sandboxes and
migrations' tooling load when something asks for them).

Each check runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.hub_process import free_port
from tests.support.paths import REPO

PASSWORD = "a-long-start-up-password"
#: Loaded only when asked for: Redis by `[redis] url`, exporters by `[telemetry]`, the retry
#: library by the first upstream call that may retry; the rest never by serving.
NOT_FOR_SERVING = ("redis", "stamina", "opentelemetry.sdk", "opentelemetry.exporter",
                   "connectors.sandbox", "alembic", "icalendar", "jsonschema")


def imported_by(statement: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter holds after `statement`."""
    probe = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return set(json.loads(out))


def loaded(modules: set[str], package: str) -> list[str]:
    return [m for m in modules if m == package or m.startswith(package + ".")]


def test_importing_the_app_loads_nothing_serving_does_not_use() -> None:
    modules = imported_by("import api.cli, api.app")
    assert "api.app" in modules and "strawberry" in modules  # the probe imported the app
    for package in NOT_FOR_SERVING:
        assert loaded(modules, package) == [], package


def test_the_app_built_without_redis_or_an_exporter_loads_neither() -> None:
    modules = imported_by(
        "from api.app import create_app\n"
        "from api.settings import load_settings\n"
        "create_app(load_settings(None, database={'url': 'sqlite+aiosqlite://'}))")
    assert loaded(modules, "redis") == []
    assert loaded(modules, "opentelemetry.exporter") == []
    assert loaded(modules, "connectors.sandbox") == []


def test_the_app_built_with_metrics_off_loads_no_metrics_client() -> None:
    modules = imported_by(
        "from api.app import create_app\n"
        "from api.settings import load_settings\n"
        "create_app(load_settings(None, database={'url': 'sqlite+aiosqlite://'},\n"
        "                         metrics={'enabled': False}))")
    assert "api.app" in modules
    assert loaded(modules, "prometheus_client") == []


def test_a_query_sent_as_soon_as_healthz_answers_is_served(tmp_path: Path) -> None:
    config = tmp_path / "heatshield.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "hub.db"}"\n',
                      encoding="utf-8")
    subprocess.run([sys.executable, "-m", "api.cli", "user", "add", "reader",
                    "--password-stdin", "--config", str(config)], cwd=REPO,
                   input=PASSWORD + "\n", text=True, capture_output=True, check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--config",
                               str(config), "--port", str(port)], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:  # polled without a pause: the first 200 is what counts
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
        with httpx.Client(base_url=base, headers={"Origin": base}, timeout=30) as client:
            login = client.post("/auth/login", json={"username": "reader",
                                                     "password": PASSWORD})
            assert login.status_code == 204, login.text
            answer = client.post("/graphql", json={
                "query": "{ releases(first: 5) { totalCount edges { node { key } } } }"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"] == {"releases": {"totalCount": 0, "edges": []}}
    finally:
        server.terminate()
        server.wait(timeout=20)
