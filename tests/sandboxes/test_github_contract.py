"""Reference tests: the GitHub sandbox against GitHub's published descriptions and recordings.

The project's own contract tests (tests/sandboxes/test_contracts.py) always
run; these compare with material beside the clone, in `../shared`, and skip
without it (see tests/support/paths.py). Three references, read at test time: the REST OpenAPI
subset (each response validates against its operation's schema), GitHub's
GraphQL schema (the sandbox's SDL is a true subset of it) and PyGithub's
recordings of real api.github.com calls (the sandbox's answers carry the same
keys with the same JSON types, at every level a client reads).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import Any

import graphql
import httpx
import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.github.sandbox.app import create_app
from connectors.github.sandbox.graphql_api import SCHEMA_PATH
from connectors.sandbox.kit import DEMO_TOKEN
from connectors.sandbox.world import World, build_world
from tests.support.paths import FIXTURES, SPECS
from tests.support.server import serve_asgi

pytestmark = pytest.mark.reference

REST_SPEC = SPECS / "github-rest.subset-release-hub.json"
GRAPHQL_SCHEMA = SPECS / "github-graphql.schema.octokit-graphql-schema-15.26.1.graphql"
RECORDINGS = FIXTURES / "github" / "pygithub-replaydata"
REPO = "/repos/acme-retail/payments-service"


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7)


@pytest.fixture(scope="module")
def github(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(create_app(world)) as url, httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}) as client:
        yield client


# -- REST responses against the OpenAPI description --------------------------------

def json_schema(node: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema: `nullable: true` becomes "or null"."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: json_schema(value) for key, value in node.items()
           if key not in ("nullable", "example", "examples")}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    raw = json.loads(REST_SPEC.read_text())
    return {"paths": raw["paths"], "components": json_schema(raw["components"])}


def response_validator(spec: dict[str, Any], path: str, method: str,
                       status: int) -> Draft7Validator:
    response = spec["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = json_schema(response["content"]["application/json"]["schema"])
    return Draft7Validator({**schema, "components": spec["components"]})


def assert_valid(spec: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    validator = response_validator(spec, path, method, response.status_code)
    errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:300]}" for e in errors[:10])


P = "/repos/{owner}/{repo}"
GET_OPERATIONS = [
    (P, REPO),
    (f"{P}/milestones", f"{REPO}/milestones?state=all"),
    (f"{P}/milestones/{{milestone_number}}", f"{REPO}/milestones/4"),
    (f"{P}/issues", f"{REPO}/issues?state=all&per_page=100"),
    (f"{P}/issues/{{issue_number}}", f"{REPO}/issues/1"),
    (f"{P}/pulls", f"{REPO}/pulls?state=all&per_page=100"),
    (f"{P}/pulls/{{pull_number}}", f"{REPO}/pulls/1"),
    (f"{P}/pulls/{{pull_number}}/commits", f"{REPO}/pulls/1/commits"),
    (f"{P}/compare/{{basehead}}", f"{REPO}/compare/v1.1.0...v1.3.0"),
    (f"{P}/compare/{{basehead}}", f"{REPO}/compare/v1.0.0...v1.1.0"),
    (f"{P}/tags", f"{REPO}/tags"),
    (f"{P}/releases", f"{REPO}/releases"),
    (f"{P}/releases/latest", f"{REPO}/releases/latest"),
    (f"{P}/releases/tags/{{tag}}", f"{REPO}/releases/tags/v1.2.0"),
    (f"{P}/deployments", f"{REPO}/deployments?per_page=100"),
    (f"{P}/environments", f"{REPO}/environments"),
    (f"{P}/environments/{{environment_name}}", f"{REPO}/environments/production"),
    ("/rate_limit", "/rate_limit"),
    (f"{P}/commits", f"{REPO}/commits?per_page=5"),
    ("/search/issues", "/search/issues?q=repo:acme-retail/payments-service+is:pr+is:merged"),
    (f"{P}/git/ref/{{ref}}", f"{REPO}/git/ref/heads/main"),
    (f"{P}/git/ref/{{ref}}", f"{REPO}/git/ref/tags/v1.2.0"),
    (f"{P}/git/matching-refs/{{ref}}", f"{REPO}/git/matching-refs/tags/v1"),
]


@pytest.mark.parametrize(("operation", "url"), GET_OPERATIONS,
                         ids=[url for _, url in GET_OPERATIONS])
def test_each_read_validates_against_the_published_response_schema(
        github: httpx.Client, spec: dict[str, Any], operation: str, url: str) -> None:
    response = github.get(url)
    assert response.status_code == 200, response.text
    assert_valid(spec, operation, "get", response)


def test_single_release_deployment_and_statuses_validate(
        github: httpx.Client, spec: dict[str, Any]) -> None:
    release = github.get(f"{REPO}/releases/latest").json()
    assert_valid(spec, f"{P}/releases/{{release_id}}", "get",
                 github.get(f"{REPO}/releases/{release['id']}"))
    deployment = github.get(f"{REPO}/deployments").json()[0]
    assert_valid(spec, f"{P}/deployments/{{deployment_id}}", "get",
                 github.get(f"{REPO}/deployments/{deployment['id']}"))
    assert_valid(spec, f"{P}/deployments/{{deployment_id}}/statuses", "get",
                 github.get(f"{REPO}/deployments/{deployment['id']}/statuses"))


def test_writes_and_their_errors_validate(github: httpx.Client, spec: dict[str, Any]) -> None:
    created = github.post(f"{REPO}/deployments", json={"ref": "v1.3.0", "environment": "staging"})
    assert created.status_code == 201
    assert_valid(spec, f"{P}/deployments", "post", created)
    status = github.post(f"{REPO}/deployments/{created.json()['id']}/statuses",
                         json={"state": "success", "description": "Rolled out"})
    assert status.status_code == 201
    assert_valid(spec, f"{P}/deployments/{{deployment_id}}/statuses", "post", status)
    refused = github.post(f"{REPO}/deployments", json={"environment": "staging"})
    assert refused.status_code == 422
    assert_valid(spec, f"{P}/deployments", "post", refused)
    missing = github.get(f"{REPO}/milestones/999")
    assert missing.status_code == 404
    assert_valid(spec, f"{P}/milestones/{{milestone_number}}", "get", missing)


def test_a_release_drafted_published_and_its_notes_validate(
        github: httpx.Client, spec: dict[str, Any]) -> None:
    drafted = github.post(f"{REPO}/releases", json={"tag_name": "v7.0.0", "draft": True})
    assert drafted.status_code == 201
    assert_valid(spec, f"{P}/releases", "post", drafted)
    published = github.patch(f"{REPO}/releases/{drafted.json()['id']}",
                             json={"draft": False, "name": "Payments 7"})
    assert published.status_code == 200
    assert_valid(spec, f"{P}/releases/{{release_id}}", "patch", published)
    notes = github.post(f"{REPO}/releases/generate-notes",
                        json={"tag_name": "v1.3.0", "previous_tag_name": "v1.2.0"})
    assert notes.status_code == 200
    assert_valid(spec, f"{P}/releases/generate-notes", "post", notes)
    refused = github.post(f"{REPO}/releases", json={"tag_name": "v8", "target_commitish": "x"})
    assert refused.status_code == 422
    assert_valid(spec, f"{P}/releases", "post", refused)


def test_a_milestone_created_and_closed_validates(
        github: httpx.Client, spec: dict[str, Any]) -> None:
    made = github.post(f"{REPO}/milestones", json={"title": "2027.04", "due_on":
                                                   "2027-04-16T07:00:00Z"})
    assert made.status_code == 201
    assert made.headers["location"] == made.json()["url"]
    assert_valid(spec, f"{P}/milestones", "post", made)
    closed = github.patch(f"{REPO}/milestones/{made.json()['number']}",
                          json={"state": "closed"})
    assert closed.status_code == 200
    assert_valid(spec, f"{P}/milestones/{{milestone_number}}", "patch", closed)
    refused = github.post(f"{REPO}/milestones", json={"description": "no title"})
    assert refused.status_code == 422
    assert_valid(spec, f"{P}/milestones", "post", refused)


# -- the GraphQL SDL is a subset of GitHub's ------------------------------------------

def test_the_sandbox_graphql_schema_is_a_true_subset_of_githubs() -> None:
    real = graphql.build_schema(GRAPHQL_SCHEMA.read_text(), assume_valid_sdl=True,
                                assume_valid=True)
    ours = graphql.build_schema(SCHEMA_PATH.read_text())
    checked = 0
    for name, ours_type in ours.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        real_type = real.get_type(name)
        assert real_type is not None, f"{name} is not a GitHub type"
        assert type(real_type) is type(ours_type), f"{name} is a different kind of type"
        if isinstance(ours_type, graphql.GraphQLEnumType):
            assert isinstance(real_type, graphql.GraphQLEnumType)
            assert set(ours_type.values) <= set(real_type.values), name
        if isinstance(ours_type, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
            assert isinstance(real_type, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType)
            real_interfaces = {i.name for i in real_type.interfaces}
            assert {i.name for i in ours_type.interfaces} <= real_interfaces, name
            for field_name, field in ours_type.fields.items():
                real_field = real_type.fields.get(field_name)
                assert real_field is not None, f"{name}.{field_name} does not exist"
                assert str(field.type) == str(real_field.type), f"{name}.{field_name}"
                for arg_name, arg in field.args.items():
                    real_arg = real_field.args.get(arg_name)
                    assert real_arg is not None, f"{name}.{field_name}({arg_name}) does not exist"
                    assert str(arg.type) == str(real_arg.type), f"{name}.{field_name}({arg_name})"
                checked += 1
    assert checked > 80


# -- same shapes as real recorded responses ---------------------------------------------

def recordings(name: str) -> list[tuple[str, str, Any]]:
    """(method, path, parsed body) of each call in a PyGithub replay file."""
    lines = (RECORDINGS / name).read_text().split("\n")
    calls = []
    for start in range(0, len(lines) - 9, 11):
        method, path, body = lines[start + 1], lines[start + 4], lines[start + 9]
        ast.literal_eval(lines[start + 8])  # response headers: proves the record is aligned
        calls.append((method, path, json.loads(body) if body.strip() else None))
    return calls


def recorded(name: str, method: str, path_end: str) -> Any:
    return next(body for m, p, body in recordings(name) if m == method
                and p.split("?")[0].endswith(path_end))


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


# Free-form values the caller supplied (a deployment's `payload`): no shape to match.
FREE_FORM = {"payload"}


def shape_gaps(real: Any, ours: Any, where: str = "$") -> list[str]:
    """Where `ours` lacks a key of `real` or holds another JSON type (null fits anything).

    In lists, each real item (issues and pull requests mix in one list) must
    match the shape of at least one of ours.
    """
    if real is None or ours is None or where.rsplit(".", 1)[-1] in FREE_FORM:
        return []
    if kind(real) != kind(ours):
        return [f"{where}: {kind(ours)} where GitHub sends {kind(real)}"]
    if isinstance(real, dict):
        gaps: list[str] = []
        for key, value in real.items():
            if key not in ours:
                gaps.append(f"{where}.{key}: missing")
            else:
                gaps += shape_gaps(value, ours[key], f"{where}.{key}")
        return gaps
    if isinstance(real, list) and real and ours:
        unmatched: list[str] = []
        for index, item in enumerate(real[:10]):
            candidates = [shape_gaps(item, mine, f"{where}[{index}]") for mine in ours]
            unmatched += sorted(candidates, key=len)[0]
        return unmatched
    return []


def test_shape_compare_reports_a_missing_key_and_a_wrong_type() -> None:
    real = {"a": 1, "b": {"c": "x"}, "d": [{"e": True}]}
    assert shape_gaps(real, {"a": 2, "b": {"c": "y"}, "d": [{"e": False}]}) == []
    assert shape_gaps(real, {"a": "2", "b": {}, "d": [{"e": 1}]}) == [
        "$.a: str where GitHub sends number", "$.b.c: missing",
        "$.d[0].e: number where GitHub sends boolean"]


RECORDED_CALLS = [
    ("Tag.setUp.txt", "GET", "/repos/PyGithub/PyGithub", REPO),
    ("Deployment.setUp.txt", "GET", "/user", "/user"),
    ("Repository.testGetMilestones.txt", "GET", "/milestones", f"{REPO}/milestones?state=all"),
    ("Milestone.setUp.txt", "GET", "/milestones/1", f"{REPO}/milestones/1"),
    ("Repository.testGetIssues.txt", "GET", "/issues", f"{REPO}/issues?state=all"),
    ("Issue.setUp.txt", "GET", "/issues/28", f"{REPO}/issues/4"),
    ("Repository.testGetPulls.txt", "GET", "/pulls", f"{REPO}/pulls?state=all"),
    ("PullRequest.setUp.txt", "GET", "/PyGithub/PyGithub/pulls/31", f"{REPO}/pulls/1"),
    ("PullRequest.testGetCommits.txt", "GET", "/pulls/31/commits", f"{REPO}/pulls/1/commits"),
    ("Repository.testCompare.txt", "GET", "/compare/v0.6...v0.7",
     f"{REPO}/compare/v1.1.0...v1.2.0"),
    ("Tag.setUp.txt", "GET", "/tags", f"{REPO}/tags"),
    ("ReleaseRead.testGetLatestRelease.txt", "GET", "/releases/latest",
     f"{REPO}/releases/latest"),
    ("ReleaseRead.testGetRelease.txt", "GET", "/releases/tags/v1.0",
     f"{REPO}/releases/tags/v1.2.0"),
    ("Repository.testGetDeployments.txt", "GET", "/deployments", f"{REPO}/deployments"),
    ("DeploymentStatus.testGetStatuses.txt", "GET", "/statuses",
     f"{REPO}/deployments/880001/statuses"),
    ("Environment.testGetEnvironments.txt", "GET", "/environments", f"{REPO}/environments"),
    ("Environment.setUp.txt", "GET", "/environments/dev", f"{REPO}/environments/dev"),
    ("Repository.testGetCommits.txt", "GET", "/PyGithub/commits", f"{REPO}/commits"),
    ("PullRequest.testGetFiles.txt", "GET", "/pulls/31/files", f"{REPO}/pulls/1/files"),
    ("Search.testSearchIssues.txt", "GET", "/search/issues",
     "/search/issues?q=repo:acme-retail/payments-service&sort=comments&order=desc"),
    # Filtered and paged lists, and single records read by id, as clients ask for them.
    ("Repository.testCompareCommitPagination.txt", "GET", "/compare/v1.54...v1.54.1",
     f"{REPO}/compare/v1.1.0...v1.2.0?page=1&per_page=4"),
    ("Repository.testGetPullsWithArguments.txt", "GET", "/pulls", f"{REPO}/pulls?state=closed"),
    ("Repository.testGetIssuesWithArguments.txt", "GET", "/milestones/3", f"{REPO}/milestones/1"),
    ("Repository.testGetIssuesWithArguments.txt", "GET", "/issues",
     f"{REPO}/issues?state=closed&milestone=1"),
    ("DeploymentStatus.setUp.txt", "GET", "/deployments/263877258", f"{REPO}/deployments/880001"),
    ("DeploymentStatus.setUp.txt", "GET", "/statuses/388454671",
     f"{REPO}/deployments/880001/statuses/9900001"),
    ("GitRelease.setUp.txt", "GET", "/releases/28524234", f"{REPO}/releases/1500018"),
    ("Issue.testGetEvents.txt", "GET", "/issues/28/events", f"{REPO}/issues/4/events"),
]


@pytest.mark.parametrize(("recording", "method", "recorded_path", "url"), RECORDED_CALLS,
                         ids=[f"{r}:{p}" for r, _, p, _ in RECORDED_CALLS])
def test_answers_have_the_shape_of_real_recorded_answers(
        github: httpx.Client, recording: str, method: str, recorded_path: str,
        url: str) -> None:
    real = recorded(recording, method, recorded_path)
    ours = github.request(method, url)
    assert ours.status_code == 200, ours.text
    assert shape_gaps(real, ours.json()) == []


def test_created_deployment_and_status_have_the_recorded_shape(github: httpx.Client) -> None:
    deployment = github.post(f"{REPO}/deployments", json={"ref": "v1.2.0"})
    assert shape_gaps(recorded("Repository.testCreateDeployment.txt", "POST", "/deployments"),
                      deployment.json()) == []
    status = github.post(f"{REPO}/deployments/{deployment.json()['id']}/statuses",
                         json={"state": "queued"})
    assert shape_gaps(recorded("DeploymentStatus.testCreate.txt", "POST", "/statuses"),
                      status.json()) == []


def test_created_release_and_generated_notes_have_the_recorded_shape(
        github: httpx.Client) -> None:
    notes = github.post(f"{REPO}/releases/generate-notes", json={"tag_name": "v1.3.1"})
    assert notes.status_code == 200, notes.text
    assert shape_gaps(recorded("Repository.testGenerateReleaseNotes.txt", "POST",
                               "/generate-notes"), notes.json()) == []
    created = github.post(f"{REPO}/releases", json={
        "tag_name": "v1.3.1", "name": "1.3.1", "body": notes.json()["body"], "draft": True})
    assert created.status_code == 201, created.text
    assert shape_gaps(recorded("Repository.testCreateGitRelease.txt", "POST", "/releases"),
                      created.json()) == []



# -- webhook payloads against the webhooks description -------------------------------------

WEBHOOK_SPEC = SPECS / "github-webhooks.subset-release-hub.json"
Deliveries = list[tuple[str, Any]]


@pytest.fixture()
def receiver() -> Iterator[tuple[str, Deliveries]]:
    """A webhook receiver; collects (`<event>-<action>`, payload) per delivery."""
    received: Deliveries = []

    async def hook(request: Request) -> Response:
        payload = json.loads(await request.body())
        received.append((f"{request.headers['x-github-event']}-{payload['action']}", payload))
        return Response(status_code=204)

    with serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        yield f"{url}/hook", received


def test_webhook_payloads_validate_against_the_published_webhook_schemas(
        world: World, receiver: tuple[str, Deliveries]) -> None:
    url, received = receiver
    with serve_asgi(create_app(world, webhook_url=url, webhook_secret="x")) as base, \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}) as gh:
        deployment = gh.post(f"{REPO}/deployments", json={"ref": "v1.3.0"}).json()
        gh.post(f"{REPO}/deployments/{deployment['id']}/statuses", json={"state": "success"})
        number = gh.get(f"{REPO}/pulls").json()[0]["number"]
        gh.put(f"{REPO}/pulls/{number}/merge")
        gh.post(f"{REPO}/releases", json={"tag_name": "v9.0.0"})
    spec = json.loads(WEBHOOK_SPEC.read_text())
    names = [name for name, _ in received]
    assert names == ["deployment-created", "deployment_status-created", "pull_request-closed",
                     "release-created", "release-published"]
    for name, payload in received:
        operation = spec["webhooks"][name.replace("_", "-")]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": spec["components"]})
        errors = list(validator.iter_errors(payload))
        assert not errors, (name, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:8]])
