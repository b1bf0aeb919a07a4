"""Property-based fuzzing of the graph with schemathesis: no input may make it fail.

Schemathesis reads the schema over HTTP (introspection) and, for every query
and mutation field, generates operations with arbitrary (but schema-valid)
arguments. Each is sent as an ADMIN API token, so every resolver is reachable.
A case fails when the server answers 5xx, or an error carries no code or the
INTERNAL_SERVER_ERROR code (an exception nobody meant to raise).

Run: `.venv/bin/python -m bench.fuzz [--examples 50] [--seed 20261129]`
(about 50 cases per field; with the current schema that is more than 2,000).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, seed, settings

from api.app import create_app
from api.db.models import Role
from api.settings import load_settings
from tests.support.graphql import new_secret, principal_step
from tests.support.server import serve_asgi

SEED = 20261129


@dataclass
class Report:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _check(report: Report, operation: str, body: str, status: int, answer: Any) -> None:
    report.cases += 1
    report.statuses[status] += 1
    if status >= 500:
        report.failures.append(f"{operation}: HTTP {status} for {body[:300]}")
        return
    errors = answer.get("errors") if isinstance(answer, dict) else None
    for error in errors or []:
        code = (error.get("extensions") or {}).get("code")
        report.codes[str(code)] += 1
        if code in (None, "INTERNAL_SERVER_ERROR"):
            report.failures.append(f"{operation}: {code} {error.get('message')!r} "
                                   f"for {body[:300]}")


def _cases(operation: Any, report: Report, headers: dict[str, str], examples: int,
           fixed_seed: int) -> Any:
    """A hypothesis test that sends `examples` generated cases of one operation."""
    label = str(operation.label)

    @seed(fixed_seed)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        _check(report, label, str(case.body), response.status_code, answer)

    return run


def fuzz(url: str, token: str, *, examples: int, fixed_seed: int = SEED) -> Report:
    """Run `examples` generated cases per field against a running server."""
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.graphql.from_url(f"{url}/graphql", headers=headers)
    report = Report()
    started = time.perf_counter()
    for result in schema.get_all_operations():
        operation: Any = result.ok()  # type: ignore[union-attr]
        _cases(operation, report, headers, examples, fixed_seed)()
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def fuzz_target(tmp: Path) -> Iterator[tuple[str, str]]:
    """A Heatshield with an empty database, an ADMIN token and no rate limit in the way."""
    token = new_secret()
    app = create_app(load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp / 'fuzz.db'}"},
        limits={"rate_limit_per_minute": 1_000_000, "rate_limit_burst": 1_000_000}),
        startup=[principal_step(token, Role.ADMIN, "fuzz-admin")])
    with serve_asgi(app) as url:
        yield url, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--examples", type=int, default=50, help="cases per field")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fuzz_target(Path(tmp)) as (url, token):
        report = fuzz(url, token, examples=args.examples, fixed_seed=args.seed)
    print(f"cases: {report.cases} in {report.seconds:.1f} s (seed {args.seed})")
    print(f"HTTP statuses: {dict(sorted(report.statuses.items()))}")
    print(f"error codes: {dict(report.codes.most_common())}")
    print(f"server errors: {len(report.failures)}")
    for failure in report.failures[:20]:
        print(f"  {failure}")
    raise SystemExit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
