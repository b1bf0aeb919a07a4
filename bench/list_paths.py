"""What a list costs the graph, and what a kept answer saves: ratios measured side by side.

One hub in this process over the sandboxes (on a socket), upstream answers cached,
asked through its whole ASGI stack (httpx's ASGI transport: no network noise):

- list: every work item of up to 1,000 releases, 8 fields each (several thousand
  items), ÷ a minimal Strawberry schema serving the same items as plain objects
  through the same transport;
- dashboard: a warm dashboard query executed (response cache off) and answered from
  the response cache, each as a throughput ratio to a plain Starlette endpoint that
  returns the same bytes.

Rounds are interleaved and medians reported. Runs against whatever `api` imports: run
it with `PYTHONPATH=<another checkout>` to measure that code the same way.

Run: `.venv/bin/python -m bench.list_paths [--rounds 7] [--scale 8] [--profile]`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from api.app import create_app
from api.demo import build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import GraphQLSettings, load_settings
from bench import heap
from bench.operations import DASHBOARD, TOKEN
from connectors.sandbox.world import build_world
from tests.support.graphql import principal_step
from tests.support.server import serve_asgi

FIELDS = "key title url status statusLabel kind assignee updatedAt"
LIST = ("query List($n: Int!) { releases(first: $n) { nodes { key workItems(first: 1000) "
        "{ nodes { " + FIELDS + " } } } } }")
# Fills the upstream cache a page of releases at a time: one query over a thousand
# releases sends every source's whole read at once, and on a busy machine the sandboxes
# (in this process) answer some of it past the connectors' timeouts. A source that failed
# is asked again by every measured query (failures are not cached), and the "graph" time
# would be upstream retries, not execution.
WARM = ("query Warm($n: Int!, $after: String) { releases(first: $n, after: $after) { "
        "pageInfo { hasNextPage endCursor } nodes { workItems(first: 1000) { totalCount } } } }")
WARM_PAGE = 50


@strawberry.type
class PlainItem:
    key: str
    title: str
    url: str
    status: str
    status_label: str
    kind: str
    assignee: str | None
    updated_at: str


@strawberry.type
class PlainItems:
    nodes: list[PlainItem]


@strawberry.type
class PlainRelease:
    key: str
    items: strawberry.Private[list[PlainItem]]

    @strawberry.field
    def work_items(self, first: int = 100) -> PlainItems:
        return PlainItems(nodes=self.items[:first])


@strawberry.type
class PlainReleases:
    nodes: list[PlainRelease]


def minimal_app(answer: dict[str, Any]) -> Starlette:
    """A schema of the same shape serving the hub's own answer as plain objects."""
    releases = [PlainRelease(key=r["key"], items=[PlainItem(
        key=i["key"], title=i["title"], url=i["url"], status=i["status"],
        status_label=i["statusLabel"], kind=i["kind"], assignee=i["assignee"],
        updated_at=i["updatedAt"]) for i in r["workItems"]["nodes"]])
        for r in answer["data"]["releases"]["nodes"]]

    @strawberry.type
    class Query:
        @strawberry.field
        def releases(self, first: int = 50) -> PlainReleases:
            return PlainReleases(nodes=releases[:first])

    schema = strawberry.Schema(query=Query)
    return Starlette(routes=[Route("/graphql", GraphQL(schema))])


def plain_app(body: bytes) -> Starlette:
    async def same(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")
    return Starlette(routes=[Route("/graphql", same, methods=["POST"])])


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> float:
    started = time.perf_counter()
    response = await call()
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:300]
    # A partial answer (a source failed) measures upstream retries, not execution.
    assert b'"errors"' not in response.content, response.text[:300]
    return elapsed


async def warm_pages(client: httpx.AsyncClient, releases: int) -> None:
    """Every release's work items into the upstream cache, a page of releases at a time."""
    after: str | None = None
    for _ in range(0, releases, WARM_PAGE):
        answer = (await client.post("/graphql", json={
            "query": WARM, "variables": {"n": WARM_PAGE, "after": after}})).json()
        assert not answer.get("errors"), answer.get("errors")[:3]
        page = answer["data"]["releases"]["pageInfo"]
        if not page["hasNextPage"]:
            return
        after = page["endCursor"]


async def measure(rounds: int, scale: int, profile: bool) -> None:
    world = build_world(seed=7, scale=scale)
    graphql_settings: dict[str, Any] = {}
    cacheable = "response_cache_seconds" in GraphQLSettings.model_fields
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as sandbox_url, \
            tempfile.TemporaryDirectory() as tmp:
        async def seed_step(sessions: Any) -> None:
            await seed(sessions, world)

        def hub(name: str, responses: bool) -> Starlette:
            options = dict(graphql_settings)
            if cacheable:
                options["response_cache_seconds"] = 3600 if responses else 0
            return create_app(load_settings(
                None, database={"url": f"sqlite+aiosqlite:///{Path(tmp) / name}.db"},
                connectors=[c.model_dump() for c in demo_connectors(sandbox_url)],
                federation={"cache_ttl_seconds": 3600, "request_deadline_seconds": 120},
                graphql=options,
                limits={"rate_limit_burst": 1_000_000, "rate_limit_per_minute": 10_000_000,
                        "max_page_size": 1000, "max_cost": 10_000_000,
                        "max_selections": 100_000}),
                environ=demo_environ(), startup=[seed_step, principal_step(TOKEN)])

        executed, kept = hub("executed", False), hub("kept", True)
        async with executed.router.lifespan_context(executed), \
                kept.router.lifespan_context(kept):
            # Plain bytes both ways (a load generator asks for no compression either).
            headers = {"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": "identity"}
            clients = {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                               base_url="http://hub", headers=headers,
                                               timeout=600)
                       for name, app in (("executed", executed), ("kept", kept))}
            n = min(1000, len(world.releases))
            list_body = {"query": LIST, "variables": {"n": n}}
            dash_body = {"query": DASHBOARD, "variables": {"n": 10}}
            await warm_pages(clients["executed"], n)
            warm = (await clients["executed"].post("/graphql", json=list_body)).json()
            assert not warm.get("errors"), warm["errors"][:3]
            items = sum(len(r["workItems"]["nodes"]) for r in warm["data"]["releases"]["nodes"])
            dash = await clients["executed"].post("/graphql", json=dash_body)
            await clients["kept"].post("/graphql", json=dash_body)
            dash_bytes = json.dumps({"data": dash.json()["data"]}).encode()
            minimal = httpx.AsyncClient(transport=httpx.ASGITransport(app=minimal_app(warm)),
                                        base_url="http://min", timeout=600,
                                        headers={"Accept-Encoding": "identity"})
            plain = httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_app(dash_bytes)),
                                      base_url="http://plain",
                                      headers={"Accept-Encoding": "identity"})
            heap.freeze()  # the world and its sandboxes, as `serve` freezes what it built
            if profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await clients["executed"].post("/graphql", json=list_body)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            samples: dict[str, list[float]] = {k: [] for k in (
                "list", "minimal", "dash executed", "dash kept", "plain")}
            for _ in range(rounds):
                samples["list"].append(await timed(
                    lambda: clients["executed"].post("/graphql", json=list_body)))
                samples["minimal"].append(await timed(
                    lambda: minimal.post("/graphql", json=list_body)))
                for _ in range(20):
                    samples["dash executed"].append(await timed(
                        lambda: clients["executed"].post("/graphql", json=dash_body)))
                    samples["dash kept"].append(await timed(
                        lambda: clients["kept"].post("/graphql", json=dash_body)))
                    samples["plain"].append(await timed(
                        lambda: plain.post("/graphql", json=dash_body)))
            for client in (*clients.values(), minimal, plain):
                await client.aclose()
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"code under test: {'with' if cacheable else 'without'} a response cache")
    print(f"list: {items} work items x 8 fields over {n} releases")
    print(f"  graph {med['list'] * 1000:8.1f} ms   minimal Strawberry "
          f"{med['minimal'] * 1000:8.1f} ms   ratio {med['list'] / med['minimal']:.2f}")
    print(f"dashboard (N=10, {len(dash_bytes):,} bytes), req/s ratio to a plain endpoint:")
    for name in ("dash executed", "dash kept"):
        print(f"  {name:14s} {med[name] * 1000:7.2f} ms   plain {med['plain'] * 1000:6.2f} ms"
              f"   ratio {med['plain'] / med[name]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--scale", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="cProfile one list query")
    args = parser.parse_args()
    asyncio.run(measure(args.rounds, args.scale, args.profile))


if __name__ == "__main__":
    main()
