"""The four keys gathered from the sandboxes over real sockets, through the hub's batching.

The world is scaled to two dozen applications, so the same sandboxes answer
for two applications and for twenty; what is counted is the requests each
sandbox logs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, timedelta

import pytest
from starlette.applications import Starlette

from api.cache import UpstreamCache
from api.demo import build_sandboxes, demo_connectors, demo_environ
from api.domain import dora
from api.hub import Hub
from api.services.insights import AppScope, compute, gather
from connectors.registry import build_connectors
from connectors.sandbox.world import World, build_world
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

KINDS = ("github", "servicenow", "remedy")


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world(seed=7, scale=4)
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield Upstreams(url, world)


@pytest.fixture
async def hub(upstreams: Upstreams) -> AsyncIterator[Hub]:
    # Pages of results are the one thing allowed to grow with the applications; large
    # pages hold them at one, so what is counted is queries.
    configs = [c.model_copy(update={"options": {**c.options, "page_size": 1000}})
               if c.kind in ("servicenow", "remedy") else c
               for c in demo_connectors(upstreams.url)]
    # No cache: every gathering goes upstream, so every call is counted.
    hub = Hub(build_connectors(configs, environ=demo_environ()), UpstreamCache(ttl=0),
              deadline_seconds=60)
    yield hub
    await hub.aclose()


def scopes(world: World, n: int) -> list[AppScope]:
    """The first `n` applications as `heatshield demo` catalogues them."""
    return [AppScope(a.key, (f"{a.repo_owner}/{a.repo_name}",), (a.ci_name,))
            for a in world.applications[:n]]


def last_90_days(world: World) -> dora.Period:
    return dora.Period(world.now - timedelta(days=90), world.now)


async def counted(upstreams: Upstreams, hub: Hub, n: int) -> tuple[dict[str, int], dora.Facts]:
    upstreams.reset()
    gathered = await gather(hub, scopes(upstreams.world, n), last_90_days(upstreams.world))
    assert gathered.errors == []
    return {kind: upstreams.calls(kind) for kind in KINDS}, gathered.facts


async def test_upstream_calls_are_the_same_for_two_applications_and_for_twenty(
        upstreams: Upstreams, hub: Hub) -> None:
    await counted(upstreams, hub, 1)  # sign in (Remedy's token) outside the count
    small, small_facts = await counted(upstreams, hub, 2)
    large, large_facts = await counted(upstreams, hub, 20)

    assert small == large, (small, large)
    assert len({d.application for d in large_facts.deployments}) == 20
    assert len({w.application for w in large_facts.work}) == 20  # lead time's merged work
    assert len(large_facts.incidents) > 5 * len(small_facts.incidents) > 0
    print(f"upstream calls for 2 applications: {small}; for 20: {large}")


async def test_the_facts_match_the_world_and_the_keys_differ_between_applications(
        upstreams: Upstreams, hub: Hub) -> None:
    world = upstreams.world
    period = last_90_days(world)
    apps = scopes(world, 6)
    gathered = await gather(hub, apps, period)
    keys = [a.key for a in apps]

    expected = {(d.app_key, d.created.replace(microsecond=0)) for d in world.deployments
                if d.environment == "production" and d.app_key in keys
                and d.created >= period.start}
    assert {(d.application, d.at) for d in gathered.facts.deployments
            if d.at >= period.start} == expected
    caused = [i for i in gathered.facts.incidents if i.caused_by]
    assert caused, "some incidents are traced to their change"
    # Each incident traced to a change fails the deployment shipped under that change.
    shipped_under = {d.change for d in gathered.facts.deployments if d.change}
    assert any(c in shipped_under for i in caused for c in i.caused_by)

    insights = compute(gathered, period, keys, team=keys[:2], bucket=dora.Bucket.MONTH,
                       zone=UTC)
    rates = {k: f.change_failure_rate.value for k, f in insights.applications.items()}
    frequencies = {k: f.deployment_frequency.value for k, f in insights.applications.items()}
    assert len(set(rates.values())) > 1 and len(set(frequencies.values())) > 1
    overall = insights.overall
    assert overall.deployment_frequency.sample_size == sum(
        f.deployment_frequency.sample_size for f in insights.applications.values())
    assert insights.team is not None
    assert set(insights.team.deployment_frequency.records) == {
        r for k in keys[:2] for r in insights.applications[k].deployment_frequency.records}
    failed = [f for f in overall.failures if any(r.startswith("incident ") for r in f.reasons)]
    assert failed and all(f.incidents for f in failed)
