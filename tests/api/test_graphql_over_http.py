"""GraphQL over HTTP: the media type a client asks for decides the answer's type and status.

`application/graphql-response+json` lets status codes speak (400 and no `data` for
a request that never ran, 200 for one that did); `application/json` keeps 200 for
every well-formed request, as clients written before the spec expect. The
community's audit (graphql-http's `auditServer`) runs against the hub over HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.graphql_http import GRAPHQL_RESPONSE_JSON, JSON, negotiate
from api.settings import load_settings
from tests.support.graphql import new_secret, principal_step
from tests.support.paths import REPO
from tests.support.server import serve_asgi

FRONTEND = REPO / "frontend"
AUDIT_SCRIPT = FRONTEND / "scripts" / "audit-graphql-http.mjs"
AUDIT_PACKAGE = FRONTEND / "node_modules" / "graphql-http" / "package.json"
# .ci/run sets it: there the audit must run, never skip.
REQUIRE_NODE_ENV = "HEATSHIELD_REQUIRE_NODE"

RESPONSE_JSON = {"Accept": GRAPHQL_RESPONSE_JSON}
PLAIN_JSON = {"Accept": JSON}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A hub over HTTP and a RELEASE_MANAGER's token: (base URL, token)."""
    database = tmp_path_factory.mktemp("over-http") / "hub.db"
    token = new_secret()
    settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{database}"},
                             limits={"rate_limit_burst": 1000, "rate_limit_per_minute": 60000})
    with serve_asgi(create_app(settings, startup=[principal_step(token)])) as url:
        yield url, token


@pytest.fixture
def http(hub: tuple[str, str]) -> Iterator[httpx.Client]:
    url, token = hub
    with httpx.Client(base_url=url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def post(http: httpx.Client, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return http.post("/graphql", json=body, headers=headers)


# --- the media type --------------------------------------------------------------------------

@pytest.mark.parametrize(("accept", "media"), [
    (None, JSON),
    ("", JSON),
    ("*/*", JSON),
    ("application/*", JSON),
    (JSON, JSON),
    (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
    (f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8, {JSON}; charset=utf-8", GRAPHQL_RESPONSE_JSON),
    (f"{JSON}, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
    (f"{JSON}, {GRAPHQL_RESPONSE_JSON};q=0.5", JSON),
    (f"{GRAPHQL_RESPONSE_JSON};q=0.2, */*;q=0.9", JSON),
    (f"text/html, {GRAPHQL_RESPONSE_JSON};q=0.1", GRAPHQL_RESPONSE_JSON),
    ("text/html", None),
    (f"{JSON};q=0, text/csv", None),
    (f"{GRAPHQL_RESPONSE_JSON}; charset=latin-1", None),
    ("nonsense", None),
])
def test_the_media_type_is_the_best_one_the_accept_header_allows(
        accept: str | None, media: str | None) -> None:
    assert negotiate(accept) == media


def test_an_operation_answers_in_the_media_type_the_client_asked_for(
        http: httpx.Client) -> None:
    modern = post(http, {"query": "{ __typename }"}, RESPONSE_JSON)
    legacy = post(http, {"query": "{ __typename }"}, PLAIN_JSON)
    assert modern.status_code == legacy.status_code == 200
    assert modern.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert legacy.headers["content-type"] == f"{JSON}; charset=utf-8"
    assert modern.json()["data"] == legacy.json()["data"] == {"__typename": "Query"}


def test_a_client_that_accepts_neither_type_is_answered_406(http: httpx.Client) -> None:
    response = post(http, {"query": "{ __typename }"}, {"Accept": "text/csv"})
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


# --- status codes ----------------------------------------------------------------------------

REQUEST_ERRORS = {
    "a document that does not parse": ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
    "a document that does not validate": ({"query": "{ noSuchField }"},
                                          "GRAPHQL_VALIDATION_FAILED"),
    "variables that do not coerce": ({"query": "query($key: String!) { release(key: $key) "
                                               "{ key } }", "variables": {"key": None}},
                                     "BAD_USER_INPUT"),
}


@pytest.mark.parametrize("case", list(REQUEST_ERRORS))
def test_a_request_that_never_ran_is_400_without_data_in_graphql_response_json(
        http: httpx.Client, case: str) -> None:
    body, code = REQUEST_ERRORS[case]
    response = post(http, body, RESPONSE_JSON)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert "data" not in answer
    assert answer["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize("case", list(REQUEST_ERRORS))
def test_the_same_request_is_200_in_application_json_as_legacy_clients_expect(
        http: httpx.Client, case: str) -> None:
    body, code = REQUEST_ERRORS[case]
    response = post(http, body, PLAIN_JSON)
    assert response.status_code == 200, response.text
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["extensions"]["code"] == code


def test_an_operation_name_the_document_lacks_is_400_in_either_media_type(
        http: httpx.Client) -> None:
    """Strawberry refuses it before the document runs, like a malformed request."""
    for headers in (RESPONSE_JSON, PLAIN_JSON):
        response = post(http, {"query": "query A { __typename }", "operationName": "B"},
                        headers)
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_an_executed_operation_with_a_field_error_is_200_with_its_partial_data(
        http: httpx.Client) -> None:
    response = post(http, {"query": '{ a: __typename node(id: "not a global id") { id } }'},
                    RESPONSE_JSON)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["data"]["a"] == "Query"
    assert answer["errors"][0]["path"] == ["node"]


def test_a_batch_is_200_and_each_entry_says_whether_it_ran(http: httpx.Client) -> None:
    response = http.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{"}],
                         headers=RESPONSE_JSON)
    assert response.status_code == 200
    ran, refused = response.json()
    assert ran["data"] == {"__typename": "Query"}
    assert "data" not in refused and refused["errors"]


@pytest.mark.parametrize("headers", [RESPONSE_JSON, PLAIN_JSON])
def test_a_malformed_body_is_400_in_either_media_type(
        http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.post("/graphql", content=b'{"query": ',
                         headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(headers["Accept"])


def test_a_mutation_sent_with_get_is_405_and_names_post(http: httpx.Client) -> None:
    response = http.get("/graphql", params={"query": "mutation { __typename }"},
                        headers=RESPONSE_JSON)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_ALLOWED"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_the_allowed_ones(http: httpx.Client, method: str) -> None:
    response = http.request(method, "/graphql", headers=RESPONSE_JSON)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


# --- the community's audit -------------------------------------------------------------------

def _node() -> str:
    """The node binary and graphql-http, or skip (fail where CI requires them)."""
    node = shutil.which("node")
    missing = ("node is not on PATH" if node is None else
               f"{AUDIT_PACKAGE.parent} is missing (cd frontend && npm ci)"
               if not AUDIT_PACKAGE.is_file() else None)
    if missing is None and node is not None:
        return node
    if os.environ.get(REQUIRE_NODE_ENV):
        pytest.fail(f"graphql-http audit: {missing}; {REQUIRE_NODE_ENV} is set", pytrace=False)
    pytest.skip(f"graphql-http audit: {missing} ({REQUIRE_NODE_ENV}=1 makes this a failure)")


def run_audit(node: str, url: str, token: str) -> dict[str, Any]:
    completed = subprocess.run(
        [node, str(AUDIT_SCRIPT), f"{url}/graphql"], cwd=FRONTEND, capture_output=True,
        text=True, timeout=120, env={**os.environ, "HEATSHIELD_AUDIT_TOKEN": token},
        check=False)
    assert completed.stdout, completed.stderr
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


def test_the_graphql_over_http_audit_passes_every_check(hub: tuple[str, str]) -> None:
    node = _node()
    url, token = hub
    report = run_audit(node, url, token)
    failing = [r for r in report["results"] if r["status"] != "ok"]
    assert failing == []
    assert report["counts"]["warn"] == report["counts"]["error"] == 0
    assert report["counts"]["ok"] == len(report["results"]) > 50


def test_the_audit_reports_failures_it_finds(tmp_path: Path) -> None:
    """The audit can fail: against a hub that refuses its token, every check does."""
    node = _node()
    database = tmp_path / "hub.db"
    settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{database}"})
    with serve_asgi(create_app(settings)) as url:
        report = run_audit(node, url, new_secret())
    assert report["counts"]["ok"] < len(report["results"])
    assert report["counts"]["error"] > 0
