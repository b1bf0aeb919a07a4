"""Where things live, and the one rule for the reference material beside the clone.

The project's own tests read only what is in the repository: the contract
descriptions and sample payloads under `tests/contracts/`. Reference tests
(marked `reference`) also compare the sandboxes and the mapping with the
published API descriptions and real recordings kept in `../shared`, which
exists on the team's machines and in CI but not in a bare clone. Without it
they skip and say why; with `HEATSHIELD_REQUIRE_SHARED=1` (`.ci/run` sets it)
they fail instead, so CI never loses them silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "tests" / "contracts"
SHARED = REPO.parent / "shared"
SPECS = SHARED / "specs"
FIXTURES = SHARED / "fixtures"

REQUIRE_SHARED_ENV = "HEATSHIELD_REQUIRE_SHARED"


def missing_reference() -> str | None:
    """Why the reference material cannot be read, or None when it can."""
    absent = [path for path in (SPECS, FIXTURES) if not path.is_dir()]
    if not absent:
        return None
    names = " and ".join(str(path) for path in absent)
    return (f"reference test: {names} not found (the published API descriptions and "
            f"recordings beside the clone; {REQUIRE_SHARED_ENV}=1 makes this a failure)")


def reference_required() -> bool:
    """CI's say: reference tests must run (set like HEATSHIELD_REQUIRE_POSTGRES)."""
    return bool(os.environ.get(REQUIRE_SHARED_ENV))


def reference_skip(items: list[pytest.Item]) -> None:
    """At collection: mark each reference test skipped, with the reason, when it cannot run.

    A skip mark (rather than a skip raised later) makes pytest's summary name
    each skipped test. When CI requires the material, nothing is marked and
    `require_reference` fails the tests instead.
    """
    reason = missing_reference()
    if reason is None or reference_required():
        return
    for item in items:
        if item.get_closest_marker("reference") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


def require_reference() -> None:
    """Before a reference test: fail without `../shared` when CI requires it, else skip."""
    reason = missing_reference()
    if reason is None:
        return
    if reference_required():
        pytest.fail(f"{reason}; {REQUIRE_SHARED_ENV} is set", pytrace=False)
    pytest.skip(reason)
