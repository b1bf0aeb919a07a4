"""The demo server and headless Chromium for the dashboard's end-to-end tests.

The server is the real `heatshield demo` in a process of its own, on a free port
and a fresh SQLite file; the browser is Debian's Chromium driven by Playwright
(never a browser Playwright downloads). Screenshots go to tests/out/e2e/.

Without Chromium (or Playwright) the browser tests skip and say why, so
`make test` passes on a machine without a browser; `.ci/run` installs
Chromium and sets HEATSHIELD_REQUIRE_CHROMIUM=1, which turns the skip into a
failure there.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from connectors.sandbox.world import EPOCH
from tests.support.paths import REPO

CHROMIUM = Path(os.environ.get("HEATSHIELD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
DIST = REPO / "frontend" / "dist"
SHOTS = REPO / "tests" / "out" / "e2e"
FALLBACK_USER = ("demo@acme-retail.example", "demo-password")
REQUIRE_CHROMIUM_ENV = "HEATSHIELD_REQUIRE_CHROMIUM"

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

    # Upstream calls through retries and the first load of each page's chunk take seconds.
    expect.set_options(timeout=20_000)
except ImportError:  # the dev extra installs it; say so instead of erroring at import
    sync_playwright = None  # type: ignore[assignment]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Demo:
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def credentials(self, role: str = "RELEASE_MANAGER") -> tuple[str, str]:
        """The sign-in the demo printed for `role` (fresh passwords each start)."""
        for line in self.output().splitlines():
            match = re.fullmatch(r"\s+(\S+)\s+" + role + r"\s+(\S+)\s*", line)
            if match:
                return match.group(1), match.group(2)
        return FALLBACK_USER

    def fault(self, kind: str, rule: dict[str, object] | None) -> None:
        """Set (or with None, clear) a fault on one mounted sandbox."""
        url = f"{self.base_url}/sandbox/{kind}/_sandbox/faults"
        response = httpx.post(url, json=rule) if rule else httpx.delete(url)
        response.raise_for_status()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if not (DIST / "index.html").is_file():
        pytest.fail("frontend/dist is not built: run `make frontend` first")
    folder = tmp_path_factory.mktemp("demo")
    port = _free_port()
    log = folder / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            # Pinned to the world's own epoch: the tests name its releases and dates.
            [sys.executable, "-m", "api.cli", "demo", "--port", str(port),
             "--database", f"sqlite+aiosqlite:///{folder / 'demo.db'}",
             "--epoch", EPOCH.date().isoformat()],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo server did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield Demo(base_url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _no_browser(reason: str) -> None:
    """Skip the browser tests, or fail them where CI requires a browser."""
    if os.environ.get(REQUIRE_CHROMIUM_ENV):
        pytest.fail(f"{reason}; {REQUIRE_CHROMIUM_ENV} is set", pytrace=False)
    pytest.skip(f"browser test: {reason}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        _no_browser("the playwright package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        _no_browser(f"{CHROMIUM} is missing (apt-get install chromium, or set "
                    "HEATSHIELD_CHROMIUM to a Chromium binary)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser, demo: Demo) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=demo.base_url, viewport={"width": 1280, "height": 860})
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, demo: Demo, next_path: str = "/calendar") -> None:
    """Sign in through the login form, as a person would."""
    user, password = demo.credentials()
    page.goto(f"/login?next={next_path}")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == next_path.split("?")[0])


@pytest.fixture
def signed_in(page: Page, demo: Demo) -> Page:
    sign_in(page, demo)
    return page


def screenshot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
