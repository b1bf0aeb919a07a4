"""The application factory: routes, lifespan (engine, migrations), the graph."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.auth import Authenticator
from api.cache import UpstreamCache
from api.calendar_feed import feed_routes
from api.db.engine import create_engine, session_factory
from api.db.migrate import upgrade
from api.db.models import Role
from api.envelope import Envelope
from api.events import LocalBus, PostgresRelay, Subscription, asyncpg_dsn, is_postgres
from api.events import install as install_events
from api.exports import export_routes
from api.gates import gate_routes, read_gates, verdict
from api.graphql_view import HeatshieldGraphQL
from api.hub import Hub
from api.inbox import Inbox
from api.permissions import Principal
from api.persisted_queries import PersistedQueries, read_manifest
from api.persisted_store import PersistedQueryStore
from api.poller import ChangePolling
from api.reports import report_routes
from api.response_cache import ResponseCache
from api.schema import build_schema
from api.schema.context import Context
from api.security import SecurityMiddleware, auth_routes, principal_of
from api.services.changes import ChangeService
from api.services.pipeline_gates import PipelineGates, Verdict
from api.settings import Settings, SettingsError
from api.shared_state import SharedState, SharedStateMiddleware
from api.spa import spa_routes
from api.telemetry import Tracing
from api.webhooks import event_applier, webhook_routes
from connectors.http import install_log_redaction
from connectors.registry import build_connectors

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from api.metrics import Metrics, RequestMetrics


class HubApp(Starlette):
    """Starlette without its outermost error layer: `Envelope` answers what escapes every
    route (a coded 500 with a reference), and that layer's own `send` wrapper cost every
    answer one more coroutine."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack.app if isinstance(stack, ServerErrorMiddleware) else stack


Startup = Callable[[async_sessionmaker[AsyncSession]], Awaitable[None]]
# Who the hub is when it reads the graph for itself (a pipeline gate's verdict).
SYSTEM = Principal(subject="heatshield", role=Role.VIEWER, via="token")


def create_app(settings: Settings, *, migrate: bool = True,
               environ: Mapping[str, str] | None = None,
               mounts: Sequence[BaseRoute] = (), startup: Sequence[Startup] = (),
               public_prefixes: Sequence[str] = (),
               clock: Callable[[], float] = time.monotonic,
               span_exporter: SpanExporter | None = None) -> Starlette:
    """Build the ASGI app; nothing touches the database until the lifespan starts.

    Connector secrets are read from `environ` (default: the process environment)
    now, so a missing one stops start-up with its variable's name. `mounts` adds
    routes (the demo's sandboxes); `startup` runs after migrations (the demo's seed).
    Every route but the public ones needs a principal; `public_prefixes` widens the
    public set (the demo's sandboxes, which check their own credentials).
    `clock` (monotonic seconds) ages what outlives a request: the answers cache, the
    connectors' breakers and login tokens; tests move it instead of sleeping.
    Log redaction is installed here, at start-up: importing the HTTP layer installs nothing.
    `span_exporter` receives the app's trace spans as they end (api/telemetry.py), with
    or without `[telemetry] otlp_endpoint`.
    """
    install_log_redaction()
    database = settings.database
    engine = create_engine(database.url, echo=database.echo, pool_size=database.pool_size,
                           max_overflow=database.max_overflow,
                           pool_timeout=database.pool_timeout_seconds)
    # This app's sessions tell its bus (and, on PostgreSQL, every replica's) what they wrote.
    bus = LocalBus(per_owner=settings.events.subscriptions_per_caller,
                   queue_size=settings.events.subscriber_queue)
    postgres = is_postgres(database.url)
    session_class: type[Session] = type("HubSession", (Session,), {})
    install_events(session_class, bus, postgres=postgres)
    sessions = session_factory(engine, session_class)
    relay = PostgresRelay(asyncpg_dsn(database.url), bus) if postgres else None
    schema = build_schema(settings.limits, introspection=settings.introspection)
    # Rate limits, login throttling, breakers and cache invalidation: this process's own,
    # or shared with every replica through Redis (`[redis] url`).
    shared = SharedState(settings, clock)
    key = settings.security.secret_key
    # Without a configured key, sessions last as long as this process (development only).
    authenticator = Authenticator(sessions, settings.security,
                                  key.get_secret_value() if key else secrets.token_urlsafe(32),
                                  clock=clock, throttle=shared.login_throttle)
    authenticator.watch_access_writes(session_class)

    federation = settings.federation
    hub = Hub(build_connectors(settings.connectors, environ=environ, clock=clock),
              UpstreamCache(ttl=federation.cache_ttl_seconds,
                            max_stale=federation.cache_max_stale_seconds,
                            max_entries=federation.cache_max_entries, clock=clock),
              deadline_seconds=federation.request_deadline_seconds,
              max_background=federation.max_background_fetches)
    # Whole read answers, dropped by every committed write here (at once) or elsewhere (the
    # relay's events), by upstream invalidations and by upstream answers that changed.
    graphql_settings = settings.graphql
    responses = ResponseCache(
        ttl=min(graphql_settings.response_cache_seconds, federation.cache_ttl_seconds),
        max_entries=graphql_settings.response_cache_entries,
        max_bytes=graphql_settings.response_cache_max_bytes,
        max_tokens=settings.limits.max_tokens, clock=clock)
    responses.watch_writes(session_class)
    hub.cache.listeners.append(responses.bump)
    hub.cache.refreshed.append(responses.bump)
    authenticator.flushed.append(responses.bump)
    shared.attach(hub.cache, {name: c.http.breaker for name, c in hub.connectors.items()})
    metrics: Metrics | None = None
    request_metrics: RequestMetrics | None = None
    if settings.metrics.enabled:
        # Imported only when metrics are on: prometheus-client is a start's cost otherwise.
        from api.metrics import Metrics, RequestMetrics, metrics_routes

        metrics = Metrics(settings.metrics, hub)
        metrics.attach(hub)
        metrics.watch_responses(responses)
        request_metrics = RequestMetrics(metrics)
    tracing = Tracing.from_settings(settings.telemetry, span_exporter)
    if tracing is not None:
        hub.tracer = tracing.tracer

    # Upstream events are stored before they are applied; this loop applies what the
    # webhook routes could not at once (and what a crash or a restart left behind).
    async def gate_verdict(key: str) -> Verdict | None:
        context = Context(settings=settings, sessions=sessions, hub=hub, principal=SYSTEM)
        release = await read_gates(schema, context, key)
        return verdict(release) if release is not None else None

    pipeline_gates = PipelineGates(sessions, hub, gate_verdict)
    inbox = Inbox(sessions, event_applier(settings, sessions, hub, pipeline_gates, environ))
    polling = ChangePolling(sessions, hub, inbox)

    def make_context(request: Any, response: Any) -> Context:
        return Context(settings=settings, sessions=sessions, hub=hub, request=request,
                       response=response, principal=principal_of(request.scope), bus=bus,
                       still_allowed=authenticator.still_allowed)

    persisted_store = PersistedQueryStore(
        sessions, max_entries=settings.graphql.persisted_queries_max_entries)
    persisted = PersistedQueries(persisted_store, settings.graphql.persisted_queries,
                                 max_tokens=settings.limits.max_tokens)
    manifest = settings.graphql.persisted_queries_manifest
    # Read (and checked against the schema) now, so a bad manifest stops start-up.
    try:
        registered = read_manifest(manifest, schema._schema) if manifest else []
    except ValueError as exc:
        raise SettingsError(f"graphql.persisted_queries_manifest: {exc}") from None
    graphql = HeatshieldGraphQL(schema, make_context=make_context, graphql_ide="graphiql",
                                persisted=persisted, responses=responses,
                                subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if migrate:
            await upgrade(engine)
        if relay is not None:
            await relay.start()
        await shared.start()
        woken = bus.subscribe("heatshield:pipeline-gates", lambda e: e.release_id is not None)
        # Other replicas' writes (on PostgreSQL every write comes back through the relay).
        written = bus.subscribe("heatshield:response-cache") if postgres else None
        access = bus.subscribe("heatshield:principal-cache") if postgres else None
        loops = [asyncio.create_task(inbox.run(), name="heatshield-inbox"),
                 asyncio.create_task(pipeline_gates.run(woken.queue),  # type: ignore[arg-type]
                                     name="heatshield-pipeline-gates")]
        loops.append(asyncio.create_task(
            authenticator.flush_every(settings.security.last_used_flush_seconds),
            name="heatshield-last-used"))
        if access is not None:
            loops.append(asyncio.create_task(authenticator.forget_on(access),
                                             name="heatshield-principal-cache"))
        if written is not None:
            loops.append(asyncio.create_task(_bump_on(written, responses),
                                             name="heatshield-response-cache"))
        if settings.events.poll_seconds and polling.sources():
            loops.append(asyncio.create_task(polling.run(settings.events.poll_seconds),
                                             name="heatshield-poller"))
        if registered:
            await persisted_store.register(registered)
        for step in startup:
            await step(sessions)
        # Change requests a crash left half-raised are found upstream, never raised again.
        await ChangeService(sessions, hub, settings).reconcile()
        try:
            yield
        finally:
            woken.close()
            if written is not None:
                written.close()
            if access is not None:
                access.close()
            for loop in loops:
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
            with contextlib.suppress(Exception):  # last uses are worth a try, not a hang
                await asyncio.wait_for(authenticator.flush(), timeout=5)
            if relay is not None:
                await relay.stop()
            await shared.aclose()
            await hub.aclose()
            await engine.dispose()
            if tracing is not None:
                tracing.shutdown()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not ready"; say which kind
            return JSONResponse({"status": "unavailable", "database": type(exc).__name__},
                                status_code=503)
        return JSONResponse({"status": "ok", "database": engine.dialect.name})

    server_routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        # Every method reaches the view, which answers the ones it does not take with a
        # coded 405 and an Allow header (GraphQL over HTTP).
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        *auth_routes(settings, authenticator),
        *webhook_routes(settings, sessions, hub, inbox, environ),
        *gate_routes(settings, schema, sessions, bus, make_context),
        *feed_routes(sessions, hub),
        *export_routes(settings, sessions, hub, schema),
        *report_routes(settings, sessions, hub, schema),
        *(metrics_routes(metrics) if metrics is not None else ()),
        *mounts,
    ]
    app = HubApp(
        routes=[*server_routes, *spa_routes(server=server_routes)],
        # The client's address and scheme come from X-Forwarded-* only when the peer is
        # a configured proxy, whichever server runs the app.
        middleware=[Middleware(ProxyHeadersMiddleware,
                               trusted_hosts=settings.server.forwarded_allow_ips),
                    Middleware(Envelope, body_seconds=settings.server.body_timeout_seconds,
                               max_body=settings.limits.max_body_bytes,
                               metrics=request_metrics),
                    # Only replicas sharing state through Redis have others' news to take.
                    *([Middleware(SharedStateMiddleware, state=shared)]
                      if shared.upstreams is not None else []),
                    Middleware(SecurityMiddleware, settings=settings,
                               authenticator=authenticator, shared=shared,
                               kept=graphql.kept_answer,
                               # A feed's secret address is its own credential; a
                               # report's token is checked by its route (api/reports.py).
                               public_prefixes=[*public_prefixes, "/feeds/", "/reports/"])],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.hub = hub
    app.state.bus = bus
    app.state.inbox = inbox
    app.state.polling = polling
    app.state.authenticator = authenticator
    app.state.shared = shared
    app.state.metrics = metrics
    app.state.responses = responses
    if tracing is not None:
        tracing.instrument(app, engine, list(hub.connectors.values()))
    return app


async def _bump_on(events: Subscription, responses: ResponseCache) -> None:
    """Drop kept answers on each write heard on the bus (another replica's, or our own
    again: the first bump for it was made at commit)."""
    async for _event in events:
        responses.bump()
