"""The ServiceNow connector against the ServiceNow sandbox, over real sockets.

Each test gets a fresh sandbox instance over the demo world, a connector
configured as an operator would (Basic auth from the environment), and a
plain HTTP client for the sandbox's own controls (faults, request log).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from connectors.base import (
    ApprovalState,
    ChangeDraft,
    ChangePatch,
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
from connectors.registry import default_registry
from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_TOKEN, DEMO_USER
from connectors.sandbox.world import ChangeRequest, build_world
from connectors.servicenow.client import ServiceNowConnector
from connectors.servicenow.sandbox.app import create_app
from tests.support.server import serve_asgi

WORLD = build_world(7, 1)
SN_CHANGES = [c for c in WORLD.change_requests if c.itsm == "servicenow"]
TABLE = "/api/now/table/change_request"
ENV = {"SN_PASSWORD": DEMO_PASSWORD, "SN_TOKEN": DEMO_TOKEN}

# The world's vendor-neutral stages, as the hub must see them.
STAGE_STATES = {
    "new": ChangeState.NEW, "assess": ChangeState.ASSESS, "authorize": ChangeState.AUTHORIZE,
    "scheduled": ChangeState.SCHEDULED, "implement": ChangeState.IMPLEMENT,
    "review": ChangeState.REVIEW, "closed": ChangeState.CLOSED,
    "canceled": ChangeState.CANCELED, "rejected": ChangeState.REJECTED,
    "on_hold": ChangeState.ON_HOLD,
}


def number(change: ChangeRequest) -> str:
    return f"CHG{change.seq:07d}"


@pytest.fixture
def base_url() -> Iterator[str]:
    with serve_asgi(create_app(WORLD)) as url:
        yield url


@pytest.fixture
async def sandbox(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's controls, and direct reads to check what is upstream."""
    async with httpx.AsyncClient(base_url=base_url, auth=(DEMO_USER, DEMO_PASSWORD),
                                 timeout=10) as client:
        yield client


def make_connector(base_url: str, *, auth: AuthConfig | None = None,
                   transport: httpx.AsyncBaseTransport | None = None,
                   **settings: Any) -> ServiceNowConnector:
    config = ConnectorConfig(
        name="snow", kind="servicenow", base_url=base_url,
        auth=auth or AuthConfig(type="basic", username=DEMO_USER, password_env="SN_PASSWORD"),
        **settings)
    return ServiceNowConnector(config, UpstreamClient.from_config(config, environ=ENV,
                                                                  transport=transport))


@pytest.fixture
async def snow(base_url: str) -> AsyncIterator[ServiceNowConnector]:
    connector = make_connector(base_url)
    yield connector
    await connector.aclose()


async def served(sandbox: httpx.AsyncClient) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = (await sandbox.get("/_sandbox/requests")).json()["requests"]
    return requests


async def upstream_rows(sandbox: httpx.AsyncClient, query: str) -> list[dict[str, Any]]:
    response = await sandbox.get(TABLE, params={"sysparm_query": query})
    rows: list[dict[str, Any]] = response.json()["result"]
    return rows


def draft(correlation_id: str, **fields: Any) -> ChangeDraft:
    start = WORLD.now + timedelta(days=20)
    values: dict[str, Any] = {
        "title": "Deploy Payments 2026.12 to production", "description": "Release PAY-2026.12.",
        "type": ChangeType.NORMAL, "correlation_id": correlation_id,
        "planned_start": start, "planned_end": start + timedelta(hours=4),
        "risk": RiskLevel.HIGH, "configuration_items": ("Payments Service",),
        "assignment_group": "Payments Ops", **fields}
    return ChangeDraft(**values)


# -- the kind --------------------------------------------------------------------------


def test_the_entry_point_names_this_connector_and_it_is_a_change_source(
        snow: ServiceNowConnector) -> None:
    assert default_registry.factory("servicenow") == ServiceNowConnector.from_settings
    assert isinstance(snow, ChangeSource)


# -- reading by number -------------------------------------------------------------------


async def test_changes_returns_every_requested_change_as_the_world_describes_it(
        snow: ServiceNowConnector) -> None:
    found = await snow.changes([number(c) for c in SN_CHANGES])

    assert set(found) == {number(c) for c in SN_CHANGES}
    for change in SN_CHANGES:
        record = found[number(change)]
        assert record.title == change.title
        assert record.state is STAGE_STATES[change.stage], change.stage
        assert record.type is ChangeType[change.change_type.upper()]
        assert record.planned_start == change.planned_start
        assert record.planned_end == change.planned_end
        assert record.configuration_items == (WORLD.app(change.app_key).ci_name,)
        assert record.url.startswith(f"{snow.settings.base_url}/nav_to.do?uri=change_request.do")


async def test_state_labels_are_the_instance_words(snow: ServiceNowConnector) -> None:
    found = await snow.changes([number(c) for c in SN_CHANGES])

    labels = {r.state: r.state_label for r in found.values()
              if r.state not in (ChangeState.ON_HOLD, ChangeState.REJECTED)}
    assert labels == {ChangeState.NEW: "New", ChangeState.ASSESS: "Assess",
                      ChangeState.AUTHORIZE: "Authorize", ChangeState.SCHEDULED: "Scheduled",
                      ChangeState.IMPLEMENT: "Implement", ChangeState.REVIEW: "Review",
                      ChangeState.CLOSED: "Closed", ChangeState.CANCELED: "Canceled"}


async def test_numbers_not_upstream_or_not_a_number_are_absent(
        snow: ServiceNowConnector) -> None:
    found = await snow.changes(["CHG0030001", "CHG9999999", "CHG0030002^ORactive=true"])

    assert set(found) == {"CHG0030001"}


async def test_many_numbers_cost_one_upstream_call(snow: ServiceNowConnector,
                                                   sandbox: httpx.AsyncClient) -> None:
    await sandbox.delete("/_sandbox/requests")
    await snow.changes([number(SN_CHANGES[0])])
    one = len(await served(sandbox))

    await sandbox.delete("/_sandbox/requests")
    await snow.changes([number(c) for c in SN_CHANGES])
    many = await served(sandbox)

    assert one == len(many) == 1
    assert "numberIN" in httpx.URL("?" + many[0]["query"]).params["sysparm_query"]


async def test_a_small_page_size_is_paged_to_the_end(base_url: str,
                                                     sandbox: httpx.AsyncClient) -> None:
    connector = make_connector(base_url, options={"page_size": 4})
    await sandbox.delete("/_sandbox/requests")

    found = await connector.changes([number(c) for c in SN_CHANGES])
    await connector.aclose()

    assert set(found) == {number(c) for c in SN_CHANGES}
    assert len(await served(sandbox)) == math.ceil(len(SN_CHANGES) / 4)


async def test_numbers_are_chunked_and_the_chunks_are_all_read(
        base_url: str, sandbox: httpx.AsyncClient) -> None:
    connector = make_connector(base_url, options={"chunk_size": 5})
    await sandbox.delete("/_sandbox/requests")

    found = await connector.changes([number(c) for c in SN_CHANGES])
    await connector.aclose()

    assert len(found) == len(SN_CHANGES)
    assert len(await served(sandbox)) == math.ceil(len(SN_CHANGES) / 5)


# -- searching ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(ChangeState))
async def test_search_by_state_finds_exactly_the_world_changes_in_that_stage(
        snow: ServiceNowConnector, state: ChangeState) -> None:
    expected = sorted(number(c) for c in SN_CHANGES if STAGE_STATES[c.stage] is state)

    found = await snow.search_changes(state=state)

    assert sorted(r.number for r in found) == expected
    assert expected  # the world shows every state at least once


async def test_search_by_window_finds_overlapping_changes_in_start_order(
        snow: ServiceNowConnector) -> None:
    window = TimeWindow(WORLD.now - timedelta(days=20), WORLD.now + timedelta(days=20))
    expected = {number(c) for c in SN_CHANGES
                if c.planned_start <= window.end and c.planned_end >= window.start}

    found = await snow.search_changes(window=window)

    assert {r.number for r in found} == expected
    starts = [r.planned_start for r in found]
    assert starts == sorted(starts)  # type: ignore[type-var]


async def test_a_status_map_override_changes_what_a_state_means(base_url: str) -> None:
    connector = make_connector(base_url, status_map={"Review": "CLOSED"})

    closed = await connector.search_changes(state=ChangeState.CLOSED)
    in_review = await connector.search_changes(state=ChangeState.REVIEW)
    await connector.aclose()

    expected = {number(c) for c in SN_CHANGES if c.stage in ("closed", "review")}
    assert {r.number for r in closed} == expected
    assert in_review == []
    assert {r.state_label for r in closed} == {"Closed", "Review"}


# -- creating --------------------------------------------------------------------------------


async def test_create_posts_a_new_change_with_the_drafts_values(
        snow: ServiceNowConnector, sandbox: httpx.AsyncClient) -> None:
    the_draft = draft("hs-create-1")

    created = await snow.create_change(the_draft)

    assert created.number > number(SN_CHANGES[-1])
    assert (created.state, created.approval) == (ChangeState.NEW, ApprovalState.NOT_REQUESTED)
    assert (created.title, created.type, created.risk) == (
        the_draft.title, ChangeType.NORMAL, RiskLevel.HIGH)
    assert (created.planned_start, created.planned_end) == (the_draft.planned_start,
                                                            the_draft.planned_end)
    assert created.configuration_items == ("Payments Service",)
    row = (await upstream_rows(sandbox, "correlation_id=hs-create-1"))[0]
    assert (row["correlation_display"], row["impact"]) == ("Heatshield", "1")
    assert row["assignment_group"]["value"]  # resolved from the group's name


async def test_creating_twice_with_one_correlation_id_makes_one_change(
        snow: ServiceNowConnector, sandbox: httpx.AsyncClient) -> None:
    first = await snow.create_change(draft("hs-twice"))
    await sandbox.delete("/_sandbox/requests")

    second = await snow.create_change(draft("hs-twice", title="Another title"))

    assert second.number == first.number
    assert [r["method"] for r in await served(sandbox)] == ["GET"]
    assert len(await upstream_rows(sandbox, "correlation_id=hs-twice")) == 1


class LoseThePostAnswer(httpx.AsyncBaseTransport):
    """A network blip on the create: the instance commits the POST but its answer is lost.

    The sandbox's `drop_response` fault is switched on just before the POST;
    with `heal` it is switched off again once the loss was seen, else it stays.
    """

    def __init__(self, base_url: str, *, heal: bool) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.base_url = base_url
        self.heal = heal

    async def _faults(self, method: str) -> None:
        async with httpx.AsyncClient(base_url=self.base_url) as control:
            await control.request(method, "/_sandbox/faults", json={
                "drop_response": True, "path": "change_request$"} if method == "POST" else None)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            await self._faults("POST")
        try:
            return await self.inner.handle_async_request(request)
        except httpx.TransportError:
            if request.method == "POST" and self.heal:
                await self._faults("DELETE")
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_lost_create_answer_is_recovered_by_correlation_id(
        base_url: str, sandbox: httpx.AsyncClient) -> None:
    connector = make_connector(base_url, transport=LoseThePostAnswer(base_url, heal=True))

    created = await connector.create_change(draft("hs-lost-answer"))
    await connector.aclose()

    assert [(r["method"], r["fault"]) for r in await served(sandbox)] == [
        ("GET", None), ("POST", "drop_response"), ("GET", None)]
    rows = await upstream_rows(sandbox, "correlation_id=hs-lost-answer")
    assert [r["number"] for r in rows] == [created.number]


async def test_when_the_answer_stays_lost_the_error_is_raised_and_a_retry_adds_nothing(
        base_url: str, sandbox: httpx.AsyncClient) -> None:
    connector = make_connector(base_url, max_retries=0,
                               transport=LoseThePostAnswer(base_url, heal=False))

    with pytest.raises(UpstreamUnavailable):
        await connector.create_change(draft("hs-still-lost"))
    await sandbox.delete("/_sandbox/faults")
    healed = make_connector(base_url)
    again = await healed.create_change(draft("hs-still-lost"))
    await healed.aclose()
    await connector.aclose()

    rows = await upstream_rows(sandbox, "correlation_id=hs-still-lost")
    assert [r["number"] for r in rows] == [again.number]
    assert [r["method"] for r in await served(sandbox)][:3] == ["GET", "POST", "GET"]


# -- updating -----------------------------------------------------------------------------


async def test_a_target_state_is_walked_through_the_states_the_model_requires(
        snow: ServiceNowConnector, sandbox: httpx.AsyncClient) -> None:
    created = await snow.create_change(draft("hs-walk"))
    await sandbox.delete("/_sandbox/requests")

    updated = await snow.update_change(created.number, ChangePatch(
        state=ChangeState.AUTHORIZE, title="Deploy Payments 2026.12 (for CAB)",
        note="Ready for CAB"))

    assert (updated.state, updated.state_label) == (ChangeState.AUTHORIZE, "Authorize")
    assert updated.approval is ApprovalState.REQUESTED
    assert updated.title == "Deploy Payments 2026.12 (for CAB)"
    assert [r["method"] for r in await served(sandbox)] == ["GET", "PATCH", "PATCH"]


async def test_a_walk_never_takes_the_approval_step_the_change_board_owns(
        snow: ServiceNowConnector, sandbox: httpx.AsyncClient) -> None:
    created = await snow.create_change(draft("hs-no-self-approval"))
    await sandbox.delete("/_sandbox/requests")

    with pytest.raises(UpstreamRefused, match="would pass the approval"):
        await snow.update_change(created.number, ChangePatch(state=ChangeState.SCHEDULED))

    assert [r["method"] for r in await served(sandbox)] == ["GET"]
    [row] = await upstream_rows(sandbox, f"number={created.number}")
    assert (row["state"], row["approval"]) == ("-5", "not requested")


async def test_once_the_board_approved_the_walk_goes_on_to_implementation(
        snow: ServiceNowConnector, sandbox: httpx.AsyncClient) -> None:
    created = await snow.create_change(draft("hs-approved-walk"))
    authorizing = await snow.update_change(created.number,
                                           ChangePatch(state=ChangeState.AUTHORIZE))
    # The approvers decide in the instance; the record says approved.
    await sandbox.patch(f"{TABLE}/{authorizing.upstream_id}", json={"approval": "approved"})

    implementing = await snow.update_change(created.number,
                                            ChangePatch(state=ChangeState.IMPLEMENT))

    assert (implementing.state, implementing.approval) == (ChangeState.IMPLEMENT,
                                                           ApprovalState.APPROVED)


async def test_an_illegal_target_is_refused_before_anything_is_sent(
        snow: ServiceNowConnector, sandbox: httpx.AsyncClient) -> None:
    scheduled = next(c for c in SN_CHANGES if c.stage == "scheduled")
    await sandbox.delete("/_sandbox/requests")

    with pytest.raises(UpstreamRefused, match=r"from Scheduled \(-2\) to Assess \(-4\)") as refused:
        await snow.update_change(number(scheduled), ChangePatch(state=ChangeState.ASSESS))

    assert refused.value.code is ErrorCode.UPSTREAM_REFUSED
    assert [r["method"] for r in await served(sandbox)] == ["GET"]


async def test_a_refusal_by_the_instance_names_the_move(
        snow: ServiceNowConnector, sandbox: httpx.AsyncClient) -> None:
    created = await snow.create_change(draft("hs-refused"))
    await sandbox.post("/_sandbox/faults", json={
        "error_rate": 1.0, "error_status": 403, "path": r"change_request/[0-9a-f]{32}$"})

    with pytest.raises(UpstreamRefused, match="refused moving it from New to Assess"):
        await snow.update_change(created.number, ChangePatch(state=ChangeState.ASSESS))


async def test_on_hold_and_back(snow: ServiceNowConnector) -> None:
    created = await snow.create_change(draft("hs-hold"))
    await snow.update_change(created.number, ChangePatch(state=ChangeState.ASSESS))

    held = await snow.update_change(created.number, ChangePatch(
        state=ChangeState.ON_HOLD, note="Waiting for the vendor"))
    resumed = await snow.update_change(created.number, ChangePatch(state=ChangeState.AUTHORIZE))

    assert held.state is ChangeState.ON_HOLD
    assert resumed.state is ChangeState.AUTHORIZE


async def test_updating_a_change_that_does_not_exist_is_refused(
        snow: ServiceNowConnector) -> None:
    with pytest.raises(UpstreamRefused, match="no change request CHG9999999"):
        await snow.update_change("CHG9999999", ChangePatch(title="x"))


# -- faults and auth ------------------------------------------------------------------------


async def test_a_rate_limit_is_waited_out_and_the_call_succeeds(
        snow: ServiceNowConnector, sandbox: httpx.AsyncClient) -> None:
    await sandbox.post("/_sandbox/faults", json={"rate_limit": {"count": 1, "retry_after": 1}})
    started = time.monotonic()

    found = await snow.changes([number(SN_CHANGES[0])])

    assert time.monotonic() - started >= 1.0
    assert list(found) == [number(SN_CHANGES[0])]
    assert [r["status"] for r in await served(sandbox)] == [429, 200]


async def test_server_errors_raise_unavailable(base_url: str,
                                               sandbox: httpx.AsyncClient) -> None:
    connector = make_connector(base_url, max_retries=0)
    await sandbox.post("/_sandbox/faults", json={"error_rate": 1.0, "error_status": 503})

    with pytest.raises(UpstreamUnavailable) as failed:
        await connector.search_changes()
    await connector.aclose()

    assert (failed.value.code, failed.value.status) == (ErrorCode.UPSTREAM_UNAVAILABLE, 503)


async def test_a_hanging_instance_raises_a_timeout(base_url: str,
                                                   sandbox: httpx.AsyncClient) -> None:
    connector = make_connector(base_url, timeout_seconds=0.3, max_retries=0)
    await sandbox.post("/_sandbox/faults", json={"hang_seconds": 1.5})

    with pytest.raises(UpstreamTimeout) as failed:
        await connector.changes(["CHG0030001"])
    await connector.aclose()

    assert failed.value.code is ErrorCode.UPSTREAM_TIMEOUT


async def test_a_malformed_body_is_a_bad_response(snow: ServiceNowConnector,
                                                  sandbox: httpx.AsyncClient) -> None:
    await sandbox.post("/_sandbox/faults", json={"malformed": True})

    with pytest.raises(UpstreamBadResponse) as failed:
        await snow.changes(["CHG0030001"])

    assert failed.value.code is ErrorCode.UPSTREAM_BAD_RESPONSE


async def test_refused_credentials_raise_auth_failed(base_url: str) -> None:
    wrong = make_connector(base_url, auth=AuthConfig(type="basic", username=DEMO_USER,
                                                     password_env="SN_TOKEN"))

    with pytest.raises(UpstreamAuthFailed) as failed:
        await wrong.changes(["CHG0030001"])
    await wrong.aclose()

    assert (failed.value.code, failed.value.status) == (ErrorCode.UPSTREAM_AUTH_FAILED, 401)


async def test_a_bearer_token_is_accepted(base_url: str) -> None:
    connector = make_connector(base_url, auth=AuthConfig(type="bearer", token_env="SN_TOKEN"))

    found = await connector.changes(["CHG0030001"])
    await connector.aclose()

    assert list(found) == ["CHG0030001"]


async def test_it_works_under_the_demo_mount_prefix() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    outer = Starlette(routes=[Mount("/sandbox/servicenow", app=create_app(WORLD))])
    with serve_asgi(outer) as url:
        connector = make_connector(f"{url}/sandbox/servicenow", options={"page_size": 5})
        found = await connector.search_changes()
        await connector.aclose()

    assert len(found) == len(SN_CHANGES)
    assert found[0].url.startswith(f"{url}/sandbox/servicenow/nav_to.do?")


# -- incidents ---------------------------------------------------------------------------


def _world_incidents(apps: set[str], since: Any) -> dict[str, Any]:
    return {f"INC{i.seq:07d}": i for i in WORLD.incidents
            if i.itsm == "servicenow" and i.app_key in apps and i.opened >= since}


async def test_incidents_of_several_services_come_in_one_query_with_their_causing_change(
        snow: ServiceNowConnector, sandbox: httpx.AsyncClient) -> None:
    apps = [a for a in WORLD.applications
            if any(i.app_key == a.key and i.itsm == "servicenow" for i in WORLD.incidents)][:2]
    since = WORLD.now - timedelta(days=90)
    expected = _world_incidents({a.key for a in apps}, since)
    assert len(expected) > 2
    await sandbox.delete("/_sandbox/requests")

    records = await snow.incidents([a.ci_name for a in apps], since)

    assert {r.number for r in records} == set(expected)
    changes = {c.seq: c for c in SN_CHANGES}
    ci_of = {a.key: a.ci_name for a in apps}
    for record in records:
        world = expected[record.number]
        assert record.service == ci_of[world.app_key]
        assert record.opened_at == world.opened.replace(microsecond=0)
        assert record.resolved_at == (world.resolved.replace(microsecond=0)
                                      if world.resolved else None)
        cause = changes[world.caused_by] if world.caused_by else None
        assert record.caused_by == ((number(cause),) if cause else ())
    assert any(r.caused_by for r in records) and any(not r.caused_by for r in records)
    calls = [r for r in await served(sandbox) if r["path"].endswith("/incident")]
    assert len(calls) == 1


async def test_incidents_of_many_services_take_one_query_per_chunk(
        base_url: str, sandbox: httpx.AsyncClient) -> None:
    connector = make_connector(base_url, options={"chunk_size": 2})
    names = [a.ci_name for a in WORLD.applications][:5]
    await sandbox.delete("/_sandbox/requests")
    await connector.incidents(names, WORLD.now - timedelta(days=30))
    calls = [r for r in await served(sandbox) if r["path"].endswith("/incident")]
    assert len(calls) == 3
    await connector.aclose()


async def test_a_service_name_no_query_can_hold_is_named_and_the_others_still_answer(
        snow: ServiceNowConnector) -> None:
    app = next(a for a in WORLD.applications
               if any(i.app_key == a.key and i.itsm == "servicenow" for i in WORLD.incidents))
    records = await snow.incidents([app.ci_name, "Ledger^ORnumber=INC1"],
                                   WORLD.now - timedelta(days=180))
    assert records and {r.service for r in records} == {app.ci_name}
    dropped = getattr(records, "dropped", [])
    assert [e.key for e in dropped] == ["Ledger^ORnumber=INC1"]
