"""JIRA's admin webhooks: `X-Hub-Signature`, `X-Atlassian-Webhook-Identifier`, a timestamp.

JIRA signs the raw body (`sha256=<hex HMAC-SHA256>`) and puts the event's time
(epoch milliseconds) in the payload, so a delivery without a recent one is
refused: a captured body could otherwise be replayed for ever. Option
`webhook_tolerance_seconds` (default 300) says how recent. `jira:issue_*`
events become `WorkChanged`, and so do `jira:version_*` ones (a version deleted, merged,
renamed or released changes what its links hold); others are `Ignored`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from connectors.config import ConnectorConfig
from connectors.webhooks import (
    Ignored,
    WebhookEvent,
    WebhookRefusal,
    WebhookRefused,
    WorkChanged,
    fresh_enough,
    json_object,
    sha256_signature_valid,
    tolerance_option,
)

SIGNATURE_HEADER = "x-hub-signature"
DELIVERY_HEADER = "x-atlassian-webhook-identifier"


class JiraWebhooks:
    """`WebhookReceiver` for JIRA; mixed into the connector class (which has `settings`)."""

    settings: ConnectorConfig
    signature_headers: ClassVar[tuple[str, ...]] = (SIGNATURE_HEADER,)

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str,
               now: float) -> None:
        if not sha256_signature_valid(secret, body, headers.get(SIGNATURE_HEADER)):
            raise WebhookRefused(WebhookRefusal.BAD_SIGNATURE, "bad or missing webhook signature")
        payload = json_object(body)
        if not fresh_enough(payload.get("timestamp"), now,
                            tolerance_option(self.settings.options), required=True):
            raise WebhookRefused(WebhookRefusal.STALE_DELIVERY,
                                 "the delivery has no timestamp or is older than the tolerance")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return headers.get(DELIVERY_HEADER, "").strip() or None

    def event_type(self, headers: Mapping[str, str], body: bytes) -> str:
        try:
            return str(json_object(body).get("webhookEvent", ""))
        except WebhookRefused:
            return ""

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        payload = json_object(body)
        event = str(payload.get("webhookEvent", ""))
        if event.startswith("jira:version_"):
            return WorkChanged()
        if not event.startswith("jira:issue_"):
            return Ignored(f"event {event!r}")
        issue = payload.get("issue")
        key = issue.get("key") if isinstance(issue, dict) else None
        return WorkChanged(keys=(key,) if isinstance(key, str) and key else ())
