"""Change storm: concurrent raises with retries must leave one change per release upstream.

Fires `calls` raiseChangeRequest calls at once, spread over `releases`
releases (a few idempotency keys per release, each call retried while it gets
CHANGE_IN_PROGRESS or an upstream error), with the ITSM's create slowed down so
retries arrive while creates are in flight. Then it counts, through the ITSM's
own API, how many change records the ITSM gained. The count must equal the
number of distinct releases (none of which had an open change before).

`storm(...)` is what `bench/abuse.py` (or anything else) can call against a
running hub; `main` runs it on a fresh hub over the demo world.

Run: `.venv/bin/python -m bench.change_storm [--calls 50] [--releases 10]
[--itsm servicenow|remedy] [--backend sqlite|postgres]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from api.app import create_app
from api.demo import CREDENTIALS, build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.sandbox.world import build_world
from tests.support.databases import fresh_database
from tests.support.graphql import new_secret, principal_step
from tests.support.server import serve_asgi

RAISE = """mutation($id: ID!, $source: String!, $key: String!) {
  raiseChangeRequest(releaseId: $id, source: $source, idempotencyKey: $key,
                     acknowledgeBlackout: true) { created changeRequest { number } } }"""
RELEASE_ID = "query($k: String!) { release(key: $k) { id } }"
CREATE_PATH = {"servicenow": r"/api/now/table/change_request$",
               "remedy": r"ChangeInterface_Create"}
RETRYABLE = {"CHANGE_IN_PROGRESS", "UPSTREAM_TIMEOUT", "UPSTREAM_UNAVAILABLE"}


@dataclass
class StormResult:
    calls: int
    releases: int
    upstream_changes: int  # records the ITSM gained during the storm
    answers: dict[str, int]  # "ok" or the error code -> how many calls ended so
    seconds: float


def upstream_total(sandbox_url: str, itsm: str) -> int:
    """How many change records the ITSM holds, read through its own API."""
    if itsm == "servicenow":
        response = httpx.get(f"{sandbox_url}/sandbox/servicenow/api/now/table/change_request",
                             params={"sysparm_limit": "1", "sysparm_fields": "number"},
                             auth=(CREDENTIALS.username, CREDENTIALS.password))
        return int(response.headers["x-total-count"])
    base = f"{sandbox_url}/sandbox/remedy"
    token = httpx.post(f"{base}/api/jwt/login", data={
        "username": CREDENTIALS.username, "password": CREDENTIALS.password}).text
    entries = httpx.get(f"{base}/api/arsys/v1/entry/CHG:Infrastructure Change",
                        params={"limit": "100000", "fields": "values(Request ID)"},
                        headers={"Authorization": f"AR-JWT {token}"}).json()["entries"]
    return len(entries)


def storm(hub_url: str, token: str, sandbox_url: str, itsm: str, release_keys: list[str],
          calls: int, *, create_latency_ms: float = 1000, retries: int = 10) -> StormResult:
    """`calls` concurrent raises over `release_keys`, each retried; count what the ITSM holds."""
    headers = {"Authorization": f"Bearer {token}"}
    ids = {k: httpx.post(f"{hub_url}/graphql", headers=headers, json={
        "query": RELEASE_ID, "variables": {"k": k}}).json()["data"]["release"]["id"]
        for k in release_keys}
    httpx.post(f"{sandbox_url}/sandbox/{itsm}/_sandbox/faults", json={
        "path": CREATE_PATH[itsm], "method": "POST", "latency_ms": create_latency_ms}
    ).raise_for_status()

    def one(i: int) -> tuple[str, str | None]:
        release = release_keys[i % len(release_keys)]
        # Two keys per release: a double click and its retries, as a browser would send.
        click = (i // len(release_keys)) % 2
        variables = {"id": ids[release], "source": itsm, "key": f"storm-{release}-{click}"}
        with httpx.Client(base_url=hub_url, headers=headers, timeout=60) as client:
            code = "none"
            for _ in range(retries + 1):
                body = client.post("/graphql", json={"query": RAISE, "variables": variables}
                                   ).json()
                if not body.get("errors"):
                    return "ok", body["data"]["raiseChangeRequest"]["changeRequest"]["number"]
                code = str(body["errors"][0]["extensions"].get("code"))
                if code not in RETRYABLE:
                    return code, None
                time.sleep(float(body["errors"][0]["extensions"].get("retryAfterSeconds", 1)))
            return code, None

    before = upstream_total(sandbox_url, itsm)
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=calls) as pool:
            outcomes = list(pool.map(one, range(calls)))
    finally:
        httpx.delete(f"{sandbox_url}/sandbox/{itsm}/_sandbox/faults")
    seconds = time.perf_counter() - started
    answers: dict[str, int] = {}
    for code, _ in outcomes:
        answers[code] = answers.get(code, 0) + 1
    return StormResult(calls, len(release_keys), upstream_total(sandbox_url, itsm) - before,
                       answers, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--releases", type=int, default=10)
    parser.add_argument("--itsm", choices=sorted(CREATE_PATH), default="servicenow")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite",
                        help="postgres needs HEATSHIELD_TEST_POSTGRES_URL (a fresh database "
                             "is made and dropped)")
    args = parser.parse_args()
    world = build_world()
    open_releases = {c.release_key for c in world.change_requests
                     if c.stage not in ("closed", "canceled", "rejected")}
    keys = [r.key for r in world.releases if r.key not in open_releases][:args.releases]
    with tempfile.TemporaryDirectory() as tmp, \
            fresh_database(args.backend, Path(tmp)) as database, \
            serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as sandbox_url:
        settings = load_settings(
            None, database={"url": database},
            connectors=[c.model_dump() | {"timeout_seconds": 5}
                        for c in demo_connectors(sandbox_url)],
            limits={"rate_limit_per_minute": 100_000, "rate_limit_burst": 10_000},
            federation={"cache_ttl_seconds": 0})

        async def seed_step(sessions: Any) -> None:
            await seed(sessions, world)

        token = new_secret()
        app = create_app(settings, environ=demo_environ(),
                         startup=[seed_step, principal_step(token)])
        with serve_asgi(app) as hub_url:
            result = storm(hub_url, token, sandbox_url, args.itsm, keys, args.calls)
    print(f"{result.calls} concurrent raises (2 keys per release, retried) over "
          f"{result.releases} releases in {args.itsm} on {args.backend}, "
          f"{result.seconds:.1f} s")
    print(f"answers: {result.answers}")
    print(f"change requests upstream: {result.upstream_changes} "
          f"(distinct releases: {result.releases})")


if __name__ == "__main__":
    main()
