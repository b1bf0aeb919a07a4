"""Upstream webhooks: one generic route, verified, taken once, handed to the services.

`POST /webhooks/{source}` takes deliveries for the connector instance named
`source`, when its kind implements `connectors.webhooks.WebhookReceiver` and a
webhook secret is configured (`webhook_secret_env`). The kind knows its
vendor: which header carries the signature, how the body is signed, what a
delivery id and an event are. This route knows none of that; it does, for
every kind, in this order:

1. a delivery with none of the kind's signature headers, or declaring a body
   over `limits.max_webhook_body_bytes`, is refused before its body is read;
2. the kind verifies the signature (and a signed timestamp where its vendor
   sends one) in constant time, before anything is parsed for effect;
3. the kind parses the body into a neutral event;
4. the event is stored in the inbox (api/inbox.py) under its delivery id and a
   digest of the signed body, so a replay (under its own or a fresh delivery
   id, or at a second replica) does nothing, and a crash from here on loses
   nothing;
5. the inbox applies it, at once when it can: a production `DeploymentEvent`
   goes to `DeploymentService` (changes and releases move; an ITSM that refuses
   is recorded and answered 202, since a redelivery would only be refused
   again), `WorkChanged` clears the federation cache so the next read is fresh,
   `ChangeChanged` does too and tells subscribers of the change's releases.
   When it cannot (the ITSM is unreachable, an older event of the same record
   is pending), the answer is 202 `queued` and the inbox applies it later.

`POST /webhooks/{kind}/{source}`, the older per-kind address, is the same route
after checking that `source` is of `kind`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.domain.deployments import concerns_production
from api.hub import Hub
from api.inbox import Applied, Apply, Inbox
from api.security import refusal
from api.services.deployments import DeploymentService, Outcome
from api.services.pipeline_gates import PipelineGates
from api.services.upstream_events import change_moved_upstream
from api.settings import Settings
from connectors.config import ConnectorConfig
from connectors.webhooks import (
    ChangeChanged,
    DeploymentEvent,
    GateRequested,
    Ignored,
    Ping,
    WebhookEvent,
    WebhookReceiver,
    WebhookRefusal,
    WebhookRefused,
    WorkChanged,
    sha256_signature_valid,
)

log = logging.getLogger("heatshield.webhooks")

#: Kept for callers of the old name; the kinds use `connectors.webhooks` directly.
signature_valid = sha256_signature_valid

MAX_DELIVERY_ID_CHARS = 200
_REFUSALS = {WebhookRefusal.BAD_SIGNATURE: (401, "UNAUTHENTICATED"),
             WebhookRefusal.STALE_DELIVERY: (400, "STALE_DELIVERY"),
             WebhookRefusal.BAD_REQUEST: (400, "BAD_REQUEST")}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One connector instance's webhook endpoint: its receiver, config and secret."""

    receiver: WebhookReceiver
    config: ConnectorConfig
    secret: SecretStr

    @property
    def production_environment(self) -> str:
        return str(self.config.options.get("production_environment", "production"))


def endpoints(hub: Hub, configs: Sequence[ConnectorConfig],
              environ: Mapping[str, str] | None = None) -> dict[str, Endpoint]:
    """Instances whose kind receives webhooks and that have a secret, by name; read at
    start-up so a missing secret stops it."""
    found: dict[str, Endpoint] = {}
    for config in configs:
        secret = config.webhook_secret(environ)
        connector = hub.connectors.get(config.name)
        if secret is not None and isinstance(connector, WebhookReceiver):
            found[config.name] = Endpoint(connector, config, secret)
    return found


def body_digest(body: bytes) -> str:
    """What identifies a delivery's content: a replay under a fresh delivery id has the same."""
    return hashlib.sha256(body).hexdigest()


async def _body_within(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is (or is declared) larger than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _answer(outcome: Outcome) -> Applied:
    body = {"status": "processed", "releases": outcome.releases, "changes": outcome.changes,
            "refused": outcome.refused}
    return (202 if outcome.refused else 200), body


def event_applier(settings: Settings, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                  pipeline_gates: PipelineGates,
                  environ: Mapping[str, str] | None = None) -> Apply:
    """What the inbox calls to apply a stored event of a connector instance."""
    configured = endpoints(hub, settings.connectors, environ)

    async def apply(source: str, event: WebhookEvent) -> Applied:
        match event:
            case Ping():
                return 200, {"status": "pong"}
            case Ignored(reason=reason):
                return 200, {"status": "ignored", "reason": reason}
            case WorkChanged():
                hub.cache.clear()  # simple and safe: the next read of any source is fresh
                return 204, {}
            case ChangeChanged():
                releases = await change_moved_upstream(sessions, hub, source, event)
                return 200, {"status": "processed", "releases": releases,
                             "changes": [event.number], "refused": []}
            case GateRequested():
                return 200, await pipeline_gates.requested(source, event)
            case DeploymentEvent():
                endpoint = configured.get(source)
                production = endpoint.production_environment if endpoint else "production"
                if not concerns_production(event, production):
                    return 200, {"status": "ignored",
                                 "reason": f"environment {event.environment!r}"}
                service = DeploymentService(sessions, hub, settings, source)
                return _answer(await service.apply(event))
            case _:
                assert_never(event)

    return apply


def webhook_routes(settings: Settings, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                   inbox: Inbox, environ: Mapping[str, str] | None = None,
                   now: Callable[[], float] = time.time) -> list[BaseRoute]:
    """POST /webhooks/{source}, and the older POST /webhooks/{kind}/{source}; `now` is
    the clock signed timestamps are checked against (epoch seconds)."""
    configured = endpoints(hub, settings.connectors, environ)

    async def receive(request: Request, source: str, kind: str | None) -> Response:
        endpoint = configured.get(source)
        if endpoint is None or (kind is not None and endpoint.config.kind != kind):
            what = f"{kind} webhook" if kind else "webhook"
            return refusal(404, "NOT_FOUND", f"no {what} is configured for {source!r}")
        receiver, headers = endpoint.receiver, request.headers
        # Who sent it and how much they send are known from the headers: a delivery
        # that cannot be genuine is refused before its body is read.
        if not any(headers.get(name, "").strip() for name in receiver.signature_headers):
            log.warning("refused a webhook for %s: missing signature", source)
            return refusal(401, "UNAUTHENTICATED", "bad or missing webhook signature")
        limit = settings.limits.max_webhook_body_bytes
        body = await _body_within(request, limit)
        if body is None:
            return refusal(413, "PAYLOAD_TOO_LARGE", f"webhook body over {limit} bytes",
                           {"Connection": "close"})
        try:
            receiver.verify(headers, body, endpoint.secret.get_secret_value(), now())
            delivery = receiver.delivery_id(headers, body)
            if not delivery or len(delivery) > MAX_DELIVERY_ID_CHARS:
                return refusal(400, "BAD_REQUEST", "missing or overlong delivery id")
            event = receiver.parse(headers, body)
        except WebhookRefused as refused:
            if refused.reason is WebhookRefusal.BAD_SIGNATURE:
                log.warning("refused a webhook for %s: bad signature", source)
            status, code = _REFUSALS[refused.reason]
            return refusal(status, code, refused.message)
        event_type = receiver.event_type(headers, body)[:80]
        row_id = await inbox.accept(source, delivery, event_type, body_digest(body), event)
        if row_id is None:
            return JSONResponse({"status": "duplicate"})
        applied = await inbox.process(row_id, held=True,
                                      wait_seconds=settings.limits.webhook_wait_seconds)
        if applied is None:  # stored; the inbox applies it once it can
            return JSONResponse({"status": "queued"}, status_code=202)
        status, answer = applied
        return Response(status_code=204) if status == 204 else JSONResponse(answer, status)

    async def generic(request: Request) -> Response:
        return await receive(request, request.path_params["source"], None)

    async def of_kind(request: Request) -> Response:
        return await receive(request, request.path_params["source"], request.path_params["kind"])

    return [Route("/webhooks/{source}", generic, methods=["POST"]),
            Route("/webhooks/{kind}/{source}", of_kind, methods=["POST"])]
