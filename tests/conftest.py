"""Suite-wide hooks: the `reference` marker's skip-or-fail rule (tests/support/paths.py), the
browser tests last, and a suite run as if on a later day (`HEATSHIELD_TEST_CLOCK_DAYS`)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.support.paths import reference_required, reference_skip, require_reference

#: Days to move this process's wall clock ahead for the whole run (e.g. 400): a test or a
#: code path that holds only until some date fails now, not on that date in CI. Only this
#: process's wall clock moves (`time.time`, `datetime.now`): monotonic clocks, child
#: processes and PostgreSQL's `now()` keep the real one, so run it on SQLite without
#: the browser tests.
CLOCK_DAYS_ENV = "HEATSHIELD_TEST_CLOCK_DAYS"
_travel: list[time_machine.travel] = []


def pytest_configure(config: pytest.Config) -> None:
    days = os.environ.get(CLOCK_DAYS_ENV)
    if days:
        try:
            later = datetime.now(UTC) + timedelta(days=float(days))
        except ValueError:
            raise pytest.UsageError(f"{CLOCK_DAYS_ENV} must be a number of days, "
                                    f"not {days!r}") from None
        _travel.append(time_machine.travel(later, tick=True))
        _travel[0].start()


def pytest_unconfigure(config: pytest.Config) -> None:
    while _travel:
        _travel.pop().stop()


def pytest_report_header() -> str | None:
    days = os.environ.get(CLOCK_DAYS_ENV)
    return f"wall clock moved {days} days ahead ({CLOCK_DAYS_ENV})" if days else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without `../shared`, each reference test is marked skipped with the reason.

    The browser tests run last: Playwright's sync API keeps an event loop running in
    the main thread for the rest of the session, where no async test can start one.
    """
    reference_skip(items)
    items.sort(key=lambda item: "tests/e2e/" in item.nodeid.replace("\\", "/"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Where CI requires `../shared`, a reference test without it fails before its fixtures."""
    if reference_required() and item.get_closest_marker("reference") is not None:
        require_reference()
