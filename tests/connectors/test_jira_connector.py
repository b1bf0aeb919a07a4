"""The JIRA connector against the JIRA sandbox (Cloud and Data Center) over real sockets."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from connectors.base import (
    LinkKind,
    LinkRef,
    SourceStatus,
    TrackerIssue,
    VersionSource,
    WorkItemSource,
    WorkStatus,
)
from connectors.config import AuthConfig, ConnectorConfig
from connectors.errors import (
    ConnectorConfigError,
    LinkTargetMissing,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import UpstreamClient
from connectors.jira.client import JiraConnector, term_for, version_jql
from connectors.jira.sandbox.app import create_app
from connectors.records import failures_of
from connectors.registry import ConnectorRegistry
from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_TOKEN, DEMO_USER
from connectors.sandbox.world import WORKFLOW, World, build_world
from tests.support.server import serve_asgi
from tests.support.upstreams import serial_rounds

SOURCE = "jira-test"
ENV = {"JIRA_TOKEN": DEMO_TOKEN, "JIRA_PASSWORD": DEMO_PASSWORD}
CATEGORY_TO_STATUS = {"new": WorkStatus.TODO, "indeterminate": WorkStatus.IN_PROGRESS,
                      "done": WorkStatus.DONE}

@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7)


@pytest.fixture(scope="module")
def cloud_url(world: World) -> Iterator[str]:
    with serve_asgi(create_app(world, mode="cloud")) as url:
        yield url


@pytest.fixture(scope="module")
def dc_url(world: World) -> Iterator[str]:
    with serve_asgi(create_app(world, mode="datacenter")) as url:
        yield url


def auth_for(flavour: str) -> AuthConfig:
    """Cloud: Basic email:API token. Data Center: a personal access token as Bearer."""
    if flavour == "cloud":
        return AuthConfig(type="basic", username=DEMO_USER, token_env="JIRA_TOKEN")
    return AuthConfig(type="bearer", token_env="JIRA_TOKEN")


@asynccontextmanager
async def connector(url: str, flavour: str = "cloud", *, auth: AuthConfig | None = None,
                    env: dict[str, str] | None = None, status_map: dict[str, str] | None = None,
                    read_timeout: float = 10.0, retries: int = 3,
                    **options: Any) -> AsyncIterator[JiraConnector]:
    config = ConnectorConfig(
        name=SOURCE, kind="jira", base_url=url, auth=auth or auth_for(flavour),
        status_map=status_map or {}, options={"flavour": flavour, **options},
        timeout_seconds=read_timeout, max_retries=retries)
    jira = JiraConnector(config, UpstreamClient.from_config(config, environ=env or ENV))
    try:
        yield jira
    finally:
        await jira.aclose()


def version_link(release_id: int | str) -> LinkRef:
    return LinkRef(SOURCE, LinkKind.PLANNED_VERSION, str(release_id))


def world_keys(world: World, version_id: int) -> list[str]:
    release = next(r for r in world.releases if r.jira_version_id == version_id)
    keys = [w.key for w in world.work_items if w.release_key == release.key]
    return sorted(keys, key=lambda k: (k.rpartition("-")[0], int(k.rpartition("-")[2])))


async def reset_log(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as admin:
        (await admin.delete("/_sandbox/requests")).raise_for_status()


async def served(url: str) -> list[dict[str, Any]]:
    """What the sandbox served since the last reset: method, path, status, ..."""
    async with httpx.AsyncClient(base_url=url) as admin:
        entries: list[dict[str, Any]] = (await admin.get("/_sandbox/requests")).json()[
            "requests"]
    return entries


async def add_fault(url: str, **fault: Any) -> None:
    async with httpx.AsyncClient(base_url=url) as admin:
        (await admin.post("/_sandbox/faults", json=fault)).raise_for_status()


@pytest.fixture
def fresh_cloud(world: World) -> Iterator[str]:
    """A Cloud site of its own, for tests that inject faults or write."""
    with serve_asgi(create_app(world, mode="cloud")) as url:
        yield url


# --- the protocols and the entry point ---------------------------------------------------

async def test_the_connector_is_a_work_item_and_version_source(cloud_url: str) -> None:
    async with connector(cloud_url) as jira:
        assert isinstance(jira, WorkItemSource) and isinstance(jira, VersionSource)


def test_the_jira_entry_point_names_this_connector() -> None:
    factory = ConnectorRegistry().factory("jira")
    assert factory == JiraConnector.from_settings


async def test_an_unknown_flavour_is_a_configuration_error(cloud_url: str) -> None:
    with pytest.raises(ConnectorConfigError, match="flavour"):
        async with connector(cloud_url, "server"):
            pass


# --- work items: paging, grouping, batching -------------------------------------------------

@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
async def test_every_issue_of_every_linked_version_comes_back_in_one_page_per_call(
        flavour: str, cloud_url: str, dc_url: str, world: World) -> None:
    """Pages of 7: ceil(issues / 7) calls, and on Cloud one more that lists the keys
    (its pages carry no total, so the other pages cannot be addressed otherwise)."""
    url = cloud_url if flavour == "cloud" else dc_url
    links = [version_link(r.jira_version_id) for r in world.releases]
    await reset_log(url)
    async with connector(url, flavour, page_size=7) as jira:
        found = await jira.work_items(links)

    for link in links:
        assert [item.key for item in found[link]] == world_keys(world, int(link.key))
    calls = await served(url)
    listing = 1 if flavour == "cloud" else 0
    assert len(calls) == math.ceil(len(world.work_items) / 7) + listing
    expected_path = "/rest/api/3/search/jql" if flavour == "cloud" else "/rest/api/2/search"
    assert {(c["method"], c["path"]) for c in calls} == {("POST", expected_path)}


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
async def test_many_pages_are_fetched_in_two_rounds_not_a_chain(
        flavour: str, world: World) -> None:
    """With latency on every answer, the calls of a many-page search overlap: the first
    page (with Cloud's key listing beside it), then every other page at once."""
    latency = 300
    with serve_asgi(create_app(world, mode=flavour)) as url:
        await add_fault(url, latency_ms=latency)
        async with connector(url, flavour, page_size=25) as jira:
            found = await jira.work_items([version_link(r.jira_version_id)
                                           for r in world.releases])
        calls = await served(url)
    assert sum(len(items) for items in found.values()) == len(world.work_items)
    pages = math.ceil(len(world.work_items) / 25)
    assert pages >= 10
    assert len(calls) == pages + (1 if flavour == "cloud" else 0)
    assert serial_rounds(calls, latency) == 2


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
async def test_a_second_fetch_packs_versions_by_the_sizes_the_first_told_into_one_round(
        flavour: str, world: World) -> None:
    """The first fetch tells how many issues each version holds; the next one sends
    chunks that fill 90% of a page, all at once, and needs no key listing."""
    latency = 300
    links = [version_link(r.jira_version_id) for r in world.releases]
    with serve_asgi(create_app(world, mode=flavour)) as url:
        await add_fault(url, latency_ms=latency)
        async with connector(url, flavour, page_size=25) as jira:
            first = await jira.work_items(links)
            await reset_log(url)
            again = await jira.work_items(links)
        calls = await served(url)
    assert again == first
    assert serial_rounds(calls, latency) == 1
    assert math.ceil(len(world.work_items) / 25) < len(calls) < len(links)
    assert all(c["status"] == 200 for c in calls)


async def test_a_version_that_grew_past_its_packed_page_still_comes_back_whole(
        fresh_cloud: str, world: World) -> None:
    releases = world.releases[:12]
    links = [version_link(r.jira_version_id) for r in releases]
    grown = releases[0]
    async with connector(fresh_cloud, page_size=10) as jira:
        await jira.work_items(links)  # sizes remembered
        async with httpx.AsyncClient(base_url=fresh_cloud,
                                     auth=(DEMO_USER, DEMO_TOKEN)) as site:
            for n in range(12):
                made = await site.post("/rest/api/3/issue", json={"fields": {
                    "project": {"key": grown.app_key}, "issuetype": {"id": "10002"},
                    "summary": f"Late work {n}",
                    "fixVersions": [{"id": str(grown.jira_version_id)}]}})
                assert made.status_code == 201, made.text
        found = await jira.work_items(links)
    keys = [item.key for item in found[version_link(grown.jira_version_id)]]
    assert len(keys) == len(world_keys(world, grown.jira_version_id)) + 12
    for release in releases[1:]:
        assert [i.key for i in found[version_link(release.jira_version_id)]] == \
            world_keys(world, release.jira_version_id)


async def test_a_key_deleted_between_listing_and_fetching_is_dropped_and_the_rest_come(
        fresh_cloud: str, world: World) -> None:
    """`key in (...)` fails whole for one unknown key (upstream-apis §1.3.4): the
    connector drops the key JIRA names and asks again."""
    listed = world.releases[:12]
    async with connector(fresh_cloud, page_size=10) as jira:
        real_by_keys = jira._by_keys

        async def deleting_first(keys: list[str]) -> list[dict[str, Any]]:
            return await real_by_keys(["PAY-99999", *keys])

        jira._by_keys = deleting_first  # type: ignore[method-assign]
        found = await jira.work_items([version_link(r.jira_version_id) for r in listed])
    for release in listed:
        assert [i.key for i in found[version_link(release.jira_version_id)]] == \
            world_keys(world, release.jira_version_id)
    refused = [c for c in await served(fresh_cloud) if c["status"] == 400]
    assert refused  # each chunk was refused once for the unknown key, then answered


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
async def test_issues_map_to_tracker_issues_with_the_worlds_facts(
        flavour: str, cloud_url: str, dc_url: str, world: World) -> None:
    url = cloud_url if flavour == "cloud" else dc_url
    release = world.releases[3]
    async with connector(url, flavour) as jira:
        items = (await jira.work_items([version_link(release.jira_version_id)]))[
            version_link(release.jira_version_id)]
    by_key = {w.key: w for w in world.work_items}
    assert items
    for item in items:
        assert isinstance(item, TrackerIssue)
        truth = by_key[item.key]
        assert item.source == SOURCE
        assert item.title == truth.summary
        assert item.url == f"{url}/browse/{truth.key}"
        assert item.kind == truth.issue_type.lower() and item.issue_type == truth.issue_type
        assert item.status_label == truth.status
        assert item.status is CATEGORY_TO_STATUS[truth.status_category]
        assert item.assignee == (truth.assignee.display_name if truth.assignee else None)
        assert item.priority == truth.priority
        assert item.versions == (release.version_name,)
        # JIRA sends milliseconds, so compare at that precision.
        assert abs((item.updated_at - truth.updated).total_seconds()) < 0.001


async def test_many_links_cost_the_same_calls_as_one_page_not_one_per_link(
        cloud_url: str, world: World) -> None:
    releases = world.releases[:30]
    total = sum(len(world_keys(world, r.jira_version_id)) for r in releases)
    await reset_log(cloud_url)
    async with connector(cloud_url) as jira:
        found = await jira.work_items([version_link(r.jira_version_id) for r in releases])
    assert sum(len(items) for items in found.values()) == total
    # 30 versions may hold more than a page: the keys are listed beside the first page.
    assert len(await served(cloud_url)) == math.ceil(total / 100) + 1 < len(releases)


async def test_links_beyond_one_query_are_split_into_chunks_that_run_concurrently(
        fresh_cloud: str, world: World) -> None:
    latency = 400
    await add_fault(fresh_cloud, latency_ms=latency)
    releases = world.releases[:30]
    async with connector(fresh_cloud, versions_per_query=10) as jira:
        found = await jira.work_items([version_link(r.jira_version_id) for r in releases])
    for release in releases:
        assert [i.key for i in found[version_link(release.jira_version_id)]] == \
            world_keys(world, release.jira_version_id)
    calls = await served(fresh_cloud)
    assert len(calls) == 3
    assert serial_rounds(calls, latency) == 1  # three chunks side by side, not in a row


async def test_an_issue_planned_for_two_linked_versions_belongs_to_both(
        fresh_cloud: str, world: World) -> None:
    first, second = world.releases[0], world.releases[1]
    moved = world_keys(world, first.jira_version_id)[0]
    async with httpx.AsyncClient(base_url=fresh_cloud, auth=(DEMO_USER, DEMO_TOKEN)) as site:
        edited = await site.put(f"/rest/api/3/issue/{moved}", json={"fields": {"fixVersions": [
            {"id": str(first.jira_version_id)}, {"id": str(second.jira_version_id)}]}})
        edited.raise_for_status()
    a, b = version_link(first.jira_version_id), version_link(second.jira_version_id)
    async with connector(fresh_cloud, versions_per_query=1) as jira:
        found = await jira.work_items([a, b])
    assert moved in [i.key for i in found[a]] and moved in [i.key for i in found[b]]
    assert [i.key for i in found[a]].count(moved) == 1
    shared = next(i for i in found[b] if i.key == moved)
    assert isinstance(shared, TrackerIssue)
    assert shared.versions == (first.version_name, second.version_name)


async def test_a_version_that_does_not_exist_is_an_error_for_its_link_and_the_rest_come(
        cloud_url: str, world: World) -> None:
    # Deleted, renamed or hidden: its issues are unknown, never "none".
    known = world.releases[2].jira_version_id
    await reset_log(cloud_url)
    async with connector(cloud_url) as jira:
        found = await jira.work_items([version_link(known), version_link(99999)])
    missing = failures_of(found, version_link(99999))
    assert isinstance(missing, LinkTargetMissing)
    assert missing.extensions()["code"] == "BAD_LINK_KEY"
    assert "no version '99999'" in missing.message
    assert failures_of(found, version_link(known)) is None
    assert [i.key for i in found[version_link(known)]] == world_keys(world, known)
    assert [c["status"] for c in await served(cloud_url)] == [400, 200]


async def test_a_link_may_name_a_version_by_project_and_name(
        dc_url: str, world: World) -> None:
    release = next(r for r in world.releases if r.app_key == "CHK")
    by_name = LinkRef(SOURCE, LinkKind.PLANNED_VERSION, f"CHK:{release.version_name}")
    by_id = version_link(release.jira_version_id)
    async with connector(dc_url, "datacenter") as jira:
        found = await jira.work_items([by_name, by_id])
    # Every application has a version of this name; the project keeps them apart.
    assert [i.key for i in found[by_name]] == world_keys(world, release.jira_version_id)
    assert found[by_name] == found[by_id]


async def test_links_of_other_kinds_are_left_out_and_make_no_call(cloud_url: str) -> None:
    await reset_log(cloud_url)
    milestone = LinkRef(SOURCE, LinkKind.MILESTONE, "acme-retail/payments-service#1")
    async with connector(cloud_url) as jira:
        assert await jira.work_items([milestone]) == {}
    assert await served(cloud_url) == []


def test_link_keys_become_one_bounded_query_with_names_quoted() -> None:
    terms = [term_for(version_link(20003)), term_for(version_link(20004)),
             term_for(LinkRef(SOURCE, LinkKind.PLANNED_VERSION, 'pay:2.4 "rc"'))]
    assert None not in terms
    assert version_jql([t for t in terms if t is not None]) == (
        'fixVersion in (20003, 20004) OR (project = "PAY" AND fixVersion = "2.4 \\"rc\\"") '
        "ORDER BY key ASC")
    assert term_for(LinkRef(SOURCE, LinkKind.PLANNED_VERSION, "20003) OR (1")) is None


async def test_a_site_under_a_context_path_keeps_it_in_every_call_and_link(
        world: World) -> None:
    """Data Center often lives at `https://host/jira`; the demo mounts sandboxes likewise."""
    site = Starlette(routes=[Mount("/sandbox/jira", app=create_app(world, mode="datacenter"))])
    release = world.releases[5]
    with serve_asgi(site) as url:
        async with connector(f"{url}/sandbox/jira", "datacenter") as jira:
            found = await jira.work_items([version_link(release.jira_version_id)])
            refs = await jira.versions([release.app_key])
    items = found[version_link(release.jira_version_id)]
    assert [i.key for i in items] == world_keys(world, release.jira_version_id)
    assert items[0].url == f"{url}/sandbox/jira/browse/{items[0].key}"
    assert release.jira_version_id in {int(r.id) for r in refs}


# --- status mapping over the wire ----------------------------------------------------------

async def test_every_workflow_status_maps_by_its_category_and_keeps_its_name(
        cloud_url: str, world: World) -> None:
    links = [version_link(r.jira_version_id) for r in world.releases]
    async with connector(cloud_url) as jira:
        found = await jira.work_items(links)
    seen = {(i.status_label, i.status) for items in found.values() for i in items}
    assert seen == {(name, CATEGORY_TO_STATUS[category]) for name, category in WORKFLOW}


async def test_status_map_overrides_a_status_by_name(cloud_url: str, world: World) -> None:
    links = [version_link(r.jira_version_id) for r in world.releases]
    async with connector(cloud_url, status_map={"in review": "DONE"}) as jira:
        found = await jira.work_items(links)
    seen = {(i.status_label, i.status) for items in found.values() for i in items}
    assert ("In Review", WorkStatus.DONE) in seen
    assert ("In Progress", WorkStatus.IN_PROGRESS) in seen


# --- versions -------------------------------------------------------------------------------

@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
async def test_versions_of_projects_come_from_each_project_concurrently(
        flavour: str, cloud_url: str, dc_url: str, world: World) -> None:
    url = cloud_url if flavour == "cloud" else dc_url
    await reset_log(url)
    async with connector(url, flavour) as jira:
        refs = await jira.versions(["PAY", "chk", "NOPE"])
    expected = [r for r in world.releases if r.app_key in ("PAY", "CHK")]
    assert [(v.container, v.id, v.name) for v in refs] == [
        (r.app_key, str(r.jira_version_id), r.version_name) for r in expected]
    for ref, release in zip(refs, expected, strict=True):
        assert ref.kind is LinkKind.PLANNED_VERSION and ref.source == SOURCE
        assert ref.released is release.released
        assert ref.release_date is not None
        assert ref.release_date.date() == release.window_start.date()
        assert ref.description == release.description
        assert ref.url == f"{url}/projects/{release.app_key}/versions/{release.jira_version_id}"
        assert ref.link() == version_link(release.jira_version_id)
    api = "3" if flavour == "cloud" else "2"
    assert sorted((c["path"], c["status"]) for c in await served(url)) == [
        (f"/rest/api/{api}/project/{key}/versions", status)
        for key, status in (("CHK", 200), ("NOPE", 404), ("PAY", 200))]


# --- faults -------------------------------------------------------------------------------

async def test_a_rate_limited_search_waits_as_asked_and_then_succeeds(
        fresh_cloud: str, world: World) -> None:
    await add_fault(fresh_cloud, rate_limit={"count": 1, "retry_after": 1})
    link = version_link(world.releases[0].jira_version_id)
    async with connector(fresh_cloud) as jira:
        started = time.monotonic()
        found = await jira.work_items([link])
        waited = time.monotonic() - started
    assert [i.key for i in found[link]] == world_keys(world, int(link.key))
    assert waited >= 1.0
    assert [c["status"] for c in await served(fresh_cloud)] == [429, 200]


async def test_a_rate_limit_longer_than_we_wait_is_reported_as_rate_limited(
        fresh_cloud: str) -> None:
    await add_fault(fresh_cloud, rate_limit={"count": 5, "retry_after": 120})
    async with connector(fresh_cloud) as jira:
        with pytest.raises(UpstreamRateLimited) as caught:
            await jira.work_items([version_link(20001)])
    assert caught.value.source == SOURCE and caught.value.retry_after is not None


async def test_a_failing_site_is_reported_unavailable(fresh_cloud: str) -> None:
    await add_fault(fresh_cloud, error_rate=1.0, error_status=503)
    async with connector(fresh_cloud, retries=1) as jira:
        with pytest.raises(UpstreamUnavailable):
            await jira.work_items([version_link(20001)])
    assert [c["status"] for c in await served(fresh_cloud)] == [503, 503]


async def test_a_site_that_does_not_answer_in_time_is_a_timeout(fresh_cloud: str) -> None:
    await add_fault(fresh_cloud, hang_seconds=2)
    async with connector(fresh_cloud, read_timeout=0.3, retries=0) as jira:
        with pytest.raises(UpstreamTimeout):
            await jira.versions(["PAY"])


async def test_a_malformed_body_is_a_bad_response_not_partial_data(fresh_cloud: str) -> None:
    await add_fault(fresh_cloud, malformed=True, path="search")
    async with connector(fresh_cloud) as jira:
        with pytest.raises(UpstreamBadResponse):
            await jira.work_items([version_link(20001)])


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
async def test_refused_credentials_are_an_auth_failure(
        flavour: str, cloud_url: str, dc_url: str) -> None:
    url = cloud_url if flavour == "cloud" else dc_url
    async with connector(url, flavour, env={"JIRA_TOKEN": "wrong"}) as jira:
        with pytest.raises(UpstreamAuthFailed):
            await jira.work_items([version_link(20001)])


async def test_data_center_also_accepts_basic_username_and_password(
        dc_url: str, world: World) -> None:
    basic = AuthConfig(type="basic", username=DEMO_USER, password_env="JIRA_PASSWORD")
    async with connector(dc_url, "datacenter", auth=basic) as jira:
        found = await jira.work_items([version_link(20001)])
    assert [i.key for i in found[version_link(20001)]] == world_keys(world, 20001)


async def test_a_datacenter_connector_on_cloud_meets_the_retired_search_as_bad_response(
        cloud_url: str) -> None:
    basic = AuthConfig(type="basic", username=DEMO_USER, token_env="JIRA_TOKEN")
    async with connector(cloud_url, "datacenter", auth=basic) as jira:
        with pytest.raises(UpstreamBadResponse) as caught:
            await jira.work_items([version_link(20001)])
    assert caught.value.status == 410


# --- health -------------------------------------------------------------------------------

@pytest.mark.parametrize(("flavour", "deployment"), [("cloud", "Cloud"),
                                                     ("datacenter", "Server")])
async def test_health_probes_server_info_and_names_the_deployment(
        flavour: str, deployment: str, cloud_url: str, dc_url: str) -> None:
    url = cloud_url if flavour == "cloud" else dc_url
    async with connector(url, flavour) as jira:
        health = await jira.health()
    assert health.status is SourceStatus.UP and health.name == SOURCE
    assert health.details["deploymentType"] == deployment
    assert health.details["flavour"] == flavour


async def test_health_of_an_unreachable_site_is_degraded_with_the_error(
        fresh_cloud: str) -> None:
    await add_fault(fresh_cloud, error_rate=1.0, error_status=500)
    async with connector(fresh_cloud, retries=0) as jira:
        health = await jira.health()
    assert health.status is SourceStatus.DEGRADED
    assert health.last_error_code is not None
    assert "serverInfo" in (health.last_error_message or "")
