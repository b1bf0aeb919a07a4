"""Writes under concurrency: a release's status moves by compare-and-set, no update is lost,
the audit trail records what each write really replaced, and stale writes are refused.

Every scenario runs over HTTP against a real hub on SQLite and on PostgreSQL.
Races are run as real races (threads released together, several trials);
where a race can be made certain, the test holds the release's row itself, as
another replica's transaction would, and lets the queued requests go once the
database shows them waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from api.demo import WEBHOOK_SECRET
from tests.adversarial.conftest import Hub, Upstreams
from tests.support.graphql import GraphQLClient

TRIALS = 6
WEBHOOKS = 3

CREATE = """mutation($input: CreateReleaseInput!) {
  createRelease(input: $input) { id key status } }"""
TRANSITION = """mutation($id: ID!, $to: ReleaseStatus!, $override: GateOverrideInput,
                         $expectedVersion: Int) {
  transitionRelease(id: $id, to: $to, override: $override,
                    expectedVersion: $expectedVersion) { status } }"""
PLAIN_TRANSITION = """mutation($id: ID!, $to: ReleaseStatus!, $override: GateOverrideInput) {
  transitionRelease(id: $id, to: $to, override: $override) { status } }"""
UPDATE = """mutation($id: ID!, $input: UpdateReleaseInput!) {
  updateRelease(id: $id, input: $input) { id } }"""
VERSIONED_UPDATE = """mutation($id: ID!, $input: UpdateReleaseInput!, $expectedVersion: Int) {
  updateRelease(id: $id, input: $input, expectedVersion: $expectedVersion) { id version } }"""
ADD_PHASE = """mutation($id: ID!, $input: ReleasePhaseInput!, $expectedVersion: Int) {
  addReleasePhase(releaseId: $id, input: $input, expectedVersion: $expectedVersion) { id } }"""
LINK = """mutation($id: ID!, $link: SourceLinkInput!, $expectedVersion: Int) {
  linkSource(releaseId: $id, link: $link, expectedVersion: $expectedVersion) { id } }"""
PLAIN_LINK = """mutation($id: ID!, $link: SourceLinkInput!) {
  linkSource(releaseId: $id, link: $link) { id } }"""
STATE = """query($k: String!) { release(key: $k) {
  status name applications { key } phases { name } links { externalKey }
  history(first: 100) { action actor before after } } }"""
VERSION = """query($k: String!) { release(key: $k) { version } }"""


# --- helpers -----------------------------------------------------------------------------

def new_release(rm: GraphQLClient, **fields: Any) -> tuple[str, str]:
    """A fresh PLANNED release of this test alone: (id, key)."""
    key = f"W-{uuid.uuid4().hex[:10]}"
    created = rm.data(CREATE, {"input": {"key": key, "name": f"Concurrency {key}",
                                         "type": "PROJECT", **fields}})["createRelease"]
    return created["id"], key


def move(rm: GraphQLClient, release_id: str, *statuses: str) -> None:
    for status in statuses:
        override = {"reason": "Concurrency test: gates are not the subject here"}
        rm.data(PLAIN_TRANSITION, {"id": release_id, "to": status,
                                   "override": override if status == "DEPLOYING" else None})


def state(rm: GraphQLClient, key: str) -> dict[str, Any]:
    found: dict[str, Any] = rm.data(STATE, {"k": key})["release"]
    return found


def events(rm: GraphQLClient, key: str, action: str) -> list[dict[str, Any]]:
    """The release's audit events of `action`, oldest first."""
    return [e for e in reversed(state(rm, key)["history"]) if e["action"] == action]


def together(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the calls on their own threads, released at the same instant; their results."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def outcome(body: dict[str, Any]) -> str:
    """"ok", or the error code of a refused mutation."""
    if not body.get("errors"):
        return "ok"
    [error] = body["errors"]
    return str(error["extensions"]["code"])


def assert_status_chain(transitions: list[dict[str, Any]], start: str, final: str) -> None:
    """Each transition left from the status the previous one reached; the last is final."""
    at = start
    for event in transitions:
        assert event["before"]["status"] == at, (
            f"a transition moved the release from {event['before']['status']} although it was "
            f"{at}: {[(e['before']['status'], e['after']['status']) for e in transitions]}")
        at = event["after"]["status"]
    assert final == at


def deployment_webhook(hub: Hub, repository: str, ref: str, status_id: int = 1
                       ) -> httpx.Response:
    """A production `deployment_status: success`, signed the way GitHub signs deliveries."""
    body = json.dumps({
        "action": "created",
        "deployment_status": {"id": status_id, "state": "success", "environment": "production",
                              "description": "concurrency test"},
        "deployment": {"id": 2, "ref": ref, "environment": "production"},
        "repository": {"full_name": repository}}).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(f"{hub.url}/webhooks/github/github", content=body, timeout=30, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "deployment_status",
        "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": f"sha256={signature}"})


def deploying_release(hub: Hub, rm: GraphQLClient, upstreams: Upstreams
                      ) -> tuple[str, str, str, str]:
    """A DEPLOYING release whose compare range names a ref of its own: (id, key, repo, ref)."""
    app = upstreams.world.applications[0]
    repository = f"{app.repo_owner}/{app.repo_name}"
    ref = f"v9.{uuid.uuid4().int % 10_000}.0"
    release_id, key = new_release(rm)
    rm.data(PLAIN_LINK, {"id": release_id, "link": {
        "source": "github", "kind": "CODE_RANGE",
        "externalKey": f"{repository}@v0.0.1...{ref}"}})
    move(rm, release_id, "IN_PROGRESS", "READY", "DEPLOYING")
    return release_id, key, repository, ref


# --- the release status machine is a compare-and-set -------------------------------------

def test_racing_transitions_leave_one_unbroken_chain_of_status_changes(hub: Hub) -> None:
    """READY and CANCELLED sent together from IN_PROGRESS: each success moved the release from
    the status the previous one left (one that read a status already left is refused with
    CONFLICT, or BAD_USER_INPUT if it read after the other committed), so a CANCELLED
    release never ends READY and the history has one event per success."""
    for _ in range(TRIALS):
        race_two_transitions(hub)


def race_two_transitions(hub: Hub) -> None:
    rm = hub.client()
    release_id, key = new_release(rm)
    move(rm, release_id, "IN_PROGRESS")
    clients = [hub.client(), hub.client()]
    bodies = together([
        partial(client.post, PLAIN_TRANSITION, {"id": release_id, "to": to})
        for client, to in zip(clients, ("CANCELLED", "READY"), strict=True)])
    outcomes = [outcome(b) for b in bodies]
    assert set(outcomes) <= {"ok", "CONFLICT", "BAD_USER_INPUT"}, bodies
    assert "ok" in outcomes
    final = state(rm, key)["status"]
    transitions = events(rm, key, "release.transition")[1:]  # after PLANNED -> IN_PROGRESS
    assert len(transitions) == outcomes.count("ok")
    assert_status_chain(transitions, "IN_PROGRESS", final)
    for body in bodies:
        if outcome(body) == "CONFLICT":
            assert body["errors"][0]["extensions"]["currentStatus"] in ("READY", "CANCELLED")


def test_a_transition_queued_behind_another_writer_applies_only_from_the_status_it_read(
        hub: Hub) -> None:
    """Two transitions wait on the release's row held by another transaction; once it goes,
    exactly one of them moves the release and the other is refused with CONFLICT."""
    if hub.backend != "postgres":
        pytest.skip("only PostgreSQL shows who waits on a row lock; the race test covers SQLite")
    rm = hub.client()
    release_id, key = new_release(rm)
    move(rm, release_id, "IN_PROGRESS")
    clients = [hub.client(), hub.client()]
    calls = [partial(client.post, PLAIN_TRANSITION, {"id": release_id, "to": to})
             for client, to in zip(clients, ("CANCELLED", "READY"), strict=True)]
    bodies = behind_a_row_lock(hub, key, calls)
    outcomes = sorted(outcome(b) for b in bodies)
    assert outcomes == ["CONFLICT", "ok"], bodies
    [winner] = [to for to, b in zip(("CANCELLED", "READY"), bodies, strict=True)
                if outcome(b) == "ok"]
    assert state(rm, key)["status"] == winner
    transitions = events(rm, key, "release.transition")[1:]
    assert [(t["before"]["status"], t["after"]["status"]) for t in transitions] == [
        ("IN_PROGRESS", winner)]


def behind_a_row_lock(hub: Hub, key: str, calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Hold the release's row (FOR UPDATE) while `calls` start; let go once all of them wait
    on it; their results."""
    import asyncpg

    url = make_url(hub.database_url)

    async def scenario() -> list[Any]:
        connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username,
                                           password=url.password, database=url.database)
        try:
            transaction = connection.transaction()
            await transaction.start()
            await connection.execute("SELECT id FROM releases WHERE key = $1 FOR UPDATE", key)
            pool = ThreadPoolExecutor(len(calls))
            loop = asyncio.get_running_loop()
            futures = [loop.run_in_executor(pool, call) for call in calls]
            deadline = time.monotonic() + 20

            async def waiting() -> int:
                # pg_stat_activity is read once per transaction (a cached snapshot) unless
                # cleared, and this connection looks from inside the locking transaction.
                await connection.execute("SELECT pg_stat_clear_snapshot()")
                count: int = await connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")
                return count

            while await waiting() < len(calls):
                assert time.monotonic() < deadline, "the requests never reached the row lock"
                assert not any(f.done() for f in futures), [f.result() for f in futures
                                                            if f.done()]
                await asyncio.sleep(0.02)
            await transaction.rollback()
            results = list(await asyncio.gather(*futures))
            pool.shutdown()
            return results
        finally:
            await connection.close()

    return asyncio.run(scenario())


def test_deployment_webhooks_racing_a_cancel_move_the_release_once(
        hub: Hub, upstreams: Upstreams) -> None:
    """GitHub success reports (DEPLOYING -> DEPLOYED; a CI job may report twice) and a cancel
    sent together: the webhook goes through the same compare-and-set as the graph, so the
    release leaves DEPLOYING exactly once."""
    if hub.backend != "sqlite":
        pytest.skip("on PostgreSQL the row-lock test below makes this race certain")
    for _ in range(TRIALS):
        race_webhooks_and_cancel(hub, upstreams)


def race_webhooks_and_cancel(hub: Hub, upstreams: Upstreams) -> None:
    rm = hub.client()
    release_id, key, repository, ref = deploying_release(hub, rm, upstreams)
    canceller = hub.client()
    *webhooks, cancel = together([
        *(partial(deployment_webhook, hub, repository, ref, status_id=n)
          for n in range(WEBHOOKS)),
        partial(canceller.post, PLAIN_TRANSITION, {"id": release_id, "to": "CANCELLED"})])
    assert all(w.status_code == 200 for w in webhooks), [w.text for w in webhooks]
    assert outcome(cancel) in ("ok", "CONFLICT", "BAD_USER_INPUT"), cancel
    final = state(rm, key)["status"]
    transitions = events(rm, key, "release.transition")[3:]  # after ... -> DEPLOYING
    assert len(transitions) == 1, transitions
    assert_status_chain(transitions, "DEPLOYING", final)
    assert (outcome(cancel) == "ok") == (final == "CANCELLED")


def test_a_deployment_webhook_queued_behind_another_writer_does_not_overwrite_a_cancel(
        hub: Hub, upstreams: Upstreams) -> None:
    """The webhook and a cancel wait on the release's row; once it goes, exactly one of them
    moves the release out of DEPLOYING."""
    if hub.backend != "postgres":
        pytest.skip("only PostgreSQL shows who waits on a row lock; the race test covers SQLite")
    rm = hub.client()
    release_id, key, repository, ref = deploying_release(hub, rm, upstreams)
    canceller = hub.client()
    webhook, cancel = behind_a_row_lock(hub, key, [
        partial(deployment_webhook, hub, repository, ref),
        partial(canceller.post, PLAIN_TRANSITION, {"id": release_id, "to": "CANCELLED"})])
    assert webhook.status_code == 200, webhook.text
    final = state(rm, key)["status"]
    transitions = events(rm, key, "release.transition")[3:]
    assert len(transitions) == 1, transitions
    assert_status_chain(transitions, "DEPLOYING", final)
    assert (outcome(cancel) == "ok") == (final == "CANCELLED"), cancel


# --- no lost updates, true audit -----------------------------------------------------------

def application_sets(rm: GraphQLClient, count: int) -> list[list[str]]:
    keys = sorted(a["key"] for a in rm.data("{ applications { key } }")["applications"])
    return [list(c) for c in itertools.islice(itertools.combinations(keys, 3), count)]


def test_parallel_updates_of_the_application_set_lose_none_and_audit_what_they_replaced(
        hub: Hub) -> None:
    """10 clients set 10 different applicationKeys at once: the release ends with exactly one
    of the requested sets, and each audit event's before is the previous one's after."""
    rm = hub.client()
    release_id, key = new_release(rm)
    wanted = application_sets(rm, 10)
    clients = [hub.client() for _ in wanted]
    bodies = together([
        partial(client.post, UPDATE, {"id": release_id, "input": {"applicationKeys": apps}})
        for client, apps in zip(clients, wanted, strict=True)])
    assert all(outcome(b) == "ok" for b in bodies), bodies
    final = sorted(a["key"] for a in state(rm, key)["applications"])
    assert final in wanted
    create, *updates = events(rm, key, "release.create") + events(rm, key, "release.update")
    assert len(updates) == len(wanted)
    previous = create["after"]
    for event in updates:
        assert event["before"] == previous, "an update's before is not what the write replaced"
        previous = event["after"]
    assert sorted(previous["applications"]) == final


def test_every_write_of_a_release_bumps_its_version(hub: Hub) -> None:
    rm = hub.client()
    release_id, key = new_release(rm)
    seen = [rm.data(VERSION, {"k": key})["release"]["version"]]
    rm.data(UPDATE, {"id": release_id, "input": {"name": "renamed"}})
    seen.append(rm.data(VERSION, {"k": key})["release"]["version"])
    rm.data(PLAIN_TRANSITION, {"id": release_id, "to": "IN_PROGRESS"})
    seen.append(rm.data(VERSION, {"k": key})["release"]["version"])
    rm.data(ADD_PHASE, {"id": release_id, "input": {"name": "Build"}})
    seen.append(rm.data(VERSION, {"k": key})["release"]["version"])
    assert seen == sorted(set(seen)), f"the version did not grow with every write: {seen}"


STALE_WRITES: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "updateRelease": (VERSIONED_UPDATE, lambda rid: {
        "id": rid, "input": {"name": "stale rename", "applicationKeys": []}}),
    "transitionRelease": (TRANSITION, lambda rid: {"id": rid, "to": "CANCELLED"}),
    "addReleasePhase": (ADD_PHASE, lambda rid: {"id": rid, "input": {"name": "Stale"}}),
    "linkSource": (LINK, lambda rid: {"id": rid, "link": {
        "source": "jira", "kind": "PLANNED_VERSION", "externalKey": "10999"}}),
}


@pytest.mark.parametrize("mutation", sorted(STALE_WRITES))
def test_a_write_with_a_stale_expected_version_is_refused_and_writes_nothing(
        hub: Hub, mutation: str) -> None:
    rm = hub.client()
    apps = application_sets(rm, 1)[0]
    release_id, key = new_release(rm, applicationKeys=apps)
    read = rm.data(VERSION, {"k": key})["release"]["version"]
    renamed = rm.data(VERSIONED_UPDATE, {"id": release_id, "input": {"name": "fresh"},
                                         "expectedVersion": read})["updateRelease"]
    assert renamed["version"] > read  # a fresh expectedVersion is taken
    before = state(rm, key)

    document, variables = STALE_WRITES[mutation]
    error = rm.error(document, variables(release_id) | {"expectedVersion": read})

    assert error["extensions"]["code"] == "CONFLICT", error
    assert error["extensions"]["currentVersion"] == renamed["version"]
    assert state(rm, key) == before
    assert rm.data(VERSION, {"k": key})["release"]["version"] == renamed["version"]

