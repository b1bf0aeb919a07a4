"""What the releases list costs as the table grows: p50 at 100,000 releases ÷ at 1,000.

For each database (SQLite, and PostgreSQL when HEATSHIELD_TEST_POSTGRES_URL is set)
two hubs run side by side on real sockets, one over 1,000 releases and one over
100,000 (seeded by bulk inserts, as tests/support/bulk_releases.py spreads them:
statuses, types, windows with ties and unscheduled ones, one or two of 20
applications each). Each list query below is asked of both in interleaved rounds;
the script prints each one's median time at both sizes and their ratio, side by
side for the two databases. Keyset paging and index ranges should keep the ratio
near 1 (the goal is at most 1.5).

A filter that matches few releases at 1,000 gives a short page there (the rows column
says so: the combined filter's second page is empty), and every row of a page costs the
same at both sizes (objects, cursors, JSON), so such a ratio also counts the rows the
small table does not have. The `eq` columns control for that: the same query of the
large table, at a cursor that leaves as many rows as the small one returned (asked in
the same rounds); where the pages are full anyway they repeat the ratio's measure.

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


LAST = """query($filter: ReleaseFilter, $last: Int!) {
  releases(last: $last, filter: $filter) { edges { cursor } } }"""
EQUAL = "eq"  # the large table, at a page as long as the small table's


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


def _page(client: httpx.Client, base_url: str, name: str, after: str | None
          ) -> dict[str, Any]:
    fields, filter = QUERIES[name]
    page: dict[str, Any] = client.post(f"{base_url}/graphql", json={
        "query": PAGE % fields, "variables": {"filter": filter, "after": after}}
    ).json()["data"]["releases"]
    return page


def _leaving(client: httpx.Client, base_url: str, name: str, rows: int) -> str:
    """The cursor after which `name`'s list holds exactly `rows` more rows."""
    edges = client.post(f"{base_url}/graphql", json={
        "query": LAST, "variables": {"filter": QUERIES[name][1], "last": rows + 1}}
    ).json()["data"]["releases"]["edges"]
    cursor: str = edges[0]["cursor"]
    return cursor


Target = int | str  # a table's size, or EQUAL


def measure(urls: dict[int, str], token: str, rounds: int
            ) -> tuple[dict[str, dict[Target, float]], dict[str, dict[Target, int]]]:
    """Median seconds per query and size (and `EQUAL`, the large table at the small one's
    page length), asked in interleaved rounds; and how many rows the measured page holds
    at each (a small table may fill fewer than 50)."""
    small, large = min(urls), max(urls)
    targets: dict[str, dict[Target, tuple[str, str | None]]] = {n: {} for n in QUERIES}
    rows: dict[str, dict[Target, int]] = {n: {} for n in QUERIES}
    times: dict[str, dict[Target, list[float]]] = {n: {} for n in QUERIES}
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for name in QUERIES:
            for size, base_url in urls.items():
                first = _page(client, base_url, name, None)
                targets[name][size] = (base_url, first["pageInfo"]["endCursor"]
                                       if name.endswith("page 2") else None)
            held = len(_page(client, urls[small], name, targets[name][small][1])["edges"])
            targets[name][EQUAL] = (urls[large], _leaving(client, urls[large], name, held)
                                    if held < 50 else targets[name][large][1])
            for target, (base_url, after) in targets[name].items():
                rows[name][target] = len(_page(client, base_url, name, after)["edges"])
                times[name][target] = []
                for _ in range(3):  # warm: connections, statement caches
                    _ask(client, base_url, name, after)
        for _ in range(rounds):
            for name in QUERIES:
                for target, (base_url, after) in targets[name].items():
                    times[name][target].append(_ask(client, base_url, name, after))
    return ({n: {s: statistics.median(v) for s, v in by.items()} for n, by in times.items()},
            rows)


def run_backend(backend: str, small: int, large: int, rounds: int
                ) -> tuple[dict[str, dict[Target, float]], dict[str, dict[Target, int]]]:
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
    header = f"{'releases(first: 50)':<20} {'rows':>9}"
    for backend in backends:
        header += (f" | {backend + ' ' + small:>12} {large:>6} {'ratio':>5}"
                   f" {EQUAL:>6} {'ratio':>5}")
    print(f"\np50 over {args.rounds} interleaved rounds, milliseconds; ratio = {large} ÷ {small};"
          f" rows = the measured page's rows at {small}/{large}/{EQUAL}; {EQUAL} = {large} at a"
          f" cursor leaving as many rows as at {small}")
    print(header)
    worst, worst_equal = (0.0, ""), (0.0, "")
    for name in QUERIES:
        held = results[backends[0]][1][name]
        rows = f"{held[args.small]}/{held[args.large]}/{held[EQUAL]}"
        line = f"{name:<20} {rows:>9}"
        for backend in backends:
            at = results[backend][0][name]
            ratio, equal = at[args.large] / at[args.small], at[EQUAL] / at[args.small]
            worst = max(worst, (ratio, f"{name}, {backend}, rows {rows}"))
            worst_equal = max(worst_equal, (equal, f"{name}, {backend}"))
            line += (f" | {at[args.small] * 1000:>12.1f} {at[args.large] * 1000:>6.1f} "
                     f"{ratio:>5.2f} {at[EQUAL] * 1000:>6.1f} {equal:>5.2f}")
        print(line)
    print(f"worst ratio: {worst[0]:.2f} ({worst[1]}; goal: at most 1.5)")
    print(f"worst ratio at equal rows ({EQUAL}): {worst_equal[0]:.2f} ({worst_equal[1]})")


if __name__ == "__main__":
    main()
