"""Sign-in, sessions and API tokens: secrets hashed at rest, audited, never echoed."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest

from api.db.models import Role
from tests.api.conftest import PASSWORD, Guarded

CREATE_TOKEN = """mutation($name: String!, $role: Role!) {
  createApiToken(input: {name: $name, role: $role}) { secret token { id prefix role } } }"""


def _gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    body: dict[str, Any] = client.post("/graphql", json={"query": query,
                                                         "variables": variables}).json()
    return body


def test_anonymous_callers_get_only_the_public_routes(guarded: Guarded) -> None:
    assert httpx.get(f"{guarded.url}/healthz").status_code == 200
    response = httpx.post(f"{guarded.url}/graphql", json={"query": "{ viewer { role } }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    graphiql = httpx.get(f"{guarded.url}/graphql", headers={"Accept": "text/html"})
    assert graphiql.status_code == 303
    assert graphiql.headers["location"] == "/login?next=%2Fgraphql"
    assert httpx.get(f"{guarded.url}/auth/session").status_code == 401


def test_a_page_opened_signed_out_sends_to_sign_in_with_the_way_back(guarded: Guarded) -> None:
    page = httpx.get(f"{guarded.url}/releases/PAY-1", params={"tab": "history"},
                     headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Freleases%2FPAY-1%3Ftab%3Dhistory"
    # Another site is never where sign-in leads back to.
    odd = httpx.get(f"{guarded.url}//evil.example/x", headers={"Accept": "text/html"})
    assert odd.headers.get("location") in (None, "/login")


def test_a_login_opens_a_session_that_logout_ends_server_side(guarded: Guarded) -> None:
    browser = guarded.login(Role.RELEASE_MANAGER)
    assert browser.get("/auth/session").json() == {
        "username": guarded.username(Role.RELEASE_MANAGER), "role": "RELEASE_MANAGER",
        "via": "session"}
    stolen = dict(browser.cookies)
    assert browser.post("/auth/logout", json={}).status_code == 204
    # Replaying the old cookie does not work: the session ended in the database.
    replay = httpx.get(f"{guarded.url}/auth/session", cookies=stolen)
    assert replay.status_code == 401
    assert guarded.query_db("SELECT count(*) FROM login_sessions WHERE ended_at IS NULL "
                            "AND id = (SELECT max(id) FROM login_sessions)") == [(0,)]


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(guarded: Guarded) -> None:
    origin = {"Origin": guarded.origin}
    wrong = httpx.post(f"{guarded.url}/auth/login", headers=origin,
                       json={"username": guarded.username(Role.VIEWER), "password": "nope"})
    unknown = httpx.post(f"{guarded.url}/auth/login", headers=origin,
                         json={"username": "nobody-here", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_logins_and_failed_logins_are_audited_without_the_password(guarded: Guarded) -> None:
    httpx.post(f"{guarded.url}/auth/login", headers={"Origin": guarded.origin},
               json={"username": "audit-probe", "password": "guess-0123456789"})
    guarded.login(Role.VIEWER)
    rows = guarded.query_db("SELECT action, entity_key, reason FROM audit_events "
                            "WHERE action LIKE 'auth.%'")
    # The name typed for an unknown user is not kept: it may be a misplaced password.
    assert ("auth.login_failed", "", "unknown user") in rows
    assert any(r[0] == "auth.login" and r[1] == guarded.username(Role.VIEWER) for r in rows)
    assert "guess-0123456789" not in repr(rows) and "audit-probe" not in repr(rows)


def test_repeated_failures_slow_the_name_from_that_address(guarded: Guarded) -> None:
    answers = [httpx.post(f"{guarded.url}/auth/login", headers={"Origin": guarded.origin},
                          json={"username": "locked-probe", "password": "wrong"})
               for _ in range(7)]
    assert [a.status_code for a in answers] == [401] * 5 + [429, 429]
    assert all(int(a.headers["retry-after"]) >= 1 for a in answers[5:])


def test_a_token_is_shown_once_stored_hashed_and_works_as_a_bearer(
        guarded: Guarded, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    browser = guarded.login(Role.RELEASE_MANAGER)
    created = _gql(browser, CREATE_TOKEN, name="reporting", role="VIEWER")["data"]
    secret = created["createApiToken"]["secret"]
    assert secret.startswith(created["createApiToken"]["token"]["prefix"])
    stored = guarded.query_db("SELECT token_hash, prefix FROM api_tokens")
    assert all(secret not in str(row) for row in stored[:-1] + stored[-1:])
    assert any(len(row[0]) == 64 and row[1] == secret[:10] for row in stored)
    bearer = httpx.Client(base_url=guarded.url, headers={"Authorization": f"Bearer {secret}"})
    guarded.opened.append(bearer)
    viewer = _gql(bearer, "{ viewer { username role authMethod tokenName } }")["data"]
    assert viewer["viewer"] == {"username": guarded.username(Role.RELEASE_MANAGER),
                                "role": "VIEWER", "authMethod": "TOKEN",
                                "tokenName": "reporting"}
    # Last uses are written in batches (here every 0.2 s), not on the request's path.
    deadline = time.monotonic() + 10
    while True:
        listed = _gql(browser, "{ viewer { apiTokens { name lastUsedAt } } }")["data"]
        if any(t["name"] == "reporting" and t["lastUsedAt"]
               for t in listed["viewer"]["apiTokens"]):
            break
        assert time.monotonic() < deadline, "the token's last use was never written"
        time.sleep(0.1)
    assert "secret" not in repr(listed)
    assert secret not in caplog.text


def test_a_revoked_token_stops_working_and_both_events_are_audited(guarded: Guarded) -> None:
    browser = guarded.login(Role.VIEWER)
    created = _gql(browser, CREATE_TOKEN, name="short-lived", role="VIEWER")["data"]
    secret, token_id = (created["createApiToken"]["secret"],
                        created["createApiToken"]["token"]["id"])
    revoked = _gql(browser, "mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }",
                   id=token_id)
    assert revoked["data"]["revokeApiToken"]["revokedAt"]
    refused = httpx.post(f"{guarded.url}/graphql", json={"query": "{ viewer { role } }"},
                         headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401
    assert secret not in refused.text
    actions = {r[0] for r in guarded.query_db(
        "SELECT action FROM audit_events WHERE entity_key = 'short-lived'")}
    assert actions == {"token.create", "token.revoke"}


def test_passwords_are_stored_as_argon2id_hashes(guarded: Guarded) -> None:
    hashes = [r[0] for r in guarded.query_db("SELECT password_hash FROM users")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)


def test_a_role_change_is_audited_and_a_disabled_user_is_signed_out(guarded: Guarded) -> None:
    admin = guarded.login(Role.ADMIN)
    created = _gql(admin, """mutation { createUser(input: {username: "temp-user",
        password: "another long password", role: VIEWER}) { id } }""")["data"]
    user_id = created["createUser"]["id"]
    temp = httpx.Client(base_url=guarded.url, headers={"Origin": guarded.origin})
    guarded.opened.append(temp)
    assert temp.post("/auth/login", json={"username": "temp-user",
                                          "password": "another long password"}
                     ).status_code == 204
    _gql(admin, "mutation($id: ID!) { setUserRole(id: $id, role: RELEASE_MANAGER) { role } }",
         id=user_id)
    assert temp.get("/auth/session").json()["role"] == "RELEASE_MANAGER"
    _gql(admin, "mutation($id: ID!) { setUserDisabled(id: $id, disabled: true) { disabled } }",
         id=user_id)
    assert temp.get("/auth/session").status_code == 401
    rows = guarded.query_db("SELECT action, actor, before, after FROM audit_events "
                            "WHERE entity_key = 'temp-user' AND action LIKE 'user.%' ORDER BY id")
    assert [r[0] for r in rows] == ["user.create", "user.role", "user.disable"]
    assert rows[1][1] == guarded.username(Role.ADMIN)
    assert "another long password" not in repr(rows)


def test_a_weak_password_is_refused_with_the_rule_not_the_password(guarded: Guarded) -> None:
    body = _gql(guarded.login(Role.ADMIN), """mutation { createUser(input: {
        username: "weak-user", password: "hunter2", role: VIEWER}) { id } }""")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "hunter2" not in str(body)


def test_an_idle_session_expires(guarded: Guarded) -> None:
    browser = guarded.login(Role.VIEWER)
    latest = "SELECT last_seen_at FROM login_sessions ORDER BY id DESC LIMIT 1"
    opened = guarded.query_db(latest)
    assert browser.get("/auth/session").status_code == 200
    deadline = time.monotonic() + 10
    while guarded.query_db(latest) == opened:  # this use is written (batched, 0.2 s)
        assert time.monotonic() < deadline, "the session's last use was never written"
        time.sleep(0.05)
    guarded.execute_db("UPDATE login_sessions SET last_seen_at = '2000-01-01 00:00:00' "
                       "WHERE id = (SELECT max(id) FROM login_sessions)")
    assert browser.get("/auth/session").status_code == 401


def test_an_old_session_gets_a_fresh_cookie_and_the_old_one_stops_after_a_grace(
        guarded: Guarded) -> None:
    browser = guarded.login(Role.VIEWER)
    old = dict(browser.cookies)
    guarded.execute_db("UPDATE login_sessions SET rotated_at = '2000-01-01 00:00:00' "
                       "WHERE id = (SELECT max(id) FROM login_sessions)")
    rotated = browser.get("/auth/session")
    assert rotated.status_code == 200 and "set-cookie" in rotated.headers
    assert browser.get("/auth/session").status_code == 200  # the new cookie works
    # Requests already in flight with the old cookie still pass, for a short grace...
    assert httpx.get(f"{guarded.url}/auth/session", cookies=old).status_code == 200
    guarded.execute_db("UPDATE login_sessions SET previous_valid_until = "
                       "'2000-01-01 00:00:00' WHERE id = (SELECT max(id) FROM login_sessions)")
    # ...and not after it.
    assert httpx.get(f"{guarded.url}/auth/session", cookies=old).status_code == 401
