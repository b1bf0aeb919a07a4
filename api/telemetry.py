"""OpenTelemetry traces of one app instance: requests, upstream fetches, SQL, outgoing HTTP.

Off by default, and then nothing is instrumented and the SDK is not even
imported: the hub's fetch spans are skipped (`fetch_span` with no tracer). When
`[telemetry] otlp_endpoint` is set (or a test hands `create_app` an exporter),
the app gets a tracer provider of its own (never the process-wide one, so apps
in one process trace apart) and instruments, with it, its Starlette app, its
database engine and each connector's pooled httpx client. The httpx
instrumentation sends `traceparent` with every upstream request, so an upstream
that traces joins the hub's trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, SpanKind, Tracer

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette

    from api.settings import TelemetrySettings
    from connectors.base import Connector

INSTRUMENTATION = "heatshield"
#: Paths probed or scraped every few seconds: tracing them would bury the requests.
#: And published reports, whose token may come in the query string (api/reports.py): a
#: span records the URL with its query, and the exclusion cannot see the query.
UNTRACED = [r"/(healthz|readyz|metrics)(\?|$)", r"/reports/"]


class Tracing:
    """The app's tracer provider and what it instruments."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer: Tracer = provider.get_tracer(INSTRUMENTATION)

    @classmethod
    def from_settings(cls, settings: TelemetrySettings,
                      exporter: SpanExporter | None = None) -> Tracing | None:
        """None when tracing is off. A given exporter gets each span as it ends (tests);
        the OTLP exporter gets them in batches, off the request path."""
        if exporter is None and settings.otlp_endpoint is None:
            return None
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: settings.service_name}),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)))
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        if settings.otlp_endpoint is not None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(
                OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
        return cls(provider)

    def instrument(self, app: Starlette, engine: AsyncEngine,
                   connectors: Sequence[Connector]) -> None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.starlette import StarletteInstrumentor
        from opentelemetry.util.http import ExcludeList

        StarletteInstrumentor.instrument_app(app, tracer_provider=self.provider)
        for middleware in app.user_middleware:
            if middleware.cls is OpenTelemetryMiddleware:  # type: ignore[comparison-overlap]
                # One span per request, not one more per chunk received and sent; none
                # for the probes and scrapes that arrive every few seconds.
                middleware.kwargs["exclude_spans"] = ["receive", "send"]
                middleware.kwargs["excluded_urls"] = ExcludeList(UNTRACED)
        self._instrument_engine(engine)
        for connector in connectors:
            connector.http.instrument(
                lambda client: HTTPXClientInstrumentor.instrument_client(
                    client, tracer_provider=self.provider))

    def _instrument_engine(self, engine: AsyncEngine) -> None:
        """SQL spans for this engine alone. The instrumentor's own `instrument()` is one
        per process and patches `create_engine` everywhere; its per-engine tracer is not."""
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import NoOpMeterProvider

        usage = NoOpMeterProvider().get_meter(INSTRUMENTATION).create_up_down_counter(
            "db.client.connections.usage")
        EngineTracer(  # type: ignore[no-untyped-call]
            self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"),
            engine.sync_engine, usage)

    def shutdown(self) -> None:
        """Send what is still batched, then stop."""
        self.provider.shutdown()


@contextmanager
def _span(tracer: Tracer, name: str, attributes: dict[str, Any]) -> Iterator[Span]:
    with tracer.start_as_current_span(name, kind=SpanKind.INTERNAL,
                                      attributes=attributes) as span:
        yield span


def fetch_span(tracer: Tracer | None, operation: str, source: str, keys: int
               ) -> Any:
    """The span of one source's fetch in the hub (its HTTP calls nest inside), or nothing
    when tracing is off."""
    if tracer is None:
        return nullcontext()
    return _span(tracer, f"upstream {operation} {source}",
                 {"heatshield.source": source, "heatshield.operation": operation,
                  "heatshield.keys": keys})
