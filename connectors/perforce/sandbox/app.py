"""A fake Helix Swarm over the demo world's depots: changes (v11) and reviews (v9).

What it answers, in Swarm's shapes: `GET /api/v11/changes` (`pending`, `user`,
`rootPath` as URL-safe Base64, newest first, in the `{error, messages, data}`
envelope; `max` and `after` page it, `data.lastSeen` naming the last change of a
page while more remain), `GET /api/v9/reviews` (`change[]`, `project[]`,
`state[]`, `max`, `after`; `{lastSeen, reviews, totalCount}`), `GET
/api/v9/projects` and `GET /api/version`. A `rootPath` may carry a revision range
as `p4 changes` reads one: `//depot/x/main/...@41002,@41013`, labels or `#head`.
Basic authentication with the demo user and its password (Swarm takes a ticket
there). Behind the shared kit: request log, faults.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.config import ConnectorConfig
from connectors.records import LinkKind
from connectors.sandbox.kit import Credentials, SandboxKit
from connectors.sandbox.registry import DemoWiring, Sandbox
from connectors.sandbox.world import Changelist, Release, Review, World, build_world, depot_range

API_YEAR = "2024.2"


def swarm_time(when: datetime) -> str:
    return when.strftime("%Y/%m/%d %H:%M:%S")


def error(status: int, message: str) -> Response:
    return JSONResponse({"error": status, "messages": [{"code": status, "text": message}],
                         "data": None}, status_code=status)


class SwarmSandbox:
    def __init__(self, world: World, credentials: Credentials) -> None:
        self.world = world
        self.credentials = credentials
        self.kit = SandboxKit("perforce", error_response=error)

    # ------------------------------------------------------------------ auth

    def authenticate(self, request: Request) -> Response | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(value.strip(), validate=True).decode() \
                    .partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, secret = "", ""
            if hmac.compare_digest(user, self.credentials.username) and any(
                    hmac.compare_digest(secret, known)
                    for known in (self.credentials.password, self.credentials.token)):
                return None
        response = JSONResponse({"error": "Unauthorized"}, status_code=401)
        response.headers["WWW-Authenticate"] = 'Basic realm="Swarm"'
        return response

    # ------------------------------------------------------------------ changes

    def _selector(self, encoded: str) -> Callable[[Changelist], bool]:
        """Which changes a `rootPath` (with an optional revision range) takes."""
        try:
            text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValueError("rootPath is not URL-safe Base64") from None
        path, _, revisions = text.partition("@")
        path = path.removesuffix("...").rstrip("/")
        if not path.startswith("//"):
            raise ValueError(f"rootPath {text!r} is not a depot path")
        low, high = 0, None
        if revisions:
            start, comma, end = revisions.partition(",")
            if not comma:
                start, end = "1", revisions
            low = self._revision(start.removeprefix("@"))
            high = None if end.lower() == "#head" else self._revision(end.removeprefix("@"))

        def take(change: Changelist) -> bool:
            inside = change.depot_path == path or change.depot_path.startswith(path + "/")
            return inside and low <= change.number and (high is None or change.number <= high)
        return take

    def _revision(self, text: str) -> int:
        if text.isdigit():
            return int(text)
        label = next((lab for lab in self.world.labels if lab.name == text), None)
        if label is None:
            raise ValueError(f"{text} - no such label")
        return label.change

    def render_change(self, change: Changelist) -> dict[str, Any]:
        return {"id": change.number, "date": swarm_time(change.date),
                "client": f"{change.user.username}-ws", "user": change.user.username,
                "status": "submitted" if change.submitted else "pending", "type": "public",
                "importedBy": None, "identity": None, "description": change.description + "\n",
                "jobStatus": change.job_status, "jobs": list(change.jobs), "stream":
                change.depot_path, "files": [f"{change.depot_path}/src/{change.number % 7}.cpp"
                                              f"#{change.number % 5 + 1}"]}

    async def changes(self, request: Request) -> Response:
        query = request.query_params
        chosen = list(self.world.changelists)
        if "rootPath" in query:
            try:
                take = self._selector(query["rootPath"])
            except ValueError as exc:
                return error(400, str(exc))
            chosen = [c for c in chosen if take(c)]
        pending = query.get("pending")
        if pending in ("true", "false"):
            chosen = [c for c in chosen if c.submitted == (pending == "false")]
        if query.get("user"):
            chosen = [c for c in chosen if c.user.username == query["user"]]
        chosen.sort(key=lambda c: c.number, reverse=True)
        try:
            page, last = self._page(chosen, query.get("max"), query.get("after"),
                                    lambda c: c.number, newest_first=True)
        except ValueError as exc:
            return error(400, str(exc))
        data: dict[str, Any] = {"changes": [self.render_change(c) for c in page]}
        if last is not None:
            data["lastSeen"] = last
        return JSONResponse({"error": None, "messages": [], "data": data})

    @staticmethod
    def _page(rows: list[Any], size: str | None, after: str | None, ident: Callable[[Any], int],
              *, newest_first: bool) -> tuple[list[Any], int | None]:
        if after:
            if not after.isdigit():
                raise ValueError("after must be an id")
            rows = [r for r in rows if (ident(r) < int(after) if newest_first
                                        else ident(r) > int(after))]
        limit = 1000
        if size:
            if not size.isdigit() or int(size) < 1:
                raise ValueError("max must be a positive integer")
            limit = int(size)
        page = rows[:limit]
        return page, ident(page[-1]) if len(rows) > limit else None

    # ------------------------------------------------------------------ reviews, projects

    def render_review(self, review: Review) -> dict[str, Any]:
        app = self.world.app(review.app_key)
        return {"id": review.id, "type": "default", "author": review.author.username,
                "changes": [review.change], "commits": [review.change] if review.committed else [],
                "commitStatus": [], "created": int(review.created.timestamp()),
                "updated": int(review.updated.timestamp()), "description": review.description,
                "participants": {review.author.username: []}, "pending": not review.committed,
                "projects": {app.repo_name: ["main"]}, "state": review.state,
                "stateLabel": {"needsReview": "Needs Review", "needsRevision": "Needs Revision",
                               "approved": "Approved", "rejected": "Rejected",
                               "archived": "Archived"}[review.state]}

    async def reviews(self, request: Request) -> Response:
        query = request.query_params
        chosen = list(self.world.reviews)
        changes = {int(c) for c in query.getlist("change[]") + query.getlist("change")
                   if c.isdigit()}
        if changes:
            chosen = [r for r in chosen if r.change in changes]
        projects = set(query.getlist("project[]") + query.getlist("project"))
        if projects:
            chosen = [r for r in chosen if self.world.app(r.app_key).repo_name in projects]
        states = set(query.getlist("state[]") + query.getlist("state"))
        if states:
            chosen = [r for r in chosen if r.state in states]
        chosen.sort(key=lambda r: r.id, reverse=True)
        try:
            page, last = self._page(chosen, query.get("max"), query.get("after"),
                                    lambda r: r.id, newest_first=True)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"lastSeen": last, "reviews": [self.render_review(r) for r in page],
                             "totalCount": len(chosen)})

    async def projects(self, request: Request) -> Response:
        return JSONResponse({"projects": [
            {"id": app.repo_name, "name": app.name, "description": f"{app.name} sources",
             "members": [app.lead.username], "owners": [app.lead.username],
             "branches": [{"id": "main", "name": "main", "paths": [f"{app.depot_path}/..."]}]}
            for app in self.world.applications if app.code_store == "perforce"]})

    async def version(self, request: Request) -> Response:
        return JSONResponse({"year": API_YEAR.split(".")[0], "version": f"SWARM/{API_YEAR}",
                             "apiVersions": [9, 10, 11]})

    def routes(self) -> list[Route]:
        return [Route("/api/v11/changes", self.changes),
                Route("/api/v9/reviews", self.reviews),
                Route("/api/v9/projects", self.projects),
                Route("/api/version", self.version),
                Route("/api/v9/version", self.version)]


def create_app(world: World | None = None, *, credentials: Credentials | None = None,
               webhook_url: str | None = None, webhook_secret: str | None = None,
               seed: int = 7, scale: int = 1) -> Starlette:
    """The Swarm sandbox over the world's depots (Swarm's own webhooks are not sent)."""
    sandbox = SwarmSandbox(world or build_world(seed, scale), credentials or Credentials())
    app = sandbox.kit.app(sandbox.routes(), auth=sandbox.authenticate)
    app.state.perforce = sandbox
    return app


def demo_connector(wiring: DemoWiring) -> ConnectorConfig:
    return ConnectorConfig(name=wiring.name, kind="perforce", base_url=wiring.base_url,
                           auth={"type": "basic", "username": wiring.username,
                                 "password_env": wiring.password_env})


def demo_links(world: World, release: Release) -> list[tuple[LinkKind, str]]:
    """An application kept in Perforce links each release to its depot range."""
    if world.app(release.app_key).code_store != "perforce":
        return []
    path, first, last = depot_range(world, release)
    end = f"@{last}" if last >= first else "#head"
    return [(LinkKind.CODE_RANGE, f"{path}@{first},{end}")]


#: This kind's entry in the `heatshield.sandboxes` registry (pyproject.toml).
SANDBOX = Sandbox(create_app, demo_connector=demo_connector, demo_links=demo_links)
