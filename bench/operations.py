"""What watching costs: a warm dashboard query with metrics, tracing and gzip on and off.

Three hubs in this process over the same sandboxes (seed-7 world, upstream answers
cached, so the query is the hub's own work): metrics off, metrics on (the default),
metrics on and every span exported to memory. Each is asked the same query in
interleaved rounds; prints the median time per request, its ratio to the hub with
nothing on, and the bytes of the answer plain and gzip-encoded (and the time each
takes). Then, without sockets (httpx's ASGI transport), the time of an anonymous
GET /auth/session (refused by the gate: every layer, no database, traced) through the
whole middleware stack with each setting: the per-request cost of watching, apart
from the graph's work and the network's noise.

Run: `.venv/bin/python -m bench.operations [--rounds 10] [--per-round 20]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette

from api.app import create_app
from api.demo import build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.sandbox.world import build_world
from tests.support.graphql import new_secret, principal_step
from tests.support.server import serve_asgi

TOKEN = new_secret()
DASHBOARD = """
query Dashboard($n: Int!) {
  releases(first: $n) {
    nodes { key status
      workItems(first: 100) { nodes { key status statusLabel } }
      changeRequests { number state approval }
      deployments { environment ref state } }
  }
}"""


@contextmanager
def hub(sandbox_url: str, world: Any, tmp: Path, name: str, *, metrics: bool,
        spans: InMemorySpanExporter | None) -> Iterator[str]:
    keys = [r.key for r in world.releases][:40]

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, world, releases=keys)

    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp / name}.db"},
        connectors=[c.model_dump() for c in demo_connectors(sandbox_url)],
        federation={"cache_ttl_seconds": 3600},
        limits={"rate_limit_burst": 100_000, "rate_limit_per_minute": 1_000_000},
        metrics={"enabled": metrics})
    app = create_app(settings, environ=demo_environ(), span_exporter=spans,
                     startup=[seed_step, principal_step(TOKEN)])
    with serve_asgi(app) as url:
        yield url


async def stack_cost(tmp: Path, rounds: int, per_round: int) -> dict[str, float]:
    """Median seconds of a refused GET /auth/session through the stack, per setting."""
    url = f"sqlite+aiosqlite:///{tmp / 'stack.db'}"
    apps = {
        "nothing on": create_app(load_settings(None, database={"url": url},
                                               metrics={"enabled": False})),
        "metrics": create_app(load_settings(None, database={"url": url})),
        "metrics + traces": create_app(load_settings(None, database={"url": url}),
                                       span_exporter=InMemorySpanExporter()),
    }
    clients = {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                       base_url="http://hub") for name, app in apps.items()}
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, client in clients.items():
            for _ in range(per_round):
                started = time.perf_counter()
                assert (await client.get("/auth/session")).status_code == 401
                times[name].append(time.perf_counter() - started)
    for client in clients.values():
        await client.aclose()
    return {name: statistics.median(samples) for name, samples in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=20)
    args = parser.parse_args()
    world = build_world(seed=7)
    spans = InMemorySpanExporter()
    body = {"query": DASHBOARD, "variables": {"n": 10}}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        sandbox_url = stack.enter_context(
            serve_asgi(Starlette(routes=build_sandboxes(world).mounts())))
        urls = {
            "nothing on": stack.enter_context(hub(sandbox_url, world, tmp, "off",
                                                  metrics=False, spans=None)),
            "metrics": stack.enter_context(hub(sandbox_url, world, tmp, "metrics",
                                               metrics=True, spans=None)),
            "metrics + traces": stack.enter_context(hub(sandbox_url, world, tmp, "traced",
                                                        metrics=True, spans=spans)),
        }
        clients = {name: stack.enter_context(httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}",
                                   "Accept-Encoding": "identity"}, timeout=60))
            for name, url in urls.items()}
        for client in clients.values():  # warm: upstream answers cached, sessions open
            client.post("/graphql", json=body).raise_for_status()
        times: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(args.rounds):
            for name, client in clients.items():
                for _ in range(args.per_round):
                    started = time.perf_counter()
                    client.post("/graphql", json=body).raise_for_status()
                    times[name].append(time.perf_counter() - started)
                spans.clear()
        base = statistics.median(times["nothing on"])
        print(f"warm dashboard query (N=10), median of {args.rounds * args.per_round} "
              "interleaved requests each:")
        for name, samples in times.items():
            median = statistics.median(samples)
            print(f"  {name:<18} {median * 1000:7.2f} ms   x{median / base:.3f}")

        client = clients["metrics"]
        sizes: dict[str, tuple[int, float]] = {}
        for encoding in ("identity", "gzip"):
            samples = []
            for _ in range(args.rounds * args.per_round // 2):
                started = time.perf_counter()
                response = client.post("/graphql", json=body,
                                       headers={"Accept-Encoding": encoding})
                samples.append(time.perf_counter() - started)
            sizes[encoding] = (int(response.headers["content-length"]),
                               statistics.median(samples))
        plain, zipped = sizes["identity"], sizes["gzip"]
        print(f"answer bytes: plain {plain[0]:,} ({plain[1] * 1000:.2f} ms), gzip "
              f"{zipped[0]:,} ({zipped[1] * 1000:.2f} ms): {plain[0] / zipped[0]:.1f} times "
              "fewer bytes")

        medians = asyncio.run(stack_cost(tmp, args.rounds * 5, args.per_round * 5))
        base = medians["nothing on"]
        print(f"refused GET /auth/session through the middleware stack, no sockets, median of "
              f"{args.rounds * args.per_round * 25} interleaved requests each:")
        for name, median in medians.items():
            print(f"  {name:<18} {median * 1e6:7.1f} us   +{(median - base) * 1e6:.1f} us")


if __name__ == "__main__":
    main()
