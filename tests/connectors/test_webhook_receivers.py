"""GitHub's and JIRA's webhook receivers: what each verifies and what event it reports."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from starlette.datastructures import Headers

from connectors.base import DeploymentState
from connectors.config import ConnectorConfig
from connectors.github.client import GitHubConnector
from connectors.http import UpstreamClient
from connectors.jira.client import JiraConnector
from connectors.webhooks import (
    DeploymentEvent,
    Ignored,
    Ping,
    WebhookReceiver,
    WebhookRefusal,
    WebhookRefused,
    WorkChanged,
    sha256_signature_valid,
)

SECRET = "s3cret"
NOW = 1_800_000_000.0


def connector(kind: str, **options: Any) -> Any:
    config = ConnectorConfig(name=kind, kind=kind, base_url="http://127.0.0.1:9",
                             options=options)
    cls = GitHubConnector if kind == "github" else JiraConnector
    return cls(config, UpstreamClient.from_config(config, environ={}))


def signed(body: bytes, header: str, **extra: str) -> Headers:
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Headers({header: signature, **extra})


def test_the_documented_github_signature_test_vector_verifies() -> None:
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sha256_signature_valid(secret, body, good)
    assert not sha256_signature_valid(secret, body + b" ", good)
    assert not sha256_signature_valid(secret, body, good.replace("sha256=", "sha1="))


def test_both_kinds_implement_the_protocol_and_declare_their_signature_header() -> None:
    github, jira = connector("github"), connector("jira")
    assert isinstance(github, WebhookReceiver) and isinstance(jira, WebhookReceiver)
    assert github.signature_headers == ("x-hub-signature-256",)
    assert jira.signature_headers == ("x-hub-signature",)


def test_github_deployment_status_becomes_a_neutral_deployment_event() -> None:
    body = json.dumps({
        "deployment_status": {"state": "in_progress", "environment": "production",
                              "description": "rolling"},
        "deployment": {"id": 9, "ref": "v1.0.0"},
        "repository": {"full_name": "acme/shop"}}).encode()
    headers = signed(body, "X-Hub-Signature-256", **{"X-GitHub-Event": "deployment_status",
                                                     "X-GitHub-Delivery": "d-1"})
    github = connector("github")
    github.verify(headers, body, SECRET, NOW)
    assert github.delivery_id(headers, body) == "d-1"
    assert github.parse(headers, body) == DeploymentEvent(
        reporter="GitHub", repository="acme/shop", ref="v1.0.0", environment="production",
        state=DeploymentState.IN_PROGRESS, state_label="in_progress", deployment_id="9",
        detail="rolling")


def test_github_refuses_a_body_signed_with_another_secret_and_a_bad_payload() -> None:
    body = b'{"deployment_status": {}}'
    headers = signed(body, "X-Hub-Signature-256", **{"X-GitHub-Event": "deployment_status"})
    github = connector("github")
    with pytest.raises(WebhookRefused) as refused:
        github.verify(headers, body, "another secret", NOW)
    assert refused.value.reason is WebhookRefusal.BAD_SIGNATURE
    with pytest.raises(WebhookRefused) as unreadable:
        github.parse(headers, body)
    assert unreadable.value.reason is WebhookRefusal.BAD_REQUEST


def test_github_ping_and_other_events() -> None:
    github = connector("github")
    assert github.parse(Headers({"X-GitHub-Event": "ping"}), b"{}") == Ping()
    assert isinstance(github.parse(Headers({"X-GitHub-Event": "push"}), b"{}"), Ignored)


def test_github_issue_pull_request_and_milestone_events_change_work() -> None:
    github = connector("github")
    repo = {"full_name": "acme-retail/payments-service"}
    for event, payload, keys in [
            ("pull_request", {"action": "closed", "pull_request": {"number": 24},
                              "repository": repo}, ("acme-retail/payments-service#24",)),
            ("issues", {"action": "milestoned", "issue": {"number": 7}, "repository": repo},
             ("acme-retail/payments-service#7",)),
            ("milestone", {"action": "deleted", "milestone": {"number": 4},
                           "repository": repo}, ())]:
        body = json.dumps(payload).encode()
        assert github.parse(Headers({"X-GitHub-Event": event}), body) == WorkChanged(keys=keys)


def test_jira_needs_a_signed_timestamp_within_the_tolerance() -> None:
    jira = connector("jira", webhook_tolerance_seconds=60)
    for payload in ({"webhookEvent": "jira:issue_updated"},
                    {"webhookEvent": "jira:issue_updated", "timestamp": (NOW - 61) * 1000}):
        body = json.dumps(payload).encode()
        with pytest.raises(WebhookRefused) as refused:
            jira.verify(signed(body, "X-Hub-Signature"), body, SECRET, NOW)
        assert refused.value.reason is WebhookRefusal.STALE_DELIVERY
    fresh = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": NOW * 1000,
                        "issue": {"key": "SHOP-1"}}).encode()
    headers = signed(fresh, "X-Hub-Signature", **{"X-Atlassian-Webhook-Identifier": "j-1"})
    jira.verify(headers, fresh, SECRET, NOW)
    assert jira.delivery_id(headers, fresh) == "j-1"
    assert jira.parse(headers, fresh) == WorkChanged(keys=("SHOP-1",))


@pytest.mark.parametrize("event", ["jira:version_deleted", "jira:version_merged",
                                   "jira:version_updated", "jira:version_released"])
def test_a_jira_version_event_changes_work_and_others_are_ignored(event: str) -> None:
    # A version deleted, merged or renamed changes what every link to it holds.
    jira = connector("jira")
    body = json.dumps({"webhookEvent": event, "timestamp": NOW * 1000,
                       "version": {"id": "10040", "name": "2.4.0"}}).encode()
    assert jira.parse({}, body) == WorkChanged()
    other = json.dumps({"webhookEvent": "sprint_started", "timestamp": NOW * 1000}).encode()
    assert isinstance(jira.parse({}, other), Ignored)
