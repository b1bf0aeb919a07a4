"""The whole planning path in headless Chromium, with no GraphiQL: a release manager
creates a release, links a JIRA version and a GitHub milestone through the pickers,
books staging (a team's clashing request is flagged), starts a deployment plan from a
template, reads the conflicts, raises the change request, which the change board
approves in the ServiceNow sandbox through its own Table API, runs the plan and moves
the release to Deployed. Every dashboard page is then photographed at 1280 and 1920
pixels wide (into $HEATSHIELD_SCREENSHOTS, or a pytest temporary folder) and none may
be wider than the window."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.demo import CREDENTIALS
from tests.e2e.conftest import Demo
from tests.e2e.test_planning import serious_violations, sign_in_as, wait_loaded

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # without it, conftest skips the browser tests
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

KEY = "CHK-PATH.1"
# A Tuesday morning in February: after the holiday freeze, apart from the seeded releases.
WINDOW = ("2027-02-09T06:00", "2027-02-09T10:00")
STAGING = ("2027-02-02T08:00", "2027-02-02T16:00")
SN_CHANGES = "/sandbox/servicenow/api/now/table/change_request"
WIDTHS = (1280, 1920)


@pytest.fixture
def utc_context(browser: Browser, demo: Demo) -> Iterator[BrowserContext]:
    """Times typed and read in UTC; past the page's script policy for axe-core."""
    ctx = browser.new_context(base_url=demo.base_url, viewport={"width": 1280, "height": 860},
                              bypass_csp=True, timezone_id="UTC")
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HEATSHIELD_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def section(page: Page, heading: str | re.Pattern[str]) -> Locator:
    return page.locator("section", has=page.get_by_role("heading", name=heading, exact=True)
                        if isinstance(heading, str) else page.get_by_role("heading", name=heading))


def request_booking(form: Locator, window: tuple[str, str], purpose: str, *,
                    environment: str | None = None, team: str | None = None) -> None:
    if environment:
        form.get_by_label("Environment").select_option(label=environment)
    form.get_by_label(re.compile("^From")).fill(window[0])
    form.get_by_label("Until").fill(window[1])
    form.get_by_label("Purpose").fill(purpose)
    if team:
        form.get_by_label("Team").fill(team)
    form.get_by_role("button", name="Request booking").click()


def pick(page: Page, kind: str, search: str, key_shape: str) -> str:
    """Link the one upstream record the picker finds for `search`; its key."""
    page.get_by_label("Link to").select_option(label=kind)
    found = page.get_by_role("list", name="Found upstream")
    page.get_by_role("searchbox", name="Search").fill(search)
    # Wait for this kind's answer, not the list the picker showed before.
    expect(found.locator("li")).to_have_count(1)
    expect(found.locator("li")).to_have_attribute("data-candidate", re.compile(key_shape))
    expect(found.locator("li strong")).to_have_text(search)
    key = found.locator("li").get_attribute("data-candidate")
    assert key
    found.get_by_role("button", name=f"Link {search}").click()
    expect(found.get_by_role("button", name=f"{search} is linked")).to_be_disabled()
    return key


def servicenow(demo: Demo, method: str, path: str, **kwargs: object) -> httpx.Response:
    response = httpx.request(method, f"{demo.base_url}{SN_CHANGES}{path}",
                             auth=(CREDENTIALS.username, CREDENTIALS.password), timeout=10,
                             **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return response


def change_board_approves(demo: Demo, number: str) -> None:
    """What the ITSM's people do, in the ITSM: assess, ask the CAB, and the CAB approves."""
    [row] = servicenow(demo, "GET", "", params={"sysparm_query": f"number={number}",
                                                "sysparm_fields": "sys_id,state"}).json()["result"]
    assert row["state"] == "-5", f"{number} should be new, not {row['state']}"
    for state in ("-4", "-3"):  # Assess, then Authorize (which asks the CAB)
        servicenow(demo, "PATCH", f"/{row['sys_id']}", json={"state": state})
    approved = servicenow(demo, "PATCH", f"/{row['sys_id']}",
                          json={"approval": "approved", "state": "-2"}).json()["result"]
    assert approved["state"] == "-2" and approved["approval"] == "approved", approved


def test_a_release_is_planned_booked_approved_run_and_deployed_from_the_dashboard(
        utc_context: BrowserContext, demo: Demo, shots: Path) -> None:
    page = utc_context.new_page()
    sign_in_as(page, demo, "RELEASE_MANAGER", "/releases")
    expect(page.get_by_test_id("signed-in-role")).to_have_text("Release manager")

    # The release, from the releases list.
    page.get_by_role("button", name="New release").click()
    form = page.get_by_role("form", name="New release")
    form.get_by_label("Key").fill(KEY)
    form.get_by_label("Name", exact=True).fill("Checkout, planned end to end")
    form.get_by_label(re.compile("Window start")).fill(WINDOW[0])
    form.get_by_label(re.compile("Window end")).fill(WINDOW[1])
    form.get_by_role("checkbox", name="Checkout").check()
    form.get_by_role("button", name="Create release").click()
    expect(page).to_have_url(re.compile(rf"/releases/{re.escape(KEY)}$"))
    expect(page.locator("#page-title")).to_contain_text(KEY)
    expect(page.get_by_test_id("release-status")).to_have_text("Planned")

    # Its work, through the pickers: JIRA's version and GitHub's milestone by name.
    page.get_by_label("Link to").select_option(label="Version in JIRA")
    expect(page.get_by_label("Project")).to_have_value("CHK")
    version = pick(page, "Version in JIRA", "2027.01", r"^\d+$")
    milestone = pick(page, "Milestone in GitHub", "2027.01", r"^acme-retail/checkout-web#\d+$")
    links = section(page, "Linked upstream")
    expect(links.locator(f"tr[data-link='{version}']")).to_contain_text("Planned version 2027.01")
    expect(links.locator(f"tr[data-link='{milestone}']")).to_contain_text("Milestone")

    # Staging for the acceptance test, asked and approved on the release's page.
    bookings = page.get_by_role("region", name="Environment bookings")
    request_booking(bookings.get_by_role("form", name="Request a booking"), STAGING,
                    "Acceptance test", environment="Staging")
    ours = bookings.locator("li.booking", has_text="Acceptance test")
    expect(ours).to_have_attribute("data-status", "REQUESTED")
    ours.get_by_role("button", name="Approve", exact=True).click()
    expect(ours).to_have_attribute("data-status", "APPROVED")

    # A team asks for the same staging hours: flagged before anyone approves it.
    page.goto("/environments")
    wait_loaded(page)
    staging = page.locator("section[data-environment=Staging]")
    request_booking(staging.get_by_role("form", name="Request a booking"),
                    ("2027-02-02T12:00", "2027-02-02T18:00"), "Checkout load test",
                    team="Performance")
    clash = staging.locator("li.booking", has_text="Checkout load test")
    expect(clash).to_have_attribute("data-status", "REQUESTED")
    expect(clash.get_by_role("note")).to_contain_text(KEY)
    expect(clash.get_by_role("note")).to_contain_text("needs an override")
    expect(clash.get_by_role("button", name="Approve with override")).to_be_disabled()

    # The plan, from the standard template.
    page.goto(f"/releases/{KEY}")
    wait_loaded(page)
    plan = page.get_by_role("region", name="Deployment plan")
    plan.get_by_label("Template").select_option(label="Standard production release")
    plan.get_by_role("button", name="Start from the template").click()
    steps = plan.get_by_role("list", name="Activities").locator("li.plan-activity")
    expect(steps.first).to_be_visible()
    titles: list[str] = steps.evaluate_all("items => items.map(i => i.dataset.activity)")
    assert "Deploy the new version" in titles, titles

    # The conflicts, on the release's page and on the calendar: the staging clash, and
    # no production booking for the window yet.
    conflicts = page.get_by_role("region", name=re.compile("^Conflicts"))
    expect(conflicts.locator("li[data-conflict=BOOKING_OVERLAP]")).to_contain_text(
        "Performance")
    expect(conflicts.locator("li[data-conflict=NO_PRODUCTION_BOOKING]")).to_be_visible()
    page.goto("/calendar?zoom=month&at=2027-02-01&app=CHK")
    wait_loaded(page)
    listed = page.get_by_role("region", name=re.compile("^Conflicts"))
    expect(listed.locator("li[data-conflict=NO_PRODUCTION_BOOKING]", has_text=KEY)
           ).to_be_visible()
    # Each booking named by what it is for: the release's key, the team's name.
    expect(listed.locator("li[data-conflict=BOOKING_OVERLAP]").first).to_contain_text(
        re.compile(rf"booking #\d+ \({re.escape(KEY)}\).*booking #\d+ \(Performance\)"))
    expect(page.locator("[data-kind=booking]", has_text="Staging").first).to_be_visible()
    wide = photograph(page, shots, "calendar-bookings")
    assert not wide, wide
    listed.get_by_role("link", name=KEY, exact=True).first.click()
    expect(page).to_have_url(re.compile(rf"/releases/{re.escape(KEY)}$"))
    wait_loaded(page)

    # Production is booked for the window, and the team's clash is turned down.
    bookings = page.get_by_role("region", name="Environment bookings")
    request_booking(bookings.get_by_role("form", name="Request a booking"), WINDOW,
                    "Go live", environment="Production")
    live = bookings.locator("li.booking", has_text="Go live")
    live.get_by_role("button", name="Approve", exact=True).click()
    expect(live).to_have_attribute("data-status", "APPROVED")
    page.goto("/environments")
    wait_loaded(page)
    clash = page.locator("section[data-environment=Staging] li.booking",
                         has_text="Checkout load test")
    clash.get_by_label("Reason", exact=True).fill(f"Staging holds the acceptance test of {KEY}")
    clash.get_by_role("button", name="Reject").click()
    expect(clash).to_have_attribute("data-status", "REJECTED")
    page.goto(f"/releases/{KEY}")
    wait_loaded(page)
    conflicts = page.get_by_role("region", name=re.compile("^Conflicts"))
    expect(conflicts).to_contain_text("No conflicts")

    # The change request: its preview carries the plan's steps; raised once.
    raise_panel = page.locator(".raise")
    target = raise_panel.get_by_label("Target system")
    target.select_option(target.locator("option", has_text="ServiceNow").get_attribute("value"))
    preview = raise_panel.get_by_label("Preview of the change request")
    expect(preview.get_by_label("Description")).to_contain_text("Deploy the new version")
    raise_panel.get_by_role("button", name=re.compile("^Raise in")).click()
    done = raise_panel.get_by_role("status")
    expect(done).to_contain_text("raised in")
    number = re.search(r"CHG\d+", done.inner_text())
    assert number, done.inner_text()
    row = page.locator(f"tr[data-change='{number.group()}']")
    expect(row).to_be_visible()
    expect(raise_panel.get_by_role("button", name=re.compile("^Raise in"))).to_have_count(0)
    approval = page.locator("p", has_text="Change approved:")
    expect(approval).to_contain_text("not yet")

    # The change board decides in ServiceNow; the page hears it without a reload.
    change_board_approves(demo, number.group())
    expect(approval).to_contain_text("Change approved: yes")
    expect(row).to_contain_text("Scheduled")

    moves = section(page, "Move the release")
    for status in ("In progress", "Ready"):
        moves.get_by_role("button", name=f"Move to {status}").click()
        expect(page.get_by_test_id("release-status")).to_have_text(status)
    expect(moves.get_by_role("list", name="Gates").locator("li.gate-fail")).to_have_count(0)
    moves.get_by_role("button", name="Move to Deploying").click()
    expect(page.get_by_test_id("release-status")).to_have_text("Deploying")

    # The plan is run, step by step, in its order.
    plan = page.get_by_role("region", name="Deployment plan")
    for title in titles:
        step = plan.locator(f"li.plan-activity[data-activity='{title}']")
        step.get_by_role("button", name="Start").click()
        expect(step).to_have_attribute("data-status", "IN_PROGRESS")
        step.get_by_role("button", name="Complete").click()
        expect(step).to_have_attribute("data-status", "DONE")

    moves.get_by_role("button", name="Move to Deployed").click()
    expect(page.get_by_test_id("release-status")).to_have_text("Deployed")
    expect(page.get_by_test_id("override-mark")).to_have_count(0)
    # A deployed release asks for no more environments.
    bookings = page.get_by_role("region", name="Environment bookings")
    expect(bookings).to_contain_text(f"{KEY} is deployed: it books no more environments.")
    expect(bookings.get_by_role("form", name="Request a booking")).to_have_count(0)
    history = section(page, "History")
    expect(history).to_contain_text("Deploying to Deployed")
    bad = serious_violations(page)
    assert not bad, "\n".join(bad)
    wide = photograph(page, shots, "release-deployed")
    assert not wide, wide


def photograph(page: Page, shots: Path, name: str) -> list[str]:
    """Full-page shots at each width; what is wider than the window, in words."""
    wide = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)  # the layout settles
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            wide.append(f"{name} is {overflow}px wider than {width}px")
    page.set_viewport_size({"width": 1280, "height": 860})
    return wide


PAGES = {
    "calendar-month": "/calendar?zoom=month&at=2026-11-16",
    "calendar-week": "/calendar?zoom=week&at=2026-11-16",
    "releases": "/releases",
    "release": "/releases/CHK-2026.11",
    "changes": "/changes",
    "cab": "/cab",
    "environments": "/environments",
    "sources": "/sources",
}


def test_every_page_fits_1280_and_1920_pixels_and_is_photographed(
        utc_context: BrowserContext, demo: Demo, shots: Path) -> None:
    page = utc_context.new_page()
    sign_in_as(page, demo, "RELEASE_MANAGER", "/calendar")
    wide: list[str] = []
    for name, path in PAGES.items():
        page.goto(path)
        expect(page.locator("#page-title")).to_be_visible()
        wait_loaded(page)
        wide += photograph(page, shots, name)
    assert not wide, "\n".join(wide)
    assert len(list(shots.glob("*.png"))) >= len(PAGES) * len(WIDTHS)


def download_csv(page: Page, link: Locator) -> list[dict[str, str]]:
    with page.expect_download() as info:
        link.click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_list_pages_export_the_rows_they_show_as_csv_with_their_filters(
        utc_context: BrowserContext, demo: Demo) -> None:
    page = utc_context.new_page()
    sign_in_as(page, demo, "RELEASE_MANAGER", "/releases")
    page.get_by_label("Status").select_option(label="Planned")
    page.get_by_label("Application").select_option(label="Checkout")
    wait_loaded(page)
    shown = page.locator("table tbody tr td:first-child a")
    expect(shown.first).to_be_visible()
    # The list shows the filters' answer, not the one before.
    expect(page.locator("table tbody tr").filter(has_not_text="CHK-")).to_have_count(0)
    expect(page.locator("table tbody tr").filter(has_not_text="Planned")).to_have_count(0)
    keys = shown.all_inner_texts()
    rows = download_csv(page, page.get_by_role("link", name="Export releases as CSV"))
    assert sorted(r["Key"] for r in rows) == sorted(keys)
    assert {r["Status"] for r in rows} == {"PLANNED"}

    page.goto("/calendar?zoom=month&at=2026-11-16")
    wait_loaded(page)
    listed = page.get_by_role("region", name=re.compile("^Conflicts"))
    expect(listed.get_by_role("heading")).to_have_text(re.compile(r"Conflicts \(\d+\)"))
    reasons = listed.locator("li").all_inner_texts()
    rows = download_csv(page, listed.get_by_role("link", name="Export conflicts as CSV"))
    assert len(rows) == len(reasons) > 0
    assert all(any(r["Reason"] in text for text in reasons) for r in rows), rows[:2]
