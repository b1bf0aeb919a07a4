"""The baseline app of `bench.load`: Starlette answering POST /graphql with fixed bytes.

`python -m bench.plain --port P [--answer FILE] [--hub-config | --frameworks]`.
Without options it is a plain uvicorn app (the start-up row's baseline: nothing of
Heatshield is imported). With `--hub-config` it runs on the hub's uvicorn
configuration (`api.server.server_config`), the throughput row's baseline. With
`--frameworks` it first imports the libraries the hub is built on and must load
before it can answer a query (`FRAMEWORKS`), and nothing of Heatshield: the
start-up row's floor, what any app on those libraries pays.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

#: The libraries the brief and issue 15 name for the hub (Strawberry, SQLAlchemy's
#: asyncio ORM with the SQLite driver, pydantic-settings, httpx, prometheus-client),
#: as the hub imports them to serve.
FRAMEWORKS = ("strawberry", "strawberry.asgi", "graphql", "sqlalchemy.orm",
              "sqlalchemy.ext.asyncio", "aiosqlite", "pydantic_settings", "httpx",
              "prometheus_client")


def plain_app(content: bytes) -> Starlette:
    """POST /graphql answered with `content` (after reading the body), and /healthz."""
    async def graphql(request: Request) -> Response:
        await request.body()
        return Response(content, media_type="application/json")

    async def ok(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"]),
                             Route("/healthz", ok)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", type=Path)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--hub-config", action="store_true")
    which.add_argument("--frameworks", action="store_true")
    args = parser.parse_args()
    if args.frameworks:
        for module in FRAMEWORKS:
            importlib.import_module(module)
    app = plain_app(args.answer.read_bytes() if args.answer else b"{}")
    if args.hub_config:
        from api.server import server_config
        from api.settings import ServerSettings

        config = server_config(app, ServerSettings(), host="127.0.0.1", port=args.port,
                               log_level="warning")
    else:
        config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
