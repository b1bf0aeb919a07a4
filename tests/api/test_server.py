"""The server's HTTP surface: health, readiness, GraphiQL, guards, the SDL."""

from __future__ import annotations

import subprocess
import sys

import httpx

from api.schema import export_sdl
from tests.api.conftest import Server
from tests.support.graphql import GraphQLClient
from tests.support.paths import REPO


def test_healthz_answers_without_the_database(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


def test_readyz_reports_the_reachable_database(server: Server) -> None:
    body = httpx.get(f"{server.url}/readyz").json()
    assert body["status"] == "ok"
    assert body["database"] == ("sqlite" if server.backend == "sqlite" else "postgresql")


def test_a_browser_asking_for_graphql_gets_our_bundled_graphiql(server: Server) -> None:
    response = httpx.get(f"{server.url}/graphql", headers={
        "accept": "text/html", "authorization": f"Bearer {server.token}"})
    assert response.status_code == 307
    assert response.headers["location"] == "/graphiql"  # the dashboard's own GraphiQL page


def test_the_smoke_query_of_the_readme_answers(gql: GraphQLClient) -> None:
    data = gql.data("{ releases(first: 5) { totalCount nodes { key } } }")
    assert isinstance(data["releases"]["totalCount"], int)


def test_a_too_deep_query_is_refused_with_a_code(gql: GraphQLClient) -> None:
    nested = "parent { " * 20 + "key" + " }" * 20
    error = gql.post("{ releases { nodes { " + nested + " } } }")["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_too_many_aliases_are_refused_with_a_code(gql: GraphQLClient) -> None:
    aliases = " ".join(f"a{i}: applications {{ key }}" for i in range(50))
    error = gql.post("{ " + aliases + " }")["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_a_syntax_error_is_a_parse_failure(gql: GraphQLClient) -> None:
    error = gql.post("{ releases { ")["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_an_unknown_field_is_a_validation_failure(gql: GraphQLClient) -> None:
    error = gql.post("{ nope }")["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_calendar_lists_releases_and_blackout_windows_in_time_order(gql: GraphQLClient) -> None:
    gql.data("""mutation { createBlackoutWindow(input: {name: "Year end freeze",
        start: "2031-12-20T00:00:00Z", end: "2032-01-03T00:00:00Z", tiers: [PRODUCTION],
        reason: "Peak trading"}) { id tiers } }""")
    gql.data("""mutation { createRelease(input: {key: "CAL-1", name: "Calendar one",
        type: PROJECT, windowStart: "2031-12-15T20:00:00Z", windowEnd: "2031-12-15T22:00:00Z"})
        { id } }""")
    entries = gql.data("""{ calendar(from: "2031-12-01T00:00:00Z", to: "2032-01-31T00:00:00Z") {
        __typename ... on Release { key } ... on BlackoutWindow { name reason } } }""")["calendar"]
    assert entries == [{"__typename": "Release", "key": "CAL-1"},
                       {"__typename": "BlackoutWindow", "name": "Year end freeze",
                        "reason": "Peak trading"}]
    error = gql.error('{ calendar(from: "2031-12-02T00:00:00Z", to: "2031-12-01T00:00:00Z") '
                      '{ __typename } }')
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}


def test_schema_graphql_is_what_the_code_exports() -> None:
    committed = (REPO / "schema.graphql").read_text()
    assert committed == export_sdl(), "schema.graphql drifted: run `heatshield schema > " \
                                      "schema.graphql`"


def test_the_cli_prints_the_same_schema() -> None:
    printed = subprocess.run([sys.executable, "-m", "api.cli", "schema"], capture_output=True,
                             text=True, check=True, cwd=REPO).stdout
    assert printed == export_sdl()
