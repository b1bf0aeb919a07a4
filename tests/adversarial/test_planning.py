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
    calendar = rm.data("""query($from: DateTime!, $to: DateTime!) {
        calendar(from: $from, to: $to) { __typename ... on EnvironmentBooking { id } } }""",
                       {"from": f"{y}-05-01T00:00:00Z", "to": f"{y}-05-05T00:00:00Z"})
    assert for_release["id"] in [e.get("id") for e in calendar["calendar"]]


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


# --- deployment plans ----------------------------------------------------------------------

PLAN_FIELDS = """id version origin activities { id title status plannedStart plannedEnd
  durationMinutes dependsOn environment { name } startedBy finishedBy outcomeNote }"""
CREATE_PLAN = f"""mutation($id: ID!, $template: String, $copy: Boolean! = false) {{
  createDeploymentPlan(releaseId: $id, template: $template, copyPrevious: $copy) {{
    {PLAN_FIELDS} }} }}"""
PLAN = f"""query($k: String!) {{ release(key: $k) {{ plan {{ {PLAN_FIELDS}
  progress {{ status count }} }} }} }}"""
MOVE = """mutation($id: ID!, $note: String!) {{ {name}(id: $id, note: $note) {{ status }} }}"""
ADD = """mutation($id: ID!, $input: PlanActivityInput!) {
  addPlanActivity(releaseId: $id, input: $input) { activities { id title } } }"""
UPDATE = """mutation($id: ID!, $input: UpdatePlanActivityInput!) {
  updatePlanActivity(id: $id, input: $input) { id dependsOn } }"""
REMOVE = """mutation($id: ID!) { removePlanActivity(id: $id) }"""
REORDER = """mutation($id: ID!, $ids: [ID!]!) {
  reorderPlanActivities(releaseId: $id, activityIds: $ids) { activities { title } } }"""
HISTORY_OF_RELEASE = """query($k: String!) { release(key: $k) {
  history(first: 100) { action actor before after reason } } }"""
PREVIEW = """query($k: String!) { release(key: $k) {
  changePreview { description backoutPlan } } }"""
TEMPLATE = "Standard production release"


def move(rm: GraphQLClient, name: str, activity: str, note: str = "") -> dict[str, Any]:
    return rm.post(MOVE.format(name=name), {"id": activity, "note": note})


def test_a_plan_from_a_template_is_scheduled_from_the_window_in_the_release_environments(
        hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    y = year()
    release_id, _ = release(rm, [app_key(hub)], f"{y}-03-10T20:00:00Z",
                            f"{y}-03-10T23:00:00Z")
    templates = rm.data("{ planTemplates { name activityTitles } }")["planTemplates"]
    assert TEMPLATE in [t["name"] for t in templates]
    plan = rm.data(CREATE_PLAN, {"id": release_id, "template": TEMPLATE})[
        "createDeploymentPlan"]
    steps = plan["activities"]
    assert plan["origin"] == f"template: {TEMPLATE}"
    assert [s["title"] for s in steps][:2] == ["Announce the maintenance window",
                                               "Back up the database"]
    assert steps[0]["plannedStart"] == f"{y}-03-10T20:00:00+00:00"
    assert steps[1]["plannedStart"] == steps[0]["plannedEnd"]  # after what it depends on
    assert steps[1]["dependsOn"] == [steps[0]["id"]]
    assert {s["environment"]["name"] for s in steps} == {"Production"}
    assert all(s["status"] == "NOT_STARTED" for s in steps)
    again = rm.error(CREATE_PLAN, {"id": release_id, "template": TEMPLATE})
    assert again["extensions"]["code"] == "CONFLICT"
    unknown = rm.error(CREATE_PLAN, {"id": release(rm, [])[0], "template": "Nope"})
    assert unknown["extensions"]["field"] == "template" and TEMPLATE in unknown["message"]


def test_a_plan_runs_live_in_dependency_order_and_every_move_is_audited(hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    release_id, key = release(rm, [app_key(hub)])
    steps = rm.data(CREATE_PLAN, {"id": release_id, "template": TEMPLATE})[
        "createDeploymentPlan"]["activities"]
    first, second, third = (s["id"] for s in steps[:3])

    early = move(rm, "startActivity", second)
    assert outcome(early) == "BAD_USER_INPUT"
    assert "before \"Announce the maintenance window\" (not started) is done" in early[
        "errors"][0]["message"]
    assert outcome(move(rm, "completeActivity", first)) == "BAD_USER_INPUT"
    assert outcome(move(rm, "startActivity", first)) == "ok"
    assert outcome(move(rm, "completeActivity", first)) == "ok"
    assert outcome(move(rm, "startActivity", second)) == "ok"
    assert outcome(move(rm, "failActivity", second, " ")) == "BAD_USER_INPUT"
    assert outcome(move(rm, "failActivity", second, "Backup volume full")) == "ok"
    assert outcome(move(rm, "startActivity", second)) == "ok"  # a retry
    assert outcome(move(rm, "completeActivity", second)) == "ok"
    assert outcome(move(rm, "skipActivity", third, "Deployed by the vendor")) == "ok"

    plan = rm.data(PLAN, {"k": key})["release"]["plan"]
    assert [a["status"] for a in plan["activities"][:3]] == ["DONE", "DONE", "SKIPPED"]
    assert plan["activities"][2]["outcomeNote"] == "Deployed by the vendor"
    assert plan["activities"][0]["finishedBy"].startswith(hub.username(Role.RELEASE_MANAGER))
    assert {"status": "DONE", "count": 2} in plan["progress"]
    moves = [(e["action"], e["before"]["status"], e["after"]["status"])
             for e in reversed(rm.data(HISTORY_OF_RELEASE, {"k": key})["release"]["history"])
             if e["action"].startswith("activity.")]
    assert moves == [("activity.start", "NOT_STARTED", "IN_PROGRESS"),
                     ("activity.complete", "IN_PROGRESS", "DONE"),
                     ("activity.start", "NOT_STARTED", "IN_PROGRESS"),
                     ("activity.fail", "IN_PROGRESS", "FAILED"),
                     ("activity.start", "FAILED", "IN_PROGRESS"),
                     ("activity.complete", "IN_PROGRESS", "DONE"),
                     ("activity.skip", "NOT_STARTED", "SKIPPED")]
    assert outcome(hub.client(Role.VIEWER).post(MOVE.format(name="startActivity"),
                                                {"id": steps[3]["id"], "note": ""})) \
        == "FORBIDDEN"


def test_activities_are_added_edited_reordered_and_removed_without_loops(hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    release_id, key = release(rm, [])
    rm.data(CREATE_PLAN, {"id": release_id})
    for title in ("Drain traffic", "Swap the pods", "Restore traffic"):
        added = rm.data(ADD, {"id": release_id, "input": {
            "title": title, "durationMinutes": 10, "backoutSteps": f"Undo: {title}"}})
    a, b, c = (s["id"] for s in added["addPlanActivity"]["activities"])
    assert rm.data(UPDATE, {"id": b, "input": {"dependsOn": [a]}})["updatePlanActivity"][
        "dependsOn"] == [a]
    rm.data(UPDATE, {"id": c, "input": {"dependsOn": [b]}})
    loop = rm.error(UPDATE, {"id": a, "input": {"dependsOn": [c]}})
    assert loop["extensions"] == {"code": "BAD_USER_INPUT", "field": "dependsOn"}
    assert "would loop" in loop["message"]
    needed = rm.error(REMOVE, {"id": b})
    assert needed["extensions"]["code"] == "CONFLICT" and "Restore traffic" in needed["message"]
    assert rm.error(REORDER, {"id": release_id, "ids": [a, b]})["extensions"]["field"] == \
        "activityIds"
    order = rm.data(REORDER, {"id": release_id, "ids": [c, a, b]})["reorderPlanActivities"]
    assert [s["title"] for s in order["activities"]] == ["Restore traffic", "Drain traffic",
                                                         "Swap the pods"]
    rm.data(UPDATE, {"id": c, "input": {"dependsOn": []}})
    assert rm.data(REMOVE, {"id": c})["removePlanActivity"] == c
    titles = [s["title"] for s in rm.data(PLAN, {"k": key})["release"]["plan"]["activities"]]
    assert titles == ["Drain traffic", "Swap the pods"]


def test_the_plan_feeds_the_change_request_and_the_next_release_can_copy_it(hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    app, y = app_key(hub), year()
    release_id, key = release(rm, [app], f"{y}-07-01T20:00:00Z", f"{y}-07-01T23:00:00Z")
    rm.data(CREATE_PLAN, {"id": release_id, "template": "Database schema change"})
    preview = rm.data(PREVIEW, {"k": key})["release"]["changePreview"]
    assert "Implementation plan\n1. Rehearse the migration in staging" in preview["description"]
    assert preview["backoutPlan"].splitlines()[0].startswith("1. Verify the data")

    next_id, _ = release(rm, [app], f"{y}-08-01T20:00:00Z", f"{y}-08-01T23:00:00Z")
    copied = rm.data(CREATE_PLAN, {"id": next_id, "copy": True})["createDeploymentPlan"]
    assert copied["origin"] == f"copied from {key}"
    assert copied["activities"][0]["plannedStart"].startswith(f"{y}-08-01T20:00")
    assert copied["activities"][1]["dependsOn"] == [copied["activities"][0]["id"]]
    both = rm.error(CREATE_PLAN, {"id": release(rm, [app])[0], "template": TEMPLATE,
                                  "copy": True})
    assert both["extensions"]["field"] == "copyPrevious"


# --- conflicts -----------------------------------------------------------------------------

CONFLICTS = """query($from: DateTime!, $to: DateTime!, $filter: ConflictFilter) {
  conflicts(from: $from, to: $to, filter: $filter) {
    kind severity start end reason records { type id label } } }"""


def test_the_conflict_engine_answers_in_the_graph_with_the_records_involved(hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    y = year()
    app = rm.data("""mutation($i: ApplicationInput!) { createApplication(input: $i) { key } }""",
                  {"i": {"key": f"C{uuid.uuid4().hex[:6].upper()}", "name": "Conflicts"}})[
        "createApplication"]["key"]
    prod = environment(rm, "PRODUCTION", [app])
    first_id, first = release(rm, [app], f"{y}-09-01T20:00:00Z", f"{y}-09-01T23:00:00Z")
    _, second = release(rm, [app], f"{y}-09-01T22:00:00Z", f"{y}-09-02T01:00:00Z")
    booked = request(rm, prod, f"{y}-09-01T19:00:00Z", f"{y}-09-02T00:00:00Z",
                     releaseId=first_id)
    rm.data(APPROVE, {"id": booked["id"]})
    period = {"from": f"{y}-08-25T00:00:00Z", "to": f"{y}-09-10T00:00:00Z",
              "filter": {"application": app}}
    found = rm.data(CONFLICTS, period)["conflicts"]
    summary = sorted((c["kind"], tuple(r["label"] for r in c["records"])) for c in found)
    assert summary == [("NO_PRODUCTION_BOOKING", (second, _env_name(rm, prod))),
                       ("RELEASE_OVERLAP", (first, second))]
    overlap = next(c for c in found if c["kind"] == "RELEASE_OVERLAP")
    assert (overlap["start"], overlap["end"]) == (f"{y}-09-01T22:00:00+00:00",
                                                  f"{y}-09-01T23:00:00+00:00")
    assert f"both change {app}" in overlap["reason"]
    node = rm.data("""query($id: ID!) { node(id: $id) { ... on Release { key } } }""",
                   {"id": overlap["records"][0]["id"]})["node"]
    assert node == {"key": first}
    only = rm.data(CONFLICTS, {**period, "filter": {"application": app,
                                                    "kinds": ["RELEASE_OVERLAP"]}})
    assert [c["kind"] for c in only["conflicts"]] == ["RELEASE_OVERLAP"]
    backwards = rm.error(CONFLICTS, {"from": period["to"], "to": period["from"]})
    assert backwards["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}


def test_the_conflict_engine_sees_the_change_requests_of_every_itsm(hub: Hub) -> None:
    viewer = hub.client(Role.VIEWER)
    found = viewer.data(CONFLICTS, {"from": "2026-10-01T00:00:00Z",
                                    "to": "2027-01-31T00:00:00Z",
                                    "filter": {"kinds": ["CHANGE_NOT_APPROVED",
                                                         "CHANGE_IN_BLACKOUT"]}})["conflicts"]
    changes = {r["label"] for c in found for r in c["records"] if r["type"] == "ChangeRequest"}
    assert any(label.startswith("CHG") for label in changes)
    assert any(label.startswith("CRQ") for label in changes)


def _env_name(rm: GraphQLClient, env: str) -> str:
    name: str = rm.data("""query($id: ID!) { node(id: $id) { ... on Environment { name } } }""",
                        {"id": env})["node"]["name"]
    return name
