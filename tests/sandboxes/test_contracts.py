"""Every sandbox answers each call as the project's contract descriptions say.

The contracts (`tests/contracts/<vendor>.json`) are the project's own account
of the upstream calls; this suite holds the four sandboxes to them over real
sockets, and checks that the contracts themselves are well formed and can
fail. It needs nothing outside the repository; the comparisons with the
vendors' published descriptions and real recordings are the `reference`
tests beside it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.github import mapping as github_mapping
from connectors.github.sandbox.app import create_app as github_app
from connectors.jira.sandbox.app import create_app as jira_app
from connectors.remedy.sandbox.app import create_app as remedy_app
from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_TOKEN, DEMO_USER
from connectors.sandbox.world import World, build_world
from connectors.servicenow import mapping as servicenow_mapping
from connectors.servicenow.sandbox.app import DEMO_CLIENT_ID as SN_CLIENT_ID
from connectors.servicenow.sandbox.app import DEMO_CLIENT_SECRET as SN_CLIENT_SECRET
from connectors.servicenow.sandbox.app import create_app as servicenow_app
from tests.support import contracts
from tests.support.contracts import VENDORS, answer_mismatches, call, mismatches
from tests.support.server import serve_asgi

REPO = "/repos/acme-retail/payments-service"


def assert_answers(vendor: str, call_name: str, response: httpx.Response) -> None:
    """The response has the call's status and, when it has a body, the call's shape."""
    expected = call(vendor, call_name)
    assert response.status_code == expected.status, (call_name, response.text[:300])
    if expected.answer is None:
        assert response.content == b"", call_name
        return
    body = response.text if expected.media == "text" else response.json()
    assert answer_mismatches(vendor, call_name, body) == [], call_name


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7)


# -- the contracts themselves -------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_shape_a_contract_names_compiles(vendor: str) -> None:
    for found in contracts.calls(vendor):
        if found.answer is not None:
            contracts.schema_of(vendor, found.answer)
    for shape in contracts.contract(vendor).get("webhooks", {}).values():
        contracts.schema_of(vendor, shape)


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_sample_answer_conforms_to_the_call_it_answers(vendor: str) -> None:
    checked = contracts.samples(vendor)
    assert checked, f"{vendor} has no sample answers"
    for name, entry in checked.items():
        assert answer_mismatches(vendor, entry["call"], entry["body"]) == [], name


def test_the_checker_names_a_missing_field_a_wrong_type_and_a_bad_format() -> None:
    good = contracts.sample("github", "open milestone")
    assert answer_mismatches("github", "get milestone", good) == []
    broken = {**good, "number": "12", "due_on": "2026-12-15 00:00:00"}
    del broken["title"]
    problems = answer_mismatches("github", "get milestone", broken)
    assert any("'title' is a required property" in p for p in problems)
    assert any(p.startswith("number:") and "not of type 'integer'" in p for p in problems)
    assert any(p.startswith("due_on:") for p in problems)
    assert mismatches("jira", {"state": {"$enum": ["open"]}}, {"state": "shut"}) != []


def test_contract_values_agree_with_what_the_mappings_read() -> None:
    assert set(contracts.values("github", "deployment states read")) == set(
        github_mapping.DEPLOYMENT_STATE)
    assert set(contracts.values("servicenow", "states")) == set(servicenow_mapping.STATE_LABELS)
    assert tuple(contracts.values("servicenow", "read fields")) == servicenow_mapping.FIELDS


# -- GitHub -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def github(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(github_app(world)) as url, httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}) as client:
        yield client


GITHUB_READS = [
    ("get repository", REPO),
    ("list milestones", f"{REPO}/milestones?state=all"),
    ("get milestone", f"{REPO}/milestones/4"),
    ("get milestone, missing", f"{REPO}/milestones/999"),
    ("list issues", f"{REPO}/issues?state=all&per_page=100"),
    ("get issue", f"{REPO}/issues/1"),
    ("list pull requests", f"{REPO}/pulls?state=all&per_page=100"),
    ("get pull request", f"{REPO}/pulls/1"),
    ("list pull request commits", f"{REPO}/pulls/1/commits"),
    ("compare", f"{REPO}/compare/v1.1.0...v1.3.0"),
    ("compare", f"{REPO}/compare/v1.0.0...v1.1.0"),
    ("list tags", f"{REPO}/tags"),
    ("list releases", f"{REPO}/releases"),
    ("latest release", f"{REPO}/releases/latest"),
    ("release by tag", f"{REPO}/releases/tags/v1.2.0"),
    ("list deployments", f"{REPO}/deployments?per_page=100"),
    ("list environments", f"{REPO}/environments"),
    ("get environment", f"{REPO}/environments/production"),
    ("rate limit", "/rate_limit"),
    ("search issues", "/search/issues?q=repo:acme-retail/payments-service+is:pr"),
]


@pytest.mark.parametrize(("call_name", "url"), GITHUB_READS, ids=[u for _, u in GITHUB_READS])
def test_each_github_read_answers_as_the_contract_says(github: httpx.Client, call_name: str,
                                                       url: str) -> None:
    assert_answers("github", call_name, github.get(url))


def test_github_single_release_deployment_and_its_statuses(github: httpx.Client) -> None:
    release = github.get(f"{REPO}/releases/latest").json()
    assert_answers("github", "get release", github.get(f"{REPO}/releases/{release['id']}"))
    deployment = github.get(f"{REPO}/deployments").json()[0]
    assert_answers("github", "get deployment", github.get(f"{REPO}/deployments/{deployment['id']}"))
    assert_answers("github", "list deployment statuses",
                   github.get(f"{REPO}/deployments/{deployment['id']}/statuses"))


def test_github_writes_and_their_refusals(github: httpx.Client) -> None:
    created = github.post(f"{REPO}/deployments", json={"ref": "v1.3.0", "environment": "staging"})
    assert_answers("github", "create deployment", created)
    status = github.post(f"{REPO}/deployments/{created.json()['id']}/statuses",
                         json={"state": "success", "description": "Rolled out"})
    assert_answers("github", "create deployment status", status)
    assert_answers("github", "create deployment, no ref",
                   github.post(f"{REPO}/deployments", json={"environment": "staging"}))


GRAPHQL_READ = """
query($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    milestone(number: $number) {
      issues(first: 50) {
        nodes { number title state stateReason url updatedAt
                assignees(first: 5) { nodes { login } } }
        pageInfo { hasNextPage endCursor }
      }
      pullRequests(first: 50) {
        nodes { number title state isDraft merged mergedAt baseRefName url updatedAt
                author { login } milestone { title } }
        pageInfo { hasNextPage endCursor }
      }
    }
    deployments(first: 50) {
      nodes { id databaseId environment ref { name } commitOid createdAt updatedAt
              creator { login } latestStatus { state logUrl createdAt updatedAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


def test_github_graphql_nodes_carry_the_fields_the_connector_selects(
        github: httpx.Client) -> None:
    response = github.post("/graphql", json={"query": GRAPHQL_READ, "variables": {
        "owner": "acme-retail", "name": "payments-service", "number": 4}})
    assert_answers("github", "graphql", response)
    body = response.json()
    assert "errors" not in body, body.get("errors")
    nodes = contracts.contract("github")["graphql"]
    repository = body["data"]["repository"]
    milestone = repository["milestone"]
    for key, kind in [("issues", "issue"), ("pullRequests", "pull request")]:
        assert milestone[key]["nodes"], key
        assert mismatches("github", [nodes[kind]], milestone[key]["nodes"]) == [], key
        assert mismatches("github", nodes["page"], milestone[key]["pageInfo"]) == [], key
    assert repository["deployments"]["nodes"]
    assert mismatches("github", [nodes["deployment"]], repository["deployments"]["nodes"]) == []


Deliveries = list[tuple[str, str, Any]]


@pytest.fixture()
def receiver() -> Iterator[tuple[str, Deliveries]]:
    """A webhook receiver: (event name, signature header, payload) per delivery."""
    received: Deliveries = []

    async def hook(request: Request) -> Response:
        payload = json.loads(await request.body())
        event = request.headers.get("x-github-event") or payload.get("webhookEvent", "")
        action = payload.get("action")
        signature = (request.headers.get("x-hub-signature-256")
                     or request.headers.get("x-hub-signature") or "")
        received.append((f"{event}-{action}" if action else event, signature, payload))
        return Response(status_code=204)

    with serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        yield f"{url}/hook", received


def test_github_webhook_payloads_follow_the_contract(
        world: World, receiver: tuple[str, Deliveries]) -> None:
    url, received = receiver
    with serve_asgi(github_app(world, webhook_url=url, webhook_secret="x")) as base, \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}) as gh:
        deployment = gh.post(f"{REPO}/deployments", json={"ref": "v1.3.0"}).json()
        gh.post(f"{REPO}/deployments/{deployment['id']}/statuses", json={"state": "success"})
        number = gh.get(f"{REPO}/pulls").json()[0]["number"]
        gh.put(f"{REPO}/pulls/{number}/merge")
        gh.post(f"{REPO}/releases", json={"tag_name": "v9.0.0"})
    shapes = contracts.contract("github")["webhooks"]
    assert [name for name, _, _ in received] == list(shapes)
    for name, signature, payload in received:
        assert signature.startswith("sha256="), name
        assert mismatches("github", shapes[name], payload) == [], name


# -- JIRA ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cloud(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(jira_app(world, mode="cloud")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as client:
        yield client


@pytest.fixture(scope="module")
def datacenter(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(jira_app(world, mode="datacenter")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_PASSWORD)) as client:
        yield client


SEARCH_FIELDS = contracts.values("jira", "search fields")


def test_jira_cloud_search_pages_by_token_with_the_fields_the_connector_asks_for(
        cloud: httpx.Client) -> None:
    first = cloud.post("/rest/api/3/search/jql", json={
        "jql": "project = PAY", "maxResults": 5, "fields": SEARCH_FIELDS})
    assert_answers("jira", "search (cloud)", first)
    assert first.json()["nextPageToken"] and first.json()["isLast"] is False
    issue = first.json()["issues"][0]
    assert set(SEARCH_FIELDS) <= set(issue["fields"])
    last = cloud.get("/rest/api/3/search/jql", params={"jql": "key = PAY-1",
                                                        "fields": "summary,status"})
    assert_answers("jira", "search (cloud, query string)", last)
    assert last.json()["isLast"] is True and "nextPageToken" not in last.json()


def test_jira_cloud_refusals_are_error_collections(cloud: httpx.Client) -> None:
    assert_answers("jira", "search, bad query",
                   cloud.get("/rest/api/3/search/jql", params={"jql": "bogus = 1"}))
    assert_answers("jira", "classic search on cloud, removed",
                   cloud.get("/rest/api/3/search", params={"jql": "project = PAY"}))
    assert_answers("jira", "get issue, missing", cloud.get("/rest/api/3/issue/NOPE-1"))
    assert_answers("jira", "myself, no credentials",
                   httpx.get(f"{cloud.base_url}/rest/api/3/myself"))


def test_jira_cloud_issue_changelog_versions_and_site(cloud: httpx.Client, world: World) -> None:
    item = next(w for w in world.work_items if len(w.changelog) > 1)
    issue = cloud.get(f"/rest/api/3/issue/{item.key}", params={"expand": "changelog"})
    assert_answers("jira", "get issue", issue)
    assert issue.json()["changelog"]["histories"]
    assert_answers("jira", "issue changelog", cloud.get(
        f"/rest/api/3/issue/{item.key}/changelog", params={"maxResults": 1}))
    versions = cloud.get("/rest/api/3/project/PAY/versions")
    assert_answers("jira", "project versions", versions)
    assert_answers("jira", "project versions, paged",
                   cloud.get("/rest/api/3/project/PAY/version", params={"maxResults": 2}))
    assert_answers("jira", "get version",
                   cloud.get(f"/rest/api/3/version/{versions.json()[0]['id']}"))
    assert_answers("jira", "approximate count", cloud.post(
        "/rest/api/3/search/approximate-count", json={"jql": "project = INV"}))
    for name, path in [("server info", "serverInfo"), ("myself", "myself"),
                       ("status categories", "statuscategory")]:
        assert_answers("jira", name, cloud.get(f"/rest/api/3/{path}"))


def test_jira_data_center_search_pages_by_offset_with_a_total(datacenter: httpx.Client) -> None:
    page = datacenter.post("/rest/api/2/search", json={
        "jql": "project = PAY", "startAt": 0, "maxResults": 5, "fields": SEARCH_FIELDS})
    assert_answers("jira", "search (data center)", page)
    assert page.json()["total"] > 5
    past_end = datacenter.get("/rest/api/2/search", params={"jql": "project = PAY",
                                                            "startAt": 5000})
    assert_answers("jira", "search (data center, query string)", past_end)
    assert past_end.json()["issues"] == []


def test_jira_status_categories_are_the_contracts(cloud: httpx.Client) -> None:
    keys = {c["key"] for c in cloud.get("/rest/api/3/statuscategory").json()}
    assert keys == set(contracts.values("jira", "status categories"))


# -- ServiceNow ---------------------------------------------------------------------------

CHANGES = "/api/now/table/change_request"


@pytest.fixture(scope="module")
def servicenow(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(servicenow_app(world)) as url, httpx.Client(
            base_url=url, auth=(DEMO_USER, DEMO_PASSWORD), timeout=10) as client:
        yield client


def test_servicenow_reads_raw_and_with_labels(servicenow: httpx.Client) -> None:
    raw = servicenow.get(CHANGES)
    assert_answers("servicenow", "list changes", raw)
    assert int(raw.headers["x-total-count"]) == len(raw.json()["result"])
    labelled = servicenow.get(CHANGES, params={
        "sysparm_display_value": "all", "sysparm_exclude_reference_link": "true",
        "sysparm_fields": ",".join(contracts.values("servicenow", "read fields"))})
    assert_answers("servicenow", "list changes, values and labels", labelled)
    sys_id = raw.json()["result"][0]["sys_id"]
    assert_answers("servicenow", "read change", servicenow.get(f"{CHANGES}/{sys_id}"))
    assert_answers("servicenow", "read change, missing", servicenow.get(f"{CHANGES}/{'0' * 32}"))
    assert_answers("servicenow", "list changes, no credentials",
                   httpx.get(f"{servicenow.base_url}{CHANGES}"))


def test_servicenow_pages_name_the_next_page_in_the_link_header(
        servicenow: httpx.Client) -> None:
    first = servicenow.get(CHANGES, params={"sysparm_limit": 1, "sysparm_offset": 0})
    assert len(first.json()["result"]) == 1
    assert 'rel="next"' in first.headers["link"]


def test_servicenow_create_and_update_answer_the_record(servicenow: httpx.Client) -> None:
    created = servicenow.post(CHANGES, json={"short_description": "Deploy Ledger 3.1",
                                             "type": "normal",
                                             "start_date": "2026-12-01 20:00:00",
                                             "end_date": "2026-12-01 22:00:00"})
    assert_answers("servicenow", "create change", created)
    sys_id = created.json()["result"]["sys_id"]
    updated = servicenow.patch(f"{CHANGES}/{sys_id}", json={"state": "-4"})
    assert_answers("servicenow", "update change", updated)


def test_servicenow_oauth_token(servicenow: httpx.Client) -> None:
    response = httpx.post(f"{servicenow.base_url}/oauth_token.do", data={
        "grant_type": "password", "client_id": SN_CLIENT_ID, "client_secret": SN_CLIENT_SECRET,
        "username": DEMO_USER, "password": DEMO_PASSWORD})
    assert_answers("servicenow", "oauth token", response)


# -- Remedy -------------------------------------------------------------------------------

CHANGE_FORM = "/api/arsys/v1/entry/" + quote("CHG:Infrastructure Change")


@pytest.fixture(scope="module")
def remedy() -> Iterator[httpx.Client]:
    with serve_asgi(remedy_app()) as url, httpx.Client(base_url=url, timeout=10) as client:
        login = client.post("/api/jwt/login", data={"username": DEMO_USER,
                                                    "password": DEMO_PASSWORD})
        assert_answers("remedy", "login", login)
        client.headers["Authorization"] = f"AR-JWT {login.text}"
        yield client


NEW_CHANGE = {"z1D_Action": "CREATE", "Description": "Deploy Ledger 3.1",
              "Impact": "3-Moderate/Limited", "Urgency": "3-Medium", "Status": "Draft",
              "Class": "Normal", "Change Type": "Change", "Risk Level": "Risk Level 2",
              "Company": "Acme Retail", "Location Company": "Acme Retail",
              "First Name": "Ada", "Last Name": "Lovelace"}


def test_remedy_login_and_its_refusal(remedy: httpx.Client) -> None:
    refused = httpx.post(f"{remedy.base_url}/api/jwt/login",
                         data={"username": DEMO_USER, "password": "not-it"})
    assert_answers("remedy", "login, wrong password", refused)


def test_remedy_lists_changes_with_a_next_link_until_the_last_page(
        remedy: httpx.Client) -> None:
    first = remedy.get(CHANGE_FORM, params={"limit": 2})
    assert_answers("remedy", "list changes", first)
    assert "next" in first.json()["_links"]
    everything = remedy.get(CHANGE_FORM, params={"limit": 1000})
    assert_answers("remedy", "list changes", everything)
    assert "next" not in everything.json()["_links"]
    entry = everything.json()["entries"][0]
    assert_answers("remedy", "get change",
                   remedy.get(f"{CHANGE_FORM}/{entry['values']['Request ID']}"))
    assert_answers("remedy", "get change, missing", remedy.get(f"{CHANGE_FORM}/nope"))


def test_remedy_create_echoes_the_change_number_and_update_answers_nothing(
        remedy: httpx.Client) -> None:
    created = remedy.post("/api/arsys/v1/entry/CHG:ChangeInterface_Create",
                          params={"fields": "values(Infrastructure Change Id)"},
                          json={"values": NEW_CHANGE})
    assert_answers("remedy", "create change", created)
    number = created.json()["values"]["Infrastructure Change Id"]
    found = remedy.get(CHANGE_FORM, params={"q": f"'Infrastructure Change ID' = \"{number}\""})
    [entry] = found.json()["entries"]
    updated = remedy.put(f"{CHANGE_FORM}/{entry['values']['Request ID']}",
                         json={"values": {"Description": "Deploy Ledger 3.1.1"}})
    assert_answers("remedy", "update change", updated)


def test_remedy_templates_and_incidents(remedy: httpx.Client) -> None:
    assert_answers("remedy", "list change templates", remedy.get(
        "/api/arsys/v1/entry/CHG:Template", params={"q": "'Status' = \"Enabled\""}))
    incident = remedy.post(
        "/api/arsys/v1/entry/HPD:IncidentInterface_Create",
        params={"fields": "values(Incident Number,Create Date)"},
        json={"values": {"z1D_Action": "CREATE", "First_Name": "Ada", "Last_Name": "Lovelace",
                         "Description": "Ledger returns 502", "Impact": "2-Significant/Large",
                         "Urgency": "2-High", "Reported Source": "Direct Input",
                         "Service_Type": "User Service Restoration", "Status": "Assigned"}})
    assert_answers("remedy", "create incident", incident)


def test_remedy_logout_answers_no_body() -> None:
    with serve_asgi(remedy_app()) as url, httpx.Client(base_url=url) as client:
        token = client.post("/api/jwt/login",
                            data={"username": DEMO_USER, "password": DEMO_PASSWORD}).text
        assert_answers("remedy", "logout", client.post(
            "/api/jwt/logout", headers={"Authorization": f"AR-JWT {token}"}))


def test_remedy_statuses_of_the_contract_are_the_mappings() -> None:
    from connectors.remedy import mapping as remedy_mapping

    assert list(remedy_mapping.STATUS_LABELS) == contracts.values("remedy", "change statuses")


# -- reference: the contracts against the vendors' published descriptions (../shared) -------

# Calls the published REST descriptions do not hold, and why.
NOT_IN_THE_PUBLISHED_REST = {
    ("github", "POST", "/graphql"): "GraphQL: its schema is the reference, not the REST one",
    ("jira", "POST", "/rest/api/2/search"): "Data Center; the Cloud description has /3/search",
    ("jira", "GET", "/rest/api/2/search"): "Data Center; the Cloud description has /3/search",
    ("jira", "GET", "/rest/api/2/status"): "Data Center's v2 status list",
}
# Statuses the published descriptions do not list, and why.
NOT_IN_THE_PUBLISHED_STATUSES = {
    ("jira", "GET", "/rest/api/3/search", 410): "removed after the description was published",
}
PUBLISHED_REST = {"github": "github-rest.subset-release-hub.json",
                  "jira": "jira-cloud-platform.subset-release-hub.json"}


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow `$ref`s (and merge `allOf`) until a schema with its own properties."""
    while isinstance(node, dict) and "$ref" in node:
        found: Any = spec
        for step in node["$ref"].lstrip("#/").split("/"):
            found = found[step]
        node = found
    if isinstance(node, dict) and "allOf" in node:
        merged: dict[str, Any] = {"properties": {}}
        for part in node["allOf"]:
            merged["properties"].update(_resolve(spec, part).get("properties", {}))
        return merged
    return node


def _published_fields(spec: dict[str, Any], response: dict[str, Any]) -> set[str] | None:
    """The property names of a response's JSON body (of its items, for an array)."""
    response = _resolve(spec, response)
    content = response.get("content", {}).get("application/json")
    if content is None:
        return None
    schema = _resolve(spec, content["schema"])
    if schema.get("type") == "array":
        schema = _resolve(spec, schema["items"])
    properties = schema.get("properties")
    return set(properties) if properties else None


def _our_fields(vendor: str, shape: Any) -> set[str]:
    """The field names our shape requires or allows at its top level."""
    if isinstance(shape, list):
        shape = shape[0]
    if isinstance(shape, str) and shape.startswith("@"):
        shape = contracts.contract(vendor)["shapes"][shape[1:]]
    if isinstance(shape, dict) and "$all" in shape:
        return set().union(*(_our_fields(vendor, part) for part in shape["$all"]))
    if isinstance(shape, dict) and not {"$enum", "$map"} & set(shape):
        return {key.removesuffix("?") for key in shape}
    return set()


@pytest.mark.reference
@pytest.mark.parametrize("vendor", sorted(PUBLISHED_REST))
def test_each_contract_call_is_a_published_operation_with_the_fields_we_name(
        vendor: str) -> None:
    from tests.support.paths import SPECS

    spec = json.loads((SPECS / PUBLISHED_REST[vendor]).read_text())
    checked = 0
    for found in contracts.calls(vendor):
        where = (vendor, found.method, found.path)
        if where in NOT_IN_THE_PUBLISHED_REST:
            continue
        operation = spec["paths"].get(found.path, {}).get(found.method.lower())
        assert operation is not None, f"{found.name}: {found.method} {found.path} is not published"
        if (*where, found.status) in NOT_IN_THE_PUBLISHED_STATUSES:
            continue
        response = operation["responses"].get(str(found.status))
        assert response is not None, f"{found.name}: {found.status} is not a published answer"
        published = _published_fields(spec, response)
        if published is None or found.answer is None:
            continue
        unknown = _our_fields(vendor, found.answer) - published
        assert not unknown, f"{found.name}: {sorted(unknown)} are not published fields"
        checked += 1
    assert checked >= 10
