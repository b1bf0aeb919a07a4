"""Prometheus metrics of one app instance, and the `/metrics` route that serves them.

Each app has its own `CollectorRegistry` (never the process-wide default), so
several apps in one process (tests, the demo beside its sandboxes) count apart.
Every label has a bounded set of values: routes are the app's route templates,
sources are the configured connectors, outcomes a closed set
(`connectors.http.CallOutcome`), and operation names are labelled only when they
look like GraphQL names of a sane length, up to `[metrics] max_operations`
distinct ones; the rest collapse into `(other)`. A caller sending random
operation names cannot grow the label set past that bound.

The breaker states, the cache's size and the background fetches are read when
scraped (a collector), so they cost nothing between scrapes.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Hashable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from api.db.models import Role
from api.permissions import FORBIDDEN, UNAUTHENTICATED
from api.request_context import current_request
from api.security import ROUTE_KEY, client_host, principal_of, refusal
from connectors.http import CallOutcome
from connectors.records import BreakerState

if TYPE_CHECKING:
    from api.hub import Hub
    from api.response_cache import ResponseCache
    from api.settings import MetricsSettings

PATH = "/metrics"
ANONYMOUS = "(anonymous)"  # an operation without a name
OTHER = "(other)"  # past the bound, or not a name worth a label
NONE = "(none)"  # a /graphql request refused before any operation ran
BATCH = "(batch)"
UNMATCHED = "(unmatched)"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_NAME_LENGTH = 64
# Latency buckets from a cached read (milliseconds) to a slow upstream (seconds).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class OperationLabels:
    """Operation names as labels: first come, up to `limit` distinct ones."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: set[str] = set()

    def label(self, name: str) -> str:
        if not name:
            return ANONYMOUS
        if name in self._known:
            return name
        if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name) \
                or len(self._known) >= self.limit:
            return OTHER
        self._known.add(name)
        return name

    def __len__(self) -> int:
        return len(self._known)


class Metrics:
    """The instruments, and the observers the HTTP layer and the cache call."""

    def __init__(self, settings: MetricsSettings, hub: Hub) -> None:
        self.settings = settings
        self.registry = CollectorRegistry(auto_describe=True)
        self.operations = OperationLabels(settings.max_operations)
        self._sources = frozenset(hub.connectors)
        self.requests = Histogram(
            "heatshield_request_duration_seconds",
            "Time to answer an HTTP request, by route template, GraphQL operation and status "
            "class.", ["route", "operation", "status"], buckets=_BUCKETS,
            registry=self.registry)
        self.upstream_calls = Counter(
            "heatshield_upstream_calls", "Exchanges with an upstream, by source and outcome "
            "(breaker_open: not sent).", ["source", "outcome"], registry=self.registry)
        self.upstream_latency = Histogram(
            "heatshield_upstream_call_duration_seconds", "Time of an exchange with an "
            "upstream, by source and outcome.", ["source", "outcome"], buckets=_BUCKETS,
            registry=self.registry)
        self.cache_lookups = Counter(
            "heatshield_upstream_cache_lookups", "Looks for a fresh copy of an upstream "
            "answer, by source and result (hit or miss).", ["source", "result"],
            registry=self.registry)
        self.registry.register(_StateCollector(hub))
        # Each label set's child, found once: `labels()` takes a lock and builds the key
        # again on every call, a visible part of serving a kept answer, and a list of a
        # thousand releases looks up thousands of upstream keys. The label sets are
        # bounded (route templates, `max_operations` names, status classes, sources).
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}

    def _child(self, family: Histogram | Counter, *labels: str) -> Any:
        child = self._children.get((family, labels))
        if child is None:
            child = self._children[(family, labels)] = family.labels(*labels)
        return child

    def request_done(self, route: str, operation: str, status: str, seconds: float) -> None:
        self._child(self.requests, route, operation, status).observe(seconds)

    def upstream_call(self, source: str, outcome: CallOutcome, seconds: float | None) -> None:
        self.upstream_calls.labels(source, outcome.value).inc()
        if seconds is not None:
            self.upstream_latency.labels(source, outcome.value).observe(seconds)

    def cache_lookup(self, key: Hashable, hit: bool) -> None:
        source = key[0] if isinstance(key, tuple) and key else None
        label = source if isinstance(source, str) and source in self._sources else OTHER
        self._child(self.cache_lookups, label, "hit" if hit else "miss").inc()

    def attach(self, hub: Hub) -> None:
        """Have every connector's HTTP layer and the answers cache report here."""
        for connector in hub.connectors.values():
            connector.http.observer = self.upstream_call
        hub.cache.observer = self.cache_lookup

    def watch_responses(self, responses: ResponseCache) -> None:
        """Report the response cache's lookups, size and hit ratio at each scrape."""
        self.registry.register(_ResponseCacheCollector(responses))

    def operation_label(self, operations: list[str]) -> str:
        if not operations:
            return NONE
        if len(operations) > 1:
            return BATCH
        return self.operations.label(operations[0])

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class _StateCollector(Collector):
    """What is read at scrape time: breakers, cache size, calls left running."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # names known only when collected; nothing to check them against

    def collect(self) -> Iterator[GaugeMetricFamily]:
        breaker = GaugeMetricFamily(
            "heatshield_upstream_breaker_state", "1 for the state each source's circuit "
            "breaker is in, 0 for the others.", labels=["source", "state"])
        for name, connector in sorted(self.hub.connectors.items()):
            state = connector.http.breaker.state
            for candidate in BreakerState:
                breaker.add_metric([name, candidate.value.lower()],
                                   1.0 if candidate is state else 0.0)
        yield breaker
        yield GaugeMetricFamily("heatshield_upstream_cache_entries",
                                "Upstream answers the cache holds.", value=len(self.hub.cache))
        yield GaugeMetricFamily("heatshield_upstream_background_fetches",
                                "Upstream calls still running after their request stopped "
                                "waiting.", value=self.hub.background_fetches)


class _ResponseCacheCollector(Collector):
    """The response cache's counts, read when scraped."""

    def __init__(self, responses: ResponseCache) -> None:
        self.responses = responses

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        lookups = CounterMetricFamily(
            "heatshield_response_cache_lookups", "Reads that could be answered from the "
            "response cache, by result: hit (kept), shared (computed for a caller asking "
            "at the same moment), miss (executed and offered to the cache), bypass "
            "(executed: the answer in flight was another caller's).", labels=["result"])
        for result, count in sorted(self.responses.counts.items()):
            lookups.add_metric([result], float(count))
        yield lookups
        yield GaugeMetricFamily("heatshield_response_cache_hit_ratio",
                                "Reads served without executing, of all cacheable reads.",
                                value=self.responses.hit_ratio)
        yield GaugeMetricFamily("heatshield_response_cache_entries",
                                "Answers the response cache holds.", value=len(self.responses))
        yield GaugeMetricFamily("heatshield_response_cache_bytes",
                                "JSON bytes of the answers the response cache holds.",
                                value=self.responses.bytes)


def _status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "5xx"


class RequestMetrics:
    """Each request's time to its last byte, by route and operation (`api.envelope` asks),
    and scrapes from the configured addresses answered before the gate, which asks
    everyone else for credentials."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.networks = [ipaddress.ip_network(n, strict=False)
                         for n in metrics.settings.allow_from]

    def answers(self, scope: Scope) -> bool:
        """Whether this is a scrape from an address allowed to scrape without credentials."""
        return scope["path"] == PATH and bool(self.networks) \
            and self._allowed(client_host(scope))

    def done(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or scope.get(ROUTE_KEY) or UNMATCHED
        operation = ""
        if template == "/graphql":
            info = current_request()
            operation = self.metrics.operation_label(info.operations if info else [])
        self.metrics.request_done(template, operation, _status_class(status), seconds)

    def _allowed(self, host: str | None) -> bool:
        if host is None:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    async def scrape(self, scope: Scope, receive: Receive, send: Send) -> None:
        accept = dict(scope.get("headers", [])).get(b"accept", b"").decode("latin-1")
        body, content_type = self.metrics.exposition(accept)
        await Response(body, media_type=content_type,
                       headers={"Cache-Control": "no-store"})(scope, receive, send)


def metrics_routes(metrics: Metrics) -> list[BaseRoute]:
    """GET /metrics for a signed-in caller or API token holding `[metrics] role`."""
    needed = Role[metrics.settings.role]

    async def scrape(request: Request) -> Response:
        principal = principal_of(request.scope)
        if principal is None:
            return refusal(401, UNAUTHENTICATED, "authentication required",
                           {"WWW-Authenticate": "Bearer"})
        if not principal.allows(needed):
            return refusal(403, FORBIDDEN, f"metrics need the {needed.name} role")
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    return [Route(PATH, scrape, methods=["GET"])]
