"""`[logging] format = "json"`: `heatshield serve` writes one JSON object a line, each line
written during a request carries that request's id, and no secret reaches the log.

The server runs as the CLI runs it, in a process of its own, and its stderr is read
line by line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.hub_process import free_port
from tests.support.paths import REPO

SECRET = "tok-0ps-json-l0gs-must-never-show-this"


def serve_with_json_logs(tmp: Path, port: int) -> subprocess.Popen[str]:
    config = tmp / "heatshield.toml"
    config.write_text(f"""
[database]
url = "sqlite+aiosqlite:///{tmp / 'hub.db'}"

[server]
port = {port}

[logging]
format = "json"

[security]
login_max_failures = 1

[[connectors]]
name = "jira"
kind = "jira"
base_url = "http://127.0.0.1:9"
auth = {{ type = "basic", username = "ops@example.com", token_env = "OPS_LOG_TEST_TOKEN" }}
""", encoding="utf-8")
    env = {**os.environ, "OPS_LOG_TEST_TOKEN": SECRET}
    return subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--config", str(config)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_until_up(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def test_json_lines_carry_the_request_id_and_never_a_secret(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = serve_with_json_logs(tmp_path, port)
    try:
        wait_until_up(base, process)
        httpx.get(f"{base}/healthz", headers={"X-Request-Id": "probe-health"})
        # A path and a query string holding the connector's secret.
        assert httpx.get(f"{base}/{SECRET}", headers={"X-Request-Id": "probe-path"}
                         ).status_code == 401
        httpx.get(f"{base}/graphql", params={"query": f'{{ release(key: "{SECRET}") {{ key }} }}'},
                  headers={"X-Request-Id": "probe-query"})
        statuses = []
        for n in range(3):  # the second failure on, the login is slowed (and says so)
            statuses.append(httpx.post(
                f"{base}/auth/login", json={"username": "nobody", "password": SECRET},
                headers={"X-Request-Id": f"probe-login-{n}", "Origin": base}).status_code)
        assert 429 in statuses, statuses
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)

    assert SECRET not in stderr and SECRET not in stdout
    lines: list[dict[str, Any]] = [json.loads(line) for line in stderr.splitlines() if line]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    by_request: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_request.setdefault(line.get("request_id", ""), []).append(line)

    assert len(by_request["probe-health"]) == 1
    assert by_request["probe-health"][0]["logger"] == "heatshield.access"
    assert '"GET /healthz HTTP/1.1" 200' in by_request["probe-health"][0]["message"]
    assert '"GET /*** HTTP/1.1" 401' in by_request["probe-path"][0]["message"]
    assert '"GET /graphql HTTP/1.1"' in by_request["probe-query"][0]["message"]

    slowed = next(f"probe-login-{n}" for n, status in enumerate(statuses) if status == 429)
    messages = [line["message"] for line in by_request[slowed]]
    assert any(m.startswith("slowed a login") for m in messages), messages
    assert any('"POST /auth/login HTTP/1.1" 429' in m for m in messages), messages
    # Lines outside any request (start-up, shutdown) carry no id rather than a wrong one.
    assert any("Application startup complete" in line["message"] for line in by_request[""])
