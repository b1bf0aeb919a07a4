"""The insights page in headless Chromium: each application's four keys as the graph's
`insights` query answers them, and a drill-down from a chart point to exactly the
records behind that point."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.sandbox.world import EPOCH
from tests.e2e.conftest import Demo, screenshot, sign_in
from tests.e2e.test_planning import serious_violations, wait_loaded

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # without it, conftest skips the browser tests
    from playwright.sync_api import Browser, BrowserContext, Page, expect

FIGURE = "value band sampleSize records work"
INSIGHTS = f"""query($from: DateTime!, $to: DateTime!, $zone: String!, $apps: [String!]) {{
  insights(from: $from, to: $to, applications: $apps, bucket: MONTH, timeZone: $zone) {{
    applications {{ application deploymentFrequency {{ {FIGURE} }} leadTime {{ {FIGURE} }}
                   changeFailureRate {{ {FIGURE} }} timeToRestore {{ {FIGURE} }} }}
    trend {{ periodStart deploymentFrequency {{ {FIGURE} }} leadTime {{ {FIGURE} }}
            changeFailureRate {{ {FIGURE} }}
            failures {{ deployment incidents }} }}
  }}
}}"""
KEYS = ("deploymentFrequency", "leadTime", "changeFailureRate", "timeToRestore")
BANDS = {"ELITE": "Elite", "HIGH": "High", "MEDIUM": "Medium", "LOW": "Low", None:
         "Not enough data"}


@pytest.fixture
def axe_context(browser: Browser, demo: Demo) -> Iterator[BrowserContext]:
    """Past the page's script policy, so the test can inject axe-core."""
    ctx = browser.new_context(base_url=demo.base_url, viewport={"width": 1280, "height": 900},
                              bypass_csp=True)
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


def in_words(key: str, value: float | None) -> str:
    """A figure as a person reads it on the page (the page's own rules, said again)."""
    if value is None:
        return "No data"
    if key == "deploymentFrequency":
        return f"{value:.2f} a week"
    if key == "changeFailureRate":
        return f"{round(value * 100)} %"
    if value < 1:
        return f"{round(value * 60)} min"
    return f"{value:.1f} hours" if value < 48 else f"{value / 24:.1f} days"


def open_insights(page: Page, demo: Demo) -> dict[str, Any]:
    """Open the page at the demo world's own date; what the graph answers for the period
    and zone the page shows."""
    sign_in(page, demo, f"/insights?to={EPOCH.date().isoformat()}")
    wait_loaded(page)
    expect(page.get_by_role("table", name="The four keys per application")).to_be_visible()
    return answered(page, demo)


def answered(page: Page, demo: Demo, apps: list[str] | None = None) -> dict[str, Any]:
    """The graph's `insights` for the period and zone the page shows."""
    period = page.get_by_test_id("insights-period")
    variables = {"from": period.get_attribute("data-from"), "to": period.get_attribute("data-to"),
                 "zone": period.get_attribute("data-zone"), "apps": apps}
    response = page.request.post("/graphql", headers={"origin": demo.base_url},
                                 data={"query": INSIGHTS, "variables": variables})
    body = response.json()
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]["insights"]
    return data


def click_point(page: Page, chart: str, index: int, value: float) -> None:
    """Click a trend chart's point where ECharts drew it, as a mouse would."""
    page.locator(f"[data-chart={chart}]").scroll_into_view_if_needed()
    x, y = page.evaluate(
        "([name, i, v]) => window.heatshieldCharts[name].convertToPixel({seriesIndex: 0}, [i, v])",
        [chart, index, value])
    box = page.locator(f"[data-chart={chart}]").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x, box["y"] + y)


def listed(page: Page, kind: str) -> list[str]:
    drill = page.get_by_test_id("drill-down")
    return drill.locator(f"[data-records={kind}] [data-record]").evaluate_all(
        "rows => rows.map(r => r.dataset.record)")


def test_each_application_shows_the_four_keys_the_graph_answers(
        axe_context: BrowserContext, demo: Demo) -> None:
    page = axe_context.new_page()
    expected = open_insights(page, demo)
    assert len(expected["applications"]) >= 2
    for app in expected["applications"]:
        row = page.locator(f"tr[data-application={app['application']}]")
        for key in KEYS:
            figure = app[key]
            cell = row.locator(f"td[data-key={key}]")
            expect(cell.locator(".figure-value")).to_have_text(in_words(key, figure["value"]))
            expect(cell.locator(".badge")).to_have_text(BANDS[figure["band"]])
            expect(cell).to_contain_text(f"from {figure['sampleSize']} ")
    # The applications differ: not one figure set copied down the table.
    shown = {tuple(app[k]["value"] for k in KEYS) for app in expected["applications"]}
    assert len(shown) == len(expected["applications"])
    expect(page.locator("main")).not_to_contain_text("LEAD_TIME")
    bad = serious_violations(page)
    assert not bad, "\n".join(bad)


def test_a_chart_point_drills_down_to_exactly_the_records_behind_it(
        axe_context: BrowserContext, demo: Demo) -> None:
    page = axe_context.new_page()
    expected = open_insights(page, demo)
    trend = expected["trend"]

    # Lead time: the month with the most work measured.
    index = max(range(len(trend)), key=lambda i: trend[i]["leadTime"]["sampleSize"])
    lead = trend[index]["leadTime"]
    assert lead["sampleSize"] > 0
    page.wait_for_function("() => window.heatshieldCharts && window.heatshieldCharts.leadTime")
    click_point(page, "leadTime", index, round(lead["value"], 2))
    drill = page.get_by_test_id("drill-down")
    expect(drill.get_by_role("heading", level=2)).to_contain_text("Lead time for changes")
    expect(drill.locator("[data-records=work] [data-record]")).to_have_count(len(lead["work"]))
    assert listed(page, "work") == lead["work"]
    assert listed(page, "deployments") == lead["records"]
    expect(drill.locator("[data-records=work] a").first).to_have_attribute(
        "href", re.compile(r"/pull/\d+$"))
    screenshot(page, "insights-drill-lead-time-1280")

    # Change failure rate: a month with a failure, down to its incidents.
    failing = [i for i, t in enumerate(trend) if t["failures"]]
    assert failing, "the demo world has failed deployments in the period"
    index = failing[0]
    rate = trend[index]["changeFailureRate"]
    click_point(page, "changeFailureRate", index, round(rate["value"] * 100, 2))
    expect(drill.get_by_role("heading", level=2)).to_contain_text("Change failure rate")
    expect(drill.locator("[data-records=deployments] [data-record]")).to_have_count(
        len(rate["records"]))
    assert listed(page, "deployments") == rate["records"]
    incidents = {n for f in trend[index]["failures"] for n in f["incidents"]}
    assert set(listed(page, "incidents")) == incidents
    bad = serious_violations(page)
    assert not bad, "\n".join(bad)


def test_one_applications_trend_drills_down_to_its_own_deployments_only(
        axe_context: BrowserContext, demo: Demo) -> None:
    page = axe_context.new_page()
    everyone = open_insights(page, demo)
    busiest = max(everyone["applications"],
                  key=lambda a: a["deploymentFrequency"]["sampleSize"])["application"]
    trend = answered(page, demo, [busiest])["trend"]
    index = max(range(len(trend)), key=lambda i: trend[i]["deploymentFrequency"]["sampleSize"])
    frequency = trend[index]["deploymentFrequency"]

    page.get_by_label("Trend of").select_option(busiest)
    expect(page.get_by_role("heading", name=f"Trend for {busiest}")).to_be_visible()
    # The application's own points, drawn once its query answers (this month's count).
    points = page.get_by_role("list", name=re.compile("^Deployment frequency by month"))
    points.get_by_role("button").nth(index).click()
    drill = page.get_by_test_id("drill-down")
    expect(drill.get_by_role("heading", level=2)).to_contain_text(busiest)
    expect(drill.locator("[data-records=deployments] [data-record]")).to_have_count(
        frequency["sampleSize"])
    assert listed(page, "deployments") == frequency["records"]
    assert all(busiest in row for row in drill.locator(
        "[data-records=deployments] tbody tr").all_inner_texts())


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_page_fits_and_reads_at_common_widths(axe_context: BrowserContext, demo: Demo,
                                                  width: int) -> None:
    page = axe_context.new_page()
    page.set_viewport_size({"width": width, "height": 1000})
    open_insights(page, demo)
    page.wait_for_function("() => window.heatshieldCharts && window.heatshieldCharts.timeToRestore")
    page.locator("tr[data-application=overall] td[data-key=changeFailureRate] button").click()
    expect(page.get_by_test_id("drill-down")).to_be_visible()
    screenshot(page, f"insights-{width}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the insights page is {overflow}px wider than {width}px"
