"""ServiceNow's news of a change, pushed by a business rule's outbound REST message.

ServiceNow has no webhook of its own: an administrator adds an *after update*
business rule on `change_request` that posts the record's number, state and
approval (README, "ServiceNow: decisions pushed to Heatshield"). It proves
itself in one of two ways, option `webhook_auth`:

- `shared_secret` (default): header `X-Webhook-Secret` carries the secret,
  compared in constant time; simple to set up in a REST message;
- `hmac`: header `X-Heatshield-Signature` is `sha256=<hex HMAC-SHA256>` of the
  raw body (or the base64 MAC that `GlideCertificateEncryption.generateMac`
  returns), so the secret never travels.

The body's `timestamp` (epoch milliseconds) must be recent (option
`webhook_tolerance_seconds`, default 300). A record's `sys_mod_count` rises
with each update, so `sys_id:sys_mod_count` identifies a delivery: the same
update pushed twice is taken once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import ClassVar

from connectors.config import ConnectorConfig
from connectors.webhooks import (
    ChangeChanged,
    Ignored,
    WebhookEvent,
    WebhookRefusal,
    WebhookRefused,
    fresh_enough,
    json_object,
    sha256_signature_valid,
    tolerance_option,
)

SECRET_HEADER = "x-webhook-secret"
SIGNATURE_HEADER = "x-heatshield-signature"


def _base64_mac_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().encode())


class ServiceNowWebhooks:
    """`WebhookReceiver` for ServiceNow; mixed into the connector class (which has `settings`)."""

    settings: ConnectorConfig
    signature_headers: ClassVar[tuple[str, ...]] = (SECRET_HEADER, SIGNATURE_HEADER)

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str,
               now: float) -> None:
        mode = self.settings.options.get("webhook_auth", "shared_secret")
        if mode == "hmac":
            header = headers.get(SIGNATURE_HEADER)
            valid = (sha256_signature_valid(secret, body, header)
                     or _base64_mac_valid(secret, body, header))
        else:
            presented = headers.get(SECRET_HEADER, "").strip().encode()
            valid = bool(presented) and hmac.compare_digest(presented, secret.encode())
        if not valid:
            raise WebhookRefused(WebhookRefusal.BAD_SIGNATURE, "bad or missing webhook signature")
        payload = json_object(body)
        if not fresh_enough(payload.get("timestamp"), now,
                            tolerance_option(self.settings.options), required=True):
            raise WebhookRefused(WebhookRefusal.STALE_DELIVERY,
                                 "the delivery has no timestamp or is older than the tolerance")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        payload = json_object(body)
        sys_id, count = payload.get("sys_id"), payload.get("sys_mod_count")
        if not isinstance(sys_id, str) or not sys_id or count in (None, ""):
            return None
        return f"{sys_id}:{count}"

    def event_type(self, headers: Mapping[str, str], body: bytes) -> str:
        try:
            payload = json_object(body)
        except WebhookRefused:
            return ""
        return f"{payload.get('table', '')}.{payload.get('operation', 'update')}"

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        payload = json_object(body)
        if payload.get("table") != "change_request":
            return Ignored(f"table {payload.get('table')!r}")
        number = payload.get("number")
        if not isinstance(number, str) or not number.strip() or len(number) > 40:
            raise WebhookRefused(WebhookRefusal.BAD_REQUEST, "the change has no number")
        return ChangeChanged(number=number.strip(), state=str(payload.get("state", ""))[:40],
                             approval=str(payload.get("approval", ""))[:40])
