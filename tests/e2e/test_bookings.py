"""Environment bookings from the dashboard in headless Chromium against the running demo:
a release manager requests staging for a release and approves it; a team's request
over the same hours is flagged before approving and is approved only with an override
and its reason; another is rejected with a reason; a booking is cancelled; a viewer
sees why the decisions are not theirs."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import Demo, screenshot
from tests.e2e.test_planning import serious_violations, sign_in_as, wait_loaded

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # without it, conftest skips the browser tests
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

OPEN_RELEASE = """{ releases(filter: {status: [PLANNED]}, first: 1) { nodes { key } } }"""


@pytest.fixture
def axe_context(browser: Browser, demo: Demo) -> Iterator[BrowserContext]:
    """Past the page's script policy, so the test can inject axe-core."""
    ctx = browser.new_context(base_url=demo.base_url, viewport={"width": 1280, "height": 860},
                              bypass_csp=True, timezone_id="UTC")
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


def request(form: Locator, start: datetime, hours: int, purpose: str,
            environment: str | None = None, team: str | None = None) -> None:
    if environment:
        form.get_by_label("Environment").select_option(label=environment)
    form.get_by_label(re.compile("^From")).fill(f"{start:%Y-%m-%dT%H:%M}")
    form.get_by_label("Until").fill(f"{start + timedelta(hours=hours):%Y-%m-%dT%H:%M}")
    form.get_by_label("Purpose").fill(purpose)
    if team:
        form.get_by_label("Team").fill(team)
    form.get_by_role("button", name="Request booking").click()


def booking(page: Page, scope: Locator, purpose: str) -> Locator:
    return scope.locator("li.booking", has_text=purpose)


def test_bookings_are_requested_decided_with_clashes_flagged_and_cancelled(
        axe_context: BrowserContext, demo: Demo) -> None:
    page = axe_context.new_page()
    sign_in_as(page, demo, "RELEASE_MANAGER", "/releases")
    found = page.request.post("/graphql", headers={"origin": demo.base_url},
                              data={"query": OPEN_RELEASE}).json()
    key = found["data"]["releases"]["nodes"][0]["key"]
    # Hours far ahead, that no seeded booking holds.
    start = (datetime.now(UTC) + timedelta(days=300)).replace(hour=8, minute=0, second=0,
                                                              microsecond=0)

    page.goto(f"/releases/{key}")
    wait_loaded(page)
    section = page.get_by_role("region", name="Environment bookings")
    request(section.get_by_role("form", name="Request a booking"), start, 8,
            f"Load test of {key}", environment="Staging")
    mine = booking(page, section, f"Load test of {key}")
    expect(mine).to_have_attribute("data-status", "REQUESTED")
    mine.get_by_role("button", name="Approve", exact=True).click()
    expect(mine).to_have_attribute("data-status", "APPROVED")
    expect(mine).to_contain_text("Approved")
    screenshot(page, "release-bookings")
    bad = serious_violations(page)
    assert not bad, "\n".join(bad)

    page.goto("/environments")
    wait_loaded(page)
    staging = page.locator("section[data-environment=Staging]")
    form = staging.get_by_role("form", name="Request a booking")
    request(form, start + timedelta(hours=2), 4, "Payments soak", team="Payments")
    clash = booking(page, staging, "Payments soak")
    expect(clash).to_have_attribute("data-status", "REQUESTED")
    expect(clash.get_by_role("note")).to_contain_text(key)
    expect(clash.get_by_role("note")).to_contain_text("needs an override")
    approve = clash.get_by_role("button", name="Approve with override")
    expect(approve).to_be_disabled()
    expect(approve).to_have_attribute("title", re.compile("override reason"))
    clash.get_by_label("Override reason").fill("The soak only reads; the load test tolerates it")
    expect(approve).to_be_enabled()
    approve.click()
    expect(clash).to_have_attribute("data-status", "APPROVED")
    expect(clash).to_contain_text("over a clash: The soak only reads")

    request(form, start + timedelta(days=1), 2, "Search reindex", team="Search")
    other = booking(page, staging, "Search reindex")
    reject = other.get_by_role("button", name="Reject")
    expect(reject).to_be_disabled()  # a rejection says why
    other.get_by_label("Reason").fill("Staging is frozen for the payments release")
    reject.click()
    expect(other).to_have_attribute("data-status", "REJECTED")
    expect(other).to_contain_text("Staging is frozen for the payments release")

    clash.get_by_role("button", name="Cancel booking").click()
    expect(clash).to_have_attribute("data-status", "CANCELLED")
    screenshot(page, "environment-bookings")
    bad = serious_violations(page)
    assert not bad, "\n".join(bad)

    viewer = axe_context.new_page()
    axe_context.clear_cookies()
    sign_in_as(viewer, demo, "VIEWER", "/environments")
    wait_loaded(viewer)
    staging = viewer.locator("section[data-environment=Staging]")
    request(staging.get_by_role("form", name="Request a booking"), start + timedelta(days=2),
            2, "Viewer demo", team="Docs")
    asked = booking(viewer, staging, "Viewer demo")
    expect(asked).to_have_attribute("data-status", "REQUESTED")
    expect(asked.get_by_role("button", name="Approve", exact=True)).to_be_disabled()
    expect(asked.get_by_role("button", name="Approve", exact=True)).to_have_attribute(
        "title", re.compile("release managers"))
    expect(asked.get_by_role("button", name="Cancel booking")).to_be_enabled()  # their own
    expect(booking(viewer, staging, f"Load test of {key}").get_by_role(
        "button", name="Cancel booking")).to_be_disabled()
