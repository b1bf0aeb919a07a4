"""Pipelines ask the release: GitHub's custom deployment protection rule, end to end.

The GitHub sandbox holds a deployment to a protected environment (`queued`) and
asks the hub (`deployment_protection_rule`); the hub answers the callback as
soon as the release's gates decide. While the ITSM has not approved, the
deployment waits (no runner held: the hub answers later); once ServiceNow's
CAB approves, it proceeds; when the CAB rejects, it fails with the reasons.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.demo import CREDENTIALS, build_sandboxes, release_links
from connectors.sandbox.world import World, build_world
from tests.support.databases import query_db
from tests.support.demo_hub import demo_hub
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi

TOKEN = new_secret()


class Running:
    def __init__(self, upstream: str, hub: str, database_url: str, world: World) -> None:
        self.upstream, self.hub, self.database_url, self.world = (
            upstream, hub, database_url, world)

    def github(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.upstream}/sandbox/github{path}", timeout=10,
                             headers={"Authorization": f"Bearer {CREDENTIALS.token}"},
                             **kwargs)

    def repo(self, release_key: str) -> str:
        app = self.world.app(self.world.release(release_key).app_key)
        return f"/repos/{app.repo_owner}/{app.repo_name}"

    def protect(self, release_key: str) -> None:
        answer = self.github("POST", f"{self.repo(release_key)}/environments/production/"
                                     "deployment_protection_rules", json={"integration_id": 77})
        assert answer.status_code in (201, 422), answer.text  # 422: already protected

    def deploy(self, release_key: str, ref: str | None = None) -> int:
        created = self.github("POST", f"{self.repo(release_key)}/deployments", json={
            "ref": ref or self.world.release(release_key).to_tag, "environment": "production"})
        assert created.status_code == 201, created.text
        deployment_id: int = created.json()["id"]
        return deployment_id

    def statuses(self, release_key: str, deployment_id: int) -> list[tuple[str, str]]:
        listed = self.github("GET", f"{self.repo(release_key)}/deployments/{deployment_id}"
                                    "/statuses").json()
        return [(s["state"], s["description"]) for s in reversed(listed)]

    def servicenow_change(self, release_key: str) -> dict[str, str]:
        [number] = [key for source, kind, key in release_links(self.world, release_key)
                    if source == "servicenow" and kind.name == "CHANGE_REQUEST"]
        table = f"{self.upstream}/sandbox/servicenow/api/now/table/change_request"
        [row] = httpx.get(table, params={"sysparm_query": f"number={number}"},
                          auth=(CREDENTIALS.username, CREDENTIALS.password)).json()["result"]
        return dict(row)

    def decide_change(self, release_key: str, values: dict[str, str]) -> None:
        change = self.servicenow_change(release_key)
        table = f"{self.upstream}/sandbox/servicenow/api/now/table/change_request"
        answer = httpx.patch(f"{table}/{change['sys_id']}", json=values,
                             auth=(CREDENTIALS.username, CREDENTIALS.password))
        assert answer.status_code == 200, answer.text


def _running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    world = build_world()
    sandboxes = build_sandboxes(world)
    tmp: Path = tmp_path_factory.mktemp("pipeline-gates")
    database_url = f"sqlite+aiosqlite:///{tmp / 'hub.db'}"
    with serve_asgi(Starlette(routes=sandboxes.mounts())) as upstream, \
            demo_hub(world, upstream, database_url, startup=[principal_step(TOKEN)],
                     federation={"cache_ttl_seconds": 300}) as hub:
        for kind in ("github", "servicenow"):
            sandboxes.apps[kind].state.kit.webhook_url = f"{hub}/webhooks/{kind}"
        yield Running(upstream, hub, database_url, world)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from _running(tmp_path_factory)


@pytest.fixture()
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A world of its own, for a test whose moves the module's others must not see."""
    yield from _running(tmp_path_factory)


def wait_for(check: Any, seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_deployment_waits_while_the_change_is_unapproved_and_proceeds_once_approved(
        running: Running) -> None:
    release = "INV-2026.11"  # its ServiceNow change waits for the CAB
    running.protect(release)
    deployment = running.deploy(release)

    time.sleep(1.5)
    assert running.statuses(release, deployment) == [
        ("queued", "Waiting for a deployment protection rule")]  # held upstream, no runner
    [(decision,)] = query_db(running.database_url, "SELECT decision FROM pipeline_gates "
                                                   "ORDER BY id DESC LIMIT 1")
    assert decision == ""  # pending

    running.decide_change(release, {"state": "-2"})  # the CAB approves: Scheduled

    finished = wait_for(lambda: [s for s, _ in running.statuses(release, deployment)
                                 if s in ("success", "failure")])
    assert finished == ["success"], running.statuses(release, deployment)
    states = [s for s, _ in running.statuses(release, deployment)]
    assert states == ["queued", "in_progress", "success"]
    [(decision, comment)] = query_db(running.database_url,
                                     "SELECT decision, comment FROM pipeline_gates "
                                     "ORDER BY id DESC LIMIT 1")
    assert decision == "approved" and release in comment


GATES = "query($k: String!) { release(key: $k) { id gates { name passed } } }"
LINK = """mutation($r: ID!, $l: SourceLinkInput!) { linkSource(releaseId: $r, link: $l) { id } }"""
HISTORY = "query($k: String!) { release(key: $k) { history { action after } } }"


def test_code_two_releases_cover_goes_only_when_both_may(fresh: Running) -> None:
    # Two applications released from one tag: the deployment carries the code of both,
    # so one release's approval does not let the other's changes through.
    covered, also = "INV-2026.11", "RPT-2026.12"
    fresh.decide_change(covered, {"state": "-2"})  # its CAB approves: Scheduled
    gql = GraphQLClient(fresh.hub, token=TOKEN)
    try:
        assert wait_for(lambda: all(g["passed"] for g in gql.data(GATES, {"k": covered})[
            "release"]["gates"]))
        other = gql.data(GATES, {"k": also})["release"]
        [code] = [key for source, kind, key in release_links(fresh.world, covered)
                  if source == "github" and kind.name == "CODE_RANGE"]
        gql.data(LINK, {"r": other["id"], "l": {"source": "github", "kind": "CODE_RANGE",
                                                 "externalKey": code}})
    finally:
        gql.close()
    fresh.protect(covered)
    deployment = fresh.deploy(covered)

    # RPT-2026.12's change was rejected in Remedy: it never can pass, so neither can this.
    finished = wait_for(lambda: [(s, d) for s, d in fresh.statuses(covered, deployment)
                                 if s in ("success", "failure")])
    [(state, description)] = finished
    assert state == "failure" and description.startswith(f"{also}: change_approved")
    # Each release's history says its code was held back, and why.
    gql = GraphQLClient(fresh.hub, token=TOKEN)
    try:
        for key in (covered, also):
            answers = [e["after"] for e in gql.data(HISTORY, {"k": key})["release"]["history"]
                       if e["action"] == "gate.answer"]
            assert [(a["decision"], a["comment"].split(":")[0]) for a in answers] == [
                ("rejected", also)], key
    finally:
        gql.close()


def test_a_deployment_is_rejected_with_the_reasons_when_the_change_is_rejected(
        running: Running) -> None:
    release = "PAY-2026.11"  # its ServiceNow change waits for the CAB too
    running.protect(release)
    deployment = running.deploy(release)
    time.sleep(1.0)
    assert [s for s, _ in running.statuses(release, deployment)] == ["queued"]

    running.decide_change(release, {"approval": "rejected"})

    finished = wait_for(lambda: [(s, d) for s, d in running.statuses(release, deployment)
                                 if s in ("success", "failure")])
    [(state, description)] = finished
    assert state == "failure" and "change_approved" in description


def test_code_no_release_covers_is_refused_at_once(running: Running) -> None:
    release = "INV-2026.11"
    running.protect(release)
    repo_commits = running.github("GET", f"{running.repo(release)}/commits",
                                  params={"per_page": 1}).json()
    deployment = running.deploy(release, ref=repo_commits[0]["sha"])

    finished = wait_for(lambda: [(s, d) for s, d in running.statuses(release, deployment)
                                 if s in ("success", "failure")])
    [(state, description)] = finished
    assert state == "failure" and "no release in Heatshield covers" in description


def test_every_answer_is_audited(running: Running) -> None:
    rows = query_db(running.database_url,
                    "SELECT actor, after FROM audit_events WHERE action = 'gate.answer'")
    assert len(rows) >= 2
    assert all("deployment protection rule" in actor for actor, _ in rows)
