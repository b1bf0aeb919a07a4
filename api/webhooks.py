"""Upstream webhooks: verified, taken once, and moving the change request on.

A webhook is anonymous on the wire, so its signature is the only proof of who
sent it: an HMAC-SHA256 of the raw body with the connector's secret
(`webhook_secret_env`), compared in constant time before anything is read.
A delivery id and a digest of the signed body are claimed in the database
before any effect, so a replay (under its own or a fresh delivery id, or at a
second replica) does nothing; JIRA deliveries must carry a recent timestamp.

GitHub `deployment_status` events for the production environment move the
change requests linked to the deployed release: `in_progress` to IMPLEMENT,
`success` to REVIEW (and the release from DEPLOYING to DEPLOYED), `failure`
and `error` leave a work note. An ITSM that refuses is recorded and answered
202: GitHub would only redeliver the same refusal. JIRA `jira:issue_*`
events clear the federation cache so the next read is fresh.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.changes import ChangeBridge, ChangeBridgeError
from api.db import models as m
from api.db.audit import record
from api.domain.gates import authorizes_deployment
from api.errors import ServiceError
from api.hub import Hub
from api.security import refusal
from api.services.common import Ref
from api.services.releases import ReleaseService
from api.settings import Settings
from connectors.base import ChangePatch, ChangeState
from connectors.config import ConnectorConfig
from connectors.errors import UpstreamError, UpstreamRefused

log = logging.getLogger("heatshield.webhooks")

DEFAULT_TOLERANCE_SECONDS = 300
SIGNATURE_HEADERS = {"github": "x-hub-signature-256", "jira": "x-hub-signature"}
DELIVERY_HEADERS = {"github": "x-github-delivery", "jira": "x-atlassian-webhook-identifier"}

# The forward path a change walks; a deployment never moves a change backwards.
LIFECYCLE = (ChangeState.NEW, ChangeState.ASSESS, ChangeState.AUTHORIZE, ChangeState.SCHEDULED,
             ChangeState.IMPLEMENT, ChangeState.REVIEW, ChangeState.CLOSED)
DEPLOYMENT_TARGETS = {"in_progress": ChangeState.IMPLEMENT, "success": ChangeState.REVIEW}
FAILED_DEPLOYMENT_STATES = frozenset({"failure", "error"})


# --- rules without I/O -------------------------------------------------------------------

def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is `sha256=<hex HMAC-SHA256(secret, body)>`, compared in constant time."""
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


# Kinds whose payload carries a signed timestamp: a delivery without one is refused,
# else a captured body could be replayed for ever.
TIMESTAMPED_KINDS = frozenset({"jira"})


def fresh_enough(timestamp_ms: object, now: float, tolerance_seconds: float,
                 required: bool = False) -> bool:
    """A payload timestamp (epoch milliseconds) within the tolerance either way.

    A missing one is fine only where the kind never sends one (`required=False`).
    """
    if timestamp_ms is None:
        return not required
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int | float):
        return False
    return abs(now - timestamp_ms / 1000) <= tolerance_seconds


def already_reached(current: ChangeState, target: ChangeState) -> bool:
    """True when the change is at or past `target` on the forward path (nothing to do)."""
    if current not in LIFECYCLE:
        return False
    return LIFECYCLE.index(current) >= LIFECYCLE.index(target)


@dataclass(frozen=True, slots=True)
class DeploymentReport:
    """What a `deployment_status` event says happened."""

    repository: str
    ref: str
    environment: str
    state: str
    deployment_id: str
    description: str

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> DeploymentReport | None:
        """None when the payload lacks what a deployment status must carry."""
        status, deployment = payload.get("deployment_status"), payload.get("deployment")
        repository = payload.get("repository")
        if not (isinstance(status, dict) and isinstance(deployment, dict)
                and isinstance(repository, dict)):
            return None
        full_name, ref = repository.get("full_name"), deployment.get("ref")
        state = status.get("state")
        environment = status.get("environment") or deployment.get("environment")
        if not all(isinstance(v, str) and v for v in (full_name, ref, state, environment)):
            return None
        return cls(repository=str(full_name), ref=str(ref), environment=str(environment),
                   state=str(state), deployment_id=str(deployment.get("id", "")),
                   description=str(status.get("description") or ""))

    def note(self) -> str:
        said = f": {self.description}" if self.description else ""
        return (f"GitHub reports deployment {self.deployment_id} of {self.repository} "
                f"{self.ref} to {self.environment}: {self.state}{said}")


@dataclass
class Outcome:
    """What a delivery did, answered to the sender (and read by tests and operators)."""

    status: str = "processed"
    releases: list[str] = field(default_factory=list)
    changes: dict[str, str] = field(default_factory=dict)  # "source:number" -> what happened
    refused: dict[str, str] = field(default_factory=dict)  # "source:number" -> why

    def response(self) -> Response:
        body = {"status": self.status, "releases": self.releases, "changes": self.changes,
                "refused": self.refused}
        return JSONResponse(body, status_code=202 if self.refused else 200)


# --- I/O ---------------------------------------------------------------------------------

class DeploymentMover:
    """Applies one production deployment report to the releases and changes it concerns."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                 settings: Settings, source: str) -> None:
        self.sessions = sessions
        self.hub = hub
        self.bridge = ChangeBridge(sessions, hub, settings)
        self.source = source
        self.actor = f"webhook:{source}"

    async def apply(self, report: DeploymentReport) -> Outcome:
        outcome = Outcome()
        releases = await self._releases(report)
        outcome.releases = [key for _, key in releases]
        changes = await self._changes([release_id for release_id, _ in releases])
        try:
            for release_id, source, number in changes:
                await self._move(report, release_id, source, number, outcome)
            if report.state == "success":
                for release_id, _ in releases:
                    await self._deployed(release_id, report)
        finally:
            self.hub.cache.clear()  # whatever moved, the next read must show it
        return outcome

    async def _releases(self, report: DeploymentReport) -> list[tuple[int, str]]:
        prefix = f"{report.repository}@"
        async with self.sessions() as session:
            rows = (await session.execute(
                select(m.SourceLink.release_id, m.SourceLink.external_key, m.Release.key)
                .join(m.Release, m.Release.id == m.SourceLink.release_id)
                .where(m.SourceLink.source == self.source,
                       m.SourceLink.kind == m.LinkKind.CODE_RANGE,
                       m.SourceLink.external_key.istartswith(prefix, autoescape=True))
                .order_by(m.Release.key))).all()
        connector = self.hub.connectors.get(self.source)
        if connector is None:
            return []
        deployed = (report.repository.casefold(), report.ref)
        return [(release_id, key) for release_id, external_key, key in rows
                if (code := connector.code_ref(m.LinkKind.CODE_RANGE, external_key))
                and (code[0].casefold(), code[1]) == deployed]

    async def _changes(self, release_ids: Sequence[int]) -> list[tuple[int, str, str]]:
        if not release_ids:
            return []
        async with self.sessions() as session:
            rows = (await session.execute(
                select(m.SourceLink.release_id, m.SourceLink.source, m.SourceLink.external_key)
                .where(m.SourceLink.release_id.in_(release_ids),
                       m.SourceLink.kind == m.LinkKind.CHANGE_REQUEST)
                .order_by(m.SourceLink.id))).all()
        return [(r, s, n) for r, s, n in rows]

    async def _move(self, report: DeploymentReport, release_id: int, source: str,
                    number: str, outcome: Outcome) -> None:
        key = f"{source}:{number}"
        target = DEPLOYMENT_TARGETS.get(report.state)
        try:
            if report.state in FAILED_DEPLOYMENT_STATES:
                await self.bridge.update_change(
                    source=source, number=number, patch=ChangePatch(note=report.note()),
                    actor=self.actor, reason=report.note())
                outcome.changes[key] = "noted"
                return
            if target is None:
                outcome.changes[key] = "unchanged"
                return
            current = (await self.bridge.change_source(source).changes([number])).get(number)
            if current is None:
                raise ChangeBridgeError(f"change {number!r} does not exist in {source!r}",
                                        "NOT_FOUND")
            if already_reached(current.state, target):
                outcome.changes[key] = f"already {current.state.name}"
                return
            if not authorizes_deployment(current):
                # A deployment report never approves a change: only the ITSM's board does.
                raise ChangeBridgeError(
                    f"change {number} is {current.state_label} and not authorized; the "
                    "deployment does not move it", "NOT_AUTHORIZED")
            moved = await self.bridge.update_change(
                source=source, number=number,
                patch=ChangePatch(state=target, note=report.note()),
                actor=self.actor, reason=report.note())
            outcome.changes[key] = moved.state.name
        except (UpstreamRefused, ChangeBridgeError, ServiceError) as error:
            reason = str(error) if isinstance(error, ChangeBridgeError) else error.message
            outcome.refused[key] = reason
            await self._record_refusal(release_id, key, target, reason)

    async def _record_refusal(self, release_id: int, key: str, target: ChangeState | None,
                              reason: str) -> None:
        async with self.sessions() as session, session.begin():
            record(session, actor=self.actor, action="change.webhook_refused",
                   entity_type="ChangeRequest", entity_id=None, entity_key=key,
                   release_id=release_id,
                   after={"state": target.name} if target else None, reason=reason)

    async def _deployed(self, release_id: int, report: DeploymentReport) -> None:
        """DEPLOYING -> DEPLOYED through the one transition path, only from DEPLOYING: a
        release in any other status, or moved meanwhile, is left as it is."""
        try:
            await ReleaseService(self.sessions, self.actor).transition(
                Ref(release_id, str(release_id)), m.ReleaseStatus.DEPLOYED,
                reason=report.note(), expected_status=m.ReleaseStatus.DEPLOYING)
        except ServiceError as refused:
            log.info("release %s left as it is: %s", release_id, refused.message)


@dataclass(frozen=True, slots=True)
class Receiver:
    """One connector's webhook endpoint: its kind, secret and options."""

    config: ConnectorConfig
    secret: SecretStr

    @property
    def tolerance(self) -> float:
        value = self.config.options.get("webhook_tolerance_seconds", DEFAULT_TOLERANCE_SECONDS)
        return float(value) if isinstance(value, int | float) else DEFAULT_TOLERANCE_SECONDS

    @property
    def production_environment(self) -> str:
        return str(self.config.options.get("production_environment", "production"))


def receivers(configs: Sequence[ConnectorConfig],
              environ: Mapping[str, str] | None = None) -> dict[str, Receiver]:
    """Connectors with a webhook secret, by name; read at start-up so a missing one stops it."""
    found: dict[str, Receiver] = {}
    for config in configs:
        secret = config.webhook_secret(environ)
        if secret is not None and config.kind in SIGNATURE_HEADERS:
            found[config.name] = Receiver(config, secret)
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


def webhook_routes(settings: Settings, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                   environ: Mapping[str, str] | None = None) -> list[BaseRoute]:
    """POST /webhooks/github/{source} and POST /webhooks/jira/{source}."""
    configured = receivers(settings.connectors, environ)

    async def receive(request: Request, kind: str) -> Response:
        source = request.path_params["source"]
        receiver = configured.get(source)
        if receiver is None or receiver.config.kind != kind:
            return refusal(404, "NOT_FOUND", f"no {kind} webhook is configured for {source!r}")
        # Who sent it and how much they send are known from the headers: a delivery
        # that cannot be genuine is refused before its body is read.
        if not request.headers.get(SIGNATURE_HEADERS[kind], "").strip():
            log.warning("refused a %s webhook for %s: missing signature", kind, source)
            return refusal(401, "UNAUTHENTICATED", "bad or missing webhook signature")
        limit = settings.limits.max_webhook_body_bytes
        body = await _body_within(request, limit)
        if body is None:
            return refusal(413, "PAYLOAD_TOO_LARGE", f"webhook body over {limit} bytes",
                           {"Connection": "close"})
        if not signature_valid(receiver.secret.get_secret_value(), body,
                               request.headers.get(SIGNATURE_HEADERS[kind])):
            log.warning("refused a %s webhook for %s: bad or missing signature", kind, source)
            return refusal(401, "UNAUTHENTICATED", "bad or missing webhook signature")
        delivery = request.headers.get(DELIVERY_HEADERS[kind], "").strip()
        if not delivery or len(delivery) > 200:
            return refusal(400, "BAD_REQUEST", f"missing {DELIVERY_HEADERS[kind]} header")
        try:
            payload = json.loads(body)
        except ValueError:
            return refusal(400, "BAD_REQUEST", "the body is not JSON")
        if not isinstance(payload, dict):
            return refusal(400, "BAD_REQUEST", "the body is not a JSON object")
        if not fresh_enough(payload.get("timestamp"), time.time(), receiver.tolerance,
                            required=kind in TIMESTAMPED_KINDS):
            return refusal(400, "STALE_DELIVERY",
                           "the delivery has no timestamp or is older than the tolerance")
        event = (request.headers.get("x-github-event", "") if kind == "github"
                 else str(payload.get("webhookEvent", "")))[:80]
        if not await _claim(sessions, source, delivery, event, body_digest(body)):
            return JSONResponse({"status": "duplicate"})
        try:
            if kind == "github":
                return await _github(receiver, event, payload)
            return _jira(event)
        except UpstreamError as error:
            # The ITSM could not be reached: let the sender's redelivery try again.
            await _release_claim(sessions, source, delivery)
            log.warning("webhook %s from %s not applied: %s", delivery, source, error.message)
            return refusal(503, error.code.value, f"{error.source}: {error.message}")

    async def _github(receiver: Receiver, event: str, payload: dict[str, Any]) -> Response:
        if event == "ping":
            return JSONResponse({"status": "pong"})
        if event != "deployment_status":
            return JSONResponse({"status": "ignored", "reason": f"event {event!r}"})
        report = DeploymentReport.parse(payload)
        if report is None:
            return refusal(400, "BAD_REQUEST", "not a deployment_status payload")
        if report.environment != receiver.production_environment:
            return JSONResponse({"status": "ignored",
                                 "reason": f"environment {report.environment!r}"})
        mover = DeploymentMover(sessions, hub, settings, receiver.config.name)
        return (await mover.apply(report)).response()

    def _jira(event: str) -> Response:
        if event.startswith("jira:issue_"):
            hub.cache.clear()  # simple and safe: the next read of any source is fresh
            return Response(status_code=204)
        return JSONResponse({"status": "ignored", "reason": f"event {event!r}"})

    async def github(request: Request) -> Response:
        return await receive(request, "github")

    async def jira(request: Request) -> Response:
        return await receive(request, "jira")

    return [Route("/webhooks/github/{source}", github, methods=["POST"]),
            Route("/webhooks/jira/{source}", jira, methods=["POST"])]
