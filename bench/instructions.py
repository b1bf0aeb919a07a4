"""The warm row of `bench.load` counted in instructions: what serving one kept answer costs.

`bench.load`'s throughput row divides two request rates under `wrk`; on a shared
two-core machine its pairs swing by a tenth, more than the distance to the goal.
Here each server is its uvicorn protocol (`api.server.server_config`'s) fed the same
request bytes through an in-memory transport, in a process under valgrind's callgrind
with counting switched on for the measured requests only: no sockets, no `wrk`, and
the same count run after run. The variants say what the hub's extras cost:

- `plain`: the throughput row's baseline (`bench.plain.plain_app`), the hub's answer;
- `hub`: the dashboard query (N=10) answered from the response cache;
- `hub-no-metrics`: the same with `[metrics] enabled = false`;
- `hub-no-api-headers`: the same with JSON answers sent without their security headers
  (`api.security.API_SECURITY_HEADERS`), a what-if: the hub always sends them.

The request (headers and body) is byte for byte the same for every variant, the
hub's token included. Needs valgrind (Debian: `apt-get install valgrind`).

Run: `.venv/bin/python -m bench.instructions [--requests 2000]` (about four minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from api.security import API_SECURITY_HEADERS
from bench.federation import DASHBOARD

VARIANTS = ("hub", "hub-no-metrics", "hub-no-api-headers", "plain")
VALGRIND = shutil.which("valgrind")
CALLGRIND_CONTROL = shutil.which("callgrind_control")
_READY = "ready"


# ---------------------------------------------------------------- the measured process


class _Transport(asyncio.Transport):
    """A connection that keeps the head the server writes and counts the body's bytes
    (keeping them too until told not to); `answered` is set once `Content-Length` of
    them are in. uvicorn writes a head, then the body, so this is a few comparisons a
    write: counted with the server, it must cost next to nothing."""

    def __init__(self) -> None:
        super().__init__()
        #: The last answer's body, until set to None (it is not kept while counting).
        self.body: bytearray | None = bytearray()
        self.head = b""
        self.answered: asyncio.Future[None] | None = None
        self._left = -1

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000),
                "peername": ("127.0.0.1", 50000)}.get(name, default)

    def expect(self) -> asyncio.Future[None]:
        self.head = b""
        self._left = -1
        if self.body is not None:
            self.body.clear()
        self.answered = asyncio.get_running_loop().create_future()
        return self.answered

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._left < 0:
            self.head = bytes(data)
            at = self.head.find(b"content-length: ")
            if at < 0 or not self.head.endswith(b"\r\n\r\n"):
                raise RuntimeError(f"not a head with a Content-Length: {self.head[:300]!r}")
            self._left = int(self.head[at + 16:self.head.index(b"\r", at)])
            return
        self._left -= len(data)
        if self.body is not None:
            self.body += data
        if self._left == 0 and self.answered is not None and not self.answered.done():
            self.answered.set_result(None)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        raise RuntimeError(f"the server closed the connection after {self.head[:300]!r}")

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def request_bytes(token: str) -> bytes:
    body = json.dumps({"query": DASHBOARD, "variables": {"n": 10}}).encode()
    head = [b"POST /graphql HTTP/1.1", b"Host: 127.0.0.1:8000",
            b"Content-Type: application/json", b"Accept-Encoding: identity",
            b"Authorization: Bearer " + token.encode(), b"Content-Length: %d" % len(body)]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _app(variant: str, sandboxes: str, token: str, answer: Path, tmp: Path) -> Any:
    if variant == "plain":
        from bench.plain import plain_app
        return plain_app(answer.read_bytes())
    from bench.load import hub_app
    if variant == "hub-no-api-headers":
        import api.envelope
        vars(api.envelope)["API_SECURITY_HEADERS"] = ()  # what the envelope adds to JSON
    return hub_app(database=f"sqlite+aiosqlite:///{tmp / 'hub.db'}", sandboxes=sandboxes,
                   token=token, metrics=variant != "hub-no-metrics")


async def _serve(variant: str, sandboxes: str, token: str, answer: Path, requests: int
                 ) -> None:
    """Answer the request until its answer comes from the response cache, say ready,
    wait for the word on stdin (the parent switches counting on meanwhile), answer it
    `requests` times more, and leave at once: nothing after the last answer is counted."""
    import uvicorn

    from api.server import BoundedH11Protocol, server_config
    from api.settings import ServerSettings

    with tempfile.TemporaryDirectory() as directory:
        app = _app(variant, sandboxes, token, answer, Path(directory))
        settings = getattr(app.state, "settings", None)
        config = server_config(app, settings.server if settings else ServerSettings(),
                               host="127.0.0.1", port=0, log_level="warning")
        config.load()
        lifespan = config.lifespan_class(config)
        await lifespan.startup()
        loop = asyncio.get_running_loop()
        protocol = BoundedH11Protocol(config=config, server_state=uvicorn.server.ServerState(),
                                      app_state={}, _loop=loop)
        transport = _Transport()
        protocol.connection_made(transport)
        request = request_bytes(token)

        async def one() -> None:
            answered = transport.expect()
            protocol.data_received(request)
            await answered

        for _ in range(200):  # the first executes and is kept; the others come from it
            await one()
        if not transport.head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"{variant}: {transport.head!r}")
        if variant == "hub":
            await asyncio.to_thread(answer.write_bytes, bytes(transport.body or b""))
        transport.body = None
        print(_READY, os.getpid(), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        for _ in range(requests):
            await one()
        sys.stdout.flush()
        os._exit(0)


# ---------------------------------------------------------------- the parent


def count(variant: str, sandboxes: str, token: str, answer: Path, requests: int,
          tmp: Path) -> int:
    """Instructions per request of `variant`, counted by callgrind."""
    assert VALGRIND is not None and CALLGRIND_CONTROL is not None
    out = tmp / f"callgrind.{variant}"
    log = tmp / f"{variant}.log"  # a file, not a pipe nobody reads until the end
    with log.open("w") as errors:
        child = subprocess.Popen(
            [VALGRIND, "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, "-m", "bench.instructions",
             "serve", variant, "--sandboxes", sandboxes, "--token", token, "--answer",
             str(answer), "--requests", str(requests)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"})
        assert child.stdin is not None and child.stdout is not None
        line = child.stdout.readline().split()
        if not line or line[0] != _READY:
            child.kill()
            child.wait()
            raise SystemExit(f"{variant} did not start: {log.read_text()[-2000:]}")
        subprocess.run([CALLGRIND_CONTROL, "--instr=on", line[1]], check=True,
                       capture_output=True)
        child.stdin.write("go\n")
        child.stdin.flush()
        child.communicate(timeout=1800)
    totals = [int(m.group(1)) for m in re.finditer(r"(?m)^(?:summary|totals): (\d+)",
                                                   "".join(p.read_text() for p in
                                                           tmp.glob(f"callgrind.{variant}*")))]
    if child.returncode or not totals:
        raise SystemExit(f"{variant} failed ({child.returncode}): {log.read_text()[-2000:]}")
    return max(totals) // requests


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        parser = argparse.ArgumentParser()
        parser.add_argument("variant", choices=VARIANTS)
        for option in ("--sandboxes", "--token", "--answer"):
            parser.add_argument(option, required=True)
        parser.add_argument("--requests", type=int, required=True)
        args = parser.parse_args(sys.argv[2:])
        asyncio.run(_serve(args.variant, args.sandboxes, args.token, Path(args.answer),
                           args.requests))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    if VALGRIND is None or CALLGRIND_CONTROL is None:
        raise SystemExit("not measured: valgrind is missing (Debian: apt-get install valgrind)")

    from bench.upstreams import upstreams_process
    from tests.support.graphql import new_secret
    from tests.support.hub_process import free_port

    token = new_secret()
    with tempfile.TemporaryDirectory() as directory, \
            upstreams_process(free_port(), scale=1) as sandboxes:
        tmp = Path(directory)
        answer = tmp / "answer.json"
        counts = {variant: count(variant, sandboxes, token, answer, args.requests, tmp)
                  for variant in VARIANTS}
        size = answer.stat().st_size
    plain = counts["plain"]
    print(f"bench.instructions: instructions per request (callgrind), {args.requests:,} "
          f"requests each; the same request bytes in, the kept dashboard ({size:,} bytes) out")
    for variant in VARIANTS:
        print(f"  {variant:<20}{counts[variant]:>12,}   plain ÷ this {plain / counts[variant]:.3f}")
    hub = counts["hub"]
    print(f"what the hub's extras cost a request: metrics {hub - counts['hub-no-metrics']:,}, "
          f"the {len(API_SECURITY_HEADERS)} security headers of a JSON answer "
          f"{hub - counts['hub-no-api-headers']:,} instructions")


if __name__ == "__main__":
    main()
