"""The baseline app of `bench.load`: Starlette answering POST /graphql with fixed bytes.

`python -m bench.plain --port P [--answer FILE] [--hub-config]`. Without
`--hub-config` it is a plain uvicorn app (the start-up row's baseline: nothing of
Heatshield is imported); with it, it runs on the hub's uvicorn configuration
(`api.server.server_config`), the throughput row's baseline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", type=Path)
    parser.add_argument("--hub-config", action="store_true")
    args = parser.parse_args()
    content = args.answer.read_bytes() if args.answer else b"{}"

    async def graphql(request: Request) -> Response:
        await request.body()
        return Response(content, media_type="application/json")

    async def ok(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]),
                            Route("/healthz", ok)])
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
