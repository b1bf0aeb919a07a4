"""A Perforce-backed release through the graph, over real sockets, with no api/ change.

The hub and every registered sandbox run as the demo runs them; only releases of
the applications kept in Perforce are seeded, so the counts are Perforce's own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.demo import build_sandboxes, demo_connectors, demo_environ, release_links, seed
from api.settings import load_settings
from connectors.sandbox.world import build_world
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.paths import REPO
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

TOKEN = new_secret()
QUERY = """query($n: Int!) { releases(first: $n) { nodes { key
  readiness { total done complete perSource { source total done } }
  workItems(first: 100) { totalCount nodes { key title status statusLabel source { name } } }
} } }"""
COUNT = """query($n: Int!) { releases(first: $n) { nodes { key
  readiness { total done } workItems(first: 1) { totalCount } } } }"""
RELEASE = """query($k: String!) { release(key: $k) { key
  readiness { total done complete perSource { source total done } }
  workItems(first: 100) { totalCount nodes { key title status statusLabel source { name } } }
} }"""


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world(seed=7, scale=10)  # ten Perforce applications, 330 releases
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield Upstreams(url, world)


@pytest.fixture(scope="module")
def hub(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[GraphQLClient]:
    tmp: Path = tmp_path_factory.mktemp("perforce")
    world = upstreams.world
    keys = [r.key for r in world.releases if world.app(r.app_key).code_store == "perforce"]
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
        connectors=[c.model_dump() | {"timeout_seconds": 3, "max_retries": 1}
                    for c in demo_connectors(upstreams.url)],
        federation={"cache_ttl_seconds": 0, "request_deadline_seconds": 60.0},
        limits={"max_page_size": 250})  # N=200 releases on one page

    async def seed_step(sessions: object) -> None:
        await seed(sessions, world, releases=keys)  # type: ignore[arg-type]

    with serve_asgi(create_app(settings, environ=demo_environ(),
                               startup=[seed_step, principal_step(TOKEN)])) as url:
        client = GraphQLClient(url, token=TOKEN)
        yield client
        client.close()


@pytest.fixture(autouse=True)
def no_faults(upstreams: Upstreams) -> Iterator[None]:
    upstreams.clear_faults()
    yield
    upstreams.clear_faults()


def test_the_kind_and_its_sandbox_are_found_through_their_entry_points() -> None:
    assert "connectors.perforce.client:PerforceConnector" in [
        e.value for e in entry_points(group="heatshield.connectors") if e.name == "perforce"]
    assert "connectors.perforce.sandbox.app:SANDBOX" in [
        e.value for e in entry_points(group="heatshield.sandboxes") if e.name == "perforce"]


def test_the_demo_mounts_configures_and_links_perforce(upstreams: Upstreams) -> None:
    assert "perforce" in build_sandboxes(upstreams.world).apps
    assert [c.kind for c in demo_connectors("http://hub") if c.name == "perforce"] == ["perforce"]
    release = next(r for r in upstreams.world.releases
                   if upstreams.world.app(r.app_key).code_store == "perforce")
    sources = {source for source, _, _ in release_links(upstreams.world, release.key)}
    assert "perforce" in sources and "github" not in sources


def test_no_file_under_api_or_the_dashboard_names_perforce() -> None:
    named = [p for root in ("api", "frontend/src") for p in (REPO / root).rglob("*")
             if p.is_file() and p.suffix in {".py", ".ts", ".tsx"}
             and "perforce" in p.read_text(encoding="utf-8").lower()]
    assert named == []


def test_a_release_reads_its_changelists_and_jobs_and_jira_keeps_the_mirrored_job(
        hub: GraphQLClient, upstreams: Upstreams) -> None:
    world = upstreams.world
    key = next(r.key for r in world.releases if r.status == "DEPLOYED"
               and world.app(r.app_key).code_store == "perforce")
    release = hub.data(RELEASE, {"k": key})["release"]
    mine = [i for i in release["workItems"]["nodes"] if i["source"]["name"] == "perforce"]
    changes = {i["key"] for i in mine if i["key"].startswith("change ")}
    expected = {f"change {c.number}" for c in world.changelists
                if c.release_key == release["key"] and c.submitted}
    assert changes == expected
    jira = {i["key"] for i in release["workItems"]["nodes"] if i["source"]["name"] == "jira"}
    assert not jira & {i["key"] for i in mine}  # a mirrored job is counted once, in JIRA
    per_source = {s["source"]: s for s in release["readiness"]["perSource"]}
    assert per_source["perforce"]["total"] == len(mine)


def perforce_calls(upstreams: Upstreams, hub: GraphQLClient, n: int) -> tuple[int, int]:
    upstreams.reset()
    nodes = hub.data(COUNT, {"n": n})["releases"]["nodes"]
    items = sum(r["workItems"]["totalCount"] for r in nodes)
    return upstreams.calls("perforce"), items


def test_upstream_calls_stay_flat_from_10_to_200_releases(hub: GraphQLClient,
                                                           upstreams: Upstreams) -> None:
    small, _ = perforce_calls(upstreams, hub, 10)
    large, items = perforce_calls(upstreams, hub, 200)
    paths = len({a.depot_path for a in upstreams.world.applications
                 if a.code_store == "perforce"})
    changes = items  # at most this many changes, read in pages of 500, reviews 100 at a time
    assert large <= paths + math.ceil(changes / 500) + math.ceil(changes / 100), (small, large)
    assert large < 200 / 10
    print(f"perforce calls at N=10: {small}; at N=200: {large} ({paths} depot paths, "
          f"{items} items)")


def test_when_swarm_reviews_fail_the_changelists_stand_without_their_review_state(
        hub: GraphQLClient, upstreams: Upstreams) -> None:
    world = upstreams.world
    key = next(r.key for r in world.releases if r.status == "DEPLOYED"
               and world.app(r.app_key).code_store == "perforce")
    upstreams.fault("perforce", path="reviews", error_rate=1.0, error_status=500)
    answer = hub.post(RELEASE, {"k": key})
    mine = [i for i in answer["data"]["release"]["workItems"]["nodes"]
            if i["source"]["name"] == "perforce"]
    assert any(i["key"].startswith("change ") for i in mine)
    assert all("review" not in i["statusLabel"] for i in mine)
    assert any(e["extensions"].get("source") == "perforce" and "review states left out"
               in e["message"] for e in answer["errors"])


# Last: its failures open the breaker, and later reads would get stale copies.
def test_when_perforce_fails_the_other_sources_still_answer_and_the_error_names_it(
        hub: GraphQLClient, upstreams: Upstreams) -> None:
    upstreams.fault("perforce", error_rate=1.0, error_status=503)
    answer = hub.post(QUERY, {"n": 5})
    nodes = answer["data"]["releases"]["nodes"]
    assert any(i["source"]["name"] == "jira" for r in nodes for i in r["workItems"]["nodes"])
    errors = answer["errors"]
    assert any(e["extensions"].get("source") == "perforce"
               and e["extensions"]["code"].startswith("UPSTREAM_") for e in errors)
    assert any(e["extensions"].get("product") == "Perforce" for e in errors)

