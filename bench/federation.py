"""Federation benchmark: upstream calls against N, and latency against injected delay.

Prints, side by side from one run:
- upstream calls per source for the dashboard query over N=10 and N=200
  linked releases, and their ratio (batching: it should stay near 1);
- the dashboard query's latency with L ms added to every sandbox answer,
  caches empty and upstream sessions (Remedy's token) established, divided
  by L (goal: at most 1.15, i.e. one round trip to the slowest source).

Each sandbox runs in a process of its own, as remote upstreams are services of
their own (`bench.upstreams.upstreams_processes`). The "slowest call" column is
the longest single upstream call the sandboxes logged for the query (L plus the
sandbox's own work), i.e. one round trip to the slowest source.

With `--phases`, a second hub over the same world runs with tracing on (the app's
own OpenTelemetry spans, kept in memory) and the cold query at the first latency is
split into where its time goes: before the slowest call left (its SQL statements
apart), that call as the hub saw it and as the sandbox logged it, and after its
answer came. Tracing makes each part somewhat larger than in the timed rows.

Run: `.venv/bin/python -m bench.federation [--latency-ms 200 1000] [--repeat 5] [--phases]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from api.app import create_app
from api.db.models import Role
from api.demo import demo_connectors, demo_environ, seed
from api.settings import load_settings
from bench import heap
from bench.upstreams import upstreams_processes
from connectors.sandbox.world import build_world
from tests.support.graphql import new_secret, principal_step
from tests.support.server import serve_asgi

KINDS = ("jira", "github", "servicenow", "remedy")
DASHBOARD = """
query($n: Int!) {
  releases(first: $n) {
    nodes {
      key status windowStart
      readiness { total done ratio changeApproved perSource { source total done } }
      workItems(first: 100) { totalCount nodes { key status statusLabel } }
      changeRequests { number state stateLabel approval }
      deployments { environment ref state }
    }
  }
}"""


class Bench:
    def __init__(self, sandbox_urls: dict[str, str], hub_url: str,
                 headers: dict[str, str]) -> None:
        self.sandbox_urls = sandbox_urls
        self.hub = httpx.Client(base_url=hub_url, timeout=120, headers=headers)
        # One client for the sandboxes' log and faults too: a throwaway client per call
        # (`httpx.get`) leaves its pool and TLS context in reference cycles, and the hub
        # (which shares this process) paid for collecting them, some 5 to 25 ms of CPU,
        # inside the next measured query.
        self.sandboxes = httpx.Client(timeout=30)

    def _kit(self, kind: str, what: str) -> str:
        return f"{self.sandbox_urls[kind]}/sandbox/{kind}/_sandbox/{what}"

    def query(self, n: int) -> dict[str, Any]:
        response = self.hub.post("/graphql", json={"query": DASHBOARD, "variables": {"n": n}})
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise SystemExit(f"dashboard query failed: {body['errors'][:2]}")
        return body

    def calls(self) -> dict[str, int]:
        return {k: self.sandboxes.get(self._kit(k, "requests")).json()["count"] for k in KINDS}

    def reset(self) -> None:
        for kind in KINDS:
            self.sandboxes.delete(self._kit(kind, "requests"))

    def latency(self, latency_ms: float) -> None:
        for kind in KINDS:
            self.sandboxes.delete(self._kit(kind, "faults"))
            if latency_ms:
                self.sandboxes.post(self._kit(kind, "faults"),
                                    json={"latency_ms": latency_ms}).raise_for_status()

    def slowest_call(self) -> float:
        """The longest single upstream call of the last query, as the sandboxes logged it."""
        durations = [entry["duration_ms"] for kind in KINDS for entry in self.sandboxes.get(
            self._kit(kind, "requests")).json()["requests"]]
        return float(max(durations))

    def calls_for(self, n: int) -> dict[str, int]:
        self.reset()
        self.query(n)
        return self.calls()

    def timed(self, n: int, repeat: int) -> tuple[list[float], list[float]]:
        """Query times, and the slowest single upstream call of each query (ms)."""
        times, slowest = [], []
        for _ in range(repeat):
            self.reset()
            started = time.perf_counter()
            self.query(n)
            times.append((time.perf_counter() - started) * 1000)
            slowest.append(self.slowest_call())
        return times, slowest


@contextmanager
def running_hub(scale: int, apps: int, tmp: Path,
                spans: InMemorySpanExporter | None = None) -> Iterator[Bench]:
    """Sandboxes over a world of `scale`, each kind in a process of its own, and a hub
    over them (tracing into `spans` when given)."""
    world = build_world(seed=7, scale=scale)
    wanted = {a.key for a in world.applications[:apps]}
    keys = [r.key for r in world.releases if r.app_key in wanted]
    with upstreams_processes(scale=scale) as sandbox_urls:
        connectors = [next(c for c in demo_connectors(url) if c.name == kind)
                      for kind, url in sandbox_urls.items()]
        settings = load_settings(
            None, database={"url": f"sqlite+aiosqlite:///{tmp / f'bench-{scale}.db'}"},
            connectors=[c.model_dump() for c in connectors],
            limits={"max_page_size": 200, "rate_limit_per_minute": 100_000,
                    "rate_limit_burst": 10_000},
            # Every query goes upstream; a loaded machine must not turn it into a timeout.
            federation={"cache_ttl_seconds": 0, "request_deadline_seconds": 120})

        async def seed_step(sessions: Any) -> None:
            await seed(sessions, world, releases=keys)

        token = new_secret()
        app = create_app(settings, environ=demo_environ(),
                         startup=[seed_step, principal_step(token, Role.VIEWER, "bench")],
                         span_exporter=spans)
        with serve_asgi(app) as hub_url:
            bench = Bench(sandbox_urls, hub_url, headers={"Authorization": f"Bearer {token}"})
            bench.query(10)  # connections and the Remedy token, outside the figures
            heap.freeze()  # the seeded world, as `serve` freezes what it built
            print(f"releases in the hub: {len(keys)} (world seed 7, scale {scale})")
            yield bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[200.0, 1000.0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--phases", action="store_true",
                        help="also split the cold query's time, from a traced hub")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # Calls against N need at least 200 linked releases: a world of scale 10.
        with running_hub(scale=10, apps=8, tmp=Path(tmp)) as bench:
            small, large = bench.calls_for(10), bench.calls_for(200)
            print(f"{'source':<12}{'calls N=10':>12}{'calls N=200':>13}{'ratio':>8}")
            for kind in KINDS:
                ratio = large[kind] / small[kind] if small[kind] else float("nan")
                print(f"{kind:<12}{small[kind]:>12}{large[kind]:>13}{ratio:>8.2f}")
            total_small, total_large = sum(small.values()), sum(large.values())
            print(f"{'total':<12}{total_small:>12}{total_large:>13}"
                  f"{total_large / total_small:>8.2f}")
            latencies(bench, args.latency_ms, args.repeat)
        # Latency on the demo world itself, as `heatshield demo` serves it.
        with running_hub(scale=1, apps=6, tmp=Path(tmp)) as bench:
            latencies(bench, args.latency_ms, args.repeat)
        if args.phases:
            spans, traced = InMemorySpanExporter(), Path(tmp) / "traced"
            traced.mkdir()
            with running_hub(scale=10, apps=8, tmp=traced, spans=spans) as bench:
                print(phases(bench, spans, args.latency_ms[0], args.repeat))


def latencies(bench: Bench, latency_ms: list[float], repeat: int) -> None:
    bench.latency(0)
    base = statistics.median(bench.timed(10, repeat)[0])
    print(f"dashboard query, N=10, median of {repeat}: {base:.1f} ms with no added latency")
    print(f"{'L (ms)':>8}{'median (ms)':>13}{'/ L':>8}{'slowest call (ms)':>19}"
          f"{'/ slowest':>11}")
    for each in latency_ms:
        bench.latency(each)
        times, calls = bench.timed(10, repeat)
        bench.latency(0)
        median, slowest = statistics.median(times), statistics.median(calls)
        print(f"{each:>8.0f}{median:>13.1f}{median / each:>8.3f}"
              f"{slowest:>19.1f}{median / slowest:>11.3f}")
    print("goal: median / L <= 1.15 (one round trip to the slowest source)")


@dataclass(frozen=True)
class Phases:
    """One traced query's time (ms) around its slowest upstream call."""

    total: float
    before: float  # request start to the slowest call's send
    sql: float  # statements that ran before that send, summed
    statements: int
    call: float  # the slowest call, send to answer, as the hub's client saw it
    logged: float  # the same call as the sandbox logged it
    after: float  # its answer to the response's end

    @classmethod
    def of(cls, spans: list[ReadableSpan], logged: float) -> Phases:
        def ms(ns: int) -> float:
            return ns / 1e6
        [server] = [s for s in spans if s.kind is SpanKind.SERVER]
        clients = [s for s in spans if s.kind is SpanKind.CLIENT]
        sql = [s for s in clients if "db.system" in (s.attributes or {})]
        http = [s for s in clients if "db.system" not in (s.attributes or {})]
        slowest = max(http, key=lambda s: s.end_time or 0)
        start, sent, answered = server.start_time or 0, slowest.start_time or 0, \
            slowest.end_time or 0
        early = [s for s in sql if (s.end_time or 0) <= sent]
        return cls(total=ms((server.end_time or 0) - start), before=ms(sent - start),
                   sql=sum(ms((s.end_time or 0) - (s.start_time or 0)) for s in early),
                   statements=len(early), call=ms(answered - sent), logged=logged,
                   after=ms((server.end_time or 0) - answered))


def phases(bench: Bench, spans: InMemorySpanExporter, latency_ms: float, repeat: int) -> str:
    """The cold query at `latency_ms`, split from its trace (medians of `repeat`)."""
    bench.latency(latency_ms)
    measured = []
    for _ in range(repeat):
        bench.reset()
        spans.clear()
        bench.query(10)
        # The request's span ends once the app returns, a moment after the client has
        # the answer.
        waited = time.monotonic()
        while not any(s.kind is SpanKind.SERVER for s in spans.get_finished_spans()):
            if time.monotonic() - waited > 5:
                raise SystemExit("the traced hub ended no request span")
            time.sleep(0.005)
        measured.append(Phases.of(list(spans.get_finished_spans()), bench.slowest_call()))
    bench.latency(0)

    def median(field: str) -> float:
        return statistics.median(getattr(p, field) for p in measured)
    return (f"where a cold query's time goes, N=10, {latency_ms:.0f} ms injected, traced "
            f"(medians of {repeat}, ms):\n"
            f"  total {median('total'):.1f} = before the slowest call {median('before'):.1f}"
            f" (of it {median('sql'):.1f} in {median('statements'):.0f} SQL statements)"
            f" + the call {median('call'):.1f} (the sandbox logged {median('logged'):.1f})"
            f" + after its answer {median('after'):.1f}")


if __name__ == "__main__":
    main()
