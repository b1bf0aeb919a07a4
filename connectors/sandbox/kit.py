"""What every vendor sandbox shares: a request log, injectable faults, webhooks.

The hub is tested against the sandboxes under the failures real upstreams
show (slowness, 5xx, 429, hung sockets, garbage bodies, lost responses) and
benchmarked by counting the calls it makes; both need the same machinery in
every sandbox, so it lives here and each vendor module only supplies its own
routes, error shape and rate-limit headers.

Faults are posted as JSON to ``/_sandbox/faults``; each POST adds one rule
(all keys optional and combinable, ``path`` a regex searched in the path
relative to the sandbox's mount); DELETE clears them all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEMO_USER = "demo@acme-retail.example"
DEMO_PASSWORD = "demo-password"
DEMO_TOKEN = "demo-token"

SANDBOX_PREFIX = "/_sandbox/"

ErrorResponse = Callable[[int, str], Response]
AuthCheck = Callable[[Request], Response | None]


@dataclass
class Credentials:
    """The one account a sandbox accepts (Basic user/password or a bearer token)."""

    username: str = DEMO_USER
    password: str = DEMO_PASSWORD
    token: str = DEMO_TOKEN


@dataclass
class LoggedRequest:
    """One served vendor request; `fault` names the fault that answered it, if any."""

    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    at: str
    fault: str | None = None
    #: The W3C trace context the caller sent, so a test can see a trace reach the upstream.
    traceparent: str | None = None


#: The newest calls a sandbox keeps; a demo that runs for days must not grow without bound.
REQUEST_LOG_LIMIT = 5_000


class RequestLog:
    """Calls served, so tests and benchmarks can assert how many the hub made.

    `count` counts every call since the last reset; `entries` keeps only the
    newest `limit` of them, so a long-running demo holds a bounded log.
    """

    __slots__ = ("count", "entries")

    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        self.entries: deque[LoggedRequest] = deque(maxlen=limit)
        self.count = 0

    def add(self, entry: LoggedRequest) -> None:
        self.entries.append(entry)
        self.count += 1

    def reset(self) -> None:
        self.entries.clear()
        self.count = 0


@dataclass
class RateLimitFault:
    count: int
    retry_after: int


@dataclass
class FaultRule:
    """One posted fault; `rate_limit.count` is spent as matching requests arrive."""

    path: re.Pattern[str] | None = None
    method: str | None = None  # only requests with this method (e.g. POST)
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit: RateLimitFault | None = None
    hang_seconds: float = 0.0
    malformed: bool = False
    drop_response: bool = False

    def matches(self, path: str, method: str = "GET") -> bool:
        return ((self.path is None or self.path.search(path) is not None)
                and (self.method is None or self.method == method.upper()))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path.pattern if self.path else None, "method": self.method,
            "latency_ms": self.latency_ms, "error_rate": self.error_rate,
            "error_status": self.error_status, "hang_seconds": self.hang_seconds,
            "malformed": self.malformed, "drop_response": self.drop_response,
            "rate_limit": asdict(self.rate_limit) if self.rate_limit else None,
        }
        return out


FAULT_KEYS = {"path", "method", "latency_ms", "error_rate", "error_status", "rate_limit",
              "hang_seconds", "malformed", "drop_response"}


def parse_fault(body: Any) -> FaultRule:
    """Validate a posted fault; raises ValueError with a readable reason."""
    if not isinstance(body, dict):
        raise ValueError("fault must be a JSON object")
    unknown = set(body) - FAULT_KEYS
    if unknown:
        raise ValueError(f"unknown fault keys: {sorted(unknown)}")
    rule = FaultRule()
    if body.get("path") is not None:
        try:
            rule.path = re.compile(str(body["path"]))
        except re.error as exc:
            raise ValueError(f"bad path regex: {exc}") from exc
    if body.get("method") is not None:
        rule.method = str(body["method"]).upper()
    rule.latency_ms = _number(body, "latency_ms", 0.0)
    rule.hang_seconds = _number(body, "hang_seconds", 0.0)
    rule.error_rate = _number(body, "error_rate", 0.0)
    if not 0.0 <= rule.error_rate <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    rule.error_status = int(_number(body, "error_status", 503))
    if not 400 <= rule.error_status <= 599:
        raise ValueError("error_status must be a 4xx or 5xx status")
    rule.malformed = bool(body.get("malformed", False))
    rule.drop_response = bool(body.get("drop_response", False))
    limit = body.get("rate_limit")
    if limit is not None:
        if not isinstance(limit, dict):
            raise ValueError("rate_limit must be an object {count, retry_after}")
        rule.rate_limit = RateLimitFault(count=int(_number(limit, "count", 1)),
                                         retry_after=int(_number(limit, "retry_after", 1)))
    return rule


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key} must be a non-negative number")
    return float(value)


@dataclass
class WebhookDelivery:
    event: str
    url: str
    status: int | None
    error: str | None
    at: str


class ResponseDropped(Exception):
    """Raised after a route ran under `drop_response`, so the server closes the socket."""


class _QuietDrops(logging.Filter):
    """Keeps the intentional drops out of the server's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ResponseDropped)


def _install_quiet_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def route_path(scope: Scope) -> str:
    """The path below the sandbox's mount point (the demo mounts at /sandbox/<kind>)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):] or "/"
    return path


def mount_base_url(request: Request) -> str:
    """The sandbox's own base URL, ending in "/", mount prefix included.

    Starlette's `request.base_url` is the outermost app's root, so under the
    demo's `/sandbox/<kind>` mount it would drop the prefix; `root_path` keeps it.
    """
    root: str = request.scope.get("root_path", "")
    return str(request.url.replace(path=root.rstrip("/") + "/", query="", fragment=""))


class SandboxKit:
    """Per-app sandbox state: log, faults, webhook target; never module-global."""

    def __init__(self, kind: str, *, error_response: ErrorResponse,
                 rate_limit_headers: Callable[[int], dict[str, str]] | None = None,
                 webhook_url: str | None = None, webhook_secret: str | None = None,
                 webhook_signer: Callable[[bytes, str], dict[str, str]] | None = None,
                 seed: int = 0) -> None:
        self.kind = kind
        self.error_response = error_response
        self.rate_limit_headers = rate_limit_headers
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.webhook_signer = webhook_signer
        self.request_log = RequestLog()
        self.faults: list[FaultRule] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.rng = random.Random(seed)

    def app(self, routes: Sequence[BaseRoute], *,
            auth: AuthCheck | None = None) -> Starlette:
        """The vendor routes plus the /_sandbox control routes, behind the kit middleware."""
        _install_quiet_drops()
        control: list[BaseRoute] = [
            Route("/_sandbox/requests", self._get_requests, methods=["GET"]),
            Route("/_sandbox/requests", self._reset_requests, methods=["DELETE"]),
            Route("/_sandbox/faults", self._get_faults, methods=["GET"]),
            Route("/_sandbox/faults", self._post_fault, methods=["POST"]),
            Route("/_sandbox/faults", self._clear_faults, methods=["DELETE"]),
            Route("/_sandbox/webhooks", self._get_webhooks, methods=["GET"]),
        ]

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            return self.error_response(exc.status_code, str(exc.detail))

        app = Starlette(
            routes=[*control, *routes],
            middleware=[Middleware(KitMiddleware, kit=self, auth=auth)],
            exception_handlers={HTTPException: http_error},
        )
        app.state.kit = self
        return app

    async def emit_webhook(self, event: str, payload: dict[str, Any],
                           extra_headers: dict[str, str] | None = None) -> None:
        """Deliver one event; a failing receiver is recorded, never raised to the route."""
        if not self.webhook_url:
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **(extra_headers or {})}
        if self.webhook_signer is not None and self.webhook_secret is not None:
            headers.update(self.webhook_signer(body, self.webhook_secret))
        status: int | None = None
        error: str | None = None
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.post(self.webhook_url, content=body, headers=headers)
            status = response.status_code
        except Exception as exc:  # a dead receiver must not break the sandbox
            error = f"{type(exc).__name__}: {exc}"
        self.webhook_deliveries.append(
            WebhookDelivery(event=event, url=self.webhook_url, status=status, error=error,
                            at=_now_iso()))

    def matching_faults(self, path: str, method: str = "GET") -> list[FaultRule]:
        return [rule for rule in self.faults if rule.matches(path, method)]

    async def _get_requests(self, request: Request) -> Response:
        log = self.request_log
        return JSONResponse({"count": log.count, "kept": len(log.entries),
                             "requests": [asdict(e) for e in log.entries]})

    async def _reset_requests(self, request: Request) -> Response:
        self.request_log.reset()
        return JSONResponse({"count": 0, "requests": []})

    async def _get_faults(self, request: Request) -> Response:
        return JSONResponse({"faults": [rule.describe() for rule in self.faults]})

    async def _post_fault(self, request: Request) -> Response:
        try:
            rule = parse_fault(json.loads(await request.body() or b"null"))
        except ValueError as exc:  # JSONDecodeError is a ValueError
            return JSONResponse({"error": str(exc)}, status_code=400)
        self.faults.append(rule)
        return JSONResponse({"faults": [r.describe() for r in self.faults]}, status_code=201)

    async def _clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return JSONResponse({"faults": []})

    async def _get_webhooks(self, request: Request) -> Response:
        return JSONResponse({"deliveries": [asdict(d) for d in self.webhook_deliveries]})


class KitMiddleware:
    """Pure ASGI, so streamed bodies pass through and a response can be withheld."""

    def __init__(self, app: ASGIApp, *, kit: SandboxKit, auth: AuthCheck | None = None) -> None:
        self.app = app
        self.kit = kit
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path.startswith(SANDBOX_PREFIX):
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        at = _now_iso()
        status = 500
        fault: str | None = None

        def log() -> None:
            query = scope.get("query_string", b"").decode("latin-1")
            traceparent = next((v.decode("latin-1") for k, v in scope.get("headers", [])
                                if k.lower() == b"traceparent"), None)
            self.kit.request_log.add(LoggedRequest(
                method=scope["method"], path=path, query=query, status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3), at=at,
                fault=fault, traceparent=traceparent))

        async def answer(response: Response) -> None:
            nonlocal status
            status = response.status_code
            await response(scope, receive, send)

        try:
            rules = self.kit.matching_faults(path, scope["method"])
            delay = sum(r.hang_seconds for r in rules) + sum(r.latency_ms for r in rules) / 1000
            if delay:
                await asyncio.sleep(delay)
            early = self._early_fault(rules)
            if early is not None:
                fault = early[0]
                await answer(early[1])
                return
            if self.auth is not None:
                denied = self.auth(Request(scope, receive))
                if denied is not None:
                    await answer(denied)
                    return
            if any(r.drop_response for r in rules):
                fault = "drop_response"
                status, _, _ = await self._run_held(scope, receive)
                await _abort_connection(send)
            elif any(r.malformed for r in rules):
                fault = "malformed"
                status, headers, body = await self._run_held(scope, receive)
                await _send_garbled(send, headers, body)
            else:
                async def capture(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    await send(message)

                await self.app(scope, receive, capture)
        except ClientDisconnect:
            # The client gave up (e.g. timed out during a hang): nobody to answer.
            status = 499
        finally:
            log()

    def _early_fault(self, rules: list[FaultRule]) -> tuple[str, Response] | None:
        """A 429 or injected error that answers instead of the vendor route."""
        for rule in rules:
            if rule.rate_limit is not None and rule.rate_limit.count > 0:
                rule.rate_limit.count -= 1
                retry_after = rule.rate_limit.retry_after
                response = self.kit.error_response(429, "Too many requests")
                response.headers["Retry-After"] = str(retry_after)
                if self.kit.rate_limit_headers is not None:
                    for name, value in self.kit.rate_limit_headers(retry_after).items():
                        response.headers[name] = value
                return "rate_limit", response
        for rule in rules:
            if rule.error_rate and self.kit.rng.random() < rule.error_rate:
                message = "Injected sandbox fault"
                return "error", self.kit.error_response(rule.error_status, message)
        return None

    async def _run_held(self, scope: Scope, receive: Receive
                        ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run the route to completion, keeping its response instead of sending it."""
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        body = bytearray()

        async def hold(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, hold)
        return status, headers, bytes(body)


async def _send_garbled(send: Send, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    garbled = _truncate_json(body)
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
    kept += [(b"content-type", b"application/json"),
             (b"content-length", str(len(garbled)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": kept})
    await send({"type": "http.response.body", "body": garbled, "more_body": False})


async def _abort_connection(send: Send) -> None:
    """Close the socket without a byte of response.

    ASGI has no abort message. Uvicorn marks a response as started before it
    checks the status code, so a start with an impossible status fails before
    anything is written; the exception then makes it close the connection
    (instead of sending its own 500), which is what the client must see.
    """
    try:
        await send({"type": "http.response.start", "status": 0, "headers": []})
    except Exception as exc:
        raise ResponseDropped("response withheld by the drop_response fault") from exc
    raise ResponseDropped("response withheld by the drop_response fault")


def _truncate_json(body: bytes) -> bytes:
    """Half of the real body, and never something a JSON parser would accept."""
    cut = body[: len(body) // 2]
    try:
        json.loads(cut)
    except ValueError:
        return cut
    return b'{"result": ['

