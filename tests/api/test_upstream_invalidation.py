"""A change request raised drops only what it can change in the upstream cache.

Over HTTP with the sandboxes on a real socket: after a raise in the ITSM, the
release's JIRA work items still come from the cache (JIRA is not asked), while
its change requests are read afresh and show the new change. And the cache's own
rule: a call running when its tags were invalidated stores nothing, one for
other tags does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.cache import UpstreamCache, change_tags, tags_for
from api.demo import build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.sandbox.world import build_world
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

TOKEN = new_secret()
READ = """query($k: String!) { release(key: $k) { id
  workItems(first: 50) { nodes { key status } } changeRequests { number } } }"""
RAISE = """mutation($id: ID!) { raiseChangeRequest(releaseId: $id, source: "servicenow") {
  changeRequest { number } } }"""


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world()
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield Upstreams(url, world)


@pytest.fixture(scope="module")
def gql(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[GraphQLClient]:
    tmp = tmp_path_factory.mktemp("tags")

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, upstreams.world)

    app = create_app(load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
        connectors=[c.model_dump() for c in demo_connectors(upstreams.url)],
        federation={"cache_ttl_seconds": 300}),
        environ=demo_environ(), startup=[seed_step, principal_step(TOKEN)])
    with serve_asgi(app) as url:
        client = GraphQLClient(url, token=TOKEN)
        yield client
        client.close()


def test_a_raise_keeps_work_items_cached_and_reads_changes_afresh(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    app = upstreams.world.applications[2]
    key = [r.key for r in upstreams.world.releases if r.app_key == app.key][-1]
    before = gql.data(READ, {"k": key})["release"]
    assert before["workItems"]["nodes"], "the release has JIRA work to keep cached"
    number = gql.data(RAISE, {"id": before["id"]})["raiseChangeRequest"]["changeRequest"][
        "number"]
    upstreams.reset()
    after = gql.data(READ, {"k": key})["release"]
    assert after["workItems"] == before["workItems"]
    assert upstreams.calls("jira") == 0  # kept through the raise
    assert number in [c["number"] for c in after["changeRequests"]]


def test_a_call_running_when_its_tags_are_invalidated_stores_nothing() -> None:
    cache = UpstreamCache(ttl=60)
    heard: list[tuple[tuple[str, ...], ...]] = []
    cache.listeners.append(heard.append)
    change_key = ("servicenow", "", "changes", "CHG1")
    work_key = ("jira", "", "work_items", "PAY-1")
    started = cache.generation  # two calls start
    cache.invalidate(change_tags("servicenow"))  # a raise lands while they run
    cache.put(change_key, "old", generation=started,
              tags=tags_for("servicenow", "changes", "CHG1"))
    cache.put(work_key, "items", generation=started,
              tags=tags_for("jira", "work_items", "PAY-1"))
    assert cache.fresh(change_key) is None
    assert cache.fresh(work_key) is not None
    assert heard == [change_tags("servicenow")]
    cache.put(change_key, "new", generation=cache.generation,
              tags=tags_for("servicenow", "changes", "CHG1"))
    assert cache.invalidate([("servicenow",)]) == 1  # a whole source, by its tag
    assert cache.fresh(change_key) is None and cache.fresh(work_key) is not None
