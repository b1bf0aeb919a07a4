"""The GitHub connector against the GitHub sandbox, over real sockets.

What the sandbox serves comes from the demo world, so each answer is checked
against the world; the sandbox's request log counts the calls the connector
made, and its faults stand in for a misbehaving api.github.com.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.base import (
    BatchRead,
    DeploymentSource,
    DeploymentsRead,
    DeploymentState,
    LinkKind,
    LinkRef,
    MergedWorkSource,
    PullRequest,
    RepositoryIssue,
    VersionSource,
    WorkItemSource,
    WorkItemsRead,
    WorkStatus,
)
from connectors.config import AuthConfig, ConnectorConfig
from connectors.errors import BadLinkKey, ErrorCode, LinkTargetMissing, UpstreamError
from connectors.github.client import GitHubConnector
from connectors.github.limits import MAX_NODES
from connectors.github.sandbox.app import create_app
from connectors.http import UpstreamClient
from connectors.records import failures_of
from connectors.sandbox.kit import DEMO_TOKEN
from connectors.sandbox.world import Release, World, build_world
from tests.support.server import serve_asgi

SOURCE = "github"
DEPLOYMENT_STATES = {"pending": DeploymentState.PENDING, "queued": DeploymentState.PENDING,
                     "in_progress": DeploymentState.IN_PROGRESS,
                     "success": DeploymentState.SUCCESS, "failure": DeploymentState.FAILURE,
                     "error": DeploymentState.FAILURE, "inactive": DeploymentState.INACTIVE}


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7)


@pytest.fixture(scope="module")
def sandbox_url(world: World) -> Iterator[str]:
    with serve_asgi(create_app(world)) as url:
        yield url


@dataclass
class Sandbox:
    """The running GitHub sandbox, seen through its control endpoints."""

    url: str
    control: httpx.Client

    def requests(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.control.get("/_sandbox/requests").json()["requests"]
        return [e for e in entries if e["path"] != "/rate_limit"]

    def forget_requests(self) -> None:
        self.control.delete("/_sandbox/requests").raise_for_status()

    def fault(self, **rule: Any) -> None:
        self.control.post("/_sandbox/faults", json=rule).raise_for_status()

    def core_budget_used(self) -> int:
        answer = self.control.get("/rate_limit",
                                  headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
        return int(answer.json()["resources"]["core"]["used"])


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[Sandbox]:
    with httpx.Client(base_url=sandbox_url) as control:
        control.delete("/_sandbox/faults").raise_for_status()
        control.delete("/_sandbox/requests").raise_for_status()
        yield Sandbox(sandbox_url, control)
        control.delete("/_sandbox/faults").raise_for_status()


def connect(base_url: str, *, token: str = DEMO_TOKEN, status_map: dict[str, str] | None = None,
            options: dict[str, Any] | None = None, **settings: Any) -> GitHubConnector:
    config = ConnectorConfig(name=SOURCE, kind="github", base_url=base_url,
                             auth=AuthConfig(type="token", token_env="GITHUB_TOKEN"),
                             status_map=status_map or {}, options=options or {}, **settings)
    return GitHubConnector(config, UpstreamClient.from_config(
        config, environ={"GITHUB_TOKEN": token}))


def repo_of(world: World, release: Release) -> str:
    app = world.app(release.app_key)
    return f"{app.repo_owner}/{app.repo_name}"


def milestone_link(world: World, release: Release) -> LinkRef:
    return LinkRef(SOURCE, LinkKind.MILESTONE,
                   f"{repo_of(world, release)}#{release.milestone_number}")


def expected_milestone(world: World, release: Release) -> dict[str, tuple[str, str]]:
    """key -> (title, GitHub's word) for every issue and pull request in the milestone."""
    repo = repo_of(world, release)
    out = {f"{repo}#{i.number}": (i.title, i.state) for i in world.github_issues
           if i.release_key == release.key}
    for p in world.pull_requests:
        if p.release_key == release.key:
            word = "merged" if p.merged_at else ("draft" if p.draft else p.state)
            out[f"{repo}#{p.number}"] = (p.title, word)
    return out


# -- work items: milestones ----------------------------------------------------------


def test_the_connector_implements_the_three_source_protocols() -> None:
    connector = connect("https://api.github.com")
    assert isinstance(connector, WorkItemSource)
    assert isinstance(connector, VersionSource)
    assert isinstance(connector, DeploymentSource)
    assert connector.graphql_url == "graphql"
    enterprise = connect("https://ghe.example.com/api/v3")
    assert enterprise.graphql_url == "https://ghe.example.com/api/graphql"


async def test_every_milestone_brings_its_issues_and_pull_requests_in_one_call(
        sandbox: Sandbox, world: World) -> None:
    links = [milestone_link(world, r) for r in world.releases]
    async with aclosing(connect(sandbox.url)) as github:
        found = await github.work_items(links)
    assert [(e["method"], e["path"]) for e in sandbox.requests()] == [("POST", "/graphql")]
    for release, link in zip(world.releases, links, strict=True):
        items = found[link]
        assert {i.key: (i.title, i.status_label) for i in items} == expected_milestone(
            world, release)
        assert all(isinstance(i, RepositoryIssue) and i.milestone == release.version_name
                   for i in items)
    pulls = [i for items in found.values() for i in items if isinstance(i, PullRequest)]
    assert {(p.status_label, p.status) for p in pulls} == {
        ("merged", WorkStatus.DONE), ("open", WorkStatus.IN_PROGRESS),
        ("draft", WorkStatus.IN_PROGRESS)}
    assert all(p.merged == (p.merged_at is not None) and p.base_ref == "main" for p in pulls)
    issues = [i for items in found.values() for i in items if not isinstance(i, PullRequest)]
    # Every issue of the demo world has an assignee, so an open one is under way.
    assert {(i.status_label, i.status) for i in issues} == {
        ("open", WorkStatus.IN_PROGRESS), ("closed", WorkStatus.DONE)}
    assert all(i.assignee for i in issues)


async def test_small_pages_are_followed_to_the_end(sandbox: Sandbox, world: World) -> None:
    releases = world.releases[:8]
    links = [milestone_link(world, r) for r in releases]
    async with aclosing(connect(sandbox.url, options={"page_size": 2})) as github:
        found = await github.work_items(links)
    for release, link in zip(releases, links, strict=True):
        assert {i.key for i in found[link]} == set(expected_milestone(world, release))
    # Rounds, not milestones: the longest connection decides how many requests follow.
    longest = max(max(sum(1 for i in world.github_issues if i.release_key == r.key),
                      sum(1 for p in world.pull_requests if p.release_key == r.key))
                  for r in releases)
    assert len(sandbox.requests()) == -(-longest // 2)


async def test_many_milestones_cost_the_same_calls_as_one(sandbox: Sandbox,
                                                          world: World) -> None:
    async with aclosing(connect(sandbox.url)) as github:
        await github.work_items([milestone_link(world, world.releases[0])])
        one = len(sandbox.requests())
        sandbox.forget_requests()
        await github.work_items([milestone_link(world, r) for r in world.releases])
        many = len(sandbox.requests())
    assert len(world.releases) > 30
    assert one == many == 1


async def test_chunks_of_aliases_stay_under_the_batch_size(sandbox: Sandbox,
                                                           world: World) -> None:
    links = [milestone_link(world, r) for r in world.releases]
    async with aclosing(connect(sandbox.url, options={"graphql_batch": 10})) as github:
        found = await github.work_items(links)
    assert len(sandbox.requests()) == -(-len(links) // 10)
    assert sum(len(items) for items in found.values()) == sum(
        len(expected_milestone(world, r)) for r in world.releases)


async def test_a_missing_milestone_is_an_error_and_an_uncut_range_has_no_items(
        sandbox: Sandbox, world: World) -> None:
    known = milestone_link(world, world.releases[0])
    gone = [LinkRef(SOURCE, LinkKind.MILESTONE, "acme-retail/no-such-repo#1"),
            LinkRef(SOURCE, LinkKind.MILESTONE, "acme-retail/payments-service#999")]
    malformed = LinkRef(SOURCE, LinkKind.MILESTONE, "not a key")
    uncut = LinkRef(SOURCE, LinkKind.CODE_RANGE, "acme-retail/payments-service@v9...v10")
    other = LinkRef(SOURCE, LinkKind.PLANNED_VERSION, "PAY:2026.11")
    links = [known, *gone, malformed, uncut, other]
    async with aclosing(connect(sandbox.url)) as github:
        found = await github.work_items(links)
    assert set(found) == set(links)
    assert found[known] and failures_of(found, known) is None
    # A deleted milestone's items are unknown, not none: a release must not look done.
    for link in gone:
        missing = failures_of(found, link)
        assert isinstance(missing, LinkTargetMissing), link
        assert missing.key == link.key and "GitHub has no milestone" in missing.message
    assert isinstance(failures_of(found, malformed), BadLinkKey)
    # A range whose tags are not cut yet holds nothing yet; another kind is not GitHub's.
    assert found[uncut] == [] and failures_of(found, uncut) is None
    assert found[other] == [] and failures_of(found, other) is None


# -- work items: compare ranges ---------------------------------------------------------


def merged_in_range(world: World, release: Release) -> set[str]:
    """Pull requests whose merge commit lies after `from_tag` up to `to_tag`."""
    commits = world.commits[release.app_key]
    tags = {t.name: t.sha for t in world.tags if t.app_key == release.app_key}
    shas = [c.sha for c in commits]
    low = shas.index(tags[release.from_tag]) if tags[release.from_tag] in shas else -1
    high = shas.index(tags[release.to_tag])
    in_range = set(shas[low + 1: high + 1])
    repo = repo_of(world, release)
    return {f"{repo}#{p.number}" for p in world.pull_requests
            if p.app_key == release.app_key and p.merge_commit_sha in in_range}


async def test_a_compare_range_yields_the_pull_requests_merged_in_it(
        sandbox: Sandbox, world: World) -> None:
    shipped = [r for r in world.releases if r.status == "DEPLOYED"][:4]
    links = [LinkRef(SOURCE, LinkKind.CODE_RANGE,
                     f"{repo_of(world, r)}@{r.from_tag}...{r.to_tag}") for r in shipped]
    async with aclosing(connect(sandbox.url, options={"page_size": 2})) as github:
        found = await github.work_items(links)
    for release, link in zip(shipped, links, strict=True):
        expected = merged_in_range(world, release)
        assert len(expected) >= 2
        assert {i.key for i in found[link]} == expected
        assert all(isinstance(i, PullRequest) and i.merged and i.status is WorkStatus.DONE
                   for i in found[link])
    calls = sandbox.requests()
    graphql = [e for e in calls if e["path"] == "/graphql"]
    compares = [e for e in calls if "/compare/" in e["path"]]
    assert len(graphql) == 1  # every range's pull requests in one query
    assert len(compares) > len(links)  # page_size 2 made each range take several pages
    assert all("per_page=2" in e["query"] for e in compares)


def without_later_compare_pages(app: ASGIApp) -> ASGIApp:
    """The sandbox, but a compare's pages after the first are gone (404), as when the
    range's head is force-pushed between two pages."""
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        if scope["type"] == "http" and "/compare/" in scope["path"] and \
                query.get("page", ["1"]) != ["1"]:
            await JSONResponse({"message": "Not Found"}, status_code=404)(scope, receive, send)
            return
        await app(scope, receive, send)
    return wrapped


async def test_a_compare_range_whose_later_page_is_gone_fails_instead_of_reading_empty(
        world: World) -> None:
    release = next(r for r in world.releases
                   if r.status == "DEPLOYED" and len(merged_in_range(world, r)) >= 3)
    link = LinkRef(SOURCE, LinkKind.CODE_RANGE,
                   f"{repo_of(world, release)}@{release.from_tag}...{release.to_tag}")
    with serve_asgi(without_later_compare_pages(create_app(world))) as url:
        async with aclosing(connect(url, options={"page_size": 2})) as github:
            with pytest.raises(UpstreamError) as caught:
                await github.work_items([link])
    assert caught.value.code is ErrorCode.UPSTREAM_BAD_RESPONSE
    assert "page 2 answered 404" in caught.value.message


# -- versions and deployments -------------------------------------------------------------


async def test_versions_page_through_every_milestone_of_each_repository(
        sandbox: Sandbox, world: World) -> None:
    repos = [f"{a.repo_owner}/{a.repo_name}" for a in world.applications[:2]]
    async with aclosing(connect(sandbox.url, options={"page_size": 2})) as github:
        versions = await github.versions([*repos, "acme-retail/no-such-repo", "nonsense"])
    expected = {f"{repo_of(world, r)}#{r.milestone_number}": (r.version_name, r.status in (
        "DEPLOYED", "CANCELLED")) for r in world.releases if repo_of(world, r) in repos}
    assert {v.id: (v.name, v.released) for v in versions} == expected
    assert all(v.kind is LinkKind.MILESTONE and v.link().key == v.id for v in versions)
    pages = [e for e in sandbox.requests() if e["path"].endswith("/milestones")]
    per_repo = -(-len(expected) // len(repos) // 2)
    assert len(pages) == len(repos) * per_repo + 1  # + the unknown repository's 404


def repos_of(world: World) -> list[str]:
    return [f"{a.repo_owner}/{a.repo_name}" for a in world.applications]


def graphql_calls(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [e for e in sandbox.requests() if e["path"] == "/graphql"]


async def test_deployments_carry_the_state_of_their_latest_status(
        sandbox: Sandbox, world: World) -> None:
    app = world.applications[0]
    repo = f"{app.repo_owner}/{app.repo_name}"
    async with aclosing(connect(sandbox.url)) as github:
        found = await github.deployments([repo], "production")
    expected = sorted((d for d in world.deployments
                       if d.app_key == app.key and d.environment == "production"),
                      key=lambda d: d.created, reverse=True)
    assert [d.id for d in found] == [str(d.id) for d in expected]  # newest first
    for deployment, source in zip(found, expected, strict=True):
        latest = source.statuses[-1]
        assert (deployment.state_label, deployment.state) == (
            latest.state, DEPLOYMENT_STATES[latest.state])
        assert (deployment.ref, deployment.sha, deployment.repository, deployment.environment) \
            == (source.ref, source.sha, repo, "production")
        assert (deployment.created_at, deployment.updated_at) == (source.created, latest.created)
        assert deployment.creator == source.creator.github_login
        assert deployment.url.startswith(sandbox.url) and "/actions/runs/" in deployment.url
        tagged = next(c for c in world.commits[app.key] if c.sha == source.sha)
        assert deployment.committed_at == tagged.date  # the deployed commit's own time
    assert len(sandbox.requests()) == 1


async def test_merged_work_comes_with_its_merge_and_first_commit_in_one_call(
        sandbox: Sandbox, world: World) -> None:
    repos = repos_of(world)
    since = world.now - timedelta(days=60)
    async with aclosing(connect(sandbox.url)) as github:
        assert isinstance(github, MergedWorkSource)
        found = await github.merged_work([*repos, "acme-retail/no-such-repo"], since)
    assert [e["path"] for e in sandbox.requests()] == ["/graphql"]
    expected = {f"{repo_of(world, world.release(p.release_key))}#{p.number}":
                (p.merged_at, p.created) for p in world.pull_requests
                if p.merged_at is not None and p.merged_at >= since and p.release_key}
    assert {p.key: (p.merged_at, p.first_commit_at) for p in found} == expected


async def test_merged_work_pages_stop_once_they_reach_back_before_the_asked_time(
        sandbox: Sandbox, world: World) -> None:
    repo = repos_of(world)[0]
    merged = [p for p in world.pull_requests if p.merged_at is not None
              and repo.endswith(world.app(p.app_key).repo_name)]
    recent = sorted(merged, key=lambda p: p.updated, reverse=True)[:5]
    since = min(p.merged_at for p in recent if p.merged_at is not None)
    async with aclosing(connect(sandbox.url, options={"page_size": 2})) as github:
        found = await github.merged_work([repo], since)
    assert {p.number for p in found} == {p.number for p in recent}
    assert len(graphql_calls(sandbox)) < -(-len(merged) // 2)  # not every page of them


async def test_deployments_of_every_repository_take_one_call(sandbox: Sandbox,
                                                             world: World) -> None:
    repos = repos_of(world)
    assert len(repos) == 6
    async with aclosing(connect(sandbox.url)) as github:
        found = await github.deployments([*repos, "acme-retail/no-such-repo", "nonsense"])
    assert [e["path"] for e in sandbox.requests()] == ["/graphql"]
    assert sorted(d.id for d in found) == sorted(str(d.id) for d in world.deployments)
    labels = {d.state_label for d in found}
    assert labels == {d.statuses[-1].state for d in world.deployments}
    assert all(d.state is DEPLOYMENT_STATES[d.state_label] for d in found)
    assert [d.repository for d in found] == sorted(
        (d.repository for d in found), key=repos.index)  # grouped in the order asked


async def test_deployment_pages_are_read_in_rounds_for_every_repository_at_once(
        sandbox: Sandbox, world: World) -> None:
    repos = repos_of(world)
    most = max(sum(1 for d in world.deployments if d.app_key == a.key)
               for a in world.applications)
    async with aclosing(connect(sandbox.url, options={"page_size": 4})) as github:
        found = await github.deployments(repos)
    assert sorted(d.id for d in found) == sorted(str(d.id) for d in world.deployments)
    assert len(graphql_calls(sandbox)) == -(-most // 4)  # rounds, whatever the repositories


async def test_deployment_chunks_stay_under_the_batch_size(sandbox: Sandbox,
                                                           world: World) -> None:
    async with aclosing(connect(sandbox.url, options={"graphql_batch": 4})) as github:
        found = await github.deployments(repos_of(world), "staging")
    assert len(graphql_calls(sandbox)) == 2  # 6 repositories, 4 per request
    assert sorted(d.id for d in found) == sorted(
        str(d.id) for d in world.deployments if d.environment == "staging")


async def test_deployments_take_one_round_trip_however_slow_the_upstream(
        sandbox: Sandbox, world: World) -> None:
    latency = 0.4
    sandbox.fault(latency_ms=latency * 1000)
    async with aclosing(connect(sandbox.url)) as github:
        found = await github.deployments(repos_of(world))
    assert len(found) == len(world.deployments)
    # One trip, where list-then-statuses took three: counted by the upstream, not timed.
    assert [(e["path"], e["status"]) for e in sandbox.requests()] == [("/graphql", 200)]


async def test_an_open_issue_is_in_progress_once_someone_is_assigned(world: World) -> None:
    unassigned = copy.deepcopy(world)  # every issue of the demo world has an assignee
    release = next(r for r in unassigned.releases if any(
        i.release_key == r.key and i.state == "open" for i in unassigned.github_issues))
    issues = [i for i in unassigned.github_issues
              if i.release_key == release.key and i.state == "open"]
    issues[0].assignee = None
    link = milestone_link(unassigned, release)
    with serve_asgi(create_app(unassigned)) as url:
        async with aclosing(connect(url)) as github:
            items = {i.key: i for i in (await github.work_items([link]))[link]}
    repo = repo_of(unassigned, release)
    for issue in issues:
        item = items[f"{repo}#{issue.number}"]
        assert isinstance(item, RepositoryIssue)
        login = issue.assignee.github_login if issue.assignee else None
        assert item.assignee == login
        assert item.status is (WorkStatus.IN_PROGRESS if login else WorkStatus.TODO)
        assert item.status_label == "open"


# -- rate limits and faults -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/graphql", "/milestones"])
async def test_a_secondary_rate_limit_is_waited_out(sandbox: Sandbox, world: World,
                                                    path: str) -> None:
    sandbox.fault(path=path, rate_limit={"count": 1, "retry_after": 1})
    release = world.releases[0]
    async with aclosing(connect(sandbox.url)) as github:
        started = time.monotonic()
        if path == "/graphql":
            found = await github.work_items([milestone_link(world, release)])
            assert next(iter(found.values()))
        else:
            assert await github.versions([repo_of(world, release)])
        waited = time.monotonic() - started
    assert waited >= 1.0
    assert [e["status"] for e in sandbox.requests()] == [429, 200]


@pytest.mark.parametrize(("limits", "call"), [
    ({"rate_limit": 1}, "versions"),                # REST: 403 with x-ratelimit-remaining 0
    ({"rate_limit": 1, "rate_limit_status": 429}, "versions"),
    ({"graphql_rate_limit": 1}, "work_items"),       # GraphQL: 200 with a RATE_LIMITED error
])
async def test_an_exhausted_primary_budget_is_a_rate_limit_error(
        world: World, limits: dict[str, Any], call: str) -> None:
    release = world.releases[0]
    with serve_asgi(create_app(world, **limits)) as url:
        async with aclosing(connect(url)) as github:
            async def read() -> object:
                if call == "versions":
                    return await github.versions([repo_of(world, release)])
                return await github.work_items([milestone_link(world, release)])

            await read()  # spends the only point
            started = time.monotonic()
            with pytest.raises(UpstreamError) as caught:
                await read()
            health = github.http.health()
    assert caught.value.code is ErrorCode.UPSTREAM_RATE_LIMITED
    # Counted in the source's health, even when GraphQL said it inside a 200.
    assert (health.last_error_code, health.failures) == (ErrorCode.UPSTREAM_RATE_LIMITED, 1)
    assert caught.value.retry_after is not None and caught.value.retry_after > 60
    assert time.monotonic() - started < 5  # an hour's wait is reported, not slept


FAULTS = [
    ({"error_rate": 1.0, "error_status": 503}, ErrorCode.UPSTREAM_UNAVAILABLE),
    ({"error_rate": 1.0, "error_status": 500}, ErrorCode.UPSTREAM_UNAVAILABLE),
    ({"hang_seconds": 1.5}, ErrorCode.UPSTREAM_TIMEOUT),
    ({"malformed": True}, ErrorCode.UPSTREAM_BAD_RESPONSE),
]


@pytest.mark.parametrize("call", ["work_items", "versions", "deployments"])
@pytest.mark.parametrize(("fault", "code"), FAULTS, ids=["503", "500", "hang", "malformed"])
async def test_faults_surface_as_typed_errors(sandbox: Sandbox, world: World,
                                              fault: dict[str, Any], code: ErrorCode,
                                              call: str) -> None:
    sandbox.fault(**fault)
    release = world.releases[0]
    async with aclosing(connect(sandbox.url, timeout_seconds=0.3, max_retries=0)) as github:
        with pytest.raises(UpstreamError) as caught:
            if call == "work_items":
                await github.work_items([milestone_link(world, release)])
            elif call == "versions":
                await github.versions([repo_of(world, release)])
            else:
                await github.deployments([repo_of(world, release)])
    assert caught.value.code is code
    assert caught.value.source == SOURCE
    if "hang_seconds" in fault:
        # The sandbox logs the abandoned call once its hang ends; waited for here, so
        # the entry is not counted in a later test's log.
        deadline = time.monotonic() + 30
        while not sandbox.requests():
            assert time.monotonic() < deadline, "the sandbox never logged the abandoned call"
            await asyncio.sleep(0.05)


async def test_a_refused_token_is_an_auth_failure(sandbox: Sandbox, world: World) -> None:
    async with aclosing(connect(sandbox.url, token="not-the-token")) as github:
        with pytest.raises(UpstreamError) as caught:
            await github.work_items([milestone_link(world, world.releases[0])])
    assert caught.value.code is ErrorCode.UPSTREAM_AUTH_FAILED
    assert "not-the-token" not in str(caught.value)


async def test_status_map_overrides_reach_the_records(sandbox: Sandbox, world: World) -> None:
    release = next(r for r in world.releases if r.status == "DEPLOYED")
    overrides = {"merged": "IN_PROGRESS", "success": "INACTIVE"}
    async with aclosing(connect(sandbox.url, status_map=overrides)) as github:
        items = (await github.work_items([milestone_link(world, release)]))[
            milestone_link(world, release)]
        deployments = await github.deployments([repo_of(world, release)], "production")
    merged = [i for i in items if i.status_label == "merged"]
    assert merged and all(i.status is WorkStatus.IN_PROGRESS for i in merged)
    succeeded = [d for d in deployments if d.state_label == "success"]
    assert succeeded and all(d.state is DeploymentState.INACTIVE for d in succeeded)


async def test_a_sandbox_mounted_under_a_prefix_is_read_through_its_links(world: World) -> None:
    """The demo mounts the sandbox at /sandbox/github: paging links must keep that prefix."""
    hub = Starlette(routes=[Mount("/sandbox/github", app=create_app(world))])
    release = world.releases[0]
    with serve_asgi(hub) as url:
        async with aclosing(connect(f"{url}/sandbox/github", options={"page_size": 2})) as gh:
            versions = await gh.versions([repo_of(world, release)])
            found = await gh.work_items([milestone_link(world, release)])
    assert len(versions) == sum(1 for r in world.releases if r.app_key == release.app_key)
    assert {i.key for i in found[milestone_link(world, release)]} == set(
        expected_milestone(world, release))


async def test_every_milestone_goes_in_one_document_within_the_node_limit(
        sandbox: Sandbox, world: World) -> None:
    """A milestone asks 100 issues (+100 x 1 assignee) and 100 pull requests: 300 nodes.
    All of them fit one call (500,000 nodes), and GitHub's own count says so."""
    async with aclosing(connect(sandbox.url)) as github:
        await github.work_items([milestone_link(world, r) for r in world.releases])
    calls = graphql_calls(sandbox)
    assert len(calls) == 1 and calls[0]["status"] == 200
    assert len(world.releases) * 300 < MAX_NODES


async def test_a_document_is_split_only_where_it_would_pass_the_node_limit() -> None:
    # A world and sandbox of its own: no other test's writes or late calls in its counts.
    world = build_world(7)
    with serve_asgi(create_app(world)) as url, httpx.Client(base_url=url) as control:
        links = [milestone_link(world, r) for r in world.releases]
        # A limit of 900 nodes holds three milestones of 300 nodes each.
        # A generous timeout: a retried call on a busy machine would count twice.
        async with aclosing(connect(url, options={"graphql_max_nodes": 900},
                                    timeout_seconds=120)) as github:
            found = await github.work_items(links)
        assert len(graphql_calls(Sandbox(url, control))) == -(-len(links) // 3)
    assert sum(len(items) for items in found.values()) == sum(
        len(expected_milestone(world, r)) for r in world.releases)


# -- several kinds of reads in one document --------------------------------------------


async def test_work_items_and_deployments_of_a_batch_share_one_document(
        sandbox: Sandbox, world: World) -> None:
    """Milestones and repositories' deployments (of any environments) asked together go in
    one GraphQL call, and each read gets what it would have got alone."""
    links = tuple(milestone_link(world, r) for r in world.releases[:12])
    repos = tuple(repos_of(world))
    reads: list[BatchRead[Any]] = [WorkItemsRead(links), DeploymentsRead(repos),
                                   DeploymentsRead(repos[:2], "production")]
    async with aclosing(connect(sandbox.url)) as github:
        items, everywhere, production = await github.fetch_batch(reads)
        assert len(graphql_calls(sandbox)) == 1
        assert dict(items) == dict(await github.work_items(links))
        assert everywhere == await github.deployments(repos)
        assert production == await github.deployments(repos[:2], "production")
    assert sum(len(found) for found in items.values()) == sum(
        len(expected_milestone(world, r)) for r in world.releases[:12])
    assert {d.repository for d in everywhere} == set(repos)
    assert production and {d.environment for d in production} == {"production"}


async def test_a_mixed_document_is_split_only_where_it_would_pass_the_node_limit(
        sandbox: Sandbox, world: World) -> None:
    """A milestone asks 300 nodes and a repository's deployments 100: at a limit of
    exactly their sum the batch is one document, one node less and it is two."""
    links = tuple(milestone_link(world, r) for r in world.releases[:6])
    repos = tuple(repos_of(world))
    reads: list[BatchRead[Any]] = [WorkItemsRead(links), DeploymentsRead(repos)]
    nodes = 300 * len(links) + 100 * len(repos)
    answers = []
    for limit, documents in ((nodes, 1), (nodes - 1, 2)):
        sandbox.control.delete("/_sandbox/requests").raise_for_status()
        async with aclosing(connect(sandbox.url,
                                    options={"graphql_max_nodes": limit})) as github:
            answers.append(await github.fetch_batch(reads))
        assert len(graphql_calls(sandbox)) == documents
    (items, deployed), (split_items, split_deployed) = answers
    assert dict(items) == dict(split_items) and deployed == split_deployed
    assert sum(len(found) for found in items.values()) == sum(
        len(expected_milestone(world, r)) for r in world.releases[:6])
