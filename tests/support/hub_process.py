"""Heatshield in a process of its own, for tests that kill it and start it again.

`python -m tests.support.hub_process --database URL --sandboxes URL --port P --token T`
serves the demo world's releases (linked to the sandboxes at URL) and lets the
RELEASE_MANAGER token T in.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.demo import demo_connectors, demo_environ, seed
from api.server import server_config
from api.settings import load_settings
from connectors.sandbox.world import build_world
from tests.support.graphql import principal_step
from tests.support.paths import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def hub_process(*, database: str, sandboxes: str, port: int, token: str,
                env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Start the hub and wait until it answers; stop it (if still alive) on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.hub_process", "--database", database,
         "--sandboxes", sandboxes, "--port", str(port), "--token", token],
        cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the hub process did not start")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    for option in ("--database", "--sandboxes", "--token"):
        parser.add_argument(option, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    world = build_world()
    settings = load_settings(None, database={"url": args.database},
                             connectors=[c.model_dump() for c in demo_connectors(args.sandboxes)])

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, world)

    app = create_app(settings, environ=demo_environ(),
                     startup=[seed_step, principal_step(args.token)])
    # The CLI's server configuration, so a killed or restarted hub behaves as served.
    uvicorn.Server(server_config(app, settings.server, host="127.0.0.1", port=args.port,
                                 log_level="warning")).run()


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
