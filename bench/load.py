"""The load suite: each row of the performance table (issue 15), side by side in one run.

Every figure is a ratio of two things measured in the same run on the same machine,
so a busy machine shifts both sides alike. Rows:

1. warm dashboard query (N=10, upstream answers cached), requests/s under `wrk`,
   divided by a plain Starlette endpoint sent the same request and returning the same
   bytes on the same uvicorn configuration (`api.server.server_config`), each in a
   process of its own:
   the median of the ratios of several interleaved pairs of short runs (single runs
   of either side swing by a quarter on this machine);
2. `releases(first: 50)` at 100k ÷ 1k releases (`bench.releases_scale`, run in its
   own process; PostgreSQL too when HEATSHIELD_TEST_POSTGRES_URL is set);
3. cold dashboard latency ÷ the slowest single upstream call, N=10, and at N=200
   ÷ the injected latency; upstream calls N=200 ÷ N=10 (`bench.federation`'s hub);
   below the table, the cold query split from a tracing hub's spans (`--phases`);
4. server RSS after the whole mixed load ÷ after its first tenth (`wrk` cycling
   through several read operations and two edits of a release against a hub process
   whose upstream answers expire every 30 s), with RSS after each tenth below the
   table (`--only memory --rss-seconds 3600` for the hour);
5. `heatshield serve` start to `/healthz` ÷ a plain uvicorn app (medians of
   interleaved starts, the project byte-compiled first as an install does; the time
   to the first answered `{ __typename }` on /graphql is printed beside it), and the
   floor beside it: the plain app after importing the libraries the hub is built on.

6. work items x 8 fields, graph ÷ a minimal Strawberry schema serving the same
   objects, and the dashboard answered from the response cache ÷ a plain endpoint
   (`bench.list_paths`, in its own process, through an in-process client).

The sibling benches' whole output follows the table.

`wrk` (Debian/Ubuntu: `apt-get install wrk`) generates the load: it is C and not
the bottleneck, with one thread, so that on two cores it leaves the measured server
one of its own (with two, its threads took turns with the server's). Without it the
throughput and memory rows say how to install it.

Run: `.venv/bin/python -m bench.load [--quick] [--only startup|throughput|memory]
[--rss-seconds N]` (quick: the
whole run in about four minutes; full: ten throughput pairs of 5 s a side, 10 minutes
of mixed load, more repeats).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.db.models import Role
from bench import heap
from bench.federation import DASHBOARD, phases, running_hub
from bench.upstreams import upstreams_process
from tests.support.graphql import new_secret
from tests.support.hub_process import free_port
from tests.support.paths import REPO

WRK = shutil.which("wrk")
INSTALL_WRK = "not measured: wrk is missing (Debian/Ubuntu: sudo apt-get install wrk)"
#: Seconds the memory row's hub keeps upstream answers.
MEMORY_CACHE_TTL = 30
#: The mixed load: what a release organisation's screens and reports ask, in turn.
MIXED: list[dict[str, Any]] = [
    {"query": DASHBOARD, "variables": {"n": 10}},
    {"query": DASHBOARD, "variables": {"n": 40}},
    {"query": "{ releases(first: 50) { totalCount nodes { key status windowStart } } }"},
    {"query": "query($s: [ReleaseStatus!]) { releases(first: 20, filter: {status: $s}) "
              "{ nodes { key readiness { done total } } } }",
     "variables": {"s": ["PLANNED", "IN_PROGRESS"]}},
    {"query": "{ sources { name status } }"},
]


@dataclass
class Mode:
    throughput_pairs: int
    throughput_seconds: int  # each side of a pair
    latency_repeat: int
    rss_seconds: int
    starts: int
    scale_rounds: int
    list_rounds: int


QUICK = Mode(throughput_pairs=5, throughput_seconds=2, latency_repeat=5, rss_seconds=60, starts=3,
             scale_rounds=5, list_rounds=3)
FULL = Mode(throughput_pairs=10, throughput_seconds=5, latency_repeat=5, rss_seconds=600, starts=7,
            scale_rounds=30, list_rounds=7)


def row(name: str, value: str, goal: str) -> None:
    print(f"| {name} | {value} | {goal} |", flush=True)


# ---------------------------------------------------------------- processes


@contextmanager
def process(args: list[str], port: int, path: str = "/healthz",
            timeout: float = 120) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, waited for until `path` answers 200; stopped on exit."""
    child = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL)
    try:
        wait_for(child, f"http://127.0.0.1:{port}{path}", timeout)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_for(child: subprocess.Popen[bytes], url: str, timeout: float) -> float:
    """Seconds until `url` answers 200."""
    started = time.perf_counter()
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        if child.poll() is not None:
            raise RuntimeError(f"{' '.join(map(str, child.args))} exited")  # type: ignore[arg-type]
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{url} did not answer within {timeout} s")
        time.sleep(0.02)


def hub_args(port: int, sandboxes: str, database: str, token: str,
             cache_ttl: int = 3600) -> list[str]:
    return [sys.executable, "-m", "bench.load", "hub", "--port", str(port), "--sandboxes",
            sandboxes, "--database", database, "--token", token, "--cache-ttl", str(cache_ttl)]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# ---------------------------------------------------------------- wrk


def wrk_counts(url: str, bodies: list[dict[str, Any]], token: str | None, seconds: int,
               connections: int = 8) -> tuple[float, int]:
    """Requests per second `wrk` reached POSTing `bodies` in turn, and how many it
    completed (non-2xx counted as failures: a run with any is refused)."""
    assert WRK is not None
    headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    script = ("local bodies = {" + ",".join(json.dumps(json.dumps(b)) for b in bodies) + "}\n"
              "local i = 0\n"
              "request = function()\n"
              "  i = i % #bodies + 1\n"
              f"  return wrk.format('POST', nil, {lua_table(headers)}, bodies[i])\n"
              "end\n")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        out = subprocess.run([WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", file.name,
                              url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(file.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw failures:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    if match is None or done is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return float(match.group(1)), int(done.group(1))


def lua_table(headers: dict[str, str]) -> str:
    return "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"


# ---------------------------------------------------------------- rows


def throughput(mode: Mode, sandboxes: str, tmp: Path) -> None:
    name = "warm dashboard N=10, req/s ÷ plain Starlette, same bytes"
    if WRK is None:
        row(name, INSTALL_WRK, ">= 0.75")
        return
    token = new_secret()
    hub_port, plain_port = free_port(), free_port()
    body = {"query": DASHBOARD, "variables": {"n": 10}}
    with process(hub_args(hub_port, sandboxes, f"sqlite+aiosqlite:///{tmp / 'tp.db'}", token),
                 hub_port) as hub:
        url = f"http://127.0.0.1:{hub_port}/graphql"
        answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}",
                                                      "Accept-Encoding": "identity"}, timeout=60)
        answer.raise_for_status()
        payload = tmp / "answer.json"
        payload.write_bytes(answer.content)
        with process([sys.executable, "-m", "bench.plain", "--port", str(plain_port),
                      "--answer", str(payload), "--hub-config"], plain_port) as plain:
            plain_url = f"http://127.0.0.1:{plain_port}/graphql"
            pairs = []  # interleaved: what the machine does meanwhile falls on both sides
            cpu = []  # each server's CPU seconds per request in the same runs
            for _ in range(mode.throughput_pairs):
                # The same request bytes to both, the token too (the plain app ignores
                # it): the ratio is what the app costs, not h11 parsing one more header.
                (hub_rate, hub_cpu), (plain_rate, plain_cpu) = (
                    served(child, target, token, body, mode.throughput_seconds)
                    for child, target in ((hub, url), (plain, plain_url)))
                pairs.append((hub_rate, plain_rate))
                cpu.append((hub_cpu, plain_cpu))
    ratios = sorted(hub / plain for hub, plain in pairs)
    hub_rate, plain_rate = (statistics.median(side) for side in zip(*pairs, strict=True))
    hub_cpu, plain_cpu = (statistics.median(side) for side in zip(*cpu, strict=True))
    cpu_ratio = statistics.median(plain / hub for hub, plain in cpu)
    row(name, f"{hub_rate:,.0f} ÷ {plain_rate:,.0f} req/s; median of {len(pairs)} pairs' "
              f"ratios **{statistics.median(ratios):.3f}** (pairs {ratios[0]:.3f} to "
              f"{ratios[-1]:.3f}; {len(answer.content):,} bytes); server CPU per request "
              f"{hub_cpu * 1e6:.0f} vs {plain_cpu * 1e6:.0f} µs, plain ÷ hub {cpu_ratio:.3f}",
        ">= 0.75")


def served(server: subprocess.Popen[bytes], url: str, token: str | None,
           body: dict[str, Any], seconds: int) -> tuple[float, float]:
    """`wrk`'s requests per second against `server`, and the server's CPU seconds per
    request meanwhile: a CPU-bound server's capacity, steadier than its rate while the
    machine's other work comes and goes."""
    before = cpu_seconds(server.pid)
    rate, requests = wrk_counts(url, [body], token, seconds)
    return rate, (cpu_seconds(server.pid) - before) / max(1, requests)


#: What the sibling benches printed, shown whole after the table.
DETAILS: list[str] = []


def sibling(module: str, args: list[str]) -> str:
    """Run another bench in its own process (its own hubs, its own memory) and keep
    what it printed for the details below the table."""
    found = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, text=True,
                           capture_output=True, env=os.environ.copy())
    out = found.stdout + (f"\n(exit {found.returncode}) {found.stderr[-800:]}"
                          if found.returncode else "")
    DETAILS.append(f"$ python -m {module} {' '.join(args)}\n{out.rstrip()}")
    return out


def releases_scale(mode: Mode) -> None:
    """Row: `releases(first: 50)` p50 at 100k ÷ 1k releases (`bench.releases_scale`)."""
    name = "releases(first: 50) p50 at 100k ÷ at 1k, worst of 7 filters x 2 databases"
    out = sibling("bench.releases_scale", ["--rounds", str(mode.scale_rounds)])
    # A filter the small table cannot fill a page of compares fewer rows with 50 (the
    # rows say so); the same query at equal rows is printed beside it.
    worst = re.search(r"worst ratio: ([0-9.]+) \((.*); goal", out)
    equal = re.search(r"worst ratio at equal rows \(eq\): ([0-9.]+) \((.*)\)", out)
    row(name, f"**{worst.group(1)}** ({worst.group(2)} at 1k/100k/eq); at equal rows "
              f"{equal.group(1)} ({equal.group(2)})" if worst and equal
        else "not measured: see details", "<= 1.5")


def list_paths(mode: Mode) -> None:
    """Row: many work items x 8 fields, graph ÷ a minimal Strawberry schema
    (`bench.list_paths`), and the dashboard answered from the response cache."""
    out = sibling("bench.list_paths", ["--rounds", str(mode.list_rounds), "--scale", "8"])
    items = re.search(r"list: (\d+) work items", out)
    ratio = re.search(r"minimal Strawberry .* ratio ([0-9.]+)", out)
    row(f"{items.group(1) if items else '?'} work items x 8 fields: graph ÷ minimal Strawberry",
        f"**{ratio.group(1)}**" if ratio else "not measured: see details", "<= 1.2")
    kept = re.search(r"dash kept .* ratio ([0-9.]+)", out)
    row("dashboard answered from the response cache (in-process client) ÷ plain endpoint",
        f"**{kept.group(1)}**" if kept else "not measured: see details", ">= 0.75")


def federation(mode: Mode, tmp: Path) -> None:
    with running_hub(scale=10, apps=8, tmp=tmp) as bench:
        small, large = bench.calls_for(10), bench.calls_for(200)
        total_small, total_large = sum(small.values()), sum(large.values())
        detail = ", ".join(f"{k} {small[k]}→{large[k]}" for k in small)
        row("upstream calls, N=200 ÷ N=10 (JIRA Cloud)",
            f"{total_large} ÷ {total_small} = **{total_large / total_small:.2f}** ({detail})",
            "4.25 Cloud (lower bound + 1 key listing: see docs/upstream-limits.md)")
        bench.latency(0)
        alone = statistics.median(bench.timed(200, mode.latency_repeat)[0])
        for latency in (200.0, 1000.0):
            bench.latency(latency)
            times, slowest = bench.timed(10, mode.latency_repeat)
            median = statistics.median(times)
            row(f"cold dashboard N=10 ÷ slowest upstream call, {latency:.0f} ms injected",
                f"{median:.0f} ÷ {statistics.median(slowest):.0f} ms = "
                f"**{median / statistics.median(slowest):.3f}**", "<= 1.05")
        latency = 1000.0
        bench.latency(latency)
        times, slowest = bench.timed(200, mode.latency_repeat)
        median = statistics.median(times)
        row("cold dashboard N=200 ÷ injected latency (1 s)",
            f"{median:.0f} ÷ {latency:.0f} ms = **{median / latency:.2f}**; the same query "
            f"with no latency takes {alone:.0f} ms, so the upstream wait is "
            f"{(median - alone) / latency:.2f} x L; slowest single call "
            f"{statistics.median(slowest):.0f} ms", "<= 2")
        bench.latency(0)
    # Where the cold row's time goes, from a hub that traces (so not in the row's figures).
    spans, traced = InMemorySpanExporter(), tmp / "traced"
    traced.mkdir(exist_ok=True)
    with running_hub(scale=10, apps=8, tmp=traced, spans=spans) as bench:
        DETAILS.append(f"(bench.federation --phases, in this run)\n"
                       f"{phases(bench, spans, 200.0, mode.latency_repeat)}")


def memory(mode: Mode, sandboxes: str, tmp: Path) -> None:
    name = f"hub RSS after {mode.rss_seconds} s of mixed load ÷ after {mode.rss_seconds // 10} s"
    if WRK is None:
        row(name, INSTALL_WRK, "<= 1.05")
        return
    token = new_secret()
    port = free_port()
    # Upstream answers kept 30 s, not an hour: over the run they expire and are read again.
    with process(hub_args(port, sandboxes, f"sqlite+aiosqlite:///{tmp / 'rss.db'}", token,
                          cache_ttl=MEMORY_CACHE_TTL), port) as hub:
        url = f"http://127.0.0.1:{port}/graphql"
        bodies = MIXED + release_edits(url, token)
        answered_without_errors(url, bodies, token)  # wrk counts statuses, not GraphQL errors
        tenth = mode.rss_seconds // 10
        series, requests = [], 0
        for _ in range(10):
            requests += wrk_counts(url, bodies, token, tenth, connections=4)[1]
            series.append(rss_kib(hub.pid))
    early, late = series[0], series[-1]
    row(name, f"{late / 1024:.1f} ÷ {early / 1024:.1f} MiB = **{late / early:.3f}**",
        "<= 1.05")
    DETAILS.append(
        f"Memory ({requests:,} requests in {mode.rss_seconds} s, {len(bodies)} operations in "
        f"turn, {len(bodies) - len(MIXED)} of them release edits; upstream answers kept "
        f"{MEMORY_CACHE_TTL} s): hub RSS after each tenth of the run, MiB: "
        + ", ".join(f"{kib / 1024:.1f}" for kib in series)
        + f"; the largest step between tenths after the first "
        f"{max(b - a for a, b in itertools.pairwise(series[1:])) / 1024:+.1f} MiB.")


def answered_without_errors(url: str, bodies: list[dict[str, Any]], token: str) -> None:
    for body in bodies:
        answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"},
                            timeout=60).json()
        if answer.get("errors"):
            raise RuntimeError(f"the load's operation failed: {answer['errors'][:1]}")


def release_edits(url: str, token: str) -> list[dict[str, Any]]:
    """Two edits of one release's description that undo each other: each one a real
    change (a new version, an audit event, the release's cached answers dropped), with
    the table the same size at the end as at the start."""
    answer = httpx.post(url, json={"query": "{ releases(first: 1) { nodes { id } } }"},
                        headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    release = answer["data"]["releases"]["nodes"][0]["id"]
    edit = ("mutation($id: ID!, $d: String!) { updateRelease(id: $id, input: {description: $d})"
            " { version } }")
    return [{"query": edit, "variables": {"id": release, "d": text}}
            for text in ("edited under load", "edited back under load")]


def byte_compile() -> None:
    """Compile the project's modules to bytecode, once, as installing it does: pip
    byte-compiles a wheel's modules, and `make setup` does it for the editable install.
    Without it (PYTHONDONTWRITEBYTECODE, a fresh checkout) every start compiles the
    project's sources again, and that, not serving, is what would be timed."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "api", "connectors"], cwd=REPO,
                   check=True)


def add_token(database: str, token: str) -> None:
    """Let `token` in, so a start can be timed to its first answered GraphQL query."""
    import asyncio

    from api.db.engine import create_engine, session_factory
    from tests.support.graphql import add_principal

    async def add() -> None:
        engine = create_engine(database)
        try:
            await add_principal(session_factory(engine), username="bench", role=Role.VIEWER,
                                token=token)
        finally:
            await engine.dispose()

    asyncio.run(add())


def ready_times(child: subprocess.Popen[bytes], port: int, token: str,
                timeout: float) -> tuple[float, float]:
    """Seconds from the start until /healthz answers 200, and until /graphql answers
    `{ __typename }` with data (proof that health is not answered before the graph is)."""
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    health: float | None = None
    graph: float | None = None
    while health is None or graph is None:
        try:
            if health is None and httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                health = time.perf_counter() - started
            if graph is None:
                answer = httpx.post(f"{base}/graphql", json={"query": "{ __typename }"},
                                    headers={"Authorization": f"Bearer {token}"}, timeout=1)
                if answer.status_code == 200 and answer.json().get("data") == {
                        "__typename": "Query"}:
                    graph = time.perf_counter() - started
        except httpx.TransportError:
            pass
        if child.poll() is not None:
            raise RuntimeError(f"{' '.join(map(str, child.args))} exited")  # type: ignore[arg-type]
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{base} did not answer within {timeout} s")
        if health is None or graph is None:
            time.sleep(0.02)
    return health, graph


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def startup(mode: Mode, tmp: Path) -> None:
    byte_compile()
    database = f"sqlite+aiosqlite:///{tmp / 'serve.db'}"
    config = tmp / "serve.toml"
    config.write_text(f'[database]\nurl = "{database}"\n')
    heatshield = str(Path(sys.executable).with_name("heatshield"))
    # Migrated first: a restart, not a first install, is what is timed.
    subprocess.run([heatshield, "migrate", "--config", str(config)], check=True,
                   capture_output=True)
    token = new_secret()
    add_token(database, token)
    answer = tmp / "typename.json"  # the plain app's /graphql answers what the hub's does
    answer.write_text('{"data": {"__typename": "Query"}}')
    times: dict[str, list[tuple[float, float, float]]] = {"serve": [], "plain": [],
                                                          "frameworks": []}
    for _ in range(mode.starts):
        for which, into in times.items():
            port = free_port()
            args = ([heatshield, "serve", "--config", str(config), "--port", str(port)]
                    if which == "serve" else
                    [sys.executable, "-m", "bench.plain", "--port", str(port),
                     "--answer", str(answer)]
                    + (["--frameworks"] if which == "frameworks" else []))
            child = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            try:
                health, graph = ready_times(child, port, token, 120)
                into.append((health, graph, cpu_seconds(child.pid)))
            finally:
                child.terminate()
                child.wait(timeout=20)
    (a, a_graph, a_cpu), (b, b_graph, b_cpu), (f, _, f_cpu) = (
        tuple(statistics.median(t[i] for t in runs) for i in range(3))
        for runs in times.values())
    row("`heatshield serve` start to /healthz ÷ a plain uvicorn app",
        f"{a:.2f} ÷ {b:.2f} s = **{a / b:.1f}**; the frameworks' imports alone "
        f"{f:.2f} ÷ {b:.2f} s = {f / b:.1f}", "<= 3")
    DETAILS.append(
        f"Start-up ({mode.starts} interleaved starts each, medians; the project byte-compiled "
        "first, as an install does): `heatshield serve` answered /healthz at "
        f"{a:.2f} s and its first `{{ __typename }}` on /graphql at {a_graph:.2f} s; the plain "
        f"uvicorn app {b:.2f} s and {b_graph:.2f} s. The same plain app after importing the "
        f"libraries the hub is built on (`bench.plain.FRAMEWORKS`), and nothing of "
        f"Heatshield, answered at {f:.2f} s: that floor is {f / b:.1f} times the plain app, "
        f"and the hub {a / f:.2f} times the floor. CPU time each process had used by then "
        f"(steadier than wall time on a busy machine): hub {a_cpu:.2f}, plain {b_cpu:.2f}, "
        f"floor {f_cpu:.2f} s; hub ÷ plain {a_cpu / b_cpu:.1f}, hub ÷ floor "
        f"{a_cpu / f_cpu:.2f}.")


# ---------------------------------------------------------------- helper processes


def hub_app(*, database: str, sandboxes: str, token: str, cache_ttl: int = 3600,
            metrics: bool = True) -> Any:
    """The demo world's releases in a hub of its own, `token` let in (upstream answers
    kept for `cache_ttl` seconds, so repeated reads are warm)."""
    from api.app import create_app
    from api.demo import demo_connectors, demo_environ, seed
    from api.settings import load_settings
    from connectors.sandbox.world import build_world
    from tests.support.graphql import principal_step

    world = build_world(seed=7)
    settings = load_settings(
        None, database={"url": database},
        connectors=[c.model_dump() for c in demo_connectors(sandboxes)],
        federation={"cache_ttl_seconds": cache_ttl, "request_deadline_seconds": 60},
        limits={"rate_limit_per_minute": 10_000_000, "rate_limit_burst": 1_000_000},
        metrics={"enabled": metrics})

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, world)

    async def freeze_step(sessions: Any) -> None:
        heap.freeze()  # the seeded world, as `serve` freezes what it built

    return create_app(settings, environ=demo_environ(),
                      startup=[seed_step, principal_step(token), freeze_step])


def serve_hub(argv: list[str]) -> None:
    """`bench.load hub`: `hub_app` on the hub's uvicorn configuration."""
    import asyncio

    import uvicorn

    from api.server import server_config

    parser = argparse.ArgumentParser()
    for option in ("--database", "--sandboxes", "--token"):
        parser.add_argument(option, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cache-ttl", type=int, default=3600)
    args = parser.parse_args(argv)
    app = hub_app(database=args.database, sandboxes=args.sandboxes, token=args.token,
                  cache_ttl=args.cache_ttl)
    asyncio.set_event_loop_policy(None)
    uvicorn.Server(server_config(app, app.state.settings.server, host="127.0.0.1",
                                 port=args.port, log_level="warning")).run()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "hub":
        serve_hub(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs: the whole suite in about four minutes")
    parser.add_argument("--only", choices=["startup", "throughput", "memory"],
                        help="run only this row (the others need minutes)")
    parser.add_argument("--rss-seconds", type=int,
                        help="how long the memory row's load runs (quick 60, full 600)")
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    if args.rss_seconds is not None:
        if args.rss_seconds < 10:
            parser.error("--rss-seconds must be at least 10: RSS is read after each tenth")
        mode = dataclasses.replace(mode, rss_seconds=args.rss_seconds)
    started = time.perf_counter()
    print(f"bench.load ({'quick' if args.quick else 'full'}), {os.cpu_count()} cores; "
          "ratios of two things measured side by side in this run")
    print("| measure | this run | goal |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        if args.only in (None, "startup"):
            startup(mode, tmp)
        if args.only == "startup":
            print(f"\n{DETAILS[-1]}")
            return
        with upstreams_process(free_port(), scale=1) as sandboxes:
            if args.only in (None, "throughput"):
                throughput(mode, sandboxes, tmp)
            if args.only in (None, "memory"):
                memory(mode, sandboxes, tmp)
        if args.only is not None:
            for detail in DETAILS:
                print(f"\n{detail}")
            return
        federation(mode, tmp)
    releases_scale(mode)
    list_paths(mode)
    for detail in DETAILS:
        print(f"\n{detail}")
    print(f"whole run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
