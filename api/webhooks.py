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
4. the delivery id and a digest of the signed body are claimed in the database,
   so a replay (under its own or a fresh delivery id, or at a second replica)
   does nothing;
5. the event goes to its service: a production `DeploymentEvent` to
   `DeploymentService` (changes and releases move; an ITSM that refuses is
   recorded and answered 202, since a redelivery would only be refused again),
   `WorkChanged` clears the federation cache so the next read is fresh.

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
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.db import models as m
from api.domain.deployments import concerns_production
from api.hub import Hub
from api.security import refusal
from api.services.deployments import DeploymentService, Outcome
from api.settings import Settings
from connectors.config import ConnectorConfig
from connectors.errors import UpstreamError
from connectors.webhooks import (
    DeploymentEvent,
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


async def _claim(sessions: async_sessionmaker[AsyncSession], source: str, delivery: str,
                 event: str, digest: str) -> bool:
    """Record the delivery id and body digest; False when either was seen before.

    The delivery id is chosen by whoever sends the request, so it alone cannot
    tell a replay; the signed body can (both are unique per source).
    """
    try:
        async with sessions() as session, session.begin():
            session.add(m.WebhookDelivery(source=source, delivery_id=delivery, event=event,
                                          digest=digest))
    except IntegrityError:
        return False
    return True


async def _release_claim(sessions: async_sessionmaker[AsyncSession], source: str,
                         delivery: str) -> None:
    """Forget a delivery that could not be applied, so the sender's redelivery is taken."""
    async with sessions() as session, session.begin():
        await session.execute(delete(m.WebhookDelivery).where(
            m.WebhookDelivery.source == source, m.WebhookDelivery.delivery_id == delivery))


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


def _answer(outcome: Outcome) -> Response:
    body = {"status": "processed", "releases": outcome.releases, "changes": outcome.changes,
            "refused": outcome.refused}
    return JSONResponse(body, status_code=202 if outcome.refused else 200)


def webhook_routes(settings: Settings, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                   environ: Mapping[str, str] | None = None,
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
        if not await _claim(sessions, source, delivery, event_type, body_digest(body)):
            return JSONResponse({"status": "duplicate"})
        try:
            return await _apply(endpoint, event)
        except UpstreamError as error:
            # The ITSM could not be reached: let the sender's redelivery try again.
            await _release_claim(sessions, source, delivery)
            log.warning("webhook %s from %s not applied: %s", delivery, source, error.message)
            return refusal(503, error.code.value, f"{error.source}: {error.message}")

    async def _apply(endpoint: Endpoint, event: WebhookEvent) -> Response:
        match event:
            case Ping():
                return JSONResponse({"status": "pong"})
            case Ignored(reason=reason):
                return JSONResponse({"status": "ignored", "reason": reason})
            case WorkChanged():
                hub.cache.clear()  # simple and safe: the next read of any source is fresh
                return Response(status_code=204)
            case DeploymentEvent():
                if not concerns_production(event, endpoint.production_environment):
                    return JSONResponse({"status": "ignored",
                                         "reason": f"environment {event.environment!r}"})
                service = DeploymentService(sessions, hub, settings, endpoint.config.name)
                return _answer(await service.apply(event))
            case _:
                assert_never(event)

    async def generic(request: Request) -> Response:
        return await receive(request, request.path_params["source"], None)

    async def of_kind(request: Request) -> Response:
        return await receive(request, request.path_params["source"], request.path_params["kind"])

    return [Route("/webhooks/{source}", generic, methods=["POST"]),
            Route("/webhooks/{kind}/{source}", of_kind, methods=["POST"])]
