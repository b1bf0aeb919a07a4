"""The sandboxes in processes of their own, as remote upstreams would be.

`python -m bench.upstreams --port P [--scale N] [--kind K]`; used by the benchmarks
so the sandboxes' work does not share an interpreter (and its GIL) with the hub.
`upstreams_process` runs every sandbox in one process; `upstreams_processes` runs
each kind in a process of its own, for the latency rows: upstreams are separate
services, and in one process an answer that is ready waits while another sandbox
builds its own (GitHub's dashboard document is tens of milliseconds of work).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import uvicorn
from starlette.applications import Starlette

from api.demo import build_sandboxes, demo_connectors
from connectors.sandbox.world import build_world
from tests.support.hub_process import free_port


@contextmanager
def upstreams_processes(scale: int) -> Iterator[dict[str, str]]:
    """Each kind the demo connects to in a process of its own: kind -> base URL (the
    kind's sandbox is under `/sandbox/<kind>` there, as in the one process)."""
    kinds = [config.name for config in demo_connectors("http://unused")]
    with ExitStack() as stack:
        yield {kind: stack.enter_context(upstreams_process(free_port(), scale, kind=kind))
               for kind in kinds}


@contextmanager
def upstreams_process(port: int, scale: int, kind: str | None = None) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    probe = kind or "jira"
    process = subprocess.Popen([sys.executable, "-m", "bench.upstreams", "--port", str(port),
                                "--scale", str(scale), *(["--kind", kind] if kind else [])])
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/sandbox/{probe}/_sandbox/requests",
                          timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandboxes did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # requests a fault left hanging hold its shutdown
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--kind", help="serve only this kind's sandbox")
    args = parser.parse_args()
    world = build_world(seed=7, scale=args.scale)
    sandboxes = build_sandboxes(world)
    if args.kind:
        sandboxes.apps = {args.kind: sandboxes.apps[args.kind]}
    app = Starlette(routes=sandboxes.mounts())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
