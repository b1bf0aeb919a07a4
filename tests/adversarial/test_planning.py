"""Planning over HTTP, on SQLite and PostgreSQL: environment bookings and their decisions
(one approval wins a race), deployment plans run live and feeding the change request,
and the conflict engine in the graph.

Each test makes its own environment, release and dates, so tests sharing a hub do not
see each other's bookings.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from functools import partial
from typing import Any

from api.db.models import Role
from tests.adversarial.conftest import Hub
from tests.adversarial.test_concurrent_writes import outcome, together
from tests.support.graphql import GraphQLClient

TRIALS = 5
_years = itertools.count(2040)

CREATE_ENV = """mutation($input: EnvironmentInput!) { createEnvironment(input: $input) { id } }"""
CREATE_RELEASE = """mutation($input: CreateReleaseInput!) {
  createRelease(input: $input) { id key } }"""
REQUEST = """mutation($input: BookingRequestInput!) {
  requestBooking(input: $input) { id status requestedBy team version
    overlapping { id status } } }"""
APPROVE = """mutation($id: ID!, $override: String, $reason: String! = "") {
  approveBooking(id: $id, override: $override, reason: $reason) {
    id status decidedBy overrideReason version } }"""
REJECT = """mutation($id: ID!, $reason: String!) {
  rejectBooking(id: $id, reason: $reason) { status decisionReason } }"""
CANCEL = """mutation($id: ID!) { cancelBooking(id: $id) { status decidedBy } }"""
ENV_BOOKINGS = """query($id: ID!) { node(id: $id) { ... on Environment {
  bookings { id status } } } }"""
BOOKINGS = """query($env: ID!, $status: [BookingStatus!]) {
  bookings(environmentId: $env, status: $status) { id status team release { key } } }"""
HISTORY = """query($id: ID!) { node(id: $id) { ... on EnvironmentBooking {
  history { action at actor before after reason } } } }"""


def year() -> int:
    return next(_years)


def environment(rm: GraphQLClient, tier: str = "STAGING", apps: list[str] | None = None) -> str:
    name = f"env-{uuid.uuid4().hex[:8]}"
    env_id: str = rm.data(CREATE_ENV, {"input": {"name": name, "tier": tier,
                                                  "applicationKeys": apps or []}})[
        "createEnvironment"]["id"]
    return env_id


def release(rm: GraphQLClient, apps: list[str], start: str | None = None,
            end: str | None = None) -> tuple[str, str]:
    key = f"PLAN-{uuid.uuid4().hex[:8]}"
    created = rm.data(CREATE_RELEASE, {"input": {
        "key": key, "name": f"Planning {key}", "type": "PROJECT", "applicationKeys": apps,
        "windowStart": start, "windowEnd": end}})["createRelease"]
    return created["id"], key


def request(client: GraphQLClient, env: str, start: str, end: str, **more: Any
            ) -> dict[str, Any]:
    booking: dict[str, Any] = client.data(REQUEST, {"input": {
        "environmentId": env, "start": start, "end": end, "purpose": "Regression run",
        **({"team": "QA"} if "releaseId" not in more else {}), **more}})["requestBooking"]
    return booking


def app_key(hub: Hub) -> str:
    rows = hub.client(Role.VIEWER).data("{ applications { key } }")["applications"]
    return str(rows[0]["key"])


# --- bookings ------------------------------------------------------------------------------

def test_anyone_may_request_a_booking_and_a_release_manager_decides_it(hub: Hub) -> None:
    rm, viewer = hub.client(Role.RELEASE_MANAGER), hub.client(Role.VIEWER)
    env, y = environment(rm), year()
    asked = request(viewer, env, f"{y}-01-05T08:00:00Z", f"{y}-01-06T08:00:00Z")
    assert (asked["status"], asked["requestedBy"], asked["team"]) == (
        "REQUESTED", hub.username(Role.VIEWER), "QA")
    assert outcome(viewer.post(APPROVE, {"id": asked["id"]})) == "FORBIDDEN"
    approved = rm.data(APPROVE, {"id": asked["id"]})["approveBooking"]
    assert (approved["status"], approved["decidedBy"], approved["version"]) == (
        "APPROVED", hub.username(Role.RELEASE_MANAGER), 2)
    assert rm.data(ENV_BOOKINGS, {"id": env})["node"]["bookings"] == [
        {"id": asked["id"], "status": "APPROVED"}]
    history = rm.data(HISTORY, {"id": asked["id"]})["node"]["history"]
    assert [(e["action"], e["actor"].split(" ")[0], e["before"] and e["before"]["status"],
             e["after"]["status"]) for e in history] == [
        ("booking.approve", hub.username(Role.RELEASE_MANAGER), "REQUESTED", "APPROVED"),
        ("booking.request", hub.username(Role.VIEWER), None, "REQUESTED")]
    assert all(e["at"] for e in history)


def test_an_overlapping_booking_is_flagged_and_refused_unless_overridden_with_a_reason(
        hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    env, y = environment(rm), year()
    first = request(rm, env, f"{y}-02-01T08:00:00Z", f"{y}-02-03T08:00:00Z")
    rm.data(APPROVE, {"id": first["id"]})
    touching = request(rm, env, f"{y}-02-03T08:00:00Z", f"{y}-02-04T08:00:00Z")
    assert touching["overlapping"] == []
    second = request(rm, env, f"{y}-02-02T08:00:00Z", f"{y}-02-05T08:00:00Z")
    assert {b["id"] for b in second["overlapping"]} == {first["id"], touching["id"]}

    refused = rm.error(APPROVE, {"id": second["id"]})
    assert refused["extensions"]["code"] == "CONFLICT"
    assert refused["extensions"]["overlapping"] == [int(_pk(first["id"]))]
    assert "already booked" in refused["message"] and "QA" in refused["message"]
    assert rm.error(APPROVE, {"id": second["id"], "override": "ok"})["extensions"][
        "field"] == "override.reason"

    reason = "Both teams share the environment this week, agreed in the CAB"
    approved = rm.data(APPROVE, {"id": second["id"], "override": reason})["approveBooking"]
    assert (approved["status"], approved["overrideReason"]) == ("APPROVED", reason)
    history = rm.data(HISTORY, {"id": second["id"]})["node"]["history"]
    assert [(e["action"], e["reason"]) for e in history[:2]] == [
        ("booking.override", reason), ("booking.approve", reason)]
    # The touching booking now overlaps an approved one too.
    assert outcome(rm.post(APPROVE, {"id": touching["id"]})) == "CONFLICT"


def test_a_rejection_needs_a_reason_and_decided_bookings_cannot_be_decided_again(
        hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    env, y = environment(rm), year()
    asked = request(rm, env, f"{y}-03-01T08:00:00Z", f"{y}-03-02T08:00:00Z")
    error = rm.error(REJECT, {"id": asked["id"], "reason": "  "})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "reason"}
    rejected = rm.data(REJECT, {"id": asked["id"], "reason": "Staging is being rebuilt"})
    assert rejected["rejectBooking"] == {"status": "REJECTED",
                                         "decisionReason": "Staging is being rebuilt"}
    again = rm.error(APPROVE, {"id": asked["id"]})
    assert again["extensions"]["code"] == "BAD_USER_INPUT"
    assert "cannot approve a booking that is rejected" in again["message"]


def test_only_the_requester_or_a_release_manager_cancels_a_booking(hub: Hub) -> None:
    rm, viewer = hub.client(Role.RELEASE_MANAGER), hub.client(Role.VIEWER)
    env, y = environment(rm), year()
    mine = request(viewer, env, f"{y}-04-01T08:00:00Z", f"{y}-04-02T08:00:00Z")
    theirs = request(rm, env, f"{y}-04-03T08:00:00Z", f"{y}-04-04T08:00:00Z")
    assert outcome(viewer.post(CANCEL, {"id": theirs["id"]})) == "FORBIDDEN"
    assert viewer.data(CANCEL, {"id": mine["id"]})["cancelBooking"]["status"] == "CANCELLED"
    assert rm.data(CANCEL, {"id": theirs["id"]})["cancelBooking"]["status"] == "CANCELLED"


def test_bookings_are_listed_by_environment_status_and_release(hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    env, y = environment(rm), year()
    release_id, key = release(rm, [app_key(hub)])
    for_release = request(rm, env, f"{y}-05-01T08:00:00Z", f"{y}-05-02T08:00:00Z",
                          releaseId=release_id)
    request(rm, env, f"{y}-05-03T08:00:00Z", f"{y}-05-04T08:00:00Z")
    rm.data(APPROVE, {"id": for_release["id"]})
    approved = rm.data(BOOKINGS, {"env": env, "status": ["APPROVED"]})["bookings"]
    assert approved == [{"id": for_release["id"], "status": "APPROVED", "team": "",
                         "release": {"key": key}}]
    assert len(rm.data(BOOKINGS, {"env": env})["bookings"]) == 2
    on_release = rm.data("""query($k: String!) { release(key: $k) { bookings { id } } }""",
                         {"k": key})["release"]["bookings"]
    assert on_release == [{"id": for_release["id"]}]


def test_a_booking_needs_a_window_a_purpose_and_someone_it_is_for(hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    env = environment(rm)
    cases = [({"start": "2041-01-02T00:00:00Z", "end": "2041-01-01T00:00:00Z", "team": "QA",
               "purpose": "x"}, "end"),
             ({"start": "2041-01-01T00:00:00Z", "end": "2041-01-02T00:00:00Z", "team": "",
               "purpose": "x"}, "team"),
             ({"start": "2041-01-01T00:00:00Z", "end": "2041-01-02T00:00:00Z", "team": "QA",
               "purpose": " "}, "purpose")]
    for fields, field in cases:
        error = rm.error(REQUEST, {"input": {"environmentId": env, **fields}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, fields


def test_two_racing_approvals_of_overlapping_bookings_let_exactly_one_win(hub: Hub) -> None:
    rm, other = hub.client(Role.RELEASE_MANAGER), hub.client(Role.ADMIN)
    for _ in range(TRIALS):
        env, y = environment(rm), year()
        a = request(rm, env, f"{y}-06-01T08:00:00Z", f"{y}-06-03T08:00:00Z")
        b = request(rm, env, f"{y}-06-02T08:00:00Z", f"{y}-06-04T08:00:00Z")
        results = together([partial(rm.post, APPROVE, {"id": a["id"]}),
                            partial(other.post, APPROVE, {"id": b["id"]})])
        assert sorted(outcome(r) for r in results) == ["CONFLICT", "ok"], results
        approved = rm.data(BOOKINGS, {"env": env, "status": ["APPROVED"]})["bookings"]
        assert len(approved) == 1


def _pk(global_id: str) -> str:
    padded = global_id + "=" * (-len(global_id) % 4)
    return base64.urlsafe_b64decode(padded).decode().partition(":")[2]
