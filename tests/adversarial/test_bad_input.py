"""Bad input gets a coded refusal, writes nothing and leaks nothing.

Every case is sent over HTTP to a real hub (SQLite and PostgreSQL). A refusal is
BAD_USER_INPUT (or an HTTP 400 with a code), never INTERNAL_SERVER_ERROR or a
bare 500; the count of what it would have written is unchanged; and neither the
answer nor the server's log holds a password, a hash or SQL parameters.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from api.db.models import Role
from tests.adversarial.conftest import Hub, Upstreams, start_hub
from tests.support.databases import fresh_database
from tests.support.graphql import GraphQLClient

CREATE_RELEASE = """mutation($input: CreateReleaseInput!) {
  createRelease(input: $input) { id key } }"""
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { id username } }"""
COUNT_RELEASES = "{ releases(first: 0) { totalCount } }"
USERS = "{ users { username } }"
NEW_PASSWORD = "a secret new password 7781"


def _b64(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def post_raw(hub: Hub, body: str | bytes, token_role: Role = Role.RELEASE_MANAGER,
             path: str = "/graphql") -> httpx.Response:
    """A body sent as given (json.dumps escapes lone surrogates; httpx's json= cannot)."""
    return httpx.post(hub.url + path, content=body, timeout=30, headers={
        "Content-Type": "application/json",
        "Authorization": f"Bearer {hub.tokens[token_role]}"})


def admin_session_headers(hub: Hub) -> dict[str, str]:
    """Headers of an admin's signed-in browser session: users are never made with a token."""
    session = hub.login(Role.ADMIN)
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    return {"Content-Type": "application/json", "Origin": hub.url, "Cookie": cookie}


def post_as_admin(hub: Hub, body: str | bytes) -> httpx.Response:
    """A body sent as given from an admin's session (user management needs one)."""
    return httpx.post(hub.url + "/graphql", content=body, timeout=30,
                      headers=admin_session_headers(hub))


def operation(query: str, variables: dict[str, Any] | None = None) -> str:
    return json.dumps({"query": query, "variables": variables or {}})


def refusal_code(response: httpx.Response) -> str:
    """The code of a refusal: a GraphQL error (200) or a coded 400; never a server error."""
    assert response.status_code in (200, 400), (response.status_code, response.text)
    body = response.json()
    assert body.get("errors"), body
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert len(codes) == 1, body
    return codes.pop()


def release_count(rm: GraphQLClient) -> int:
    count: int = rm.data(COUNT_RELEASES)["releases"]["totalCount"]
    return count


def release_input(key: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "name": "bad input probe", "type": "PROJECT", **extra}


@pytest.fixture
def errors_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """What the server logs at INFO and above while a test runs (it is in-process)."""
    caplog.set_level(logging.INFO)
    return caplog


def assert_nothing_secret(texts: list[str], *secrets: str) -> None:
    for secret in ("$argon2", "[parameters:", *secrets):
        leaked = [t for t in texts if secret in t]
        assert not leaked, f"{secret!r} leaked: {leaked[0][:400]}"


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return texts


# --- datetimes --------------------------------------------------------------------------

@pytest.mark.parametrize("instant", [
    "2026-01-01T00:00:00",            # naive: which moment?
    "0000-01-01T00:00:00Z",           # year 0
    "10000-01-01T00:00:00Z",          # past datetime's range
    "9999-12-31T23:59:59-12:00",      # in range until the offset is applied
    "0001-01-01T00:00:00+14:00",
])
def test_naive_or_out_of_range_datetime_is_bad_user_input_and_writes_nothing(
        hub: Hub, rm: GraphQLClient, instant: str) -> None:
    before = release_count(rm)
    key = f"DT-{hub.backend}-{abs(hash(instant)) % 10_000}"
    as_variable = post_raw(hub, operation(CREATE_RELEASE, {"input": release_input(
        key, windowStart=instant, windowEnd="2030-01-01T00:00:00Z")}))
    assert refusal_code(as_variable) == "BAD_USER_INPUT"
    as_literal = post_raw(hub, operation(
        f'mutation {{ createRelease(input: {{key: "{key}", name: "x", type: PROJECT, '
        f'windowStart: "{instant}", windowEnd: "2030-01-01T00:00:00Z"}}) {{ id }} }}'))
    assert refusal_code(as_literal) == "BAD_USER_INPUT"
    as_filter = post_raw(hub, operation(
        "query($at: DateTime) { releases(filter: {windowFrom: $at}) { totalCount } }",
        {"at": instant}))
    assert refusal_code(as_filter) == "BAD_USER_INPUT"
    assert release_count(rm) == before


# --- text no store can keep -------------------------------------------------------------

@pytest.mark.parametrize("bad", ["nul\x00byte", "lone\ud800surrogate"])
def test_nul_or_lone_surrogate_in_any_string_is_refused_coded_and_writes_nothing(
        hub: Hub, rm: GraphQLClient, bad: str) -> None:
    before = release_count(rm)
    key = f"TXT-{hub.backend}-{len(bad)}"
    cases = [
        operation(CREATE_RELEASE, {"input": release_input(key, name=bad)}),
        operation(CREATE_RELEASE, {"input": release_input(key, description=bad)}),
        operation("query($k: String!) { release(key: $k) { id } }", {"k": bad}),
        operation("query($a: String) { releases(filter: {application: $a}) { totalCount } }",
                  {"a": bad}),
    ]
    for body in cases:
        assert refusal_code(post_raw(hub, body)) == "BAD_USER_INPUT", body
    # The same text written as a GraphQL escape inside the document.
    escaped = json.dumps(bad)[1:-1]
    literal = operation(f'{{ release(key: "{escaped}") {{ id }} }}')
    code = refusal_code(post_raw(hub, literal))
    assert code in ("BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED"), code
    assert release_count(rm) == before


@pytest.mark.parametrize("username,password", [
    ("nul\x00name", "a long enough test password"),
    ("release_manager-user", "pass\x00word and more"),
    ("lone\udc00name", "a long enough test password"),
    ("release_manager-user", "lone \ud800 surrogate password"),
])
def test_login_with_nul_or_lone_surrogate_is_a_coded_400(
        hub: Hub, username: str, password: str) -> None:
    response = httpx.post(hub.url + "/auth/login", timeout=30, headers={
        "Content-Type": "application/json", "Origin": hub.url},
        content=json.dumps({"username": username, "password": password}))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- bodies -----------------------------------------------------------------------------

DEEP = "[" * 50_000 + "]" * 50_000
NON_OBJECT_BODIES = ["null", "[5]", '"x"', "5", '[{"query": "{ __typename }"}, 7]', DEEP,
                     json.dumps({"query": "{ __typename }", "variables": {"v": json.loads(
                         "[" * 200 + "]" * 200)}})]


@pytest.mark.parametrize("body", NON_OBJECT_BODIES,
                         ids=["null", "list-of-int", "string", "number", "mixed-batch",
                              "deep-array", "deep-variables"])
def test_non_object_or_deeply_nested_body_is_a_coded_400(hub: Hub, body: str) -> None:
    for path in ("/graphql", "/auth/login"):
        response = httpx.post(hub.url + path, content=body, timeout=30, headers={
            "Content-Type": "application/json", "Origin": hub.url,
            "Authorization": f"Bearer {hub.tokens[Role.VIEWER]}"})
        assert response.status_code == 400, (path, response.status_code, response.text[:300])
        code = response.json()["errors"][0]["extensions"]["code"]
        assert code in ("BAD_REQUEST", "BAD_USER_INPUT"), (path, code)
    # A list of operations is a batch, and batches still work.
    response = post_raw(hub, json.dumps([{"query": "{ __typename }"},
                                         {"query": "{ releases(first: 0) { totalCount } }"}]))
    assert response.status_code == 200, response.text
    first, second = response.json()
    assert first["data"] == {"__typename": "Query"}
    assert "totalCount" in second["data"]["releases"]


# --- ids and cursors --------------------------------------------------------------------

@pytest.mark.parametrize("global_id", [
    _b64("Release:99999999999999999999999"), _b64("Release:2147483648"),
    _b64("Release:-1"), _b64("Release: 5"), _b64("Release:1_0"),
])
def test_huge_or_malformed_id_in_node_is_bad_user_input(hub: Hub, global_id: str) -> None:
    for query in ("query($id: ID!) { node(id: $id) { id } }",
                  "mutation($id: ID!) { deleteRelease(id: $id) { id } }"):
        response = post_raw(hub, operation(query, {"id": global_id}))
        assert refusal_code(response) == "BAD_USER_INPUT", response.text


@pytest.mark.parametrize("values", [
    [None, 10**20], [None, 2**31], ["2026-01-01T00:00:00", 1], [None, True],
])
def test_huge_or_malformed_cursor_is_bad_user_input(hub: Hub, values: list[Any]) -> None:
    cursor = _b64(json.dumps(values))
    response = post_raw(hub, operation(
        "query($after: String) { releases(first: 2, after: $after) { totalCount } }",
        {"after": cursor}))
    assert refusal_code(response) == "BAD_USER_INPUT", response.text


# --- internal errors --------------------------------------------------------------------

async def _sql(database_url: str, *statements: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _break_user_inserts(hub: Hub) -> tuple[str, ...]:
    """SQL that makes INSERT INTO users fail with a non-constraint database error."""
    if hub.backend == "sqlite":
        return ("CREATE TRIGGER probe_fail BEFORE INSERT ON users "
                "BEGIN SELECT no_such_function(NEW.password_hash); END",)
    return ("CREATE FUNCTION probe_fail() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'probe failure'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER probe_fail BEFORE INSERT ON users "
            "FOR EACH ROW EXECUTE FUNCTION probe_fail()")


def _mend_user_inserts(hub: Hub) -> tuple[str, ...]:
    if hub.backend == "sqlite":
        return ("DROP TRIGGER probe_fail",)
    return ("DROP TRIGGER probe_fail ON users", "DROP FUNCTION probe_fail()")


@pytest.fixture
def broken_user_inserts(hub: Hub) -> Iterator[None]:
    asyncio.run(_sql(hub.database_url, *_break_user_inserts(hub)))
    try:
        yield
    finally:
        asyncio.run(_sql(hub.database_url, *_mend_user_inserts(hub)))


def test_internal_error_reaches_client_as_reference_and_log_without_parameters(
        hub: Hub, broken_user_inserts: None, errors_log: pytest.LogCaptureFixture) -> None:
    admin = hub.client(Role.ADMIN)
    response = post_as_admin(hub, operation(CREATE_USER, {"input": {
        "username": f"broken-{hub.backend}", "password": NEW_PASSWORD, "role": "VIEWER"}}))
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    error_id = error["extensions"]["errorId"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["message"] == f"internal error; reference {error_id}"
    logged = [r for r in errors_log.records if r.name == "heatshield.errors"]
    assert any(error_id in r.getMessage() for r in logged), [r.getMessage() for r in logged]
    assert_nothing_secret([response.text, *log_texts(errors_log)], NEW_PASSWORD)
    assert f"broken-{hub.backend}" not in {u["username"] for u in admin.data(USERS)["users"]}


async def _race_user_creation(hub: Hub, body: str, callers: int) -> list[httpx.Response]:
    """`callers` concurrent createUser calls that all pass the "is the name free?" check.

    On PostgreSQL the test holds a lock that lets reads through but blocks inserts into
    users until every caller waits on it (seen in pg_locks), so every one of
    them has read "free" before the first insert lands: the race, made certain.
    """
    headers = admin_session_headers(hub)
    async with httpx.AsyncClient(base_url=hub.url, timeout=60, headers=headers) as client:
        if hub.backend != "postgres":
            return list(await asyncio.gather(*(client.post("/graphql", content=body)
                                               for _ in range(callers))))
        engine = create_async_engine(hub.database_url)
        try:
            async with engine.connect() as holder, engine.connect() as watcher:
                await holder.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
                calls = [asyncio.ensure_future(client.post("/graphql", content=body))
                         for _ in range(callers)]
                waiting = 0
                for _ in range(1200):  # until all wait on the lock (at most ~60 s)
                    waiting = (await watcher.execute(text(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted"
                        " AND relation = 'users'::regclass"))).scalar_one()
                    if waiting >= callers or any(c.done() for c in calls):
                        break
                    await asyncio.sleep(0.05)
                await holder.rollback()  # releases the lock
                responses = list(await asyncio.gather(*calls))
            assert waiting >= callers, f"only {waiting} of {callers} callers reached the insert"
            return responses
        finally:
            await engine.dispose()


def test_duplicate_user_race_is_conflict_and_leaks_no_hash(
        hub: Hub, errors_log: pytest.LogCaptureFixture) -> None:
    name = f"racer-{hub.backend}"
    body = operation(CREATE_USER, {"input": {"username": name, "password": NEW_PASSWORD,
                                             "role": "VIEWER"}})
    responses = asyncio.run(_race_user_creation(hub, body, callers=8))
    codes = []
    for response in responses:
        assert response.status_code == 200, response.text
        for error in response.json().get("errors") or []:
            codes.append(error["extensions"]["code"])
    assert len(codes) == 7, codes
    assert set(codes) <= {"BAD_USER_INPUT", "CONFLICT"}, codes
    if hub.backend == "postgres":
        assert set(codes) == {"CONFLICT"}, codes
    assert_nothing_secret([r.text for r in responses] + log_texts(errors_log), NEW_PASSWORD)
    users = hub.client(Role.ADMIN).data(USERS)["users"]
    assert [u["username"] for u in users].count(name) == 1


# --- what the logs and messages tell strangers ------------------------------------------

class Lines(logging.Handler):
    """Every line a logger writes, whatever propagation other code configured."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_access_log_line_carries_no_query_string(hub: Hub) -> None:
    access = logging.getLogger("heatshield.access")
    lines, level = Lines(), access.level
    access.addHandler(lines)
    access.setLevel(logging.INFO)
    try:
        query = ('mutation { changePassword(currentPassword: "old secret 123456", '
                 f'newPassword: "{NEW_PASSWORD}") }}')
        response = httpx.get(hub.url + "/graphql", params={"query": query}, timeout=30,
                             headers={"Authorization": f"Bearer {hub.tokens[Role.VIEWER]}",
                                      "Accept": "application/json"})
        # The line is written once the answer has gone, so the client may read it first.
        deadline = time.monotonic() + 10
        while not any("/graphql" in line for line in lines.lines) \
                and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        access.removeHandler(lines)
        access.setLevel(level)
    assert response.status_code >= 400
    served = [line for line in lines.lines if "/graphql" in line]
    assert any('"GET /graphql HTTP/1.1"' in line for line in served), lines.lines
    assert_nothing_secret(served, "?query", "changePassword", "old secret", NEW_PASSWORD)


@pytest.fixture(scope="module")
def production_hub(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[Hub]:
    tmp: Path = tmp_path_factory.mktemp("production")
    with fresh_database("sqlite", tmp) as url, start_hub(
            upstreams, url, "sqlite", environment="production",
            security={"secret_key": "a production secret key for tests only",
                      "login_attempts_per_minute": 10_000}) as running:
        yield running


@pytest.mark.parametrize("query", [
    "{ releasez(first: 1) { totalCount } }",                                  # field
    "{ releases(frist: 1) { totalCount } }",                                  # argument
    "{ releases(filter: {statu: [PLANNED]}) { totalCount } }",                # input field
    "{ releases(filter: {status: [PLANED]}) { totalCount } }",                # enum value
    "query($f: ReleaseFiltr) { releases(filter: $f) { totalCount } }",        # type
])
def test_production_gives_no_suggestions(production_hub: Hub, query: str) -> None:
    response = post_raw(production_hub, operation(query))
    assert response.status_code in (200, 400), response.text
    errors = response.json()["errors"]
    assert errors and all(e["extensions"]["code"] != "INTERNAL_SERVER_ERROR" for e in errors)
    assert not [e for e in errors if "Did you mean" in e["message"]], errors


# --- keys -------------------------------------------------------------------------------

# (Whitespace such as a newline was refused in release keys and user names already.)
HIDDEN = {"rtl-override": "\u202e", "zero-width-space": "\u200b", "zero-width-joiner": "\u200d",
          "bell": "\x07", "escape": "\x1b"}
HIDDEN_IN_LINKS = {**HIDDEN, "newline": "\n"}


@pytest.mark.parametrize("hidden", list(HIDDEN.values()), ids=list(HIDDEN))
def test_release_key_with_hidden_characters_is_refused(
        hub: Hub, rm: GraphQLClient, hidden: str) -> None:
    before = release_count(rm)
    for key in (f"REL{hidden}1", f"REL-2{hidden}X"):
        response = post_raw(hub, operation(CREATE_RELEASE, {"input": release_input(key)}))
        assert refusal_code(response) == "BAD_USER_INPUT", response.text
    assert release_count(rm) == before
    existing = rm.data("{ releases(first: 1) { nodes { id key } } }")["releases"]["nodes"][0]
    response = post_raw(hub, operation(
        "mutation($id: ID!, $key: String!) { updateRelease(id: $id, input: {key: $key}) "
        "{ key } }", {"id": existing["id"], "key": f"X{hidden}Y"}))
    assert refusal_code(response) == "BAD_USER_INPUT", response.text
    assert rm.data("query($k: String!) { release(key: $k) { id } }",
                   {"k": existing["key"]})["release"]["id"] == existing["id"]


@pytest.mark.parametrize("hidden", list(HIDDEN.values()), ids=list(HIDDEN))
def test_user_name_with_hidden_characters_is_refused(hub: Hub, hidden: str) -> None:
    admin = hub.client(Role.ADMIN)
    before = len(admin.data(USERS)["users"])
    response = post_as_admin(hub, operation(CREATE_USER, {"input": {
        "username": f"ad{hidden}min", "password": NEW_PASSWORD, "role": "VIEWER"}}))
    assert refusal_code(response) == "BAD_USER_INPUT", response.text
    assert len(admin.data(USERS)["users"]) == before


@pytest.mark.parametrize("hidden", list(HIDDEN_IN_LINKS.values()), ids=list(HIDDEN_IN_LINKS))
def test_link_key_with_hidden_characters_is_refused(
        hub: Hub, rm: GraphQLClient, hidden: str) -> None:
    release = rm.data("{ releases(first: 1) { nodes { id key links { id } } } }"
                      )["releases"]["nodes"][0]
    response = post_raw(hub, operation(
        "mutation($id: ID!, $link: SourceLinkInput!) { linkSource(releaseId: $id, link: $link)"
        " { id } }", {"id": release["id"], "link": {
            "source": "jira", "kind": "PLANNED_VERSION", "externalKey": f"100{hidden}01"}}))
    assert refusal_code(response) == "BAD_USER_INPUT", response.text
    after = rm.data("query($k: String!) { release(key: $k) { links { id } } }",
                    {"k": release["key"]})["release"]["links"]
    assert len(after) == len(release["links"])


def fullwidth(ascii_text: str) -> str:
    """The fullwidth forms (U+FF01..U+FF5E) of printable ASCII, as some keyboards type it."""
    return "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)


def test_fullwidth_keys_are_nfkc_normalised(hub: Hub, rm: GraphQLClient) -> None:
    key = f"NFKC-{hub.backend.upper()}"
    created = rm.data(CREATE_RELEASE, {"input": release_input(fullwidth(key))})
    assert created["createRelease"]["key"] == key
    response = post_as_admin(hub, operation(CREATE_USER, {"input": {
        "username": fullwidth(f"wide-{hub.backend}"), "password": NEW_PASSWORD,
        "role": "VIEWER"}}))
    body = response.json()
    assert not body.get("errors"), body
    user = body["data"]
    assert user["createUser"]["username"] == f"wide-{hub.backend}"
