"""ITSM decisions flow back: a CAB approval made in ServiceNow reaches a subscribed client.

The ServiceNow sandbox pushes what an administrator's business rule would
(README, "ServiceNow: decisions pushed to Heatshield") to the hub's generic
webhook route; the hub stores it in its inbox, drops its cached copies of the
change and tells the subscribers of the change's release, whose message
carries the release's gates read afresh.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.demo import (
    CREDENTIALS,
    WEBHOOK_SECRET,
    build_sandboxes,
    release_links,
)
from connectors.sandbox.world import World, build_world
from tests.support.databases import query_db
from tests.support.demo_hub import demo_hub
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi
from tests.support.subscriptions import SubscriptionClient

TOKEN = new_secret()
GATE_TOKEN = new_secret()


async def _gate_token(sessions: Any) -> None:
    """A CI job's token: scope GATES, made as `createApiToken(scope: GATES)` makes it."""
    from api import auth
    from api.db import models as m
    async with sessions() as session, session.begin():
        session.add(m.ApiToken(user_id=None, name="ci-gate", token_hash=auth.digest(GATE_TOKEN),
                               prefix=GATE_TOKEN[:10], role=m.Role.VIEWER, scope="gates"))


RELEASE_KEY = "PAY-2026.11"  # its ServiceNow change waits for the CAB (Authorize)
ON_CHANGES = """subscription($k: String!) { changeRequestChanged(release: $k) {
  action key release { gates { name passed reason } } } }"""
GATES = """query($k: String!) { release(key: $k) { gates { name passed } } }"""


class Running:
    def __init__(self, sandboxes_url: str, hub_url: str, database_url: str,
                 world: World) -> None:
        self.sandboxes_url, self.hub_url, self.database_url = sandboxes_url, hub_url, database_url
        self.world = world

    def table(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.sandboxes_url}/sandbox/servicenow/api/now/table"
                             f"{path}", auth=(CREDENTIALS.username, CREDENTIALS.password),
                             **kwargs)

    def change(self, number: str) -> dict[str, str]:
        response = self.table("GET", "/change_request", params={
            "sysparm_query": f"number={number}", "sysparm_fields": "sys_id,state,approval"})
        [row] = response.json()["result"]
        return dict(row)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    world = build_world()
    sandboxes = build_sandboxes(world)
    tmp: Path = tmp_path_factory.mktemp("itsm-events")
    database_url = f"sqlite+aiosqlite:///{tmp / 'hub.db'}"
    with serve_asgi(Starlette(routes=sandboxes.mounts())) as sandboxes_url, \
            demo_hub(world, sandboxes_url, database_url,
                     startup=[principal_step(TOKEN), _gate_token],
                     # Long: only the push makes reads fresh.
                     federation={"cache_ttl_seconds": 300}) as hub_url:
        sandboxes.apps["servicenow"].state.kit.webhook_url = f"{hub_url}/webhooks/servicenow"
        yield Running(sandboxes_url, hub_url, database_url, world)


def servicenow_change(world: World) -> str:
    [number] = [key for source, kind, key in release_links(world, RELEASE_KEY)
                if source == "servicenow" and kind.name == "CHANGE_REQUEST"]
    return number


def test_a_cab_approval_in_servicenow_reaches_a_subscriber_and_opens_the_gate(
        running: Running) -> None:
    number = servicenow_change(running.world)
    gql = GraphQLClient(running.hub_url, token=TOKEN)
    before = {g["name"]: g["passed"] for g in gql.data(GATES, {"k": RELEASE_KEY})[
        "release"]["gates"]}
    assert before["change_approved"] is False
    change = running.change(number)
    assert change["state"] == "-3"  # Authorize: the CAB has not decided

    with SubscriptionClient(running.hub_url, token=TOKEN) as socket:
        socket.subscribe("1", ON_CHANGES, {"k": RELEASE_KEY})
        time.sleep(0.3)
        started = time.monotonic()
        approved = running.table("PATCH", f"/change_request/{change['sys_id']}",
                                 json={"state": "-2"})  # the CAB approved: Scheduled
        assert approved.status_code == 200, approved.text
        message = socket.receive(timeout=10)
        elapsed = time.monotonic() - started

    assert message["type"] == "next", message
    event = message["payload"]["data"]["changeRequestChanged"]
    assert event["action"] == "change.upstream" and event["key"] == number
    gates = {g["name"]: g["passed"] for g in event["release"]["gates"]}
    assert gates["change_approved"] is True
    assert elapsed < 3.0, f"the approval took {elapsed:.2f} s to reach the subscriber"
    gql.close()


def test_the_same_update_pushed_twice_is_taken_once(running: Running) -> None:
    deliveries = httpx.get(f"{running.sandboxes_url}/sandbox/servicenow/_sandbox/webhooks"
                           ).json()["deliveries"]
    assert deliveries and all(d["status"] in (200, 204) for d in deliveries), deliveries
    stored = query_db(running.database_url,
                      "SELECT delivery_id, processed_at FROM webhook_deliveries "
                      "WHERE source = 'servicenow'")
    assert stored and all(processed for _, processed in stored)
    body = {"operation": "update", "table": "change_request", "sys_id": "abc",
            "number": "CHG0039999", "state": "-2", "approval": "approved",
            "sys_mod_count": "7", "timestamp": int(time.time() * 1000)}
    headers = {"Content-Type": "application/json", "X-Webhook-Secret": WEBHOOK_SECRET}

    first = httpx.post(f"{running.hub_url}/webhooks/servicenow", content=json.dumps(body),
                       headers=headers)
    again = httpx.post(f"{running.hub_url}/webhooks/servicenow",
                       content=json.dumps(body | {"state": "-1"}), headers=headers)

    assert first.status_code == 200 and first.json()["changes"] == ["CHG0039999"]
    assert again.json() == {"status": "duplicate"}  # same record, same sys_mod_count


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"X-Webhook-Secret": "not-the-secret"}, 401),
])
def test_a_push_without_the_shared_secret_is_refused(running: Running,
                                                     headers: dict[str, str],
                                                     status: int) -> None:
    body = {"table": "change_request", "sys_id": "x", "number": "CHG0030001",
            "sys_mod_count": "1", "timestamp": int(time.time() * 1000)}
    response = httpx.post(f"{running.hub_url}/webhooks/servicenow", content=json.dumps(body),
                          headers={"Content-Type": "application/json", **headers})
    assert response.status_code == status


def test_a_stale_push_is_refused_even_with_the_secret(running: Running) -> None:
    body = {"table": "change_request", "sys_id": "x", "number": "CHG0030001",
            "sys_mod_count": "2", "timestamp": int((time.time() - 3600) * 1000)}
    response = httpx.post(f"{running.hub_url}/webhooks/servicenow", content=json.dumps(body),
                          headers={"Content-Type": "application/json",
                                   "X-Webhook-Secret": WEBHOOK_SECRET})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "STALE_DELIVERY"


# --- the plain HTTP gate for CI ------------------------------------------------------------

GATED_RELEASE = "INV-2026.11"  # its ServiceNow change also waits for the CAB
@pytest.fixture(scope="module")
def gate_hub(running: Running) -> str:
    return running.hub_url


def gate(url: str, release: str, **params: str) -> httpx.Response:
    return httpx.get(f"{url}/api/gates/{release}", params=params, timeout=30,
                     headers={"Authorization": f"Bearer {GATE_TOKEN}"})


def test_a_release_without_an_approved_change_fails_the_production_gate_with_reasons(
        gate_hub: str) -> None:
    response = gate(gate_hub, GATED_RELEASE, environment="production")

    assert response.status_code == 412
    body = response.json()
    assert body["decision"] == "fail" and body["environment"] == "production"
    failed = {g["name"]: g["reason"] for g in body["gates"] if not g["passed"]}
    assert "change_approved" in failed and "no approved" in failed["change_approved"]


@pytest.mark.parametrize("path", ["", f"{GATED_RELEASE}/", f"{GATED_RELEASE}/production", "a/b"],
                         ids=["no release (an unset CI variable)", "a trailing slash",
                              "one segment too many", "two segments"])
def test_a_gate_asked_at_a_path_that_names_no_release_fails_instead_of_passing(
        gate_hub: str, path: str) -> None:
    # `curl --fail` deploys on any 2xx: a path no gate answers must never get the
    # dashboard's page with 200, or a typo in a pipeline would let the release go.
    response = gate(gate_hub, path, environment="production")

    assert response.status_code == 404
    assert not response.headers["content-type"].startswith("text/html")


def test_an_environment_or_wait_given_twice_is_refused_not_guessed(gate_hub: str) -> None:
    twice = httpx.get(f"{gate_hub}/api/gates/{GATED_RELEASE}", timeout=30,
                      params=[("environment", "production"), ("environment", "Staging")],
                      headers={"Authorization": f"Bearer {GATE_TOKEN}"})
    assert twice.status_code == 400
    assert twice.json()["errors"][0]["message"] == "environment is given more than once"
    waits = httpx.get(f"{gate_hub}/api/gates/{GATED_RELEASE}", timeout=30,
                      params=[("environment", "production"), ("wait", "0"), ("wait", "5")],
                      headers={"Authorization": f"Bearer {GATE_TOKEN}"})
    assert waits.status_code == 400


def test_a_name_that_could_mean_a_production_environment_is_guarded_as_one(
        gate_hub: str) -> None:
    # A staging environment reports its deployments under the same name as production
    # ("eu" for both regions): asked by that name, the gates guard it.
    gql = GraphQLClient(gate_hub, token=TOKEN)
    for name, tier in (("EU staging", "STAGING"), ("EU production", "PRODUCTION")):
        gql.data("""mutation($i: EnvironmentInput!) { createEnvironment(input: $i) { id } }""",
                 {"i": {"name": name, "tier": tier, "deployTarget": "eu"}})
    gql.close()
    asked = gate(gate_hub, GATED_RELEASE, environment="eu")
    assert asked.status_code == 412 and asked.json()["decision"] == "fail"
    assert gate(gate_hub, GATED_RELEASE, environment="EU staging").status_code == 200


def test_no_server_path_is_answered_with_the_dashboards_page(gate_hub: str) -> None:
    signed_in = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/nothing", "/feeds/nothing", "/webhooks/github", "/export/x",
                 "/reports/a/b", "/graphql/x", "/auth/nothing"):
        response = httpx.get(f"{gate_hub}{path}", headers=signed_in, timeout=30)
        assert response.status_code in (404, 405), (path, response.status_code)
        assert not response.headers.get("content-type", "").startswith("text/html"), path
    assert httpx.get(f"{gate_hub}/releases/{GATED_RELEASE}", headers=signed_in,
                     timeout=30).headers["content-type"].startswith("text/html")


def test_a_non_production_environment_passes_and_says_why(gate_hub: str) -> None:
    response = gate(gate_hub, GATED_RELEASE, environment="Staging")

    assert response.status_code == 200 and response.json()["decision"] == "pass"
    assert "not a production environment" in response.json()["gates"][0]["reason"]


def test_a_waiting_gate_passes_as_soon_as_the_cab_approves(running: Running,
                                                           gate_hub: str) -> None:
    [number] = [key for source, kind, key in release_links(running.world, GATED_RELEASE)
                if source == "servicenow" and kind.name == "CHANGE_REQUEST"]
    change = running.change(number)
    answers: list[httpx.Response] = []

    import threading
    waiting = threading.Thread(target=lambda: answers.append(
        gate(gate_hub, GATED_RELEASE, environment="production", wait="20")))
    started = time.monotonic()
    waiting.start()
    time.sleep(1.0)
    assert not answers  # still held: the change is not approved
    approved = running.table("PATCH", f"/change_request/{change['sys_id']}",
                             json={"state": "-2"})
    assert approved.status_code == 200
    waiting.join(timeout=25)
    elapsed = time.monotonic() - started

    [answer] = answers
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "pass"
    assert elapsed < 10, f"the gate answered after {elapsed:.1f} s"


def test_every_gate_answer_is_audited_with_who_asked(running: Running, gate_hub: str) -> None:
    gate(gate_hub, GATED_RELEASE, environment="Staging")
    rows = query_db(running.database_url,
                    "SELECT actor, after FROM audit_events WHERE action = 'gate.check' "
                    "ORDER BY id DESC LIMIT 1")
    [(actor, after)] = rows
    assert "ci-gate" in actor
    answered = json.loads(after) if isinstance(after, str) else after
    assert answered["environment"] == "Staging" and answered["decision"] == "pass"


def test_a_gate_token_reads_gates_and_nothing_else(gate_hub: str) -> None:
    graph = httpx.post(f"{gate_hub}/graphql", json={"query": "{ releases { totalCount } }"},
                       headers={"Authorization": f"Bearer {GATE_TOKEN}"})
    assert graph.status_code == 403
    assert "only read release gates" in graph.json()["errors"][0]["message"]


@pytest.mark.parametrize(("release", "params", "status", "words"), [
    (GATED_RELEASE, {}, 400, "name the environment"),
    (GATED_RELEASE, {"environment": "production", "wait": "forever"}, 400, "wait must be"),
    (GATED_RELEASE, {"environment": "production", "wait": "301"}, 400, "wait must be"),
    (GATED_RELEASE, {"environment": "moon"}, 404, "environment 'moon'"),
    ("NO-SUCH-RELEASE", {"environment": "production"}, 404, "release 'NO-SUCH-RELEASE'"),
])
def test_a_bad_gate_question_gets_an_error_naming_what_was_wrong(
        gate_hub: str, release: str, params: dict[str, str], status: int, words: str) -> None:
    response = gate(gate_hub, release, **params)
    assert response.status_code == status
    assert words in response.json()["errors"][0]["message"]
