"""The outermost layer: one access-log line per request, and no bare 500s.

The access line names the path without its query string: a GET to /graphql
carries the whole operation, variables and all (passwords of a refused
`changePassword`, say), in the query string. Servers running the app turn their
own access log off (`api.cli`), so this is the only one.

An exception that escapes every route becomes a coded JSON 500 with a
reference; its detail goes to the `heatshield.errors` log under that reference.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

from api.schema.errors import internal_error_body, log_internal, new_error_id

access_log = logging.getLogger("heatshield.access")


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def tracking(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if status:
                raise  # the answer has begun; the server can only drop the connection
            error_id = new_error_id()
            log_internal(error_id, exc, f"{scope.get('method', '?')} {scope.get('path', '?')}")
            status = 500
            await JSONResponse({"errors": [internal_error_body(error_id)]},
                               status_code=500)(scope, receive, send)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info('%s - "%s %s HTTP/%s" %d',
                                f"{client[0]}:{client[1]}" if client else "-",
                                scope.get("method", "?"), scope.get("path", "?"),
                                scope.get("http_version", "1.1"), status)


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging setup plus Heatshield's loggers on the same console handler.

    Run uvicorn with `access_log=False` beside it: `RequestLog` writes the access
    lines, without query strings.
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["heatshield"] = {"handlers": ["default"], "level": level.upper(),
                                       "propagate": False}
    # aiosqlite logs each statement with its parameters at DEBUG (password hashes
    # included); never below INFO, whatever level the server runs at.
    config["loggers"]["aiosqlite"] = {"level": "INFO"}
    return config
