"""Forged writes and hostile queries: each refused quickly, with a code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.db.models import Role
from tests.api.conftest import Guarded, guarded_server

# Seconds a refusal may take, loopback included: far below what running the bomb would
# cost (minutes), with room for a loaded 2-core CI machine. bench.abuse has the figures.
QUICK = 5.0
CREATE = 'mutation { createApplication(input: {key: "FORGED", name: "Forged"}) { key } }'


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


def _timed(send: object) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = send()  # type: ignore[operator]
    return response, time.perf_counter() - start


# --- forgery ------------------------------------------------------------------------------

def test_a_cookie_mutation_from_another_origin_is_refused(guarded: Guarded) -> None:
    browser = guarded.login(Role.ADMIN)
    response = browser.post("/graphql", json={"query": CREATE},
                            headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and _code(response) == "CSRF_REFUSED"
    apps = browser.post("/graphql", json={"query": "{ applications { key } }"}).json()
    assert "FORGED" not in {a["key"] for a in apps["data"]["applications"]}


def test_a_cookie_mutation_without_an_origin_is_refused(guarded: Guarded) -> None:
    browser = guarded.login(Role.ADMIN)
    del browser.headers["Origin"]
    response = browser.post("/graphql", json={"query": CREATE})
    assert response.status_code == 403 and _code(response) == "CSRF_REFUSED"


def test_a_cookie_mutation_as_a_form_post_is_refused(guarded: Guarded) -> None:
    browser = guarded.login(Role.ADMIN)
    response = browser.post("/graphql", content=f"query={CREATE}",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 403 and _code(response) == "CSRF_REFUSED"


def test_a_token_needs_no_origin_because_browsers_never_send_one_unasked(
        guarded: Guarded) -> None:
    body = guarded.bearer(Role.VIEWER).post("{ viewer { username } }")
    assert body["data"]["viewer"]["username"] == guarded.username(Role.VIEWER)


def test_a_get_request_cannot_mutate(guarded: Guarded) -> None:
    browser = guarded.login(Role.ADMIN)
    response = browser.get("/graphql", params={"query": CREATE})
    assert response.status_code in (400, 405)
    assert _code(response) == "OPERATION_NOT_ALLOWED"
    apps = browser.post("/graphql", json={"query": "{ applications { key } }"}).json()
    assert "FORGED" not in {a["key"] for a in apps["data"]["applications"]}


def test_the_session_cookie_is_http_only_and_same_site_strict(guarded: Guarded) -> None:
    response = httpx.post(f"{guarded.url}/auth/login", headers={"Origin": guarded.origin},
                          json={"username": guarded.username(Role.VIEWER),
                                "password": "a long enough test password"})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # plain HTTP here; Secure is set behind HTTPS


# --- hostile queries ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def viewer(guarded: Guarded) -> httpx.Client:
    client = httpx.Client(base_url=guarded.url, timeout=30,
                          headers={"Authorization": f"Bearer {guarded.tokens[Role.VIEWER]}"})
    guarded.opened.append(client)
    return client


BOMBS = {
    "depth": "{ releases { nodes { " + "parent { " * 200 + "key" + " }" * 200 + " } } }",
    "aliases": "{ " + " ".join(f"a{i}: applications {{ key }}" for i in range(1000)) + " }",
    "huge page": "{ releases(first: 1000000) { nodes { key } } }",
    "cost via variables": "query($n: Int!) { releases(first: $n) { nodes { key } } }",
}
CODES = {"depth": "QUERY_TOO_COMPLEX", "aliases": "QUERY_TOO_COMPLEX",
         "huge page": "QUERY_TOO_COMPLEX", "cost via variables": "QUERY_TOO_COMPLEX"}


@pytest.mark.parametrize("bomb", sorted(CODES))
def test_a_query_bomb_is_refused_with_a_code_quickly(viewer: httpx.Client, bomb: str) -> None:
    response, seconds = _timed(lambda: viewer.post("/graphql", json={
        "query": BOMBS[bomb], "variables": {"n": 10_000_000}}))
    assert _code(response) == CODES[bomb]
    assert response.json().get("data") is None  # refused before any resolver ran
    assert seconds < QUICK


def test_the_cost_of_an_accepted_query_is_reported(viewer: httpx.Client) -> None:
    body = viewer.post("/graphql", json={
        "query": "{ releases(first: 10) { nodes { key name } } }"}).json()
    assert body["extensions"]["cost"]["requested"] == 1 + 10 * (1 + 2)
    assert body["extensions"]["cost"]["maximum"] == 200_000


def test_a_ten_megabyte_body_is_refused_before_it_is_read(guarded: Guarded,
                                                          viewer: httpx.Client) -> None:
    body = b'{"query": "{ viewer { username } }", "pad": "' + b"x" * 10_000_000 + b'"}'
    try:
        response, seconds = _timed(lambda: viewer.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}))
    except httpx.TransportError:
        pytest.fail("the server should answer 413, not drop the connection")
    assert response.status_code == 413 and _code(response) == "PAYLOAD_TOO_LARGE"
    assert seconds < 5 * QUICK


def test_a_chunked_body_over_the_limit_is_refused_too(viewer: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ viewer { username } }", "pad": "'
        for _ in range(20):
            yield b"x" * 100_000
        yield b'"}'

    response = viewer.post("/graphql", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and _code(response) == "PAYLOAD_TOO_LARGE"


def test_a_batch_of_a_thousand_operations_is_refused_with_a_code(viewer: httpx.Client) -> None:
    batch = [{"query": "{ viewer { username } }"}] * 1000
    response, seconds = _timed(lambda: viewer.post("/graphql", json=batch))
    assert response.status_code == 400 and _code(response) == "TOO_MANY_OPERATIONS"
    assert seconds < QUICK


def test_a_small_batch_runs(viewer: httpx.Client) -> None:
    batch = [{"query": "{ viewer { role } }"}] * 3
    answers = viewer.post("/graphql", json=batch).json()
    assert [a["data"]["viewer"]["role"] for a in answers] == ["VIEWER"] * 3


# --- rate limit and production introspection ----------------------------------------------

@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    with guarded_server(tmp_path_factory.mktemp("strict"), environment="production",
                        security={"secret_key": "test-only-signing-key-0123456789"},
                        limits={"rate_limit_per_minute": 60, "rate_limit_burst": 5}) as server:
        yield server


def test_a_caller_over_its_rate_gets_429_with_retry_after(strict: Guarded) -> None:
    client = strict.bearer(Role.VIEWER)
    statuses = [client.http.post("/graphql", json={"query": "{ viewer { role } }"})
                for _ in range(7)]
    assert [r.status_code for r in statuses[:5]] == [200] * 5
    refused = statuses[5]
    assert refused.status_code == 429 and _code(refused) == "RATE_LIMITED"
    assert int(refused.headers["Retry-After"]) >= 1
    # Another caller has its own allowance.
    assert strict.bearer(Role.ADMIN).post("{ viewer { role } }")["data"]


def test_production_does_not_answer_introspection(strict: Guarded) -> None:
    body = strict.bearer(Role.ADMIN).post("{ __schema { types { name } } }")
    assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"


def test_production_refuses_to_start_without_a_signing_key(tmp_path: Path) -> None:
    from api.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="secret_key"):
        load_settings(None, environment="production")
