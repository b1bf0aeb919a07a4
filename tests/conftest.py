"""Suite-wide hooks: the `reference` marker's skip-or-fail rule, in one place."""

from __future__ import annotations

import pytest

from tests.support.paths import require_reference


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A reference test needs `../shared`; decide before any of its fixtures read it."""
    if item.get_closest_marker("reference") is not None:
        require_reference()
