"""Serves the dashboard's build (`frontend/dist`) from the same origin as the graph.

Hashed files under /assets never change, so browsers may keep them for a year;
index.html is revalidated on every load so a new build takes effect at once.
Any other GET path that is not a file is a client route and gets index.html, except
under a server route's first segment, where it is a coded 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.errors import ErrorCode
from api.security import refusal

DEFAULT_DIST = Path(__file__).resolve().parent.parent / "frontend" / "dist"
ASSET_CACHE = "public, max-age=31536000, immutable"
# Paths that belong to the server, never to a client route: a missing endpoint there
# must answer 404, not the dashboard's page (which a script would read as success: a
# pipeline's `curl --fail` on /api/gates/ with its release unset would deploy). Beside
# these, every first path segment the server routes (`spa_routes(server=...)`).
SERVER_PREFIXES = ("auth/", "graphql", "sandbox/", "assets/", "healthz", "readyz", "metrics",
                   "_")
INDEX_CACHE = "no-cache"

MISSING_BUILD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Heatshield: dashboard not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto">
<h1>The dashboard has not been built</h1>
<p>Heatshield serves the dashboard from <code>{dist}</code>, which has no
<code>index.html</code>. Build it with <code>make frontend</code> (or
<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>) and reload.</p>
<p>The graph itself is up: <a href="/graphql">/graphql</a>.</p>
</body></html>
"""


class _Assets(StaticFiles):
    """Static files with the long-lived cache header hashed names allow."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = ASSET_CACHE
        return response


def first_segments(routes: Iterable[BaseRoute]) -> frozenset[str]:
    """The first path segment of each route the server answers (`/api/gates/{r}`: `api`)."""
    paths = (getattr(route, "path", "") for route in routes)
    return frozenset(segment for path in paths
                     if (segment := path.lstrip("/").split("/", 1)[0]) and "{" not in segment)


def spa_routes(dist: Path = DEFAULT_DIST, server: Iterable[BaseRoute] = ()) -> list[BaseRoute]:
    """Routes for the dashboard; append them last so API routes win. Under the first
    segment of any of `server`'s routes no client route lives: what no route there
    answers is a coded 404, never the dashboard's page."""
    root = dist.resolve()
    reserved = first_segments(server)
    assets = _Assets(directory=dist / "assets", check_dir=False)

    async def serve_assets(request: Request) -> Response:
        if not (dist / "assets").is_dir():
            return Response("dashboard assets are not built", status_code=404,
                            media_type="text/plain")
        path = request.path_params["path"]
        return await assets.get_response(path, request.scope)

    async def serve_page(request: Request) -> Response:
        path = request.path_params.get("path", "")
        if path.startswith(SERVER_PREFIXES) or path.split("/", 1)[0] in reserved:
            return refusal(404, str(ErrorCode.NOT_FOUND),
                           f"nothing is served at {request.method} /{path}")
        index = dist / "index.html"
        if not index.is_file():
            return HTMLResponse(MISSING_BUILD.format(dist=dist), status_code=503)
        candidate = (dist / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)  # top-level files such as favicon.ico
        return FileResponse(index, headers={"cache-control": INDEX_CACHE})

    return [
        Route("/assets/{path:path}", serve_assets, methods=["GET", "HEAD"]),
        Route("/", serve_page, methods=["GET", "HEAD"]),
        Route("/{path:path}", serve_page, methods=["GET", "HEAD"]),
    ]
