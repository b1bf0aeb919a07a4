"""The four sandboxes in a process of their own, as remote upstreams would be.

`python -m bench.upstreams --port P [--scale N]`; used by the benchmarks so
the sandboxes' work does not share an interpreter (and its GIL) with the hub.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.applications import Starlette

from api.demo import build_sandboxes
from connectors.sandbox.world import build_world


@contextmanager
def upstreams_process(port: int, scale: int) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "bench.upstreams", "--port", str(port),
                                "--scale", str(scale)])
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/sandbox/jira/_sandbox/requests", timeout=1).raise_for_status()
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
    args = parser.parse_args()
    world = build_world(seed=7, scale=args.scale)
    app = Starlette(routes=build_sandboxes(world).mounts())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
