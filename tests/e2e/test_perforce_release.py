"""A release whose code lives in Perforce, in the dashboard: its changelists and jobs
beside JIRA's issues, its readiness, its notes, and a change raised for it."""

from __future__ import annotations

import contextlib

import pytest

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.browser

with contextlib.suppress(ImportError):  # without it, conftest skips the browser tests
    from playwright.sync_api import Page, expect

RELEASE = "RPT-2026.10"  # shipped from //depot/reporting-portal/main
IN_FLIGHT = "RPT-2026.11"  # in progress; its Remedy change is on hold


def wait_loaded(page: Page) -> None:
    expect(page.locator("[aria-busy=true]")).to_have_count(0, timeout=30_000)


def test_a_perforce_release_shows_its_changelists_jobs_readiness_and_notes(
        signed_in: Page) -> None:
    page = signed_in
    page.goto(f"/releases/{RELEASE}")
    wait_loaded(page)
    changelist = page.locator("tr[data-kind]", has_text="change 410").first
    expect(changelist).to_be_visible()
    expect(changelist).to_contain_text("Perforce")
    expect(changelist.locator(".upstream-word")).to_contain_text("submitted")
    expect(page.locator("tr[data-kind]", has_text="job000").first).to_be_visible()
    readiness = page.locator("section", has=page.get_by_role("heading", name="Readiness"))
    expect(readiness.locator("tr[data-source=perforce]")).to_be_visible()
    expect(readiness.locator("tr[data-source=jira]")).to_be_visible()
    notes = page.locator("section", has=page.get_by_role("heading", name="Release notes"))
    expect(notes.locator(".notes")).to_contain_text("change 410")
    screenshot(page, f"perforce-release-{RELEASE}")



def test_a_change_is_raised_for_a_perforce_release_in_flight(signed_in: Page) -> None:
    page = signed_in
    page.goto(f"/releases/{IN_FLIGHT}")
    wait_loaded(page)
    expect(page.locator("tr[data-kind]", has_text="change 410").first).to_be_visible()
    page.get_by_label("Target system").select_option("remedy")
    expect(page.get_by_label("Preview of the change request")).to_contain_text("Reporting")
    # Its Remedy change is on hold, still open: another one needs a written reason.
    page.get_by_label("Raise an additional change anyway").check()
    page.get_by_label("Why another change is needed", exact=False).fill(
        "Hotfix of the report scheduler from the depot, outside the held change")
    before = page.locator("tr[data-change]").count()
    page.get_by_role("button", name="Raise an additional change in BMC Remedy").click()
    expect(page.locator(".banner-ok")).to_contain_text("raised in BMC Remedy")
    expect(page.locator("tr[data-change]")).to_have_count(before + 1)
    screenshot(page, f"perforce-change-raised-{IN_FLIGHT}")
