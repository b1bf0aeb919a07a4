"""Persisted queries benchmark: what a hash costs and saves against sending the document.

Prints, from a hub in this process (SQLite by default, `--database` for another URL)
answering one read-only operation of the hub's own data, sequential requests:
- the request body's size with the whole document and with the hash alone;
- p50/p99 latency of the whole document, of the hash alone (automatic mode, after
  one request taught it), and of the document reformatted with `__typename` added
  in allow-list mode (the canonical-form match the dashboard's requests go through).

Run: `.venv/bin/python -m bench.persisted_queries [--requests 300] [--database URL]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.settings import load_settings
from tests.support.graphql import new_secret, principal_step
from tests.support.server import serve_asgi

DOCUMENT = ("query Overview { releases(first: 20) { totalCount nodes { key name status type "
            "windowStart windowEnd applications { key name } } } applications { key name "
            "description repositories } environments { name tier deployTarget } }")
REFORMATTED = DOCUMENT.replace(" { ", " {\n  __typename\n  ").replace("} }", "}\n}")
DIGEST = hashlib.sha256(DOCUMENT.encode()).hexdigest()


@contextmanager
def hub(database: str, **graphql: Any) -> Iterator[httpx.Client]:
    token = new_secret()
    settings = load_settings(None, database={"url": database}, graphql=graphql,
                             limits={"rate_limit_burst": 100_000,
                                     "rate_limit_per_minute": 1_000_000})
    with serve_asgi(create_app(settings, startup=[principal_step(token)])) as url, \
            httpx.Client(base_url=url, timeout=60,
                         headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def timed(client: httpx.Client, body: dict[str, Any], requests: int) -> str:
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        answer = client.post("/graphql", json=body).json()
        samples.append((time.perf_counter() - start) * 1000)
        assert "errors" not in answer, answer
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return f"p50 {statistics.median(samples):.2f} ms, p99 {p99:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        whole = {"query": DOCUMENT}
        hashed = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": DIGEST}}}
        print(f"request body: whole document {len(json.dumps(whole))} bytes, "
              f"hash alone {len(json.dumps(hashed))} bytes")
        with hub(database) as client:
            client.post("/graphql", json={**whole, **hashed}).raise_for_status()
            print(f"whole document:                  {timed(client, whole, args.requests)}")
            print(f"hash alone (automatic):          {timed(client, hashed, args.requests)}")
        manifest = Path(tmp) / "manifest.json"
        manifest.write_text(json.dumps({DIGEST: DOCUMENT}))
        with hub(database, persisted_queries="allowlist",
                 persisted_queries_manifest=str(manifest)) as client:
            reformatted = {"query": REFORMATTED}
            print(f"reformatted document (allowlist): {timed(client, reformatted, args.requests)}")


if __name__ == "__main__":
    main()
