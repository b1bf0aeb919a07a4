"""The change bridge end to end: Heatshield over real sockets, ServiceNow and Remedy sandboxes.

Upstream records are read straight from the sandboxes' own APIs, so each test
checks what the ITSM really holds, not what Heatshield says it sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.db.models import Role
from api.demo import CREDENTIALS, build_sandboxes, demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.sandbox.world import World, build_world
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.hub_process import free_port, hub_process
from tests.support.itsm import cab_approves
from tests.support.server import serve_asgi
from tests.support.upstreams import Upstreams

RM_TOKEN = new_secret()
VIEWER_TOKEN = new_secret()

RAISE = """
mutation($id: ID!, $source: String!, $key: String, $ack: Boolean! = false,
         $input: ChangeRequestInput) {
  raiseChangeRequest(releaseId: $id, source: $source, idempotencyKey: $key,
                     acknowledgeBlackout: $ack, input: $input) {
    created warnings
    changeRequest { id number title state stateLabel approval type risk correlationId
                    plannedStart plannedEnd } } }"""
UPDATE = """
mutation($id: ID!, $input: ChangeUpdateInput!, $reason: String! = "") {
  updateChangeRequest(id: $id, input: $input, reason: $reason) {
    number state stateLabel approval risk plannedStart plannedEnd } }"""
RELEASE = """
query($k: String!) { release(key: $k) { id key status windowStart windowEnd
  changeRequests { number state approval } links { kind externalKey }
  gates { name passed reason } history { action reason actor } } }"""
SYNC = "mutation($id: ID!) { syncChangeRequest(id: $id) { state approval } }"
TRANSITION = """
mutation($id: ID!, $to: ReleaseStatus!, $override: GateOverrideInput) {
  transitionRelease(id: $id, to: $to, override: $override) { status } }"""


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world()
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield Upstreams(url, world)


@pytest.fixture(autouse=True)
def no_faults(upstreams: Upstreams) -> Iterator[None]:
    upstreams.clear_faults()
    yield
    upstreams.clear_faults()


@pytest.fixture(scope="module")
def hub(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("bridge")
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
        connectors=[c.model_dump() | {"timeout_seconds": 3, "max_retries": 1}
                    for c in demo_connectors(upstreams.url)],
        federation={"cache_ttl_seconds": 0})

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, upstreams.world)

    app = create_app(settings, environ=demo_environ(), startup=[
        seed_step, principal_step(RM_TOKEN),
        principal_step(VIEWER_TOKEN, Role.VIEWER, username="test-viewer")])
    with serve_asgi(app) as url:
        yield url


@pytest.fixture(scope="module")
def gql(hub: str) -> Iterator[GraphQLClient]:
    client = GraphQLClient(hub, token=RM_TOKEN)
    yield client
    client.close()


def release(gql: GraphQLClient, key: str) -> dict[str, Any]:
    found: dict[str, Any] = gql.data(RELEASE, {"k": key})["release"]
    return found


def planned(world: World, app_index: int) -> str:
    """The last planned release of an application: no change request yet."""
    app = world.applications[app_index]
    return [r.key for r in world.releases if r.app_key == app.key][-1]


def raise_change(gql: GraphQLClient, release_key: str, source: str, **extra: Any
                 ) -> dict[str, Any]:
    payload: dict[str, Any] = gql.data(RAISE, {"id": release(gql, release_key)["id"],
                                               "source": source, **extra})["raiseChangeRequest"]
    return payload


@pytest.mark.parametrize(("source", "app_index"), [("servicenow", 0), ("remedy", 1)])
def test_raising_composes_the_change_upstream_and_links_it_to_the_release(
        gql: GraphQLClient, upstreams: Upstreams, source: str, app_index: int) -> None:
    key = planned(upstreams.world, app_index)
    payload = raise_change(gql, key, source)
    change = payload["changeRequest"]
    assert payload["created"] is True
    assert change["state"] == "NEW"
    after = release(gql, key)
    assert change["number"] in [c["number"] for c in after["changeRequests"]]
    assert ["CHANGE_REQUEST", change["number"]] in [[link["kind"], link["externalKey"]]
                                                   for link in after["links"]]
    assert change["plannedStart"] == after["windowStart"]
    [upstream] = upstreams.change_records(source, change["correlationId"])
    text = str(upstream)
    world_release = upstreams.world.release(key)
    items = [w.key for w in upstreams.world.work_items if w.release_key == key]
    assert items and all(item in text for item in items), "the scope lists the JIRA issues"
    assert world_release.version_name in text
    assert "Backout" in text or "backout" in text
    actions = [e["action"] for e in after["history"]]
    assert "change.raise" in actions and "change.intent" in actions


@pytest.mark.parametrize(("source", "app_index"), [("servicenow", 2), ("remedy", 3)])
def test_a_change_follows_approval_to_closure_and_takes_updates(
        gql: GraphQLClient, upstreams: Upstreams, source: str, app_index: int) -> None:
    """The hub asks for approval and implements; the approvals come from the ITSM."""
    key = planned(upstreams.world, app_index)
    change = raise_change(gql, key, source)["changeRequest"]
    states = []
    for target in ("ASSESS", "AUTHORIZE", "IMPLEMENT", "REVIEW", "CLOSED"):
        moved = gql.data(UPDATE, {"id": change["id"], "input": {"state": target}})[
            "updateChangeRequest"]
        states.append((moved["state"], moved["approval"]))
        if moved["approval"] == "REQUESTED":  # the change board decides, in the ITSM
            cab_approves(upstreams.url, source, change["number"])
            synced = gql.data(SYNC, {"id": change["id"]})["syncChangeRequest"]
            states.append((synced["state"], synced["approval"]))
    if source == "servicenow":  # Assess asks nobody; Authorize asks the CAB
        assert [s for s, _ in states] == ["ASSESS", "AUTHORIZE", "SCHEDULED", "IMPLEMENT",
                                          "REVIEW", "CLOSED"]
    else:  # the business review (Request For Authorization) is an approval too
        assert [s for s, _ in states] == ["ASSESS", "ASSESS", "AUTHORIZE", "SCHEDULED",
                                          "IMPLEMENT", "REVIEW", "CLOSED"]
    assert dict(states)["AUTHORIZE"] == "REQUESTED"
    assert dict(states)["SCHEDULED"] == "APPROVED"
    assert [c["state"] for c in release(gql, key)["changeRequests"]] == ["CLOSED"]


@pytest.mark.parametrize(("source", "app_index"), [("servicenow", 4), ("remedy", 5)])
def test_window_and_risk_updates_reach_the_itsm_and_sync_reads_them_back(
        gql: GraphQLClient, upstreams: Upstreams, source: str, app_index: int) -> None:
    key = planned(upstreams.world, app_index)
    change = raise_change(gql, key, source, key="window-update")["changeRequest"]
    start = upstreams.world.release(key).window_start + timedelta(days=1)
    end = start + timedelta(hours=3)
    updated = gql.data(UPDATE, {"id": change["id"], "reason": "Vendor asked for a day later",
                                "input": {"plannedStart": start.isoformat(),
                                          "plannedEnd": end.isoformat(), "risk": "HIGH"}})[
        "updateChangeRequest"]
    assert updated["risk"] == "HIGH"
    synced = gql.data("mutation($id: ID!) { syncChangeRequest(id: $id) { plannedStart risk } }",
                      {"id": change["id"]})["syncChangeRequest"]
    assert synced["plannedStart"].startswith(start.strftime("%Y-%m-%dT%H:%M"))
    [upstream] = upstreams.change_records(source, change["correlationId"])
    assert start.strftime("%Y-%m-%d") in str(upstream)
    history = release(gql, key)["history"]
    assert {"action": "change.update", "reason": "Vendor asked for a day later",
            "actor": history[0]["actor"]} in history
    assert "change.sync" in [e["action"] for e in history]


def without_open_change(world: World, app_index: int) -> str:
    """An application's release whose world changes are all finished (one may be raised)."""
    app = world.applications[app_index]
    open_ones = {c.release_key for c in world.change_requests
                 if c.stage not in ("closed", "canceled", "rejected")}
    return [r.key for r in world.releases
            if r.app_key == app.key and r.key not in open_ones][-2]


def test_a_transition_the_itsm_does_not_allow_is_upstream_refused(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    key = without_open_change(upstreams.world, 0)
    change = raise_change(gql, key, "servicenow")["changeRequest"]
    gql.data(UPDATE, {"id": change["id"], "input": {"state": "CANCELED"}})
    # Reopening grants no approval, so the hub passes it on; the ITSM's model says no.
    error = gql.error(UPDATE, {"id": change["id"], "input": {"state": "ASSESS"}})
    assert error["extensions"]["code"] == "UPSTREAM_REFUSED"
    assert error["extensions"]["source"] == "servicenow"


@pytest.mark.parametrize(("source", "app_index"), [("servicenow", 0), ("remedy", 1)])
def test_an_idempotency_key_returns_the_same_change_and_creates_one_record(
        gql: GraphQLClient, upstreams: Upstreams, source: str, app_index: int) -> None:
    key = without_open_change(upstreams.world, app_index + 2)
    first = raise_change(gql, key, source, key="cab-2026-12", ack=True)
    again = raise_change(gql, key, source, key="cab-2026-12", ack=True)
    assert first["created"] is True and again["created"] is False
    assert again["changeRequest"]["number"] == first["changeRequest"]["number"]
    assert len(upstreams.change_records(source, first["changeRequest"]["correlationId"])) == 1


@pytest.mark.parametrize(("source", "path", "app_index"), [
    ("servicenow", "/api/now/table/change_request$", 2),
    ("remedy", "ChangeInterface_Create", 3)])
def test_a_dropped_response_is_retried_without_a_duplicate(
        gql: GraphQLClient, upstreams: Upstreams, source: str, path: str,
        app_index: int) -> None:
    key = without_open_change(upstreams.world, app_index + 2)
    # The ITSM commits the record, then the answer is lost, on every try.
    upstreams.fault(source, path=path, method="POST", drop_response=True)
    body = gql.post(RAISE, {"id": release(gql, key)["id"], "source": source, "key": "lost"})
    upstreams.clear_faults()
    if body.get("errors"):  # the connector may have found it by correlation id already
        assert body["errors"][0]["extensions"]["code"].startswith("UPSTREAM_")
    retried = raise_change(gql, key, source, key="lost")
    correlation = retried["changeRequest"]["correlationId"]
    assert len(upstreams.change_records(source, correlation)) == 1
    assert [c["number"] for c in release(gql, key)["changeRequests"]].count(
        retried["changeRequest"]["number"]) == 1


def test_a_crash_between_the_upstream_write_and_the_local_commit_is_healed_on_restart(
        upstreams: Upstreams, tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    port = free_port()
    key = without_open_change(upstreams.world, 4)
    options = {"database": database, "sandboxes": upstreams.url, "port": port,
               "token": RM_TOKEN}
    import os

    crashing = dict(os.environ, HEATSHIELD_TEST_CRASH_AFTER_UPSTREAM_CREATE="1")
    with hub_process(env=crashing, **options) as process:
        client = GraphQLClient(f"http://127.0.0.1:{port}", token=RM_TOKEN)
        release_id = release(client, key)["id"]
        with pytest.raises(httpx.TransportError):
            client.post(RAISE, {"id": release_id, "source": "servicenow", "key": "crash"})
        assert process.wait(timeout=20) == 70
        client.close()
    with hub_process(**options):
        client = GraphQLClient(f"http://127.0.0.1:{port}", token=RM_TOKEN)
        linked = release(client, key)["changeRequests"]
        assert len(linked) >= 1
        again = raise_change(client, key, "servicenow", key="crash")
        assert again["created"] is False
        correlation = again["changeRequest"]["correlationId"]
        assert len(upstreams.change_records("servicenow", correlation)) == 1
        assert again["changeRequest"]["number"] in [c["number"] for c in
                                                    release(client, key)["changeRequests"]]
        client.close()


def make_release(gql: GraphQLClient, key: str, app: str, version_id: int, start: str,
                 end: str) -> str:
    created: str = gql.data("""mutation($i: CreateReleaseInput!) { createRelease(input: $i)
        { id } }""", {"i": {"key": key, "name": key, "type": "PROJECT", "applicationKeys": [app],
                            "windowStart": start, "windowEnd": end}})["createRelease"]["id"]
    gql.data("""mutation($id: ID!, $l: SourceLinkInput!) { linkSource(releaseId: $id, link: $l)
        { id } }""", {"id": created, "l": {"source": "jira", "kind": "PLANNED_VERSION",
                                           "externalKey": str(version_id)}})
    for status in ("IN_PROGRESS", "READY"):
        gql.data(TRANSITION, {"id": created, "to": status})
    return created


def gates_of(gql: GraphQLClient, key: str) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for g in release(gql, key)["gates"]}


def test_each_gate_refuses_with_its_reason_and_passes_when_satisfied(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    world = upstreams.world
    shipped = next(r for r in world.releases if r.status == "DEPLOYED" and r.app_key == "PAY")
    release_id = make_release(gql, "GATES-1", "PAY", shipped.jira_version_id,
                              "2027-03-10T20:00:00Z", "2027-03-10T23:00:00Z")
    gates = gates_of(gql, "GATES-1")
    assert not gates["change_approved"]["passed"]
    assert "no change request" in gates["change_approved"]["reason"]
    assert gates["blackout"]["passed"] and gates["blockers"]["passed"]
    error = gql.error(TRANSITION, {"id": release_id, "to": "DEPLOYING"})
    assert error["extensions"]["code"] == "GATE_FAILED"
    assert [g["name"] for g in error["extensions"]["gates"]] == ["change_approved"]

    change = raise_change(gql, "GATES-1", "servicenow")["changeRequest"]
    for target in ("ASSESS", "AUTHORIZE"):
        gql.data(UPDATE, {"id": change["id"], "input": {"state": target}})
    assert not gates_of(gql, "GATES-1")["change_approved"]["passed"]  # asked, not approved
    cab_approves(upstreams.url, "servicenow", change["number"])
    assert gates_of(gql, "GATES-1")["change_approved"]["passed"]

    freeze = gql.data("""mutation { createBlackoutWindow(input: {name: "Payments freeze",
        start: "2027-03-10T00:00:00Z", end: "2027-03-11T00:00:00Z", applicationKeys: ["PAY"],
        reason: "Card scheme migration"}) { id } }""")["createBlackoutWindow"]["id"]
    blackout = gates_of(gql, "GATES-1")["blackout"]
    assert not blackout["passed"] and "Payments freeze" in blackout["reason"]
    gql.data("mutation($id: ID!) { deleteBlackoutWindow(id: $id) { id } }", {"id": freeze})
    assert gates_of(gql, "GATES-1")["blackout"]["passed"]
    assert gql.data(TRANSITION, {"id": release_id, "to": "DEPLOYING"})[
        "transitionRelease"]["status"] == "DEPLOYING"


CONFLICTS = """query($f: DateTime!, $t: DateTime!) { conflicts(from: $f, to: $t) {
  kind severity records { label } } }"""
MOVE = """mutation($id: ID!, $s: DateTime!, $e: DateTime!) {
  updateRelease(id: $id, input: {windowStart: $s, windowEnd: $e}) { id } }"""


def test_a_release_moved_out_of_its_approved_changes_window_fails_the_change_gate(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    shipped = next(r for r in upstreams.world.releases if r.status == "DEPLOYED"
                   and r.app_key == "CHK")
    release_id = make_release(gql, "MOVED-1", "CHK", shipped.jira_version_id,
                              "2027-06-10T20:00:00Z", "2027-06-10T23:00:00Z")
    change = raise_change(gql, "MOVED-1", "servicenow")["changeRequest"]
    for target in ("ASSESS", "AUTHORIZE"):
        gql.data(UPDATE, {"id": change["id"], "input": {"state": target}})
    cab_approves(upstreams.url, "servicenow", change["number"])
    assert gates_of(gql, "MOVED-1")["change_approved"]["passed"]

    # Moved two days on, the release's window is one nobody approved.
    gql.data(MOVE, {"id": release_id, "s": "2027-06-12T20:00:00Z", "e": "2027-06-12T23:00:00Z"})
    gate = gates_of(gql, "MOVED-1")["change_approved"]
    assert not gate["passed"]
    assert gate["reason"].startswith(
        f"{change['number']} is approved for 2027-06-10 20:00 UTC to 2027-06-10 23:00 UTC "
        f"(3h), which does not hold the release's window 2027-06-12 20:00 UTC")
    error = gql.error(TRANSITION, {"id": release_id, "to": "DEPLOYING"})
    assert error["extensions"]["code"] == "GATE_FAILED"
    # The calendar's conflicts say so before anyone tries to deploy.
    period = {"f": "2027-06-01T00:00:00Z", "t": "2027-06-30T00:00:00Z"}
    outside = [c for c in gql.data(CONFLICTS, period)["conflicts"]
               if c["kind"] == "RELEASE_OUTSIDE_CHANGE_WINDOW"]
    assert [(c["severity"], [r["label"] for r in c["records"]]) for c in outside] == [
        ("BLOCKING", ["MOVED-1", change["number"]])]

    gql.data(MOVE, {"id": release_id, "s": "2027-06-10T21:00:00Z", "e": "2027-06-10T23:00:00Z"})
    assert gates_of(gql, "MOVED-1")["change_approved"]["passed"]  # inside it again
    assert "RELEASE_OUTSIDE_CHANGE_WINDOW" not in [
        c["kind"] for c in gql.data(CONFLICTS, period)["conflicts"]]


def test_open_blockers_fail_the_gate_and_name_the_items(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    world = upstreams.world
    blocking = next(r for r in world.releases if any(
        w.release_key == r.key and w.priority == "Highest" and w.status_category != "done"
        for w in world.work_items))
    make_release(gql, "BLOCKED-1", blocking.app_key, blocking.jira_version_id,
                 "2027-04-10T20:00:00Z", "2027-04-10T23:00:00Z")
    gate = gates_of(gql, "BLOCKED-1")["blockers"]
    expected = [w.key for w in world.work_items if w.release_key == blocking.key
                and w.priority == "Highest" and w.status_category != "done"]
    assert not gate["passed"]
    assert all(k in gate["reason"] for k in expected)


def test_a_release_whose_jira_version_was_deleted_never_passes_the_blocker_gate(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    # Someone deletes (or merges away) the JIRA version with an open blocker in it: its
    # issues are unknown to the hub now, which must not read them as "no blockers".
    jira = httpx.Client(base_url=f"{upstreams.url}/sandbox/jira/rest/api/2",
                        auth=(CREDENTIALS.username, CREDENTIALS.token))
    version = jira.post("/version", json={"name": "2027.05-hotfix", "project": "PAY"}).json()
    blocker = jira.post("/issue", json={"fields": {
        "project": {"key": "PAY"}, "summary": "Refunds double-charge", "issuetype": {"name": "Bug"},
        "priority": {"name": "Highest"}, "fixVersions": [{"id": version["id"]}]}}).json()
    make_release(gql, "GONE-1", "PAY", int(version["id"]), "2027-05-10T20:00:00Z",
                 "2027-05-10T23:00:00Z")
    gate = gates_of(gql, "GONE-1")["blockers"]
    assert not gate["passed"] and blocker["key"] in gate["reason"]

    assert jira.delete(f"/version/{version['id']}").status_code == 204
    jira.close()
    body = gql.post(RELEASE, {"k": "GONE-1"})
    gate = {g["name"]: g for g in body["data"]["release"]["gates"]}["blockers"]
    assert not gate["passed"] and "cannot be ruled out" in gate["reason"]
    assert {(e["extensions"]["code"], e["extensions"]["key"]) for e in body["errors"]} == {
        ("BAD_LINK_KEY", version["id"])}
    assert f"no version '{version['id']}'" in body["errors"][0]["message"]
    # Readiness carries the reason in its data too, where a client's cache keeps it.
    [jira_row] = gql.post("""query($k: String!) { release(key: $k) { readiness { complete
        perSource { source available problem problemCode } } } }""", {"k": "GONE-1"})[
        "data"]["release"]["readiness"]["perSource"]
    assert (jira_row["source"], jira_row["available"], jira_row["problemCode"]) == (
        "jira", False, "BAD_LINK_KEY")
    assert f"no version '{version['id']}'" in jira_row["problem"]


def test_an_override_needs_the_role_and_a_reason_and_is_audited(
        gql: GraphQLClient, hub: str, upstreams: Upstreams) -> None:
    shipped = next(r for r in upstreams.world.releases if r.status == "DEPLOYED")
    release_id = make_release(gql, "OVERRIDE-1", shipped.app_key, shipped.jira_version_id,
                              "2027-05-10T20:00:00Z", "2027-05-10T23:00:00Z")
    viewer = GraphQLClient(hub, token=VIEWER_TOKEN)
    error = viewer.error(TRANSITION, {"id": release_id, "to": "DEPLOYING",
                                      "override": {"reason": "Viewer tries to ship anyway"}})
    assert error["extensions"]["code"] == "FORBIDDEN"
    viewer.close()
    error = gql.error(TRANSITION, {"id": release_id, "to": "DEPLOYING",
                                   "override": {"reason": "ok"}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "override.reason"}
    reason = "Hotfix approved by phone by the CAB chair"
    assert gql.data(TRANSITION, {"id": release_id, "to": "DEPLOYING",
                                 "override": {"reason": reason}})[
        "transitionRelease"]["status"] == "DEPLOYING"
    history = release(gql, "OVERRIDE-1")["history"]
    assert {"action": "gate.override", "reason": reason, "actor": history[0]["actor"]} in history
    for to in ("DEPLOYED", None):  # the mark lasts after the fact, and is written once
        if to:
            gql.data(TRANSITION, {"id": release_id, "to": to})
        notes = gql.data("""query($k: String!) { release(key: $k) {
            releaseNotes(audience: OPERATIONS) } }""", {"k": "OVERRIDE-1"})["release"][
            "releaseNotes"]
        assert notes.count("Deploying under override:") == 1
        assert f"Reason given: {reason}" in notes


def test_raising_inside_a_blackout_warns_first_and_goes_ahead_when_acknowledged(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    world = upstreams.world
    shipped = next(r for r in world.releases if r.status == "DEPLOYED")
    make_release(gql, "FREEZE-1", shipped.app_key, shipped.jira_version_id,
                 "2026-12-22T20:00:00Z", "2026-12-22T23:00:00Z")  # in the holiday freeze
    error = gql.error(RAISE, {"id": release(gql, "FREEZE-1")["id"], "source": "servicenow"})
    assert error["extensions"]["code"] == "BLACKOUT_WARNING"
    assert "Holiday trading freeze" in error["message"]
    assert release(gql, "FREEZE-1")["changeRequests"] == []
    payload = raise_change(gql, "FREEZE-1", "servicenow", ack=True)
    assert payload["created"] and payload["warnings"]


def test_release_notes_speak_to_developers_and_to_the_change_board(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    world = upstreams.world
    shipped = next(r for r in world.releases if r.status == "DEPLOYED" and any(
        c.release_key == r.key for c in world.change_requests))
    notes = gql.data("""query($k: String!) { release(key: $k) {
        dev: releaseNotes(audience: DEVELOPMENT)
        cab: releaseNotes(audience: OPERATIONS)
        html: releaseNotes(audience: OPERATIONS, format: HTML) } }""", {"k": shipped.key})[
        "release"]
    prs = [p for p in world.pull_requests if p.release_key == shipped.key]
    issues = [w.key for w in world.work_items if w.release_key == shipped.key]
    assert all(f"#{p.number}" in notes["dev"] for p in prs)
    assert all(key in notes["dev"] for key in issues)
    assert shipped.window_start.strftime("%Y-%m-%d") in notes["cab"]
    assert "risk" in notes["cab"].lower() and "backout" in notes["cab"].lower()
    change = next(c for c in world.change_requests if c.release_key == shipped.key)
    number = next(link["externalKey"] for link in release(gql, shipped.key)["links"]
                  if link["kind"] == "CHANGE_REQUEST")
    assert number in notes["cab"]
    # The board reads the change under its own ITSM's number.
    assert number.startswith({"servicenow": "CHG", "remedy": "CRQ"}[change.itsm])
    assert notes["html"].lstrip().startswith("<") and number in notes["html"]


def test_once_raised_the_cab_summary_shows_the_change_the_board_will_approve(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    world = upstreams.world
    shipped = next(r for r in world.releases if r.status == "DEPLOYED" and r.app_key == "RPT")
    app = world.app("RPT")
    release_id = make_release(gql, "CAB-1", "RPT", shipped.jira_version_id,
                              "2027-06-01T20:00:00Z", "2027-06-01T22:00:00Z")
    gql.data("""mutation($id: ID!, $l: SourceLinkInput!) { linkSource(releaseId: $id, link: $l)
        { id } }""", {"id": release_id, "l": {
        "source": "github", "kind": "MILESTONE",
        "externalKey": f"{app.repo_owner}/{app.repo_name}#{shipped.milestone_number}"}})
    change = raise_change(gql, "CAB-1", "servicenow",
                          input={"risk": "LOW", "plannedStart": "2027-06-02T20:00:00Z",
                                 "plannedEnd": "2027-06-02T22:00:00Z"})["changeRequest"]
    assert change["risk"] == "LOW"
    cab = gql.data("""query($k: String!) { release(key: $k) {
        releaseNotes(audience: OPERATIONS) } }""", {"k": "CAB-1"})["release"]["releaseNotes"]
    assert "Risk: low" in cab
    assert "2027-06-02 20:00 UTC" in cab  # the change's window, not the release's
    prs = [p.number for p in world.pull_requests if p.release_key == shipped.key]
    tickets = cab.split("Linked tickets", 1)[1]
    assert prs
    assert not any(re.search(rf"#{n}(?!\d)", tickets) for n in prs), \
        "the board reads tickets, not pull requests"
