"""A fake GitHub (REST v3 and GraphQL v4) that speaks GitHub's wire format.

It serves the demo world's repositories, milestones, issues, pull requests,
tags, releases, deployments and environments with GitHub's own pagination
(`Link`), conditional requests (weak ETags, 304 free of charge), rate-limit
headers and budget, error bodies and signed webhooks, so the hub's GitHub
connector can be developed, tested and benchmarked against it offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.config import ConnectorConfig
from connectors.github.sandbox import checks, events, git, render, repository_meta, search
from connectors.github.sandbox.graphql_api import GraphQLService
from connectors.github.sandbox.render import IssueComment, LabelDef
from connectors.records import LinkKind
from connectors.sandbox.kit import Credentials, SandboxKit
from connectors.sandbox.registry import DemoWiring, Sandbox
from connectors.sandbox.world import (
    Application,
    Commit,
    Deployment,
    DeploymentStatus,
    GitHubIssue,
    GitHubRelease,
    Person,
    PullRequest,
    Release,
    Tag,
    World,
    build_world,
)

DOCS = "https://docs.github.com/rest"
# A branch or tag name git accepts (git check-ref-format), less its rarer rules.
_GIT_REF_NAME = re.compile(r"(?!/)(?!.*//)[\w.\-/]+(?<![/.])")
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
API_VERSION = "2022-11-28"
WINDOW_SECONDS = 3600
DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before "
                     "you try again. If you reach out to GitHub Support for help, please include "
                     "the request ID.")
Json = dict[str, Any]


def signature_256(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_webhook(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Hub-Signature-256": signature_256(secret, body),
            "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


class GitHubError(Exception):
    """An answer in GitHub's error shape (`message`, `documentation_url`, `status`)."""

    def __init__(self, status: int, message: str, *, errors: list[Json] | None = None,
                 doc: str = DOCS, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.doc = doc
        self.headers = headers or {}

    def body(self) -> Json:
        out: Json = {"message": self.message, "documentation_url": self.doc}
        if self.errors is not None:
            out["errors"] = self.errors
        out["status"] = str(self.status)
        return out


def not_found() -> GitHubError:
    return GitHubError(404, "Not Found")


def invalid(resource: str, field_name: str, code: str = "missing_field",
            message: str | None = None) -> GitHubError:
    error: Json = {"resource": resource, "code": code, "field": field_name}
    if message:
        error["message"] = message
    return GitHubError(422, "Validation Failed", errors=[error])


@dataclass
class RateBudget:
    """A primary rate-limit window for one resource (`core`, `graphql`, `search`)."""

    resource: str
    limit: int
    used: int = 0
    window_start: float = field(default_factory=time.time)
    window: int = WINDOW_SECONDS  # search's window is a minute, the others an hour

    def _roll(self) -> None:
        if time.time() >= self.window_start + self.window:
            self.window_start = time.time()
            self.used = 0

    @property
    def remaining(self) -> int:
        self._roll()
        return max(0, self.limit - self.used)

    @property
    def reset(self) -> int:
        return int(self.window_start + self.window)

    def spend(self, points: int = 1) -> None:
        self._roll()
        self.used = min(self.limit, self.used + points)

    def headers(self) -> dict[str, str]:
        return {"x-ratelimit-limit": str(self.limit), "x-ratelimit-remaining": str(self.remaining),
                "x-ratelimit-used": str(self.used), "x-ratelimit-reset": str(self.reset),
                "x-ratelimit-resource": self.resource}

    def overview(self) -> Json:
        return {"limit": self.limit, "used": self.used, "remaining": self.remaining,
                "reset": self.reset}


@dataclass
class Reply:
    """What a route produced, before the ETag, budget and header treatment."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    cost: int = 1


Handler = Callable[[Request], Awaitable[Reply]]


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid("Query", name, "invalid", f"{name} must be an integer") from None


def paginate(request: Request, items: Sequence[Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` plus GitHub's `Link` header (absent on a single page)."""
    per_page = min(100, max(1, _int_param(request, "per_page", 30)))
    page = max(1, _int_param(request, "page", 1))
    last = max(1, -(-len(items) // per_page))
    chunk = list(items[(page - 1) * per_page: page * per_page])
    if last == 1:
        return chunk, {}

    def at(number: int) -> str:
        return str(request.url.include_query_params(page=number, per_page=per_page))

    links: list[str] = []
    if page > 1:
        links.append(f'<{at(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{at(page + 1)}>; rel="next"')
        links.append(f'<{at(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{at(1)}>; rel="first"')
    return chunk, {"link": ", ".join(links)}


def _etag(body: bytes) -> str:
    return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == wanted
               for tag in header.split(","))


def _parse_since(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("Issue", "since", "invalid", "since must be an ISO 8601 timestamp") from None


class GitHubSandbox:
    """One fake GitHub: its data, budgets and kit; the app keeps it as `state.github`."""

    def __init__(self, world: World, credentials: Credentials, *, rate_limit: int,
                 graphql_rate_limit: int, rate_limit_status: int, webhook_url: str | None,
                 search_rate_limit: int,
                 webhook_secret: str | None, seed: int) -> None:
        self.credentials = credentials
        viewer = render.Viewer(login="demo", id=9_000_001, name="Demo Release Manager",
                               email=credentials.username)
        self.data = render.GitHubData.build(world, viewer)
        self.core = RateBudget("core", rate_limit)
        self.graphql_budget = RateBudget("graphql", graphql_rate_limit)
        self.search_budget = RateBudget("search", search_rate_limit, window=60)
        self.rate_limit_status = rate_limit_status
        self.kit = SandboxKit("github", error_response=self.error_response,
                              rate_limit_headers=self._secondary_headers,
                              webhook_url=webhook_url, webhook_secret=webhook_secret,
                              webhook_signer=sign_webhook, seed=seed)
        self.graphql = GraphQLService(self.data)

    # -- shared response treatment -------------------------------------------

    def _common_headers(self, budget: RateBudget) -> dict[str, str]:
        return {**budget.headers(), "x-github-api-version-selected": API_VERSION,
                "x-github-request-id": uuid.uuid4().hex[:20].upper()}

    def error_response(self, status: int, message: str) -> Response:
        """Errors the kit raises (faults, unknown routes) in GitHub's shape."""
        if status == 429:
            error = GitHubError(429, SECONDARY_MESSAGE,
                                doc=RATE_DOCS + "#about-secondary-rate-limits")
        elif status in (404, 405):  # GitHub has no 405: a method a path lacks is unknown
            status, error = 404, not_found()
        else:
            error = GitHubError(status, message)
        return JSONResponse(error.body(), status_code=status,
                            headers=self._common_headers(self.core))

    def _secondary_headers(self, retry_after: int) -> dict[str, str]:
        return {"retry-after": str(retry_after), **self.core.headers()}

    def _budget_for(self, request: Request) -> RateBudget:
        path = request.url.path
        if path.endswith("/graphql"):
            return self.graphql_budget
        return self.search_budget if "/search/" in path else self.core

    def authenticate(self, request: Request) -> Response | None:
        """Token check, then the primary budget; runs before every vendor route."""
        budget = self._budget_for(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token:
            error = GitHubError(401, "Requires authentication")
        elif not hmac.compare_digest(token.strip(), self.credentials.token):
            error = GitHubError(401, "Bad credentials")
        else:
            if budget.remaining > 0 or request.url.path.endswith("/rate_limit"):
                return None  # `/rate_limit` stays answerable, as on GitHub
            if budget is self.graphql_budget:
                body = {"errors": [{"type": "RATE_LIMITED",
                                    "message": "API rate limit exceeded for user ID "
                                               f"{self.data.viewer.id}."}]}
                return JSONResponse(body, headers=self._common_headers(budget))
            error = GitHubError(self.rate_limit_status,
                                f"API rate limit exceeded for user ID {self.data.viewer.id}.",
                                doc=RATE_DOCS)
        return JSONResponse(error.body(), status_code=error.status,
                            headers=self._common_headers(budget))

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a route: JSON body, ETag and 304, budget spent, rate headers."""

        async def run(request: Request) -> Response:
            budget = self._budget_for(request)
            try:
                reply = await handler(request)
            except GitHubError as error:
                budget.spend()
                return JSONResponse(error.body(), status_code=error.status,
                                    headers={**self._common_headers(budget), **error.headers})
            content = (b"" if reply.status == 204
                       else json.dumps(reply.body, separators=(",", ":")).encode())
            headers = dict(reply.headers)
            if request.method == "GET":
                etag = _etag(content)
                headers["etag"] = etag
                if _etag_matches(request.headers.get("if-none-match"), etag):
                    return Response(status_code=304,
                                    headers={**self._common_headers(budget), "etag": etag})
            budget.spend(reply.cost)
            headers.update(self._common_headers(budget))
            return Response(content, status_code=reply.status, headers=headers,
                            media_type=None if reply.status == 204
                            else "application/json; charset=utf-8")

        return run

    # -- helpers ---------------------------------------------------------------

    @staticmethod
    def base(request: Request) -> str:
        """Scheme, host and mount prefix (`root_path`), so URLs work behind a Mount."""
        root = str(request.scope.get("root_path", ""))
        return str(request.url.replace(path=root or "/", query="")).rstrip("/")

    def app_of(self, request: Request) -> Application:
        app = self.data.repo(request.path_params["owner"], request.path_params["repo"])
        if app is None:
            raise not_found()
        return app

    async def _json_body(self, request: Request) -> Json:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise GitHubError(400, "Problems parsing JSON") from None
        if not isinstance(body, dict):
            raise GitHubError(400, "Body should be a JSON object")
        return body

    async def _emit(self, event: str, app: Application, base: str, payload: Json) -> None:
        payload = {**payload, "repository": render.repository(base, self.data, app),
                   "organization": render.organization(base, self.data.world),
                   "sender": render.user(base, self.data.viewer.login, self.data.viewer.id)}
        await self.kit.emit_webhook(event, payload, {
            "X-GitHub-Event": event, "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Hook-ID": "4242", "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-GitHub-Hook-Installation-Target-ID": str(app.repo_id)})

    # -- users and repositories -------------------------------------------------

    async def get_user(self, request: Request) -> Reply:
        return Reply(render.private_user(self.base(request), self.data.viewer))

    async def get_named_user(self, request: Request) -> Reply:
        login = request.path_params["login"]
        base = self.base(request)
        if login.lower() == self.data.world.org.lower():
            return Reply(render.organization_full(base, self.data.world))
        who = self.data.person(login)
        if who is None:
            raise not_found()
        return Reply(render.public_user(base, who))

    async def get_org(self, request: Request) -> Reply:
        if request.path_params["org"].lower() != self.data.world.org.lower():
            raise not_found()
        return Reply(render.organization_full(self.base(request), self.data.world))

    async def org_members(self, request: Request) -> Reply:
        """The organization's people (the token's owner is one of them), by login."""
        if request.path_params["org"].lower() != self.data.world.org.lower():
            raise not_found()
        page, headers = paginate(request, self.data.people())
        base = self.base(request)
        return Reply([render.person(base, who) for who in page], headers=headers)

    async def list_repos(self, request: Request) -> Reply:
        org = request.path_params.get("org")
        if org is not None and org.lower() != self.data.world.org.lower():
            raise not_found()
        base = self.base(request)
        repos = [render.repository(base, self.data, a) for a in self.data.world.applications]
        page, headers = paginate(request, repos)
        return Reply(page, headers=headers)

    async def get_repo(self, request: Request) -> Reply:
        return Reply(render.repository(self.base(request), self.data, self.app_of(request)))

    async def rate_limit(self, request: Request) -> Reply:
        core = self.core.overview()
        return Reply({"resources": {"core": core, "graphql": self.graphql_budget.overview(),
                                    "search": self.search_budget.overview()},
                      "rate": core}, cost=0)

    # -- milestones, issues, pulls ---------------------------------------------

    async def list_milestones(self, request: Request) -> Reply:
        app = self.app_of(request)
        state = request.query_params.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise invalid("Milestone", "state", "invalid")
        releases = [r for r in self.data.milestones(app)
                    if state == "all" or self.data.milestone_state(r) == state]
        sort = request.query_params.get("sort", "due_on")
        if sort == "completeness":
            def done(r: Any) -> float:
                o, c = self.data.milestone_counts(r)
                return c / (o + c) if o + c else 0.0
            releases.sort(key=done)
        else:
            releases.sort(key=self._due)
        if request.query_params.get("direction", "asc") == "desc":
            releases.reverse()
        base = self.base(request)
        page, headers = paginate(request, [render.milestone(base, self.data, r) for r in releases])
        return Reply(page, headers=headers)

    def _due(self, release: Release) -> tuple[bool, datetime]:
        """A milestone's place by due date; those with none come last."""
        due = render.milestone_facet(self.data, release).due_on
        return due is None, due or release.window_start

    async def get_milestone(self, request: Request) -> Reply:
        return Reply(render.milestone(self.base(request), self.data, self._milestone(request)))

    def _milestone(self, request: Request) -> Release:
        app = self.app_of(request)
        number = request.path_params["number"]
        release = next((r for r in self.data.milestones(app) if r.milestone_number == number),
                       None)
        if release is None:
            raise not_found()
        return release

    async def milestone_labels(self, request: Request) -> Reply:
        """The labels of the milestone's issues and pull requests, each once, by name."""
        app = self.app_of(request)
        key = self._milestone(request).key
        used = {n for item, _is_pr in self._issue_rows(app) if item.release_key == key
                for n in item.labels}
        names = [n for n in self.data.label_names(app) if n in used]
        page, headers = paginate(request, names)
        base = self.base(request)
        return Reply([self.data.label_json(base, app, n) for n in page], headers=headers)

    def _milestone_fields(self, app: Application, body: Json, current: Release | None
                          ) -> dict[str, Any]:
        """A milestone write's fields, each checked as GitHub checks it (422 naming the
        field) before any is set; only those the body names."""
        fields: dict[str, Any] = {}
        if "title" in body or current is None:
            title = body.get("title")
            if not isinstance(title, str) or not title.strip():
                raise invalid("Milestone", "title", "missing_field" if current is None
                              else "invalid")
            if any(self.data.milestone_title(r).lower() == title.strip().lower()
                   and r is not current for r in self.data.milestones(app)):
                raise invalid("Milestone", "title", "already_exists")
            fields["title"] = title.strip()
        if "state" in body:
            if body["state"] not in ("open", "closed"):
                raise invalid("Milestone", "state", "invalid")
            fields["state"] = body["state"]
        if "description" in body:
            if not isinstance(body["description"], str | None):
                raise invalid("Milestone", "description", "invalid")
            fields["description"] = body["description"]
        if "due_on" in body:
            due = body["due_on"]
            try:  # a day alone (PyGithub sends `%Y-%m-%d`) is that day's start, UTC
                when = None if due is None else datetime.fromisoformat(
                    str(due).replace("Z", "+00:00"))
            except ValueError:
                raise invalid("Milestone", "due_on", "invalid") from None
            fields["due_on"] = when if when is None or when.tzinfo else when.replace(
                tzinfo=UTC)
        return fields

    async def create_milestone(self, request: Request) -> Reply:
        """A milestone of GitHub's own, for no planned release; 201 with its Location."""
        app = self.app_of(request)
        fields = self._milestone_fields(app, await self._json_body(request), None)
        now = self.data.world.clock.now()
        number = max((r.milestone_number for r in self.data.milestones(app)), default=0) + 1
        made = Release(key=f"{app.key}#milestone-{number}", app_key=app.key,
                       version_name=fields["title"], jira_version_id=self.data.new_id(),
                       milestone_number=number, status="PLANNED", type="PROJECT",
                       window_start=now, window_end=now, released=False, from_tag="",
                       to_tag="", description=fields.get("description") or "")
        state = fields.get("state", "open")
        self.data.milestone_facets[render.milestone_id(made)] = render.MilestoneFacet(
            title=fields["title"], description=fields.get("description"), state=state,
            due_on=fields.get("due_on"), created=now, updated=now,
            closed_at=now if state == "closed" else None)
        self.data.created_milestones.append(made)
        rendered = render.milestone(self.base(request), self.data, made)
        return Reply(rendered, status=201, headers={"location": rendered["url"]})

    async def update_milestone(self, request: Request) -> Reply:
        """Retitle, describe, date, close or reopen a milestone."""
        app = self.app_of(request)
        release = self._milestone(request)
        fields = self._milestone_fields(app, await self._json_body(request), release)
        now = self.data.world.clock.now()
        # A world milestone's first edit starts from what it reads.
        facet = self.data.milestone_facets.setdefault(
            render.milestone_id(release), render.milestone_facet(self.data, release))
        was_closed = facet.state == "closed"
        facet.title = fields.get("title", facet.title)
        facet.description = fields.get("description", facet.description)
        facet.due_on = fields.get("due_on", facet.due_on)
        facet.state = fields.get("state", facet.state)
        if facet.state == "closed" and not was_closed:
            facet.closed_at = now
        elif facet.state == "open":
            facet.closed_at = None
        facet.updated = now
        return Reply(render.milestone(self.base(request), self.data, release))

    def _issue_rows(self, app: Application) -> list[tuple[Any, bool]]:
        return ([(i, False) for i in self.data.issues(app)]
                + [(p, True) for p in self.data.app_pulls(app)])

    async def list_issues(self, request: Request) -> Reply:
        app = self.app_of(request)
        q = request.query_params
        state = q.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise invalid("Issue", "state", "invalid")
        rows = [(item, is_pr) for item, is_pr in self._issue_rows(app)
                if state == "all" or item.state == state]
        milestone = q.get("milestone")
        if milestone == "none":
            rows = [r for r in rows if r[0].release_key is None]
        elif milestone == "*":
            rows = [r for r in rows if r[0].release_key is not None]
        elif milestone:
            if not milestone.isdigit():
                raise invalid("Issue", "milestone", "invalid")
            wanted = next((r.key for r in self.data.milestones(app)
                           if r.milestone_number == int(milestone)), None)
            if wanted is None:
                raise not_found()
            rows = [r for r in rows if r[0].release_key == wanted]
        if q.get("labels"):
            names = {n.strip() for n in q["labels"].split(",") if n.strip()}
            rows = [r for r in rows if names <= set(r[0].labels)]
        since = _parse_since(q.get("since"))
        if since is not None:
            rows = [r for r in rows if r[0].updated >= since]
        if q.get("creator"):
            rows = [r for r in rows if r[0].author.github_login == q["creator"]]
        assignee = q.get("assignee")
        if assignee:
            def assigned(item: Any, is_pr: bool) -> str | None:
                who = None if is_pr else item.assignee
                return None if who is None else str(who.github_login)
            if assignee == "none":
                rows = [r for r in rows if assigned(*r) is None]
            elif assignee == "*":
                rows = [r for r in rows if assigned(*r) is not None]
            else:
                rows = [r for r in rows if assigned(*r) == assignee]
        sort = q.get("sort", "created")
        rows.sort(key=lambda r: (r[0].updated if sort == "updated" else r[0].created,
                                 r[0].number))
        if q.get("direction", "desc") != "asc":
            rows.reverse()
        page, headers = paginate(request, rows)
        base = self.base(request)
        body = [render.pull_as_issue(base, self.data, item) if is_pr
                else render.issue(base, self.data, item) for item, is_pr in page]
        return Reply(body, headers=headers)

    async def get_issue(self, request: Request) -> Reply:
        app = self.app_of(request)
        number = request.path_params["number"]
        for item, is_pr in self._issue_rows(app):
            if item.number == number:
                base = self.base(request)
                return Reply(render.pull_as_issue(base, self.data, item) if is_pr
                             else render.issue(base, self.data, item))
        raise not_found()

    async def create_issue(self, request: Request) -> Reply:
        """`POST .../issues`: the viewer opens an issue; unknown label names are created."""
        app = self.app_of(request)
        body = await self._json_body(request)
        title = body.get("title")
        if isinstance(title, int) and not isinstance(title, bool):
            title = str(title)
        if not isinstance(title, str) or not title.strip():
            raise invalid("Issue", "title")
        text = body.get("body")
        if text is not None and not isinstance(text, str):
            raise invalid("Issue", "body", "invalid", "body must be a string")
        release_key = self._milestone_key(app, body.get("milestone"), "Issue")
        labels = self._label_names(body.get("labels"), "Issue")
        assignee = self._assignees(body, "Issue")
        now = self.data.world.clock.now()
        item = GitHubIssue(
            id=self.data.new_id(), number=self.data.next_number(app), app_key=app.key,
            release_key=release_key, title=title, body=text or "",
            author=self.data.viewer_person, assignee=assignee, state="open", state_reason=None,
            created=now, updated=now, closed_at=None, labels=labels)
        self.data.all_issues.append(item)
        # Opened with labels, a milestone or an assignee: each is an event of its own.
        self._record(dataclasses.replace(item, labels=[], release_key=None, assignee=None),
                     item)
        rendered = render.issue(self.base(request), self.data, item)
        return Reply(rendered, status=201, headers={"location": rendered["url"]})

    async def edit_issue(self, request: Request) -> Reply:
        """`PATCH .../issues/{n}`: title, body, state, labels, milestone, assignees."""
        app = self.app_of(request)
        item = self._numbered(app, request.path_params["number"])
        self._edit(app, item, await self._json_body(request), "Issue")
        base = self.base(request)
        return Reply(render.pull_as_issue(base, self.data, item) if isinstance(item, PullRequest)
                     else render.issue(base, self.data, item))

    async def edit_pull(self, request: Request) -> Reply:
        """`PATCH .../pulls/{n}`: title, body, state (a merged pull stays closed)."""
        app = self.app_of(request)
        pull = self._pull(app, request.path_params["number"])
        body = await self._json_body(request)
        if "base" in body and body["base"] != pull.base_ref:
            raise invalid("PullRequest", "base", "invalid",
                          f"Proposed base branch '{body['base']}' was not found")
        self._edit(app, pull, {k: v for k, v in body.items() if k in ("title", "body", "state")},
                   "PullRequest")
        return Reply(render.pull_full(self.base(request), self.data, pull))

    async def issue_labels(self, request: Request) -> Reply:
        """`GET`, `POST` (add) and `PUT` (replace) `.../issues/{n}/labels`; a body may be
        `{"labels": [...]}` or the bare array PyGithub sends."""
        app = self.app_of(request)
        item = self._numbered(app, request.path_params["number"])
        if request.method != "GET":
            try:
                raw = json.loads(await request.body() or b"[]")
            except ValueError:
                raise GitHubError(400, "Problems parsing JSON") from None
            names = self._label_names(raw.get("labels") if isinstance(raw, dict) else raw,
                                      "Label")
            if request.method == "POST":
                names = item.labels + [n for n in names
                                       if n.lower() not in {x.lower() for x in item.labels}]
            before = dataclasses.replace(item)
            item.labels, item.updated = names, self.data.world.clock.now()
            self._record(before, item)
        base = self.base(request)
        return Reply([self.data.label_json(base, app, n) for n in item.labels])

    async def remove_issue_label(self, request: Request) -> Reply:
        app = self.app_of(request)
        item = self._numbered(app, request.path_params["number"])
        name = request.path_params["name"].lower()
        if name not in {n.lower() for n in item.labels}:
            raise GitHubError(404, "Label does not exist")
        before = dataclasses.replace(item)
        item.labels = [n for n in item.labels if n.lower() != name]
        item.updated = self.data.world.clock.now()
        self._record(before, item)
        base = self.base(request)
        return Reply([self.data.label_json(base, app, n) for n in item.labels])

    def _edit(self, app: Application, item: GitHubIssue | PullRequest, body: Json,
              resource: str) -> None:
        """Check every field first, then write them all: a refused edit changes nothing."""
        changes: Json = {}
        if "title" in body:
            if not isinstance(body["title"], str) or not body["title"].strip():
                raise invalid(resource, "title", "invalid")
            changes["title"] = body["title"]
        if "body" in body:
            if body["body"] is not None and not isinstance(body["body"], str):
                raise invalid(resource, "body", "invalid", "body must be a string")
            changes["body"] = body["body"] or ""
        if "milestone" in body:
            changes["release_key"] = self._milestone_key(app, body["milestone"], resource)
        if "labels" in body:
            changes["labels"] = self._label_names(body["labels"], resource)
        if ("assignee" in body or "assignees" in body) and isinstance(item, GitHubIssue):
            changes["assignee"] = self._assignees(body, resource)
        state = body.get("state", item.state)
        if state not in ("open", "closed"):
            raise invalid(resource, "state", "invalid")
        if state == "open" and isinstance(item, PullRequest) and item.merged_at is not None:
            raise invalid(resource, "state", "invalid",
                          "state cannot be changed. The pull request has been merged.")
        now = self.data.world.clock.now()
        if state != item.state:
            changes["state"] = state
            changes["closed_at"] = now if state == "closed" else None
            if isinstance(item, GitHubIssue):
                reason = body.get("state_reason")
                changes["state_reason"] = (
                    "reopened" if state == "open" else reason
                    if reason in ("completed", "not_planned", "duplicate") else "completed")
        before = dataclasses.replace(item)
        for name, value in changes.items():
            setattr(item, name, value)
        item.updated = now
        self._record(before, item)

    def _record(self, before: GitHubIssue | PullRequest, after: GitHubIssue | PullRequest
                ) -> None:
        """Keep the issue events a write made (`events.changes`)."""
        self.data.issue_events += events.changes(self.data, before, after,
                                                 self.data.viewer_person, after.updated)

    def _milestone_key(self, app: Application, value: Any, resource: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str) \
                or not str(value).isdigit():
            raise invalid(resource, "milestone", "invalid")
        found = next((r for r in self.data.milestones(app)
                      if r.milestone_number == int(value)), None)
        if found is None:
            raise invalid(resource, "milestone", "invalid")
        return found.key

    @staticmethod
    def _label_names(value: Any, resource: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid(resource, "labels", "invalid", "labels must be an array")
        names: list[str] = []
        for entry in value:
            name = entry.get("name") if isinstance(entry, dict) else entry
            if not isinstance(name, str) or not name.strip():
                raise invalid(resource, "labels", "invalid")
            if name.lower() not in {n.lower() for n in names}:
                names.append(name.strip())
        return names

    def _assignees(self, body: Json, resource: str) -> Person | None:
        """The world keeps one assignee per issue: the first of `assignees`, or `assignee`."""
        logins = body.get("assignees")
        if logins is None:
            logins = [] if body.get("assignee") is None else [body["assignee"]]
        if not isinstance(logins, list) or not all(isinstance(x, str) for x in logins):
            raise invalid(resource, "assignees", "invalid")
        people = [self.data.person(login) for login in logins]
        if any(p is None for p in people):
            raise invalid(resource, "assignees", "invalid")
        return people[0] if people else None

    def _numbered(self, app: Application, number: int) -> GitHubIssue | PullRequest:
        """The issue or pull request with this number (they share the sequence)."""
        found = self.data.numbered(app, number)
        if found is None:
            raise not_found()
        return found

    async def list_issue_events(self, request: Request) -> Reply:
        """`GET .../issues/{n}/events`: the item's history, oldest first."""
        app = self.app_of(request)
        item = self._numbered(app, request.path_params["number"])
        page, headers = paginate(request, events.of_item(self.data, item))
        base = self.base(request)
        return Reply([events.rendered(base, self.data, e, with_issue=False) for e in page],
                     headers=headers)

    async def list_repo_issue_events(self, request: Request) -> Reply:
        """`GET .../issues/events`: every item's events, newest first, each with its issue."""
        app = self.app_of(request)
        page, headers = paginate(request, events.of_repository(self.data, app))
        base = self.base(request)
        return Reply([events.rendered(base, self.data, e, with_issue=True) for e in page],
                     headers=headers)

    async def get_issue_event(self, request: Request) -> Reply:
        app = self.app_of(request)
        wanted = request.path_params["id"]
        found = next((e for e in events.of_repository(self.data, app) if e.id == wanted), None)
        if found is None:
            raise not_found()
        return Reply(events.rendered(self.base(request), self.data, found, with_issue=True))

    async def list_comments(self, request: Request) -> Reply:
        app = self.app_of(request)
        number = request.path_params["number"]
        self._numbered(app, number)
        rows = self.data.issue_comments(app, number)
        since = _parse_since(request.query_params.get("since"))
        if since is not None:
            rows = [c for c in rows if c.updated >= since]
        page, headers = paginate(request, rows)
        base = self.base(request)
        return Reply([render.issue_comment(base, app, c) for c in page], headers=headers)

    async def create_comment(self, request: Request) -> Reply:
        app = self.app_of(request)
        number = request.path_params["number"]
        item = self._numbered(app, number)
        body = await self._json_body(request)
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise invalid("IssueComment", "body")
        now = self.data.world.clock.now()
        comment = IssueComment(self.data.new_id(), app.key, number, text,
                               self.data.viewer_person, now, now)
        self.data.comments.append(comment)
        item.updated = now
        rendered = render.issue_comment(self.base(request), app, comment)
        return Reply(rendered, status=201, headers={"location": rendered["url"]})

    async def list_repo_comments(self, request: Request) -> Reply:
        """`GET .../issues/comments`: every comment in the repository, oldest first."""
        app = self.app_of(request)
        rows = [c for c in self.data.comments if c.app_key == app.key]
        since = _parse_since(request.query_params.get("since"))
        if since is not None:
            rows = [c for c in rows if c.updated >= since]
        rows.sort(key=lambda c: (c.updated if request.query_params.get("sort") == "updated"
                                 else c.created, c.id),
                  reverse=request.query_params.get("direction") == "desc")
        page, headers = paginate(request, rows)
        base = self.base(request)
        return Reply([render.issue_comment(base, app, c) for c in page], headers=headers)

    async def get_comment(self, request: Request) -> Reply:
        app = self.app_of(request)
        found = next((c for c in self.data.comments if c.app_key == app.key
                      and c.id == request.path_params["id"]), None)
        if found is None:
            raise not_found()
        return Reply(render.issue_comment(self.base(request), app, found))

    # -- labels ------------------------------------------------------------------

    async def list_labels(self, request: Request) -> Reply:
        app = self.app_of(request)
        page, headers = paginate(request, self.data.label_names(app))
        base = self.base(request)
        return Reply([self.data.label_json(base, app, n) for n in page], headers=headers)

    async def get_label(self, request: Request) -> Reply:
        app = self.app_of(request)
        name = next((n for n in self.data.label_names(app)
                     if n.lower() == request.path_params["name"].lower()), None)
        if name is None:
            raise not_found()
        return Reply(self.data.label_json(self.base(request), app, name))

    async def create_label(self, request: Request) -> Reply:
        app = self.app_of(request)
        body = await self._json_body(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("Label", "name")
        if name.lower() in {n.lower() for n in self.data.label_names(app)}:
            raise invalid("Label", "name", "already_exists")
        colour = body.get("color", "ededed")
        if not isinstance(colour, str) or not re.fullmatch(r"[0-9a-fA-F]{6}",
                                                             colour.removeprefix("#")):
            raise invalid("Label", "color", "invalid")
        description = body.get("description") or ""
        if not isinstance(description, str) or len(description) > 100:
            raise invalid("Label", "description", "invalid",
                          "description is too long (maximum is 100 characters)")
        self.data.label_defs.append(LabelDef(app.key, name.strip(),
                                             colour.removeprefix("#").lower(), description))
        rendered = self.data.label_json(self.base(request), app, name.strip())
        return Reply(rendered, status=201, headers={"location": rendered["url"]})

    # -- search ------------------------------------------------------------------

    async def search_issues(self, request: Request) -> Reply:
        """`GET /search/issues`: GitHub's qualifiers, `total_count` and at most 1000 hits."""
        q = request.query_params.get("q")
        if not q or not q.strip():
            raise GitHubError(422, "Validation Failed", errors=[
                {"resource": "Search", "field": "q", "code": "missing"}])
        found = search.search(self.data, search.parse(q))
        sort = request.query_params.get("sort")
        if sort in ("created", "updated", "comments"):
            def key(item: Any) -> Any:
                if sort == "comments":
                    app = self.data.world.app(item.app_key)
                    return (len(self.data.issue_comments(app, item.number)), item.id)
                return (item.updated if sort == "updated" else item.created, item.id)
            found.sort(key=key, reverse=request.query_params.get("order", "desc") != "asc")
        page, headers = paginate(request, found[:1000])
        base = self.base(request)
        items = [(render.pull_as_issue(base, self.data, item)
                  if isinstance(item, PullRequest) else render.issue(base, self.data, item))
                 | {"score": 1.0} for item in page]
        return Reply({"total_count": len(found), "incomplete_results": False, "items": items,
                      "search_type": "lexical"}, headers=headers)

    def _pull(self, app: Application, number: int) -> PullRequest:
        pull = next((p for p in self.data.app_pulls(app) if p.number == number), None)
        if pull is None:
            raise not_found()
        return pull

    async def list_pulls(self, request: Request) -> Reply:
        app = self.app_of(request)
        q = request.query_params
        state = q.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise invalid("PullRequest", "state", "invalid")
        pulls = [p for p in self.data.app_pulls(app) if state == "all" or p.state == state]
        if q.get("base"):
            pulls = [p for p in pulls if p.base_ref == q["base"]]
        if q.get("head"):
            owner, _, ref = q["head"].rpartition(":")
            if owner and owner.lower() != app.repo_owner.lower():
                pulls = []
            pulls = [p for p in pulls if p.head_ref == ref]
        sort = q.get("sort", "created")
        pulls.sort(key=lambda p: (p.updated if sort == "updated" else p.created, p.number))
        if q.get("direction", "desc") != "asc":
            pulls.reverse()
        page, headers = paginate(request, pulls)
        base = self.base(request)
        return Reply([render.pull_simple(base, self.data, p) for p in page], headers=headers)

    async def get_pull(self, request: Request) -> Reply:
        app = self.app_of(request)
        pull = self._pull(app, request.path_params["number"])
        return Reply(render.pull_full(self.base(request), self.data, pull))

    async def pull_files(self, request: Request) -> Reply:
        app = self.app_of(request)
        pull = self._pull(app, request.path_params["number"])
        page, headers = paginate(request, render.pull_files(self.base(request), app, pull))
        return Reply(page, headers=headers)

    async def pull_reviews(self, request: Request) -> Reply:
        app = self.app_of(request)
        pull = self._pull(app, request.path_params["number"])
        base = self.base(request)
        page, headers = paginate(request, self.data.reviews(pull))
        return Reply([render.review(base, app, pull, r) for r in page], headers=headers)

    async def pull_merged(self, request: Request) -> Reply:
        """`GET .../pulls/{n}/merge`: 204 when merged, 404 when not."""
        app = self.app_of(request)
        pull = self._pull(app, request.path_params["number"])
        if pull.merged_at is None:
            raise not_found()
        return Reply(None, status=204)

    async def merge_pull(self, request: Request) -> Reply:
        """`PUT .../pulls/{n}/merge`: merges and sends the `pull_request` closed event."""
        app = self.app_of(request)
        pull = self._pull(app, request.path_params["number"])
        if pull.state != "open":
            raise GitHubError(405, "Pull Request is not mergeable")
        now = self.data.world.clock.now()
        before = dataclasses.replace(pull)
        pull.state, pull.merged_at, pull.closed_at, pull.updated = "closed", now, now, now
        pull.merge_commit_sha = hashlib.sha1(f"{app.key}/merge/{pull.number}".encode()).hexdigest()
        self._record(before, pull)
        base = self.base(request)
        await self._emit("pull_request", app, base, {
            "action": "closed", "number": pull.number,
            "pull_request": render.pull_full(base, self.data, pull)})
        return Reply({"sha": pull.merge_commit_sha, "merged": True,
                      "message": "Pull Request successfully merged"})

    # -- git -----------------------------------------------------------------

    async def list_tags(self, request: Request) -> Reply:
        app = self.app_of(request)
        tags = sorted(self.data.tags(app), key=lambda t: t.date, reverse=True)
        page, headers = paginate(request, tags)
        base = self.base(request)
        return Reply([render.tag(base, app, t) for t in page], headers=headers)

    async def list_commits(self, request: Request) -> Reply:
        """`GET .../commits`: newest first, from `sha` (default branch), with GitHub's filters."""
        app = self.app_of(request)
        q = request.query_params
        rows = git.history(self.data, app, q.get("sha") or git.MAIN)
        if rows is None:
            raise not_found()
        path = (q.get("path") or "").strip("/")
        if path:
            rows = [r for r in rows if render.commit_path(app, r[0]) == path
                    or render.commit_path(app, r[0]).startswith(path + "/")]
        since, until = _parse_since(q.get("since")), _parse_since(q.get("until"))
        if since is not None:
            rows = [r for r in rows if r[0].date >= since]
        if until is not None:
            rows = [r for r in rows if r[0].date <= until]
        author = (q.get("author") or "").lower()
        if author:
            rows = [r for r in rows if author in (r[0].author.github_login.lower(),
                                                  r[0].author.email.lower())]
        page, headers = paginate(request, rows)
        base = self.base(request)
        return Reply([render.commit(base, app, c, parent) for c, parent in page],
                     headers=headers)

    async def get_commit(self, request: Request) -> Reply:
        app = self.app_of(request)
        return Reply(render.commit_full(self.base(request), app,
                                        *self._commit(app, request.path_params["ref"])))

    def _commit(self, app: Application, ref: str) -> git.Row:
        """The commit a ref (sha, short sha, branch or tag) names, with its parent's sha;
        GitHub's 422 when it names none."""
        rows = git.history(self.data, app, ref)
        if rows:
            return rows[0]
        root = next((t for t in self.data.tags(app) if ref in (t.name, t.sha)), None)
        if root is not None:  # the first tag, older than any recorded commit
            return git.root_commit(app, root), None
        raise GitHubError(422, f"No commit found for SHA: {ref}")

    # CI reports through checks (`checks.py`): no commit status was ever reported, so the
    # combined status is GitHub's `pending` with none. Without these routes
    # `commits/{ref}` took `main/status` for a ref and answered that no such commit exists.

    async def combined_status(self, request: Request) -> Reply:
        app = self.app_of(request)
        sha = self._commit(app, request.path_params["ref"])[0].sha
        commit_url = f"{render.repo_url(self.base(request), app)}/commits/{sha}"
        return Reply({"state": "pending", "statuses": [], "sha": sha, "total_count": 0,
                      "repository": render.repository(self.base(request), self.data, app),
                      "commit_url": commit_url, "url": f"{commit_url}/status"})

    async def commit_statuses(self, request: Request) -> Reply:
        self._commit(self.app_of(request), request.path_params["ref"])
        return Reply([])

    async def check_runs(self, request: Request) -> Reply:
        app = self.app_of(request)
        commit = self._commit(app, request.path_params["ref"])[0]
        return self._runs_page(request, checks.check_runs(self.base(request), app, commit))

    def _runs_page(self, request: Request, runs: list[Json]) -> Reply:
        """Check runs as a commit's or a suite's list pages them, after the filters
        GitHub takes (`check_name`, `status`, `app_id`; `filter` is moot: one run each)."""
        params = request.query_params
        name, status = params.get("check_name"), params.get("status")
        if status is not None and status not in ("queued", "in_progress", "completed"):
            raise GitHubError(422, "Invalid request.\n\nstatus is not a member of [queued, "
                                   "in_progress, completed].")
        if params.get("filter") not in (None, "latest", "all"):
            raise GitHubError(422, "Invalid request.\n\nfilter is not a member of "
                                   "[latest, all].")
        wanted = [run for run in runs
                  if (name is None or run["name"] == name)
                  and (status is None or run["status"] == status)
                  and params.get("app_id") in (None, str(render.ACTIONS_APP_ID))]
        page, headers = paginate(request, wanted)
        return Reply({"total_count": len(wanted), "check_runs": page}, headers=headers)

    async def check_suites(self, request: Request) -> Reply:
        app = self.app_of(request)
        commit, parent = self._commit(app, request.path_params["ref"])
        params = request.query_params
        suites = [checks.check_suite(self.base(request), app, commit, parent)]
        if params.get("app_id") not in (None, str(render.ACTIONS_APP_ID)) or \
                params.get("check_name") not in (None, *checks.CHECKS):
            suites = []
        page, headers = paginate(request, suites)
        return Reply({"total_count": len(suites), "check_suites": page}, headers=headers)

    def _checked(self, app: Application, found: Callable[[Commit], bool]) -> git.Row:
        """The commit whose CI `found` names: on `main`, a pull request's head or the
        first tag; GitHub's 404 when none."""
        rows = git.history(self.data, app, git.MAIN) or []
        rows += [git.pull_head(self.data, app, pull) for pull in self.data.app_pulls(app)]
        rows += [(git.root_commit(app, tag), None) for tag in self.data.tags(app)[:1]]
        row = next((row for row in rows if found(row[0])), None)
        if row is None:
            raise GitHubError(404, "Not Found")
        return row

    async def get_check_run(self, request: Request) -> Reply:
        app, ident = self.app_of(request), request.path_params["check_run_id"]
        commit, _ = self._checked(app, lambda c: ident in checks.run_ids(c))
        return Reply(checks.check_run(self.base(request), app, commit,
                                      checks.run_ids(commit).index(ident)))

    async def get_check_suite(self, request: Request) -> Reply:
        app, ident = self.app_of(request), request.path_params["check_suite_id"]
        commit, parent = self._checked(app, lambda c: checks.suite_id(c) == ident)
        return Reply(checks.check_suite(self.base(request), app, commit, parent))

    async def suite_check_runs(self, request: Request) -> Reply:
        app, ident = self.app_of(request), request.path_params["check_suite_id"]
        commit, _ = self._checked(app, lambda c: checks.suite_id(c) == ident)
        return self._runs_page(request, checks.check_runs(self.base(request), app, commit))

    async def list_branches(self, request: Request) -> Reply:
        app = self.app_of(request)
        rows = git.branches(self.data, app)
        protected = request.query_params.get("protected")
        if protected is not None:
            rows = [r for r in rows if git.protected(r[0]) == (protected.lower() == "true")]
        page, headers = paginate(request, rows)
        base = self.base(request)
        return Reply([render.branch(base, app, name, head.sha, git.protected(name))
                      for name, head, _ in page], headers=headers)

    async def get_branch(self, request: Request) -> Reply:
        """A branch (its name may hold slashes), or the protection its answer links to."""
        app = self.app_of(request)
        wanted = request.path_params["branch"]
        names = {b[0]: b for b in git.branches(self.data, app)}
        found = names.get(wanted)
        guarded = wanted.removesuffix("/protection")
        if found is None and guarded != wanted and guarded in names:
            if not git.protected(guarded):
                raise GitHubError(404, "Branch not protected")
            return Reply(render.branch_protection(self.base(request), app, guarded))
        if found is None:
            raise GitHubError(404, "Branch not found")
        name, head, parent = found
        base = self.base(request)
        return Reply(render.branch_full(base, app, name, render.commit(base, app, head, parent),
                                        git.protected(name)))

    def _resolve(self, app: Application, ref: str) -> int:
        """Position of `ref` (tag, sha, branch) on main; -1 is the root; 404 if unknown."""
        index = git.position(self.data, app, ref)
        if index is None:
            raise not_found()
        return index

    async def compare(self, request: Request) -> Reply:
        app = self.app_of(request)
        basehead = request.path_params["basehead"]
        if "..." not in basehead:
            raise not_found()
        base_ref, head_ref = basehead.split("...", 1)
        lo, hi = self._resolve(app, base_ref), self._resolve(app, head_ref)
        commits = self.data.commits(app)
        ahead = commits[lo + 1: hi + 1] if hi > lo else []
        behind = lo - hi if lo > hi else 0
        status = ("identical" if lo == hi else "ahead" if hi > lo else "behind")
        paging = "page" in request.query_params or "per_page" in request.query_params
        headers: dict[str, str] = {}
        if paging:
            shown, headers = paginate(request, ahead)
        else:
            shown = ahead[:250]
        base = self.base(request)

        def full(index: int) -> Json:
            if index < 0:  # the root tag, older than any recorded commit
                root = min(self.data.tags(app), key=lambda t: t.date)
                return render.commit(base, app, git.root_commit(app, root), None)
            parent = commits[index - 1].sha if index > 0 else None
            return render.commit(base, app, commits[index], parent)

        def parent_of(item: Any) -> str | None:
            index = commits.index(item)
            return commits[index - 1].sha if index > 0 else None

        url = f"{render.repo_url(base, app)}/compare/{basehead}"
        html = f"{base}/{app.repo_owner}/{app.repo_name}/compare/{basehead}"
        base_commit = full(lo)
        body: Json = {
            "url": url, "html_url": html,
            "permalink_url": f"{base}/{app.repo_owner}/{app.repo_name}/compare/"
                             f"{app.repo_owner}:{base_commit['sha'][:7]}...{app.repo_owner}:"
                             f"{full(hi)['sha'][:7]}",
            "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
            "base_commit": base_commit, "merge_base_commit": full(min(lo, hi)),
            "status": status, "ahead_by": len(ahead), "behind_by": behind,
            "total_commits": len(ahead),
            "commits": [render.commit(base, app, c, parent_of(c)) for c in shown],
        }
        if not paging or _int_param(request, "page", 1) == 1:
            body["files"] = [render.diff_file(base, app, c) for c in ahead[:300]]
        return Reply(body, headers=headers)

    async def pull_review_comments(self, request: Request) -> Reply:
        """Comments on a pull request's lines: the world's reviews leave none."""
        self._pull(self.app_of(request), request.path_params["number"])
        return Reply([])

    async def pull_commits(self, request: Request) -> Reply:
        app = self.app_of(request)
        pull = self._pull(app, request.path_params["number"])
        return Reply([render.commit(self.base(request), app, *git.pull_head(self.data, app, pull))])

    # -- releases ---------------------------------------------------------------

    def _releases(self, app: Application) -> list[GitHubRelease]:
        return sorted(self.data.app_releases(app), key=lambda r: r.created, reverse=True)

    async def list_releases(self, request: Request) -> Reply:
        app = self.app_of(request)
        page, headers = paginate(request, self._releases(app))
        base = self.base(request)
        return Reply([render.release(base, app, r) for r in page], headers=headers)

    async def latest_release(self, request: Request) -> Reply:
        app = self.app_of(request)
        found = next((r for r in self._releases(app) if not r.draft and not r.prerelease), None)
        if found is None:
            raise not_found()
        return Reply(render.release(self.base(request), app, found))

    async def release_by_tag(self, request: Request) -> Reply:
        """A published release: a draft has no tag yet, so its tag names none."""
        app = self.app_of(request)
        found = next((r for r in self._releases(app)
                      if r.tag_name == request.path_params["tag"] and not r.draft), None)
        if found is None:
            raise not_found()
        return Reply(render.release(self.base(request), app, found))

    async def get_release(self, request: Request) -> Reply:
        return Reply(render.release(self.base(request), self.app_of(request),
                                    self._release(request)))

    def _release(self, request: Request) -> GitHubRelease:
        app = self.app_of(request)
        found = next((r for r in self._releases(app) if r.id == request.path_params["id"]), None)
        if found is None:
            raise not_found()
        return found

    async def release_assets(self, request: Request) -> Reply:
        """A release's uploaded files: the world's releases carry none (as `assets` says)."""
        self._release(request)
        return Reply([])

    async def contributors(self, request: Request) -> Reply:
        """The authors of `main`'s commits, most commits first, each with its count."""
        app = self.app_of(request)
        counts = Counter(c.author.github_login for c in self.data.commits(app))
        people = {c.author.github_login: c.author for c in self.data.commits(app)}
        ranked = sorted(counts, key=lambda login: (-counts[login], login.lower()))
        page, headers = paginate(request, ranked)
        base = self.base(request)
        return Reply([{**render.person(base, people[login]), "contributions": counts[login]}
                      for login in page], headers=headers)

    # -- what the repository says of itself (`repository_meta`) ---------------------

    async def topics(self, request: Request) -> Reply:
        self.app_of(request)
        return Reply(repository_meta.topics())

    async def languages(self, request: Request) -> Reply:
        self.app_of(request)
        return Reply(repository_meta.languages())

    async def readme(self, request: Request) -> Reply:
        return Reply(repository_meta.readme(self.base(request), self.app_of(request)))

    async def collaborators(self, request: Request) -> Reply:
        """Everyone who may write to the repository, each with their permissions."""
        app = self.app_of(request)
        page, headers = paginate(request, self.data.people())
        base = self.base(request)
        return Reply([repository_meta.collaborator(base, app, who) for who in page],
                     headers=headers)

    def _collaborator(self, request: Request) -> tuple[Application, Person]:
        app = self.app_of(request)
        who = self.data.person(request.path_params["username"])
        if who is None:
            raise not_found()
        return app, who

    async def is_collaborator(self, request: Request) -> Reply:
        """204 for a collaborator, 404 for anyone else (GitHub's yes and no)."""
        self._collaborator(request)
        return Reply(None, status=204)

    async def collaborator_permission(self, request: Request) -> Reply:
        app, who = self._collaborator(request)
        return Reply(repository_meta.permission(self.base(request), app, who))

    async def workflow_runs(self, request: Request) -> Reply:
        """The repository's runs (`status`, `branch`, `head_sha`, `event` filter them)."""
        app = self.app_of(request)
        runs = repository_meta.runs(self.base(request), self.data, app)
        wanted = {"status": "status", "branch": "head_branch", "head_sha": "head_sha",
                  "event": "event"}
        for param, key in wanted.items():
            value = request.query_params.get(param)
            if value is not None:
                runs = [run for run in runs if run[key] == value]
        page, headers = paginate(request, runs)
        return Reply({"total_count": len(runs), "workflow_runs": page}, headers=headers)

    async def workflow_run(self, request: Request) -> Reply:
        app = self.app_of(request)
        run_id = request.path_params["run_id"]
        run = self.data.runs.get(run_id)
        if run is None or run.app_key != app.key:
            raise not_found()
        return Reply(repository_meta.workflow_run(self.base(request), self.data, app, run_id,
                                                  run.deployment_id, run.conclusion))

    async def workflows(self, request: Request) -> Reply:
        return Reply(repository_meta.workflows(self.base(request), self.app_of(request)))

    def _untagged_target(self, app: Application, tag_name: str, target: object) -> Commit | None:
        """The commit a release's tag will be made from when `tag_name` is no tag yet (None
        when it is one: GitHub then ignores `target_commitish`); 422 if `target` names no
        branch or commit."""
        if any(t.name == tag_name for t in self.data.tags(app)):
            return None
        rows = git.history(self.data, app, target) if isinstance(target, str) and target else None
        if not rows:
            raise invalid("Release", "target_commitish", "invalid")
        return rows[0][0]

    def _tag(self, app: Application, name: str, commit: Commit | None) -> None:
        """Publishing a release whose tag does not exist yet makes it, as GitHub does."""
        if commit is not None:
            self.data.created_tags.append(Tag(app_key=app.key, name=name, sha=commit.sha,
                                              date=self.data.world.clock.now()))

    async def create_release(self, request: Request) -> Reply:
        app = self.app_of(request)
        body = await self._json_body(request)
        tag_name = body.get("tag_name")
        if not isinstance(tag_name, str) or not tag_name:
            raise invalid("Release", "tag_name")
        if any(r.tag_name == tag_name for r in self.data.app_releases(app)):
            raise invalid("Release", "tag_name", "already_exists")
        target = body.get("target_commitish") or git.MAIN
        commit = self._untagged_target(app, tag_name, target)
        text = str(body.get("body") or "")
        if body.get("generate_release_notes") is True:  # what was given comes first
            notes = self._notes(request, app, tag_name, target, None)
            text = f"{text}\n\n{notes}" if text else notes
        draft = bool(body.get("draft", False))
        now = self.data.world.clock.now()
        item = GitHubRelease(
            id=self.data.new_id(), app_key=app.key, release_key="", tag_name=tag_name,
            name=str(body.get("name") or tag_name), body=text,
            draft=draft, prerelease=bool(body.get("prerelease", False)), created=now,
            published=None if draft else now, author=app.lead, target=str(target))
        if not draft:
            self._tag(app, tag_name, commit)
        self.data.releases.append(item)
        base = self.base(request)
        rendered = render.release(base, app, item)
        await self._emit("release", app, base, {"action": "created", "release": rendered})
        if not draft:
            await self._emit("release", app, base, {"action": "published", "release": rendered})
        return Reply(rendered, status=201, headers={"location": rendered["url"]})

    async def update_release(self, request: Request) -> Reply:
        """Rename, retag or publish a release; every field is checked before any is set."""
        app = self.app_of(request)
        item = self._release(request)
        body = await self._json_body(request)
        tag_name = body.get("tag_name", item.tag_name)
        if not isinstance(tag_name, str) or not tag_name:
            raise invalid("Release", "tag_name", "invalid")
        if any(r.tag_name == tag_name and r is not item for r in self.data.app_releases(app)):
            raise invalid("Release", "tag_name", "already_exists")
        flags = {k: body[k] for k in ("draft", "prerelease") if k in body}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise invalid("Release", key, "invalid")
        draft = flags.get("draft", item.draft)
        target = body.get("target_commitish") or item.target
        commit = self._untagged_target(app, tag_name, target) if not draft else None
        publishing = item.draft and not draft
        item.tag_name, item.target, item.draft = tag_name, str(target), draft
        item.prerelease = flags.get("prerelease", item.prerelease)
        if isinstance(body.get("name"), str):
            item.name = body["name"]
        if isinstance(body.get("body"), str):
            item.body = body["body"]
        if publishing:
            item.published = self.data.world.clock.now()
        if not draft:
            self._tag(app, tag_name, commit)
        base = self.base(request)
        rendered = render.release(base, app, item)
        if publishing:
            await self._emit("release", app, base, {"action": "published", "release": rendered})
        return Reply(rendered)

    async def generate_notes(self, request: Request) -> Reply:
        app = self.app_of(request)
        body = await self._json_body(request)
        tag_name = body.get("tag_name")
        if not isinstance(tag_name, str) or not tag_name:
            raise invalid("ReleaseNotes", "tag_name")
        previous = body.get("previous_tag_name")
        if previous is not None and not isinstance(previous, str):
            raise invalid("ReleaseNotes", "previous_tag_name", "invalid")
        return Reply({"name": tag_name, "body": self._notes(
            request, app, tag_name, body.get("target_commitish") or git.MAIN, previous)})

    def _notes(self, request: Request, app: Application, tag_name: str, target: object,
               previous: str | None) -> str:
        """GitHub's generated notes: the pull requests merged after the previous release
        (`previous`, else the newest published one below) up to the tag, or `target` when
        the tag is not made yet."""
        tagged = any(t.name == tag_name for t in self.data.tags(app))
        head = self._resolve(app, tag_name if tagged else str(target))
        if previous is not None and not any(t.name == previous for t in self.data.tags(app)):
            raise invalid("ReleaseNotes", "previous_tag_name", "invalid")
        if previous is None:
            earlier = [(index, r.tag_name) for r in self._releases(app)
                       if not r.draft and r.tag_name != tag_name
                       and (index := git.position(self.data, app, r.tag_name)) is not None
                       and index < head]
            previous = max(earlier)[1] if earlier else None
        low = self._resolve(app, previous) if previous else -1
        shas = {c.sha for c in self.data.commits(app)[low + 1: head + 1]}
        pulls = sorted((p for p in self.data.app_pulls(app) if p.merge_commit_sha in shas),
                       key=lambda p: p.merged_at or p.created)
        html = f"{self.base(request)}/{app.repo_owner}/{app.repo_name}"
        lines = (["## What's Changed", *(f"* {p.title} by @{p.author.github_login} in "
                                         f"{html}/pull/{p.number}" for p in pulls), ""]
                 if pulls else [])
        lines.append(f"**Full Changelog**: {html}/compare/{previous}...{tag_name}" if previous
                     else f"**Full Changelog**: {html}/commits/{tag_name}")
        return "\n".join(lines)

    # -- git refs -----------------------------------------------------------------

    def _refs(self, app: Application) -> list[tuple[str, Commit]]:
        return sorted((prefix + name, commit) for prefix, name, commit
                      in git.refs(self.data, app))

    async def get_git_ref(self, request: Request) -> Reply:
        app = self.app_of(request)
        wanted = "refs/" + request.path_params["ref"]
        found = next(((ref, commit) for ref, commit in self._refs(app) if ref == wanted), None)
        if found is None:
            raise not_found()
        return Reply(render.git_ref(self.base(request), app, *found))

    async def matching_refs(self, request: Request) -> Reply:
        """Every ref whose name starts with the one asked (none: an empty list)."""
        app = self.app_of(request)
        prefix = "refs/" + request.path_params.get("ref", "")
        base = self.base(request)
        return Reply([render.git_ref(base, app, ref, commit) for ref, commit in self._refs(app)
                      if ref.startswith(prefix)])

    async def create_git_ref(self, request: Request) -> Reply:
        """A lightweight tag or a branch at a commit, as release tooling makes them;
        GitHub's 422s for a malformed name, a name taken and a commit it does not hold."""
        app = self.app_of(request)
        body = await self._json_body(request)
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not ref:
            raise invalid("Reference", "ref")
        if not isinstance(sha, str) or not sha:
            raise invalid("Reference", "sha")
        kind, _, name = ref.removeprefix("refs/").partition("/")
        if not ref.startswith("refs/") or kind not in ("tags", "heads") \
                or not _GIT_REF_NAME.fullmatch(name) or ".." in name or name.endswith(".lock"):
            raise GitHubError(422, "Reference update failed")
        if any(existing == ref for existing, _ in self._refs(app)):
            raise GitHubError(422, "Reference already exists")
        rows = git.history(self.data, app, sha)
        if not rows or rows[0][0].sha != sha:  # a full sha, of a commit the repository holds
            raise GitHubError(422, "Object does not exist")
        if kind == "tags":
            self.data.created_tags.append(Tag(app_key=app.key, name=name, sha=sha,
                                              date=self.data.world.clock.now()))
        else:
            self.data.created_branches.append((app.key, name, sha))
        rendered = render.git_ref(self.base(request), app, ref, rows[0][0])
        return Reply(rendered, status=201, headers={"location": rendered["url"]})

    # -- deployments --------------------------------------------------------------

    def _deployment(self, app: Application, ident: int) -> Deployment:
        found = next((d for d in self.data.app_deployments(app) if d.id == ident), None)
        if found is None:
            raise not_found()
        return found

    async def list_deployments(self, request: Request) -> Reply:
        app = self.app_of(request)
        q = request.query_params
        rows = self.data.app_deployments(app)
        for name in ("environment", "ref", "sha"):
            if q.get(name):
                rows = [d for d in rows if getattr(d, name) == q[name]]
        if q.get("task"):
            rows = [d for d in rows if self.data.deployment_extras.get(d.id, {})
                    .get("task", "deploy") == q["task"]]
        rows = sorted(rows, key=lambda d: (d.created, d.id), reverse=True)
        page, headers = paginate(request, rows)
        base = self.base(request)
        return Reply([self._render_deployment(base, app, d) for d in page], headers=headers)

    def _render_deployment(self, base: str, app: Application, item: Deployment) -> Json:
        return render.deployment(base, app, item, self.data.deployment_extras.get(item.id))

    async def get_deployment(self, request: Request) -> Reply:
        app = self.app_of(request)
        item = self._deployment(app, request.path_params["id"])
        return Reply(self._render_deployment(self.base(request), app, item))

    async def create_deployment(self, request: Request) -> Reply:
        app = self.app_of(request)
        body = await self._json_body(request)
        ref = body.get("ref")
        if not isinstance(ref, str) or not ref:
            raise invalid("Deployment", "ref")
        environment = body.get("environment", "production")
        if not isinstance(environment, str) or not environment:
            raise invalid("Deployment", "environment", "invalid")
        try:
            index = self._resolve(app, ref)
        except GitHubError:
            raise GitHubError(422, f"No ref found for: {ref}") from None
        commits = self.data.commits(app)
        tag = next((t for t in self.data.tags(app) if t.name == ref), None)
        sha = commits[index].sha if index >= 0 else (tag.sha if tag else ref)
        release = next((r for r in self.data.milestones(app) if r.to_tag == ref), None)
        item = Deployment(
            id=self.data.new_id(), app_key=app.key, release_key=release.key if release else None,
            sha=sha, ref=ref, environment=environment, creator=app.lead,
            created=self.data.world.clock.now(), statuses=[])
        self.data.deployments.append(item)
        extras: Json = {"payload": body.get("payload", {})}
        for key in ("description", "task"):
            if isinstance(body.get(key), str):
                extras[key] = body[key]
        self.data.deployment_extras[item.id] = extras
        base = self.base(request)
        rendered = self._render_deployment(base, app, item)
        await self._emit("deployment", app, base, {"action": "created", "deployment": rendered,
                                                   "workflow": None, "workflow_run": None})
        if self.data.protection_rules.get((app.key, environment)):
            await self._hold_for_protection_rule(base, app, item, rendered)
        return Reply(rendered, status=201, headers={"location": rendered["url"]})

    async def _hold_for_protection_rule(self, base: str, app: Application, item: Deployment,
                                        rendered: Json) -> None:
        """The run waits (status `queued`) and the rule's app is asked, as GitHub does."""
        run_id = self.data.new_id()
        self.data.runs[run_id] = render.HeldRun(app.key, item.id)
        await self._add_status(base, app, item, "queued",
                               "Waiting for a deployment protection rule")
        owner_repo = f"{app.repo_owner}/{app.repo_name}"
        await self._emit("deployment_protection_rule", app, base, {
            "action": "requested", "environment": item.environment, "event": "push",
            "sha": item.sha, "ref": item.ref,
            "deployment_callback_url":
                f"{base}/repos/{owner_repo}/actions/runs/{run_id}/deployment_protection_rule",
            "deployment": rendered, "pull_requests": []})

    async def review_protection_rule(self, request: Request) -> Reply:
        """`POST .../actions/runs/{run_id}/deployment_protection_rule`: the rule's app
        answers; an approved run deploys (in progress, then success), a rejected one fails
        with the comment."""
        app = self.app_of(request)
        body = await self._json_body(request)
        # Looked up once the body is in: of two answers at once, the second finds the run
        # answered, as it would after the first.
        run = self.data.runs.get(request.path_params["run_id"])
        if run is None or run.app_key != app.key or run.conclusion is not None:
            raise not_found()
        state, environment = body.get("state"), body.get("environment_name")
        if state not in ("approved", "rejected"):
            raise invalid("DeploymentProtectionRule", "state")
        item = self._deployment(app, run.deployment_id)
        if environment != item.environment:
            raise GitHubError(422, f"No pending deployment for environment: {environment}")
        run.conclusion = "success" if state == "approved" else "failure"
        base = self.base(request)
        comment = str(body.get("comment") or "")[:140]
        if state == "approved":
            await self._add_status(base, app, item, "in_progress", "Deploying")
            await self._add_status(base, app, item, "success", comment or "Deployed")
        else:
            await self._add_status(base, app, item, "failure", comment or "Rejected")
        return Reply(None, status=204)

    async def add_protection_rule(self, request: Request) -> Reply:
        """`POST .../environments/{name}/deployment_protection_rules` with an integration."""
        app = self.app_of(request)
        name = request.path_params["name"]
        if name not in render.ENVIRONMENTS:
            raise not_found()
        body = await self._json_body(request)
        integration = body.get("integration_id")
        if not isinstance(integration, int) or isinstance(integration, bool):
            raise invalid("DeploymentProtectionRule", "integration_id")
        rules = self.data.protection_rules.setdefault((app.key, name), [])
        if integration in rules:
            raise GitHubError(422, "Custom protection rule already exists for this app")
        rules.append(integration)
        return Reply({"id": self.data.new_id(), "enabled": True,
                      "app": {"id": integration, "slug": "heatshield"}}, status=201)

    async def list_protection_rules(self, request: Request) -> Reply:
        app = self.app_of(request)
        rules = self.data.protection_rules.get((app.key, request.path_params["name"]), [])
        return Reply({"total_count": len(rules), "custom_deployment_protection_rules": [
            {"id": n, "enabled": True, "app": {"id": n, "slug": "heatshield"}}
            for n in rules]})

    async def _add_status(self, base: str, app: Application, item: Deployment, state: str,
                          description: str) -> None:
        previous = item.statuses[-1].created if item.statuses else item.created
        status = DeploymentStatus(self.data.new_id(), state, description[:140],
                                  max(self.data.world.clock.now(), previous + timedelta(seconds=1)))
        item.statuses.append(status)
        await self._emit("deployment_status", app, base, {
            "action": "created",
            "deployment_status": render.deployment_status(base, app, item, status),
            "deployment": self._render_deployment(base, app, item)})

    async def list_statuses(self, request: Request) -> Reply:
        app = self.app_of(request)
        item = self._deployment(app, request.path_params["id"])
        page, headers = paginate(request, list(reversed(item.statuses)))
        base = self.base(request)
        return Reply([render.deployment_status(base, app, item, s) for s in page],
                     headers=headers)

    async def get_status(self, request: Request) -> Reply:
        app = self.app_of(request)
        item = self._deployment(app, request.path_params["id"])
        status = next((s for s in item.statuses if s.id == request.path_params["status_id"]),
                      None)
        if status is None:
            raise not_found()
        return Reply(render.deployment_status(self.base(request), app, item, status))

    async def create_status(self, request: Request) -> Reply:
        app = self.app_of(request)
        item = self._deployment(app, request.path_params["id"])
        body = await self._json_body(request)
        state = body.get("state")
        if state is None:
            raise invalid("DeploymentStatus", "state")
        if state not in DEPLOYMENT_STATES:
            raise invalid("DeploymentStatus", "state", "invalid",
                          f"state is not included in the list: {', '.join(DEPLOYMENT_STATES)}")
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > 140:
            raise invalid("DeploymentStatus", "description", "invalid",
                          "description is too long (maximum is 140 characters)")
        previous = item.statuses[-1].created if item.statuses else item.created
        status = DeploymentStatus(self.data.new_id(), state, description,
                                  max(self.data.world.clock.now(), previous + timedelta(seconds=1)))
        item.statuses.append(status)
        base = self.base(request)
        rendered = render.deployment_status(base, app, item, status)
        for key in ("target_url", "log_url", "environment_url"):
            if isinstance(body.get(key), str):
                rendered[key] = body[key]
        await self._emit("deployment_status", app, base, {
            "action": "created", "deployment_status": rendered,
            "deployment": self._render_deployment(base, app, item)})
        return Reply(rendered, status=201, headers={"location": rendered["url"]})

    # -- environments ------------------------------------------------------------

    async def list_environments(self, request: Request) -> Reply:
        app = self.app_of(request)
        page, headers = paginate(request, list(render.ENVIRONMENTS))
        base = self.base(request)
        return Reply({"total_count": len(render.ENVIRONMENTS),
                      "environments": [render.environment(base, app, e) for e in page]},
                     headers=headers)

    async def get_environment(self, request: Request) -> Reply:
        app = self.app_of(request)
        name = request.path_params["name"]
        if name not in render.ENVIRONMENTS:
            raise not_found()
        return Reply(render.environment(self.base(request), app, name))

    # -- GraphQL ------------------------------------------------------------------

    async def post_graphql(self, request: Request) -> Reply:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return Reply({"errors": [{"message": "A query attribute must be specified and must "
                                                 "be a string."}]})
        variables = body.get("variables") or {}
        result, cost = self.graphql.execute(self.base(request), body["query"],
                                            variables if isinstance(variables, dict) else {},
                                            body.get("operationName"), self.graphql_budget)
        return Reply(result, cost=cost)

    # -- wiring ----------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        e = self.endpoint
        r = "/repos/{owner}/{repo}"
        return [
            Route("/user", e(self.get_user)),
            Route("/user/repos", e(self.list_repos)),
            Route("/users/{login}", e(self.get_named_user)),
            Route("/orgs/{org}", e(self.get_org)),
            Route("/orgs/{org}/repos", e(self.list_repos)),
            Route("/orgs/{org}/members", e(self.org_members)),
            Route("/search/issues", e(self.search_issues)),
            Route("/rate_limit", e(self.rate_limit)),
            Route("/graphql", e(self.post_graphql), methods=["POST"]),
            Route(r, e(self.get_repo)),
            Route(f"{r}/milestones", e(self.list_milestones), methods=["GET"]),
            Route(f"{r}/milestones", e(self.create_milestone), methods=["POST"]),
            Route(f"{r}/milestones/{{number:int}}", e(self.get_milestone), methods=["GET"]),
            Route(f"{r}/milestones/{{number:int}}/labels", e(self.milestone_labels)),
            Route(f"{r}/milestones/{{number:int}}", e(self.update_milestone),
                  methods=["PATCH"]),
            Route(f"{r}/issues", e(self.list_issues), methods=["GET"]),
            Route(f"{r}/issues", e(self.create_issue), methods=["POST"]),
            Route(f"{r}/issues/comments", e(self.list_repo_comments)),
            Route(f"{r}/issues/events", e(self.list_repo_issue_events)),
            Route(f"{r}/issues/events/{{id:int}}", e(self.get_issue_event)),
            Route(f"{r}/issues/{{number:int}}/events", e(self.list_issue_events)),
            Route(f"{r}/issues/comments/{{id:int}}", e(self.get_comment)),
            Route(f"{r}/issues/{{number:int}}", e(self.get_issue), methods=["GET"]),
            Route(f"{r}/issues/{{number:int}}", e(self.edit_issue), methods=["PATCH"]),
            Route(f"{r}/issues/{{number:int}}/comments", e(self.list_comments),
                  methods=["GET"]),
            Route(f"{r}/issues/{{number:int}}/comments", e(self.create_comment),
                  methods=["POST"]),
            Route(f"{r}/issues/{{number:int}}/labels", e(self.issue_labels),
                  methods=["GET", "POST", "PUT"]),
            Route(f"{r}/issues/{{number:int}}/labels/{{name:path}}", e(self.remove_issue_label),
                  methods=["DELETE"]),
            Route(f"{r}/labels", e(self.list_labels), methods=["GET"]),
            Route(f"{r}/labels", e(self.create_label), methods=["POST"]),
            Route(f"{r}/labels/{{name:path}}", e(self.get_label)),
            Route(f"{r}/pulls", e(self.list_pulls)),
            Route(f"{r}/pulls/{{number:int}}", e(self.get_pull), methods=["GET"]),
            Route(f"{r}/pulls/{{number:int}}", e(self.edit_pull), methods=["PATCH"]),
            Route(f"{r}/pulls/{{number:int}}/commits", e(self.pull_commits)),
            Route(f"{r}/pulls/{{number:int}}/files", e(self.pull_files)),
            Route(f"{r}/pulls/{{number:int}}/reviews", e(self.pull_reviews)),
            Route(f"{r}/pulls/{{number:int}}/comments", e(self.pull_review_comments),
                  methods=["GET"]),
            Route(f"{r}/pulls/{{number:int}}/merge", e(self.pull_merged), methods=["GET"]),
            Route(f"{r}/pulls/{{number:int}}/merge", e(self.merge_pull), methods=["PUT"]),
            Route(f"{r}/commits", e(self.list_commits)),
            # Before `commits/{ref}`, whose ref may hold slashes (`feature/x`).
            Route(f"{r}/commits/{{ref:path}}/status", e(self.combined_status)),
            Route(f"{r}/commits/{{ref:path}}/statuses", e(self.commit_statuses)),
            Route(f"{r}/commits/{{ref:path}}/check-runs", e(self.check_runs)),
            Route(f"{r}/commits/{{ref:path}}/check-suites", e(self.check_suites)),
            Route(f"{r}/check-runs/{{check_run_id:int}}", e(self.get_check_run)),
            Route(f"{r}/check-suites/{{check_suite_id:int}}", e(self.get_check_suite)),
            Route(f"{r}/check-suites/{{check_suite_id:int}}/check-runs",
                  e(self.suite_check_runs)),
            Route(f"{r}/commits/{{ref:path}}", e(self.get_commit)),
            Route(f"{r}/statuses/{{ref:path}}", e(self.commit_statuses), methods=["GET"]),
            Route(f"{r}/branches", e(self.list_branches)),
            Route(f"{r}/branches/{{branch:path}}", e(self.get_branch)),
            Route(f"{r}/compare/{{basehead:path}}", e(self.compare)),
            Route(f"{r}/tags", e(self.list_tags)),
            Route(f"{r}/releases", e(self.list_releases), methods=["GET"]),
            Route(f"{r}/releases", e(self.create_release), methods=["POST"]),
            Route(f"{r}/releases/latest", e(self.latest_release)),
            Route(f"{r}/releases/tags/{{tag:path}}", e(self.release_by_tag)),
            Route(f"{r}/releases/generate-notes", e(self.generate_notes), methods=["POST"]),
            Route(f"{r}/releases/{{id:int}}", e(self.get_release), methods=["GET"]),
            Route(f"{r}/releases/{{id:int}}", e(self.update_release), methods=["PATCH"]),
            Route(f"{r}/releases/{{id:int}}/assets", e(self.release_assets), methods=["GET"]),
            Route(f"{r}/contributors", e(self.contributors)),
            Route(f"{r}/git/ref/{{ref:path}}", e(self.get_git_ref)),
            Route(f"{r}/git/matching-refs/{{ref:path}}", e(self.matching_refs)),
            Route(f"{r}/git/refs", e(self.matching_refs), methods=["GET"]),
            Route(f"{r}/git/refs", e(self.create_git_ref), methods=["POST"]),
            Route(f"{r}/deployments", e(self.list_deployments), methods=["GET"]),
            Route(f"{r}/deployments", e(self.create_deployment), methods=["POST"]),
            Route(f"{r}/deployments/{{id:int}}", e(self.get_deployment)),
            Route(f"{r}/deployments/{{id:int}}/statuses", e(self.list_statuses),
                  methods=["GET"]),
            Route(f"{r}/deployments/{{id:int}}/statuses", e(self.create_status),
                  methods=["POST"]),
            Route(f"{r}/deployments/{{id:int}}/statuses/{{status_id:int}}",
                  e(self.get_status)),
            Route(f"{r}/environments", e(self.list_environments)),
            Route(f"{r}/environments/{{name}}", e(self.get_environment)),
            Route(f"{r}/environments/{{name}}/deployment_protection_rules",
                  e(self.list_protection_rules), methods=["GET"]),
            Route(f"{r}/environments/{{name}}/deployment_protection_rules",
                  e(self.add_protection_rule), methods=["POST"]),
            Route(f"{r}/actions/runs/{{run_id:int}}/deployment_protection_rule",
                  e(self.review_protection_rule), methods=["POST"]),
            Route(f"{r}/actions/runs", e(self.workflow_runs)),
            Route(f"{r}/actions/runs/{{run_id:int}}", e(self.workflow_run)),
            Route(f"{r}/actions/workflows", e(self.workflows)),
            Route(f"{r}/topics", e(self.topics)),
            Route(f"{r}/languages", e(self.languages)),
            Route(f"{r}/readme", e(self.readme)),
            Route(f"{r}/collaborators", e(self.collaborators)),
            Route(f"{r}/collaborators/{{username}}", e(self.is_collaborator)),
            Route(f"{r}/collaborators/{{username}}/permission", e(self.collaborator_permission)),
        ]


def create_app(world: World | None = None, *, credentials: Credentials | None = None,
               webhook_url: str | None = None, webhook_secret: str | None = None,
               seed: int = 7, scale: int = 1, rate_limit: int = 5000,
               graphql_rate_limit: int = 5000, rate_limit_status: int = 403,
               search_rate_limit: int = 30) -> Starlette:
    """The GitHub sandbox; `rate_limit_status` picks 403 or 429 for an exhausted budget."""
    sandbox = GitHubSandbox(world or build_world(seed, scale), credentials or Credentials(),
                            rate_limit=rate_limit, graphql_rate_limit=graphql_rate_limit,
                            search_rate_limit=search_rate_limit,
                            rate_limit_status=rate_limit_status, webhook_url=webhook_url,
                            webhook_secret=webhook_secret, seed=seed)
    app = sandbox.kit.app(sandbox.routes(), auth=sandbox.authenticate)
    app.state.github = sandbox
    return app


#: This kind's entry in the `heatshield.sandboxes` registry (pyproject.toml).
def demo_connector(wiring: DemoWiring) -> ConnectorConfig:
    return ConnectorConfig(name=wiring.name, kind="github", base_url=wiring.base_url,
                           auth={"type": "token", "token_env": wiring.token_env},
                           webhook_secret_env=wiring.webhook_secret_env)


def demo_links(world: World, release: Release) -> list[tuple[LinkKind, str]]:
    """A release's milestone and the compare range between its tags (for code kept in git)."""
    app = world.app(release.app_key)
    if app.code_store != "git":
        return []
    repo = f"{app.repo_owner}/{app.repo_name}"
    return [(LinkKind.MILESTONE, f"{repo}#{release.milestone_number}"),
            (LinkKind.CODE_RANGE, f"{repo}@{release.from_tag}...{release.to_tag}")]


SANDBOX = Sandbox(create_app, webhooks_to_hub=True, demo_connector=demo_connector,
                  demo_links=demo_links)
