"""The link pickers' search: what a release could be linked to, found upstream over real
sockets, with keys that `linkSource` takes as they are."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.demo import build_sandboxes, demo_connectors, demo_environ
from api.settings import load_settings
from connectors.sandbox.registry import default_registry
from connectors.sandbox.world import build_world
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

TOKEN = new_secret()
CANDIDATES = """
query($source: String!, $kind: LinkKind!, $container: String!, $search: String, $first: Int!) {
  linkCandidates(source: $source, kind: $kind, container: $container, search: $search,
                 first: $first) { source kind key name container url detail closed date }
}"""


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world(seed=11, scale=1)
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield Upstreams(url, world)


@pytest.fixture(scope="module")
def gql(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[GraphQLClient]:
    tmp = tmp_path_factory.mktemp("candidates")
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
        connectors=[c.model_dump() | {"timeout_seconds": 2, "max_retries": 0}
                    for c in demo_connectors(upstreams.url)],
        federation={"cache_ttl_seconds": 0, "request_deadline_seconds": 30.0})
    app = create_app(settings, environ=demo_environ(), startup=[principal_step(TOKEN)])
    with serve_asgi(app) as url:
        client = GraphQLClient(url, token=TOKEN)
        yield client
        client.close()


@pytest.fixture(autouse=True)
def no_faults(upstreams: Upstreams) -> Iterator[None]:
    upstreams.clear_faults()
    yield
    upstreams.clear_faults()


def ask(gql: GraphQLClient, **variables: object) -> list[dict[str, object]]:
    found: list[dict[str, object]] = gql.data(CANDIDATES, {"first": 20, "search": None}
                                              | variables)["linkCandidates"]
    return found


def test_a_jira_projects_versions_are_offered_with_the_key_link_source_takes(
        upstreams: Upstreams, gql: GraphQLClient) -> None:
    app = upstreams.world.applications[0]
    mine = [r for r in upstreams.world.releases if r.app_key == app.key]
    found = ask(gql, source="jira", kind="PLANNED_VERSION", container=app.key.lower())
    assert {c["name"] for c in found} == {r.version_name for r in mine}
    assert {c["key"] for c in found} == {str(r.jira_version_id) for r in mine}
    assert all(c["kind"] == "PLANNED_VERSION" and c["container"] == app.key for c in found)
    # Open versions come before released ones.
    closed = [bool(c["closed"]) for c in found]
    assert closed == sorted(closed)


def test_a_search_narrows_the_versions_to_those_whose_name_holds_it(
        upstreams: Upstreams, gql: GraphQLClient) -> None:
    app = upstreams.world.applications[0]
    wanted = next(r for r in upstreams.world.releases if r.app_key == app.key)
    found = ask(gql, source="jira", kind="PLANNED_VERSION", container=app.key,
                search=wanted.version_name.upper())
    assert [c["name"] for c in found] == [wanted.version_name]


def test_a_repositorys_milestones_are_offered_as_owner_repo_number(
        upstreams: Upstreams, gql: GraphQLClient) -> None:
    app = upstreams.world.applications[0]
    repo = f"{app.repo_owner}/{app.repo_name}"
    mine = [r for r in upstreams.world.releases if r.app_key == app.key]
    found = ask(gql, source="github", kind="MILESTONE", container=repo)
    assert {c["key"] for c in found} == {f"{repo}#{r.milestone_number}" for r in mine}
    assert {c["name"] for c in found} == {r.version_name for r in mine}
    # And what is offered links as it is.
    release = gql.data("""mutation { createRelease(input: {key: "PICK-1", name: "Picked",
        type: PROJECT}) { id } }""")["createRelease"]
    link = gql.data("""mutation($id: ID!, $key: String!) { linkSource(releaseId: $id,
        link: {source: "github", kind: MILESTONE, externalKey: $key}) { externalKey } }""",
                    {"id": release["id"], "key": found[0]["key"]})["linkSource"]
    assert link["externalKey"] == found[0]["key"]


def test_change_requests_are_found_by_number_or_by_words_of_their_title(
        upstreams: Upstreams, gql: GraphQLClient) -> None:
    change = next(c for c in upstreams.world.change_requests if c.itsm == "servicenow")
    number_of = default_registry.get("servicenow").change_number
    assert number_of is not None
    number = number_of(change)
    by_number = ask(gql, source="servicenow", kind="CHANGE_REQUEST", container="",
                    search=number.lower())
    assert [c["key"] for c in by_number] == [number]
    word = change.title.split()[0]
    by_words = ask(gql, source="servicenow", kind="CHANGE_REQUEST", container="", search=word)
    assert number in {c["key"] for c in by_words}
    assert all(word.casefold() in str(c["name"]).casefold() or word.casefold()
               in str(c["key"]).casefold() for c in by_words)


def test_asking_a_source_for_what_it_cannot_hold_names_what_was_wrong(
        gql: GraphQLClient) -> None:
    error = gql.error(CANDIDATES, {"source": "servicenow", "kind": "MILESTONE",
                                   "container": "acme/x", "search": None, "first": 5})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "no versions or milestones" in error["message"]
    error = gql.error(CANDIDATES, {"source": "nowhere", "kind": "CHANGE_REQUEST",
                                   "container": "", "search": None, "first": 5})
    assert "'nowhere' is not a configured source" in error["message"]
    error = gql.error(CANDIDATES, {"source": "github", "kind": "CODE_RANGE",
                                   "container": "acme/x", "search": None, "first": 5})
    assert "owner/repo@base...head" in error["message"]
    error = gql.error(CANDIDATES, {"source": "jira", "kind": "PLANNED_VERSION",
                                   "container": "PAY", "search": None, "first": 0})
    assert error["extensions"]["field"] == "first"


def test_a_failing_tracker_answers_empty_with_a_coded_error_naming_it(
        upstreams: Upstreams, gql: GraphQLClient) -> None:
    upstreams.fault("jira", error_rate=1.0)
    body = gql.post(CANDIDATES, {"source": "jira", "kind": "PLANNED_VERSION",
                                 "container": upstreams.world.applications[1].key,
                                 "search": None, "first": 5})
    assert body["data"]["linkCandidates"] == []
    [error] = body["errors"]
    assert error["extensions"]["source"] == "jira"
    assert error["extensions"]["code"].startswith("UPSTREAM_")
