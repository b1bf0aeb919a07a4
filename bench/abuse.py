"""Abuse benchmark: how long one hostile or unlucky caller can hold up the others.

Prints, from one run against a demo-like hub (the four sandboxes in a process of
their own over the seed-7 world, the hub in this process on SQLite, no cache):
- the refusal time of a fragment fan-out (each fragment spreading the next
  twice) at 18, 24 and 30 fragments, and the slowest /healthz meanwhile;
- the p50/p99 of /healthz while 10 heavy federated queries and 20 logins run;
- the latency of `{ sources { name } }` from a second user while JIRA hangs
  under a first user's query;
- the change requests created upstream, in ServiceNow and in Remedy, after 50
  concurrent raises with retries over 10 releases: it must equal the number
  of distinct releases.

Each figure is one function taking the running `Abuse` and returning its lines,
so figures can be added without touching the others.

Run: `.venv/bin/python -m bench.abuse [--only fanout healthz sources raises]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from api import auth
from api.app import create_app
from api.db import models as m
from api.db.models import Role
from api.demo import demo_connectors, demo_environ, seed
from bench.change_storm import storm
from bench.upstreams import upstreams_process
from connectors.sandbox.world import World, build_world
from tests.support.graphql import add_principal, new_secret
from tests.support.hub_process import free_port
from tests.support.server import serve_asgi

PASSWORD = "a long enough bench password"
LOGIN_USERS = 20
KINDS = ("jira", "github", "servicenow", "remedy")


@dataclass
class Abuse:
    """A running hub and its sandboxes, with a client per role."""

    hub_url: str
    sandbox_url: str
    world: World
    tokens: dict[Role, str]

    def client(self, role: Role, timeout: float = 120) -> httpx.Client:
        return httpx.Client(base_url=self.hub_url, timeout=timeout,
                            headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def post(self, role: Role, query: str, variables: dict[str, Any] | None = None,
             timeout: float = 120) -> dict[str, Any]:
        with self.client(role, timeout) as client:
            body: dict[str, Any] = client.post(
                "/graphql", json={"query": query, "variables": variables or {}}).json()
            return body

    def healthz(self, timeout: float = 120) -> float:
        """Seconds /healthz took (infinity when it did not answer within `timeout`)."""
        started = time.perf_counter()
        try:
            httpx.get(f"{self.hub_url}/healthz", timeout=timeout).raise_for_status()
        except httpx.TimeoutException:
            return float("inf")
        return time.perf_counter() - started

    def fault(self, kind: str, **rule: Any) -> None:
        httpx.post(f"{self.sandbox_url}/sandbox/{kind}/_sandbox/faults",
                   json=rule).raise_for_status()

    def clear_faults(self) -> None:
        for kind in KINDS:
            httpx.delete(f"{self.sandbox_url}/sandbox/{kind}/_sandbox/faults")



def healthz_while(abuse: Abuse, busy: Callable[[], bool]) -> list[float]:
    """/healthz latencies, asked one after another while `busy()` holds (at least once)."""
    times = [abuse.healthz()]
    while busy():
        times.append(abuse.healthz())
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds != float("inf") else "(timed out)"


# --- figures -------------------------------------------------------------------------------

def fan_out_query(fragments: int) -> str:
    parts = ["{ releases(first: 1) { nodes { ...F0 } } }"]
    for i in range(fragments):
        below = f"...F{i + 1} ...F{i + 1}" if i + 1 < fragments else "name"
        parts.append(f"fragment F{i} on Release {{ key {below} }}")
    return "\n".join(parts)


def fragment_fan_out(abuse: Abuse, sizes: tuple[int, ...] = (18, 24, 30),
                     repeat: int = 5) -> list[str]:
    """Refusal time of the fan-out; a bound of 60 s each (today's main needs longer)."""
    lines = [f"{'fragments':>10}{'bytes':>7}{'refusal (median)':>18}{'slowest /healthz':>18}"
             "  answer"]
    for size in sizes:
        query = fan_out_query(size)
        times: list[float] = []
        answer = ""
        health: list[float] = []
        for _ in range(repeat):
            done = threading.Event()
            outcome: dict[str, Any] = {}

            def attack(query: str = query, outcome: dict[str, Any] = outcome,
                       done: threading.Event = done) -> None:
                started = time.perf_counter()
                try:
                    outcome["body"] = abuse.post(Role.VIEWER, query, timeout=60)
                except httpx.TimeoutException:
                    outcome["body"] = {"errors": [{"extensions": {"code": "(timed out)"}}]}
                outcome["seconds"] = time.perf_counter() - started
                done.set()

            thread = threading.Thread(target=attack)
            thread.start()
            health += healthz_while(abuse, lambda done=done: not done.is_set())
            thread.join()
            times.append(outcome["seconds"])
            codes = [e.get("extensions", {}).get("code")
                     for e in outcome["body"].get("errors") or []]
            answer = ",".join(str(c) for c in codes) or "answered"
            if outcome["seconds"] >= 60:
                break  # one timed-out try says enough
        lines.append(f"{size:>10}{len(query):>7}{ms(statistics.median(times)):>18}"
                     f"{ms(max(health)):>18}  {answer}")
        if max(times) >= 60:
            # The hub is still working on it: larger fan-outs cannot be timed after it.
            lines += [f"{later:>10}  not measured: the hub is still busy with the last one"
                      for later in sizes[sizes.index(size) + 1:]]
            break
    return lines


HEAVY = """{ releases(first: 15) { nodes { key gates { name passed }
    workItems(first: 100) { totalCount } changeRequests { number } } } }"""


def healthz_under_load(abuse: Abuse, heavy: int = 10, logins: int = LOGIN_USERS) -> list[str]:
    """/healthz p50/p99 while `heavy` federated queries and `logins` logins run at once."""
    errors: list[str] = []

    def query() -> None:
        body = abuse.post(Role.VIEWER, HEAVY, timeout=300)
        errors.extend(str(e.get("extensions", {}).get("code")) for e in body.get("errors") or [])

    def login(index: int) -> None:
        response = httpx.post(f"{abuse.hub_url}/auth/login", timeout=300,
                              headers={"Origin": abuse.hub_url},
                              json={"username": f"login-{index}", "password": PASSWORD})
        if response.status_code != 204:
            errors.append(f"login {response.status_code}")

    baseline = [abuse.healthz() for _ in range(20)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=heavy + logins) as pool:
        futures = [pool.submit(query) for _ in range(heavy)]
        futures += [pool.submit(login, i % LOGIN_USERS) for i in range(logins)]
        health = healthz_while(abuse, lambda: not all(f.done() for f in futures))
        for future in futures:
            future.result()
    elapsed = time.perf_counter() - started
    seen = ", ".join(sorted(set(errors))) or "none"
    return [f"/healthz idle: p50 {ms(statistics.median(baseline))}, "
            f"p99 {ms(percentile(baseline, 0.99))}",
            f"/healthz under {heavy} heavy queries + {logins} logins ({len(health)} asks, "
            f"{elapsed:.1f} s): p50 {ms(statistics.median(health))}, "
            f"p99 {ms(percentile(health, 0.99))}, max {ms(max(health))}",
            f"errors in the load: {seen}"]


def sources_while_a_source_hangs(abuse: Abuse, hang_seconds: float = 30) -> list[str]:
    """`{ sources { name } }` from a second user while JIRA hangs under the first's query."""
    abuse.fault("jira", hang_seconds=hang_seconds)
    try:
        first: dict[str, Any] = {}

        def hung_query() -> None:
            started = time.perf_counter()
            first["body"] = abuse.post(
                Role.RELEASE_MANAGER,
                "{ releases(first: 10) { nodes { key workItems { totalCount } } } }",
                timeout=300)
            first["seconds"] = time.perf_counter() - started

        thread = threading.Thread(target=hung_query)
        thread.start()
        time.sleep(0.5)  # let the first user's query reach JIRA (not a measured figure)
        started = time.perf_counter()
        second = abuse.post(Role.VIEWER, "{ sources { name } }", timeout=300)
        sources_seconds = time.perf_counter() - started
        thread.join()
    finally:
        abuse.clear_faults()
    codes = sorted({str(e.get("extensions", {}).get("code"))
                    for e in first["body"].get("errors") or []})
    return [f"JIRA hanging {hang_seconds:.0f} s per call:",
            f"  first user's release query: {first['seconds']:.1f} s "
            f"(errors: {', '.join(codes) or 'none'})",
            f"  second user's {{ sources {{ name }} }}: {ms(sources_seconds)} "
            f"({'ok' if not second.get('errors') else second['errors'][0].get('message')})"]


def concurrent_raises(abuse: Abuse, calls: int = 50, releases: int = 10) -> list[str]:
    """Change requests upstream after `calls` raises with retries, in each ITSM.

    The releases have no open change yet; each is raised under two idempotency keys
    (a double click) with a second of ITSM latency on the create, and every client
    retries CHANGE_IN_PROGRESS as told (`bench.change_storm.storm`).
    """
    opened = {c.release_key for c in abuse.world.change_requests
              if c.stage not in ("closed", "canceled", "rejected")}
    free = [r.key for r in abuse.world.releases if r.key not in opened]
    lines = []
    for index, itsm in enumerate(("servicenow", "remedy")):
        keys = free[index * releases:(index + 1) * releases]
        result = storm(abuse.hub_url, abuse.tokens[Role.RELEASE_MANAGER], abuse.sandbox_url,
                       itsm, keys, calls)
        tally = ", ".join(f"{n} {code}" for code, n in sorted(result.answers.items()))
        lines.append(f"{itsm}: {calls} concurrent raises over {len(keys)} releases "
                     f"(2 keys per release, retried): {result.upstream_changes} change "
                     f"requests created upstream (must be {len(keys)}); answers: {tally}")
    return lines


FIGURES: dict[str, tuple[str, Callable[[Abuse], list[str]]]] = {
    "fanout": ("fragment fan-out refusal", fragment_fan_out),
    "healthz": ("/healthz under federated load and logins", healthz_under_load),
    "sources": ("sources while a source hangs", sources_while_a_source_hangs),
    "raises": ("concurrent change raises", concurrent_raises),
}


# --- the hub -------------------------------------------------------------------------------

@contextmanager
def running_hub(tmp: Path) -> Iterator[Abuse]:
    """The demo world: sandboxes in their own process, a hub here over SQLite, no cache."""
    world = build_world(seed=7, scale=1)
    tokens = {role: new_secret() for role in Role}
    with upstreams_process(free_port(), scale=1) as sandbox_url:
        from api.settings import load_settings

        settings = load_settings(
            None, database={"url": f"sqlite+aiosqlite:///{tmp / 'abuse.db'}"},
            connectors=[c.model_dump() for c in demo_connectors(sandbox_url)],
            limits={"rate_limit_per_minute": 100_000, "rate_limit_burst": 10_000},
            security={"login_attempts_per_minute": 10_000},
            federation={"cache_ttl_seconds": 0})  # every query goes upstream

        async def seed_step(sessions: Any) -> None:
            await seed(sessions, world)
            for role in Role:
                await add_principal(sessions, username=f"{role.name.lower()}-bench",
                                    role=role, token=tokens[role])
            hashed = auth.hash_password(PASSWORD)  # once: hashing is the slow part
            async with sessions() as session, session.begin():
                session.add_all(m.User(username=f"login-{index}", role=Role.VIEWER,
                                       password_hash=hashed) for index in range(LOGIN_USERS))

        app = create_app(settings, environ=demo_environ(), startup=[seed_step])
        with serve_asgi(app) as hub_url:
            abuse = Abuse(hub_url, sandbox_url, world, tokens)
            abuse.post(Role.VIEWER, "{ releases(first: 5) { nodes { key } } }")  # warm up
            yield abuse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), default=list(FIGURES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_hub(Path(tmp)) as abuse:
        for name in args.only:
            title, figure = FIGURES[name]
            print(f"== {title}")
            for line in figure(abuse):
                print(line)


if __name__ == "__main__":
    main()
