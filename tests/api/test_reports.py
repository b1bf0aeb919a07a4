"""Published reports: a saved query fetched as CSV or JSON by a plain HTTP client.

A real server over SQLite and PostgreSQL. Three users: the report's owner (a
release manager), another user (a viewer) and an admin. The owner's releases of
one application are the report's rows.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.db import models as m
from api.settings import load_settings
from tests.support.databases import BACKENDS, fresh_database, query_db
from tests.support.graphql import GraphQLClient, add_principal, new_secret
from tests.support.server import serve_asgi

PASSWORD = "a long enough report password"

APP = "RPT"
QUERY = """query Shipped($app: String) {
  releases(filter: {application: $app}, first: 50) {
    nodes { key name status applications { key } } } }"""
COLUMNS = [{"path": "key", "header": "Key"}, {"path": "name", "header": "Name"},
           {"path": "status", "header": "Status"},
           {"path": "applications.key", "header": "Applications"}]
# Names a spreadsheet must read back as they are: a comma, quotes, a line break, accents.
NAMES = ["Spring, the big one", 'The "quiet" release', "Two\nlines", "Éclair — ünïcode"]

CREATE = """mutation($input: ReportInput!) { createReport(input: $input) {
  id slug csvUrl jsonUrl rowsPath columns { path header } } }"""
PUBLISH = """mutation($id: ID!, $name: String!) { publishReport(id: $id, tokenName: $name) {
  secret token { id prefix } report { slug publishedAt } } }"""


@dataclass
class Site:
    url: str
    database_url: str
    owner: GraphQLClient
    other: GraphQLClient
    admin: GraphQLClient
    leaver: GraphQLClient  # a viewer the tests disable
    owner_api_token: str

    def report(self, client: GraphQLClient | None = None, **given: Any) -> dict[str, Any]:
        """Save a report (by default the owner's releases report) and return it."""
        name = given.pop("name", f"Releases {uuid.uuid4().hex[:8]}")
        report_input = {"name": name, "query": QUERY, "variables": {"app": APP},
                        "rowsPath": "releases.nodes", "columns": COLUMNS} | given
        created: dict[str, Any] = (client or self.owner).data(
            CREATE, {"input": report_input})["createReport"]
        return created

    def publish(self, report_id: str, token_name: str = "tests",
                client: GraphQLClient | None = None) -> dict[str, Any]:
        published: dict[str, Any] = (client or self.owner).data(
            PUBLISH, {"id": report_id, "name": token_name})["publishReport"]
        return published


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    backend: str = request.param
    users = [("report-owner", m.Role.RELEASE_MANAGER), ("someone-else", m.Role.VIEWER),
             ("report-admin", m.Role.ADMIN), ("leaver", m.Role.VIEWER)]
    tokens = [new_secret() for _ in users]

    async def add_users(sessions: Any) -> None:
        for (username, role), token in zip(users, tokens, strict=True):
            await add_principal(sessions, username=username, role=role, token=token,
                                password=PASSWORD)

    with fresh_database(backend, tmp_path_factory.mktemp(backend)) as url:
        settings = load_settings(None, database={"url": url},
                                 limits={"rate_limit_burst": 1000,
                                         "rate_limit_per_minute": 6000})
        with serve_asgi(create_app(settings, startup=[add_users])) as base_url:
            clients = [GraphQLClient.signed_in(base_url, username, PASSWORD)
                       for username, _ in users]
            site = Site(base_url, url, *clients, owner_api_token=tokens[0])
            site.admin.data("""mutation { createApplication(input: {key: "RPT",
                               name: "Reporting"}) { key } }""")
            for number, name in enumerate(NAMES, start=1):
                site.owner.data("""mutation($i: CreateReleaseInput!) {
                    createRelease(input: $i) { key } }""", {"i": {
                    "key": f"RPT-{number}", "name": name, "type": "PROJECT",
                    "applicationKeys": [APP]}})
            try:
                yield site
            finally:
                for client in clients:
                    client.close()


def _graphql_rows(site: Site) -> list[list[str]]:
    """What the owner reads through /graphql, as the report's cells."""
    nodes = site.owner.data(QUERY, {"app": APP})["releases"]["nodes"]
    return [[n["key"], n["name"], n["status"], "; ".join(a["key"] for a in n["applications"])]
            for n in nodes]


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


def test_a_published_report_is_fetched_as_csv_with_the_rows_of_its_graphql_query(
        site: Site) -> None:
    report = site.report()
    published = site.publish(report["id"])
    response = httpx.get(report["csvUrl"], headers=_bearer(published["secret"]))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    table = _csv(response.text)
    assert table[0] == ["Key", "Name", "Status", "Applications"]
    assert table[1:] == _graphql_rows(site)
    assert sorted(row[1] for row in table[1:]) == sorted(NAMES)  # quoting round-trips
    assert response.text.endswith("\r\n") and not response.text.startswith("\ufeff")
    with_bom = httpx.get(report["csvUrl"] + "?bom=1", headers=_bearer(published["secret"]))
    assert with_bom.text.startswith("\ufeff") and _csv(with_bom.text[1:]) == table


def test_the_same_rows_come_as_json_and_the_bare_url_follows_accept(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])["secret"]
    as_json = httpx.get(report["jsonUrl"], headers=_bearer(secret))
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    body = as_json.json()
    assert body["columns"] == ["Key", "Name", "Status", "Applications"]
    assert [[r["Key"], r["Name"], r["Status"], "; ".join(r["Applications"])]
            for r in body["rows"]] == _graphql_rows(site)
    assert [list(r) for r in body["rows"]] == [body["columns"]] * len(body["rows"])
    bare = f"{site.url}/reports/{report['slug']}"
    assert httpx.get(bare, headers=_bearer(secret) | {"Accept": "text/csv"}).text \
        == httpx.get(report["csvUrl"], headers=_bearer(secret)).text
    assert httpx.get(bare, headers=_bearer(secret) | {
        "Accept": "text/csv;q=0.5, application/json"}).json() == body
    refused = httpx.get(bare, headers=_bearer(secret) | {"Accept": "image/png"})
    assert refused.status_code == 406 and _codes(refused) == ["NOT_ACCEPTABLE"]


def test_the_token_may_come_in_the_query_string_and_the_report_by_its_number(
        site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])["secret"]
    by_slug = httpx.get(report["csvUrl"], params={"token": secret})
    assert by_slug.status_code == 200
    number = query_db(site.database_url,
                      f"SELECT id FROM reports WHERE slug = '{report['slug']}'")[0][0]
    by_number = httpx.get(f"{site.url}/reports/{number}.csv", headers=_bearer(secret))
    assert by_number.status_code == 200 and by_number.text == by_slug.text


def test_without_a_token_or_with_a_wrong_one_the_report_is_refused(site: Site) -> None:
    report = site.report()
    site.publish(report["id"])
    nothing = httpx.get(report["csvUrl"])
    assert nothing.status_code == 401 and _codes(nothing) == ["UNAUTHENTICATED"]
    assert nothing.headers["www-authenticate"] == "Bearer"
    for wrong in ("hsr_" + "x" * 43, "not-a-token", new_secret()):
        response = httpx.get(report["csvUrl"], headers=_bearer(wrong))
        assert response.status_code == 401, wrong
        assert "Name" not in response.text


def test_a_token_of_another_report_is_refused(site: Site) -> None:
    mine, theirs = site.report(), site.report()
    site.publish(mine["id"])
    secret = site.publish(theirs["id"])["secret"]
    response = httpx.get(mine["csvUrl"], headers=_bearer(secret))
    assert response.status_code == 403 and _codes(response) == ["FORBIDDEN"]
    missing = httpx.get(f"{site.url}/reports/no-such-report.csv", headers=_bearer(secret))
    assert missing.status_code == 403  # a token tells nothing of which reports exist


def test_a_revoked_token_is_refused_and_unpublishing_revokes_every_token(site: Site) -> None:
    report = site.report()
    first, second = site.publish(report["id"], "excel"), site.publish(report["id"], "grafana")
    revoked = site.owner.data("""mutation($id: ID!) { revokeReportToken(id: $id) {
        revokedAt } }""", {"id": first["token"]["id"]})["revokeReportToken"]
    assert revoked["revokedAt"]
    assert httpx.get(report["csvUrl"], headers=_bearer(first["secret"])).status_code == 401
    assert httpx.get(report["csvUrl"], headers=_bearer(second["secret"])).status_code == 200
    site.owner.data("mutation($id: ID!) { unpublishReport(id: $id) { publishedAt } }",
                    {"id": report["id"]})
    assert httpx.get(report["csvUrl"], headers=_bearer(second["secret"])).status_code == 401


@pytest.mark.parametrize(("query", "says"), [
    ('mutation { createRelease(input: {key: "RPT-99", name: "x", type: PROJECT}) { key } }',
     "must be a query, not a mutation"),
    ("subscription { releaseChanged { __typename } }", "must be a query, not a subscription"),
    ("query { releases(first: 5) { nodes { key } }", "does not parse"),
    ("query { releases(first: 5) { nodes { keyy } } }", "does not fit the graph"),
    ("query A { releases { totalCount } } query B { releases { totalCount } }",
     "exactly one operation"),
    ("query { releases(first: 5) { nodes { " + "children { " * 12 + "key" + " }" * 14 + " }",
     "over a limit"),
    ("query { a: releases(first: 100) { nodes { gates { __typename } } }"
     " b: releases(first: 100) { nodes { gates { __typename } } } }", "costs over"),
])
def test_a_query_that_would_write_or_cannot_run_is_refused_when_saved(
        site: Site, query: str, says: str) -> None:
    before = query_db(site.database_url, "SELECT count(*) FROM reports")[0][0]
    error = site.owner.error(CREATE, {"input": {"name": "Refused", "query": query}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "input.query"
    assert says in error["message"]
    assert query_db(site.database_url, "SELECT count(*) FROM reports")[0][0] == before
    assert query_db(site.database_url, "SELECT count(*) FROM releases WHERE key = 'RPT-99'") \
        == [(0,)]


@pytest.mark.parametrize(("given", "field", "says"), [
    ({"rowsPath": "releases.nodes.key"}, "input.rowsPath", "selects a value"),
    ({"rowsPath": "releases.edges"}, "input.rowsPath", "selects no 'edges'"),
    ({"columns": [{"path": "title"}]}, "input.columns[0].path", "selects no 'title'"),
    ({"columns": [{"path": "key"}, {"path": "applications"}]}, "input.columns[1].path",
     "selects an object; name one of its fields: key"),
    ({"variables": {"app": 12}}, "input.variables", "do not fit the query"),
    ({"slug": "123"}, "input.slug", "not only digits"),
])
def test_rows_columns_and_variables_are_checked_against_the_query_when_saved(
        site: Site, given: dict[str, Any], field: str, says: str) -> None:
    report_input = {"name": "Checked", "query": QUERY, "variables": {"app": APP},
                    "rowsPath": "releases.nodes"} | given
    error = site.owner.error(CREATE, {"input": report_input})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert says in error["message"]


def test_without_columns_every_selected_value_is_a_column_in_the_querys_order(
        site: Site) -> None:
    report = site.report(columns=None)
    assert [c["path"] for c in report["columns"]] == ["key", "name", "status",
                                                      "applications.key"]
    assert [c["header"] for c in report["columns"]] == [c["path"] for c in report["columns"]]


def test_concurrent_fetches_all_answer_the_same_rows(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])["secret"]

    def fetch(_: int) -> tuple[int, str]:
        response = httpx.get(report["csvUrl"], headers=_bearer(secret), timeout=30)
        return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(fetch, range(24)))
    expected = [["Key", "Name", "Status", "Applications"], *_graphql_rows(site)]
    assert [status for status, _ in answers] == [200] * 24
    assert all(_csv(text) == expected for _, text in answers)


def test_a_report_reads_as_its_owner_now_and_never_more(site: Site) -> None:
    # A viewer may save a query of admin-only data, but their token reads only what they may.
    users = site.report(client=site.other, query="{ users { username } }", variables={},
                        rowsPath="users", columns=None)
    secret = site.publish(users["id"], client=site.other)["secret"]
    refused = httpx.get(users["jsonUrl"], headers=_bearer(secret))
    assert refused.status_code == 422 and _codes(refused) == ["FORBIDDEN"]
    assert "report-admin" not in refused.text
    # The same query is the admin's: it reads the users (the list the admin sees).
    admins = site.report(client=site.admin, query="{ users { username } }", variables={},
                         rowsPath="users", columns=None)
    rows = httpx.get(admins["jsonUrl"], headers=_bearer(
        site.publish(admins["id"], client=site.admin)["secret"])).json()["rows"]
    assert {"username": "someone-else"} in rows
    # A disabled owner's reports stop answering: their tokens go with the owner's own.
    report = site.report(client=site.leaver)
    secret = site.publish(report["id"], client=site.leaver)["secret"]
    assert httpx.get(report["csvUrl"], headers=_bearer(secret)).status_code == 200
    leaver = next(u["id"] for u in site.admin.data("{ users { id username } }")["users"]
                  if u["username"] == "leaver")
    disable = "mutation($id: ID!, $d: Boolean!) { setUserDisabled(id: $id, disabled: $d) { id } }"
    site.admin.data(disable, {"id": leaver, "d": True})
    assert httpx.get(report["csvUrl"], headers=_bearer(secret)).status_code == 401
    site.admin.data(disable, {"id": leaver, "d": False})
    assert httpx.get(report["csvUrl"], headers=_bearer(secret)).status_code == 401


def test_reports_are_their_owners_and_an_admin_can_only_close_them(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])["secret"]
    listed = "{ reports { slug owner tokens { prefix } } }"
    assert report["slug"] not in str(site.other.data(listed))
    for mutation in ("publishReport(id: $id) { secret }", "deleteReport(id: $id)",
                     "unpublishReport(id: $id) { slug }"):
        error = site.other.error(f"mutation($id: ID!) {{ {mutation} }}", {"id": report["id"]})
        assert error["extensions"]["code"] == "NOT_FOUND", mutation
    # An admin sees it, may not issue a token that reads as the owner, but may close it.
    seen = [r for r in site.admin.data(listed)["reports"] if r["slug"] == report["slug"]]
    assert seen == [{"slug": report["slug"], "owner": "report-owner",
                     "tokens": [{"prefix": secret[:10]}]}]
    error = site.admin.error("mutation($id: ID!) { publishReport(id: $id) { secret } }",
                             {"id": report["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"
    site.admin.data("mutation($id: ID!) { unpublishReport(id: $id) { slug } }",
                    {"id": report["id"]})
    assert httpx.get(report["csvUrl"], headers=_bearer(secret)).status_code == 401


def test_report_tokens_are_issued_from_a_signed_in_session_not_with_a_token(
        site: Site) -> None:
    report = site.report()
    by_token = GraphQLClient(site.url, token=site.owner_api_token)
    try:
        error = by_token.error(PUBLISH, {"id": report["id"], "name": "minted"})
    finally:
        by_token.close()
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "signed-in session" in error["message"]


def test_a_token_is_stored_only_as_a_digest_and_opens_nothing_else(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])["secret"]
    stored = query_db(site.database_url, "SELECT token_hash, prefix FROM report_tokens")
    assert all(secret not in (digest, prefix) for digest, prefix in stored)
    assert (secret[:10],) in [(prefix,) for _, prefix in stored]
    graphql = httpx.post(f"{site.url}/graphql", headers=_bearer(secret),
                         json={"query": "{ reports { slug } }"})
    assert graphql.status_code == 401
    export = httpx.get(f"{site.url}/export/releases.csv", headers=_bearer(secret))
    assert export.status_code == 401


def test_editing_a_report_keeps_its_tokens_and_changes_its_rows(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])["secret"]
    site.owner.data("""mutation($id: ID!, $input: ReportInput!) {
        updateReport(id: $id, input: $input) { slug } }""", {"id": report["id"], "input": {
        "name": "Keys only", "slug": report["slug"], "query": QUERY,
        "variables": {"app": APP}, "rowsPath": "releases.nodes",
        "columns": [{"path": "key", "header": "Release"}]}})
    table = _csv(httpx.get(report["csvUrl"], headers=_bearer(secret)).text)
    assert table == [["Release"], *[[row[0]] for row in _graphql_rows(site)]]


def test_a_query_that_takes_a_cursor_is_read_page_after_page(site: Site) -> None:
    paged = """query($app: String, $after: String) {
      releases(filter: {application: $app}, first: 3, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { key name status applications { key } } } }"""
    report = site.report(query=paged)
    secret = site.publish(report["id"])["secret"]
    table = _csv(httpx.get(report["csvUrl"], headers=_bearer(secret)).text)
    assert len(NAMES) > 3  # more rows than one page holds
    assert table[1:] == _graphql_rows(site)


def test_two_reports_never_share_a_slug(site: Site) -> None:
    first = site.report()
    error = site.owner.error(CREATE, {"input": {
        "name": "Another", "slug": first["slug"], "query": QUERY, "variables": {"app": APP},
        "rowsPath": "releases.nodes"}})
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["field"] == "input.slug"


def test_a_deleted_report_takes_its_tokens_with_it(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])["secret"]
    assert site.owner.data("mutation($id: ID!) { deleteReport(id: $id) }",
                           {"id": report["id"]}) == {"deleteReport": report["id"]}
    assert httpx.get(report["csvUrl"], headers=_bearer(secret)).status_code == 401
    assert query_db(site.database_url, "SELECT count(*) FROM report_tokens WHERE prefix = "
                                       f"'{secret[:10]}'") == [(0,)]
