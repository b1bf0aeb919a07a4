"""The `heatshield` command as a user runs it: sandboxes on their own port, schema, errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.hub_process import free_port
from tests.support.paths import REPO


def heatshield(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def test_sandbox_help_shows_the_demo_credentials() -> None:
    out = heatshield("sandbox", "--help").stdout
    assert "demo@acme-retail.example" in out and "demo-password" in out and "demo-token" in out


def test_an_unknown_sandbox_kind_is_refused_by_name() -> None:
    result = heatshield("sandbox", "gitlab")
    assert result.returncode == 2
    assert "gitlab" in result.stderr and "servicenow" in result.stderr


def test_a_sandbox_runs_on_its_own_port_with_the_credentials_given() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "sandbox", "servicenow", "--port", str(port),
         "--user", "ops", "--password", "s3cret-pass"], cwd=REPO)
    try:
        url = f"http://127.0.0.1:{port}/api/now/table/change_request"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(url, params={"sysparm_limit": 2}, auth=("ops", "s3cret-pass"))
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert len(response.json()["result"]) == 2
        assert httpx.get(url, auth=("demo@acme-retail.example", "demo-password")
                         ).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_bad_configuration_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "heatshield.toml"
    config.write_text('[database]\nurl = "mysql://nope"\n')
    result = heatshield("migrate", "--config", str(config))
    assert result.returncode == 2
    assert "database.url" in result.stderr


def test_the_jira_sandbox_plays_data_center_when_asked_so_a_pat_is_accepted() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "sandbox", "jira", "--port", str(port),
         "--flavor", "datacenter", "--token", "my-pat"], cwd=REPO)
    try:
        base = f"http://127.0.0.1:{port}/rest/api/2"
        deadline = time.monotonic() + 30
        while True:
            try:
                info = httpx.get(f"{base}/serverInfo")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.2)
        assert info.json()["deploymentType"] == "Server"
        pat = {"Authorization": "Bearer my-pat"}
        assert httpx.get(f"{base}/myself", headers=pat).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_flavor_the_sandbox_does_not_play_is_refused_naming_the_choices() -> None:
    unknown = heatshield("sandbox", "jira", "--flavor", "mainframe")
    assert unknown.returncode == 2
    assert "mainframe" in unknown.stderr and "datacenter" in unknown.stderr
    flavourless = heatshield("sandbox", "servicenow", "--flavor", "cloud")
    assert flavourless.returncode == 2
    assert "servicenow" in flavourless.stderr and "cloud" in flavourless.stderr
