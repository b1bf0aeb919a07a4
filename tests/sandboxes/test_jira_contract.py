"""Reference tests: the JIRA sandbox against Atlassian's published schemas and recordings.

The project's own contract tests (tests/sandboxes/test_contracts.py) always
run; these compare with material beside the clone, in `../shared`, and skip
without it (see tests/support/paths.py).

Cloud responses are validated against the JSON schemas of the operations in
Atlassian's OpenAPI description; Data Center responses are compared with
responses recorded from a real JIRA server, along the paths a connector reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest

from connectors.jira.sandbox.app import create_app
from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_TOKEN, DEMO_USER
from connectors.sandbox.world import World, build_world
from tests.support.paths import FIXTURES, SPECS
from tests.support.server import serve_asgi
from tests.support.shapes import every_path, shape_mismatches

pytestmark = pytest.mark.reference

SPEC = SPECS / "jira-cloud-platform.subset-release-hub.json"
RECORDED = FIXTURES / "jira" / "jira-ruby"

# What a connector reads from an issue, relative to the issue object.
ISSUE_PATHS = [
    "id", "key", "self", "fields", "fields.summary", "fields.status", "fields.status.name",
    "fields.status.id", "fields.issuetype.name", "fields.priority.name", "fields.assignee",
    "fields.assignee.displayName", "fields.assignee.emailAddress", "fields.assignee.name",
    "fields.reporter.name", "fields.reporter.displayName", "fields.project.key",
    "fields.project.id", "fields.fixVersions", "fields.labels", "fields.created",
    "fields.updated", "fields.resolution", "fields.resolutiondate", "fields.description",
]


def _openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` is JSON Schema's `type: [t, "null"]`."""
    if isinstance(node, dict):
        out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") and "type" in node:
            out["type"] = [node["type"], "null"]
        return out
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    return node


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC.read_text())
    return loaded


def response_schema(path: str, method: str = "get", status: str = "200") -> dict[str, Any]:
    """The operation's response schema, with `components` beside it so `$ref`s resolve."""
    operation = spec()["paths"][path][method]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    return {**_openapi_to_jsonschema(schema),
            "components": _openapi_to_jsonschema(spec()["components"])}


def assert_valid(body: Any, path: str, method: str = "get") -> None:
    jsonschema.Draft7Validator(response_schema(path, method)).validate(body)


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7)


@pytest.fixture(scope="module")
def cloud(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(create_app(world, mode="cloud")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as client:
        yield client


@pytest.fixture(scope="module")
def datacenter(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(create_app(world, mode="datacenter")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_PASSWORD)) as client:
        yield client


# --- Cloud against the published schemas ----------------------------------------------

@pytest.mark.parametrize("params", [
    {"jql": "project = PAY", "maxResults": 3},
    {"jql": "project = PAY", "maxResults": 3, "fields": "*all", "expand": "changelog,names"},
    {"jql": "key = PAY-1", "fields": "summary,status,fixVersions"},
])
def test_search_jql_matches_search_and_reconcile_results(cloud: httpx.Client,
                                                         params: dict[str, Any]) -> None:
    body = cloud.get("/rest/api/3/search/jql", params=params).json()
    assert_valid(body, "/rest/api/3/search/jql")
    assert body["issues"]


def test_post_search_jql_matches_its_schema(cloud: httpx.Client) -> None:
    body = cloud.post("/rest/api/3/search/jql",
                      json={"jql": "project = CHK", "fields": ["*navigable"]}).json()
    assert_valid(body, "/rest/api/3/search/jql", "post")


def test_issue_with_changelog_matches_issue_bean(cloud: httpx.Client, world: World) -> None:
    item = next(w for w in world.work_items if w.changelog)
    body = cloud.get(f"/rest/api/3/issue/{item.key}", params={"expand": "changelog"}).json()
    assert_valid(body, "/rest/api/3/issue/{issueIdOrKey}")
    assert body["changelog"]["histories"]


def test_issue_changelog_page_matches_page_bean_changelog(cloud: httpx.Client,
                                                          world: World) -> None:
    item = next(w for w in world.work_items if len(w.changelog) > 1)
    body = cloud.get(f"/rest/api/3/issue/{item.key}/changelog", params={"maxResults": 1}).json()
    assert_valid(body, "/rest/api/3/issue/{issueIdOrKey}/changelog")
    assert "nextPage" in body


def test_versions_match_the_version_schemas(cloud: httpx.Client) -> None:
    versions = cloud.get("/rest/api/3/project/PAY/versions").json()
    assert_valid(versions, "/rest/api/3/project/{projectIdOrKey}/versions")
    page = cloud.get("/rest/api/3/project/PAY/version", params={"maxResults": 2}).json()
    assert_valid(page, "/rest/api/3/project/{projectIdOrKey}/version")
    one = cloud.get(f"/rest/api/3/version/{versions[0]['id']}").json()
    assert_valid(one, "/rest/api/3/version/{id}")


def test_a_created_version_matches_the_version_schema(world: World) -> None:
    with serve_asgi(create_app(world, mode="cloud")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as client:
        made = client.post("/rest/api/3/version", json={
            "name": "2031.01", "projectId": world.app("PAY").jira_project_id,
            "releaseDate": "2031-01-15", "description": "Spring"})
        unknown = client.post("/rest/api/3/version", json={"name": "x", "projectId": 1})
    assert made.status_code == 201
    jsonschema.Draft7Validator(response_schema("/rest/api/3/version", "post", "201")).validate(
        made.json())
    assert unknown.status_code == 404


@pytest.mark.parametrize(("path", "resource"), [
    ("/rest/api/3/myself", "/rest/api/3/myself"),
    ("/rest/api/3/serverInfo", "/rest/api/3/serverInfo"),
    ("/rest/api/3/statuscategory", "/rest/api/3/statuscategory"),
])
def test_site_resources_match_their_schemas(cloud: httpx.Client, path: str,
                                            resource: str) -> None:
    assert_valid(cloud.get(path).json(), resource)


def test_bulk_fetches_match_their_schemas(cloud: httpx.Client, world: World) -> None:
    keys = [w.key for w in world.work_items if w.changelog][:3]
    issues = cloud.post("/rest/api/3/issue/bulkfetch", json={
        "issueIdsOrKeys": keys, "fields": ["*all"], "expand": ["names", "changelog"]})
    assert_valid(issues.json(), "/rest/api/3/issue/bulkfetch", "post")
    changelogs = cloud.post("/rest/api/3/changelog/bulkfetch",
                            json={"issueIdsOrKeys": keys, "maxResults": 2})
    assert changelogs.json()["nextPageToken"]
    assert_valid(changelogs.json(), "/rest/api/3/changelog/bulkfetch", "post")


def test_approximate_count_matches_its_schema(cloud: httpx.Client, world: World) -> None:
    body = cloud.post("/rest/api/3/search/approximate-count", json={"jql": "project = INV"}).json()
    assert_valid(body, "/rest/api/3/search/approximate-count", "post")
    assert body["count"] == sum(1 for w in world.work_items if w.app_key == "INV")


def test_error_bodies_are_error_collections(cloud: httpx.Client) -> None:
    schema = {"$ref": "#/components/schemas/ErrorCollection",
              "components": _openapi_to_jsonschema(spec()["components"])}
    for response in [cloud.get("/rest/api/3/search/jql", params={"jql": "bogus = 1"}),
                     cloud.get("/rest/api/3/issue/NOPE-1"),
                     cloud.post("/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": []}),
                     cloud.get("/rest/api/3/webhook"),  # a user, not an app
                     httpx.get(f"{cloud.base_url}/rest/api/3/myself")]:
        assert response.status_code >= 400
        jsonschema.Draft7Validator(schema).validate(response.json())


# --- Data Center against recorded server responses -----------------------------------------

def test_datacenter_search_matches_the_schema_and_the_recorded_search(
        datacenter: httpx.Client) -> None:
    body = datacenter.get("/rest/api/2/search", params={"jql": "project = PAY",
                                                        "maxResults": 5}).json()
    assert_valid(body, "/rest/api/3/search")
    reference = recorded("issue.json")
    top = ["expand", "startAt", "maxResults", "total", "issues"]
    assert shape_mismatches(reference, body, top) == []
    paths = [f"issues[].{p}" for p in ISSUE_PATHS]
    assert shape_mismatches(reference, body, paths) == []


def test_datacenter_search_past_the_end_matches_the_recorded_empty_page(
        datacenter: httpx.Client) -> None:
    body = datacenter.get("/rest/api/2/search", params={"jql": "project = PAY",
                                                        "startAt": 5000}).json()
    reference = recorded("empty_issues.json")
    assert shape_mismatches(reference, body, list(reference)) == []
    assert body["issues"] == [] and body["startAt"] == 5000


def test_datacenter_issue_matches_the_recorded_issue(datacenter: httpx.Client) -> None:
    body = datacenter.get("/rest/api/2/issue/PAY-1").json()
    reference = recorded("issue/10002.json")
    assert shape_mismatches(reference, body, ISSUE_PATHS) == []
    # The recording's extra navigable fields are there too, so generic readers work.
    assert set(reference["fields"]) - set(body["fields"]) <= {
        "progress", "aggregateprogress", "timetracking", "timespent", "timeestimate",
        "timeoriginalestimate", "aggregatetimespent", "aggregatetimeestimate",
        "aggregatetimeoriginalestimate"}


def test_the_shape_check_notices_a_wrong_type() -> None:
    reference = recorded("issue/10002.json")
    broken = json.loads(json.dumps(reference))
    broken["fields"]["labels"] = "not-a-list"
    del broken["fields"]["project"]
    assert shape_mismatches(reference, broken, ["fields.labels", "fields.project.key"]) == [
        "fields.labels: reference has ['array'], candidate has ['string']",
        "fields.project.key: absent from the candidate"]


# Keys a recording holds that name its own site's things rather than a field every
# answer carries: a project's role names, and time tracking the sandbox does not model.
SITE_OWN = ("roles.",)


@pytest.mark.parametrize(("recording", "method", "path", "body"), [
    ("jira-ruby/project/SAMPLEPROJECT.json", "GET", "/rest/api/2/project/PAY", None),
    ("port-ocean/raw_project.json", "GET", "/rest/api/2/project/PAY", None),
    ("jira-ruby/issue/10002/transitions.json", "GET", "/rest/api/2/issue/PAY-1/transitions",
     None),
    ("jira-ruby/issue/10002.invalid.put.json", "PUT", "/rest/api/2/issue/PAY-1",
     {"fields": {"invalid": "a field no screen has"}}),
])
def test_datacenter_answers_carry_every_path_of_the_recorded_answer(
        datacenter: httpx.Client, recording: str, method: str, path: str,
        body: Any) -> None:
    reference = json.loads((RECORDED.parent / recording).read_text())
    answer = datacenter.request(method, path, json=body)
    assert answer.status_code == (400 if method == "PUT" else 200), answer.text
    paths = [p for p in every_path(reference) if not p.startswith(SITE_OWN)]
    assert shape_mismatches(reference, answer.json(), paths) == []


def test_datacenter_comments_carry_every_path_of_the_recorded_comments(
        datacenter: httpx.Client) -> None:
    added = datacenter.post("/rest/api/2/issue/PAY-2/comment",
                            json={"body": "Verified on staging."})
    assert added.status_code == 201, added.text
    reference = recorded("issue/10002/comment.json")
    answer = datacenter.get("/rest/api/2/issue/PAY-2/comment").json()
    assert shape_mismatches(reference, answer, every_path(reference)) == []


def test_datacenter_worklogs_carry_every_path_of_the_recorded_worklogs(
        datacenter: httpx.Client) -> None:
    for body in ({"timeSpent": "18w 2d", "comment": "Some epic work."},
                 {"timeSpentSeconds": 4 * 8 * 3600, "comment": "Smaller work."}):
        added = datacenter.post("/rest/api/2/issue/PAY-4/worklog", json=body)
        assert added.status_code == 201, added.text
    reference = recorded("issue/10002/worklog.json")
    answer = datacenter.get("/rest/api/2/issue/PAY-4/worklog").json()
    assert shape_mismatches(reference, answer, every_path(reference)) == []
