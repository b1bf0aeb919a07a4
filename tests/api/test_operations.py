"""What operators watch: metrics at /metrics, traces, request ids, compressed answers.

A hub on a real socket reads the sandboxes (on another) for a federated query;
its /metrics is scraped over HTTP and read with Prometheus's own text parser,
and its trace is exported to an in-memory exporter. Both are held to the
sandboxes' own request logs: every call a sandbox served is counted and traced.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from starlette.applications import Starlette

from api.app import create_app
from api.db import models as m
from api.demo import build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from api.spa import DEFAULT_DIST
from connectors.sandbox.world import build_world
from tests.support.databases import BACKENDS, fresh_database
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

KINDS = ("jira", "github", "servicenow", "remedy")
TOKEN = new_secret()  # a RELEASE_MANAGER
VIEWER = new_secret()

DASHBOARD = """
query Dashboard($n: Int!) {
  releases(first: $n) {
    nodes {
      key
      workItems(first: 100) { nodes { key status } }
      changeRequests { number state }
      deployments { environment ref state }
    }
  }
}"""


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world(seed=7)
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield Upstreams(url, world)


@dataclass
class Hub:
    url: str
    client: GraphQLClient
    spans: InMemorySpanExporter

    def scrape(self, token: str = TOKEN) -> dict[str, list[Sample]]:
        response = httpx.get(f"{self.url}/metrics",
                             headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        return {family.name: family.samples
                for family in text_string_to_metric_families(response.text)}


@contextmanager
def running_hub(upstreams: Upstreams, database: str, **settings: Any) -> Iterator[Hub]:
    keys = [r.key for r in upstreams.world.releases
            if r.app_key in {a.key for a in upstreams.world.applications[:3]}]

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, upstreams.world, releases=keys)

    spans = InMemorySpanExporter()
    app = create_app(
        load_settings(None, database={"url": database},
                      connectors=[c.model_dump() for c in demo_connectors(upstreams.url)],
                      **settings),
        environ=demo_environ(), span_exporter=spans,
        startup=[seed_step, principal_step(TOKEN),
                 principal_step(VIEWER, m.Role.VIEWER, username="scraper")])
    with serve_asgi(app) as url:
        client = GraphQLClient(url, token=TOKEN)
        try:
            yield Hub(url, client, spans)
        finally:
            client.close()


@pytest.fixture(scope="module")
def hub(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """Caching upstream answers for 15 s (the default), limits wide enough for a flood."""
    tmp = tmp_path_factory.mktemp("ops")
    with running_hub(upstreams, f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
                     limits={"rate_limit_burst": 1000, "rate_limit_per_minute": 60_000},
                     metrics={"max_operations": 20}) as server:
        yield server


@pytest.fixture(scope="module", params=BACKENDS)
def uncached(request: pytest.FixtureRequest, upstreams: Upstreams,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """Every query goes upstream, so each one's trace holds its upstream calls (within a
    deadline a busy machine cannot pass: a late answer would leave its call out)."""
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url, \
            running_hub(upstreams, url, federation={"cache_ttl_seconds": 0,
                                                    "request_deadline_seconds": 60}) as server:
        yield server


def per_source(samples: list[Sample], name: str, **labels: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for sample in samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            counts[sample.labels["source"]] += int(sample.value)
    return counts


def sent_calls(metrics: dict[str, list[Sample]]) -> Counter[str]:
    counts = per_source(metrics["heatshield_upstream_calls"], "heatshield_upstream_calls_total")
    counts.subtract(per_source(metrics["heatshield_upstream_calls"],
                               "heatshield_upstream_calls_total", outcome="breaker_open"))
    return counts


# --- metrics ------------------------------------------------------------------------------

def test_upstream_call_counters_match_what_each_sandbox_served(
        hub: Hub, upstreams: Upstreams) -> None:
    before = sent_calls(hub.scrape())
    upstreams.reset()
    data = hub.client.data(DASHBOARD, {"n": 20})
    assert data["releases"]["nodes"]
    served = {kind: upstreams.calls(kind) for kind in KINDS}
    after = sent_calls(hub.scrape())
    counted = {kind: after[kind] - before[kind] for kind in KINDS}
    assert all(served[kind] > 0 for kind in KINDS), served
    assert counted == served


def test_a_repeated_query_is_answered_from_the_cache_and_the_hit_ratio_shows_it(
        hub: Hub, upstreams: Upstreams) -> None:
    hub.client.data(DASHBOARD, {"n": 5})
    before = hub.scrape()["heatshield_upstream_cache_lookups"]
    upstreams.reset()
    # Another document for the same read: the response cache does not know it, so the
    # graph runs and every upstream answer comes from the upstream cache.
    hub.client.data(DASHBOARD + "\n# the same read again", {"n": 5})
    after = hub.scrape()["heatshield_upstream_cache_lookups"]
    name = "heatshield_upstream_cache_lookups_total"
    hits = per_source(after, name, result="hit")
    hits.subtract(per_source(before, name, result="hit"))
    misses = per_source(after, name, result="miss")
    misses.subtract(per_source(before, name, result="miss"))
    assert {kind: upstreams.calls(kind) for kind in KINDS} == dict.fromkeys(KINDS, 0)
    assert all(hits[kind] > 0 and misses[kind] == 0 for kind in KINDS), (hits, misses)


def test_request_latency_is_labelled_by_operation_name_and_route(hub: Hub) -> None:
    hub.client.data(DASHBOARD, {"n": 1})
    httpx.get(f"{hub.url}/healthz")
    samples = hub.scrape()["heatshield_request_duration_seconds"]
    counts = {(s.labels["route"], s.labels["operation"], s.labels["status"]): s.value
              for s in samples if s.name.endswith("_count")}
    assert counts[("/graphql", "Dashboard", "2xx")] >= 1
    assert counts[("/healthz", "", "2xx")] >= 1


def test_each_breaker_reports_its_one_state(hub: Hub) -> None:
    samples = hub.scrape()["heatshield_upstream_breaker_state"]
    states = {(s.labels["source"], s.labels["state"]): s.value for s in samples}
    for kind in KINDS:
        assert states[(kind, "closed")] == 1
        assert states[(kind, "open")] == states[(kind, "half_open")] == 0


def test_a_flood_of_random_operation_names_stays_within_the_label_bound(hub: Hub) -> None:
    http = hub.client.http
    for n in range(60):
        name = f"op_{uuid.uuid4().hex}"
        assert http.post("/graphql", json={"query": f"query {name} {{ __typename }}"}
                         ).status_code == 200, n
    for hostile in ("x" * 5000, "<script>", "a b", "ünïcode", "Dashboard\nINFO forged"):
        http.post("/graphql", json={"query": "query A { __typename }",
                                    "operationName": hostile})
    samples = hub.scrape()["heatshield_request_duration_seconds"]
    operations = {s.labels["operation"] for s in samples if s.labels["route"] == "/graphql"}
    named = {o for o in operations if not o.startswith("(")}
    assert len(named) <= 20  # [metrics] max_operations of this hub
    assert "(other)" in operations
    assert all(len(o) <= 64 and o.replace("_", "").isalnum() and o.isascii() for o in named)


def test_metrics_need_a_token_with_the_configured_role_or_a_listed_address(
        tmp_path: Path, hub: Hub) -> None:
    assert httpx.get(f"{hub.url}/metrics").status_code == 401
    assert hub.scrape(VIEWER)["heatshield_upstream_calls"] is not None  # any role, by default

    url = f"sqlite+aiosqlite:///{tmp_path / 'strict.db'}"
    strict = create_app(load_settings(None, database={"url": url},
                                      metrics={"role": "RELEASE_MANAGER"}),
                        startup=[principal_step(TOKEN),
                                 principal_step(VIEWER, m.Role.VIEWER, username="scraper")])
    with serve_asgi(strict) as base:
        viewer = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {VIEWER}"})
        assert viewer.status_code == 403
        assert viewer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert httpx.get(f"{base}/metrics",
                         headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200

    url = f"sqlite+aiosqlite:///{tmp_path / 'open.db'}"
    listed = create_app(load_settings(None, database={"url": url},
                                      metrics={"allow_from": ["127.0.0.0/8"]}))
    with serve_asgi(listed) as base:
        response = httpx.get(f"{base}/metrics")
        assert response.status_code == 200
        assert "heatshield_request_duration_seconds" in response.text

    url = f"sqlite+aiosqlite:///{tmp_path / 'off.db'}"
    off = create_app(load_settings(None, database={"url": url}, metrics={"enabled": False}),
                     startup=[principal_step(TOKEN)])
    with serve_asgi(off) as base:
        response = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code != 200 and "heatshield_" not in response.text


# --- traces -------------------------------------------------------------------------------

def test_a_federated_query_is_one_trace_with_a_span_for_each_upstream_call(
        uncached: Hub, upstreams: Upstreams) -> None:
    uncached.client.data(DASHBOARD, {"n": 1})  # Remedy's login, outside what is compared
    finished_with_server_span(uncached.spans)
    uncached.spans.clear()
    upstreams.reset()
    assert httpx.get(f"{uncached.url}/healthz").status_code == 200  # probes are not traced
    uncached.client.data(DASHBOARD, {"n": 20})

    finished = finished_with_server_span(uncached.spans)
    server = [s for s in finished if s.kind is SpanKind.SERVER]
    assert len(server) == 1, [s.name for s in server]
    trace_id = server[0].context.trace_id
    # Besides the request's trace, only the background loops' own SQL (the event inbox
    # looking for work) is traced, each statement a root of its own.
    spans = [s for s in finished if s.context.trace_id == trace_id]
    background = [s for s in finished if s.context.trace_id != trace_id]
    assert all(s.parent is None and (s.attributes or {}).get("db.system") for s in background)
    assert server[0].attributes is not None
    assert server[0].attributes.get("graphql.operation.name") == "Dashboard"

    by_id = {s.context.span_id: s for s in spans}
    client_spans = [s for s in spans if s.kind is SpanKind.CLIENT and is_http(s)]
    traced = Counter(kind_of(s, upstreams.url) for s in client_spans)
    assert traced == {kind: upstreams.calls(kind) for kind in KINDS}
    for span in client_spans:  # each call sits under its source's fetch in the hub
        fetch = ancestor(span, by_id, lambda s: s.name.startswith("upstream "))
        assert fetch is not None and fetch.attributes is not None
        assert fetch.attributes["heatshield.source"] == kind_of(span, upstreams.url)
    sql = [s for s in spans if s.kind is SpanKind.CLIENT and not is_http(s)]
    assert sql and all((s.attributes or {}).get("db.system") in ("sqlite", "postgresql")
                       for s in sql)

    for kind in KINDS:
        logged = httpx.get(f"{upstreams.url}/sandbox/{kind}/_sandbox/requests").json()
        parents = {e["traceparent"].split("-")[1] for e in logged["requests"]}
        assert parents == {format(trace_id, "032x")}, kind


def finished_with_server_span(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The spans, once the request's own has ended: it ends just after the last byte is
    sent, so the client may read the answer a moment before."""
    deadline = time.monotonic() + 10
    while True:
        spans = list(exporter.get_finished_spans())
        if any(s.kind is SpanKind.SERVER for s in spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.01)


def is_http(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return "http.url" in attributes or "url.full" in attributes


def kind_of(span: ReadableSpan, base: str) -> str:
    attributes = span.attributes or {}
    url = str(attributes.get("url.full") or attributes.get("http.url"))
    assert url.startswith(f"{base}/sandbox/"), url
    return url.removeprefix(f"{base}/sandbox/").split("/")[0]


def ancestor(span: ReadableSpan, by_id: dict[int, ReadableSpan], wanted: Any
             ) -> ReadableSpan | None:
    parent = span.parent
    while parent is not None:
        found = by_id.get(parent.span_id)
        if found is None:
            return None
        if wanted(found):
            return found
        parent = found.parent
    return None


def test_tracing_is_off_without_an_endpoint_and_nothing_is_instrumented(tmp_path: Path) -> None:
    app = create_app(load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}"}))
    assert app.state.hub.tracer is None
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)


# --- request ids and compression --------------------------------------------------------

def test_every_answer_carries_a_request_id_and_a_safe_incoming_one_is_kept(hub: Hub) -> None:
    fresh = httpx.get(f"{hub.url}/healthz").headers["x-request-id"]
    again = httpx.get(f"{hub.url}/healthz").headers["x-request-id"]
    assert fresh != again and len(fresh) == 32
    kept = httpx.get(f"{hub.url}/healthz", headers={"X-Request-Id": "lb-7f3a.42"})
    assert kept.headers["x-request-id"] == "lb-7f3a.42"
    for unsafe in ("a" * 65, "x y", "id\u00e9", "a;b=c"):
        answer = httpx.get(f"{hub.url}/healthz", headers={"X-Request-Id": unsafe.encode()})
        assert answer.headers["x-request-id"] != unsafe
        assert len(answer.headers["x-request-id"]) == 32
    refused = httpx.get(f"{hub.url}/graphql")  # refused by the gate: still has an id
    assert refused.status_code == 401 and refused.headers["x-request-id"]


def test_a_large_graphql_answer_is_gzipped_when_asked_and_plain_when_not(hub: Hub) -> None:
    body = {"query": DASHBOARD, "variables": {"n": 20}}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    zipped = httpx.post(f"{hub.url}/graphql", json=body,
                        headers={**headers, "Accept-Encoding": "gzip"})
    plain = httpx.post(f"{hub.url}/graphql", json=body,
                       headers={**headers, "Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    for answer in (zipped, plain):  # a cache in between keeps the two apart
        assert "accept-encoding" in answer.headers["vary"].lower()
    assert zipped.json()["data"] == plain.json()["data"]  # the cache entry tells its age
    assert int(zipped.headers["content-length"]) * 3 < int(plain.headers["content-length"])
    small = httpx.get(f"{hub.url}/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers  # under 1 KB: not worth it


@pytest.mark.skipif(not (DEFAULT_DIST / "assets").is_dir(),
                    reason="the dashboard is not built (make frontend)")
def test_the_dashboards_script_is_gzipped_when_asked_and_plain_when_not(hub: Hub) -> None:
    script = min(p for p in (DEFAULT_DIST / "assets").iterdir() if p.suffix == ".js")
    url = f"{hub.url}/assets/{script.name}"
    zipped = httpx.get(url, headers={"Accept-Encoding": "gzip"})
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.content == plain.content == script.read_bytes()
