"""GitHub's webhooks: `X-Hub-Signature-256`, `X-GitHub-Delivery`, and deployment statuses.

GitHub signs the raw body with HMAC-SHA256 of the hook's secret and sends no
timestamp, so replay protection is the hub's claim on the delivery id and the
body's digest. `deployment_status` becomes a `DeploymentEvent`; `ping` a
`Ping`; `issues`, `pull_request` and `milestone` a `WorkChanged` (what milestones and
code ranges hold has changed); every other event is `Ignored`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from connectors.github.mapping import DEPLOYMENT_STATE
from connectors.webhooks import (
    DeploymentEvent,
    GateRequested,
    Ignored,
    Ping,
    WebhookEvent,
    WebhookRefusal,
    WebhookRefused,
    WorkChanged,
    json_object,
    sha256_signature_valid,
)

SIGNATURE_HEADER = "x-hub-signature-256"
DELIVERY_HEADER = "x-github-delivery"
EVENT_HEADER = "x-github-event"


#: Events that change what a milestone or a code range holds (an issue or a pull request
#: opened, closed, merged, moved between milestones; a milestone edited or deleted).
WORK_EVENTS = frozenset({"issues", "pull_request", "milestone"})


def _work_key(payload: Mapping[str, Any], event: str) -> tuple[str, ...]:
    """`owner/repo#number` of the issue or pull request an event names (a milestone's
    number is no issue's)."""
    if event == "milestone":
        return ()
    record = payload.get("issue" if event == "issues" else event)
    repository = payload.get("repository")
    number = record.get("number") if isinstance(record, Mapping) else None
    name = repository.get("full_name") if isinstance(repository, Mapping) else None
    return (f"{name}#{number}",) if isinstance(number, int) and isinstance(name, str) else ()


class GitHubWebhooks:
    """`WebhookReceiver` for GitHub; mixed into the connector class."""

    signature_headers: ClassVar[tuple[str, ...]] = (SIGNATURE_HEADER,)

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str,
               now: float) -> None:
        if not sha256_signature_valid(secret, body, headers.get(SIGNATURE_HEADER)):
            raise WebhookRefused(WebhookRefusal.BAD_SIGNATURE, "bad or missing webhook signature")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return headers.get(DELIVERY_HEADER, "").strip() or None

    def event_type(self, headers: Mapping[str, str], body: bytes) -> str:
        return headers.get(EVENT_HEADER, "").strip()

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        event = self.event_type(headers, body)
        if event == "ping":
            return Ping()
        if event == "deployment_protection_rule":
            return gate_request(json_object(body))
        if event in WORK_EVENTS:
            return WorkChanged(keys=_work_key(json_object(body), event))
        if event != "deployment_status":
            return Ignored(f"event {event!r}")
        found = deployment_event(json_object(body))
        if found is None:
            raise WebhookRefused(WebhookRefusal.BAD_REQUEST, "not a deployment_status payload")
        return found


def gate_request(payload: Mapping[str, Any]) -> WebhookEvent:
    """A custom deployment protection rule asks; `requested` is the only action."""
    if payload.get("action") != "requested":
        return Ignored(f"deployment_protection_rule {payload.get('action')!r}")
    repository, deployment = payload.get("repository"), payload.get("deployment")
    callback, environment = payload.get("deployment_callback_url"), payload.get("environment")
    if not (isinstance(repository, dict) and isinstance(deployment, dict)):
        raise WebhookRefused(WebhookRefusal.BAD_REQUEST, "not a deployment_protection_rule")
    full_name, ref = repository.get("full_name"), deployment.get("ref")
    if not all(isinstance(v, str) and v for v in (full_name, ref, callback, environment)):
        raise WebhookRefused(WebhookRefusal.BAD_REQUEST, "not a deployment_protection_rule")
    return GateRequested(repository=str(full_name), ref=str(ref),
                         environment=str(environment), callback=str(callback),
                         deployment_id=str(deployment.get("id", "")))


def deployment_event(payload: Mapping[str, Any]) -> WebhookEvent | None:
    """None when the payload lacks what a deployment status must carry."""
    status, deployment = payload.get("deployment_status"), payload.get("deployment")
    repository = payload.get("repository")
    if not (isinstance(status, dict) and isinstance(deployment, dict)
            and isinstance(repository, dict)):
        return None
    full_name, ref = repository.get("full_name"), deployment.get("ref")
    label = status.get("state")
    environment = status.get("environment") or deployment.get("environment")
    if not all(isinstance(v, str) and v for v in (full_name, ref, label, environment)):
        return None
    state = DEPLOYMENT_STATE.get(str(label).lower())
    if state is None:
        return Ignored(f"deployment state {label!r}")
    return DeploymentEvent(
        reporter="GitHub", repository=str(full_name), ref=str(ref),
        environment=str(environment), state=state, state_label=str(label),
        deployment_id=str(deployment.get("id", "")),
        detail=str(status.get("description") or ""))
