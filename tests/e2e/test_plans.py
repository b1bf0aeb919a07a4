"""A release's deployment plan from the dashboard in headless Chromium: a release manager
starts it from a template, runs its activities (start, complete, fail with a note, skip
with a note), and a later release of the same application copies it; the order of the
plan and the role keep the wrong controls off, each saying why."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Demo, screenshot
from tests.e2e.test_planning import serious_violations, sign_in_as, wait_loaded

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # without it, conftest skips the browser tests
    from playwright.sync_api import Browser, BrowserContext, Locator, expect

RELEASES = """{ releases(filter: {status: [PLANNED, READY]}, first: 100) {
  nodes { key windowStart applications { key } plan { id } } } }"""


@pytest.fixture
def axe_context(browser: Browser, demo: Demo) -> Iterator[BrowserContext]:
    """Past the page's script policy, so the test can inject axe-core."""
    ctx = browser.new_context(base_url=demo.base_url, viewport={"width": 1280, "height": 860},
                              bypass_csp=True)
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


def activity(plan: Locator, title: str) -> Locator:
    return plan.locator(f"li.plan-activity[data-activity='{title}']")


def test_a_plan_starts_from_a_template_runs_live_and_is_copied_by_the_next_release(
        axe_context: BrowserContext, demo: Demo) -> None:
    page = axe_context.new_page()
    sign_in_as(page, demo, "RELEASE_MANAGER", "/releases")
    nodes = page.request.post("/graphql", headers={"origin": demo.base_url},
                              data={"query": RELEASES}).json()["data"]["releases"]["nodes"]
    unplanned = sorted((n for n in nodes if n["plan"] is None and n["windowStart"]
                        and n["applications"]), key=lambda n: n["windowStart"])
    first, later = next(
        (a, b) for a in unplanned for b in unplanned
        if b["windowStart"] > a["windowStart"]
        and {x["key"] for x in a["applications"]} == {x["key"] for x in b["applications"]})

    page.goto(f"/releases/{first['key']}")
    wait_loaded(page)
    plan = page.get_by_role("region", name="Deployment plan")
    expect(plan).to_contain_text("No plan yet.")
    plan.get_by_role("button", name="Start from the template").click()
    steps = plan.get_by_role("list", name="Activities").locator("li.plan-activity")
    expect(steps.first).to_be_visible()
    titles = steps.evaluate_all("items => items.map(i => i.dataset.activity)")
    assert len(titles) >= 3, titles
    one, two, three = (activity(plan, t) for t in titles[:3])

    # The template runs in order: the second waits for the first, and says so.
    start_two = two.get_by_role("button", name="Start")
    expect(start_two).to_be_disabled()
    expect(start_two).to_have_attribute("title", f"Waits for {titles[0]}.")
    one.get_by_role("button", name="Start").click()
    expect(one).to_have_attribute("data-status", "IN_PROGRESS")
    expect(one.get_by_role("button", name="Skip")).to_be_disabled()
    one.get_by_label(re.compile("^Note")).fill("Went as written")
    one.get_by_role("button", name="Complete").click()
    expect(one).to_have_attribute("data-status", "DONE")
    expect(one).to_contain_text("Note: Went as written")

    start_two = two.get_by_role("button", name="Start")
    expect(start_two).to_be_enabled()
    start_two.click()
    expect(two).to_have_attribute("data-status", "IN_PROGRESS")
    fail = two.get_by_role("button", name="Fail")
    expect(fail).to_be_disabled()  # a failure says why
    two.get_by_label(re.compile("^Note")).fill("Smoke test timed out")
    fail.click()
    expect(two).to_have_attribute("data-status", "FAILED")
    expect(two).to_contain_text("Smoke test timed out")
    expect(two.get_by_role("button", name="Retry")).to_be_enabled()
    two.get_by_label(re.compile("^Note")).fill("Covered by the canary instead")
    two.get_by_role("button", name="Skip").click()
    expect(two).to_have_attribute("data-status", "SKIPPED")
    expect(three).to_have_attribute("data-status", "NOT_STARTED")
    screenshot(page, "release-plan")
    bad = serious_violations(page)
    assert not bad, "\n".join(bad)

    page.goto(f"/releases/{later['key']}")
    wait_loaded(page)
    plan = page.get_by_role("region", name="Deployment plan")
    plan.get_by_role("button", name="Copy the previous release's plan").click()
    copied = plan.get_by_role("list", name="Activities").locator("li.plan-activity")
    expect(copied).to_have_count(len(titles))
    assert copied.evaluate_all("items => items.map(i => i.dataset.activity)") == titles
    expect(copied.first).to_have_attribute("data-status", "NOT_STARTED")


def test_a_viewer_sees_why_the_plan_is_not_theirs_to_run(axe_context: BrowserContext,
                                                          demo: Demo) -> None:
    page = axe_context.new_page()
    sign_in_as(page, demo, "VIEWER", "/releases")
    nodes = page.request.post("/graphql", headers={"origin": demo.base_url},
                              data={"query": RELEASES}).json()["data"]["releases"]["nodes"]
    unplanned = next(n for n in nodes if n["plan"] is None)
    page.goto(f"/releases/{unplanned['key']}")
    wait_loaded(page)
    plan = page.get_by_role("region", name="Deployment plan")
    start = plan.get_by_role("button", name="Start from the template")
    expect(start).to_be_disabled()
    expect(start).to_have_attribute("title", re.compile("release managers"))
