"""The GitHub sandbox behaves like api.github.com, over real sockets."""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from connectors.github.sandbox.app import create_app, signature_256
from connectors.github.sandbox.render import node_id
from connectors.sandbox.kit import DEMO_TOKEN
from connectors.sandbox.world import World, build_world
from tests.support.server import serve_asgi

REPO = "/repos/acme-retail/payments-service"
AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7)


@pytest.fixture(scope="module")
def github(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(create_app(world)) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        yield client


def fresh(world: World, **options: Any) -> Iterator[httpx.Client]:
    with serve_asgi(create_app(world, **options)) as url, \
            httpx.Client(base_url=url, headers=AUTH) as client:
        yield client


def links(response: httpx.Response) -> dict[str, str]:
    """`Link` header as {rel: url}."""
    out: dict[str, str] = {}
    for part in filter(None, response.headers.get("link", "").split(",")):
        target, rel = part.split(";")
        out[rel.strip().removeprefix('rel="').removesuffix('"')] = target.strip()[1:-1]
    return out


def follow(client: httpx.Client, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following `rel="next"` verbatim to the end."""
    items: list[dict[str, Any]] = []
    response = client.get(url, params=params)
    for _ in range(200):
        assert response.status_code == 200, response.text
        items += response.json()
        nxt = links(response).get("next")
        if nxt is None:
            return items
        response = client.get(nxt)
    raise AssertionError("pagination did not end")


def pay_numbers(world: World, release_key: str | None = None, state: str = "all") -> set[int]:
    numbers = {i.number for i in world.github_issues if i.app_key == "PAY"
               and (release_key is None or i.release_key == release_key)
               and state in ("all", i.state)}
    return numbers | {p.number for p in world.pull_requests if p.app_key == "PAY"
                      and (release_key is None or p.release_key == release_key)
                      and state in ("all", p.state)}


# -- auth and errors ---------------------------------------------------------------

def test_a_request_without_a_token_is_refused_with_github_401(github: httpx.Client) -> None:
    response = httpx.get(f"{github.base_url}{REPO}")
    assert response.status_code == 401
    assert response.json()["status"] == "401"
    assert "documentation_url" in response.json()


def test_a_wrong_token_gets_bad_credentials(github: httpx.Client) -> None:
    response = httpx.get(f"{github.base_url}{REPO}", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"


def test_the_token_scheme_is_accepted_as_well_as_bearer(github: httpx.Client) -> None:
    response = httpx.get(f"{github.base_url}/user",
                         headers={"Authorization": f"token {DEMO_TOKEN}"})
    assert response.status_code == 200
    assert response.json()["login"] == "demo"


def test_unknown_repository_and_route_answer_githubs_not_found(github: httpx.Client) -> None:
    for url in ("/repos/acme-retail/nope", f"{REPO}/issues/99999", "/no/such/route"):
        response = github.get(url)
        assert response.status_code == 404, url
        assert response.json()["message"] == "Not Found"
        assert response.json()["status"] == "404"


# -- repositories ------------------------------------------------------------------

def test_org_and_user_repositories_list_one_repository_per_application(
        github: httpx.Client, world: World) -> None:
    expected = {a.repo_name for a in world.applications}
    assert {r["name"] for r in github.get("/orgs/acme-retail/repos").json()} == expected
    assert {r["name"] for r in github.get("/user/repos").json()} == expected
    assert github.get("/orgs/someone-else/repos").status_code == 404


def test_repository_urls_point_back_at_the_sandbox(github: httpx.Client) -> None:
    repo = github.get(REPO).json()
    assert repo["full_name"] == "acme-retail/payments-service"
    assert repo["url"] == f"{github.base_url}{REPO}"
    assert repo["owner"]["login"] == "acme-retail"


# -- pagination ------------------------------------------------------------------------

def test_issues_paginate_with_link_headers_to_the_end(github: httpx.Client, world: World) -> None:
    items = follow(github, f"{REPO}/issues", state="all", per_page=7)
    numbers = [i["number"] for i in items]
    assert len(numbers) == len(set(numbers))
    assert set(numbers) == pay_numbers(world)


def test_link_header_has_prev_next_last_first_and_echoes_per_page(github: httpx.Client) -> None:
    first = github.get(f"{REPO}/issues", params={"state": "all", "per_page": 5})
    rels = links(first)
    assert set(rels) == {"next", "last"}
    assert "per_page=5" in rels["next"] and "page=2" in rels["next"]
    second = github.get(rels["next"])
    assert set(links(second)) == {"prev", "next", "last", "first"}
    last = github.get(rels["last"])
    assert set(links(last)) == {"prev", "first"}


def test_a_single_page_has_no_link_header(github: httpx.Client) -> None:
    response = github.get(f"{REPO}/tags")
    assert response.status_code == 200
    assert "link" not in response.headers


def test_per_page_is_capped_at_one_hundred(world: World) -> None:
    crowded = copy.deepcopy(world)
    template = next(i for i in crowded.github_issues if i.app_key == "PAY")
    crowded.github_issues += [dataclasses.replace(template, id=5_000_000 + n, number=1000 + n)
                              for n in range(120)]
    for client in fresh(crowded):
        response = client.get(f"{REPO}/issues", params={"state": "all", "per_page": 500})
        assert len(response.json()) == 100
        assert "per_page=100" in links(response)["next"]


# -- conditional requests and rate limits ---------------------------------------------

def test_etag_is_weak_stable_and_a_match_answers_304_without_spending(
        world: World) -> None:
    for client in fresh(world):
        first = client.get(f"{REPO}/milestones")
        again = client.get(f"{REPO}/milestones")
        etag = first.headers["etag"]
        assert etag.startswith('W/"') and again.headers["etag"] == etag
        remaining = int(again.headers["x-ratelimit-remaining"])
        cached = client.get(f"{REPO}/milestones", headers={"If-None-Match": etag})
        assert cached.status_code == 304
        assert cached.content == b""
        assert int(cached.headers["x-ratelimit-remaining"]) == remaining
        changed = client.get(f"{REPO}/milestones", params={"state": "all"},
                             headers={"If-None-Match": etag})
        assert changed.status_code == 200
        assert int(changed.headers["x-ratelimit-remaining"]) == remaining - 1


def test_etag_changes_when_the_data_changes(world: World) -> None:
    for client in fresh(world):
        before = client.get(f"{REPO}/deployments").headers["etag"]
        client.post(f"{REPO}/deployments", json={"ref": "v1.3.0", "environment": "dev"})
        after = client.get(f"{REPO}/deployments", headers={"If-None-Match": before})
        assert after.status_code == 200
        assert after.headers["etag"] != before


def test_every_response_carries_rate_limit_headers(github: httpx.Client) -> None:
    for response in (github.get(REPO), github.get(f"{REPO}/issues/99999"),
                     httpx.get(f"{github.base_url}{REPO}")):
        for name in ("limit", "remaining", "used", "reset", "resource"):
            assert f"x-ratelimit-{name}" in response.headers, (response.status_code, name)


def test_an_exhausted_budget_answers_403_with_remaining_zero(world: World) -> None:
    for client in fresh(world, rate_limit=3):
        remaining = [client.get(REPO).headers["x-ratelimit-remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        refused = client.get(REPO)
        assert refused.status_code == 403
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.headers["x-ratelimit-used"] == "3"
        assert refused.json()["message"].startswith("API rate limit exceeded for user ID")
        assert int(refused.headers["x-ratelimit-reset"]) > 0
        status = client.get("/rate_limit")
        assert status.status_code == 200
        assert status.json()["resources"]["core"]["remaining"] == 0


def test_the_exhausted_budget_can_answer_429_instead(world: World) -> None:
    for client in fresh(world, rate_limit=1, rate_limit_status=429):
        assert client.get(REPO).status_code == 200
        refused = client.get(REPO)
        assert refused.status_code == 429
        assert refused.headers["x-ratelimit-remaining"] == "0"


def test_secondary_limit_answers_429_with_retry_after_then_recovers(world: World) -> None:
    for client in fresh(world):
        posted = client.post("/_sandbox/faults",
                             json={"rate_limit": {"count": 1, "retry_after": 7}})
        assert posted.status_code == 201
        limited = client.get(REPO)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "7"
        assert "secondary rate limit" in limited.json()["message"]
        assert int(limited.headers["x-ratelimit-remaining"]) > 0
        assert client.get(REPO).status_code == 200


def test_request_log_counts_exactly_the_vendor_calls(world: World) -> None:
    for client in fresh(world):
        client.get(REPO)
        client.get(f"{REPO}/issues", params={"milestone": "2"})
        client.get(f"{REPO}/issues/99999")
        log = client.get("/_sandbox/requests").json()
        assert log["count"] == 3
        assert [(r["method"], r["path"], r["query"], r["status"]) for r in log["requests"]] == [
            ("GET", REPO, "", 200), ("GET", f"{REPO}/issues", "milestone=2", 200),
            ("GET", f"{REPO}/issues/99999", "", 404)]


# -- milestones and issues ---------------------------------------------------------------

def test_milestones_filter_by_state_and_count_issues_and_pulls(
        github: httpx.Client, world: World) -> None:
    releases = [r for r in world.releases if r.app_key == "PAY"]
    closed = {r.milestone_number for r in releases if r.status in ("DEPLOYED", "CANCELLED")}
    assert {m["number"] for m in github.get(f"{REPO}/milestones",
                                            params={"state": "closed"}).json()} == closed
    opened = github.get(f"{REPO}/milestones").json()
    assert {m["number"] for m in opened} == {r.milestone_number for r in releases} - closed
    one = github.get(f"{REPO}/milestones/2").json()
    release = next(r for r in releases if r.milestone_number == 2)
    assert one["title"] == release.version_name
    members = pay_numbers(world, release.key)
    assert one["open_issues"] + one["closed_issues"] == len(members)
    assert one["open_issues"] == len(pay_numbers(world, release.key, "open"))


def test_issues_mix_in_pull_requests_with_a_pull_request_key(
        github: httpx.Client, world: World) -> None:
    items = follow(github, f"{REPO}/issues", state="all", per_page=100)
    pulls = {p.number for p in world.pull_requests if p.app_key == "PAY"}
    for item in items:
        assert ("pull_request" in item) == (item["number"] in pulls)
    assert any("pull_request" in i for i in items) and any("pull_request" not in i for i in items)


def test_issues_filter_by_milestone_number(github: httpx.Client, world: World) -> None:
    release = next(r for r in world.releases if r.app_key == "PAY" and r.milestone_number == 3)
    items = follow(github, f"{REPO}/issues", milestone="3", state="all")
    assert {i["number"] for i in items} == pay_numbers(world, release.key)
    assert {i["milestone"]["number"] for i in items} == {3}


def test_issues_filter_milestone_any_and_none(github: httpx.Client, world: World) -> None:
    anywhere = follow(github, f"{REPO}/issues", milestone="*", state="all", per_page=100)
    assert {i["number"] for i in anywhere} == pay_numbers(world)
    assert github.get(f"{REPO}/issues", params={"milestone": "none", "state": "all"}).json() == []


def test_issues_default_to_open_and_filter_by_state(github: httpx.Client, world: World) -> None:
    default = follow(github, f"{REPO}/issues", per_page=100)
    assert {i["number"] for i in default} == pay_numbers(world, state="open")
    closed = follow(github, f"{REPO}/issues", state="closed", per_page=100)
    assert {i["number"] for i in closed} == pay_numbers(world, state="closed")
    assert {i["state"] for i in closed} == {"closed"}


def test_issues_filter_by_every_label_given(github: httpx.Client, world: World) -> None:
    wanted = {i.number for i in world.github_issues
              if i.app_key == "PAY" and {"bug", "blocker"} <= set(i.labels)}
    items = follow(github, f"{REPO}/issues", labels="bug,blocker", state="all")
    assert {i["number"] for i in items} == wanted
    assert wanted, "the demo world should have at least one blocker bug"


def test_issues_filter_by_since(github: httpx.Client, world: World) -> None:
    since = world.now.replace(month=10, day=1)
    items = follow(github, f"{REPO}/issues", state="all", since="2026-10-01T00:00:00Z")
    expected = {i.number for i in world.github_issues if i.app_key == "PAY"
                and i.updated >= since} | {p.number for p in world.pull_requests
                                           if p.app_key == "PAY" and p.updated >= since}
    assert {i["number"] for i in items} == expected
    assert 0 < len(expected) < len(pay_numbers(world))


def test_a_bad_filter_value_is_a_validation_error(github: httpx.Client) -> None:
    response = github.get(f"{REPO}/issues", params={"state": "sideways"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "state"


# -- pull requests ----------------------------------------------------------------------

def test_pulls_filter_by_state_base_and_head(github: httpx.Client, world: World) -> None:
    pay = [p for p in world.pull_requests if p.app_key == "PAY"]
    opened = follow(github, f"{REPO}/pulls", per_page=100)
    assert {p["number"] for p in opened} == {p.number for p in pay if p.state == "open"}
    closed = follow(github, f"{REPO}/pulls", state="closed", per_page=100)
    assert {p["number"] for p in closed} == {p.number for p in pay if p.state == "closed"}
    assert follow(github, f"{REPO}/pulls", state="all", base="release/none") == []
    target = pay[0]
    by_head = github.get(f"{REPO}/pulls", params={"state": "all",
                                                  "head": f"acme-retail:{target.head_ref}"})
    assert [p["number"] for p in by_head.json()] == [target.number]


def test_a_single_pull_request_says_whether_it_is_merged(
        github: httpx.Client, world: World) -> None:
    merged = next(p for p in world.pull_requests if p.app_key == "PAY" and p.merged_at)
    body = github.get(f"{REPO}/pulls/{merged.number}").json()
    assert merged.merged_at is not None
    assert body["merged"] is True
    assert body["merged_at"] == merged.merged_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["base"]["ref"] == "main"


# -- git: compare, tags, releases -------------------------------------------------------

def test_compare_lists_the_commits_between_two_tags(github: httpx.Client, world: World) -> None:
    release = next(r for r in world.releases if r.app_key == "PAY" and r.milestone_number == 2)
    merged = {p.merge_commit_sha for p in world.pull_requests
              if p.release_key == release.key and p.merge_commit_sha}
    body = github.get(f"{REPO}/compare/{release.from_tag}...{release.to_tag}").json()
    shas = [c["sha"] for c in body["commits"]]
    assert body["status"] == "ahead"
    assert body["ahead_by"] == body["total_commits"] == len(shas) == len(merged) + 1
    assert set(shas) - merged == {next(t.sha for t in world.tags
                                       if t.app_key == "PAY" and t.name == release.to_tag)}
    assert len(body["files"]) == len(shas)


def test_compare_reversed_is_behind_and_same_is_identical(github: httpx.Client) -> None:
    behind = github.get(f"{REPO}/compare/v1.3.0...v1.1.0").json()
    assert behind["status"] == "behind" and behind["ahead_by"] == 0 and behind["behind_by"] > 0
    same = github.get(f"{REPO}/compare/v1.2.0...v1.2.0").json()
    assert same["status"] == "identical" and same["commits"] == []
    assert github.get(f"{REPO}/compare/v1.2.0...nope").status_code == 404


def test_compare_pages_its_commits_and_sends_files_on_page_one_only(
        github: httpx.Client) -> None:
    url = f"{REPO}/compare/v1.0.0...v1.3.0"
    whole = github.get(url).json()
    first = github.get(url, params={"per_page": 2})
    assert "files" in first.json()
    shas = [c["sha"] for c in first.json()["commits"]]
    response = github.get(links(first)["next"])
    while True:
        assert "files" not in response.json()
        shas += [c["sha"] for c in response.json()["commits"]]
        if "next" not in links(response):
            break
        response = github.get(links(response)["next"])
    assert shas == [c["sha"] for c in whole["commits"]]


def test_tags_and_releases_latest_by_tag_and_by_id(github: httpx.Client, world: World) -> None:
    tags = {t["name"] for t in github.get(f"{REPO}/tags").json()}
    assert tags == {t.name for t in world.tags if t.app_key == "PAY"}
    latest = github.get(f"{REPO}/releases/latest").json()
    published = [r for r in world.github_releases if r.app_key == "PAY" and not r.draft]
    assert latest["tag_name"] == max(published, key=lambda r: r.created).tag_name
    by_tag = github.get(f"{REPO}/releases/tags/{latest['tag_name']}").json()
    assert by_tag["id"] == latest["id"]
    assert github.get(f"{REPO}/releases/{latest['id']}").json()["tag_name"] == latest["tag_name"]
    assert github.get(f"{REPO}/releases/tags/v9.9.9").status_code == 404


# -- deployments and environments ------------------------------------------------------------

def test_deployments_filter_by_environment_ref_and_sha(github: httpx.Client, world: World) -> None:
    pay = [d for d in world.deployments if d.app_key == "PAY"]
    production = github.get(f"{REPO}/deployments", params={"environment": "production"}).json()
    assert {d["id"] for d in production} == {d.id for d in pay if d.environment == "production"}
    target = pay[0]
    by_ref = github.get(f"{REPO}/deployments", params={"ref": target.ref}).json()
    assert {d["id"] for d in by_ref} == {d.id for d in pay if d.ref == target.ref}
    by_sha = github.get(f"{REPO}/deployments", params={"sha": target.sha}).json()
    assert {d["id"] for d in by_sha} == {d.id for d in pay if d.sha == target.sha}


def test_created_deployment_and_its_statuses_read_back_newest_first(world: World) -> None:
    for client in fresh(world):
        created = client.post(f"{REPO}/deployments",
                              json={"ref": "v1.3.0", "environment": "production"})
        assert created.status_code == 201
        deployment = created.json()
        assert deployment["environment"] == "production" and deployment["ref"] == "v1.3.0"
        assert created.headers["location"] == deployment["url"]
        url = f"{REPO}/deployments/{deployment['id']}/statuses"
        for state in ("in_progress", "success"):
            assert client.post(url, json={"state": state}).status_code == 201
        assert [s["state"] for s in client.get(url).json()] == ["success", "in_progress"]
        assert client.get(f"{REPO}/deployments/{deployment['id']}").json()["id"] == deployment["id"]
        listed = client.get(f"{REPO}/deployments", params={"environment": "production"}).json()
        assert listed[0]["id"] == deployment["id"]


def test_bad_deployment_writes_are_validation_errors(github: httpx.Client) -> None:
    no_ref = github.post(f"{REPO}/deployments", json={"environment": "dev"})
    assert no_ref.status_code == 422
    body = no_ref.json()
    assert body["message"] == "Validation Failed" and body["errors"][0]["field"] == "ref"
    deployment = github.get(f"{REPO}/deployments").json()[0]
    bad_state = github.post(f"{REPO}/deployments/{deployment['id']}/statuses",
                            json={"state": "exploded"})
    assert bad_state.status_code == 422
    assert bad_state.json()["errors"][0]["field"] == "state"


def test_environments_are_an_object_with_total_count(github: httpx.Client) -> None:
    body = github.get(f"{REPO}/environments").json()
    assert body["total_count"] == 3
    assert [e["name"] for e in body["environments"]] == ["dev", "staging", "production"]
    assert github.get(f"{REPO}/environments/qa").status_code == 404


# -- mounted under a prefix ----------------------------------------------------------------

def test_urls_and_links_keep_the_mount_prefix(world: World) -> None:
    host = Starlette(routes=[Mount("/sandbox/github", app=create_app(world))])
    with serve_asgi(host) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        first = client.get(f"/sandbox/github{REPO}/issues", params={"state": "all",
                                                                    "per_page": 5})
        assert first.status_code == 200
        assert links(first)["next"].startswith(f"{url}/sandbox/github{REPO}/issues?")
        assert first.json()[0]["url"].startswith(f"{url}/sandbox/github{REPO}/issues/")
        assert client.get(links(first)["next"]).status_code == 200


# -- GraphQL ----------------------------------------------------------------------------------

def graphql(client: httpx.Client, query: str, **variables: Any) -> httpx.Response:
    return client.post("/graphql", json={"query": query, "variables": variables})


BATCH = """
query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    m2: milestone(number: 2) { ...scope }
    m3: milestone(number: 3) { ...scope }
  }
  rateLimit { cost limit remaining used resetAt }
}
fragment scope on Milestone {
  title
  issues(first: 100) { totalCount nodes { id number title state } }
  pullRequests(first: 100) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id number title state merged mergedAt baseRefName url author { login }
            updatedAt milestone { number } labels(first: 10) { nodes { name } } }
  }
}
"""


def test_graphql_reads_several_milestones_issues_and_pulls_in_one_call(
        github: httpx.Client, world: World) -> None:
    response = graphql(github, BATCH, owner="acme-retail", name="payments-service")
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    for alias, number in (("m2", 2), ("m3", 3)):
        release = next(r for r in world.releases
                       if r.app_key == "PAY" and r.milestone_number == number)
        milestone = body["data"]["repository"][alias]
        assert milestone["title"] == release.version_name
        issues = {i["number"] for i in milestone["issues"]["nodes"]}
        pulls = {p["number"] for p in milestone["pullRequests"]["nodes"]}
        assert issues | pulls == pay_numbers(world, release.key)
        assert milestone["pullRequests"]["totalCount"] == len(pulls)
        assert {p["milestone"]["number"] for p in milestone["pullRequests"]["nodes"]} == {number}
    rate = body["data"]["rateLimit"]
    assert rate["limit"] == 5000 and rate["resetAt"].endswith("Z")
    assert response.headers["x-ratelimit-resource"] == "graphql"


def test_graphql_node_ids_match_rest_and_nodes_returns_null_for_a_missing_id(
        github: httpx.Client) -> None:
    rest_pull = github.get(f"{REPO}/pulls/1").json()
    rest_issue = github.get(f"{REPO}/issues/4").json()
    missing = node_id("PullRequest", 1)
    response = graphql(github, """query($ids: [ID!]!) { nodes(ids: $ids) {
        __typename id ... on PullRequest { number } ... on Issue { number } } }""",
                       ids=[rest_pull["node_id"], missing, rest_issue["node_id"]])
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["nodes"][0] == {"__typename": "PullRequest", "id": rest_pull["node_id"],
                                        "number": 1}
    assert body["data"]["nodes"][1] is None
    assert body["data"]["nodes"][2]["number"] == 4
    assert [(e["type"], e["path"]) for e in body["errors"]] == [("NOT_FOUND", ["nodes", 1])]
    assert missing in body["errors"][0]["message"]
    milestone = github.get(f"{REPO}/milestones/2").json()
    single = graphql(github, "query($id: ID!) { node(id: $id) { ... on Milestone { title } } }",
                     id=milestone["node_id"]).json()
    assert single == {"data": {"node": {"title": milestone["title"]}}}


def test_graphql_connections_page_with_after_cursors(github: httpx.Client, world: World) -> None:
    query = """query($after: String) { repository(owner: "acme-retail",
        name: "payments-service") { milestones(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { number } } } }"""
    seen: list[int] = []
    after = None
    for _ in range(20):
        page = graphql(github, query, after=after).json()["data"]["repository"]["milestones"]
        seen += [m["number"] for m in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(r.milestone_number for r in world.releases if r.app_key == "PAY")


def test_graphql_errors_are_http_200_with_errors(github: httpx.Client) -> None:
    unknown_field = graphql(github, '{ repository(owner: "acme-retail", name: "x") { nope } }')
    assert unknown_field.status_code == 200
    assert "nope" in unknown_field.json()["errors"][0]["message"]
    no_repo = graphql(github, '{ repository(owner: "acme-retail", name: "x") { id } }').json()
    assert no_repo["data"] == {"repository": None}
    assert no_repo["errors"][0]["type"] == "NOT_FOUND"
    unbounded = graphql(github, """{ repository(owner: "acme-retail",
        name: "payments-service") { milestone(number: 1) { issues { totalCount } } } }""")
    assert unbounded.json()["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"


def test_graphql_budget_exhausted_is_a_rate_limited_error_with_http_200(world: World) -> None:
    for client in fresh(world, graphql_rate_limit=1):
        first = graphql(client, "{ viewer { login } }")
        assert first.json() == {"data": {"viewer": {"login": "demo"}}}
        assert first.headers["x-ratelimit-remaining"] == "0"
        limited = graphql(client, "{ viewer { login } }")
        assert limited.status_code == 200
        assert limited.json()["errors"][0]["type"] == "RATE_LIMITED"
        assert client.get(REPO).status_code == 200  # REST has its own budget


def test_graphql_without_a_token_is_401(github: httpx.Client) -> None:
    response = httpx.post(f"{github.base_url}/graphql", json={"query": "{ viewer { login } }"})
    assert response.status_code == 401


DEPLOYMENTS = """query($after: String, $envs: [String!], $order: DeploymentOrder) {
  repository(owner: "acme-retail", name: "payments-service") {
    deployments(first: 2, after: $after, environments: $envs, orderBy: $order) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { id databaseId environment ref { name prefix } commitOid createdAt updatedAt
              creator { login } state latestStatus { state description createdAt } } } } }"""
NEWEST_FIRST = {"field": "CREATED_AT", "direction": "DESC"}


def graphql_deployments(client: httpx.Client, **variables: Any) -> list[dict[str, Any]]:
    """Every deployment node, following `endCursor` to the end."""
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(100):
        body = graphql(client, DEPLOYMENTS, after=after, **variables).json()
        assert "errors" not in body, body
        page = body["data"]["repository"]["deployments"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            assert page["totalCount"] == len(nodes)
            return nodes
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


def test_graphql_deployments_page_newest_first_and_agree_with_rest(
        github: httpx.Client) -> None:
    nodes = graphql_deployments(github, envs=["production"], order=NEWEST_FIRST)
    rest = follow(github, f"{REPO}/deployments", environment="production", per_page=100)
    assert len(rest) > 2  # more than one page of two
    assert [n["databaseId"] for n in nodes] == [d["id"] for d in rest]
    for node, raw in zip(nodes, rest, strict=True):
        latest = github.get(f"{REPO}/deployments/{raw['id']}/statuses",
                            params={"per_page": 1}).json()[0]
        assert node["id"] == raw["node_id"]
        assert (node["environment"], node["ref"]["name"], node["commitOid"]) == (
            raw["environment"], raw["ref"], raw["sha"])
        assert (node["createdAt"], node["updatedAt"]) == (raw["created_at"],
                                                          raw["updated_at"])
        assert node["creator"]["login"] == raw["creator"]["login"]
        assert node["latestStatus"] == {"state": latest["state"].upper(),
                                        "description": latest["description"],
                                        "createdAt": latest["created_at"]}
        expected_state = "ACTIVE" if latest["state"] == "success" else latest["state"].upper()
        assert node["state"] == expected_state


def test_graphql_deployments_default_to_oldest_first_across_environments(
        github: httpx.Client, world: World) -> None:
    nodes = graphql_deployments(github)
    pay = sorted((d for d in world.deployments if d.app_key == "PAY"),
                 key=lambda d: (d.created, d.id))
    assert [n["databaseId"] for n in nodes] == [d.id for d in pay]
    assert {n["environment"] for n in nodes} == {d.environment for d in pay}
    assert all(n["ref"]["prefix"] == "refs/tags/" for n in nodes)


def test_graphql_deployments_insist_on_a_page_size(github: httpx.Client) -> None:
    body = graphql(github, """{ repository(owner: "acme-retail", name: "payments-service") {
        deployments { totalCount } } }""").json()
    assert body["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"


def test_a_new_deployment_has_no_latest_status_until_one_is_posted(world: World) -> None:
    for client in fresh(world):
        made = client.post(f"{REPO}/deployments",
                           json={"ref": "v1.3.0", "environment": "dev"}).json()
        query = "query($id: ID!) { node(id: $id) { ... on Deployment { state latestStatus " \
                "{ state } } } }"
        before = graphql(client, query, id=made["node_id"]).json()["data"]["node"]
        client.post(f"{REPO}/deployments/{made['id']}/statuses", json={"state": "failure"})
        after = graphql(client, query, id=made["node_id"]).json()["data"]["node"]
    assert before == {"state": "PENDING", "latestStatus": None}
    assert after == {"state": "FAILURE", "latestStatus": {"state": "FAILURE"}}


def test_the_same_document_asked_again_reads_the_data_as_it_is_then(world: World) -> None:
    """Documents are parsed and checked once, never answered from a copy: an issue opened
    between two identical queries shows in the second."""
    query = """query($n: Int!) { repository(owner: "acme-retail", name: "payments-service") {
        milestone(number: $n) { progressPercentage issues(first: 100) { totalCount
        nodes { number title } } } } }"""
    for client in fresh(world):
        before = graphql(client, query, n=2).json()["data"]["repository"]["milestone"]
        made = client.post(f"{REPO}/issues", json={"title": "Found late", "milestone": 2})
        assert made.status_code == 201
        after = graphql(client, query, n=2).json()["data"]["repository"]["milestone"]
        refused = [graphql(client, "{ viewer { nope } }").json() for _ in range(2)]
    assert after["issues"]["totalCount"] == before["issues"]["totalCount"] + 1
    assert {"number": made.json()["number"], "title": "Found late"} in after["issues"]["nodes"]
    assert after["progressPercentage"] < before["progressPercentage"]
    assert refused[0] == refused[1] and "nope" in refused[0]["errors"][0]["message"]


def test_graphql_issue_assignees_are_the_rest_assignees(world: World) -> None:
    unassigned = copy.deepcopy(world)  # every issue in the demo world has an assignee
    pay = [i for i in unassigned.github_issues if i.app_key == "PAY"]
    pay[0].assignee = None
    query = ("{ repository(owner: \"acme-retail\", name: \"payments-service\") { "
             + " ".join(f"i{i.number}: issue(number: {i.number}) "
                        "{ assignees(first: 10) { totalCount nodes { login } } }" for i in pay)
             + " } }")
    for client in fresh(unassigned):
        body = graphql(client, query).json()
        assert "errors" not in body
        rest = {i.number: client.get(f"{REPO}/issues/{i.number}").json()["assignees"]
                for i in pay}
    answers = {i.number: body["data"]["repository"][f"i{i.number}"]["assignees"] for i in pay}
    assert answers[pay[0].number] == {"totalCount": 0, "nodes": []}
    for number, answer in answers.items():
        assert [n["login"] for n in answer["nodes"]] == [a["login"] for a in rest[number]]
        assert answer["totalCount"] == len(rest[number])


# -- webhooks -----------------------------------------------------------------------------------

def test_signature_matches_githubs_documented_test_vector() -> None:
    assert signature_256("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")


@pytest.fixture()
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    with serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        yield f"{url}/hook", received


def verified(received: list[tuple[dict[str, str], bytes]], secret: str,
             event: str) -> list[dict[str, Any]]:
    """Payloads of `event` whose signature checks out with `secret`."""
    out = []
    for headers, body in received:
        if headers["x-github-event"] != event:
            continue
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-hub-signature-256"], expected)
        assert headers["x-github-delivery"]
        out.append(json.loads(body))
    return out


def test_writes_send_signed_webhooks(
        world: World, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]) -> None:
    url, received = receiver
    secret = "s3cret"
    for client in fresh(world, webhook_url=url, webhook_secret=secret):
        deployment = client.post(f"{REPO}/deployments",
                                 json={"ref": "v1.3.0", "environment": "production"}).json()
        client.post(f"{REPO}/deployments/{deployment['id']}/statuses", json={"state": "success"})
        opened = client.get(f"{REPO}/pulls").json()[0]
        assert client.put(f"{REPO}/pulls/{opened['number']}/merge").status_code == 200
        client.post(f"{REPO}/releases", json={"tag_name": "v9.0.0", "name": "Nine"})

    status = verified(received, secret, "deployment_status")
    assert len(status) == 1
    assert status[0]["action"] == "created"
    assert status[0]["deployment_status"]["state"] == "success"
    assert status[0]["deployment"]["id"] == deployment["id"]
    assert status[0]["repository"]["full_name"] == "acme-retail/payments-service"
    assert [p["action"] for p in verified(received, secret, "deployment")] == ["created"]
    closed = verified(received, secret, "pull_request")
    assert [(p["action"], p["number"], p["pull_request"]["merged"]) for p in closed] == [
        ("closed", opened["number"], True)]
    assert [p["action"] for p in verified(received, secret, "release")] == [
        "created", "published"]


def test_graphql_reports_the_nodes_and_points_a_call_asks_for(github: httpx.Client) -> None:
    body = graphql(github, """query { repository(owner: "acme-retail", name: "payments-service")
        { issues(first: 100) { nodes { assignees(first: 1) { nodes { login } } } } }
        rateLimit { cost nodeCount } }""").json()
    # 100 issues + 100 x 1 assignees; 1 + 100 requests to fill them: 1 point.
    assert body["data"]["rateLimit"] == {"cost": 1, "nodeCount": 200}


def test_graphql_refuses_a_call_over_half_a_million_nodes(github: httpx.Client) -> None:
    """Each alias asks 100 issues x 100 assignees (+100): 51 of them ask 515,100 nodes."""
    aliases = [f'r{i}: repository(owner: "acme-retail", name: "payments-service") {{ '
               f"issues(first: 100) {{ nodes {{ assignees(first: 100) {{ nodes {{ login }} }} }} "
               f"}} }}" for i in range(51)]
    refused = graphql(github, f"query {{ {' '.join(aliases)} }}")
    assert refused.status_code == 200
    body = refused.json()
    assert body["data"] is None
    assert [e["type"] for e in body["errors"]] == ["MAX_NODE_LIMIT_EXCEEDED"]
    assert "515,100" in body["errors"][0]["message"]
    fewer = " ".join(aliases[:49])  # 49 aliases: 494,900 nodes, under the limit
    assert "errors" not in graphql(github, f"query {{ {fewer} }}").json()


# -- issue events --------------------------------------------------------------------


def test_a_world_issue_has_the_history_its_state_implies(github: httpx.Client,
                                                         world: World) -> None:
    issue = next(i for i in world.github_issues if i.app_key == "PAY" and i.closed_at
                 and i.release_key and i.labels)
    events = follow(github, f"{REPO}/issues/{issue.number}/events")
    names = [e["event"] for e in events]
    assert names[0] == "milestoned" and names[-1] == "closed"
    assert names.count("labeled") == len(issue.labels)
    closed = events[-1]
    assert closed["created_at"] == issue.closed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert closed["state_reason"] == (issue.state_reason or "completed")
    assert "issue" not in closed  # an issue's own listing leaves the issue out
    assert [e["created_at"] for e in events] == sorted(e["created_at"] for e in events)
    # The same every time: derived, not drawn anew.
    assert follow(github, f"{REPO}/issues/{issue.number}/events") == events


def test_a_merged_pull_request_has_merged_and_closed_events_at_its_merge_commit(
        github: httpx.Client, world: World) -> None:
    pull = next(p for p in world.pull_requests if p.app_key == "PAY" and p.merged_at)
    events = follow(github, f"{REPO}/issues/{pull.number}/events")
    merged, closed = events[-2:]
    assert (merged["event"], closed["event"]) == ("merged", "closed")
    assert merged["commit_id"] == closed["commit_id"] == pull.merge_commit_sha
    assert merged["commit_url"].endswith(f"/commits/{pull.merge_commit_sha}")


def test_writes_are_recorded_as_events_by_the_tokens_owner(world: World) -> None:
    for github in fresh(world):
        opened = github.post(f"{REPO}/issues", json={
            "title": "Refund rounding", "labels": ["bug"], "milestone": 1})
        assert opened.status_code == 201, opened.text
        number = opened.json()["number"]
        assert github.patch(f"{REPO}/issues/{number}", json={
            "title": "Refund rounding on partial captures", "state": "closed",
            "state_reason": "not_planned"}).status_code == 200
        assert github.delete(f"{REPO}/issues/{number}/labels/bug").status_code == 200
        assert github.patch(f"{REPO}/issues/{number}", json={"state": "open"}).status_code == 200
        events = follow(github, f"{REPO}/issues/{number}/events")
        assert [e["event"] for e in events] == [
            "milestoned", "labeled", "renamed", "closed", "unlabeled", "reopened"]
        viewer = github.get("/user").json()["login"]
        assert {e["actor"]["login"] for e in events} == {viewer}
        assert events[2]["rename"] == {"from": "Refund rounding",
                                       "to": "Refund rounding on partial captures"}
        assert events[3]["state_reason"] == "not_planned"
        assert events[1]["label"]["name"] == "bug" and events[1]["label"]["color"]
        # The repository's listing: newest first, each with the issue as it is now.
        listed = follow(github, f"{REPO}/issues/events", per_page=100)
        assert [e["created_at"] for e in listed] == sorted(
            (e["created_at"] for e in listed), reverse=True)
        ours = [e for e in listed if e["issue"]["number"] == number]
        assert [e["id"] for e in ours] == [e["id"] for e in reversed(events)]
        assert ours[0]["issue"]["state"] == "open"
        single = github.get(f"{REPO}/issues/events/{events[2]['id']}")
        assert single.status_code == 200 and single.json()["rename"] == events[2]["rename"]


def test_a_pull_request_merged_through_the_sandbox_records_its_merge(world: World) -> None:
    # One opened before now, in whichever repository has one (a ready release's are merged).
    pull = next(p for p in world.pull_requests if p.state == "open" and not p.draft
                and p.created < world.now)
    repo = f"/repos/{world.org}/{world.app(pull.app_key).repo_name}"
    for github in fresh(world):
        before = len(follow(github, f"{repo}/issues/{pull.number}/events"))
        merged = github.put(f"{repo}/pulls/{pull.number}/merge")
        assert merged.status_code == 200, merged.text
        events = follow(github, f"{repo}/issues/{pull.number}/events")
        assert [e["event"] for e in events[before:]] == ["merged", "closed"]
        assert events[-1]["commit_id"] == merged.json()["sha"]


def test_events_of_an_unknown_issue_or_event_are_not_found(github: httpx.Client) -> None:
    assert github.get(f"{REPO}/issues/999999/events").status_code == 404
    assert github.get(f"{REPO}/issues/events/12345").status_code == 404


# -- what a repository says of itself --------------------------------------------------


def test_topics_languages_and_readme_agree_with_the_repository(github: httpx.Client,
                                                               world: World) -> None:
    repo = github.get(REPO).json()
    assert github.get(f"{REPO}/topics").json() == {"names": repo["topics"]}
    assert list(github.get(f"{REPO}/languages").json()) == [repo["language"]]
    readme = github.get(f"{REPO}/readme").json()
    assert readme["encoding"] == "base64" and readme["path"] == "README.md"
    text = base64.b64decode(readme["content"]).decode()
    assert text.startswith(f"# {repo['name']}") and readme["size"] == len(text.encode())


def test_collaborators_are_the_people_the_lead_administers_the_rest_write(
        github: httpx.Client, world: World) -> None:
    lead = world.app("PAY").lead.github_login
    people = follow(github, f"{REPO}/collaborators", per_page=100)
    roles = {p["login"]: p["role_name"] for p in people}
    viewer = github.get("/user").json()["login"]
    assert roles[lead] == "admin" and roles[viewer] == "write"
    assert {r for login, r in roles.items() if login != lead} == {"write"}
    # The token's owner may push and not administer, as the repository itself says.
    assert github.get(REPO).json()["permissions"] == next(
        p["permissions"] for p in people if p["login"] == viewer)
    assert github.get(f"{REPO}/collaborators/{lead}").status_code == 204
    assert github.get(f"{REPO}/collaborators/nobody-here").status_code == 404
    assert github.get(f"{REPO}/collaborators/{lead}/permission").json()["permission"] == "admin"


def test_the_only_workflow_runs_are_those_a_protection_rule_held(world: World) -> None:
    for github in fresh(world):
        assert github.get(f"{REPO}/actions/runs").json() == {"total_count": 0,
                                                             "workflow_runs": []}
        assert github.post(f"{REPO}/environments/production/deployment_protection_rules",
                           json={"integration_id": 77}).status_code == 201
        deployment = github.post(f"{REPO}/deployments",
                                 json={"ref": "v1.2.0", "environment": "production"}).json()
        [run] = github.get(f"{REPO}/actions/runs").json()["workflow_runs"]
        assert (run["status"], run["head_sha"], run["head_branch"]) == (
            "waiting", deployment["sha"], "v1.2.0")
        assert github.get(f"{REPO}/actions/runs", params={"status": "completed"}
                          ).json()["total_count"] == 0
        assert github.get(f"{REPO}/actions/runs/{run['id']}").json()["id"] == run["id"]
        workflows = github.get(f"{REPO}/actions/workflows").json()["workflows"]
        assert run["workflow_id"] in {w["id"] for w in workflows}
        # The rule's app answers: the run completes, a success.
        assert github.post(f"{REPO}/actions/runs/{run['id']}/deployment_protection_rule",
                           json={"state": "approved", "environment_name": "production"}
                           ).status_code == 204
        done = github.get(f"{REPO}/actions/runs/{run['id']}").json()
        assert (done["status"], done["conclusion"]) == ("completed", "success")
        assert github.get(f"{REPO}/actions/runs", params={"status": "waiting"}
                          ).json()["total_count"] == 0
        assert github.get(f"{REPO}/actions/runs/1").status_code == 404


async def answer_twice(base_url: str, path: str, answer: dict[str, Any]) -> tuple[int, int]:
    """The first answer's status and that of a retry whose body was still arriving
    when the first came and decided."""
    async def slow_body() -> AsyncIterator[bytes]:
        await asyncio.sleep(0.3)
        yield json.dumps(answer).encode()

    async with httpx.AsyncClient(base_url=base_url, headers=AUTH) as client:
        retry = asyncio.ensure_future(client.post(
            path, content=slow_body(), headers={"content-type": "application/json"}))
        await asyncio.sleep(0.1)
        first = await client.post(path, json=answer)
        return first.status_code, (await retry).status_code


def test_two_answers_to_a_held_run_at_once_decide_it_once(world: World) -> None:
    """A rule's app that retries its answer while the first is in flight: the first
    decides the run, the second finds nothing pending (before, a 500)."""
    for github in fresh(world):
        github.post(f"{REPO}/environments/production/deployment_protection_rules",
                    json={"integration_id": 77})
        deployment = github.post(f"{REPO}/deployments",
                                 json={"ref": "v1.2.0", "environment": "production"}).json()
        [run] = github.get(f"{REPO}/actions/runs").json()["workflow_runs"]
        answer = {"state": "approved", "environment_name": "production"}
        path = f"{REPO}/actions/runs/{run['id']}/deployment_protection_rule"

        assert asyncio.run(answer_twice(str(github.base_url), path, answer)) == (204, 404)
        states = [s["state"] for s in github.get(
            f"{REPO}/deployments/{deployment['id']}/statuses").json()]
        assert states.count("success") == 1
