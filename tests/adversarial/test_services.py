"""The service layer as clients see it: environments and blackout windows written under
concurrency lose nothing and audit what they replaced, the status machine is served to
clients, and pre-execution errors are coded by what they are.

Every scenario runs over HTTP against a real hub on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from functools import partial
from typing import Any

from sqlalchemy import select

from api.db.engine import create_engine
from api.db.models import AuditEvent
from api.schema.ids import from_global_id
from tests.adversarial.conftest import Hub
from tests.adversarial.test_concurrent_writes import new_release, outcome, together
from tests.support.graphql import GraphQLClient

PARALLEL = 8

CREATE_ENVIRONMENT = """mutation($input: EnvironmentInput!) {
  createEnvironment(input: $input) { id } }"""
UPDATE_ENVIRONMENT = """mutation($id: ID!, $input: UpdateEnvironmentInput!) {
  updateEnvironment(id: $id, input: $input) { id } }"""
CREATE_BLACKOUT = """mutation($input: BlackoutWindowInput!) {
  createBlackoutWindow(input: $input) { id } }"""
UPDATE_BLACKOUT = """mutation($id: ID!, $input: UpdateBlackoutWindowInput!) {
  updateBlackoutWindow(id: $id, input: $input) { id } }"""
NODE_APPS = """query($id: ID!) { node(id: $id) {
  ... on Environment { applications { key } }
  ... on BlackoutWindow { applications { key } } } }"""
TRANSITIONS = """query($k: String!) { release(key: $k) {
  status availableTransitions { to allowed reason gated } } }"""
MOVE = """mutation($id: ID!, $to: ReleaseStatus!) { transitionRelease(id: $id, to: $to) {
  status } }"""


def application_sets(rm: GraphQLClient, count: int) -> list[list[str]]:
    keys = sorted(a["key"] for a in rm.data("{ applications { key } }")["applications"])
    return [list(c) for c in itertools.islice(itertools.combinations(keys, 2), count)]


def audit(hub: Hub, entity_type: str, global_id: str) -> list[dict[str, Any]]:
    """The entity's audit events, oldest first, as stored."""
    _, pk = from_global_id(global_id)

    async def read() -> list[dict[str, Any]]:
        engine = create_engine(hub.database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    select(AuditEvent.action, AuditEvent.before, AuditEvent.after)
                    .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == pk)
                    .order_by(AuditEvent.id))
                return [{"action": a, "before": b, "after": c} for a, b, c in rows.all()]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def assert_chain(events: list[dict[str, Any]], final: list[str], updates: int) -> None:
    """Each update's before is what the previous write left; the last after is what is stored."""
    create, *rest = events
    assert create["action"].endswith(".create")
    assert len(rest) == updates
    previous = create["after"]
    for event in rest:
        assert event["before"] == previous, "an update's before is not what the write replaced"
        previous = event["after"]
    assert sorted(previous["applications"]) == final


def race_application_sets(hub: Hub, mutation: str, global_id: str, entity_type: str) -> None:
    rm = hub.client()
    wanted = application_sets(rm, PARALLEL)
    clients = [hub.client() for _ in wanted]
    bodies = together([
        partial(client.post, mutation, {"id": global_id, "input": {"applicationKeys": apps}})
        for client, apps in zip(clients, wanted, strict=True)])
    assert all(outcome(b) == "ok" for b in bodies), bodies
    final = sorted(a["key"] for a in rm.data(NODE_APPS, {"id": global_id})["node"]
                   ["applications"])
    assert final in wanted
    assert_chain(audit(hub, entity_type, global_id), final, len(wanted))


def test_parallel_environment_updates_of_the_application_set_lose_none_and_audit_what_they_replaced(
        hub: Hub) -> None:
    rm = hub.client()
    created = rm.data(CREATE_ENVIRONMENT, {"input": {
        "name": f"env-{uuid.uuid4().hex[:8]}", "tier": "TEST"}})["createEnvironment"]
    race_application_sets(hub, UPDATE_ENVIRONMENT, created["id"], "Environment")


def test_parallel_blackout_updates_of_the_application_set_lose_none_and_audit_what_they_replaced(
        hub: Hub) -> None:
    rm = hub.client()
    created = rm.data(CREATE_BLACKOUT, {"input": {
        "name": f"freeze-{uuid.uuid4().hex[:8]}", "start": "2031-01-01T00:00:00Z",
        "end": "2031-01-02T00:00:00Z"}})["createBlackoutWindow"]
    race_application_sets(hub, UPDATE_BLACKOUT, created["id"], "BlackoutWindow")


def test_available_transitions_are_the_status_machine_with_reasons_for_refusals(
        hub: Hub) -> None:
    rm = hub.client()
    release_id, key = new_release(rm)
    rm.data(MOVE, {"id": release_id, "to": "IN_PROGRESS"})
    rm.data(MOVE, {"id": release_id, "to": "READY"})
    release = rm.data(TRANSITIONS, {"k": key})["release"]
    options = {t["to"]: t for t in release["availableTransitions"]}
    assert release["status"] == "READY"
    assert set(options) == {"PLANNED", "IN_PROGRESS", "READY", "DEPLOYING", "DEPLOYED",
                            "CANCELLED"}
    assert {to for to, t in options.items() if t["allowed"]} == {
        "IN_PROGRESS", "DEPLOYING", "CANCELLED"}
    assert all(t["reason"] is None for t in options.values() if t["allowed"])
    assert options["READY"]["reason"] == "the release is already ready"
    assert "cannot move a release from ready to deployed" in options["DEPLOYED"]["reason"]
    assert {to for to, t in options.items() if t["gated"]} == {"DEPLOYING"}
    # What the list refuses, the mutation refuses with the same words.
    refused = rm.post(MOVE, {"id": release_id, "to": "DEPLOYED"})
    assert refused["errors"][0]["message"] == options["DEPLOYED"]["reason"]


def test_a_variable_of_the_wrong_type_is_bad_user_input(hub: Hub) -> None:
    rm = hub.client()
    body = rm.post("query($f: Int) { releases(first: $f) { nodes { key } } }", {"f": "ten"})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    missing = rm.post("query($k: String!) { release(key: $k) { key } }", {})
    assert [e["extensions"]["code"] for e in missing["errors"]] == ["BAD_USER_INPUT"]


def test_a_literal_argument_of_the_wrong_type_is_bad_user_input(hub: Hub) -> None:
    rm = hub.client()
    body = rm.post('{ releases(first: "ten") { nodes { key } } }')
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
