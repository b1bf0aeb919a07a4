"""Live federation over real sockets: Heatshield on one port, the four sandboxes on another.

The sandboxes hold the demo world; Heatshield's database holds releases
linked to it, exactly as `heatshield demo` seeds them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.demo import CREDENTIALS, build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.sandbox.world import build_world
from tests.support.clock import FakeClock
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

KINDS = ("jira", "github", "servicenow", "remedy")
APPS = 5  # releases of the first five applications go into Heatshield's database
HUB_TOKEN = new_secret()  # every hub lets this RELEASE_MANAGER token in

DASHBOARD = """
query($n: Int!) {
  releases(first: $n) {
    totalCount
    nodes {
      key
      readiness { total done changeApproved complete perSource { source total done } }
      workItems(first: 100) { totalCount nodes { key status statusLabel } }
      changeRequests { number state stateLabel approval }
      deployments { environment ref state }
    }
  }
}"""


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world(seed=7, scale=6)
    app = Starlette(routes=build_sandboxes(world).mounts())
    with serve_asgi(app) as url:
        yield Upstreams(url, world)


def start_hub(upstreams: Upstreams, tmp: Path, *, clock: Callable[[], float] = time.monotonic,
              **federation: Any) -> Any:
    keys = [r.key for r in upstreams.world.releases
            if r.app_key in {a.key for a in upstreams.world.applications[:APPS]}]
    # These tests measure batching and failures, not the request deadline: a query over
    # a hundred releases may take longer than the default deadline on a busy machine.
    federation = {"request_deadline_seconds": 60.0} | federation
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
        # Short timeouts and one retry keep a hanging source from holding a test for long.
        connectors=[c.model_dump() | {"timeout_seconds": 2, "max_retries": 1,
                                      "breaker_cooldown_seconds": 2}
                    for c in demo_connectors(upstreams.url)],
        federation=federation)

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, upstreams.world, releases=keys)

    return serve_asgi(create_app(settings, environ=demo_environ(),
                                 startup=[seed_step, principal_step(HUB_TOKEN)], clock=clock))


@pytest.fixture(scope="module")
def uncached(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[GraphQLClient]:
    """Heatshield with the cross-request cache off, so every query goes upstream."""
    with start_hub(upstreams, tmp_path_factory.mktemp("uncached"), cache_ttl_seconds=0) as url:
        client = GraphQLClient(url, token=HUB_TOKEN)
        yield client
        client.close()


@pytest.fixture(scope="module")
def cache_clock() -> FakeClock:
    """The `cached` hub's clock: tests age its copies by moving it."""
    return FakeClock()


@pytest.fixture(scope="module")
def cached(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory,
           cache_clock: FakeClock) -> Iterator[GraphQLClient]:
    """Heatshield with a cache that is never fresh but keeps stale copies for 600 s."""
    with start_hub(upstreams, tmp_path_factory.mktemp("cached"), cache_ttl_seconds=0,
                   cache_max_stale_seconds=600, clock=cache_clock) as url:
        client = GraphQLClient(url, token=HUB_TOKEN)
        yield client
        client.close()


@pytest.fixture(autouse=True)
def no_faults(upstreams: Upstreams) -> Iterator[None]:
    upstreams.clear_faults()
    yield
    upstreams.clear_faults()


def upstream_calls(upstreams: Upstreams, gql: GraphQLClient, n: int
                   ) -> tuple[dict[str, int], dict[str, Any]]:
    gql.data(DASHBOARD, {"n": 1})  # establish sessions (Remedy's login) outside the count
    upstreams.reset()
    data = gql.data(DASHBOARD, {"n": n})
    return {kind: upstreams.calls(kind) for kind in KINDS}, data


def test_a_release_shows_its_jira_issues_github_items_change_and_deployments(
        uncached: GraphQLClient, upstreams: Upstreams) -> None:
    world = upstreams.world
    release = next(r for r in world.releases if r.app_key == world.applications[0].key
                   and r.status == "DEPLOYED")
    data = uncached.data("""query($k: String!) { release(key: $k) {
        workItems(first: 100) { nodes { __typename key status statusLabel
          ... on JiraIssue { fixVersions } ... on GitHubPullRequest { merged } } }
        changeRequests { number state } deployments { environment ref state } } }""",
                         {"k": release.key})["release"]
    jira_keys = {n["key"] for n in data["workItems"]["nodes"] if n["__typename"] == "JiraIssue"}
    assert jira_keys == {w.key for w in world.work_items if w.release_key == release.key}
    prs = [n for n in data["workItems"]["nodes"] if n["__typename"] == "GitHubPullRequest"]
    assert len(prs) == len([p for p in world.pull_requests if p.release_key == release.key])
    assert all(n["status"] == "DONE" and n["statusLabel"] == "Done"
               for n in data["workItems"]["nodes"] if n["__typename"] == "JiraIssue")
    change = next(c for c in world.change_requests if c.release_key == release.key)
    assert [c["state"] for c in data["changeRequests"]] == [change.stage.upper()]
    assert {d["environment"] for d in data["deployments"]} == {"dev", "staging", "production"}
    assert all(d["ref"] == release.to_tag for d in data["deployments"])


def test_upstream_calls_do_not_grow_with_the_number_of_releases(
        uncached: GraphQLClient, upstreams: Upstreams) -> None:
    small, _ = upstream_calls(upstreams, uncached, 10)
    large, large_data = upstream_calls(upstreams, uncached, 100)
    assert len(large_data["releases"]["nodes"]) == 100
    items = sum(r["workItems"]["totalCount"] for r in large_data["releases"]["nodes"])
    pages = math.ceil(items / 100)  # the only thing allowed to grow: pages of results
    for kind in KINDS:
        assert large[kind] <= small[kind] + pages, (kind, small, large)
    assert sum(large.values()) < 100, large  # far fewer calls than releases
    print(f"upstream calls at N=10: {small}; at N=100: {large}")


def test_a_list_of_releases_asks_only_the_sources_its_fields_need(
        uncached: GraphQLClient, upstreams: Upstreams) -> None:
    # A list starts its releases' upstream reads as soon as their links are read
    # (`federated.start_reads`), before any release field resolves: only the reads of
    # the fields asked, on any path to the releases, and none for a skipped field.
    upstream_calls(upstreams, uncached, 1)  # Remedy's login, outside the count
    lists = "query($n: Int!) { releases(first: $n) { %s } }"
    for selection, asked in [
            ("nodes { key changeRequests { number } }", {"servicenow", "remedy"}),
            ("edges { node { workItems(first: 5) { totalCount } } }", {"jira", "github"}),
            ("nodes { deployments { ref } }", {"github"}),
            ("nodes { key changeRequests @skip(if: true) { number } }", set()),
            ("nodes { readiness { total } }", set(KINDS))]:
        upstreams.reset()
        uncached.data(lists % selection, {"n": 10})
        assert {kind for kind in KINDS if upstreams.calls(kind)} == asked, selection


def test_a_failing_source_leaves_the_others_whole_and_is_tagged(
        uncached: GraphQLClient, upstreams: Upstreams) -> None:
    upstreams.fault("servicenow", error_rate=1.0, error_status=503)
    body = uncached.post(DASHBOARD, {"n": 10})
    nodes = body["data"]["releases"]["nodes"]
    assert sum(len(n["workItems"]["nodes"]) for n in nodes) > 0
    errors = body["errors"]
    assert errors and all(e["extensions"]["source"] == "servicenow" for e in errors)
    assert {e["extensions"]["code"] for e in errors} == {"UPSTREAM_UNAVAILABLE"}
    assert all(e["path"][-1] in ("changeRequests", "readiness") for e in errors)


@pytest.mark.parametrize(("kind", "fault", "code"), [
    ("jira", {"malformed": True}, "UPSTREAM_BAD_RESPONSE"),
    ("github", {"rate_limit": {"count": 50, "retry_after": 120}}, "UPSTREAM_RATE_LIMITED"),
    ("remedy", {"error_rate": 1.0, "error_status": 500}, "UPSTREAM_UNAVAILABLE"),
])
def test_each_kind_of_fault_is_reported_with_its_code_and_never_a_500(
        uncached: GraphQLClient, upstreams: Upstreams, kind: str, fault: dict[str, Any],
        code: str) -> None:
    upstreams.fault(kind, **fault)
    response = uncached.http.post("/graphql", json={"query": DASHBOARD, "variables": {"n": 10}})
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert {(e["extensions"]["source"], e["extensions"]["code"]) for e in errors} == {
        (kind, code)}


def test_a_hanging_source_times_out_without_holding_the_query(
        uncached: GraphQLClient, upstreams: Upstreams) -> None:
    upstreams.fault("jira", hang_seconds=30)
    started = time.monotonic()
    body = uncached.post('{ releases(first: 3) { nodes { key workItems { totalCount } } } }')
    elapsed = time.monotonic() - started
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_TIMEOUT"}
    assert elapsed < 10  # the connector's timeout (2 s, one retry), not the 30 s hang


def test_a_stale_copy_is_served_when_the_source_fails_and_flagged(
        cached: GraphQLClient, upstreams: Upstreams, cache_clock: FakeClock) -> None:
    query = '{ releases(first: 5) { nodes { key workItems { totalCount } } } }'
    fresh = cached.data(query)
    upstreams.fault("jira", error_rate=1.0, error_status=502)
    cache_clock.advance(90)
    body = cached.post(query)
    assert body["data"] == fresh
    jira_errors = [e for e in body["errors"] if e["extensions"]["source"] == "jira"]
    assert jira_errors and all(e["extensions"]["stale"] is True for e in jira_errors)
    assert {e["extensions"]["ageSeconds"] for e in jira_errors} == {90}


def test_a_copy_older_than_max_stale_is_not_served(
        cached: GraphQLClient, upstreams: Upstreams, cache_clock: FakeClock) -> None:
    query = '{ releases(first: 5) { nodes { key workItems { totalCount } } } }'
    fresh = cached.data(query)
    upstreams.fault("jira", error_rate=1.0, error_status=502)
    cache_clock.advance(601)
    body = cached.post(query)
    assert body["data"] != fresh  # the JIRA issues are missing, not shown from a stale copy
    jira_errors = [e for e in body["errors"] if e["extensions"]["source"] == "jira"]
    assert jira_errors and not [e for e in jira_errors if "stale" in e["extensions"]]


def test_the_breaker_opens_under_failures_and_closes_when_the_source_heals(
        tmp_path: Path, upstreams: Upstreams) -> None:
    clock = FakeClock()
    with start_hub(upstreams, tmp_path, cache_ttl_seconds=0, clock=clock) as url:
        gql = GraphQLClient(url, token=HUB_TOKEN)
        sources = "{ sources { name status breaker lastErrorCode } }"
        query = '{ releases(first: 2) { nodes { changeRequests { number } } } }'
        upstreams.fault("servicenow", error_rate=1.0, error_status=503)
        for _ in range(8):
            gql.post(query)
        state = {s["name"]: s for s in gql.data(sources)["sources"]}
        assert state["servicenow"]["breaker"] == "OPEN"
        assert state["servicenow"]["status"] == "DOWN"
        assert state["servicenow"]["lastErrorCode"] == "UPSTREAM_UNAVAILABLE"
        upstreams.clear_faults()
        refused = gql.post(query)  # healed, but the breaker has not let a call through yet
        assert {e["extensions"]["code"] for e in refused["errors"]} == {"UPSTREAM_UNAVAILABLE"}
        clock.advance(2)  # the connectors' cool-down
        body = gql.post(query)
        assert not body.get("errors"), body
        assert {s["name"]: s for s in gql.data(sources)["sources"]}[
            "servicenow"]["breaker"] == "CLOSED"
        gql.close()


def test_no_secret_reaches_a_log_or_an_error_even_when_calls_fail(
        uncached: GraphQLClient, upstreams: Upstreams, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for kind in KINDS:
        upstreams.fault(kind, error_rate=1.0, error_status=500)
    body = uncached.post(DASHBOARD, {"n": 5})
    upstreams.clear_faults()
    uncached.post(DASHBOARD, {"n": 5})
    text = repr(body) + "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert body["errors"]
    for secret in (CREDENTIALS.token, CREDENTIALS.password):
        assert secret not in text


def test_work_items_page_with_cursors_to_the_end(uncached: GraphQLClient,
                                                 upstreams: Upstreams) -> None:
    key = uncached.data("{ releases(first: 1) { nodes { key } } }")["releases"]["nodes"][0]["key"]
    query = """query($k: String!, $after: String) { release(key: $k) {
        workItems(first: 4, after: $after) { totalCount nodes { key }
          pageInfo { hasNextPage endCursor } } } }"""
    everything = uncached.data(query.replace("first: 4", "first: 100"), {"k": key})[
        "release"]["workItems"]
    seen: list[str] = []
    after = None
    while True:
        page = uncached.data(query, {"k": key, "after": after})["release"]["workItems"]
        seen += [n["key"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [n["key"] for n in everything["nodes"]]
    assert len(seen) == everything["totalCount"] > 4
    error = uncached.error(query, {"k": key, "after": "bm90LWEtY3Vyc29y"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


WHOLE_LIST = """query %s($n: Int!) { releases(first: $n) {
  pageInfo { startCursor endCursor } nodes { ...Work } edges { cursor
    node { key workItems(first: 3) { edges { cursor node { id key } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } } } }
  fragment Work on Release { key
    workItems(first: 100) { totalCount nodes { __typename id key title url status statusLabel
      kind assignee updatedAt source { name }
      ... on JiraIssue { issueType priority fixVersions }
      ... on GitHubIssue { repository number milestone }
      ... on GitHubPullRequest { repository number milestone merged mergedAt baseRef } } }
    done: workItems(status: DONE, first: 2) { totalCount nodes { key } pageInfo { endCursor } }
    readiness { total done openBlockers { __typename id key } } }"""


def test_a_list_answered_from_cached_upstreams_is_the_list_read_from_them(
        upstreams: Upstreams, tmp_path: Path) -> None:
    # Once every link of a release is cached, its work items resolve without waiting
    # (`federated.start_reads`); the answer must be the one read upstream, to the byte.
    with start_hub(upstreams, tmp_path, cache_ttl_seconds=600) as url:
        gql = GraphQLClient(url, token=HUB_TOKEN)
        try:
            read = gql.data(WHOLE_LIST % "Read", {"n": 30})
            upstreams.reset()
            kept = gql.data(WHOLE_LIST % "Kept", {"n": 30})  # another document: run again
            assert {kind: upstreams.calls(kind) for kind in ("jira", "github")} == \
                {"jira": 0, "github": 0}
            assert kept == read
            skipped = gql.data((WHOLE_LIST % "Skipped").replace(
                "workItems(first: 100)", "workItems(first: 100) @skip(if: false)"), {"n": 30})
            assert skipped == read
        finally:
            gql.close()


def test_change_requests_across_every_itsm_filter_by_state_and_window(
        uncached: GraphQLClient, upstreams: Upstreams) -> None:
    query = """query($f: ChangeRequestFilter) { changeRequests(filter: $f, first: 100) {
        totalCount nodes { __typename number state plannedStart source { name } } } }"""
    closed = uncached.data(query, {"f": {"state": "CLOSED"}})["changeRequests"]
    kinds = {n["__typename"] for n in closed["nodes"]}
    assert kinds == {"ServiceNowChange", "RemedyChange"}
    assert all(n["state"] == "CLOSED" for n in closed["nodes"])
    expected = sum(1 for c in upstreams.world.change_requests if c.stage == "closed")
    assert closed["totalCount"] == expected > 0
    window = {"windowFrom": "2026-11-01T00:00:00Z", "windowTo": "2026-12-01T00:00:00Z"}
    november = uncached.data(query, {"f": window})["changeRequests"]["nodes"]
    assert november and all("2026-11" in n["plannedStart"] for n in november)
    only = uncached.data(query, {"f": {**window, "source": "remedy"}})["changeRequests"]["nodes"]
    assert only and {n["source"]["name"] for n in only} == {"remedy"}
    error = uncached.error(query, {"f": {"source": "jira"}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "filter.source"}


def test_a_change_request_leads_back_to_its_releases(uncached: GraphQLClient,
                                                     upstreams: Upstreams) -> None:
    nodes = uncached.data("""{ changeRequests(filter: {state: CLOSED}, first: 100) {
        nodes { number releases { key } } } }""")["changeRequests"]["nodes"]
    hub_keys = {r["key"] for r in uncached.data("{ releases(first: 100) { nodes { key } } }")[
        "releases"]["nodes"]}
    linked = [n for n in nodes if n["releases"]]
    assert linked, "closed changes of seeded releases link back"
    for node in linked:
        [release] = node["releases"]
        assert release["key"] in hub_keys
        change = next(c for c in upstreams.world.change_requests
                      if c.release_key == release["key"])
        assert change.stage == "closed"
