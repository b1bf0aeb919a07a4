"""Property-based fuzzing of the graph (schemathesis, fixed seed): no server errors.

Every query and mutation field gets generated, schema-valid operations with
arbitrary arguments, sent as an ADMIN over a real socket. `bench/fuzz.py`
runs the same check with many more cases.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.fuzz import fuzz, fuzz_target


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with fuzz_target(tmp_path_factory.mktemp("fuzz")) as found:
        yield found


def test_generated_operations_never_cause_a_server_error(target: tuple[str, str]) -> None:
    url, token = target
    report = fuzz(url, token, examples=5)
    assert report.cases >= 100
    assert report.statuses.keys() <= {200, 400}
    assert report.failures == []
