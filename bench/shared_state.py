"""What sharing state through Redis costs a request.

Two hubs in this process on SQLite, one in-process (no `[redis] url`) and one over the
Redis at 127.0.0.1:6379 (a key prefix of this run's own, removed after), each asked
`{ __typename }` over POST /graphql with an API token in interleaved rounds: the
request passes the rate limiter (a Lua script in Redis, or a dict here) and the
invalidation check (a GET of the shared generation). Prints the median time per
request on each and the ratio; then, without a server, the median time of one `take`
on each limiter and their ratio.

Run: `.venv/bin/python -m bench.shared_state [--rounds 10] [--per-round 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

from api.app import create_app
from api.settings import load_settings
from api.shared_state import SharedState
from tests.support.graphql import new_secret, principal_step
from tests.support.server import serve_asgi

REDIS = "redis://127.0.0.1:6379/0"
TOKEN = new_secret()
QUERY = {"query": "{ __typename }"}
LIMITS = {"rate_limit_burst": 1_000_000, "rate_limit_per_minute": 1_000_000}


@contextmanager
def hub(tmp: Path, name: str, redis_settings: dict[str, str]) -> Iterator[str]:
    settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{tmp / name}.db"},
                             limits=LIMITS, redis=redis_settings)
    with serve_asgi(create_app(settings, startup=[principal_step(TOKEN)])) as url:
        yield url


def per_request(url: str, count: int) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        client.post("/graphql", json=QUERY).raise_for_status()  # warm
        started = time.perf_counter()
        for _ in range(count):
            client.post("/graphql", json=QUERY).raise_for_status()
        return (time.perf_counter() - started) / count


async def per_take(state: SharedState, count: int) -> float:
    await state.limiter.take("user:1")
    started = time.perf_counter()
    for _ in range(count):
        await state.limiter.take("user:1")
    elapsed = (time.perf_counter() - started) / count
    await state.aclose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=50)
    args = parser.parse_args()
    prefix = f"heatshield-bench-{uuid.uuid4().hex[:8]}:"
    shared = {"url": REDIS, "key_prefix": prefix}
    times: dict[str, list[float]] = {"in-process": [], "redis": []}
    takes: dict[str, list[float]] = {"in-process": [], "redis": []}
    try:
        with tempfile.TemporaryDirectory() as tmp, hub(Path(tmp), "local", {}) as local, \
                hub(Path(tmp), "shared", shared) as over_redis:
            for _ in range(args.rounds):
                times["in-process"].append(per_request(local, args.per_round))
                times["redis"].append(per_request(over_redis, args.per_round))
        for _ in range(args.rounds):
            for name, settings in (("in-process", {}), ("redis", shared)):
                state = SharedState(load_settings(None, limits=LIMITS, redis=settings))
                takes[name].append(asyncio.run(per_take(state, args.per_round * 10)))
    finally:
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    request = {k: statistics.median(v) * 1000 for k, v in times.items()}
    take = {k: statistics.median(v) * 1e6 for k, v in takes.items()}
    print(f"POST /graphql {{ __typename }}, median ms per request: in-process "
          f"{request['in-process']:.2f}, redis {request['redis']:.2f}, "
          f"ratio {request['redis'] / request['in-process']:.2f}")
    print(f"limiter take, median us: in-process {take['in-process']:.1f}, redis "
          f"{take['redis']:.1f}, ratio {take['redis'] / take['in-process']:.1f}")


if __name__ == "__main__":
    main()
