"""Planning from the dashboard in headless Chromium against the running demo: a release
manager creates a release, links its work through pickers that search JIRA and GitHub,
edits environments and blackout windows, sees drift; a viewer sees why controls are off;
and no page has a serious or critical accessibility violation (axe-core)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Demo, screenshot, sign_in
from tests.support.paths import REPO

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # without it, conftest skips the browser tests
    from playwright.sync_api import Browser, BrowserContext, Page, expect

AXE = REPO / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = {
    "calendar": ("/calendar?zoom=month&at=2026-11-16", "Release calendar"),
    "calendar-week": ("/calendar?zoom=week&at=2026-11-16", "Release calendar"),
    "releases": ("/releases", "Releases"),
    "release": ("/releases/CHK-2026.11", "CHK-2026.11"),
    "changes": ("/changes", "Change requests"),
    "cab": ("/cab", "Change board"),
    "environments": ("/environments", "Environments"),
    "sources": ("/sources", "Sources"),
}


def wait_loaded(page: Page) -> None:
    expect(page.locator("[aria-busy=true]")).to_have_count(0, timeout=30_000)


def sign_in_as(page: Page, demo: Demo, role: str, next_path: str) -> None:
    user, password = demo.credentials(role)
    page.goto(f"/login?next={next_path}")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == next_path.split("?")[0])


def shoot(page: Page, name: str) -> None:
    for width in (1280, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"{name}-{width}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than {width}px"
    page.set_viewport_size({"width": 1280, "height": 860})


def test_a_deep_link_opened_while_signed_out_returns_there_after_sign_in(
        page: Page, demo: Demo) -> None:
    page.goto("/releases/CHK-2026.11?tab=history")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    user, password = demo.credentials()
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/releases/CHK-2026\.11\?tab=history$"))
    expect(page.get_by_role("heading", name=re.compile("CHK-2026.11"))).to_be_visible()


def test_a_release_manager_creates_a_release_and_links_work_through_the_pickers(
        page: Page, demo: Demo) -> None:
    sign_in_as(page, demo, "RELEASE_MANAGER", "/releases")
    expect(page.get_by_test_id("signed-in-role")).to_have_text("Release manager")
    page.get_by_role("button", name="New release").click()
    form = page.get_by_role("form", name="New release")
    form.get_by_label("Key").fill("PAY-E2E.1")
    form.get_by_label("Name", exact=True).fill("Payments planned in the browser")
    form.get_by_label("Type").select_option(label="Project")
    parent = form.get_by_label("Part of")
    parent.select_option(parent.locator("option", has_text="PAY-2026.11").first
                         .get_attribute("value"))
    form.get_by_label(re.compile("Window start")).fill("2027-01-12T06:00")
    form.get_by_label(re.compile("Window end")).fill("2027-01-12T10:00")
    form.get_by_role("checkbox", name="Payments").check()
    form.get_by_role("button", name="Create release").click()
    expect(page).to_have_url(re.compile(r"/releases/PAY-E2E\.1$"))
    expect(page.get_by_role("heading", name=re.compile("PAY-E2E.1"))).to_be_visible()
    links = page.locator("section", has=page.get_by_role("heading", name="Linked upstream"))
    expect(links.get_by_text("No work linked.")).to_be_visible()
    expect(page.get_by_text("100%")).to_have_count(0)
    family = page.locator("section", has=page.get_by_role("heading", name="Parent and children"))
    expect(family.get_by_role("link", name=re.compile("PAY-2026.11"))).to_be_visible()

    # A JIRA version of the application's project, picked by name: no id typed.
    page.get_by_label("Link to").select_option(label="Version in JIRA")
    expect(page.get_by_label("Project")).to_have_value("PAY")
    found = page.get_by_role("list", name="Found upstream")
    # JIRA's versions are numbered: wait for them, not for what the picker showed before.
    expect(found.locator("li").first).to_have_attribute("data-candidate", re.compile(r"^\d+$"))
    version = found.locator("li").first.get_attribute("data-candidate")
    version_name = found.locator("li strong").first.inner_text()
    found.locator("li").first.get_by_role("button", name=re.compile("^Link ")).click()
    expect(page.get_by_role("status").filter(has_text="Linked")).to_be_visible()
    # The link reads as the version's name, its id only beside it.
    expect(links.locator(f"tr[data-link='{version}']")).to_contain_text(
        f"Planned version {version_name}")

    # A GitHub milestone of the application's repository, narrowed by a search.
    page.get_by_label("Link to").select_option(label="Milestone in GitHub")
    expect(page.get_by_label("Repository")).not_to_have_value("")
    expect(found.locator("li").first).to_be_visible()
    name = found.locator("li strong").first.inner_text()
    page.get_by_label("Search").fill(name)
    expect(found.locator("li")).to_have_count(1)
    milestone = found.locator("li").first.get_attribute("data-candidate")
    assert milestone is not None and re.fullmatch(r"[\w.-]+/[\w.-]+#\d+", milestone)
    found.get_by_role("button", name=f"Link {name}").click()
    expect(links.locator(f"tr[data-link='{milestone}']")).to_contain_text("Milestone")
    expect(found.get_by_role("button", name=f"{name} is linked")).to_be_disabled()

    # A code range cannot be listed: it is written, and checked before it is sent.
    page.get_by_label("Link to").select_option(label="Code range in GitHub")
    page.get_by_label(re.compile("^Range")).fill("not a range")
    expect(page.get_by_role("button", name="Link this range")).to_be_disabled()

    # Its work now shows, and the history says what was linked in words.
    page.reload()
    wait_loaded(page)
    expect(page.locator("section", has=page.get_by_role("heading", name=re.compile(
        "^Work items"))).locator("tbody tr").first).to_be_visible()
    history = page.locator("section", has=page.get_by_role("heading", name="History"))
    expect(history).to_contain_text("Linked milestone")
    expect(history).not_to_contain_text("link.create")

    page.get_by_label("Phase name").fill("System test")
    page.get_by_role("button", name="Add phase").click()
    expect(page.locator("[data-phase='System test']")).to_be_visible()

    page.get_by_role("button", name="Edit release").click()
    edit = page.get_by_role("form", name="Edit PAY-E2E.1")
    edit.get_by_label("Name", exact=True).fill("Payments, planned and renamed")
    edit.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name=re.compile("Payments, planned and renamed"))
           ).to_be_visible()
    expect(history).to_contain_text("name from Payments planned in the browser to "
                                    "Payments, planned and renamed")
    shoot(page, "planning-release")


def test_environments_and_blackouts_are_edited_and_drift_is_shown(page: Page,
                                                                   demo: Demo) -> None:
    sign_in_as(page, demo, "RELEASE_MANAGER", "/environments")
    wait_loaded(page)
    drift = page.locator("table.drift")
    expect(drift.locator("thead th")).to_contain_text(["Application", "Development", "Staging",
                                                       "Production", "Drift"])
    expect(drift.locator("tbody tr").first).to_be_visible()
    expect(drift.locator("tbody tr").first).to_contain_text(
        re.compile("Tiers differ|Same everywhere"))

    page.get_by_role("button", name="New blackout window").click()
    form = page.get_by_role("form", name="New blackout window")
    form.get_by_label("Name", exact=True).fill("Quarter close")
    form.get_by_label(re.compile("^Starts")).fill("2027-03-29T00:00")
    form.get_by_label(re.compile("^Ends")).fill("2027-04-02T00:00")
    form.get_by_label("Reason").fill("Finance closes the books")
    form.get_by_label("Staging").check()
    form.get_by_label("Payments").check()
    form.get_by_role("button", name="Create blackout window").click()
    row = page.locator("tr[data-blackout='Quarter close']")
    expect(row).to_contain_text("Production, Staging")
    expect(row).to_contain_text("Payments")

    row.get_by_role("button", name="Edit Quarter close").click()
    edit = page.get_by_role("form", name="Edit Quarter close")
    edit.get_by_label("Production").uncheck()
    edit.get_by_role("button", name="Save blackout window").click()
    expect(row.locator("td").nth(2)).to_have_text("Staging")

    page.get_by_role("button", name="New environment").click()
    env_form = page.get_by_role("form", name="New environment")
    env_form.get_by_label("Name", exact=True).fill("QA lab")
    env_form.get_by_label("Tier").select_option(label="Test")
    env_form.get_by_role("button", name="Create environment").click()
    card = page.locator("[data-environment='QA lab']")
    expect(card).to_contain_text("Test")
    expect(drift.locator("thead th")).to_contain_text(["QA lab"])
    shoot(page, "planning-environments")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete Quarter close").click()
    expect(row).to_have_count(0)
    card.get_by_role("button", name="Delete QA lab").click()
    card.get_by_role("button", name="Delete QA lab for good").click()
    expect(card).to_have_count(0)


def test_a_viewer_sees_its_role_and_why_planning_controls_are_off(page: Page,
                                                                  demo: Demo) -> None:
    sign_in_as(page, demo, "VIEWER", "/releases")
    expect(page.get_by_test_id("signed-in-role")).to_have_text("Viewer")
    new = page.get_by_role("button", name="New release")
    expect(new).to_be_disabled()
    expect(new).to_have_attribute("title", re.compile("viewer"))
    expect(page.get_by_role("note").filter(has_text="Only release managers")).to_be_visible()
    page.goto("/releases/RPT-2026.11")
    wait_loaded(page)
    expect(page.get_by_role("button", name="Edit release")).to_be_disabled()
    move = page.get_by_role("button", name=re.compile("^Move to")).first
    expect(move).to_be_disabled()
    expect(move).to_have_attribute("title", re.compile("viewer"))
    page.goto("/environments")
    expect(page.get_by_role("button", name="New blackout window")).to_be_disabled()


def test_the_calendar_draws_a_short_change_window_as_a_marker_with_a_legend(
        page: Page, demo: Demo) -> None:
    sign_in_as(page, demo, "RELEASE_MANAGER", "/calendar")
    page.goto("/calendar?zoom=month&at=2026-11-16")
    wait_loaded(page)
    expect(page.get_by_label("Legend")).to_contain_text("Short window")
    change = page.locator("[data-kind=change]").first
    expect(change).to_be_visible()
    # A change window of hours in a month is a marker, not a bar days wide.
    expect(page.locator("[data-kind=change][data-marker]").first).to_be_visible()
    marker = page.locator("[data-kind=change][data-marker]").first
    box = marker.locator(".tl-diamond").bounding_box()
    assert box is not None and box["width"] < 20
    assert "UTC:" in (marker.get_attribute("title") or "")
    expect(page.locator(".tl-weekend").first).to_be_attached()
    shoot(page, "planning-calendar")


@pytest.fixture
def axe_context(browser: Browser, demo: Demo) -> Iterator[BrowserContext]:
    """A context that lets the test inject axe-core past the page's script policy."""
    ctx = browser.new_context(base_url=demo.base_url, viewport={"width": 1280, "height": 860},
                              bypass_csp=True)
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page (a test fails without axe:
    an accessibility check that quietly does nothing would pass anything)."""
    if not AXE.is_file():
        pytest.fail("axe-core is missing: run `npm ci` in frontend/")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ')),
                        count: v.nodes.length}));
    }""")
    return [json.dumps(v) for v in result]


def test_no_page_has_a_serious_or_critical_accessibility_violation(
        axe_context: BrowserContext, demo: Demo) -> None:
    page = axe_context.new_page()
    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in to Heatshield")).to_be_visible()
    found = {"login": serious_violations(page)}
    sign_in(page, demo)
    for name, (path, heading) in PAGES.items():
        page.goto(path)
        expect(page.get_by_role("heading", name=re.compile(re.escape(heading))).first
               ).to_be_visible()
        wait_loaded(page)
        found[name] = serious_violations(page)
    bad = [f"{name}: {v}" for name, violations in found.items() for v in violations]
    assert not bad, "\n".join(bad)
