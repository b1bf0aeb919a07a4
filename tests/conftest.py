"""Suite-wide hooks: the `reference` marker's skip-or-fail rule (tests/support/paths.py), and
the browser tests last."""

from __future__ import annotations

import pytest

from tests.support.paths import reference_required, reference_skip, require_reference


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
