"""The generic webhook route: `/webhooks/{source}`, for any kind that implements the protocol.

A minimal kind defined here ("beacon", registered like any plug-in kind, no
file under `api/` knows it) receives signed deliveries on the same route as
GitHub and JIRA: its signature header is checked before the body is read,
its deliveries are claimed against replay, and its deployment reports move
releases through the same services. The older per-kind addresses share the
route and its claims.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import pytest

from api.demo import WEBHOOK_SECRET, WEBHOOK_SECRET_ENV, demo_connectors
from connectors.base import Connector, DeploymentState, LinkKind
from connectors.config import ConnectorConfig
from connectors.registry import default_registry
from connectors.webhooks import (
    DeploymentEvent,
    Ignored,
    Ping,
    WebhookEvent,
    WebhookRefusal,
    WebhookRefused,
    json_object,
    sha256_signature_valid,
)
from tests.adversarial.conftest import Hub, Upstreams, start_hub
from tests.support.databases import BACKENDS, fresh_database

SIGNATURE = "x-beacon-signature"
CREATE = """mutation($input: CreateReleaseInput!) { createRelease(input: $input) { id key } }"""
LINK = """mutation($id: ID!, $link: SourceLinkInput!) { linkSource(releaseId: $id, link: $link)
  { id } }"""
TRANSITION = """mutation($id: ID!, $to: ReleaseStatus!, $override: GateOverrideInput) {
  transitionRelease(id: $id, to: $to, override: $override) { status } }"""
RELEASE = """query($k: String!) { release(key: $k) { status
  history(first: 50) { action actor } } }"""


class BeaconConnector(Connector):
    """A kind with no upstream calls: it only reports deployments by webhook."""

    kind: ClassVar[str] = "beacon"
    signature_headers: ClassVar[tuple[str, ...]] = (SIGNATURE,)

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str,
               now: float) -> None:
        if not sha256_signature_valid(secret, body, headers.get(SIGNATURE)):
            raise WebhookRefused(WebhookRefusal.BAD_SIGNATURE, "bad beacon signature")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return headers.get("x-beacon-delivery")

    def event_type(self, headers: Mapping[str, str], body: bytes) -> str:
        return str(json_object(body).get("type", ""))

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        payload = json_object(body)
        if payload.get("type") == "ping":
            return Ping()
        if payload.get("type") != "deployed":
            return Ignored("not a deployment")
        return DeploymentEvent(reporter="Beacon", repository=str(payload["repo"]),
                               ref=str(payload["ref"]), environment=str(payload["env"]),
                               state=DeploymentState.SUCCESS, state_label="deployed")

    def code_ref(self, kind: LinkKind, key: str) -> tuple[str, str] | None:
        repository, _, ref = key.partition("@")
        return (repository, ref) if ref else None


@pytest.fixture(scope="module", params=BACKENDS)
def beacon_hub(request: pytest.FixtureRequest, upstreams: Upstreams,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The demo hub plus one beacon instance sharing the demo's webhook secret."""
    backend: str = request.param
    tmp: Path = tmp_path_factory.mktemp(f"beacon-{backend}")
    default_registry.register("beacon", BeaconConnector)
    beacon = ConnectorConfig(name="beacon", kind="beacon", base_url="http://127.0.0.1:9",
                             webhook_secret_env=WEBHOOK_SECRET_ENV)
    connectors = [c.model_dump() | {"timeout_seconds": 3, "max_retries": 1}
                  for c in [*demo_connectors(upstreams.url), beacon]]
    try:
        with fresh_database(backend, tmp) as url, \
                start_hub(upstreams, url, backend, connectors=connectors) as running:
            yield running
    finally:
        default_registry.unregister("beacon")


def beacon_post(hub: Hub, payload: dict[str, Any], *, path: str = "/webhooks/beacon",
                delivery: str | None = None, secret: str = WEBHOOK_SECRET) -> httpx.Response:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(f"{hub.url}{path}", content=body, timeout=30, headers={
        "Content-Type": "application/json", SIGNATURE: signature,
        "X-Beacon-Delivery": delivery or str(uuid.uuid4())})


def github_post(hub: Hub, path: str, body: bytes, delivery: str) -> httpx.Response:
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(f"{hub.url}{path}", content=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature,
        "X-GitHub-Event": "ping", "X-GitHub-Delivery": delivery})


def test_a_kind_registered_outside_api_moves_its_deployed_release_through_the_generic_route(
        beacon_hub: Hub) -> None:
    rm = beacon_hub.client()
    key = f"B-{uuid.uuid4().hex[:10]}"
    release_id = rm.data(CREATE, {"input": {"key": key, "name": f"Beacon {key}",
                                            "type": "PROJECT"}})["createRelease"]["id"]
    ref = f"v{uuid.uuid4().int % 10_000}.0"
    # The kind's own key format, as its `code_ref` reads it (the link kind is any that
    # names code; the kind accepts every printable key).
    rm.data(LINK, {"id": release_id, "link": {"source": "beacon", "kind": "GITHUB_COMPARE",
                                               "externalKey": f"acme/shop@{ref}"}})
    for status in ("IN_PROGRESS", "READY", "DEPLOYING"):
        rm.data(TRANSITION, {"id": release_id, "to": status, "override": {
            "reason": "Webhook route test: gates are not the subject"}
            if status == "DEPLOYING" else None})

    staging = beacon_post(beacon_hub, {"type": "deployed", "repo": "acme/shop", "ref": ref,
                                       "env": "staging"})
    production = beacon_post(beacon_hub, {"type": "deployed", "repo": "acme/shop", "ref": ref,
                                          "env": "production"})

    assert staging.json() == {"status": "ignored", "reason": "environment 'staging'"}
    assert production.status_code == 200, production.text
    assert production.json()["releases"] == [key]
    after = rm.data(RELEASE, {"k": key})["release"]
    assert after["status"] == "DEPLOYED"
    assert {"action": "release.transition", "actor": "webhook:beacon"} in after["history"]


def test_a_replayed_delivery_of_any_kind_is_a_duplicate(beacon_hub: Hub) -> None:
    payload = {"type": "ping", "nonce": uuid.uuid4().hex}
    first = beacon_post(beacon_hub, payload)
    replay = beacon_post(beacon_hub, payload)  # same body, fresh delivery id
    assert first.json() == {"status": "pong"}
    assert replay.json() == {"status": "duplicate"}


def test_a_bad_signature_on_the_generic_route_is_401(beacon_hub: Hub) -> None:
    refused = beacon_post(beacon_hub, {"type": "ping"}, secret="not the secret")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_delivery_without_the_kinds_signature_header_is_refused_before_its_body_is_read(
        beacon_hub: Hub) -> None:
    where = urlsplit(beacon_hub.url)
    with socket.create_connection((where.hostname, where.port), timeout=5) as raw:
        raw.sendall((f"POST /webhooks/beacon HTTP/1.1\r\nHost: {where.netloc}"
                     "\r\nContent-Type: application/json\r\nX-Hub-Signature-256: sha256=00\r\n"
                     "Content-Length: 200000\r\n\r\n").encode())  # another kind's header
        started = time.monotonic()
        said = raw.recv(4096)
    assert said.startswith(b"HTTP/1.1 401"), said[:200]
    assert time.monotonic() - started < 2  # answered without waiting for the body


def test_the_per_kind_address_and_the_generic_one_share_their_claims(beacon_hub: Hub) -> None:
    body = json.dumps({"zen": "Design for failure.", "hook_id": uuid.uuid4().int % 10**9}
                      ).encode()
    old = github_post(beacon_hub, "/webhooks/github/github", body, str(uuid.uuid4()))
    new = github_post(beacon_hub, "/webhooks/github", body, str(uuid.uuid4()))
    assert old.json() == {"status": "pong"}
    assert new.json() == {"status": "duplicate"}


def test_the_per_kind_address_refuses_a_source_of_another_kind(beacon_hub: Hub) -> None:
    body = json.dumps({"zen": uuid.uuid4().hex}).encode()
    wrong = github_post(beacon_hub, "/webhooks/jira/github", body, str(uuid.uuid4()))
    assert wrong.status_code == 404
    assert wrong.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_source_whose_kind_takes_no_webhooks_is_not_found(beacon_hub: Hub) -> None:
    response = httpx.post(f"{beacon_hub.url}/webhooks/remedy", json={}, timeout=30)
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
