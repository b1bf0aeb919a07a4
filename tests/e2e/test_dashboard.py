"""The dashboard in headless Chromium against the running demo: what a release
manager and a change-board member do, including when an upstream fails."""

from __future__ import annotations

import contextlib
import json
import re

import httpx
import pytest

from connectors.sandbox.kit import DEMO_TOKEN, DEMO_USER
from tests.e2e.conftest import Demo, screenshot, sign_in

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # without it, conftest skips the browser tests
    from playwright.sync_api import BrowserContext, Page, Route, expect

NOVEMBER = "/calendar?zoom=month&at=2026-11-16"
PAGES = {
    "calendar": (NOVEMBER, "Release calendar"),
    "releases": ("/releases", "Releases"),
    "release": ("/releases/CHK-2026.11", "CHK-2026.11"),
    "changes": ("/changes", "Change requests"),
    "environments": ("/environments", "Environments"),
    "sources": ("/sources", "Sources"),
}


def wait_loaded(page: Page) -> None:
    """No skeleton left: every query the page started has answered."""
    expect(page.locator("[aria-busy=true]")).to_have_count(0, timeout=30_000)


def test_signing_in_opens_the_calendar(page: Page, demo: Demo) -> None:
    page.goto("/releases")
    expect(page).to_have_url(re.compile(r"/login(\?next=%2Freleases)?$|/releases$"))
    sign_in(page, demo, next_path="/calendar")
    expect(page.get_by_role("heading", name="Release calendar")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    screenshot(page, "login-done")


def test_the_way_in_leaves_nothing_refused_or_failed_in_the_console(page: Page,
                                                                   demo: Demo) -> None:
    failed: list[str] = []
    page.on("console", lambda message: failed.append(message.text)
            if message.type == "error" else None)
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.goto("/releases")  # signed out: sent to sign in
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(page, demo, next_path="/releases")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    wait_loaded(page)
    assert failed == []


def test_a_release_found_on_the_calendar_opens_its_page(signed_in: Page) -> None:
    page = signed_in
    page.goto(NOVEMBER)
    expect(page.get_by_role("heading", name="Nov 2026")).to_be_visible()
    bar = page.locator("a[data-kind=release]", has_text="PAY-2026.11")
    expect(bar).to_be_visible()
    # The quarter view still shows it, and so does a filter on its application.
    page.get_by_role("button", name="Quarter").click()
    expect(page.get_by_role("heading", name="Q4 2026")).to_be_visible()
    page.get_by_label("Application").select_option(label="Payments")
    expect(page.locator("a[data-kind=release]", has_text="CHK-2026.11")).to_have_count(0)
    bar = page.locator("a[data-kind=release]", has_text="PAY-2026.11")
    bar.click()
    expect(page).to_have_url(re.compile(r"/releases/PAY-2026\.11$"))
    expect(page.get_by_role("heading", name=re.compile("PAY-2026.11"))).to_be_visible()


def test_the_calendar_marks_a_release_inside_the_blackout_as_a_conflict(signed_in: Page) -> None:
    page = signed_in
    page.goto("/calendar?zoom=month&at=2026-12-16")
    wait_loaded(page)
    conflicting = page.locator("a[data-kind=release].tl-conflict", has_text="IDN-2026.12")
    expect(conflicting).to_be_visible()
    expect(conflicting).to_have_attribute("title", re.compile("Holiday trading freeze"))
    expect(page.get_by_test_id("conflict-count")).to_contain_text("conflict")


def test_a_release_shows_its_jira_issues_and_github_pull_requests(signed_in: Page) -> None:
    page = signed_in
    page.goto("/releases/CHK-2026.11")  # ready: its work is done
    wait_loaded(page)
    jira = page.locator("tr[data-kind=JiraIssue]")
    pulls = page.locator("tr[data-kind=GitHubPullRequest]")
    expect(jira.first).to_be_visible()
    expect(pulls.first).to_be_visible()
    expect(jira.first).to_contain_text("JIRA")
    expect(pulls.first).to_contain_text("GitHub")
    # "Done" is not written twice.
    done = jira.filter(has=page.locator(".badge", has_text=re.compile("^Done$")))
    expect(done).to_have_count(jira.count())
    expect(done.first.locator(".upstream-word")).to_have_count(0)
    readiness = page.locator("section", has=page.get_by_role("heading", name="Readiness"))
    expect(readiness.locator("tr[data-source=jira]")).to_contain_text("live")
    expect(readiness.locator("tr[data-source=github]")).to_be_visible()
    screenshot(page, "release-CHK-2026.11")
    # On a release still in progress, the upstream's own status word stands beside the
    # canonical one where it says more ("In Review" beside "In progress").
    page.goto("/releases/RPT-2026.11")
    wait_loaded(page)
    review = page.locator("tr[data-kind=JiraIssue]").filter(has_text="In Review")
    expect(review.first.locator(".upstream-word")).to_have_text("In Review")


def test_a_move_the_server_refuses_shows_its_reason(context: BrowserContext, demo: Demo) -> None:
    first, second = context.new_page(), context.new_page()
    # The second tab has no live updates (its WebSocket is cut), so it still shows the old
    # status after the first tab's move, as a tab on a flaky network would.
    second.route_web_socket("**/graphql", lambda socket: socket.close())
    sign_in(first, demo, next_path="/releases/RPT-2026.11")
    second.goto("/releases/RPT-2026.11")
    for page in (first, second):
        expect(page.get_by_role("button", name="Move to Ready")).to_be_enabled()
    first.get_by_role("button", name="Move to Ready").click()
    expect(first.locator(".page-header .badge")).to_have_text("Ready")
    # The second tab still shows the old status; the server refuses the same move.
    second.get_by_role("button", name="Move to Ready").click()
    refusal = second.get_by_test_id("transition-refused")
    expect(refusal).to_contain_text("already ready")
    screenshot(second, "transition-refused")


def test_deploying_is_held_back_by_a_failing_gate_with_its_reason(signed_in: Page,
                                                                 demo: Demo) -> None:
    page = signed_in
    page.goto("/releases/PAY-2026.11")  # READY; its change request is not approved yet
    wait_loaded(page)
    gates = page.get_by_role("list", name="Gates")
    expect(gates.locator(".gate-fail").first).to_be_visible()
    expect(page.get_by_role("button", name="Move to Deploying")).to_be_disabled()
    screenshot(page, "gates")


def test_raising_a_change_request_in_servicenow_shows_it_with_its_state(signed_in: Page,
                                                                       demo: Demo) -> None:
    page = signed_in
    page.goto("/releases/INV-2026.12")  # its only change was rejected: a new one may be raised
    wait_loaded(page)
    before = page.locator("tr[data-change]").count()
    page.get_by_label("Target system").select_option("servicenow")
    expect(page.get_by_label("Preview of the change request")).to_contain_text("Inventory")
    # Its window falls in the holiday freeze: raising asks for an acknowledgement first.
    raise_button = page.get_by_role("button", name="Raise in ServiceNow")
    expect(page.get_by_role("note").filter(has_text="Holiday trading freeze")).to_be_visible()
    expect(raise_button).to_be_disabled()
    page.get_by_label("Raise it inside the blackout anyway").check()
    raise_button.click()
    expect(page.locator(".banner-ok")).to_contain_text("raised in ServiceNow")
    expect(page.locator("tr[data-change]")).to_have_count(before + 1)
    expect(page.locator("tr[data-change^=CHG]").last).to_contain_text("ServiceNow")
    screenshot(page, "change-raised")


def test_an_open_change_is_shown_instead_of_an_armed_raise_button(signed_in: Page,
                                                                  demo: Demo) -> None:
    page = signed_in
    page.goto("/releases/NTF-2026.12")  # its ServiceNow change is still in review
    wait_loaded(page)
    page.get_by_label("Target system").select_option("servicenow")
    expect(page.locator("[data-open-change]")).to_contain_text("CHG0030015")
    expect(page.get_by_role("button", name="Raise in ServiceNow")).to_have_count(0)
    page.get_by_label("Raise an additional change anyway").check()
    additional = page.get_by_role("button", name="Raise an additional change in ServiceNow")
    page.get_by_label("Raise it inside the blackout anyway").check()
    page.get_by_label("Why another change is needed", exact=False).fill("too short")
    expect(additional).to_be_disabled()
    page.get_by_label("Why another change is needed", exact=False).fill(
        "Separate CAB slot for the push provider switch")
    expect(additional).to_be_enabled()
    screenshot(page, "change-open")


def test_the_raise_panel_opens_on_the_itsm_of_the_releases_open_change(signed_in: Page,
                                                                      demo: Demo) -> None:
    page = signed_in
    page.goto("/releases/NTF-2026.12")  # its ServiceNow change is still in review
    wait_loaded(page)
    # Nothing chosen: the panel shows the change in play, not an offer of a second one.
    expect(page.get_by_label("Target system")).to_have_value("servicenow")
    expect(page.locator("[data-open-change]")).to_contain_text("CHG0030015")
    expect(page.get_by_role("button", name=re.compile("^Raise in"))).to_have_count(0)
    # Another ITSM may be chosen; the page says the release has a change open elsewhere.
    page.get_by_label("Target system").select_option("remedy")
    elsewhere = page.locator("[data-open-elsewhere]")
    expect(elsewhere).to_contain_text("CHG0030015 is still open in ServiceNow")
    expect(elsewhere).to_contain_text("would be the release's second")
    expect(page.get_by_role("button", name="Raise in BMC Remedy")).to_be_visible()


def test_graphiql_renders_from_our_own_assets_with_no_network(context: BrowserContext,
                                                              demo: Demo) -> None:
    outside: list[str] = []

    def only_heatshield(route: Route) -> None:
        if route.request.url.startswith(demo.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_heatshield)
    page = context.new_page()
    sign_in(page, demo, next_path="/graphiql")
    expect(page.locator(".graphiql-container")).to_be_visible()
    expect(page.locator(".graphiql-query-editor")).to_contain_text("query Upcoming")
    page.get_by_role("button", name=re.compile(r"^Execute query")).click()
    expect(page.locator(".graphiql-response")).to_contain_text('"releases"', timeout=30_000)
    screenshot(page, "graphiql")
    assert outside == []


@pytest.mark.parametrize("width", [1280, 1920])
def test_every_page_fits_the_screen_width(context: BrowserContext, demo: Demo,
                                          width: int) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, demo)
    for name, (path, heading) in PAGES.items():
        page.goto(path)
        expect(page.get_by_role("heading", name=re.compile(re.escape(heading))).first
               ).to_be_visible()
        wait_loaded(page)
        screenshot(page, f"{name}-{width}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than {width}px"


def test_keyboard_users_can_skip_to_content_with_a_visible_focus(signed_in: Page) -> None:
    page = signed_in
    page.goto("/releases")
    wait_loaded(page)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    outline = skip.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.closest('main') !== null")
    assert focused


def test_a_failing_servicenow_shows_the_degraded_state(signed_in: Page, demo: Demo) -> None:
    page = signed_in
    demo.fault("servicenow", {"error_rate": 1.0})
    try:
        # A window nobody asked for yet, so no cached copy can answer in ServiceNow's place.
        page.goto("/changes?from=2026-11-10&to=2026-12-31")
        banner = page.get_by_test_id("degraded")
        expect(banner).to_contain_text(re.compile(r"ServiceNow (unavailable|rate limited)"))
        # The other ITSM still answers: its change requests are listed.
        expect(page.locator("tr[data-change^=CRQ]").first).to_be_visible()
        screenshot(page, "degraded-servicenow")
    finally:
        demo.fault("servicenow", None)


def test_the_change_board_reads_a_pending_change_through_its_release(context: BrowserContext,
                                                                      demo: Demo) -> None:
    page = context.new_page()
    user, password = demo.credentials("VIEWER")  # a board member reads; they move nothing
    page.goto("/login?next=/cab")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Change board")).to_be_visible()
    wait_loaded(page)
    # PAY-2026.11's change waits for authorization in ServiceNow, first in its group.
    awaiting = page.get_by_role("region", name=re.compile("Awaiting authorization"))
    pending = awaiting.locator("button.cab-item").first
    expect(pending).to_have_attribute("data-change", "CHG0030004")
    expect(pending).to_contain_text("PAY-2026.11")
    expect(pending).to_contain_text("Authorize")
    # Keyboard: arrows move between changes with a visible focus, Enter opens one.
    pending.focus()
    page.keyboard.press("ArrowDown")
    expect(pending).not_to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(pending).to_be_focused()
    assert pending.evaluate("e => getComputedStyle(e).outlineStyle") not in ("", "none")
    page.keyboard.press("Enter")
    expect(pending).to_have_attribute("aria-current", "true")
    summary = page.get_by_test_id("cab-summary")
    expect(summary).to_contain_text("CAB summary")
    expect(summary).to_contain_text("2026-11-16 05:00 UTC to 2026-11-16 09:00 UTC")
    expect(summary).to_contain_text(re.compile(r"Risk: \w+"))
    expect(summary.get_by_role("heading", name="Backout plan")).to_be_visible()
    gates = page.get_by_role("list", name="Gates")
    expect(gates.locator(".gate-fail")).to_contain_text(
        "CHG0030004 is awaiting authorization (Authorize), awaiting approval")
    for width in (1280, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"cab-{width}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the change board is {overflow}px wider than {width}px"
    # Only what is planned in the week of 16 November: the two ServiceNow changes.
    page.goto("/cab?at=2026-11-16")
    page.get_by_label(re.compile("Scheduled this week")).check()
    expect(page).to_have_url(re.compile(r"week=1"))
    expect(page.locator("button.cab-item")).to_have_count(2)
    expect(page.locator("button.cab-item").last).to_have_attribute("data-change", "CHG0030009")


def test_no_page_or_graphiql_breaks_the_content_security_policy(context: BrowserContext,
                                                                 demo: Demo) -> None:
    violations: list[str] = []
    # Chromium reports each blocked script, style, font, worker or frame in the console.
    context.on("console", lambda message: violations.append(message.text)
               if "Content Security Policy" in message.text else None)
    page = context.new_page()
    response = page.goto("/login")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    sign_in(page, demo)
    for path, heading in PAGES.values():
        page.goto(path)
        expect(page.get_by_role("heading", name=re.compile(re.escape(heading))).first
               ).to_be_visible()
        wait_loaded(page)
    page.goto("/graphiql")
    expect(page.locator(".graphiql-query-editor")).to_contain_text("query Upcoming")
    page.get_by_role("button", name=re.compile(r"^Execute query")).click()
    expect(page.locator(".graphiql-response")).to_contain_text('"releases"', timeout=30_000)
    # A page inside someone else's frame would be refused, not shown.
    blocked = page.evaluate("""() => new Promise(resolve => {
        const frame = document.createElement('iframe');
        frame.src = '/releases';
        frame.onload = () => { try { resolve(frame.contentDocument === null
            || frame.contentDocument.body.innerText === ''); }
            catch (e) { resolve(true); } };
        document.body.appendChild(frame);
    })""")
    assert blocked
    assert [v for v in violations if "frame-ancestors" not in v
            and "X-Frame-Options" not in v] == []


CODE = re.compile(r"\b[A-Z]{2,}_[A-Z_]+\b|\b[a-z]+_[a-z_]+\b|\(s\)")
VISIBLE_TEXT = """() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const shown = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || parent.closest('pre, code, script, style, [hidden]')) continue;
        if (!parent.checkVisibility()) continue;
        shown.push(node.textContent);
    }
    return shown.join(' ');
}"""


def test_no_page_shows_a_raw_code(signed_in: Page) -> None:
    """Enum values, snake_case kinds and "(s)" plurals never reach the screen; each
    audit event, gate, note and conflict is in words. Code blocks (GraphiQL) are exempt."""
    page = signed_in
    walk = [*PAGES.values(), ("/cab?at=2026-11-16", "Change board"),
            ("/releases/PAY-2026.11", "PAY-2026.11")]
    for path, heading in walk:
        page.goto(path)
        expect(page.get_by_role("heading", name=re.compile(re.escape(heading))).first
               ).to_be_visible()
        wait_loaded(page)
        tabs = page.get_by_role("tab", name="Operations")
        if path.startswith("/releases/") and tabs.count():
            tabs.first.click()  # the CAB summary in the release's notes, too
            wait_loaded(page)
            expect(page.locator(".notes h3").first).to_be_visible()
        shown = page.evaluate(VISIBLE_TEXT)
        assert CODE.findall(shown) == [], path


def test_a_release_whose_jira_version_was_deleted_says_its_link_is_broken(
        signed_in: Page, demo: Demo) -> None:
    page = signed_in
    jira = f"{demo.base_url}/sandbox/jira/rest/api/2"
    auth = (DEMO_USER, DEMO_TOKEN)
    version = httpx.post(f"{jira}/version", json={"name": "2027.09-gone", "project": "PAY"},
                         auth=auth).json()

    def graphql(query: str, variables: dict[str, object]) -> dict[str, object]:
        answer = page.request.post(f"{demo.base_url}/graphql", data=json.dumps(
            {"query": query, "variables": variables}), headers={
            "content-type": "application/json", "origin": demo.base_url})
        body: dict[str, object] = answer.json()
        assert not body.get("errors"), body
        return body

    created = graphql("""mutation($i: CreateReleaseInput!) { createRelease(input: $i) { id } }""",
                      {"i": {"key": "PAY-GONE", "name": "Withdrawn hotfix", "type": "PROJECT",
                             "applicationKeys": ["PAY"]}})
    release_id = created["data"]["createRelease"]["id"]  # type: ignore[index]
    graphql("""mutation($id: ID!, $l: SourceLinkInput!) { linkSource(releaseId: $id, link: $l)
               { id } }""", {"id": release_id, "l": {"source": "jira", "kind": "PLANNED_VERSION",
                                                    "externalKey": version["id"]}})
    assert httpx.delete(f"{jira}/version/{version['id']}", auth=auth).status_code == 204

    page.goto("/releases/PAY-GONE")
    expect(page.locator("tr[data-source=jira]")).to_contain_text("link broken")
    expect(page.locator("[data-source-problem=jira]")).to_contain_text(
        f"JIRA has no version '{version['id']}' (deleted, renamed")
    expect(page.get_by_text("No work items could be read")).to_be_visible()
    # The change a release manager would raise says its data is missing, and why.
    expect(page.get_by_test_id("degraded").first).to_contain_text(
        "a linked record cannot be read, so its data is missing here")
    screenshot(page, "release-link-broken")
