"""How the hub is served: one uvicorn configuration, bounded against slow clients.

A client that trickles its request holds a socket, a file descriptor and (for
the body) a task for as long as it likes unless the server bounds each phase:

- the request line and headers must arrive within `header_timeout_seconds` of
  the connection opening or of the first byte of a keep-alive request. uvicorn
  has no such option (its keep-alive timer stops at the first byte), so
  `BoundedH11Protocol` adds a per-connection timer to its h11 protocol;
- the whole body must arrive within `body_timeout_seconds` of the headers:
  `BodyDeadline`, an ASGI guard, answers 408 past it and closes the connection;
- headers larger than `max_header_bytes` are refused by h11 (400), idle
  keep-alive connections close after `keep_alive_seconds`, and past
  `max_connections` open connections or running requests uvicorn answers 503.

`server_config` is the one place these are set: the CLI (`serve`, `demo`) and
the test server both use it, so tests run the configuration operators get.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.errors import ErrorCode
from api.security import refusal
from api.settings import ServerSettings

_SLOW_HEADERS = b"request line and headers were not sent in time"
_HEADERS_TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                      b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                      % (len(_SLOW_HEADERS), _SLOW_HEADERS))


class HubConfig(uvicorn.Config):
    """uvicorn's configuration plus our header deadline; a plain module-level class, so
    `serve --workers N` can hand it to worker processes (which unpickle it)."""

    header_timeout: float = 10.0


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_timeout = getattr(self.config, "header_timeout", self.header_timeout)
        self._header_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is closed too

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm()  # the first byte of a request starts its clock; more bytes do not
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are in: the body has its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        pending, _ = self.conn.trailing_data
        if pending:
            # h11 cannot answer a request it has not parsed; the status line is ours.
            self.transport.write(_HEADERS_TIMED_OUT)
        self.transport.close()


def server_config(app: Any, server: ServerSettings, *, host: str | None = None,
                  port: int | None = None, log_level: str = "info",
                  lifespan: str = "on", **options: Any) -> HubConfig:
    """The uvicorn configuration of a hub (or any app served next to it, like sandboxes).

    `options` go to `uvicorn.Config` as they are (proxy headers); the limits
    against slow clients are set here and nowhere else. uvicorn's own access log
    is off: `api.request_log.RequestLog` writes access lines without query strings
    (the CLI passes `log_config=api.logging_setup.log_config(...)` to print them).
    """
    # X-Forwarded-* is applied by the app itself, from the proxies its settings trust.
    options = {"access_log": False, "proxy_headers": False} | options
    config = HubConfig(
        app, host=host or server.host, port=server.port if port is None else port,
        log_level=log_level, lifespan=lifespan,  # type: ignore[arg-type]
        **options,
        http=BoundedH11Protocol,
        timeout_keep_alive=server.keep_alive_seconds,
        limit_concurrency=server.max_connections,
        h11_max_incomplete_event_size=server.max_header_bytes,
        # Subscriptions send small messages; a megabyte frame is already hostile.
        ws="websockets-sansio", ws_max_size=1_048_576)
    config.header_timeout = server.header_timeout_seconds
    return config


class BodyTimeout(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request body did not arrive within {seconds:g} s")


class BodyDeadline:
    """Bounds the time from a request's headers to the last byte of its body (408 after).

    The outermost layer: the app sees a receive that raises `BodyTimeout` once the
    deadline passes, and this guard answers for it. A response that starts before
    the body is complete closes the connection, so an unread body cannot hold it.
    """

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        complete = started = False

        async def bounded() -> Message:
            nonlocal complete
            if complete:
                return await receive()  # after the body: waiting for a disconnect is fine
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if not complete and not any(k.lower() == b"connection" for k, _ in headers):
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, bounded, tracking)
        except BodyTimeout as exc:
            if started:
                raise
            response = refusal(408, str(ErrorCode.REQUEST_TIMEOUT), str(exc),
                               {"Connection": "close"})
            await response(scope, receive, send)


_VARY = (b"vary", b"Accept-Encoding")


class Compression(GZipMiddleware):
    """Starlette's gzip for clients that accept it. For the others (load balancers, most
    scripts, `Accept-Encoding: identity`) the answer only gains `Vary: Accept-Encoding`,
    added as it passes: Starlette's own identity path parses every response's headers
    again, a measurable part of serving a kept answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(
                name == b"accept-encoding" and b"gzip" in value
                for name, value in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), _VARY]
            await send(message)

        await self.app(scope, receive, varying)

