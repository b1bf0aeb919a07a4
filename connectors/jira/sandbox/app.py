"""An ASGI fake of JIRA (Cloud or Data Center) over the demo world.

It speaks the wire format the JIRA connector meets on real sites: Cloud's
token-paged `/rest/api/3/search/jql` (and the 410 of the retired `/search`),
Data Center's offset-paged `/rest/api/2/search`, ADF vs string descriptions,
`accountId` vs `name`/`key` users, JIRA's error collections and 429 headers,
and `jira:issue_updated` webhooks signed with `X-Hub-Signature`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.config import ConnectorConfig
from connectors.jira.sandbox import jql
from connectors.records import LinkKind
from connectors.sandbox.kit import Credentials, SandboxKit
from connectors.sandbox.registry import DemoWiring, Sandbox
from connectors.sandbox.world import WORKFLOW, Person, Release, World, build_world

Mode = Literal["cloud", "datacenter"]
Json = dict[str, Any]

STATUS_IDS = {"To Do": "10000", "In Progress": "3", "In Review": "10002", "Done": "10001"}
TRANSITION_IDS = {"To Do": "11", "In Progress": "21", "In Review": "31", "Done": "41"}
# id, colour and display name JIRA gives each status category key.
CATEGORIES = {"new": (2, "blue-gray", "To Do"), "indeterminate": (4, "yellow", "In Progress"),
              "done": (3, "green", "Done"), "undefined": (1, "medium-gray", "No Category")}
ISSUE_TYPES = {"Story": ("10001", "Functionality or a feature expressed as a user goal."),
               "Bug": ("10004", "A problem or error."),
               "Task": ("10002", "A small, distinct piece of work.")}
PRIORITY_IDS = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
DEMO_ACCOUNT_ID = "5b10ac8d82e05b22cc7dffff"

UNBOUNDED = ("Unbounded JQL queries are not allowed here. Please add a search restriction "
             "to your query.")
SEARCH_REMOVED = ("The requested API has been removed. Please migrate to the "
                  "/rest/api/3/search/jql API. A full migration guideline is available at "
                  "https://developer.atlassian.com/changelog/#CHANGE-2046")
NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
BAD_TOKEN = "The provided next page token is invalid or expired."

NAVIGABLE = ["summary", "issuetype", "status", "priority", "assignee", "reporter", "creator",
             "project", "fixVersions", "versions", "labels", "components", "resolution",
             "resolutiondate", "created", "updated", "statuscategorychangedate", "description",
             "environment", "duedate", "subtasks", "issuelinks", "watches", "votes",
             "workratio", "lastViewed", "customfield_10016", "customfield_10020"]
NOT_NAVIGABLE = ["comment", "worklog", "attachment"]
FIELD_NAMES = {"summary": "Summary", "issuetype": "Issue Type", "status": "Status",
               "priority": "Priority", "assignee": "Assignee", "reporter": "Reporter",
               "creator": "Creator", "project": "Project", "fixVersions": "Fix versions",
               "versions": "Affects versions", "labels": "Labels", "components": "Components",
               "resolution": "Resolution", "resolutiondate": "Resolved", "created": "Created",
               "updated": "Updated", "statuscategorychangedate": "Status Category Changed",
               "description": "Description", "environment": "Environment",
               "duedate": "Due date", "subtasks": "Sub-tasks", "issuelinks": "Linked Issues",
               "watches": "Watchers", "votes": "Votes", "workratio": "Work Ratio",
               "lastViewed": "Last Viewed", "customfield_10016": "Story point estimate",
               "customfield_10020": "Sprint", "comment": "Comment", "worklog": "Log Work",
               "attachment": "Attachment"}


def jira_time(moment: datetime) -> str:
    """JIRA's timestamp: milliseconds and an offset without a colon (`+0000`)."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def errors(*messages: str, status: int, field_errors: dict[str, str] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    """JIRA's ErrorCollection body."""
    return JSONResponse({"errorMessages": list(messages), "errors": field_errors or {}},
                        status_code=status, headers=headers)


def error_response(status: int, message: str) -> Response:
    if status == 429:
        message = "Rate limit exceeded."
    elif status == 404 and message == "Not Found":
        message = "null for uri"
    return errors(message, status=status)


def rate_limit_headers(retry_after: int) -> dict[str, str]:
    """Cloud's 429 companions; the reset is an ISO minute in UTC."""
    reset = datetime.now(UTC) + timedelta(seconds=retry_after)
    return {"X-RateLimit-Reset": f"{reset:%Y-%m-%dT%H:%MZ}", "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0", "RateLimit-Reason": "jira-burst-based"}


def sign_webhook(body: bytes, secret: str) -> dict[str, str]:
    """JIRA admin webhooks carry a hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}"}


@dataclass(slots=True)
class SiteIssue:
    """An issue as this site holds it; writes change it, never the shared world."""

    id: int
    key: str
    app_key: str
    summary: str
    description: str
    issue_type: str
    priority: str
    status: str
    status_category: str
    assignee: Person | None
    reporter: Person
    created: datetime
    updated: datetime
    labels: list[str]
    fix_versions: list[int]  # version ids
    # (id, when, author, [(field, from, fromString, to, toString)])
    history: list[tuple[int, datetime, Person, list[tuple[str, str, str, str, str]]]] = \
        field(default_factory=list)


class JiraSite:
    """The per-app state and handlers of one fake JIRA site."""

    def __init__(self, world: World, mode: Mode, credentials: Credentials,
                 kit: SandboxKit) -> None:
        self.world = world
        self.mode = mode
        self.credentials = credentials
        self.kit = kit
        self.versions: dict[int, Release] = {r.jira_version_id: r for r in world.releases}
        version_of = {r.key: r.jira_version_id for r in world.releases}
        self.issues: dict[str, SiteIssue] = {}
        history_id = 10000
        for item in world.work_items:
            issue = SiteIssue(
                id=item.id, key=item.key, app_key=item.app_key, summary=item.summary,
                description=item.description, issue_type=item.issue_type,
                priority=item.priority, status=item.status,
                status_category=item.status_category, assignee=item.assignee,
                reporter=item.reporter, created=item.created, updated=item.updated,
                labels=list(item.labels),
                fix_versions=[version_of[item.release_key]] if item.release_key else [])
            for when, author, field_name, old, new in item.changelog:
                history_id += 1
                if field_name == "status":
                    change = ("status", STATUS_IDS.get(old, ""), old, STATUS_IDS.get(new, ""), new)
                else:
                    change = (field_name, "", old, "", new)
                issue.history.append((history_id, when, author, [change]))
            self.issues[item.key] = issue
        self.by_id = {issue.id: issue for issue in self.issues.values()}
        self._facts: dict[int, tuple[datetime, jql.IssueFacts]] = {}
        self.next_history_id = history_id + 1

    # --- auth ------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        """Cloud: Basic email:api-token. Data Center: Bearer PAT or Basic user:password."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, secret = "", ""
            expected = self.credentials.token if self.mode == "cloud" \
                else self.credentials.password
            if user == self.credentials.username and hmac.compare_digest(secret, expected):
                return None
        elif scheme.lower() == "bearer" and self.mode == "datacenter" \
                and hmac.compare_digest(value, self.credentials.token):
            return None
        return errors(NOT_AUTHENTICATED, status=401,
                      headers={"WWW-Authenticate": 'Basic realm="protected-area"'})

    # --- rendering -------------------------------------------------------------

    def base(self, request: Request) -> str:
        """Site root including the mount prefix (Starlette's base_url drops a Mount's)."""
        root = str(request.scope.get("root_path", ""))
        return f"{request.url.scheme}://{request.url.netloc}{root}".rstrip("/")

    def user(self, person: Person, base: str, v: str) -> Json:
        avatars = {size: f"{base}/secure/useravatar?size={size}&ownerId={person.username}"
                   for size in ("48x48", "24x24", "16x16", "32x32")}
        if self.mode == "cloud":
            return {"self": f"{base}/rest/api/{v}/user?accountId={person.account_id}",
                    "accountId": person.account_id, "emailAddress": person.email,
                    "avatarUrls": avatars, "displayName": person.display_name,
                    "active": True, "timeZone": "Etc/UTC", "accountType": "atlassian"}
        return {"self": f"{base}/rest/api/{v}/user?username={quote(person.username)}",
                "name": person.username, "key": f"JIRAUSER{10100 + person.index}",
                "emailAddress": person.email, "avatarUrls": avatars,
                "displayName": person.display_name, "active": True, "timeZone": "Etc/UTC"}

    def version(self, release: Release, base: str, v: str, *, full: bool = True) -> Json:
        body: Json = {"self": f"{base}/rest/api/{v}/version/{release.jira_version_id}",
                      "id": str(release.jira_version_id), "description": release.description,
                      "name": release.version_name,
                      "archived": release.status == "CANCELLED",
                      "released": release.released,
                      "releaseDate": f"{release.window_start:%Y-%m-%d}"}
        if full:
            body["userReleaseDate"] = f"{release.window_start.day}/{release.window_start:%b/%y}"
            body["overdue"] = (not release.released
                               and release.window_start.date() < self.world.now.date())
            body["projectId"] = self.world.app(release.app_key).jira_project_id
        return body

    def project(self, app_key: str, base: str, v: str) -> Json:
        app = self.world.app(app_key)
        avatars = {size: f"{base}/secure/projectavatar?size={size}&pid={app.jira_project_id}"
                   for size in ("48x48", "24x24", "16x16", "32x32")}
        body: Json = {"self": f"{base}/rest/api/{v}/project/{app.jira_project_id}",
                      "id": str(app.jira_project_id), "key": app.key, "name": app.name,
                      "projectTypeKey": "software", "avatarUrls": avatars}
        if self.mode == "cloud":
            body["simplified"] = False
        return body

    def status(self, name: str, category: str, base: str, v: str) -> Json:
        cat_id, colour, cat_name = CATEGORIES[category]
        return {"self": f"{base}/rest/api/{v}/status/{STATUS_IDS[name]}", "description": "",
                "iconUrl": f"{base}/images/icons/statuses/generic.png", "name": name,
                "id": STATUS_IDS[name],
                "statusCategory": {"self": f"{base}/rest/api/{v}/statuscategory/{cat_id}",
                                   "id": cat_id, "key": category, "colorName": colour,
                                   "name": cat_name}}

    def changelog_entry(self, entry: tuple[int, datetime, Person,
                                           list[tuple[str, str, str, str, str]]],
                        base: str, v: str) -> Json:
        history_id, when, author, changes = entry
        items = []
        for field_name, old, old_text, new, new_text in changes:
            item: Json = {"field": field_name, "fieldtype": "jira"}
            if self.mode == "cloud":
                item["fieldId"] = "fixVersions" if field_name == "Fix Version" else field_name
            item.update({"from": old or None, "fromString": old_text or None,
                         "to": new or None, "toString": new_text or None})
            items.append(item)
        return {"id": str(history_id), "author": self.user(author, base, v),
                "created": jira_time(when), "items": items}

    def all_fields(self, issue: SiteIssue, base: str, v: str) -> Json:
        done_at = next((when for _, when, _, changes in reversed(issue.history)
                        if any(c[0] == "status" for c in changes)), issue.created)
        type_id, type_text = ISSUE_TYPES[issue.issue_type]
        priority_id = PRIORITY_IDS[issue.priority]
        description: Any = issue.description
        if v == "3":
            description = {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": issue.description}]}]}
        issue_url = f"{base}/rest/api/{v}/issue/{issue.key}"
        icons = f"{base}/images/icons"
        fields: Json = {
            "summary": issue.summary,
            "issuetype": {"self": f"{base}/rest/api/{v}/issuetype/{type_id}", "id": type_id,
                          "description": type_text,
                          "iconUrl": f"{icons}/issuetypes/{issue.issue_type.lower()}.svg",
                          "name": issue.issue_type, "subtask": False, "avatarId": 10300,
                          "hierarchyLevel": 0},
            "status": self.status(issue.status, issue.status_category, base, v),
            "priority": {"self": f"{base}/rest/api/{v}/priority/{priority_id}",
                         "iconUrl": f"{icons}/priorities/{issue.priority.lower()}.svg",
                         "name": issue.priority, "id": priority_id},
            "assignee": self.user(issue.assignee, base, v) if issue.assignee else None,
            "reporter": self.user(issue.reporter, base, v),
            "creator": self.user(issue.reporter, base, v),
            "project": self.project(issue.app_key, base, v),
            "fixVersions": [self.version(self.versions[vid], base, v, full=False)
                            for vid in issue.fix_versions],
            "versions": [],
            "labels": list(issue.labels),
            "components": [],
            "resolution": None, "resolutiondate": None,
            "created": jira_time(issue.created), "updated": jira_time(issue.updated),
            "statuscategorychangedate": jira_time(done_at),
            "description": description,
            "environment": None, "duedate": None, "subtasks": [], "issuelinks": [],
            "watches": {"self": f"{issue_url}/watchers", "watchCount": 1, "isWatching": False},
            "votes": {"self": f"{issue_url}/votes", "votes": 0, "hasVoted": False},
            "workratio": -1, "lastViewed": None,
            "customfield_10016": None, "customfield_10020": None,
            "comment": {"comments": [], "self": f"{issue_url}/comment", "maxResults": 0,
                        "total": 0, "startAt": 0},
            "worklog": {"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []},
            "attachment": [],
        }
        if self.mode == "datacenter":
            del fields["statuscategorychangedate"]
        if issue.status_category == "done":
            fields["resolution"] = {"self": f"{base}/rest/api/{v}/resolution/10000",
                                    "id": "10000",
                                    "description": "Work has been done on this issue.",
                                    "name": "Done"}
            fields["resolutiondate"] = jira_time(done_at)
        return fields

    def render_issue(self, issue: SiteIssue, base: str, v: str, wanted: set[str] | None,
                     expand: set[str]) -> Json:
        """One IssueBean; `wanted` None means the ids-only form of Cloud search."""
        if wanted is None:
            return {"id": str(issue.id)}
        every = self.all_fields(issue, base, v)
        body: Json = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,"
                                "versionedRepresentations",
                      "id": str(issue.id), "self": f"{base}/rest/api/{v}/issue/{issue.id}",
                      "key": issue.key,
                      "fields": {name: every[name] for name in every if name in wanted}}
        if "changelog" in expand:
            histories = [self.changelog_entry(e, base, v) for e in issue.history]
            body["changelog"] = {"startAt": 0, "maxResults": len(histories),
                                 "total": len(histories), "histories": histories}
        if "names" in expand:
            body["names"] = {name: FIELD_NAMES[name] for name in body["fields"]}
        return body

    # --- JQL -----------------------------------------------------------------

    def vocabulary(self) -> jql.Vocabulary:
        projects: dict[str, str] = {}
        for app in self.world.applications:
            projects[app.key.lower()] = app.key
            projects[str(app.jira_project_id)] = app.key
        versions: dict[str, set[str]] = {}
        released: dict[str, set[str]] = {}
        unreleased: dict[str, set[str]] = {}
        for release in self.world.releases:
            vid = str(release.jira_version_id)
            versions.setdefault(release.version_name.lower(), set()).add(vid)
            versions[vid] = {vid}
            table = released if release.released else unreleased
            if release.status != "CANCELLED" or release.released:
                table.setdefault(release.app_key.lower(), set()).add(vid)
        categories: dict[str, str] = {}
        for key, (cat_id, _, name) in CATEGORIES.items():
            categories[key] = categories[name.lower()] = categories[str(cat_id)] = key
        return jql.Vocabulary(
            projects=projects, versions=versions, released_versions=released,
            unreleased_versions=unreleased, issue_keys=set(self.issues),
            statuses={name.lower() for name, _ in WORKFLOW} | set(STATUS_IDS.values()),
            status_categories=categories,
            issue_types={name.lower() for name in ISSUE_TYPES},
            priorities={name.lower() for name in PRIORITY_IDS}, now=self.world.now)

    def facts(self, issue: SiteIssue) -> jql.IssueFacts:
        """What JQL sees of an issue; kept until the issue's `updated` moves on."""
        cached = self._facts.get(issue.id)
        if cached is not None and cached[0] == issue.updated:
            return cached[1]
        facts = self._make_facts(issue)
        self._facts[issue.id] = (issue.updated, facts)
        return facts

    def _make_facts(self, issue: SiteIssue) -> jql.IssueFacts:
        app = self.world.app(issue.app_key)
        return jql.IssueFacts(
            id=issue.id, key=issue.key, project_key=app.key, project_id=app.jira_project_id,
            fix_versions=[(str(vid), self.versions[vid].version_name)
                          for vid in issue.fix_versions],
            status=issue.status, status_category=issue.status_category,
            issue_type=issue.issue_type, priority=issue.priority,
            priority_rank=int(PRIORITY_IDS[issue.priority]),
            status_rank=[name for name, _ in WORKFLOW].index(issue.status),
            created=issue.created, updated=issue.updated, labels=issue.labels)

    def run_jql(self, text: str) -> tuple[jql.Query, list[SiteIssue]]:
        query = jql.parse(text)
        ranks = {name.lower(): int(pid) for name, pid in PRIORITY_IDS.items()}
        facts = [self.facts(issue) for issue in self.issues.values()]
        found = jql.search(query, facts, self.vocabulary(), ranks)
        return query, [self.by_id[f.id] for f in found]

    def find_issue(self, id_or_key: str) -> SiteIssue | None:
        if id_or_key.isdigit():
            return self.by_id.get(int(id_or_key))
        return self.issues.get(id_or_key.upper())

    # --- writes ------------------------------------------------------------------

    async def record_change(self, issue: SiteIssue, request: Request, v: str,
                            changes: list[tuple[str, str, str, str, str]],
                            event_type: str) -> None:
        """Stamp the change on the issue and tell the webhook receiver about it."""
        actor = self.world.person_by_email(self.credentials.username) or issue.reporter
        now = self.world.clock.now()
        issue.updated = now
        entry = (self.next_history_id, now, actor, changes)
        self.next_history_id += 1
        issue.history.append(entry)
        base = self.base(request)
        payload: Json = {
            "timestamp": int(now.timestamp() * 1000),
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": event_type,
            "user": self.user(actor, base, "2"),
            "issue": self.render_issue(issue, base, "2", set(NAVIGABLE), set()),
            "changelog": {"id": str(entry[0]),
                          "items": self.changelog_entry(entry, base, "2")["items"]},
        }
        await self.kit.emit_webhook(
            "jira:issue_updated", payload,
            {"X-Atlassian-Webhook-Identifier": str(uuid.uuid4())})  # unique across restarts


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def select_fields(requested: list[str], default: str) -> set[str] | None:
    """Apply JIRA's `fields` rules; None means Cloud search's ids-only issues."""
    parts = _split(requested) or [default]
    chosen: set[str] = set()
    for part in parts:
        if part == "*all":
            chosen |= set(NAVIGABLE) | set(NOT_NAVIGABLE)
        elif part == "*navigable":
            chosen |= set(NAVIGABLE)
    if not chosen and all(p.startswith("-") for p in parts):
        chosen = set(NAVIGABLE)
    chosen |= {p for p in parts if not p.startswith(("*", "-")) and p not in ("id", "key")}
    chosen -= {p[1:] for p in parts if p.startswith("-")}
    if not chosen and set(parts) <= {"id"}:
        return None
    return chosen


def create_app(world: World | None = None, *, credentials: Credentials | None = None,
               webhook_url: str | None = None, webhook_secret: str | None = None,
               seed: int = 7, scale: int = 1, mode: Mode = "cloud") -> Starlette:
    """A fake JIRA site; `mode` picks Cloud (REST v3/v2) or Data Center (REST v2)."""
    world = world or build_world(seed, scale)
    kit = SandboxKit("jira", error_response=error_response,
                     rate_limit_headers=rate_limit_headers if mode == "cloud" else None,
                     webhook_url=webhook_url, webhook_secret=webhook_secret,
                     webhook_signer=sign_webhook, seed=seed)
    site = JiraSite(world, mode, credentials or Credentials(), kit)
    handlers = _Handlers(site)
    app = kit.app(handlers.routes(), auth=site.authenticate)
    app.state.jira = site
    return app


Handler = Callable[[Request, str], Awaitable[Response]]


class _Handlers:
    """The REST resources, one method each; `v` is the API version in the path."""

    def __init__(self, site: JiraSite) -> None:
        self.site = site

    def routes(self) -> list[BaseRoute]:
        cloud = self.site.mode == "cloud"
        versions = ["2", "3"] if cloud else ["2", "latest"]
        table: list[tuple[str, Handler, list[str]]] = [
            ("/search", self.removed_search if cloud else self.classic_search, ["GET", "POST"]),
            ("/issue/{key}", self.get_issue, ["GET"]),
            ("/issue/{key}", self.edit_issue, ["PUT"]),
            ("/issue/{key}/transitions", self.transitions, ["GET"]),
            ("/issue/{key}/transitions", self.transition, ["POST"]),
            ("/project", self.projects, ["GET"]),
            ("/project/{key}", self.get_project, ["GET"]),
            ("/project/{key}/versions", self.project_versions, ["GET"]),
            ("/project/{key}/version", self.project_version_page, ["GET"]),
            ("/version/{id}", self.get_version, ["GET"]),
            ("/serverInfo", self.server_info, ["GET"]),
            ("/myself", self.myself, ["GET"]),
            ("/statuscategory", self.status_categories, ["GET"]),
        ]
        if cloud:
            table += [
                ("/search/jql", self.search_jql, ["GET", "POST"]),
                ("/search/approximate-count", self.approximate_count, ["POST"]),
                ("/issue/{key}/changelog", self.issue_changelog, ["GET"]),
                ("/project/search", self.project_page, ["GET"]),
            ]
        # More specific paths first, so /project/search is not read as a project key.
        table.sort(key=lambda row: -row[0].count("/") - ("{" not in row[0]))
        routes: list[BaseRoute] = []
        for v in versions:
            for path, handler, methods in table:
                routes.append(Route(f"/rest/api/{v}{path}", _bind(handler, v), methods=methods))
        return routes

    # --- search ------------------------------------------------------------------

    async def _params(self, request: Request) -> tuple[Json, bool]:
        """Query parameters or a POST body, as one dict; flag tells which."""
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise _BadRequest("Invalid request payload. Refer to the REST API documentation "
                                  "and try again.")
            return body, True
        params: Json = {key: request.query_params.get(key) for key in request.query_params}
        params["fields"] = request.query_params.getlist("fields")
        return params, False

    async def search_jql(self, request: Request, v: str) -> Response:
        try:
            params, _ = await self._params(request)
            text = str(params.get("jql") or "")
            query, found = self.site.run_jql(text)
            if not query.bounded:
                raise _BadRequest(UNBOUNDED)
            wanted = select_fields(_as_list(params.get("fields")), "id")
            cap = 5000 if wanted is None or wanted <= {"key"} else 100
            limit = min(_int(params.get("maxResults"), 50, "maxResults"), cap)
            digest = hashlib.sha256(text.encode()).hexdigest()[:12]
            offset = _read_token(params.get("nextPageToken"), digest)
        except jql.JqlError as exc:
            return errors(*exc.messages, status=400)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        expand = set(_split(_as_list(params.get("expand"))))
        base = self.site.base(request)
        page = found[offset:offset + max(limit, 1)]
        body: Json = {"issues": [self.site.render_issue(i, base, v, wanted, expand)
                                 for i in page]}
        end = offset + len(page)
        if end < len(found):
            body["nextPageToken"] = _make_token(end, digest)
        body["isLast"] = end >= len(found)
        if "names" in expand and wanted is not None:
            body["names"] = {name: FIELD_NAMES[name] for name in sorted(wanted)
                             if name in FIELD_NAMES}
        return JSONResponse(body)

    async def approximate_count(self, request: Request, v: str) -> Response:
        try:
            params, _ = await self._params(request)
            query, found = self.site.run_jql(str(params.get("jql") or ""))
            if not query.bounded:
                raise _BadRequest(UNBOUNDED)
        except jql.JqlError as exc:
            return errors(*exc.messages, status=400)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        return JSONResponse({"count": len(found)})

    async def removed_search(self, request: Request, v: str) -> Response:
        return JSONResponse({"errorMessages": [SEARCH_REMOVED]}, status_code=410)

    async def classic_search(self, request: Request, v: str) -> Response:
        try:
            params, _ = await self._params(request)
            _, found = self.site.run_jql(str(params.get("jql") or ""))
            start = _int(params.get("startAt"), 0, "startAt")
            limit = min(_int(params.get("maxResults"), 50, "maxResults"), 1000)
        except jql.JqlError as exc:
            return errors(*exc.messages, status=400)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        wanted = select_fields(_as_list(params.get("fields")), "*navigable") or set()
        expand = set(_split(_as_list(params.get("expand"))))
        base = self.site.base(request)
        page = found[start:start + limit]
        body: Json = {"expand": "schema,names", "startAt": start, "maxResults": limit,
                      "total": len(found),
                      "issues": [self.site.render_issue(i, base, v, wanted, expand)
                                 for i in page]}
        if "names" in expand:
            body["names"] = {name: FIELD_NAMES[name] for name in sorted(wanted)
                             if name in FIELD_NAMES}
        return JSONResponse(body)

    # --- issues --------------------------------------------------------------------

    async def get_issue(self, request: Request, v: str) -> Response:
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        wanted = select_fields(request.query_params.getlist("fields"), "*all") or set()
        expand = set(_split(request.query_params.getlist("expand")))
        return JSONResponse(self.site.render_issue(issue, self.site.base(request), v, wanted,
                                                   expand))

    async def issue_changelog(self, request: Request, v: str) -> Response:
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        try:
            start = _int(request.query_params.get("startAt"), 0, "startAt")
            limit = min(_int(request.query_params.get("maxResults"), 100, "maxResults"), 100)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        base = self.site.base(request)
        url = f"{base}/rest/api/{v}/issue/{issue.key}/changelog"
        values = issue.history[start:start + limit]
        body: Json = {"self": f"{url}?maxResults={limit}&startAt={start}",
                      "maxResults": limit, "startAt": start, "total": len(issue.history),
                      "isLast": start + len(values) >= len(issue.history),
                      "values": [self.site.changelog_entry(e, base, v) for e in values]}
        if not body["isLast"]:
            body["nextPage"] = f"{url}?maxResults={limit}&startAt={start + len(values)}"
        return JSONResponse(body)

    async def edit_issue(self, request: Request, v: str) -> Response:
        """Edit summary, labels or fixVersions; others are refused as JIRA refuses them."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return errors("Invalid request payload. Refer to the REST API documentation and "
                          "try again.", status=400)
        bad = {name: f"Field '{name}' cannot be set. It is not on the appropriate screen, "
                     f"or unknown." for name in fields
               if name not in ("summary", "labels", "fixVersions")}
        if bad:
            return errors(status=400, field_errors=bad)
        changes: list[tuple[str, str, str, str, str]] = []
        if "fixVersions" in fields:
            try:
                new_ids = [self._version_ref(ref, issue.app_key) for ref in fields["fixVersions"]]
            except _BadRequest as exc:
                return errors(status=400, field_errors={"fixVersions": str(exc)})
            for vid in set(issue.fix_versions) - set(new_ids):
                changes.append(("Fix Version", str(vid), self.site.versions[vid].version_name,
                                "", ""))
            for vid in set(new_ids) - set(issue.fix_versions):
                changes.append(("Fix Version", "", "", str(vid),
                                self.site.versions[vid].version_name))
            issue.fix_versions = new_ids
        if "summary" in fields and fields["summary"] != issue.summary:
            changes.append(("summary", "", issue.summary, "", str(fields["summary"])))
            issue.summary = str(fields["summary"])
        if "labels" in fields and list(fields["labels"]) != issue.labels:
            changes.append(("labels", "", " ".join(issue.labels), "",
                            " ".join(map(str, fields["labels"]))))
            issue.labels = [str(label) for label in fields["labels"]]
        if changes:
            await self.site.record_change(issue, request, v, changes, "issue_updated")
        return Response(status_code=204)

    def _version_ref(self, ref: Any, app_key: str) -> int:
        if isinstance(ref, dict):
            for release in self.site.world.releases:
                if release.app_key == app_key and (
                        str(ref.get("id")) == str(release.jira_version_id)
                        or ref.get("name") == release.version_name):
                    return release.jira_version_id
        raise _BadRequest(f"Version {json.dumps(ref)} is not valid.")

    async def transitions(self, request: Request, v: str) -> Response:
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        base = self.site.base(request)
        return JSONResponse({"expand": "transitions", "transitions": [
            {"id": TRANSITION_IDS[name], "name": name,
             "to": self.site.status(name, category, base, v), "hasScreen": False,
             "isGlobal": True, "isInitial": False, "isAvailable": True,
             "isConditional": False, "isLooped": False}
            for name, category in WORKFLOW if name != issue.status]})

    async def transition(self, request: Request, v: str) -> Response:
        """Move the issue to another status and emit `jira:issue_updated`."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        try:
            body = json.loads(await request.body() or b"{}")
            wanted = str(body["transition"]["id"])
        except (ValueError, KeyError, TypeError):
            return errors("Missing 'transition' identifier", status=400)
        target = next(((name, cat) for name, cat in WORKFLOW
                       if TRANSITION_IDS[name] == wanted and name != issue.status), None)
        if target is None:
            return errors(f"Transition id '{wanted}' is not valid for this issue.", status=400)
        old = issue.status
        issue.status, issue.status_category = target
        await self.site.record_change(
            issue, request, v,
            [("status", STATUS_IDS[old], old, STATUS_IDS[target[0]], target[0])],
            "issue_generic")
        return Response(status_code=204)

    # --- projects and versions -------------------------------------------------------

    def _app_for(self, key: str) -> str | None:
        for app in self.site.world.applications:
            if key.upper() == app.key or key == str(app.jira_project_id):
                return app.key
        return None

    async def projects(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        return JSONResponse([self._project_summary(a.key, base, v)
                             for a in self.site.world.applications])

    def _project_summary(self, app_key: str, base: str, v: str) -> Json:
        body = self.site.project(app_key, base, v)
        body = {"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                **body}
        if self.site.mode == "cloud":
            body.update({"style": "classic", "isPrivate": False, "properties": {}})
        else:
            body["archived"] = False
        return body

    async def project_page(self, request: Request, v: str) -> Response:
        try:
            start = _int(request.query_params.get("startAt"), 0, "startAt")
            limit = min(_int(request.query_params.get("maxResults"), 50, "maxResults"), 100)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        base = self.site.base(request)
        apps = self.site.world.applications
        url = f"{base}/rest/api/{v}/project/search"
        values = apps[start:start + limit]
        body: Json = {"self": f"{url}?maxResults={limit}&startAt={start}",
                      "maxResults": limit, "startAt": start, "total": len(apps),
                      "isLast": start + len(values) >= len(apps),
                      "values": [self._project_summary(a.key, base, v) for a in values]}
        if not body["isLast"]:
            body["nextPage"] = f"{url}?maxResults={limit}&startAt={start + len(values)}"
        return JSONResponse(body)

    async def get_project(self, request: Request, v: str) -> Response:
        key = request.path_params["key"]
        app_key = self._app_for(key)
        if app_key is None:
            return errors(f"No project could be found with key '{key}'.", status=404)
        base = self.site.base(request)
        app = self.site.world.app(app_key)
        body = self._project_summary(app_key, base, v)
        body.update({
            "description": f"{app.name} team project", "lead": self.site.user(app.lead, base, v),
            "issueTypes": [{"self": f"{base}/rest/api/{v}/issuetype/{tid}", "id": tid,
                            "description": text, "name": name, "subtask": False}
                           for name, (tid, text) in ISSUE_TYPES.items()],
            "versions": [self.site.version(r, base, v) for r in self._releases(app_key)],
            "components": [], "assigneeType": "UNASSIGNED", "roles": {}})
        return JSONResponse(body)

    def _releases(self, app_key: str) -> list[Release]:
        return [r for r in self.site.world.releases if r.app_key == app_key]

    async def project_versions(self, request: Request, v: str) -> Response:
        key = request.path_params["key"]
        app_key = self._app_for(key)
        if app_key is None:
            return errors(f"No project could be found with key '{key}'.", status=404)
        base = self.site.base(request)
        return JSONResponse([self.site.version(r, base, v) for r in self._releases(app_key)])

    async def project_version_page(self, request: Request, v: str) -> Response:
        key = request.path_params["key"]
        app_key = self._app_for(key)
        if app_key is None:
            return errors(f"No project could be found with key '{key}'.", status=404)
        query = request.query_params
        try:
            start = _int(query.get("startAt"), 0, "startAt")
            limit = min(_int(query.get("maxResults"), 50, "maxResults"), 50)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        releases = self._releases(app_key)
        statuses = set(_split(query.getlist("status")))
        if statuses:
            releases = [r for r in releases if
                        ("released" in statuses and r.released)
                        or ("archived" in statuses and r.status == "CANCELLED")
                        or ("unreleased" in statuses and not r.released
                            and r.status != "CANCELLED")]
        text = (query.get("query") or "").lower()
        releases = [r for r in releases if text in r.version_name.lower()
                    or text in r.description.lower()]
        order = query.get("orderBy") or ""
        field_name = order.lstrip("+-")
        if field_name in ("name", "releaseDate", "sequence", "startDate", "description"):
            sort_keys: dict[str, Callable[[Release], Any]] = {
                "name": lambda r: r.version_name, "description": lambda r: r.description,
                "releaseDate": lambda r: r.window_start, "startDate": lambda r: r.window_start,
                "sequence": lambda r: r.jira_version_id}
            releases = sorted(releases, key=sort_keys[field_name], reverse=order.startswith("-"))
        elif order:
            return errors(f"Invalid orderBy value: '{order}'.", status=400)
        base = self.site.base(request)
        url = f"{base}/rest/api/{v}/project/{key}/version"
        values = releases[start:start + limit]
        body: Json = {"self": f"{url}?maxResults={limit}&startAt={start}",
                      "maxResults": limit, "startAt": start, "total": len(releases),
                      "isLast": start + len(values) >= len(releases),
                      "values": [self.site.version(r, base, v) for r in values]}
        if not body["isLast"]:
            body["nextPage"] = f"{url}?maxResults={limit}&startAt={start + len(values)}"
        return JSONResponse(body)

    async def get_version(self, request: Request, v: str) -> Response:
        raw = request.path_params["id"]
        release = self.site.versions.get(int(raw)) if raw.isdigit() else None
        if release is None:
            return errors(f"Could not find version for id '{raw}'", status=404)
        return JSONResponse(self.site.version(release, self.site.base(request), v))

    # --- site ----------------------------------------------------------------------------

    async def server_info(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        now = jira_time(datetime.now(UTC))
        if self.site.mode == "cloud":
            return JSONResponse({
                "baseUrl": base, "displayUrl": base, "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud",
                "buildNumber": 100300, "buildDate": "2026-10-28T00:00:00.000+0000",
                "serverTime": now, "scmInfo": "5a1c0ed6f4b2b2e6c5a0f0f3d1c9e8b7a6f5e4d3",
                "serverTitle": "Jira", "serverTimeZone": "Etc/UTC"})
        return JSONResponse({
            "baseUrl": base, "version": "9.12.15", "versionNumbers": [9, 12, 15],
            "deploymentType": "Server", "buildNumber": 9120015,
            "buildDate": "2024-10-01T00:00:00.000+0000", "serverTime": now,
            "scmInfo": "0d5c1e3d8bf6f4b6a9cd81d2a74a83a9a7b0c1de", "serverTitle": "Jira"})

    async def myself(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        username = self.site.credentials.username
        person = self.site.world.person_by_email(username)
        if person is not None:
            body = self.site.user(person, base, v)
        elif self.site.mode == "cloud":
            body = {"self": f"{base}/rest/api/{v}/user?accountId={DEMO_ACCOUNT_ID}",
                    "accountId": DEMO_ACCOUNT_ID, "emailAddress": username,
                    "displayName": "Demo User", "active": True, "timeZone": "Etc/UTC",
                    "accountType": "atlassian"}
        else:
            body = {"self": f"{base}/rest/api/{v}/user?username={quote(username)}",
                    "name": username, "key": "JIRAUSER10000", "emailAddress": username,
                    "displayName": "Demo User", "active": True, "timeZone": "Etc/UTC"}
        body["locale"] = "en_US"
        return JSONResponse(body)

    async def status_categories(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        return JSONResponse([
            {"self": f"{base}/rest/api/{v}/statuscategory/{cat_id}", "id": cat_id, "key": key,
             "colorName": colour, "name": name}
            for key, (cat_id, colour, name) in sorted(CATEGORIES.items(),
                                                      key=lambda kv: kv[1][0])])


class _BadRequest(ValueError):
    """A 400 whose message goes into `errorMessages`."""


def _bind(handler: Handler, v: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(request, v)
    return endpoint


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def _int(value: Any, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _BadRequest(f"The '{name}' parameter must be a number.") from None
    if number < 0:
        raise _BadRequest(f"The '{name}' parameter must not be negative.")
    return number


def _make_token(offset: int, digest: str) -> str:
    raw = json.dumps({"o": offset, "q": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: Any, digest: str) -> int:
    """The offset a page token stands for; a token from another query is refused."""
    if token in (None, ""):
        return 0
    try:
        text = str(token)
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if data["q"] != digest or not isinstance(data["o"], int) or data["o"] < 0:
            raise ValueError
        return int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _BadRequest(BAD_TOKEN) from None


#: This kind's entry in the `heatshield.sandboxes` registry (pyproject.toml).
def demo_connector(wiring: DemoWiring) -> ConnectorConfig:
    return ConnectorConfig(name=wiring.name, kind="jira", base_url=wiring.base_url,
                           auth={"type": "basic", "username": wiring.username,
                                 "token_env": wiring.token_env},
                           options={"flavour": "cloud"},
                           webhook_secret_env=wiring.webhook_secret_env)


def demo_links(world: World, release: Release) -> list[tuple[LinkKind, str]]:
    """A release is the JIRA version of the same name."""
    return [(LinkKind.PLANNED_VERSION, str(release.jira_version_id))]


SANDBOX = Sandbox(create_app, webhooks_to_hub=True, demo_connector=demo_connector,
                  demo_links=demo_links)
