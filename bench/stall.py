"""Stall benchmark: what one caller's slow federated query costs everyone else.

Prints, from one run against a hub with the default connector settings
(10 s timeout, 3 retries) and the sandboxes in a process of their own:
- with JIRA hanging, the latency of one user's release query and of a second
  user's `{ sources { name } }` asked while the first is in flight;
- the latency of `{ releases(first: 15) { nodes { gates { name } } } }` and the
  slowest `/readyz` asked while it runs.

Uses no setting a hub before the deadline work lacks, so the same script
measures both sides of the change.

Run: `.venv/bin/python -m bench.stall [--samples 5]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.db.models import Role
from api.demo import demo_connectors, demo_environ, seed
from api.settings import load_settings
from bench.upstreams import upstreams_process
from connectors.sandbox.world import build_world
from tests.support.graphql import new_secret, principal_step
from tests.support.hub_process import free_port
from tests.support.server import serve_asgi

RELEASES = "{ releases(first: 5) { nodes { key workItems { totalCount } } } }"
GATES = "{ releases(first: 15) { nodes { key gates { name passed } } } }"


def timed_post(client: httpx.Client, query: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    body: dict[str, Any] = client.post("/graphql", json={"query": query}).json()
    return time.perf_counter() - started, body


def in_background(client: httpx.Client, query: str) -> tuple[threading.Thread, list[float]]:
    took: list[float] = []
    thread = threading.Thread(target=lambda: took.append(timed_post(client, query)[0]))
    thread.start()
    return thread, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    world = build_world()
    with tempfile.TemporaryDirectory() as tmp, \
            upstreams_process(free_port(), scale=1) as sandbox_url:
        settings = load_settings(
            None, database={"url": f"sqlite+aiosqlite:///{Path(tmp) / 'stall.db'}"},
            connectors=[c.model_dump() for c in demo_connectors(sandbox_url)],
            limits={"rate_limit_per_minute": 100_000, "rate_limit_burst": 10_000},
            federation={"cache_ttl_seconds": 0})  # every query goes upstream
        manager, viewer = new_secret(), new_secret()

        async def seed_step(sessions: Any) -> None:
            await seed(sessions, world)

        app = create_app(settings, environ=demo_environ(), startup=[
            seed_step, principal_step(manager, Role.RELEASE_MANAGER, "bench-manager"),
            principal_step(viewer, Role.VIEWER, "bench-viewer")])
        with serve_asgi(app) as hub_url:
            first = httpx.Client(base_url=hub_url, timeout=300,
                                 headers={"Authorization": f"Bearer {manager}"})
            second = httpx.Client(base_url=hub_url, timeout=300,
                                  headers={"Authorization": f"Bearer {viewer}"})
            timed_post(first, RELEASES)  # connections and the Remedy token, outside the figures

            httpx.post(f"{sandbox_url}/sandbox/jira/_sandbox/faults",
                       json={"hang_seconds": 60}).raise_for_status()
            sources: list[float] = []
            releases: list[float] = []
            for _ in range(args.samples):
                thread, took = in_background(first, RELEASES)
                time.sleep(0.2)  # let the first user's query reach JIRA
                sources.append(timed_post(second, "{ sources { name } }")[0])
                thread.join()
                releases += took
            httpx.delete(f"{sandbox_url}/sandbox/jira/_sandbox/faults")
            # Later samples may find JIRA's breaker open (it fails fast then): the first
            # sample is the one a hung source costs before the breaker has seen it fail.
            print(f"JIRA hanging, {args.samples} samples in order (seconds):")
            print("  release query:             " + " ".join(f"{t:.2f}" for t in releases)
                  + f"  (median {statistics.median(releases):.2f})")
            print("  second user's sources:     " + " ".join(f"{t:.3f}" for t in sources)
                  + f"  (median {statistics.median(sources):.3f})")

            thread, took = in_background(second, GATES)
            readyz: list[float] = []
            while thread.is_alive():
                started = time.perf_counter()
                httpx.get(f"{hub_url}/readyz", timeout=300)
                readyz.append(time.perf_counter() - started)
            thread.join()
            print(f"gates of 15 releases as VIEWER: {took[0]:.2f} s; "
                  f"/readyz meanwhile: {len(readyz)} asked, slowest {max(readyz):.3f} s")


if __name__ == "__main__":
    main()
