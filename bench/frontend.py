"""Dashboard benchmark: the initial JavaScript's gzip size and time to a rendered calendar.

Prints
- the gzip size (level 9) of every script index.html loads up front (the entry
  and its modulepreloads; lazily loaded pages are not counted), goal < 300 KB;
- the time from navigation start to the first release bar on the November
  calendar of the demo data, in headless Debian Chromium, each run in a fresh
  browser context (no HTTP cache, a signed-in cookie), median and worst.

Run after `make frontend`: `.venv/bin/python -m bench.frontend [--repeat 7]`.
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, DIST, Demo, _free_port, sign_in

GOAL_KB = 300
CALENDAR = "/calendar?zoom=month&at=2026-11-16"


def initial_scripts(dist: Path) -> list[Path]:
    """The scripts index.html makes the browser fetch before the first paint."""
    html = (dist / "index.html").read_text()
    srcs = re.findall(r'<script[^>]+src="([^"]+)"', html)
    preloads = re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"', html)
    return [dist / src.lstrip("/") for src in [*srcs, *preloads]]


def gzip_kb(paths: list[Path]) -> float:
    return sum(len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in paths) / 1024


def calendar_times(base_url: str, demo: Demo, repeat: int) -> list[float]:
    times: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        first = browser.new_context(base_url=base_url)
        sign_in(first.new_page(), demo)
        cookies = first.cookies()
        first.close()
        for _ in range(repeat + 1):  # the first run warms the server's upstream cache
            context = browser.new_context(base_url=base_url,
                                          viewport={"width": 1280, "height": 860})
            context.add_cookies(cookies)  # type: ignore[arg-type]
            page = context.new_page()
            page.goto(CALENDAR)
            page.wait_for_selector("a[data-kind=release]", timeout=60_000)
            times.append(float(page.evaluate("performance.now()")))
            context.close()
        browser.close()
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if not (DIST / "index.html").is_file():
        sys.exit("frontend/dist is not built: run `make frontend` first")

    scripts = initial_scripts(DIST)
    size = gzip_kb(scripts)
    print(f"initial JavaScript: {len(scripts)} files, {size:.1f} KB gzip "
          f"(goal < {GOAL_KB} KB: {'met' if size < GOAL_KB else 'MISSED'})")

    with tempfile.TemporaryDirectory() as folder:
        port = _free_port()
        log = Path(folder) / "demo.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "demo", "--port", str(port),
                 "--database", f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}"],
                stdout=out, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the demo did not start:\n{log.read_text()}")
                time.sleep(0.2)
            times = calendar_times(base_url, Demo(base_url, log), args.repeat)
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(f"time to a rendered calendar (Chromium, {len(times)} cold page loads): "
          f"median {statistics.median(times):.0f} ms, worst {max(times):.0f} ms")


if __name__ == "__main__":
    main()
