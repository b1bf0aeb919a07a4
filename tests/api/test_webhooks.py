"""Upstream webhooks end to end: the GitHub and JIRA sandboxes send signed deliveries to the hub.

Deployments are reported the way GitHub reports them: a deployment status
POSTed to the GitHub sandbox, which emits the real `deployment_status`
webhook to Heatshield. What moved is read from the ITSM's own API or from
Heatshield's graph and audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.demo import (
    CREDENTIALS,
    WEBHOOK_SECRET,
    Sandboxes,
    build_sandboxes,
    demo_connectors,
    demo_environ,
    release_links,
    seed,
)
from api.settings import load_settings
from api.webhooks import signature_valid
from connectors.sandbox.world import World, build_world
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi

TOKEN = new_secret()

RELEASE = """
query($k: String!) { release(key: $k) { id status
  changeRequests { number state }
  workItems(first: 100) { nodes { key statusLabel source { name } } }
  history(first: 100) { action actor reason } } }"""
TRANSITION = """
mutation($id: ID!, $to: ReleaseStatus!, $override: GateOverrideInput) {
  transitionRelease(id: $id, to: $to, override: $override) { status } }"""
UPDATE = """
mutation($id: ID!, $input: ChangeUpdateInput!) {
  updateChangeRequest(id: $id, input: $input) { state } }"""
CHANGE_ID = """query($k: String!) { release(key: $k) { changeRequests { id } } }"""


@dataclass
class Upstreams:
    url: str
    world: World
    sandboxes: Sandboxes

    def github(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/sandbox/github{path}",
                             headers={"Authorization": f"Bearer {CREDENTIALS.token}"}, **kwargs)

    def report_deployment(self, release_key: str, environment: str, state: str) -> int:
        """Deploy the release's tag and report `state`, as a CI job would; the hub's answer."""
        release = self.world.release(release_key)
        app = self.world.app(release.app_key)
        repo = f"/repos/{app.repo_owner}/{app.repo_name}"
        created = self.github("POST", f"{repo}/deployments",
                              json={"ref": release.to_tag, "environment": environment})
        assert created.status_code == 201, created.text
        status = self.github("POST", f"{repo}/deployments/{created.json()['id']}/statuses",
                             json={"state": state, "description": "Rolled out by CI"})
        assert status.status_code == 201, status.text
        return self.last_answer("github", "deployment_status")

    def last_answer(self, kind: str, event: str) -> int:
        """The status the hub answered the sandbox's latest delivery of `event` with."""
        deliveries = httpx.get(f"{self.url}/sandbox/{kind}/_sandbox/webhooks").json()[
            "deliveries"]
        last = [d for d in deliveries if d["event"] == event][-1]
        assert last["error"] is None, last["error"]
        status: int = last["status"]
        return status

    def servicenow_state(self, number: str) -> str:
        """The change's numeric state, as ServiceNow's Table API holds it."""
        response = httpx.get(
            f"{self.url}/sandbox/servicenow/api/now/table/change_request",
            params={"sysparm_query": f"number={number}", "sysparm_fields": "number,state"},
            auth=(CREDENTIALS.username, CREDENTIALS.password))
        [row] = response.json()["result"]
        state: str = row["state"]
        return state


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    world = build_world()
    sandboxes = build_sandboxes(world)
    with serve_asgi(Starlette(routes=sandboxes.mounts())) as url:
        yield Upstreams(url, world, sandboxes)


@pytest.fixture(scope="module")
def hub(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("webhooks")
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
        connectors=[c.model_dump() | {"timeout_seconds": 3, "max_retries": 1}
                    for c in demo_connectors(upstreams.url)],
        federation={"cache_ttl_seconds": 300})  # long: only a webhook makes reads fresh

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, upstreams.world)

    app = create_app(settings, environ=demo_environ(),
                     startup=[seed_step, principal_step(TOKEN)])
    with serve_asgi(app) as url:
        # The sandboxes learn where the hub listens, as an admin registers a webhook: the
        # generic route, by connector name (hand-built deliveries below use the older
        # per-kind address, which must keep working).
        for kind in ("github", "jira"):
            upstreams.sandboxes.apps[kind].state.kit.webhook_url = f"{url}/webhooks/{kind}"
        yield url


@pytest.fixture(scope="module")
def gql(hub: str) -> Iterator[GraphQLClient]:
    client = GraphQLClient(hub, token=TOKEN)
    yield client
    client.close()


def release(gql: GraphQLClient, key: str) -> dict[str, Any]:
    found: dict[str, Any] = gql.data(RELEASE, {"k": key})["release"]
    return found


def change_number(world: World, release_key: str) -> str:
    [number] = [key for _, kind, key in release_links(world, release_key)
                if kind.name == "CHANGE_REQUEST"]
    return number


def current_release(world: World, app_key: str) -> str:
    """This month's release of an application (the one with a tag to deploy)."""
    return [r.key for r in world.releases if r.app_key == app_key][3]


def signed_post(hub: str, kind: str, payload: dict[str, Any], *, delivery: str,
                secret: str = WEBHOOK_SECRET, event: str = "deployment_status"
                ) -> httpx.Response:
    """A delivery built by hand, signed as GitHub (or JIRA) signs it."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json"}
    if kind == "github":
        headers |= {"X-Hub-Signature-256": signature, "X-GitHub-Event": event,
                    "X-GitHub-Delivery": delivery}
    else:
        headers |= {"X-Hub-Signature": signature, "X-Atlassian-Webhook-Identifier": delivery}
    return httpx.post(f"{hub}/webhooks/{kind}/{kind}", content=body, headers=headers)


def deployment_payload(world: World, release_key: str, state: str,
                       environment: str = "production") -> dict[str, Any]:
    release = world.release(release_key)
    app = world.app(release.app_key)
    return {"action": "created",
            "deployment_status": {"id": 1, "state": state, "environment": environment,
                                  "description": "by hand"},
            "deployment": {"id": 2, "ref": release.to_tag, "environment": environment},
            "repository": {"full_name": f"{app.repo_owner}/{app.repo_name}"}}


def test_the_documented_github_signature_test_vector_verifies() -> None:
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature_valid(secret, body, good)
    assert not signature_valid(secret, body + b" ", good)
    assert not signature_valid("another secret", body, good)
    assert not signature_valid(secret, body, good.replace("sha256=", "sha1="))
    assert not signature_valid(secret, body, None)


def test_a_production_success_moves_the_servicenow_change_to_review_and_the_release_to_deployed(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    key = current_release(upstreams.world, "NTF")  # in progress, standard change scheduled
    number = change_number(upstreams.world, key)
    release_id = release(gql, key)["id"]
    gql.data(TRANSITION, {"id": release_id, "to": "READY"})
    gql.data(TRANSITION, {"id": release_id, "to": "DEPLOYING",
                          "override": {"reason": "Webhook test: ship it regardless"}})
    assert upstreams.servicenow_state(number) == "-2"  # Scheduled

    assert upstreams.report_deployment(key, "production", "success") == 200

    assert upstreams.servicenow_state(number) == "0"  # Review
    after = release(gql, key)
    assert after["status"] == "DEPLOYED"
    assert after["changeRequests"] == [{"number": number, "state": "REVIEW"}]
    by_webhook = [(e["action"], e["actor"]) for e in after["history"]
                  if e["actor"] == "webhook:github"]
    assert ("release.transition", "webhook:github") in by_webhook
    assert ("change.update", "webhook:github") in by_webhook


def test_a_production_success_moves_a_remedy_change_and_its_deploying_release(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    key = current_release(upstreams.world, "IDN")  # deploying, change in implementation
    assert release(gql, key)["status"] == "DEPLOYING"

    assert upstreams.report_deployment(key, "production", "success") == 200

    after = release(gql, key)
    assert after["status"] == "DEPLOYED"
    assert [c["state"] for c in after["changeRequests"]] == ["REVIEW"]


def test_a_staging_deployment_is_ignored(gql: GraphQLClient, upstreams: Upstreams) -> None:
    key = current_release(upstreams.world, "INV")
    number = change_number(upstreams.world, key)
    before_state = upstreams.servicenow_state(number)
    before = release(gql, key)

    assert upstreams.report_deployment(key, "staging", "success") == 200

    assert upstreams.servicenow_state(number) == before_state
    after = release(gql, key)
    assert after["status"] == before["status"]
    assert after["history"] == before["history"]


def test_a_change_the_itsm_will_not_move_is_answered_202_and_audited(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    key = current_release(upstreams.world, "PAY")
    [change] = gql.data(CHANGE_ID, {"k": key})["release"]["changeRequests"]
    gql.data(UPDATE, {"id": change["id"], "input": {"state": "CANCELED"}})

    assert upstreams.report_deployment(key, "production", "success") == 202

    assert upstreams.servicenow_state(change_number(upstreams.world, key)) == "4"  # Canceled
    [refused] = [e for e in release(gql, key)["history"]
                 if e["action"] == "change.webhook_refused"]
    assert refused["actor"] == "webhook:github"
    assert refused["reason"]


def test_a_deployment_never_approves_a_change_that_the_board_has_not(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    world = upstreams.world
    key = next(r.key for r in world.releases if r.app_key == "RPT" and r.status == "PLANNED")
    raised = gql.data("""mutation($id: ID!) { raiseChangeRequest(releaseId: $id,
        source: "servicenow") { changeRequest { number state } } }""",
                      {"id": release(gql, key)["id"]})["raiseChangeRequest"]["changeRequest"]
    assert raised["state"] == "NEW"
    # A compare link makes the release match the deployment reported below.
    tagged = next(r for r in world.releases if r.app_key == "RPT" and r.status == "DEPLOYED")
    app = world.app("RPT")
    gql.data("""mutation($id: ID!, $l: SourceLinkInput!) { linkSource(releaseId: $id, link: $l)
        { id } }""", {"id": release(gql, key)["id"], "l": {
        "source": "github", "kind": "CODE_RANGE",
        "externalKey": f"{app.repo_owner}/{app.repo_name}@{tagged.from_tag}...{tagged.to_tag}"}})

    assert upstreams.report_deployment(tagged.key, "production", "success") == 202

    assert upstreams.servicenow_state(raised["number"]) == "-5"  # still New
    refused = [e for e in release(gql, key)["history"] if e["action"] == "change.webhook_refused"]
    assert refused and "not authorized" in refused[0]["reason"]


def test_a_bad_or_missing_signature_is_401_and_changes_nothing(
        gql: GraphQLClient, upstreams: Upstreams, hub: str) -> None:
    key = current_release(upstreams.world, "CHK")  # ready, change scheduled
    before = release(gql, key)
    payload = deployment_payload(upstreams.world, key, "in_progress")

    forged = signed_post(hub, "github", payload, delivery=str(uuid.uuid4()),
                         secret="not the secret")
    unsigned = httpx.post(f"{hub}/webhooks/github/github", json=payload,
                          headers={"X-GitHub-Event": "deployment_status",
                                   "X-GitHub-Delivery": str(uuid.uuid4())})

    assert (forged.status_code, unsigned.status_code) == (401, 401)
    assert forged.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert release(gql, key) == before


def test_a_replayed_delivery_has_no_effect(gql: GraphQLClient, upstreams: Upstreams,
                                           hub: str) -> None:
    key = current_release(upstreams.world, "CHK")  # its code is in git: GitHub deploys it
    payload = deployment_payload(upstreams.world, key, "failure")
    delivery = str(uuid.uuid4())

    first = signed_post(hub, "github", payload, delivery=delivery)
    noted = len(release(gql, key)["history"])
    replayed = signed_post(hub, "github", payload, delivery=delivery)

    assert first.status_code == 200 and list(first.json()["changes"].values()) == ["noted"]
    assert replayed.status_code == 200 and replayed.json() == {"status": "duplicate"}
    assert len(release(gql, key)["history"]) == noted


def test_a_jira_issue_update_makes_the_next_read_fresh(gql: GraphQLClient,
                                                       upstreams: Upstreams) -> None:
    key = current_release(upstreams.world, "INV")
    items = release(gql, key)["workItems"]["nodes"]  # now cached for minutes
    issue = next(i for i in items
                 if i["source"]["name"] == "jira" and i["statusLabel"] != "Done")
    moved = httpx.post(f"{upstreams.url}/sandbox/jira/rest/api/3/issue/{issue['key']}/transitions",
                       json={"transition": {"id": "41"}},
                       auth=(CREDENTIALS.username, CREDENTIALS.token))
    assert moved.status_code == 204

    assert upstreams.last_answer("jira", "jira:issue_updated") == 204
    fresh = release(gql, key)["workItems"]["nodes"]
    assert (issue["key"], "Done") in {(i["key"], i["statusLabel"]) for i in fresh}


def test_a_github_pull_request_merged_makes_the_next_read_fresh(gql: GraphQLClient,
                                                                upstreams: Upstreams) -> None:
    keys = [r.key for r in upstreams.world.releases]
    found = ((key, item) for key in keys for item in release(gql, key)["workItems"]["nodes"]
             if item["source"]["name"] == "github" and item["statusLabel"] == "open"
             and "#" in item["key"])
    key, pull = next(found)  # an open pull request in a release's milestone, now cached
    repo, number = pull["key"].split("#")
    merged = httpx.put(f"{upstreams.url}/sandbox/github/repos/{repo}/pulls/{number}/merge",
                       headers={"Authorization": f"Bearer {CREDENTIALS.token}"})
    assert merged.status_code == 200, merged.text

    assert upstreams.last_answer("github", "pull_request") == 204
    fresh = {i["key"]: i["statusLabel"] for i in release(gql, key)["workItems"]["nodes"]}
    assert fresh[pull["key"]] == "merged"


def test_a_jira_version_deleted_upstream_is_a_broken_link_at_the_next_read(
        gql: GraphQLClient, upstreams: Upstreams) -> None:
    jira = httpx.Client(base_url=f"{upstreams.url}/sandbox/jira/rest/api/3",
                        auth=(CREDENTIALS.username, CREDENTIALS.token))
    version = jira.post("/version", json={"name": "2028.04", "project": "NTF"}).json()
    made = gql.data("""mutation($i: CreateReleaseInput!) { createRelease(input: $i) { id } }""",
                    {"i": {"key": "NTF-GONE", "name": "Gone", "type": "PROJECT",
                           "applicationKeys": ["NTF"]}})["createRelease"]["id"]
    gql.data("""mutation($id: ID!, $l: SourceLinkInput!) { linkSource(releaseId: $id, link: $l)
        { id } }""", {"id": made, "l": {"source": "jira", "kind": "PLANNED_VERSION",
                                        "externalKey": version["id"]}})
    readiness = """query { release(key: "NTF-GONE") { readiness { complete
        perSource { source problemCode } } } }"""
    assert gql.data(readiness)["release"]["readiness"]["complete"]  # read, and kept 5 min

    assert jira.delete(f"/version/{version['id']}").status_code == 204
    jira.close()
    assert upstreams.last_answer("jira", "jira:version_deleted") == 204
    after = gql.post(readiness)["data"]["release"]["readiness"]
    assert not after["complete"]
    assert after["perSource"] == [{"source": "jira", "problemCode": "BAD_LINK_KEY"}]


def test_a_jira_delivery_older_than_the_tolerance_is_refused(hub: str) -> None:
    stale = {"timestamp": int((time.time() - 3600) * 1000), "webhookEvent": "jira:issue_updated"}
    response = signed_post(hub, "jira", stale, delivery=str(uuid.uuid4()))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "STALE_DELIVERY"


def test_a_source_without_webhooks_is_not_found(hub: str) -> None:
    response = httpx.post(f"{hub}/webhooks/github/servicenow", json={})
    assert response.status_code == 404
