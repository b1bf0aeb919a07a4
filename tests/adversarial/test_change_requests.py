"""Change requests: exactly once under retries and concurrency, and never approved by the hub.

Every test drives a real hub (SQLite and PostgreSQL) over HTTP against the
ServiceNow and Remedy sandboxes, and checks what the ITSM itself holds
through its own API, not what the hub says it sent.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from api.db import models as m
from api.db.engine import create_engine, session_factory
from api.db.models import Role, utcnow
from api.demo import demo_connectors, demo_environ
from connectors.base import ChangeDraft, ChangeRecord, ChangeType
from connectors.registry import build_connectors, close_connectors
from tests.adversarial.conftest import Hub, Upstreams
from tests.support.graphql import GraphQLClient
from tests.support.itsm import upstream_state

RAISE = """
mutation($id: ID!, $source: String!, $key: String) {
  raiseChangeRequest(releaseId: $id, source: $source, idempotencyKey: $key,
                     acknowledgeBlackout: true) {
    created changeRequest { id number state approval correlationId } } }"""
RAISE_ADDITIONAL = """
mutation($id: ID!, $source: String!, $key: String, $additional: AdditionalChangeInput) {
  raiseChangeRequest(releaseId: $id, source: $source, idempotencyKey: $key,
                     acknowledgeBlackout: true, additional: $additional) {
    created changeRequest { id number state approval correlationId } } }"""
UPDATE = """
mutation($id: ID!, $state: ChangeState!) {
  updateChangeRequest(id: $id, input: {state: $state}) { number state approval } }"""
RELEASE = """
query($k: String!) { release(key: $k) { id
  changeRequests { number } history(first: 100) { action reason } } }"""

# Where each ITSM's create lands, to slow it down while a retry arrives.
CREATE_PATH = {"servicenow": r"/api/now/table/change_request$",
               "remedy": r"ChangeInterface_Create"}
# The query words each ITSM sees when the hub looks a correlation id up.
LOOKUP_WORDS = {"servicenow": "correlation_id", "remedy": "Vendor"}
SOURCES = ("servicenow", "remedy")
# Releases whose world changes are all finished, one per test and source.
RELEASES = {
    "same_key": {"servicenow": "PAY-2026.08", "remedy": "CHK-2026.08"},
    "retry": {"servicenow": "INV-2026.08", "remedy": "IDN-2026.08"},
    "open": {"servicenow": "NTF-2026.08", "remedy": "RPT-2026.08"},
    "different_keys": {"servicenow": "PAY-2026.09", "remedy": "CHK-2026.09"},
    "no_approval": {"servicenow": "INV-2026.09", "remedy": "IDN-2026.09"},
    "takeover": {"servicenow": "NTF-2026.09", "remedy": "RPT-2026.09"},
}


def release_id(rm: GraphQLClient, key: str) -> str:
    found: str = rm.data(RELEASE, {"k": key})["release"]["id"]
    return found


def raise_body(hub: Hub, variables: dict[str, Any]) -> dict[str, Any]:
    """One raise from its own client (its own connection), as a separate caller would."""
    client = GraphQLClient(hub.url, token=hub.tokens[Role.RELEASE_MANAGER])
    try:
        return client.post(RAISE, variables)
    finally:
        client.close()


def requests_seen(upstreams: Upstreams, kind: str) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = httpx.get(
        f"{upstreams.url}/sandbox/{kind}/_sandbox/requests").json()["requests"]
    return log


def creates_seen(upstreams: Upstreams, kind: str) -> int:
    """POSTs that reached the ITSM's create endpoint, from its own request log."""
    return sum(1 for r in requests_seen(upstreams, kind)
               if r["method"] == "POST" and CREATE_PATH[kind].rstrip("$") in r["path"])


def reset_requests(upstreams: Upstreams, kind: str) -> None:
    httpx.delete(f"{upstreams.url}/sandbox/{kind}/_sandbox/requests").raise_for_status()


def codes(bodies: list[dict[str, Any]]) -> list[str]:
    return [e["extensions"]["code"] for b in bodies for e in b.get("errors") or []]


@pytest.mark.parametrize("source", SOURCES)
def test_parallel_raises_with_one_key_create_one_change_and_answer_it_or_in_progress(
        hub: Hub, rm: GraphQLClient, upstreams: Upstreams, source: str) -> None:
    variables = {"id": release_id(rm, RELEASES["same_key"][source]), "source": source,
                 "key": f"parallel-{hub.backend}"}
    upstreams.fault(source, path=CREATE_PATH[source], method="POST", latency_ms=1500)

    with ThreadPoolExecutor(max_workers=12) as pool:
        bodies = list(pool.map(lambda _: raise_body(hub, variables), range(12)))

    assert set(codes(bodies)) <= {"CHANGE_IN_PROGRESS"}, codes(bodies)
    for body in bodies:
        for error in body.get("errors") or []:
            assert error["extensions"]["retryAfterSeconds"] >= 1
    answered = [b["data"]["raiseChangeRequest"] for b in bodies if not b.get("errors")]
    assert answered, "someone must get the change"
    assert len({a["changeRequest"]["number"] for a in answered}) == 1
    assert sum(a["created"] for a in answered) == 1
    correlation = answered[0]["changeRequest"]["correlationId"]
    assert len(upstreams.change_records(source, correlation)) == 1


@pytest.mark.parametrize("source", SOURCES)
def test_a_retry_while_the_first_create_is_in_flight_gets_that_change_or_in_progress(
        hub: Hub, rm: GraphQLClient, upstreams: Upstreams, source: str) -> None:
    variables = {"id": release_id(rm, RELEASES["retry"][source]), "source": source,
                 "key": f"retry-{hub.backend}"}
    upstreams.fault(source, path=CREATE_PATH[source], method="POST", latency_ms=2500)
    reset_requests(upstreams, source)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(raise_body, hub, variables)
        # The hub looks the correlation id up just before its create: from then on the
        # create is in flight (held by the injected latency).
        deadline = time.monotonic() + 10
        while not any(LOOKUP_WORDS[source] in r["query"]
                      for r in requests_seen(upstreams, source)):
            assert time.monotonic() < deadline, "the first raise never reached the ITSM"
            time.sleep(0.02)
        retry = raise_body(hub, variables)
        first_body = first.result(timeout=30)

    assert not first_body.get("errors"), first_body
    change = first_body["data"]["raiseChangeRequest"]["changeRequest"]
    if retry.get("errors"):
        assert codes([retry]) == ["CHANGE_IN_PROGRESS"]
        assert retry["errors"][0]["extensions"]["retryAfterSeconds"] >= 1
    else:
        again = retry["data"]["raiseChangeRequest"]
        assert (again["created"], again["changeRequest"]["number"]) == (False, change["number"])
    assert len(upstreams.change_records(source, change["correlationId"])) == 1
    assert creates_seen(upstreams, source) == 1


@pytest.mark.parametrize("source", SOURCES)
def test_a_second_change_beside_an_open_one_is_refused_unless_asked_for_with_a_reason(
        hub: Hub, rm: GraphQLClient, upstreams: Upstreams, source: str) -> None:
    key = RELEASES["open"][source]
    variables = {"id": release_id(rm, key), "source": source}
    first = rm.data(RAISE, {**variables, "key": f"first-{hub.backend}"})[
        "raiseChangeRequest"]["changeRequest"]

    refused = rm.error(RAISE, {**variables, "key": f"second-{hub.backend}"})
    short = rm.error(RAISE_ADDITIONAL, {**variables, "key": f"third-{hub.backend}",
                             "additional": {"reason": "hotfix"}})
    reason = "Hotfix for the card scheme outage, separate CAB slot"
    extra = rm.data(RAISE_ADDITIONAL, {**variables, "key": f"fourth-{hub.backend}",
                            "additional": {"reason": reason}})["raiseChangeRequest"]

    assert refused["extensions"]["code"] == "CONFLICT"
    assert refused["extensions"]["number"] == first["number"]
    assert first["number"] in refused["message"]
    assert short["extensions"]["code"] == "BAD_USER_INPUT"
    assert short["extensions"]["field"] == "additional.reason"
    assert extra["created"] is True
    assert extra["changeRequest"]["number"] != first["number"]
    after = rm.data(RELEASE, {"k": key})["release"]
    numbers = [c["number"] for c in after["changeRequests"]]
    assert first["number"] in numbers and extra["changeRequest"]["number"] in numbers
    assert {"action": "change.raise", "reason": reason} in after["history"]
    assert len(upstreams.change_records(source, extra["changeRequest"]["correlationId"])) == 1


@pytest.mark.parametrize("source", SOURCES)
def test_parallel_raises_with_different_keys_end_with_one_change(
        hub: Hub, rm: GraphQLClient, upstreams: Upstreams, source: str) -> None:
    key = RELEASES["different_keys"][source]
    rid = release_id(rm, key)
    before = len(rm.data(RELEASE, {"k": key})["release"]["changeRequests"])
    upstreams.fault(source, path=CREATE_PATH[source], method="POST", latency_ms=1000)
    reset_requests(upstreams, source)

    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(pool.map(
            lambda i: raise_body(hub, {"id": rid, "source": source,
                                       "key": f"click-{hub.backend}-{i}"}), range(8)))

    assert set(codes(bodies)) <= {"CONFLICT", "CHANGE_IN_PROGRESS"}, codes(bodies)
    created = [b["data"]["raiseChangeRequest"] for b in bodies if not b.get("errors")]
    assert len(created) == 1
    assert creates_seen(upstreams, source) == 1
    linked = rm.data(RELEASE, {"k": key})["release"]["changeRequests"]
    assert len(linked) == before + 1


@pytest.mark.parametrize("source", SOURCES)
def test_the_hub_never_moves_an_unapproved_change_to_where_approval_takes_it(
        hub: Hub, rm: GraphQLClient, upstreams: Upstreams, source: str) -> None:
    variables = {"id": release_id(rm, RELEASES["no_approval"][source]), "source": source,
                 "key": f"approval-{hub.backend}"}
    change = rm.data(RAISE, variables)["raiseChangeRequest"]["changeRequest"]
    # Asking for assessment grants nothing: allowed. It asks Remedy's business approvers.
    assessed = rm.data(UPDATE, {"id": change["id"], "state": "ASSESS"})["updateChangeRequest"]
    assert assessed["state"] == "ASSESS"
    if source == "servicenow":  # requesting approval is allowed too
        asked = rm.data(UPDATE, {"id": change["id"], "state": "AUTHORIZE"})[
            "updateChangeRequest"]
        assert (asked["state"], asked["approval"]) == ("AUTHORIZE", "REQUESTED")
    upstream_before = upstream_state(upstreams.url, source, change["number"])
    reset_requests(upstreams, source)

    refusals = [rm.error(UPDATE, {"id": change["id"], "state": target})
                for target in ("SCHEDULED", "IMPLEMENT", "CLOSED")]
    if source == "remedy":  # leaving the business review is the approvers' move
        refusals.append(rm.error(UPDATE, {"id": change["id"], "state": "AUTHORIZE"}))

    for refused in refusals:
        assert refused["extensions"]["code"] == "TRANSITION_REFUSED", refused
        assert "CANCELED" in refused["extensions"]["allowed"]
        assert not {"SCHEDULED", "IMPLEMENT"} & set(refused["extensions"]["allowed"])
    assert [r["method"] for r in requests_seen(upstreams, source)
            if r["method"] not in ("GET", "POST")] == []  # nothing was written upstream
    assert upstream_state(upstreams.url, source, change["number"]) == upstream_before
    canceled = rm.data(UPDATE, {"id": change["id"], "state": "CANCELED"})["updateChangeRequest"]
    assert canceled["state"] == "CANCELED"


async def _claimed_intent(database_url: str, release_key: str, source: str, key: str,
                          correlation_id: str) -> None:
    """An intent another hub process claimed (live lease) and has not finished yet."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            release = await session.scalar(select(m.Release.id).where(
                m.Release.key == release_key))
            assert release is not None
            session.add(m.ChangeIntent(
                release_id=release, source=source, correlation_id=correlation_id,
                idempotency_key=key, draft={}, actor="release_manager-user",
                lease_owner="another-process", lease_until=utcnow() + timedelta(hours=1)))
    finally:
        await engine.dispose()


async def _holder_dies_after_its_create(database_url: str, upstreams_url: str, source: str,
                                        correlation_id: str) -> ChangeRecord:
    """The holder's create reaches the ITSM, then it dies: its lease simply runs out."""
    configs = [c for c in demo_connectors(upstreams_url) if c.name == source]
    connectors = build_connectors(configs, environ=demo_environ())
    try:
        created = await connectors[source].create_change(ChangeDraft(
            title="Raised by a hub that died", description="", type=ChangeType.NORMAL,
            correlation_id=correlation_id))
    finally:
        await close_connectors(connectors)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(update(m.ChangeIntent).where(
                m.ChangeIntent.correlation_id == correlation_id).values(
                lease_until=utcnow() - timedelta(seconds=1)))
    finally:
        await engine.dispose()
    return created


@pytest.mark.parametrize("source", SOURCES)
def test_a_live_claim_is_left_alone_and_one_whose_holder_died_is_taken_over_without_a_duplicate(
        hub: Hub, rm: GraphQLClient, upstreams: Upstreams, source: str) -> None:
    release_key = RELEASES["takeover"][source]
    key = f"takeover-{hub.backend}"
    correlation = f"heatshield-takeover-{hub.backend}-{source}"
    variables = {"id": release_id(rm, release_key), "source": source, "key": key}
    asyncio.run(_claimed_intent(hub.database_url, release_key, source, key, correlation))
    reset_requests(upstreams, source)

    waiting = rm.error(RAISE, variables)

    assert waiting["extensions"]["code"] == "CHANGE_IN_PROGRESS"
    assert waiting["extensions"]["correlationId"] == correlation
    assert creates_seen(upstreams, source) == 0  # only the holder may call the ITSM

    made = asyncio.run(_holder_dies_after_its_create(hub.database_url, upstreams.url, source,
                                                     correlation))
    reset_requests(upstreams, source)
    taken = rm.data(RAISE, variables)["raiseChangeRequest"]

    assert (taken["created"], taken["changeRequest"]["number"]) == (False, made.number)
    assert creates_seen(upstreams, source) == 0  # looked up, found, not created again
    assert len(upstreams.change_records(source, correlation)) == 1
    numbers = [c["number"] for c in rm.data(RELEASE, {"k": release_key})["release"][
        "changeRequests"]]
    assert numbers.count(made.number) == 1
