"""Reference tests: every operation of the published API subsets is one the sandboxes serve.

`../shared/specs` holds the subsets of GitHub's REST description and JIRA Cloud's that a
release hub calls. A client written against those descriptions must not find a sandbox
answering 404 or 405 for an operation the description lists, so each (method, path)
must reach a route of the sandbox; what the route answers is the contract tests' part.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Match

from connectors.github.sandbox.app import create_app as github_app
from connectors.jira.sandbox.app import create_app as jira_app
from connectors.sandbox.world import build_world
from tests.support.paths import SPECS

pytestmark = pytest.mark.reference

METHODS = ("get", "put", "post", "delete", "patch")


def operations(spec: str) -> list[tuple[str, str]]:
    paths: dict[str, Any] = json.loads((SPECS / spec).read_text())["paths"]
    return [(method.upper(), path) for path, ops in paths.items()
            for method in ops if method in METHODS]


def routed(app: Starlette, method: str, template: str) -> bool:
    """Whether a request for `template` (each parameter given as 1) reaches a route that
    takes `method`."""
    path = re.sub(r"\{[^}]+\}", "1", template)
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


def test_the_check_tells_a_served_operation_from_one_that_is_not() -> None:
    app = github_app(build_world(7))
    assert routed(app, "GET", "/repos/{owner}/{repo}/releases")
    assert not routed(app, "DELETE", "/repos/{owner}/{repo}/releases")
    assert not routed(app, "GET", "/repos/{owner}/{repo}/no-such-thing")


@pytest.mark.parametrize(("spec", "make"), [
    ("github-rest.subset-release-hub.json", lambda: github_app(build_world(7))),
    ("jira-cloud-platform.subset-release-hub.json",
     lambda: jira_app(build_world(7), mode="cloud")),
], ids=["github", "jira-cloud"])
def test_every_operation_of_the_subset_reaches_a_sandbox_route(spec: str, make: Any) -> None:
    app = make()
    missing = [f"{method} {path}" for method, path in operations(spec)
               if not routed(app, method, path)]
    assert missing == []
