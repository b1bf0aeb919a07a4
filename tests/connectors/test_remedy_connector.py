"""The Remedy connector against the Remedy sandbox, over real sockets.

Each test starts its own sandbox (so writes and faults never leak), builds the
connector the way the registry does (`UpstreamClient.from_config` with the
password read from an environment mapping), and checks what came back against
the demo world and against the sandbox's own request log.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from connectors.base import (
    ChangeDraft,
    ChangePatch,
    ChangeRecord,
    ChangeSource,
    ChangeState,
    ChangeType,
    RiskLevel,
    TimeWindow,
)
from connectors.config import AuthConfig, ConnectorConfig
from connectors.errors import (
    ErrorCode,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import UpstreamClient
from connectors.remedy.client import RemedyConnector
from connectors.remedy.sandbox.app import create_app
from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_USER
from connectors.sandbox.world import ChangeRequest, World, build_world
from tests.support.clock import FakeClock
from tests.support.server import serve_asgi

CHANGES_PATH = "/api/arsys/v1/entry/CHG:Infrastructure Change"
CREATE_PATH = "/api/arsys/v1/entry/CHG:ChangeInterface_Create"
LOGIN_PATH = "/api/jwt/login"

Connect = Callable[..., Awaitable[RemedyConnector]]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7, 1)


@pytest.fixture(scope="module")
def remedy_changes(world: World) -> list[ChangeRequest]:
    return [c for c in world.change_requests if c.itsm == "remedy"]


def number_of(change: ChangeRequest) -> str:
    return f"CRQ{change.seq:012d}"


@pytest.fixture
def sandbox(world: World) -> Iterator[str]:
    with serve_asgi(create_app(world)) as url:
        yield url


@pytest.fixture
async def connect(sandbox: str) -> AsyncIterator[Connect]:
    """Builds connectors to the sandbox (or another URL) and closes them afterwards."""
    made: list[RemedyConnector] = []

    async def build(base_url: str = sandbox, *, password: str = DEMO_PASSWORD,
                    clock: Callable[[], float] = time.monotonic,
                    **settings: Any) -> RemedyConnector:
        options = {"company": "Acme Retail", **settings.pop("options", {})}
        config = ConnectorConfig(
            name="remedy", kind="remedy", base_url=base_url,
            auth=AuthConfig(type="ar-jwt", username=DEMO_USER, password_env="REMEDY_PASSWORD"),
            options=options, **settings)
        http = UpstreamClient.from_config(config, environ={"REMEDY_PASSWORD": password},
                                          clock=clock)
        connector = RemedyConnector.from_settings(config, http)
        made.append(connector)
        return connector

    yield build
    for connector in made:
        await connector.aclose()


def served(base_url: str, method: str | None = None, path: str | None = None
           ) -> list[dict[str, Any]]:
    """The sandbox's request log, optionally narrowed to one method and path."""
    log = httpx.get(f"{base_url}/_sandbox/requests").json()["requests"]
    return [r for r in log if (method is None or r["method"] == method)
            and (path is None or r["path"] == path)]


def reset_log(base_url: str) -> None:
    httpx.delete(f"{base_url}/_sandbox/requests").raise_for_status()


def add_fault(base_url: str, **fault: Any) -> None:
    httpx.post(f"{base_url}/_sandbox/faults", json=fault).raise_for_status()


def wire_search(base_url: str, qualification: str) -> list[dict[str, Any]]:
    """Ask the sandbox directly, with a client of its own, to check what the connector did."""
    with httpx.Client(base_url=base_url) as client:
        token = client.post(LOGIN_PATH, data={"username": DEMO_USER,
                                              "password": DEMO_PASSWORD}).text
        response = client.get(CHANGES_PATH, params={"q": qualification, "limit": 1000},
                              headers={"Authorization": f"AR-JWT {token}"})
        response.raise_for_status()
        return [entry["values"] for entry in response.json()["entries"]]


def draft(correlation_id: str, **overrides: Any) -> ChangeDraft:
    values: dict[str, Any] = {
        "title": "Deploy Payments 2026.12 to production",
        "description": "Release PAY-2026.12: PAY-1, PAY-2",
        "type": ChangeType.NORMAL, "correlation_id": correlation_id,
        "planned_start": datetime(2026, 12, 15, 20, tzinfo=UTC),
        "planned_end": datetime(2026, 12, 15, 22, tzinfo=UTC),
        "risk": RiskLevel.MODERATE, "assignment_group": "Payments Ops",
        "configuration_items": ("Payments API",),
    }
    return ChangeDraft(**{**values, **overrides})


# --- reads ---------------------------------------------------------------------------------

async def test_it_is_a_change_source(connect: Connect) -> None:
    assert isinstance(await connect(), ChangeSource)


async def test_changes_by_number_match_the_world(
        connect: Connect, remedy_changes: list[ChangeRequest]) -> None:
    connector = await connect()
    found = await connector.changes([number_of(c) for c in remedy_changes])
    assert len(found) == len(remedy_changes)
    for change in remedy_changes:
        record = found[number_of(change)]
        assert record.source == "remedy"
        assert record.title == change.title
        assert record.state is ChangeState[change.stage.upper()]
        assert record.planned_start == change.planned_start
        assert record.planned_end == change.planned_end
        assert record.type is ChangeType[change.change_type.upper()]
        assert record.upstream_id != record.number
        assert record.url.endswith(f"/{record.upstream_id}")


async def test_unknown_numbers_are_absent_from_the_result(
        connect: Connect, remedy_changes: list[ChangeRequest]) -> None:
    known = number_of(remedy_changes[0])
    found = await (await connect()).changes([known, "CRQ000000999999", known])
    assert list(found) == [known]
    assert await (await connect()).changes([]) == {}


async def test_a_batch_of_many_numbers_costs_one_call_per_qualification_not_per_number() -> None:
    world = build_world(7, 3)
    numbers = [number_of(c) for c in world.change_requests if c.itsm == "remedy"]
    assert len(numbers) > 40
    with serve_asgi(create_app(world)) as url:
        config = ConnectorConfig(
            name="remedy", kind="remedy", base_url=url,
            auth=AuthConfig(type="ar-jwt", username=DEMO_USER, password_env="P"))
        connector = RemedyConnector(config, UpstreamClient.from_config(
            config, environ={"P": DEMO_PASSWORD}))
        try:
            await connector.changes(numbers[:1])  # logs in
            reset_log(url)
            assert len(await connector.changes(numbers[:2])) == 2
            calls_for_two = len(served(url))
            reset_log(url)
            assert len(await connector.changes(numbers)) == len(numbers)
            calls_for_all = len(served(url))
            reset_log(url)
            many = [*numbers, *(f"CRQ{n:012d}" for n in range(500_000, 500_150))]
            assert len(await connector.changes(many)) == len(numbers)
            calls_for_many = len(served(url))
        finally:
            await connector.aclose()
    assert calls_for_two == calls_for_all == 1
    assert calls_for_many <= 4  # ~60 numbers per qualification, not one call per number


async def test_searching_pages_through_links_next_to_the_end(
        connect: Connect, sandbox: str, remedy_changes: list[ChangeRequest]) -> None:
    connector = await connect(options={"page_size": 5})
    reset_log(sandbox)
    records = await connector.search_changes()
    assert sorted(r.number for r in records) == sorted(number_of(c) for c in remedy_changes)
    starts = [r.planned_start for r in records]
    assert starts == sorted(s for s in starts if s is not None)
    pages = served(sandbox, "GET", CHANGES_PATH)
    assert len(pages) == math.ceil(len(remedy_changes) / 5)
    assert "offset=5" in pages[1]["query"]


@pytest.mark.parametrize("state", list(ChangeState))
async def test_searching_by_state_returns_exactly_the_changes_in_that_state(
        connect: Connect, remedy_changes: list[ChangeRequest], state: ChangeState) -> None:
    records = await (await connect()).search_changes(state=state)
    expected = {number_of(c) for c in remedy_changes if c.stage.upper() == state.name}
    assert expected, "the world has a change in every state"
    assert {r.number for r in records} == expected
    assert all(r.state is state for r in records)


async def test_searching_by_window_returns_the_changes_whose_schedule_overlaps_it(
        connect: Connect, world: World, remedy_changes: list[ChangeRequest]) -> None:
    window = TimeWindow(world.now - timedelta(days=30), world.now + timedelta(days=30))
    records = await (await connect()).search_changes(window=window)
    expected = {number_of(c) for c in remedy_changes
                if c.planned_start < window.end and c.planned_end > window.start}
    assert expected and len(expected) < len(remedy_changes)
    assert {r.number for r in records} == expected


async def test_a_status_map_override_changes_the_canonical_state_and_the_search(
        connect: Connect, remedy_changes: list[ChangeRequest]) -> None:
    connector = await connect(status_map={"Scheduled For Approval": "SCHEDULED"})
    authorizing = [c for c in remedy_changes if c.stage == "authorize"]
    record = (await connector.changes([number_of(authorizing[0])]))[number_of(authorizing[0])]
    assert record.state is ChangeState.SCHEDULED
    assert record.state_label == "Scheduled For Approval"
    scheduled = await connector.search_changes(state=ChangeState.SCHEDULED)
    assert {number_of(c) for c in authorizing} <= {r.number for r in scheduled}
    assert await connector.search_changes(state=ChangeState.AUTHORIZE) == []


async def test_paging_works_under_a_mount_prefix(world: World,
                                                 remedy_changes: list[ChangeRequest],
                                                 connect: Connect) -> None:
    host = Starlette(routes=[Mount("/sandbox/remedy", app=create_app(world))])
    with serve_asgi(host) as url:
        connector = await connect(f"{url}/sandbox/remedy", options={"page_size": 7})
        assert len(await connector.search_changes()) == len(remedy_changes)


# --- auth ----------------------------------------------------------------------------------

async def test_one_login_serves_many_concurrent_calls(
        connect: Connect, sandbox: str, remedy_changes: list[ChangeRequest]) -> None:
    connector = await connect()
    numbers = [number_of(c) for c in remedy_changes]
    results = await asyncio.gather(*(connector.changes([n]) for n in numbers))
    assert [list(r) for r in results] == [[n] for n in numbers]
    assert len(served(sandbox, "POST", LOGIN_PATH)) == 1
    assert connector.jwt is not None and connector.jwt.logins == 1


async def test_an_expired_token_is_renewed_on_the_401_and_the_call_succeeds(
        world: World, connect: Connect, remedy_changes: list[ChangeRequest]) -> None:
    clock = FakeClock()  # the server's: it expires the token; the connector's TTL is an hour
    with serve_asgi(create_app(world, token_ttl_seconds=60, clock=clock)) as url:
        connector = await connect(url)
        number = number_of(remedy_changes[0])
        assert number in await connector.changes([number])
        clock.advance(60)
        assert number in await connector.changes([number])
        log = [(r["method"], r["path"], r["status"]) for r in served(url)]
    assert log == [("POST", LOGIN_PATH, 200), ("GET", CHANGES_PATH, 200),
                   ("GET", CHANGES_PATH, 401), ("POST", LOGIN_PATH, 200),
                   ("GET", CHANGES_PATH, 200)]


async def test_a_token_near_the_end_of_its_configured_lifetime_is_renewed_before_use(
        world: World, connect: Connect, remedy_changes: list[ChangeRequest]) -> None:
    clock = FakeClock()  # the server's and the connector's: both see the same lifetime
    with serve_asgi(create_app(world, token_ttl_seconds=600, clock=clock)) as url:
        connector = await connect(url, options={"token_ttl_seconds": 600}, clock=clock)
        number = number_of(remedy_changes[0])
        await connector.changes([number])
        clock.advance(539)
        await connector.changes([number])
        logins_before_the_last_minute = connector.jwt.logins if connector.jwt else 0
        clock.advance(1)  # renewal starts a minute before the end
        await connector.changes([number])
        statuses = [(r["path"], r["status"]) for r in served(url)]
    assert logins_before_the_last_minute == 1
    assert statuses.count((LOGIN_PATH, 200)) == 2
    assert all(status != 401 for _, status in statuses)


async def test_closing_logs_out(connect: Connect, sandbox: str,
                                remedy_changes: list[ChangeRequest]) -> None:
    connector = await connect()
    await connector.changes([number_of(remedy_changes[0])])
    await connector.aclose()
    assert [r["status"] for r in served(sandbox, "POST", "/api/jwt/logout")] == [204]


async def test_a_refused_login_is_an_auth_failure_that_does_not_show_the_password(
        connect: Connect) -> None:
    connector = await connect(password="not-the-password-x9")
    with pytest.raises(UpstreamAuthFailed) as caught:
        await connector.changes(["CRQ000000001001"])
    assert caught.value.code is ErrorCode.UPSTREAM_AUTH_FAILED
    assert "Authentication failed" in caught.value.message
    assert "not-the-password-x9" not in str(caught.value)


# --- faults ---------------------------------------------------------------------------------

async def test_a_rate_limited_call_waits_for_retry_after_then_succeeds(
        connect: Connect, sandbox: str, remedy_changes: list[ChangeRequest]) -> None:
    connector = await connect()
    number = number_of(remedy_changes[0])
    await connector.changes([number])
    add_fault(sandbox, rate_limit={"count": 1, "retry_after": 1}, path="/entry/")
    started = time.monotonic()
    assert number in await connector.changes([number])
    assert time.monotonic() - started >= 1.0
    assert [r["status"] for r in served(sandbox, "GET", CHANGES_PATH)][-2:] == [429, 200]


async def test_a_failing_upstream_is_unavailable(connect: Connect, sandbox: str) -> None:
    connector = await connect(max_retries=0)
    add_fault(sandbox, error_rate=1.0, error_status=503, path="/entry/")
    with pytest.raises(UpstreamUnavailable) as caught:
        await connector.changes(["CRQ000000001001"])
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert caught.value.status == 503


async def test_a_hanging_upstream_times_out(connect: Connect, sandbox: str) -> None:
    connector = await connect(timeout_seconds=0.3, max_retries=0)
    add_fault(sandbox, hang_seconds=2, path="/entry/")
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        await connector.changes(["CRQ000000001001"])
    assert caught.value.code is ErrorCode.UPSTREAM_TIMEOUT
    assert time.monotonic() - started < 1.5


async def test_a_malformed_body_is_a_bad_response(connect: Connect, sandbox: str) -> None:
    connector = await connect()
    add_fault(sandbox, malformed=True, path="/entry/")
    with pytest.raises(UpstreamBadResponse) as caught:
        await connector.search_changes()
    assert caught.value.code is ErrorCode.UPSTREAM_BAD_RESPONSE


# --- create ----------------------------------------------------------------------------------

async def test_create_submits_through_the_interface_form_and_returns_the_new_change(
        connect: Connect, sandbox: str) -> None:
    connector = await connect()
    record = await connector.create_change(draft("heatshield:REL-7"))
    assert record.number.startswith("CRQ")
    assert record.state is ChangeState.NEW and record.state_label == "Draft"
    assert record.title == "Deploy Payments 2026.12 to production"
    assert record.correlation_id == "heatshield:REL-7"
    assert record.risk is RiskLevel.MODERATE and record.type is ChangeType.NORMAL
    assert record.planned_start == datetime(2026, 12, 15, 20, tzinfo=UTC)
    stored = wire_search(sandbox, f"'Infrastructure Change ID' = \"{record.number}\"")
    assert [(v["Company"], v["ASGRP"], v["ServiceCI"]) for v in stored] == [
        ("Acme Retail", "Payments Ops", "Payments API")]


async def test_creating_twice_with_one_correlation_id_makes_one_change(
        connect: Connect, sandbox: str) -> None:
    connector = await connect()
    first = await connector.create_change(draft("heatshield:REL-8"))
    again = await connector.create_change(draft("heatshield:REL-8", title="Other title"))
    assert again == first
    assert len(served(sandbox, "POST", CREATE_PATH)) == 1


async def test_a_lost_create_response_still_returns_the_one_change_it_made(
        connect: Connect, sandbox: str) -> None:
    connector = await connect()
    add_fault(sandbox, drop_response=True, path="ChangeInterface_Create")
    record = await connector.create_change(draft("heatshield:REL-9"))
    assert record.correlation_id == "heatshield:REL-9"
    assert len(wire_search(sandbox, "'Vendor Ticket Number' = \"heatshield:REL-9\"")) == 1
    assert len(served(sandbox, "POST", CREATE_PATH)) == 1


async def test_a_create_the_server_refuses_is_refused(connect: Connect) -> None:
    connector = await connect(options={"impact": "9-Unheard-Of"})
    with pytest.raises(UpstreamRefused) as caught:
        await connector.create_change(draft("heatshield:REL-10"))
    assert caught.value.code is ErrorCode.UPSTREAM_REFUSED


# --- update ----------------------------------------------------------------------------------

async def new_change(connector: RemedyConnector, correlation_id: str) -> ChangeRecord:
    return await connector.create_change(draft(correlation_id))


def approve(base_url: str, change: ChangeRecord, status: str) -> None:
    """The approvers' decision, written through the server's own API (not the connector)."""
    with httpx.Client(base_url=base_url) as client:
        token = client.post(LOGIN_PATH, data={"username": DEMO_USER,
                                              "password": DEMO_PASSWORD}).text
        client.put(f"{CHANGES_PATH}/{change.upstream_id}",
                   json={"values": {"Change Request Status": status}},
                   headers={"Authorization": f"AR-JWT {token}"}).raise_for_status()


async def test_a_target_state_is_reached_by_walking_the_process_flow(
        connect: Connect, sandbox: str) -> None:
    connector = await connect()
    change = await new_change(connector, "heatshield:REL-11")
    approve(sandbox, await connector.update_change(
        change.number, ChangePatch(state=ChangeState.ASSESS)), "Request For Change")
    reset_log(sandbox)
    authorizing = await connector.update_change(change.number,
                                                ChangePatch(state=ChangeState.AUTHORIZE))
    assert authorizing.state is ChangeState.AUTHORIZE
    assert authorizing.state_label == "Scheduled For Approval"
    # Request For Change -> Planning In Progress -> Scheduled For Review -> For Approval
    assert len(served(sandbox, "PUT")) == 3
    approve(sandbox, authorizing, "Scheduled")
    closed = await connector.update_change(change.number, ChangePatch(state=ChangeState.CLOSED))
    assert closed.state is ChangeState.CLOSED
    assert closed.state_label == "Closed (Successful)"


async def test_a_walk_never_takes_a_step_the_approvers_own(connect: Connect,
                                                           sandbox: str) -> None:
    connector = await connect()
    change = await new_change(connector, "heatshield:REL-11a")
    asked = await connector.update_change(change.number, ChangePatch(state=ChangeState.ASSESS))
    reset_log(sandbox)
    with pytest.raises(UpstreamRefused, match="does not pass an approval"):
        await connector.update_change(change.number, ChangePatch(state=ChangeState.SCHEDULED))
    assert served(sandbox, "PUT") == []
    after = (await connector.changes([change.number]))[change.number]
    assert after.state_label == asked.state_label == "Request For Authorization"


async def test_fields_ride_on_the_first_status_step(connect: Connect, sandbox: str) -> None:
    connector = await connect()
    change = await new_change(connector, "heatshield:REL-12")
    reset_log(sandbox)
    updated = await connector.update_change(change.number, ChangePatch(
        title="Deploy Payments 2026.12.1", risk=RiskLevel.HIGH, state=ChangeState.ASSESS,
        planned_end=datetime(2026, 12, 15, 23, tzinfo=UTC)))
    assert updated.title == "Deploy Payments 2026.12.1"
    assert updated.risk is RiskLevel.HIGH
    assert updated.planned_end == datetime(2026, 12, 15, 23, tzinfo=UTC)
    assert updated.state is ChangeState.ASSESS
    assert len(served(sandbox, "PUT")) == 1


async def test_a_move_the_flow_does_not_allow_is_refused_without_a_write(
        connect: Connect, sandbox: str, remedy_changes: list[ChangeRequest]) -> None:
    closed = next(c for c in remedy_changes if c.stage == "closed")
    connector = await connect()
    with pytest.raises(UpstreamRefused, match="no way from 'Closed'"):
        await connector.update_change(number_of(closed),
                                      ChangePatch(state=ChangeState.IMPLEMENT))
    assert served(sandbox, "PUT") == []


async def test_a_move_the_server_refuses_is_refused_and_nothing_changes(
        connect: Connect, remedy_changes: list[ChangeRequest]) -> None:
    held = next(c for c in remedy_changes if c.stage == "on_hold")
    connector = await connect()
    with pytest.raises(UpstreamRefused, match="Implementation In Progress") as caught:
        await connector.update_change(number_of(held),
                                      ChangePatch(state=ChangeState.IMPLEMENT))
    assert caught.value.code is ErrorCode.UPSTREAM_REFUSED
    after = (await connector.changes([number_of(held)]))[number_of(held)]
    assert after.state is ChangeState.ON_HOLD


async def test_updating_an_unknown_change_is_refused(connect: Connect) -> None:
    with pytest.raises(UpstreamRefused, match="does not exist"):
        await (await connect()).update_change("CRQ000000999999", ChangePatch(title="x"))


# -- incidents ---------------------------------------------------------------------------------


async def test_incidents_of_several_services_come_in_one_search_with_their_causing_change(
        connect: Connect, sandbox: str, world: World) -> None:
    apps = [a for a in world.applications
            if any(i.app_key == a.key and i.itsm == "remedy" for i in world.incidents)][:2]
    since = world.now - timedelta(days=90)
    expected = {f"INC{i.seq:012d}": i for i in world.incidents
                if i.itsm == "remedy" and i.app_key in {a.key for a in apps}
                and i.opened >= since}
    assert len(expected) > 2
    connector = await connect()
    reset_log(sandbox)

    records = await connector.incidents([a.ci_name for a in apps], since)

    assert {r.number for r in records} == set(expected)
    changes = {c.seq: c for c in world.change_requests if c.itsm == "remedy"}
    ci_of = {a.key: a.ci_name for a in apps}
    for record in records:
        incident = expected[record.number]
        assert record.service == ci_of[incident.app_key]
        assert abs((record.opened_at - incident.opened).total_seconds()) < 1
        assert (record.resolved_at is None) == (incident.resolved is None)
        cause = changes[incident.caused_by] if incident.caused_by else None
        assert record.caused_by == ((number_of(cause),) if cause else ())
    assert any(r.caused_by for r in records) and any(not r.caused_by for r in records)
    assert len(served(sandbox, "GET", "/api/arsys/v1/entry/HPD:Help Desk")) == 1
