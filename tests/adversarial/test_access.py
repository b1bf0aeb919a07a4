"""Access, tried as an attacker would: over HTTP against a real hub, on both databases.

Who reads the audit trail, who can slow whose logins, whether a browser's
parallel requests survive a cookie rotation, what one user may spend, how long
tokens live, whether a signed webhook body can be replayed, what the dashboard
lets a browser do, and whether a storm of logins stalls anyone else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db.models import Role
from api.demo import WEBHOOK_SECRET
from api.schema.ids import to_global_id
from tests.adversarial.conftest import PASSWORD, Hub, Upstreams, start_hub
from tests.support import databases
from tests.support.databases import BACKENDS, fresh_database

TRUSTED_PROXY = {"server": {"forwarded_allow_ips": ["127.0.0.1"]}}
AUDIT_NODE = """query($id: ID!) { node(id: $id) { ... on AuditEvent { action actor } } }"""
CREATE_TOKEN = """mutation($name: String!) {
  createApiToken(input: {name: $name, role: VIEWER}) { secret } }"""
CREATE_USER = """mutation($name: String!, $password: String!) {
  createUser(input: {username: $name, password: $password, role: RELEASE_MANAGER}) { id } }"""


# --- helpers ---------------------------------------------------------------------------------

def query_db(hub: Hub, sql: str) -> list[tuple[Any, ...]]:
    return databases.query_db(hub.database_url, sql)


def execute_db(hub: Hub, sql: str) -> None:
    databases.execute_db(hub.database_url, sql)


def login(hub: Hub, username: str, password: str, address: str | None = None
          ) -> httpx.Response:
    headers = {"Origin": hub.url}
    if address is not None:
        headers["X-Forwarded-For"] = address
    return httpx.post(f"{hub.url}/auth/login", headers=headers,
                      json={"username": username, "password": password}, timeout=30)


def gql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(hub: Hub, secret: str) -> httpx.Client:
    client = httpx.Client(base_url=hub.url, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"})
    hub.opened.append(client)
    return client


def browser(hub: Hub, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=hub.url, timeout=30, headers={"Origin": hub.url})
    hub.opened.append(client)
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 204, response.text
    return client


def new_user(hub: Hub) -> tuple[str, str]:
    """A fresh release manager, made by an admin's session: (name, password)."""
    name, password = f"user-{uuid.uuid4().hex[:8]}", "a fresh long password"
    body = gql(hub.login(Role.ADMIN), CREATE_USER, name=name, password=password)
    assert not body.get("errors"), body
    return name, password


@pytest.fixture(scope="module", params=BACKENDS)
def proxied(request: pytest.FixtureRequest, upstreams: Upstreams,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub behind a proxy on 127.0.0.1 (the tests), which says who the client is."""
    backend: str = request.param
    tmp: Path = tmp_path_factory.mktemp(f"proxied-{backend}")
    with fresh_database(backend, tmp) as url, \
            start_hub(upstreams, url, backend, **TRUSTED_PROXY) as running:
        yield running


# --- (a) the audit trail by role ------------------------------------------------------------

def test_viewers_read_release_audit_events_and_only_admins_read_access_events(
        hub: Hub) -> None:
    admin, manager = hub.login(Role.ADMIN), hub.login(Role.RELEASE_MANAGER)
    assert not gql(admin, CREATE_TOKEN, name=f"probe-{uuid.uuid4().hex[:6]}").get("errors")
    key = f"AUD-{uuid.uuid4().hex[:6].upper()}"
    created = gql(manager, """mutation($k: String!) { createRelease(input: {key: $k,
        name: "Audit probe", type: PROJECT}) { key } }""", k=key)
    assert not created.get("errors"), created
    events = dict(query_db(hub, "SELECT action, max(id) FROM audit_events WHERE action IN "
                                "('auth.login', 'token.create', 'release.create') "
                                "GROUP BY action"))
    ids = {action: to_global_id("AuditEvent", pk) for action, pk in events.items()}
    assert set(ids) == {"auth.login", "token.create", "release.create"}

    viewer, rm = hub.client(Role.VIEWER), hub.client(Role.RELEASE_MANAGER)
    for client in (viewer, rm):
        for action in ("auth.login", "token.create"):
            assert client.data(AUDIT_NODE, {"id": ids[action]})["node"] is None, action
        assert client.data(AUDIT_NODE, {"id": ids["release.create"]})["node"]["action"] \
            == "release.create"
    admin_view = hub.client(Role.ADMIN).data(AUDIT_NODE, {"id": ids["token.create"]})
    assert admin_view["node"]["action"] == "token.create"


def test_a_user_name_typed_at_a_failed_login_for_nobody_is_not_stored(hub: Hub) -> None:
    typed = f"Winter2026-{uuid.uuid4().hex[:8]}"  # a password typed into the user field
    assert login(hub, typed, "whatever it was").status_code == 401
    rows = query_db(hub, "SELECT actor, entity_key, reason, before, after FROM audit_events "
                         "WHERE action = 'auth.login_failed'")
    assert rows, "the failed login is audited"
    assert typed not in repr(rows)
    assert any(row[0] == "(unknown user)" and row[2] == "unknown user" for row in rows)


# --- (b) login throttling ---------------------------------------------------------------------

def test_failures_from_one_address_do_not_keep_the_user_out_from_another(proxied: Hub) -> None:
    admin = proxied.username(Role.ADMIN)
    answers = [login(proxied, admin, "a guess", "203.0.113.7").status_code for _ in range(8)]
    assert answers[-1] == 429  # the attacker's address is slowed down...
    # ...and the admin, from their own address, signs in at once.
    assert login(proxied, admin, PASSWORD, "198.51.100.9").status_code == 204


def test_each_further_failure_doubles_the_wait(proxied: Hub) -> None:
    name, address = proxied.username(Role.VIEWER), "203.0.113.50"
    assert [login(proxied, name, "nope", address).status_code for _ in range(5)] == [401] * 5
    waits: list[int] = []
    for _ in range(3):
        if waits:
            time.sleep(waits[-1] + 0.1)  # honour the Retry-After, as a polite client would
            assert login(proxied, name, "nope", address).status_code == 401
        slowed = login(proxied, name, "nope", address)
        assert slowed.status_code == 429
        assert slowed.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        waits.append(int(slowed.headers["retry-after"]))
        assert waits[-1] <= 4, waits  # a growing delay, not a lock
    assert waits == [1, 2, 4]


def test_ipv6_clients_are_counted_by_their_64_network(proxied: Hub) -> None:
    name = proxied.username(Role.RELEASE_MANAGER)
    for host in range(1, 7):  # a fresh address of the same /64 each time
        login(proxied, name, "nope", f"2001:db8:1:2::{host:x}")
    assert login(proxied, name, PASSWORD, "2001:db8:1:2::ff").status_code == 429
    assert login(proxied, name, PASSWORD, "2001:db8:1:3::1").status_code == 204


@pytest.fixture(scope="module")
def unproxied(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Hub]:
    """A hub that trusts no proxy, with a tight per-address login budget."""
    tmp: Path = tmp_path_factory.mktemp("unproxied")
    with fresh_database("sqlite", tmp) as url, start_hub(
            upstreams, url, "sqlite", server={"forwarded_allow_ips": []},
            security={"login_attempts_per_minute": 8}) as running:
        yield running


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(unproxied: Hub) -> None:
    name = unproxied.username(Role.VIEWER)
    # Failures under invented addresses all count for the one real peer...
    for i in range(5):
        assert login(unproxied, name, "nope", f"192.0.2.{i + 1}").status_code == 401
    assert login(unproxied, name, PASSWORD, "198.51.100.77").status_code == 429
    # ...and so do attempts against the per-address budget, whatever address they claim.
    answers = [login(unproxied, f"someone-{i}", "nope", f"192.0.2.{100 + i}").status_code
               for i in range(4)]
    assert answers[-1] == 429


# --- (c) session rotation -------------------------------------------------------------------

def test_parallel_requests_with_a_cookie_due_for_rotation_all_pass(hub: Hub) -> None:
    signed_in = hub.login(Role.VIEWER)
    cookies = dict(signed_in.cookies)
    execute_db(hub, "UPDATE login_sessions SET rotated_at = '2000-01-01 00:00:00+00:00' "
                    "WHERE id = (SELECT max(id) FROM login_sessions)")
    start = threading.Barrier(6)

    def request(_: int) -> httpx.Response:
        with httpx.Client(base_url=hub.url, timeout=30, cookies=cookies,
                          headers={"Origin": hub.url}) as tab:
            start.wait()
            return tab.post("/graphql", json={"query": "{ viewer { username } }"})

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(request, range(6)))
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    rotated = [a for a in answers if "set-cookie" in a.headers]
    assert len(rotated) == 1  # one request rotated; the others rode the grace
    fresh = httpx.Cookies()
    fresh.extract_cookies(rotated[0])
    assert httpx.get(f"{hub.url}/auth/session", cookies=fresh).status_code == 200


# --- (d) rate limit ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def budgeted(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Hub]:
    """A hub whose callers get 6 requests at once and one more a minute."""
    tmp: Path = tmp_path_factory.mktemp("budgeted")
    with fresh_database("sqlite", tmp) as url, start_hub(
            upstreams, url, "sqlite",
            limits={"rate_limit_burst": 6, "rate_limit_per_minute": 1}) as running:
        yield running


def test_two_tokens_of_one_user_share_one_budget(budgeted: Hub) -> None:
    session = budgeted.login(Role.RELEASE_MANAGER)
    second = gql(session, CREATE_TOKEN, name="second")["data"]["createApiToken"]["secret"]  # 1
    first, other = budgeted.client(Role.RELEASE_MANAGER).http, bearer(budgeted, second)
    answers = [first.post("/graphql", json={"query": "{ __typename }"}).status_code
               for _ in range(3)]  # 4
    answers += [other.post("/graphql", json={"query": "{ __typename }"}).status_code
                for _ in range(3)]  # 6, then over
    assert answers == [200] * 5 + [429]


def test_each_operation_of_a_batch_counts(budgeted: Hub) -> None:
    client = budgeted.client(Role.ADMIN).http
    batch = client.post("/graphql", json=[{"query": "{ __typename }"}] * 6)
    assert batch.status_code == 200 and len(batch.json()) == 6
    after = client.post("/graphql", json={"query": "{ __typename }"})
    assert after.status_code == 429
    assert after.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


# --- (e) token lifetime -----------------------------------------------------------------------

def test_a_password_change_revokes_the_users_tokens(hub: Hub) -> None:
    name, password = new_user(hub)
    own = browser(hub, name, password)
    secret = gql(own, CREATE_TOKEN, name="ci")["data"]["createApiToken"]["secret"]
    token = bearer(hub, secret)
    assert token.post("/graphql", json={"query": "{ viewer { username } }"}).status_code == 200
    changed = gql(own, """mutation($old: String!, $new: String!) {
        changePassword(currentPassword: $old, newPassword: $new) }""",
                  old=password, new="another fresh long password")
    assert changed["data"] == {"changePassword": True}, changed
    assert token.post("/graphql", json={"query": "{ viewer { username } }"}).status_code == 401
    reasons = query_db(hub, "SELECT reason FROM audit_events WHERE action = 'token.revoke' "
                            "AND entity_key = 'ci' ORDER BY id DESC")
    assert reasons and reasons[0] == ("password changed",)


def test_disabling_a_user_revokes_their_tokens_for_good(hub: Hub) -> None:
    name, password = new_user(hub)
    secret = gql(browser(hub, name, password), CREATE_TOKEN,
                 name="deploy-bot")["data"]["createApiToken"]["secret"]
    token = bearer(hub, secret)
    admin = hub.login(Role.ADMIN)
    users = gql(admin, "{ users { id username } }")["data"]["users"]
    user_id = next(u["id"] for u in users if u["username"] == name)
    toggle = "mutation($id: ID!, $d: Boolean!) { setUserDisabled(id: $id, disabled: $d) " \
             "{ disabled } }"
    assert not gql(admin, toggle, id=user_id, d=True).get("errors")
    assert not gql(admin, toggle, id=user_id, d=False).get("errors")
    refused = token.post("/graphql", json={"query": "{ viewer { username } }"})
    assert refused.status_code == 401


def test_an_admin_token_cannot_create_users(hub: Hub) -> None:
    name = f"minted-{uuid.uuid4().hex[:8]}"
    error = hub.client(Role.ADMIN).error(CREATE_USER, {"name": name,
                                                       "password": "a fresh long password"})
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert query_db(hub, f"SELECT count(*) FROM users WHERE username = '{name}'") == [(0,)]


def test_an_admin_token_cannot_promote_a_user_or_take_over_an_account(hub: Hub) -> None:
    viewer = hub.username(Role.VIEWER)
    [(user_pk, password_hash, role)] = query_db(
        hub, f"SELECT id, password_hash, role FROM users WHERE username = '{viewer}'")
    user_id = to_global_id("User", user_pk)
    token = hub.client(Role.ADMIN)
    promote = token.error("mutation($id: ID!) { setUserRole(id: $id, role: ADMIN) { role } }",
                          {"id": user_id})
    take_over = token.error("mutation($id: ID!, $p: String!) { resetUserPassword(id: $id, "
                            "password: $p) { username } }",
                            {"id": user_id, "p": "an attacker's long password"})
    assert promote["extensions"]["code"] == take_over["extensions"]["code"] == "FORBIDDEN"
    assert query_db(hub, f"SELECT id, password_hash, role FROM users WHERE id = {user_pk}") \
        == [(user_pk, password_hash, role)]
    # A person signed in as admin still can.
    session = hub.login(Role.ADMIN)
    answer = session.post("/graphql", json={
        "query": "mutation($id: ID!) { setUserRole(id: $id, role: RELEASE_MANAGER) { role } }",
        "variables": {"id": user_id}}).json()
    assert answer["data"]["setUserRole"]["role"] == "RELEASE_MANAGER"
    session.post("/graphql", json={
        "query": "mutation($id: ID!) { setUserRole(id: $id, role: VIEWER) { role } }",
        "variables": {"id": user_id}})


# --- (f) webhooks -----------------------------------------------------------------------------

def signed(hub: Hub, kind: str, body: bytes, delivery: str, event: str) -> httpx.Request:
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json"}
    if kind == "github":
        headers |= {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": delivery,
                    "X-GitHub-Event": event}
    else:
        headers |= {"X-Hub-Signature": signature, "X-Atlassian-Webhook-Identifier": delivery}
    return httpx.Request("POST", f"{hub.url}/webhooks/{kind}/{kind}", content=body,
                         headers=headers)


def test_a_signed_body_replayed_under_a_fresh_delivery_id_is_a_duplicate(hub: Hub) -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": uuid.uuid4().int % 10**9}
                      ).encode()
    with httpx.Client(timeout=30) as client:
        first = client.send(signed(hub, "github", body, str(uuid.uuid4()), "ping"))
        replay = client.send(signed(hub, "github", body, str(uuid.uuid4()), "ping"))
    assert first.json() == {"status": "pong"}
    assert replay.json() == {"status": "duplicate"}


def test_a_jira_delivery_without_a_timestamp_is_refused(hub: Hub) -> None:
    body = json.dumps({"webhookEvent": "jira:issue_updated",
                       "issue": {"key": f"X-{uuid.uuid4().hex[:6]}"}}).encode()
    with httpx.Client(timeout=30) as client:
        refused = client.send(signed(hub, "jira", body, str(uuid.uuid4()), ""))
        fresh = json.dumps({"webhookEvent": "jira:issue_updated",
                            "timestamp": int(time.time() * 1000)}).encode()
        accepted = client.send(signed(hub, "jira", fresh, str(uuid.uuid4()), ""))
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "STALE_DELIVERY"
    assert accepted.status_code == 204


# --- (g) browser protections ------------------------------------------------------------------

def test_the_dashboard_graphiql_and_the_api_forbid_framing_and_sniffing(hub: Hub) -> None:
    signed_in = hub.login(Role.VIEWER)
    html = {"Accept": "text/html"}
    answers = {"login page": httpx.get(f"{hub.url}/login", headers=html),
               "dashboard": signed_in.get("/releases", headers=html),
               "graphiql": signed_in.get("/graphiql", headers=html)}
    for name, response in answers.items():
        assert response.status_code in (200, 503), name  # 503: the page saying "not built"
        policy = dict(d.strip().partition(" ")[::2] for d in
                      response.headers.get("content-security-policy", "").split(";"))
        assert policy.get("script-src") == "'self'", name
        assert policy.get("frame-ancestors") == "'none'", name
        assert response.headers.get("x-frame-options") == "DENY", name
        assert response.headers.get("x-content-type-options") == "nosniff", name
        assert response.headers.get("referrer-policy") == "same-origin", name
    api = hub.client(Role.VIEWER).http.post("/graphql", json={"query": "{ __typename }"})
    refused = httpx.post(f"{hub.url}/graphql", json={"query": "{ __typename }"})
    for response in (api, refused):
        assert response.headers.get("x-content-type-options") == "nosniff"
        assert response.headers.get("x-frame-options") == "DENY"
        # Data, never a document: nothing may run, load or frame in a JSON answer.
        assert response.headers.get("content-security-policy") == (
            "default-src 'none'; frame-ancestors 'none'")
        # A referrer policy rules the requests a document makes; an answer makes none.
        assert "referrer-policy" not in response.headers


# --- (h) password hashing off the event loop --------------------------------------------------

LOGINS = 20


def test_a_storm_of_logins_stalls_no_other_user_and_breaks_no_write(hub: Hub) -> None:
    reader, writer = hub.client(Role.RELEASE_MANAGER).http, hub.client(Role.ADMIN).http
    reader.post("/graphql", json={"query": "{ applications { key } }"})  # warm
    # Clients made up front: making one costs the test process (the hub's too) a moment.
    # Logins may queue for the hashing pool (on a busy machine, for long); others may not.
    browsers = [httpx.Client(base_url=hub.url, timeout=180, headers={"Origin": hub.url})
                for _ in range(LOGINS)]
    hub.opened.extend(browsers)
    start = threading.Barrier(LOGINS + 1)

    def sign_in(tab: httpx.Client) -> int:
        start.wait()
        return tab.post("/auth/login", json={"username": hub.username(Role.VIEWER),
                                             "password": PASSWORD}).status_code

    def write(i: int) -> tuple[int, str]:
        key = f"W{uuid.uuid4().hex[:6].upper()}{i}"
        answer = writer.post("/graphql", json={
            "query": "mutation($k: String!) { createApplication(input: {key: $k, "
                     "name: $k}) { key } }", "variables": {"k": key}})
        return answer.status_code, answer.text

    latencies: list[float] = []
    with ThreadPoolExecutor(LOGINS + 4) as pool:
        logins = [pool.submit(sign_in, tab) for tab in browsers]
        start.wait()
        writes = [pool.submit(write, i) for i in range(4)]
        while not all(f.done() for f in logins) or not latencies:
            began = time.perf_counter()
            answer = reader.post("/graphql", json={"query": "{ applications { key } }"})
            latencies.append(time.perf_counter() - began)
            assert answer.status_code == 200
        statuses = [f.result() for f in logins]
        written = [f.result() for f in writes]
    assert statuses == [204] * LOGINS
    assert all(status == 200 and '"errors"' not in body for status, body in written), written
    # Generous: with the hashes on the event loop this waited for all of them (19 s).
    assert max(latencies) < 1.5, latencies
