"""The response cache, over HTTP: one execution for many identical reads, never shared
across roles or callers, dropped by writes, upstream events and a write racing a read.

A hub on a real socket reads the sandboxes (on another); the statements its
engine sends are counted with a SQLAlchemy event listener, so "executed once"
is what the database saw, and /metrics is read with Prometheus's own parser.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event
from starlette.applications import Starlette

from api.app import create_app
from api.cache import change_tags
from api.compression import GZIP_MIN_BYTES, KeptGzip
from api.db import models as m
from api.demo import build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.sandbox.world import build_world
from tests.support.databases import BACKENDS, fresh_database
from tests.support.graphql import new_secret, principal_step
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

MANAGER = new_secret()
VIEWER = new_secret()
OTHER_VIEWER = new_secret()
ADMIN = new_secret()

DASHBOARD = """
query Dashboard($n: Int!) {
  releases(first: $n) {
    nodes { key name
      workItems(first: 20) { nodes { key status } }
      changeRequests { number state } }
  }
}"""


@dataclass
class Hub:
    url: str
    app: Starlette
    upstreams: Upstreams
    release_reads: list[str]  # statements that read the releases table, as sent

    def post(self, query: str, variables: dict[str, Any] | None = None,
             token: str = MANAGER) -> httpx.Response:
        return httpx.post(f"{self.url}/graphql", json={"query": query,
                                                       "variables": variables or {}},
                          headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def answer(self, query: str, variables: dict[str, Any] | None = None,
               token: str = MANAGER) -> dict[str, Any]:
        response = self.post(query, variables, token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"{self.url}/metrics",
                         headers={"Authorization": f"Bearer {MANAGER}"}).text
        return sum(sample.value for family in text_string_to_metric_families(text)
                   for sample in family.samples
                   if sample.name == name
                   and all(sample.labels.get(k) == v for k, v in labels.items()))


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world(seed=11)
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield Upstreams(url, world)


@pytest.fixture(scope="module", params=BACKENDS)
def hub(request: pytest.FixtureRequest, upstreams: Upstreams,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    keys = [r.key for r in upstreams.world.releases][:6]

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, upstreams.world, releases=keys)

    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        app = create_app(
            load_settings(None, database={"url": url},
                          connectors=[c.model_dump() for c in demo_connectors(upstreams.url)],
                          federation={"cache_ttl_seconds": 300},
                          limits={"rate_limit_burst": 1000, "rate_limit_per_minute": 60_000}),
            environ=demo_environ(),
            startup=[seed_step, principal_step(MANAGER),
                     principal_step(VIEWER, m.Role.VIEWER, username="viewer-one"),
                     principal_step(OTHER_VIEWER, m.Role.VIEWER, username="viewer-two"),
                     principal_step(ADMIN, m.Role.ADMIN, username="an-admin")])
        reads: list[str] = []

        def sent(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if "FROM releases" in statement:
                reads.append(statement)

        event.listen(app.state.engine.sync_engine, "before_cursor_execute", sent)
        with serve_asgi(app) as base:
            yield Hub(base, app, upstreams, reads)


def cache_status(body: dict[str, Any]) -> str:
    status: str = body["extensions"]["cache"]["status"]
    return status


def test_a_hundred_identical_dashboard_reads_at_once_execute_once(hub: Hub) -> None:
    # The same read under another document first: what one execution reads.
    hub.release_reads.clear()
    hub.answer(DASHBOARD + "\n# one execution, to count", {"n": 5})
    one_execution = len(hub.release_reads)
    assert one_execution > 0
    hits_before = hub.metric("heatshield_response_cache_lookups_total", result="hit") + \
        hub.metric("heatshield_response_cache_lookups_total", result="shared")
    hub.release_reads.clear()

    async def hundred() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=hub.url, limits=limits, timeout=60) as client:
            return await asyncio.gather(*(
                client.post("/graphql", json={"query": DASHBOARD, "variables": {"n": 5}},
                            headers={"Authorization": f"Bearer {MANAGER}"})
                for _ in range(100)))

    responses = asyncio.run(hundred())
    bodies = [r.json() for r in responses]
    assert all(r.status_code == 200 for r in responses)
    assert len(hub.release_reads) == one_execution  # the database saw one execution
    assert {str(b["data"]) for b in bodies} == {str(bodies[0]["data"])}
    statuses = [cache_status(b) for b in bodies]
    assert statuses.count("MISS") == 1
    assert set(statuses) <= {"MISS", "SHARED", "HIT"}
    hits_after = hub.metric("heatshield_response_cache_lookups_total", result="hit") + \
        hub.metric("heatshield_response_cache_lookups_total", result="shared")
    assert hits_after - hits_before == 99
    assert 0 < hub.metric("heatshield_response_cache_hit_ratio") <= 1


def test_an_answer_says_how_old_it_is(hub: Hub) -> None:
    query = "query Age { releases(first: 2) { nodes { key } } }"
    first = hub.post(query)
    assert cache_status(first.json()) == "MISS" and first.headers["age"] == "0"
    time.sleep(1.1)
    again = hub.post(query)
    assert cache_status(again.json()) == "HIT"
    assert again.json()["extensions"]["cache"]["age"] >= 1
    assert int(again.headers["age"]) >= 1


def test_roles_never_see_each_others_kept_answer(hub: Hub) -> None:
    query = "query Users { users { username } }"
    assert cache_status(hub.answer(query, token=ADMIN)) == "MISS"
    kept = hub.answer(query, token=ADMIN)
    assert cache_status(kept) == "HIT"
    assert "an-admin" in {u["username"] for u in kept["data"]["users"]}
    refused = hub.answer(query, token=VIEWER)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert not refused.get("data")


def test_a_read_that_asks_who_is_calling_is_kept_for_that_caller_alone(hub: Hub) -> None:
    query = "query Me { viewer { username role } }"
    one = hub.answer(query, token=VIEWER)
    two = hub.answer(query, token=OTHER_VIEWER)  # same role, same document
    assert one["data"]["viewer"]["username"] == "viewer-one"
    assert two["data"]["viewer"]["username"] == "viewer-two"
    assert cache_status(two) == "MISS"
    again = hub.answer(query, token=OTHER_VIEWER)
    assert again["data"]["viewer"]["username"] == "viewer-two"
    assert cache_status(again) == "HIT"
    assert hub.answer(query, token=VIEWER)["data"]["viewer"]["username"] == "viewer-one"


def test_a_mutation_drops_what_it_changes(hub: Hub) -> None:
    query = "query One($k: String!) { release(key: $k) { id name } }"
    key = hub.upstreams.world.releases[0].key
    before = hub.answer(query, {"k": key})
    assert cache_status(hub.answer(query, {"k": key})) == "HIT"
    renamed = f"Renamed {time.monotonic_ns()}"
    hub.answer("mutation($id: ID!, $n: String!) { updateRelease(id: $id, input: {name: $n}) "
               "{ name } }", {"id": before["data"]["release"]["id"], "n": renamed})
    after = hub.answer(query, {"k": key})
    assert cache_status(after) == "MISS"
    assert after["data"]["release"]["name"] == renamed


def test_mutations_are_never_kept(hub: Hub) -> None:
    for _ in range(2):  # the same bytes again are not taken for a read either
        body = hub.answer("mutation { __typename }")
        assert "cache" not in (body.get("extensions") or {})


def test_a_refused_body_is_refused_each_time_it_is_sent(hub: Hub) -> None:
    query = "query Refused { releases(first: 1) { nodes { key } } }"
    hub.answer(query)
    assert cache_status(hub.answer(query)) == "HIT"
    # The kept read's document, with a lone surrogate in a variable: never served as a hit.
    raw = ('{"query": "' + query + '", "variables": {"x": "\\ud800"}}').encode()
    for _ in range(2):
        refused = httpx.post(f"{hub.url}/graphql", content=raw, timeout=60,
                             headers={"Authorization": f"Bearer {MANAGER}",
                                      "Content-Type": "application/json"})
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_the_same_body_from_another_role_is_that_roles_own_read(hub: Hub) -> None:
    query = "query SameBytes { releases(first: 2) { nodes { key } } }"
    hub.answer(query, token=MANAGER)
    assert cache_status(hub.answer(query, token=MANAGER)) == "HIT"
    assert cache_status(hub.answer(query, token=VIEWER)) == "MISS"
    assert cache_status(hub.answer(query, token=VIEWER)) == "HIT"


def test_an_upstream_invalidation_drops_kept_answers(hub: Hub) -> None:
    query = "query Changes { releases(first: 3) { nodes { changeRequests { number } } } }"
    hub.answer(query)
    assert cache_status(hub.answer(query)) == "HIT"
    # What the ITSM webhook and poller do when a change moved upstream.
    hub.app.state.hub.cache.invalidate(change_tags("servicenow"))
    assert cache_status(hub.answer(query)) == "MISS"


def test_a_write_committed_while_the_same_read_runs_never_leaves_the_old_answer_kept(
        hub: Hub) -> None:
    """The read takes its snapshot, then waits on JIRA; a rename commits meanwhile. Its
    answer (from before the rename) is served to its caller, and never kept. (An
    application's rename tells no release's gates, so nothing else drops the cache.)"""
    release = hub.upstreams.world.releases[1]
    query = """query Race($k: String!) { release(key: $k) { applications { id name }
      workItems(first: 50) { nodes { key } } } }"""
    application = hub.answer(query, {"k": release.key})["data"]["release"]["applications"][0]
    hub.app.state.hub.cache.clear()  # the read must wait on JIRA, cold
    hub.upstreams.reset()
    hub.upstreams.fault("jira", latency_ms=3000)
    answers: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: answers.append(
        hub.answer(query, {"k": release.key})))
    try:
        reader.start()
        deadline = time.monotonic() + 30
        while hub.app.state.hub.fetches_in_flight == 0:  # the release is read; JIRA asked
            assert time.monotonic() < deadline, "the read never reached JIRA"
            time.sleep(0.02)
        renamed = f"Raced {time.monotonic_ns()}"
        hub.answer("mutation($id: ID!, $n: String!) { updateApplication(id: $id, input: "
                   "{name: $n}) { name } }", {"id": application["id"], "n": renamed})
        reader.join(timeout=60)
    finally:
        hub.upstreams.clear_faults()
    read = answers[0]["data"]["release"]["applications"][0]["name"]
    after = hub.answer(query, {"k": release.key})
    assert after["data"]["release"]["applications"][0]["name"] == renamed
    if read != renamed:  # the read's snapshot predates the write: the race happened
        assert cache_status(after) == "MISS"


def test_a_kept_answer_comes_in_the_media_type_asked_for(hub: Hub) -> None:
    query = "query Media { releases(first: 1) { nodes { key } } }"
    for accept in ("application/graphql-response+json", "application/json"):
        response = httpx.post(f"{hub.url}/graphql", json={"query": query},
                              headers={"Authorization": f"Bearer {MANAGER}", "Accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(accept)
        assert response.json()["data"]["releases"]["nodes"]
    assert cache_status(response.json()) == "HIT"  # the second was the first's, kept


def test_a_kept_answer_carries_the_headers_and_metrics_of_a_run_one(hub: Hub) -> None:
    query = "query Headed { releases(first: 1) { nodes { key } } }"
    runs_before = hub.metric("heatshield_request_duration_seconds_count", route="/graphql",
                             operation="Headed", status="2xx")
    ran, kept = hub.post(query), hub.post(query)
    assert (cache_status(ran.json()), cache_status(kept.json())) == ("MISS", "HIT")
    assert kept.json()["data"] == ran.json()["data"]
    same = ("content-type", "vary", "content-security-policy", "x-frame-options",
            "x-content-type-options")
    assert {h: kept.headers.get(h) for h in same} == {h: ran.headers.get(h) for h in same}
    assert None not in [kept.headers.get(h) for h in (*same[2:], "age", "x-request-id")]
    assert kept.headers["x-request-id"] != ran.headers["x-request-id"]
    assert kept.headers["content-length"] == str(len(kept.content))
    # Both are counted under the route and the operation, the kept one too.
    assert hub.metric("heatshield_request_duration_seconds_count", route="/graphql",
                      operation="Headed", status="2xx") == runs_before + 2


def test_a_kept_answer_is_gzipped_for_a_browser_and_plain_for_a_client_that_asks_none(
        hub: Hub) -> None:
    page = "releases(first: 6) { nodes { key name status type windowStart windowEnd } }"
    query = f"query Zipped {{ {' '.join(f'{a}: {page}' for a in 'abcd')} }}"  # over 1 KB
    ran = hub.post(query)  # kept now; hub.post asks for gzip, as httpx does by default
    assert cache_status(ran.json()) == "MISS"
    answers = []
    for encoding in ("gzip", "identity", "gzip"):
        with httpx.stream("POST", f"{hub.url}/graphql", json={"query": query}, headers={
                "Authorization": f"Bearer {MANAGER}", "Accept-Encoding": encoding}) as sent:
            wire = b"".join(sent.iter_raw())  # the bytes as sent, not decoded
            answers.append((sent.headers, wire, json.loads(
                gzip.decompress(wire) if encoding == "gzip" else wire)))
    for headers, wire, body in answers:
        assert cache_status(body) == "HIT" and body["data"] == ran.json()["data"]
        assert len(json.dumps(body)) > GZIP_MIN_BYTES
        assert headers["content-length"] == str(len(wire))
        assert "accept-encoding" in headers["vary"].lower()
    (zipped, _, _), (plain, plain_wire, _), (_, again_wire, again) = answers
    assert zipped["content-encoding"] == "gzip" and "content-encoding" not in plain
    assert len(again_wire) < len(plain_wire) / 2
    assert again["extensions"]["cache"]["age"] > 0  # the age is each answer's own


def test_a_gzipped_kept_answer_compresses_its_kept_part_once() -> None:
    kept = KeptGzip(size=2)
    head = json.dumps([{"key": f"PAY-{i}", "status": "DONE"} for i in range(200)]).encode()
    for tail in (b',"age":0.5}', b',"age":1.25}', b',"age":12.0}'):
        assert gzip.decompress(kept.gzip("dashboard", b'{"data":', head, tail)) == \
            b'{"data":' + head + tail
    assert kept.heads_compressed == 1
    changed = head.replace(b"DONE", b"OPEN")  # a new answer under the same key
    assert gzip.decompress(kept.gzip("dashboard", b"[", changed, b"]")) == \
        b"[" + changed + b"]"
    assert kept.heads_compressed == 2
    # Only the most recently asked answers keep their compressor.
    for key in ("second", "third", "dashboard"):
        kept.gzip(key, b"", head, b"")
    assert kept.heads_compressed == 5  # "dashboard" had been dropped for "third"
