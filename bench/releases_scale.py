"""What the releases list costs as the table grows: p50 at 100,000 releases ÷ at 1,000.

For each database (SQLite, and PostgreSQL when HEATSHIELD_TEST_POSTGRES_URL is set)
two hubs run side by side on real sockets, one over 1,000 releases and one over
100,000 (seeded by bulk inserts, as tests/support/bulk_releases.py spreads them:
statuses, types, windows with ties and unscheduled ones, one or two of 20
applications each). Each list query below is asked of both in interleaved rounds;
the script prints each one's median time at both sizes and their ratio, side by
side for the two databases. Keyset paging and index ranges should keep the ratio
near 1 (the goal is at most 1.5).

Run: `.venv/bin/python -m bench.releases_scale [--rounds 30] [--large 100000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.db.engine import create_engine
from api.settings import load_settings
from tests.support.bulk_releases import application_key, seed_releases
from tests.support.databases import POSTGRES_ENV, fresh_database
from tests.support.graphql import new_secret, principal_step
from tests.support.server import serve_asgi

PAGE = """query($filter: ReleaseFilter, $after: String) {
  releases(first: 50, filter: $filter, after: $after) {
    edges { cursor node { id key name status type windowStart windowEnd } }
    pageInfo { hasNextPage endCursor } %s } }"""
APP = application_key(3)
QUERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "plain": ("", {}),
    "totalCount": ("totalCount totalCountIsEstimate", {}),
    "status": ("totalCount", {"status": ["READY"]}),
    "two statuses": ("totalCount", {"status": ["READY", "PLANNED"]}),
    "application": ("totalCount", {"application": APP}),
    "status+application": ("totalCount", {"status": ["PLANNED"], "application": APP}),
    "combined, page 2": ("totalCount", {"status": ["READY", "DEPLOYED"],
                                        "type": ["PROJECT", "EMERGENCY"],
                                        "application": APP}),
}


@contextmanager
def hub(url: str, size: int, token: str) -> Iterator[str]:
    # No rate limit: the bench asks as fast as it can. No response cache: it would answer
    # every repeat of a query from memory, and the bench measures the list's reads.
    app = create_app(load_settings(None, database={"url": url},
                                   limits={"rate_limit_per_minute": 1_000_000,
                                           "rate_limit_burst": 1_000_000},
                                   graphql={"response_cache_seconds": 0}),
                     startup=[principal_step(token)])
    with serve_asgi(app) as base_url:
        async def seed() -> None:
            engine = create_engine(url)
            try:
                await seed_releases(engine, size)
            finally:
                await engine.dispose()
        started = time.perf_counter()
        asyncio.run(seed())
        print(f"  seeded {size:,} releases in {time.perf_counter() - started:.1f} s")
        yield base_url


def _ask(client: httpx.Client, base_url: str, name: str, after: str | None) -> float:
    fields, filter = QUERIES[name]
    started = time.perf_counter()
    response = client.post(f"{base_url}/graphql", json={
        "query": PAGE % fields, "variables": {"filter": filter, "after": after}})
    elapsed = time.perf_counter() - started
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{name}: {response.status_code} {str(body)[:300]}")
    return elapsed


def measure(urls: dict[int, str], token: str, rounds: int
            ) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, int]]]:
    """Median seconds per query and size, asked in interleaved rounds; and how many rows
    the measured page holds at each size (a small table may fill fewer than 50)."""
    times: dict[str, dict[int, list[float]]] = {n: {s: [] for s in urls} for n in QUERIES}
    rows: dict[str, dict[int, int]] = {n: {} for n in QUERIES}
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        cursors: dict[tuple[str, int], str | None] = {}
        for name in QUERIES:
            for size, base_url in urls.items():
                fields, filter = QUERIES[name]
                page = client.post(f"{base_url}/graphql", json={
                    "query": PAGE % fields, "variables": {"filter": filter}}).json()
                cursors[name, size] = (page["data"]["releases"]["pageInfo"]["endCursor"]
                                       if name.endswith("page 2") else None)
                measured = client.post(f"{base_url}/graphql", json={
                    "query": PAGE % fields,
                    "variables": {"filter": filter, "after": cursors[name, size]}}).json()
                rows[name][size] = len(measured["data"]["releases"]["edges"])
                for _ in range(3):  # warm: connections, statement caches
                    _ask(client, base_url, name, cursors[name, size])
        for _ in range(rounds):
            for name in QUERIES:
                for size, base_url in urls.items():
                    times[name][size].append(_ask(client, base_url, name, cursors[name, size]))
    return ({n: {s: statistics.median(v) for s, v in by.items()} for n, by in times.items()},
            rows)


def run_backend(backend: str, small: int, large: int, rounds: int
                ) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, int]]]:
    print(f"{backend}:")
    token = new_secret()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        urls = {}
        for size in (small, large):
            directory = Path(tmp) / str(size)
            directory.mkdir()
            url = stack.enter_context(fresh_database(backend, directory))
            urls[size] = stack.enter_context(hub(url, size, token))
        return measure(urls, token, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgres"] if os.environ.get(POSTGRES_ENV) else [])
    if len(backends) == 1:
        print(f"(PostgreSQL left out: set {POSTGRES_ENV} to include it)")
    results = {b: run_backend(b, args.small, args.large, args.rounds) for b in backends}
    small, large = f"{args.small // 1000}k", f"{args.large // 1000}k"
    header = f"{'releases(first: 50)':<22} {'rows':>6}"
    for backend in backends:
        header += f" | {backend + ' ' + small:>12} {large:>8} {'ratio':>6}"
    print(f"\np50 over {args.rounds} interleaved rounds, milliseconds; ratio = {large} ÷ {small};"
          f" rows = the measured page's rows at {small}/{large}")
    print(header)
    worst = 0.0
    for name in QUERIES:
        held = results[backends[0]][1][name]
        line = f"{name:<22} {f'{held[args.small]}/{held[args.large]}':>6}"
        for backend in backends:
            at = results[backend][0][name]
            ratio = at[args.large] / at[args.small]
            worst = max(worst, ratio)
            line += (f" | {at[args.small] * 1000:>12.1f} {at[args.large] * 1000:>8.1f} "
                     f"{ratio:>6.2f}")
        print(line)
    print(f"worst ratio: {worst:.2f} (goal: at most 1.5)")


if __name__ == "__main__":
    main()
