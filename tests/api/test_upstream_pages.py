"""Upstream calls a dashboard costs, against what the upstream APIs allow at best.

A world of scale 10 (over 200 linked releases); the dashboard query asked for
N=10 and N=200 releases with the hub's cache off, counted by the sandboxes'
request logs. The lower bounds (docs/upstream-limits.md): JIRA Cloud serves 100
issues a page with fields (plus one keys-only listing, since its pages carry no
total); GitHub takes every milestone and every repository's deployments in one
GraphQL document (its reads of both kinds gathered by the hub); each ITSM one
call. With latency on every answer, the calls of each source run in at most two
rounds (counted from the logs, not timed); once the JIRA connector has seen how many
issues each version holds, a later fetch of them runs in one round.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.demo import build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.base import LinkKind, LinkRef
from connectors.config import AuthConfig, ConnectorConfig
from connectors.http import UpstreamClient
from connectors.jira.client import JiraConnector
from connectors.jira.sandbox.app import create_app as jira_app
from connectors.sandbox.kit import DEMO_TOKEN
from connectors.sandbox.world import World, build_world
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams, serial_rounds

KINDS = ("jira", "github", "servicenow", "remedy")
TOKEN = new_secret()
DASHBOARD = """
query($n: Int!) {
  releases(first: $n) {
    nodes {
      key
      workItems(first: 100) { totalCount nodes { key status } }
      changeRequests { number state }
      deployments { environment ref state }
    }
  }
}"""


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world(seed=7, scale=10)
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield Upstreams(url, world)


@pytest.fixture()
def hub(upstreams: Upstreams, tmp_path: Path) -> Iterator[GraphQLClient]:
    """A hub of its own per test: what its JIRA connector has seen (one N=10 dashboard,
    for the sessions) is part of what is counted."""
    world = upstreams.world
    apps = {a.key for a in world.applications[:8]}
    keys = [r.key for r in world.releases if r.app_key in apps]
    assert len(keys) > 200
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp_path}/h.db"},
        # Generous timeouts: a retry would add calls and rounds to what is counted.
        connectors=[c.model_dump() | {"timeout_seconds": 60}
                    for c in demo_connectors(upstreams.url)],
        limits={"max_page_size": 200},
        federation={"cache_ttl_seconds": 0, "request_deadline_seconds": 120})

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, world, releases=keys)

    app = create_app(settings, environ=demo_environ(),
                     startup=[seed_step, principal_step(TOKEN)])
    with serve_asgi(app) as url:
        client = GraphQLClient(url, token=TOKEN)
        client.data(DASHBOARD, {"n": 10})  # sessions (Remedy's login) outside the counts
        yield client
        client.close()


def dashboard(upstreams: Upstreams, hub: GraphQLClient, n: int
              ) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Each source's logged calls for one dashboard query, and the releases it showed."""
    upstreams.reset()
    data = hub.data(DASHBOARD, {"n": n})
    logs = {kind: httpx.get(f"{upstreams.url}/sandbox/{kind}/_sandbox/requests").json()[
        "requests"] for kind in KINDS}
    return logs, [node["key"] for node in data["releases"]["nodes"]]


def jira_issues(world: World, releases: list[str]) -> int:
    shown = set(releases)
    return sum(1 for item in world.work_items if item.release_key in shown)


def test_calls_for_200_releases_are_the_fewest_the_apis_allow(
        upstreams: Upstreams, hub: GraphQLClient) -> None:
    small, small_keys = dashboard(upstreams, hub, 10)
    large, large_keys = dashboard(upstreams, hub, 200)
    assert len(large_keys) == 200

    assert jira_issues(upstreams.world, small_keys) <= 100
    assert len(small["jira"]) == 1  # one page of issues
    issues = jira_issues(upstreams.world, large_keys)
    assert issues > 1000
    # Pages of 100 issues, plus the keys-only listing that lets them run side by side.
    assert len(large["jira"]) == math.ceil(issues / 100) + 1
    # Again, the versions' sizes known: chunks filling 90 of a page's 100, no listing.
    again, _ = dashboard(upstreams, hub, 200)
    assert math.ceil(issues / 100) < len(again["jira"]) <= math.ceil(issues / 90) + 1
    # One document for every milestone and every repository's deployments together.
    assert [c["path"] for c in small["github"]] == ["/graphql"]
    assert [c["path"] for c in large["github"]] == ["/graphql"]
    for itsm in ("servicenow", "remedy"):
        assert len(small[itsm]) == len(large[itsm]) == 1


def test_the_calls_for_200_releases_run_in_two_rounds_then_in_one(
        upstreams: Upstreams, hub: GraphQLClient) -> None:
    # Calls count as one round when they start within half the latency of each other:
    # 300 ms (150 ms of slack) once read a busy machine's spread sends as a second round.
    latency = 600
    for kind in KINDS:
        upstreams.fault(kind, latency_ms=latency)
    try:
        first, _ = dashboard(upstreams, hub, 200)
        again, _ = dashboard(upstreams, hub, 200)
    finally:
        upstreams.clear_faults()
    rounds = {kind: serial_rounds(calls, latency) for kind, calls in first.items()}
    # JIRA: the first page beside the key listing, then every other page at once.
    assert rounds == {"jira": 2, "github": 1, "servicenow": 1, "remedy": 1}
    # Now the connector knows each version's size: chunks that fill a page, all at once.
    rounds = {kind: serial_rounds(calls, latency) for kind, calls in again.items()}
    assert rounds == {"jira": 1, "github": 1, "servicenow": 1, "remedy": 1}


def test_data_center_pages_of_1000_need_two_calls_for_1400_issues(
        upstreams: Upstreams) -> None:
    """Data Center's first page gives the total; the second page is asked then. Once the
    versions' sizes are known, both are asked at once."""
    world = upstreams.world
    releases = world.releases[:200]
    issues = jira_issues(world, [r.key for r in releases])
    assert 1000 < issues <= 2000
    config = ConnectorConfig(name="jira-dc", kind="jira", base_url="http://placeholder",
                             auth=AuthConfig(type="bearer", token_env="JIRA_TOKEN"),
                             options={"flavour": "datacenter"})
    with serve_asgi(jira_app(world, mode="datacenter")) as url:
        config = config.model_copy(update={"base_url": url})

        links = [LinkRef("jira-dc", LinkKind.PLANNED_VERSION, str(r.jira_version_id))
                 for r in releases]
        latency = 300

        async def run() -> tuple[list[dict[LinkRef, list[Any]]], list[list[dict[str, Any]]]]:
            jira = JiraConnector(config, UpstreamClient.from_config(
                config, environ={"JIRA_TOKEN": DEMO_TOKEN}))
            found, calls = [], []
            try:
                async with httpx.AsyncClient(base_url=url) as sandbox:
                    for _ in range(2):
                        await sandbox.delete("/_sandbox/requests")
                        found.append(dict(await jira.work_items(links)))
                        calls.append((await sandbox.get("/_sandbox/requests")).json()[
                            "requests"])
                return found, calls
            finally:
                await jira.aclose()

        httpx.post(f"{url}/_sandbox/faults", json={"latency_ms": latency}).raise_for_status()
        found, calls = asyncio.run(run())
    for each in found:
        assert sum(len(items) for items in each.values()) == issues
    assert found[0] == found[1]
    assert len(calls[0]) == math.ceil(issues / 1000) == 2
    assert serial_rounds(calls[0], latency) == 2
    # Fetched again: the versions' sizes known, two chunks under a page each, side by side.
    assert len(calls[1]) == 2 and serial_rounds(calls[1], latency) == 1
