"""The calendar lists the server's conflicts (one engine over every system) in headless
Chromium: each entry says what clashes in words and links to the records involved,
and the bars involved carry the same reasons."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import Demo, screenshot, sign_in
from tests.e2e.test_planning import serious_violations, wait_loaded

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # without it, conftest skips the browser tests
    from playwright.sync_api import Browser, BrowserContext, expect

CONFLICTS = """query($from: DateTime!, $to: DateTime!) { conflicts(from: $from, to: $to) {
  kind reason records { type label } } }"""


@pytest.fixture
def axe_context(browser: Browser, demo: Demo) -> Iterator[BrowserContext]:
    """Past the page's script policy, so the test can inject axe-core."""
    ctx = browser.new_context(base_url=demo.base_url, viewport={"width": 1280, "height": 860},
                              bypass_csp=True)
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


def test_the_calendar_lists_the_servers_conflicts_each_linking_to_what_is_involved(
        axe_context: BrowserContext, demo: Demo) -> None:
    page = axe_context.new_page()
    sign_in(page, demo)
    # This month: the demo's world is dated from today.
    month = datetime.now(UTC).date().replace(day=1)
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    response = page.request.post("/graphql", headers={"origin": demo.base_url}, data={
        "query": CONFLICTS, "variables": {"from": start.isoformat(), "to": end.isoformat()}})
    expected = response.json()["data"]["conflicts"]
    quarter = page.request.post("/graphql", headers={"origin": demo.base_url}, data={
        "query": CONFLICTS, "variables": {"from": start.isoformat(),
                                          "to": (start + timedelta(days=92)).isoformat()}})
    about_changes = [c["reason"] for c in quarter.json()["data"]["conflicts"]
                     if any(r["type"] == "ChangeRequest" for r in c["records"])]
    assert about_changes, f"no conflict involves a change request from {month:%B %Y} on"
    for reason in about_changes:  # the ITSM by the name people know, not its config name
        assert re.search(r" in (ServiceNow|JIRA)\b", reason), reason
    # A conflict with a release in it, a blackout's first (the demo has a holiday freeze).
    with_release = sorted((c for c in expected if any(r["type"] == "Release"
                                                      for r in c["records"])),
                          key=lambda c: c["kind"] != "RELEASE_IN_BLACKOUT")
    assert with_release, f"no conflict involves a release in {month:%B %Y}: {expected}"

    page.goto(f"/calendar?zoom=month&at={start:%Y-%m-%d}")
    wait_loaded(page)
    listed = page.get_by_role("region", name=re.compile(r"^Conflicts"))
    expect(listed.get_by_role("heading")).to_have_text(f"Conflicts ({len(expected)})")
    expect(listed.locator("li")).to_have_count(len(expected))
    expect(listed).not_to_contain_text("RELEASE_IN_BLACKOUT")

    conflict = with_release[0]
    release = next(r["label"] for r in conflict["records"] if r["type"] == "Release")
    entry = listed.locator(f"li[data-conflict={conflict['kind']}]",
                           has_text=conflict["reason"]).first
    expect(entry).to_be_visible()
    expect(entry).not_to_contain_text(conflict["kind"])  # said in words
    bar = page.locator("a[data-kind=release].tl-conflict", has_text=release).first
    expect(bar).to_have_attribute("title", re.compile(re.escape(conflict["reason"])))
    expect(page.get_by_test_id("conflict-count")).to_contain_text("conflict")
    screenshot(page, "calendar-conflicts")
    bad = serious_violations(page)
    assert not bad, "\n".join(bad)

    entry.get_by_role("link", name=release, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/releases/{re.escape(release)}$"))
    expect(page.get_by_role("heading", name=re.compile(re.escape(release)))).to_be_visible()
