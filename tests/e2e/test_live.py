"""Live updates in headless Chromium: a decision made upstream shows on an open page
without a reload. The CAB's approval goes through the ServiceNow sandbox's Table API,
whose business rule pushes it to the hub; the hub tells the page over its
graphql-transport-ws subscription and the page reads the release again."""

from __future__ import annotations

import contextlib
import re
import time

import httpx
import pytest

from api.demo import CREDENTIALS
from tests.e2e.conftest import Demo, screenshot, sign_in
from tests.e2e.test_planning import serious_violations, wait_loaded

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # without it, conftest skips the browser tests
    from playwright.sync_api import Browser, BrowserContext, Page, expect

# The change board's own test reads this one as still waiting: leave it waiting.
BOARD_CHANGE = "CHG0030004"
AWAITING = """{ changeRequests(filter: {state: AUTHORIZE, source: "servicenow"}, first: 100) {
  nodes { number releases { key } } } }"""


def awaiting_change(page: Page, demo: Demo) -> tuple[str, str]:
    """A ServiceNow change of a release that waits for the CAB, found in the demo as it
    runs (the world is dated from today): (change number, release key)."""
    response = page.request.post("/graphql", data={"query": AWAITING},
                                 headers={"origin": demo.base_url})
    nodes = response.json()["data"]["changeRequests"]["nodes"]
    found = [(n["number"], n["releases"][0]["key"]) for n in nodes
             if n["releases"] and n["number"] != BOARD_CHANGE]
    assert found, f"the demo has no ServiceNow change awaiting the CAB besides {BOARD_CHANGE}"
    return found[-1]


def servicenow(demo: Demo, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, f"{demo.base_url}/sandbox/servicenow/api/now/table{path}",
                         auth=(CREDENTIALS.username, CREDENTIALS.password),
                         timeout=10, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def axe_context(browser: Browser, demo: Demo) -> BrowserContext:
    """Past the page's script policy, so the test can inject axe-core."""
    ctx = browser.new_context(base_url=demo.base_url, viewport={"width": 1280, "height": 860},
                              bypass_csp=True)
    ctx.set_default_timeout(20_000)
    return ctx


def test_a_cab_approval_in_servicenow_shows_on_an_open_release_page_without_a_reload(
        axe_context: BrowserContext, demo: Demo) -> None:
    page = axe_context.new_page()
    sign_in(page, demo)
    number, key = awaiting_change(page, demo)
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url)
            if frame == page.main_frame else None)
    heard: list[str] = []  # what the server sent down the page's socket
    page.on("websocket", lambda socket: socket.on(
        "framereceived", lambda payload: heard.append(str(payload))))
    page.goto(f"/releases/{key}")
    wait_loaded(page)
    approval = page.locator("p", has_text="Change approved:")
    expect(approval).to_contain_text("Change approved: not yet")
    row = page.locator(f"tr[data-change='{number}']")
    expect(row).to_contain_text("Awaiting approval")
    deadline = time.monotonic() + 10
    while not any("connection_ack" in frame for frame in heard):
        assert time.monotonic() < deadline, "the page opened no live socket"
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)  # the subscription follows the acknowledgement
    loads.clear()

    [upstream] = servicenow(demo, "GET", "/change_request", params={
        "sysparm_query": f"number={number}", "sysparm_fields": "sys_id,state"}).json()["result"]
    assert upstream["state"] == "-3", f"{number} should wait for the CAB, not {upstream}"
    started = time.monotonic()
    approved = servicenow(demo, "PATCH", f"/change_request/{upstream['sys_id']}",
                          json={"state": "-2"})  # the CAB approved: Scheduled
    assert approved.status_code == 200, approved.text

    expect(approval).to_contain_text("Change approved: yes", timeout=5_000)
    elapsed = time.monotonic() - started
    expect(row).to_contain_text(re.compile("Scheduled"))
    expect(row).not_to_contain_text("Awaiting approval")
    assert loads == [], f"the page reloaded: {loads}"
    assert any("releaseChanged" in frame for frame in heard), heard
    print(f"approval to page: {elapsed:.2f} s")
    screenshot(page, "live-approval")
    bad = serious_violations(page)
    assert not bad, "\n".join(bad)
    axe_context.close()
