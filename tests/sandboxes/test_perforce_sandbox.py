"""The Swarm sandbox answers as the contract says, to our connector and to `helixswarm`."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from helixswarm import SwarmClient

from api.demo import CREDENTIALS
from connectors.config import ConnectorConfig
from connectors.errors import BadLinkKey
from connectors.perforce.client import PerforceConnector
from connectors.perforce.sandbox.app import create_app
from connectors.records import Answer, LinkKind, LinkRef
from connectors.registry import build_connectors
from connectors.sandbox.world import World, build_world, depot_range
from tests.support import contracts
from tests.support.hub_process import free_port
from tests.support.paths import REPO
from tests.support.server import serve_asgi

WORLD = build_world(seed=7)
AUTH = (CREDENTIALS.username, CREDENTIALS.password)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def swarm() -> Iterator[str]:
    with serve_asgi(create_app(WORLD, credentials=CREDENTIALS)) as url:
        yield url


def release_in_perforce(world: World, status: str) -> str:
    return next(r.key for r in world.releases if r.status == status
                and world.app(r.app_key).code_store == "perforce")


def test_changes_of_a_range_answer_as_the_contract_says_newest_first(swarm: str) -> None:
    path, first, last = depot_range(WORLD, WORLD.release(release_in_perforce(WORLD, "DEPLOYED")))
    answer = httpx.get(f"{swarm}/api/v11/changes", auth=AUTH, params={
        "rootPath": b64(f"{path}/...@{first},@{last}"), "pending": "false"})
    assert answer.status_code == 200
    assert contracts.answer_mismatches("perforce", "list changes", answer.json()) == []
    numbers = [c["id"] for c in answer.json()["data"]["changes"]]
    assert numbers == list(range(last, first - 1, -1))


def test_a_label_range_is_read_as_p4_reads_it(swarm: str) -> None:
    labels = [lab for lab in WORLD.labels if WORLD.app(lab.app_key).code_store == "perforce"]
    low, high = labels[0], labels[1]
    answer = httpx.get(f"{swarm}/api/v11/changes", auth=AUTH, params={
        "rootPath": b64(f"{WORLD.app(low.app_key).depot_path}/...@{low.name},@{high.name}")})
    numbers = [c["id"] for c in answer.json()["data"]["changes"]]
    assert (min(numbers), max(numbers)) == (low.change, high.change)


def test_changes_page_with_max_and_last_seen(swarm: str) -> None:
    seen: list[int] = []
    params: dict[str, str | int] = {"max": 7}
    while True:
        data = httpx.get(f"{swarm}/api/v11/changes", auth=AUTH, params=params).json()["data"]
        seen += [c["id"] for c in data["changes"]]
        if not data.get("lastSeen"):
            break
        params["after"] = data["lastSeen"]
    assert seen == sorted((c.number for c in WORLD.changelists), reverse=True)


def test_a_bad_root_path_and_a_bad_password_are_refused_in_swarms_shapes(swarm: str) -> None:
    bad = httpx.get(f"{swarm}/api/v11/changes", auth=AUTH, params={"rootPath": b64("depot")})
    assert bad.status_code == 400
    assert contracts.answer_mismatches("perforce", "list changes, bad root path", bad.json()) == []
    assert httpx.get(f"{swarm}/api/v11/changes", auth=("demo", "nope")).status_code == 401


def test_reviews_and_projects_answer_as_the_contract_says(swarm: str) -> None:
    reviews = httpx.get(f"{swarm}/api/v9/reviews", auth=AUTH, params={"max": 5}).json()
    assert contracts.answer_mismatches("perforce", "list reviews", reviews) == []
    projects = httpx.get(f"{swarm}/api/v9/projects", auth=AUTH).json()
    assert contracts.answer_mismatches("perforce", "list projects", projects) == []


def test_helixswarm_reads_the_sandboxs_reviews_and_changes(swarm: str) -> None:
    client = SwarmClient(f"{swarm}/api/v9", CREDENTIALS.username, CREDENTIALS.password)
    change = next(c for c in WORLD.changelists if c.jobs)
    found = client.reviews.get(changes=[change.number])
    assert [r["changes"] for r in found["reviews"]] == [[change.number]]
    approved = client.reviews.get(states=["approved"], limit=3)
    assert len(approved["reviews"]) == 3 and approved["lastSeen"] is not None
    assert {r["state"] for r in approved["reviews"]} == {"approved"}
    v11 = SwarmClient(f"{swarm}/api/v11", CREDENTIALS.username, CREDENTIALS.password)
    changes = v11._request("GET", "changes", params={"pending": "false", "max": 3})
    assert [c["id"] for c in changes["data"]["changes"]] == sorted(
        (c.number for c in WORLD.changelists), reverse=True)[:3]


def test_the_fault_kit_fails_the_changes_it_is_told_to(swarm: str) -> None:
    httpx.post(f"{swarm}/_sandbox/faults", json={"path": "changes", "error_rate": 1,
                                                 "error_status": 503}).raise_for_status()
    try:
        assert httpx.get(f"{swarm}/api/v11/changes", auth=AUTH).status_code == 503
        assert httpx.get(f"{swarm}/api/v9/reviews", auth=AUTH).status_code == 200
    finally:
        httpx.delete(f"{swarm}/_sandbox/faults")
    log = httpx.get(f"{swarm}/_sandbox/requests").json()
    assert any(r["fault"] == "error" for r in log["requests"])


def test_heatshield_sandbox_perforce_runs_on_its_own_port_with_the_credentials_given() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "sandbox", "perforce", "--port", str(port),
         "--user", "builder", "--password", "p4-ticket-1"], cwd=REPO)
    try:
        url = f"http://127.0.0.1:{port}/api/v11/changes"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(url, params={"max": 2}, auth=("builder", "p4-ticket-1"))
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert len(response.json()["data"]["changes"]) == 2
        assert httpx.get(url, auth=AUTH).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=15)


async def test_a_range_on_a_swarm_branch_reads_the_same_as_on_its_depot_path(swarm: str) -> None:
    release = WORLD.release(release_in_perforce(WORLD, "DEPLOYED"))
    path, first, last = depot_range(WORLD, release)
    project = WORLD.app(release.app_key).repo_name
    config = ConnectorConfig(name="p4", kind="perforce", base_url=swarm, auth={
        "type": "basic", "username": CREDENTIALS.username, "password_env": "P4_TICKET"})
    connector = build_connectors([config], environ={"P4_TICKET": CREDENTIALS.password})["p4"]
    assert isinstance(connector, PerforceConnector)
    by_path = LinkRef("p4", LinkKind.CODE_RANGE, f"{path}@{first},@{last}")
    by_branch = LinkRef("p4", LinkKind.CODE_RANGE, f"swarm:{project}/main@{first},@{last}")
    unknown = LinkRef("p4", LinkKind.CODE_RANGE, f"swarm:{project}/nope@{first},@{last}")
    try:
        answer = await connector.work_items([by_path, by_branch, unknown])
    finally:
        await connector.aclose()
    assert isinstance(answer, Answer)
    assert [i.key for i in answer[by_branch]] == [i.key for i in answer[by_path]] != []
    assert isinstance(answer.failed[unknown], BadLinkKey)
    assert "names no branch" in str(answer.failed[unknown])
