"""`Query.insights` over HTTP: the hub on one port, the demo world's sandboxes on another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from api.app import create_app
from api.demo import build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.sandbox.world import build_world
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

TOKEN = new_secret()

INSIGHTS = """
query($from: DateTime!, $to: DateTime!, $apps: [String!], $bucket: InsightBucket) {
  insights(from: $from, to: $to, applications: $apps, bucket: $bucket,
           timeZone: "Europe/Paris") {
    applications {
      application
      deploymentFrequency { value unit band sampleSize records }
      changeFailureRate { value band sampleSize records }
      timeToRestore { value unit band sampleSize records }
      leadTime { value sampleSize }
      failures { deployment reasons incidents restoredAt }
    }
    overall { deploymentFrequency { sampleSize } changeFailureRate { value } }
    trend { periodStart periodEnd deploymentFrequency { sampleSize } }
  }
}"""


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world(seed=7)
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield Upstreams(url, world)


@pytest.fixture(scope="module")
def gql(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[GraphQLClient]:
    tmp = tmp_path_factory.mktemp("insights")
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{Path(tmp) / 'hub.db'}"},
        connectors=[c.model_dump() | {"timeout_seconds": 2, "max_retries": 0}
                    for c in demo_connectors(upstreams.url)],
        federation={"request_deadline_seconds": 60.0, "cache_ttl_seconds": 0})

    async def seed_step(sessions: async_sessionmaker[AsyncSession]) -> None:
        await seed(sessions, upstreams.world, releases=[])

    app = create_app(settings, environ=demo_environ(),
                     startup=[seed_step, principal_step(TOKEN)])
    with serve_asgi(app) as url:
        client = GraphQLClient(url, token=TOKEN)
        yield client
        client.close()


@pytest.fixture(autouse=True)
def no_faults(upstreams: Upstreams) -> Iterator[None]:
    upstreams.clear_faults()
    yield
    upstreams.clear_faults()


def last_90_days(upstreams: Upstreams) -> dict[str, str]:
    now = upstreams.world.now
    return {"from": (now - timedelta(days=90)).isoformat(), "to": now.isoformat()}


def test_each_application_gets_its_four_keys_with_bands_and_the_records_behind_them(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    data = gql.data(INSIGHTS, {**last_90_days(upstreams), "bucket": "MONTH"})["insights"]
    apps = data["applications"]
    assert [a["application"] for a in apps] == sorted(a.key for a in upstreams.world.applications)
    for app in apps:
        frequency = app["deploymentFrequency"]
        assert frequency["unit"] == "deployments per week"
        assert frequency["sampleSize"] == len(frequency["records"])
        assert frequency["band"] in ("ELITE", "HIGH", "MEDIUM", "LOW")
        rate = app["changeFailureRate"]
        assert rate["sampleSize"] == frequency["sampleSize"]
        if rate["value"] is not None:
            assert rate["value"] == pytest.approx(len(app["failures"]) / rate["sampleSize"])
        assert all(f["deployment"] in frequency["records"] for f in app["failures"])
    assert len({a["changeFailureRate"]["value"] for a in apps}) > 1
    assert data["overall"]["deploymentFrequency"]["sampleSize"] == sum(
        a["deploymentFrequency"]["sampleSize"] for a in apps)
    failed = [f for a in apps for f in a["failures"] if f["incidents"]]
    assert failed, "some deployments fail by an incident traced to their change"
    assert sum(t["deploymentFrequency"]["sampleSize"] for t in data["trend"]) == \
        data["overall"]["deploymentFrequency"]["sampleSize"]
    # Months start at Paris midnights, in summer time and in winter time.
    starts = [t["periodStart"] for t in data["trend"][1:]]
    assert all(s[10:] in ("T00:00:00+02:00", "T00:00:00+01:00") for s in starts), starts


def test_a_failing_itsm_leaves_the_deployments_counted_and_says_which_source_failed(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    upstreams.fault("servicenow", error_rate=1.0, error_status=503)
    body = gql.post(INSIGHTS, last_90_days(upstreams))
    assert body["data"]["insights"]["overall"]["deploymentFrequency"]["sampleSize"] > 0
    assert {e["extensions"]["source"] for e in body["errors"]} == {"servicenow"}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}


def test_an_unknown_application_or_time_zone_is_refused_by_name(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    error = gql.error(INSIGHTS, {**last_90_days(upstreams), "apps": ["NOPE"]})
    assert "no application NOPE" in error["message"]
    bad_zone = INSIGHTS.replace('"Europe/Paris"', '"Mars/Olympus"')
    assert "'Mars/Olympus' is not a time zone" in gql.error(
        bad_zone, last_90_days(upstreams))["message"]


RECORDS = """
query($from: DateTime!, $to: DateTime!) {
  insights(from: $from, to: $to) {
    applications { application leadTime { value sampleSize records work } }
    deployments { id application at succeeded url work }
    work { id application title url mergedAt firstCommitAt deployment leadTimeHours }
    incidents { number application url causedBy }
  }
}"""


def test_lead_time_names_the_work_it_measured_and_each_piece_its_deployment(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    data = gql.data(RECORDS, last_90_days(upstreams))["insights"]
    world = upstreams.world
    work = {w["id"]: w for w in data["work"]}
    deployments = {d["id"]: d for d in data["deployments"]}
    for app in data["applications"]:
        lead = app["leadTime"]
        assert lead["sampleSize"] == len(lead["work"]) > 0
        assert {work[w]["deployment"] for w in lead["work"]} == set(lead["records"])
        hours = sorted(work[w]["leadTimeHours"] for w in lead["work"])
        middle = len(hours) // 2
        median = hours[middle] if len(hours) % 2 else (hours[middle - 1] + hours[middle]) / 2
        assert lead["value"] == pytest.approx(median)
    # Each piece is a merged pull request of the world, measured from its first commit.
    pulls = {(world.app(p.app_key).repo_name, p.number): p for p in world.pull_requests}
    for piece in work.values():
        repo, number = piece["id"].split("/", 1)[1].split("#")
        pull = pulls[(repo, int(number))]
        assert piece["firstCommitAt"][:19] == pull.created.isoformat()[:19]
        shipped_by = deployments[piece["deployment"]]
        assert shipped_by["succeeded"] and piece["id"] in shipped_by["work"]
        assert piece["mergedAt"] <= shipped_by["at"]
