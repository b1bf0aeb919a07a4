"""How the hub is served: one uvicorn configuration, bounded against slow clients.

A client that trickles its request holds a socket, a file descriptor and (for
the body) a task for as long as it likes unless the server bounds each phase:

- the request line and headers must arrive within `header_timeout_seconds` of
  the connection opening or of the first byte of a keep-alive request. uvicorn
  has no such option (its keep-alive timer stops at the first byte), so
  `BoundedH11Protocol` adds a per-connection timer to its h11 protocol;
- the whole body must arrive within `body_timeout_seconds` of the headers: the
  protocol marks the request past it, and `api.envelope.Envelope` answers 408 and
  closes the connection;
- headers larger than `max_header_bytes` are refused by h11 (400), idle
  keep-alive connections close after `keep_alive_seconds`, and past
  `max_connections` open connections or running requests uvicorn answers 503.

`server_config` is the one place these are set: the CLI (`serve`, `demo`) and
the test server both use it, so tests run the configuration operators get.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.settings import ServerSettings

_SLOW_HEADERS = b"request line and headers were not sent in time"
_HEADERS_TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                      b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                      % (len(_SLOW_HEADERS), _SLOW_HEADERS))


#: Put in a request's scope once its body's deadline has passed; the app's receive is
#: woken, and `api.envelope.Envelope` answers 408 instead of handing on a partial body.
BODY_TIMED_OUT = "heatshield.body_timed_out"


class HubConfig(uvicorn.Config):
    """uvicorn's configuration plus our deadlines; a plain module-level class, so
    `serve --workers N` can hand it to worker processes (which unpickle it)."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers, and
    one for its body (from the headers to the body's last byte).

    The body's clock is kept here, where the parser knows when the body is whole: a
    body that arrives with its headers, as nearly all do, costs no timer at all."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_timeout = getattr(self.config, "header_timeout", self.header_timeout)
        self.body_timeout = getattr(self.config, "body_timeout", self.body_timeout)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is closed too

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm()  # the first byte of a request starts its clock; more bytes do not
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are in: the body has its own deadline

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is h11.SEND_BODY:
            if self._body_timer is None and self.cycle is not None:
                self._body_timer = self.loop.call_later(self.body_timeout, self._body_too_slow,
                                                        self.cycle)
        elif self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
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

    def _body_too_slow(self, cycle: Any) -> None:
        self._body_timer = None
        if cycle is self.cycle and self.conn.their_state is h11.SEND_BODY:
            scope = cast("dict[str, Any]", cycle.scope)  # an HTTP scope; the key is ours
            scope[BODY_TIMED_OUT] = True
            cycle.message_event.set()  # a receive waiting for more body returns now


def server_config(app: Any, server: ServerSettings, *, host: str | None = None,
                  port: int | None = None, log_level: str = "info",
                  lifespan: str = "on", **options: Any) -> HubConfig:
    """The uvicorn configuration of a hub (or any app served next to it, like sandboxes).

    `options` go to `uvicorn.Config` as they are (proxy headers); the limits
    against slow clients are set here and nowhere else. uvicorn's own access log
    is off: `api.envelope.Envelope` writes access lines without query strings
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
    config.body_timeout = server.body_timeout_seconds
    return config
