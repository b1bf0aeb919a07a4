"""The first layer every HTTP request meets, and the last its answer leaves through.

For each request, in one pass and with one wrapper around `send`, it:

- gives the request an id (`api.request_context`), sent back as `X-Request-Id`;
- bounds its body: at most `max_body` bytes however it is streamed (else 413), and all
  of it within `body_seconds` of the headers (else 408 and the connection closed). The
  server's protocol keeps that clock (`api.server.BoundedH11Protocol`) and marks the
  request when it runs out; an answer that starts before the body is whole closes the
  connection too, so an unread body cannot hold it;
- answers what escapes every route with a coded 500 and a reference (the detail goes
  to the `heatshield.errors` log under it), never a bare one;
- adds the headers every page and answer carries (`api.security.SECURITY_HEADERS`; a
  JSON answer's content policy forbids everything, as it is never a page), and gzips
  for clients that accept it (Starlette's `GZipMiddleware`); the others get
  `Vary: Accept-Encoding` and the bytes as they are;
- times the request for the metrics and writes its access line, which names the path
  without its query string: a GET to /graphql carries the whole operation, variables
  and all, in it.

These were one middleware each. Stacked, their coroutines and `send` wrappers cost a
kept dashboard answer more than serving it (`bench.load`'s throughput row).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.compression import GZIP_LEVEL, GZIP_MIN_BYTES
from api.errors import ErrorCode
from api.request_context import HEADER, RequestInfo, accepted_id, enter, leave
from api.schema.errors import internal_error_body, log_internal, new_error_id
from api.security import API_SECURITY_HEADERS, SECURITY_HEADERS, BodyTooLarge, refusal
from api.server import BODY_TIMED_OUT

if TYPE_CHECKING:
    from api.metrics import RequestMetrics

access_log = logging.getLogger("heatshield.access")

_VARY = (b"vary", b"Accept-Encoding")
_CLOSE = (b"connection", b"close")
#: The access line's and metrics' status for a request whose client left before its answer.
CLIENT_CLOSED = 499


class BodyTimeout(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request body did not arrive within {seconds:g} s")


class Envelope:
    def __init__(self, app: ASGIApp, *, body_seconds: float, max_body: int,
                 metrics: RequestMetrics | None = None) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)
        self.body_seconds = body_seconds
        self.max_body = max_body
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        if metrics is not None and metrics.answers(scope):
            await metrics.scrape(scope, receive, send)
            return
        incoming: bytes | None = None
        gzip = False
        for name, value in scope["headers"]:
            if name == HEADER:
                incoming = value
            elif name == b"accept-encoding" and b"gzip" in value:
                gzip = True
        info = RequestInfo(accepted_id(incoming.decode("latin-1") if incoming else None),
                           gzip=gzip)
        own_id = (HEADER, info.request_id.encode("ascii"))
        complete = False
        seen = status = 0
        started = time.perf_counter()

        async def bounded() -> Message:
            nonlocal complete, seen
            message = await receive()
            if complete:
                return message  # after the body: waiting for a disconnect is fine
            if message["type"] != "http.request":
                complete = True
                return message
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise BodyTooLarge(self.max_body)
            if not message.get("more_body", False):
                complete = True
            elif BODY_TIMED_OUT in scope:  # the server's protocol keeps the clock
                raise BodyTimeout(self.body_seconds)
            return message

        async def enveloped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers, named, data = [], set(), False
                for header in message.get("headers", ()):
                    name = header[0].lower()
                    if name != HEADER:  # the caller's id, or ours: never the app's
                        headers.append(header)
                        named.add(name)
                        data = data or (name == b"content-type" and b"json" in header[1])
                headers += [h for h in (API_SECURITY_HEADERS if data else SECURITY_HEADERS)
                            if h[0] not in named]
                headers.append(own_id)
                if not gzip:
                    headers.append(_VARY)
                if not complete and b"connection" not in named:
                    headers.append(_CLOSE)
                message = {**message, "headers": headers}
            await send(message)

        token = enter(info)
        try:
            await (self.gzip if gzip else self.app)(scope, bounded, enveloped)
        except ClientDisconnect:
            status = status or CLIENT_CLOSED  # nobody is left to answer
        except Exception as exc:
            if status:
                raise  # the answer has begun; the server can only drop the connection
            await self._refuse(exc, scope)(scope, receive, enveloped)
        finally:
            if metrics is not None:
                metrics.done(scope, status or 500, time.perf_counter() - started)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info('%s - "%s %s HTTP/%s" %d',
                                f"{client[0]}:{client[1]}" if client else "-",
                                scope.get("method", "?"), scope.get("path", "?"),
                                scope.get("http_version", "1.1"), status)
            leave(token)  # after the line above, which carries the request's id

    def _refuse(self, exc: Exception, scope: Scope) -> Response:
        """The answer for what the app raised before answering."""
        if isinstance(exc, BodyTimeout):
            return refusal(408, str(ErrorCode.REQUEST_TIMEOUT), str(exc),
                           {"Connection": "close"})
        if isinstance(exc, BodyTooLarge):
            return refusal(413, "PAYLOAD_TOO_LARGE", str(exc))
        error_id = new_error_id()
        log_internal(error_id, exc, f"{scope.get('method', '?')} {scope.get('path', '?')}")
        return JSONResponse({"errors": [internal_error_body(error_id)]}, status_code=500)
