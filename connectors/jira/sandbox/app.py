"""An ASGI fake of JIRA (Cloud or Data Center) over the demo world.

It speaks the wire format the JIRA connector meets on real sites: Cloud's
token-paged `/rest/api/3/search/jql` (and the 410 of the retired `/search`),
Data Center's offset-paged `/rest/api/2/search`, ADF vs string descriptions,
`accountId` vs `name`/`key` users, JIRA's error collections and 429 headers,
and `jira:issue_*` webhooks signed with `X-Hub-Signature`. It also serves what
client libraries such as pycontribs `jira` call around a search (fields,
statuses, priorities, issue types, users) and the writes scripts make (issues,
comments, assignment, versions, components), checked as `writes.py` says.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Set
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.config import ConnectorConfig
from connectors.jira.sandbox import agile, issue_links, jql, remote_links, worklogs, writes
from connectors.jira.sandbox.catalogue import FIELD_NAMES, FIELDS, render_field, site_fields
from connectors.records import LinkKind
from connectors.sandbox.kit import Credentials, SandboxKit, route_path
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
PRIORITY_COLOURS = {"Highest": "#d04437", "High": "#f15C75", "Medium": "#f79232",
                    "Low": "#707070", "Lowest": "#999999"}
DEMO_ACCOUNT_ID = "5b10ac8d82e05b22cc7dffff"

UNBOUNDED = ("Unbounded JQL queries are not allowed here. Please add a search restriction "
             "to your query.")
SEARCH_REMOVED = ("The requested API has been removed. Please migrate to the "
                  "/rest/api/3/search/jql API. A full migration guideline is available at "
                  "https://developer.atlassian.com/changelog/#CHANGE-2046")
NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
BAD_TOKEN = "The provided next page token is invalid or expired."

NAVIGABLE = [f.id for f in FIELDS if f.navigable]
NOT_NAVIGABLE = [f.id for f in FIELDS if not f.navigable]


def jira_time(moment: datetime) -> str:
    """JIRA's timestamp: milliseconds and an offset without a colon (`+0000`)."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def errors(*messages: str, status: int, field_errors: dict[str, str] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    """JIRA's ErrorCollection body."""
    return JSONResponse({"errorMessages": list(messages), "errors": field_errors or {}},
                        status_code=status, headers=headers)


class _NotFound(LookupError):
    """A 404 whose message goes into `errorMessages` (`_not_found_is_404`)."""


AgileHandler = Callable[[Any, Request], Awaitable[Response]]


def _not_found_is_404(handler: AgileHandler) -> AgileHandler:
    @functools.wraps(handler)
    async def wrapped(self: Any, request: Request) -> Response:
        try:
            return await handler(self, request)
        except _NotFound as exc:
            return errors(str(exc), status=404)

    return wrapped


def error_collection(write: writes.Write) -> Json:
    """A write's refusals; one that is about the whole body goes into `errorMessages`."""
    return {"errorMessages": [v for k, v in write.errors.items() if not k],
            "errors": {k: v for k, v in write.errors.items() if k}}


def refused(write: writes.Write) -> JSONResponse:
    return JSONResponse(error_collection(write), status_code=400)


def error_response(status: int, message: str) -> Response:
    if status == 429:
        message = "Rate limit exceeded."
    return errors(message, status=status)


async def unknown_resource(request: Request, exc: Exception) -> Response:
    """A path JIRA has no resource for: its REST layer's own 404 body, naming the URI."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return JSONResponse({"message": f"null for uri: {request.url}", "status-code": 404},
                            status_code=404)
    return error_response(exc.status_code, str(exc.detail))


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
class SiteVersion:
    """A project version; seeded from the world's releases, created through POST /version."""

    id: int
    app_key: str
    name: str
    description: str
    released: bool
    archived: bool
    release_date: date | None
    start_date: date | None = None


@dataclass(slots=True)
class SiteComponent:
    id: int
    app_key: str
    name: str
    description: str
    lead: Person | None


@dataclass(slots=True)
class SiteComment:
    id: int
    author: Person
    body: str
    created: datetime
    updated: datetime


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
    affects_versions: list[int] = field(default_factory=list)
    components: list[int] = field(default_factory=list)  # component ids
    environment: str = ""
    due: date | None = None
    comments: list[SiteComment] = field(default_factory=list)
    watchers: list[Person] = field(default_factory=list)  # the reporter, and who was added
    voters: list[Person] = field(default_factory=list)
    # (id, when, author, [(field, from, fromString, to, toString)])
    history: list[tuple[int, datetime, Person, list[tuple[str, str, str, str, str]]]] = \
        field(default_factory=list)


class _SiteIssues:
    """A site's issues as JQL reads them (`jql.IssueSource`): facts made on demand, so a
    query naming 100 keys or 200 versions looks at their issues, not the whole site."""

    def __init__(self, site: JiraSite) -> None:
        self.site = site

    def all(self) -> Iterable[jql.IssueFacts]:
        return [self.site.facts(issue) for issue in self.site.issues.values()]

    def having(self, field_name: str, value: str) -> Iterable[jql.IssueFacts]:
        site = self.site
        if field_name == "key":
            keys: Iterable[str] = (value,)
        else:
            keys = site.postings().get((field_name, value), ())
        return [site.facts(site.issues[key]) for key in keys if key in site.issues]


class JiraSite:
    """The per-app state and handlers of one fake JIRA site."""

    def __init__(self, world: World, mode: Mode, credentials: Credentials,
                 kit: SandboxKit) -> None:
        self.world = world
        self.mode = mode
        self.credentials = credentials
        self.kit = kit
        self.versions: dict[int, SiteVersion] = {
            r.jira_version_id: SiteVersion(
                id=r.jira_version_id, app_key=r.app_key, name=r.version_name,
                description=r.description, released=r.released,
                archived=r.status == "CANCELLED", release_date=r.window_start.date())
            for r in world.releases}
        # One component per project, named after the application's repository.
        self.components: dict[int, SiteComponent] = {
            10000 + n: SiteComponent(id=10000 + n, app_key=app.key, name=app.repo_name,
                                     description=f"The {app.repo_name} repository.",
                                     lead=app.lead)
            for n, app in enumerate(world.applications)}
        # One scrum board per project and its two-week sprints (`agile.py`).
        boards = agile.boards(world)
        self.boards = {board.id: board for board in boards}
        self.sprints = {sprint.id: sprint for sprint in agile.sprints(boards, world.now)}
        #: Each project's sprints, oldest first (its board's).
        self.project_sprints: dict[str, list[agile.Sprint]] = {}
        for sprint in self.sprints.values():
            self.project_sprints.setdefault(sprint.board.app.key, []).append(sprint)
        self.me = world.person_by_email(credentials.username) or Person(
            index=-100, display_name="Demo User", email=credentials.username,
            username=credentials.username, account_id=DEMO_ACCOUNT_ID, github_login="",
            github_id=0)
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
                fix_versions=[version_of[item.release_key]] if item.release_key else [],
                watchers=[item.reporter])
            for when, author, field_name, old, new in item.changelog:
                history_id += 1
                if field_name == "status":
                    change = ("status", STATUS_IDS.get(old, ""), old, STATUS_IDS.get(new, ""), new)
                else:
                    change = (field_name, "", old, "", new)
                issue.history.append((history_id, when, author, [change]))
            self.issues[item.key] = issue
        self.by_id = {issue.id: issue for issue in self.issues.values()}
        # The fields an issue carries, in the order JIRA lists them.
        self.field_order = [name for name in ISSUE_FIELDS
                            if mode == "cloud" or name != "statuscategorychangedate"]
        self._facts: dict[int, tuple[datetime, jql.IssueFacts]] = {}
        # Issue keys by indexed JQL value ("fixVersion", "20001"), built when first searched
        # and dropped when an issue is added or its fix versions change (`_set`, `new_issue`).
        self._postings: dict[tuple[str, str], list[str]] | None = None
        # The vocabulary's tables, dropped when a version is added or changed.
        self._vocabulary: jql.Vocabulary | None = None
        self.next_history_id = history_id + 1
        self.next_comment_id = 10000
        # Remote issue links written through the sandbox (the world makes none).
        self.remote_links: list[remote_links.RemoteLink] = []
        self.next_remote_link_id = 10000
        # Links between issues made through the sandbox (the world makes none).
        self.issue_links: list[issue_links.IssueLink] = []
        self.next_issue_link_id = 10000
        # Work logged through the sandbox (the world logs none).
        self.worklogs: list[worklogs.Worklog] = []
        self.next_worklog_id = 10000

    # --- auth ------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        """Cloud: Basic email:api-token. Data Center: Bearer PAT or Basic user:password."""
        header = request.headers.get("authorization", "")
        if not header and route_path(request.scope).endswith("/serverInfo"):
            return None  # JIRA tells anonymous callers what it is
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

    def version(self, version: SiteVersion, base: str, v: str, *, full: bool = True) -> Json:
        body: Json = {"self": f"{base}/rest/api/{v}/version/{version.id}",
                      "id": str(version.id), "description": version.description,
                      "name": version.name, "archived": version.archived,
                      "released": version.released}
        if version.start_date is not None:
            body["startDate"] = f"{version.start_date:%Y-%m-%d}"
        if version.release_date is not None:
            body["releaseDate"] = f"{version.release_date:%Y-%m-%d}"
        if full:
            if version.release_date is not None:
                day = version.release_date
                body["userReleaseDate"] = f"{day.day}/{day:%b/%y}"
                body["overdue"] = (not version.released and day < self.world.now.date())
            body["projectId"] = self.world.app(version.app_key).jira_project_id
        return body

    def component(self, component: SiteComponent, base: str, v: str, *,
                  full: bool = True) -> Json:
        body: Json = {"self": f"{base}/rest/api/{v}/component/{component.id}",
                      "id": str(component.id), "name": component.name,
                      "description": component.description}
        if full:
            app = self.world.app(component.app_key)
            lead = self.user(component.lead, base, v) if component.lead else None
            body.update({"lead": lead, "assigneeType": "PROJECT_DEFAULT",
                         "assignee": self.user(app.lead, base, v),
                         "realAssigneeType": "PROJECT_DEFAULT",
                         "realAssignee": self.user(app.lead, base, v),
                         "isAssigneeTypeValid": True, "project": app.key,
                         "projectId": app.jira_project_id})
        return body

    def text(self, value: str, v: str) -> Any:
        """A rich-text value: Atlassian Document Format in v3, plain wiki text in v2."""
        if v != "3":
            return value
        return {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            for line in value.split("\n") if line]}

    def comment(self, issue: SiteIssue, comment: SiteComment, base: str, v: str) -> Json:
        body: Json = {"self": f"{base}/rest/api/{v}/issue/{issue.id}/comment/{comment.id}",
                      "id": str(comment.id), "author": self.user(comment.author, base, v),
                      "body": self.text(comment.body, v),
                      "updateAuthor": self.user(comment.author, base, v),
                      "created": jira_time(comment.created),
                      "updated": jira_time(comment.updated)}
        if self.mode == "cloud":
            body["jsdPublic"] = True
        return body

    def linked_issue(self, issue: SiteIssue, base: str, v: str) -> Json:
        """The other end of a link, as JIRA sums it up."""
        return {"id": str(issue.id), "key": issue.key,
                "self": f"{base}/rest/api/{v}/issue/{issue.id}",
                "fields": {"summary": issue.summary,
                           "status": self.status(issue.status, issue.status_category, base, v),
                           "priority": _priority(issue, base, v),
                           "issuetype": _issue_type(issue, base, v)}}

    def issue_link(self, link: issue_links.IssueLink, base: str, v: str) -> Json:
        return {"id": str(link.id), "self": f"{base}/rest/api/{v}/issueLink/{link.id}",
                "type": issue_links.type_json(link.type, base, v),
                "inwardIssue": self.linked_issue(self.by_id[link.inward_id], base, v),
                "outwardIssue": self.linked_issue(self.by_id[link.outward_id], base, v)}

    def links_of(self, issue: SiteIssue, base: str, v: str) -> list[Json]:
        """The issue's `issuelinks`: each link from its side, the other issue named under
        the side it is on."""
        found: list[Json] = []
        for link in self.issue_links:
            if issue.id not in (link.inward_id, link.outward_id):
                continue
            body = self.issue_link(link, base, v)
            del body["inwardIssue" if link.inward_id == issue.id else "outwardIssue"]
            found.append(body)
        return found

    def worklog_page(self, issue: SiteIssue, base: str, v: str, start: int, limit: int
                     ) -> Json:
        """An issue's worklogs, oldest first; the issue's `worklog` field is the first 20."""
        logged = sorted((w for w in self.worklogs if w.issue_id == issue.id),
                        key=lambda w: (w.started, w.id))
        return {"startAt": start, "maxResults": limit, "total": len(logged),
                "worklogs": [self.worklog(issue, w, base, v)
                             for w in logged[start:start + limit]]}

    def worklog(self, issue: SiteIssue, log: worklogs.Worklog, base: str, v: str) -> Json:
        author = self.user(log.author, base, v)
        return {"self": f"{base}/rest/api/{v}/issue/{issue.id}/worklog/{log.id}",
                "author": author, "updateAuthor": author, "comment": self.text(log.comment, v),
                "created": jira_time(log.created), "updated": jira_time(log.updated),
                "started": jira_time(log.started), "timeSpent": worklogs.spent(log.seconds),
                "timeSpentSeconds": log.seconds, "id": str(log.id), "issueId": str(issue.id)}

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
                item["fieldId"] = {"Fix Version": "fixVersions", "Version": "versions",
                                   "Component": "components"}.get(field_name, field_name)
            item.update({"from": old or None, "fromString": old_text or None,
                         "to": new or None, "toString": new_text or None})
            items.append(item)
        return {"id": str(history_id), "author": self.user(author, base, v),
                "created": jira_time(when), "items": items}

    def all_fields(self, issue: SiteIssue, base: str, v: str,
                   wanted: Set[str] | None = None) -> Json:
        """The issue's fields in JIRA's order; only those in `wanted` when given (a search
        asking for seven fields of 100 issues should not render comments and users)."""
        return {name: ISSUE_FIELDS[name](self, issue, base, v) for name in self.field_order
                if wanted is None or name in wanted}

    def render_issue(self, issue: SiteIssue, base: str, v: str, wanted: set[str] | None,
                     expand: set[str]) -> Json:
        """One IssueBean; `wanted` None means the ids-only form of Cloud search."""
        if wanted is None:
            return {"id": str(issue.id)}
        body: Json = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,"
                                "versionedRepresentations",
                      "id": str(issue.id), "self": f"{base}/rest/api/{v}/issue/{issue.id}",
                      "key": issue.key,
                      "fields": self.all_fields(issue, base, v, wanted)}
        if "changelog" in expand:
            histories = [self.changelog_entry(e, base, v) for e in issue.history]
            body["changelog"] = {"startAt": 0, "maxResults": len(histories),
                                 "total": len(histories), "histories": histories}
        if "names" in expand:
            body["names"] = {name: FIELD_NAMES[name] for name in body["fields"]}
        return body

    # --- JQL -----------------------------------------------------------------

    def vocabulary(self) -> jql.Vocabulary:
        """What exists on the site; kept until `catalogue_changed` (issue keys are read live)."""
        if self._vocabulary is None:
            self._vocabulary = self._make_vocabulary()
        return self._vocabulary

    def catalogue_changed(self) -> None:
        """A version was created, renamed, released or archived, or a component created:
        JQL must see it."""
        self._vocabulary = None

    def _make_vocabulary(self) -> jql.Vocabulary:
        projects: dict[str, str] = {}
        for app in self.world.applications:
            projects[app.key.lower()] = app.key
            projects[str(app.jira_project_id)] = app.key
        versions: dict[str, set[str]] = {}
        released: dict[str, set[str]] = {}
        unreleased: dict[str, set[str]] = {}
        for version in self.versions.values():
            vid = str(version.id)
            versions.setdefault(version.name.lower(), set()).add(vid)
            versions[vid] = {vid}
            table = released if version.released else unreleased
            if not version.archived or version.released:
                table.setdefault(version.app_key.lower(), set()).add(vid)
        # A person by account id (Cloud), user name (Data Center), email or display name.
        users: dict[str, str] = {}
        for person in [*self.world.people, self.me]:
            for ident in (person.account_id, person.username, person.email,
                          person.display_name):
                users[ident.lower()] = person.account_id
        components: dict[str, set[str]] = {}
        for component in self.components.values():
            components.setdefault(component.name.lower(), set()).add(str(component.id))
            components[str(component.id)] = {str(component.id)}
        sprints: dict[str, set[str]] = {}
        by_state: dict[str, set[str]] = {"open": set(), "closed": set(), "future": set()}
        for sprint in self.sprints.values():
            sprints.setdefault(sprint.name.lower(), set()).add(str(sprint.id))
            sprints[str(sprint.id)] = {str(sprint.id)}
            by_state["open" if sprint.state == "active" else sprint.state].add(str(sprint.id))
        categories: dict[str, str] = {}
        for key, (cat_id, _, name) in CATEGORIES.items():
            categories[key] = categories[name.lower()] = categories[str(cat_id)] = key
        return jql.Vocabulary(
            projects=projects, versions=versions, released_versions=released,
            unreleased_versions=unreleased, issue_keys=self.issues.keys(),
            statuses={name.lower() for name, _ in WORKFLOW} | set(STATUS_IDS.values()),
            status_categories=categories,
            issue_types={name.lower() for name in ISSUE_TYPES},
            priorities={name.lower() for name in PRIORITY_IDS}, now=self.world.now,
            users=users, me=self.me.account_id, components=components, sprints=sprints,
            sprints_by_state=by_state)

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
            fix_versions=[(str(vid), self.versions[vid].name)
                          for vid in issue.fix_versions],
            status=issue.status, status_category=issue.status_category,
            issue_type=issue.issue_type, priority=issue.priority,
            priority_rank=int(PRIORITY_IDS[issue.priority]),
            status_rank=[name for name, _ in WORKFLOW].index(issue.status),
            created=issue.created, updated=issue.updated, labels=issue.labels,
            assignee=issue.assignee.account_id if issue.assignee else "",
            reporter=issue.reporter.account_id, resolved=issue.status_category == "done",
            components=[str(cid) for cid in issue.components], summary=issue.summary,
            description=issue.description, environment=issue.environment,
            sprint=str(sprint.id) if (sprint := self.sprint_of(issue)) else "")

    def sprint_of(self, issue: SiteIssue) -> agile.Sprint | None:
        """The sprint an issue is in, as it stands now (`agile.sprint_of`)."""
        return agile.sprint_of(self.project_sprints[issue.app_key], issue.status_category,
                               issue.updated)

    def run_jql(self, text: str, within: str = "") -> tuple[jql.Query, list[SiteIssue]]:
        """The issues `text` finds, in its order; only those `within` finds too, if given."""
        query = jql.parse(text)
        if within:
            query = jql.narrowed(query, jql.parse(within))
        ranks = {name.lower(): int(pid) for name, pid in PRIORITY_IDS.items()}
        found = jql.search(query, _SiteIssues(self), self.vocabulary(), ranks)
        return query, [self.by_id[f.id] for f in found]

    def postings(self) -> dict[tuple[str, str], list[str]]:
        """Issue keys by (JQL field, value) for the fields JQL looks issues up by."""
        if self._postings is None:
            postings: dict[tuple[str, str], list[str]] = {}
            for issue in self.issues.values():
                postings.setdefault(("project", issue.app_key.lower()), []).append(issue.key)
                for vid in issue.fix_versions:
                    postings.setdefault(("fixVersion", str(vid)), []).append(issue.key)
            self._postings = postings
        return self._postings

    def find_issues(self, ids_or_keys: list[str]) -> list[SiteIssue]:
        """The issues found of those named, each once, in the order first named."""
        found: dict[int, SiteIssue] = {}
        for name in ids_or_keys:
            issue = self.find_issue(name)
            if issue is not None:
                found.setdefault(issue.id, issue)
        return list(found.values())

    def find_issue(self, id_or_key: str) -> SiteIssue | None:
        if id_or_key.isdigit():
            return self.by_id.get(int(id_or_key))
        return self.issues.get(id_or_key.upper())

    # --- writes ------------------------------------------------------------------

    def app_key_of_project(self, ref: str) -> str | None:
        for app in self.world.applications:
            if ref.upper() == app.key or ref == str(app.jira_project_id):
                return app.key
        return None

    def version_ids(self, app_key: str) -> dict[str, int]:
        known: dict[str, int] = {}
        for version in self.versions.values():
            if version.app_key == app_key:
                known[f"#{version.id}"] = known[version.name] = version.id
        return known

    def component_ids(self, app_key: str) -> dict[str, int]:
        known: dict[str, int] = {}
        for component in self.components.values():
            if component.app_key == app_key:
                known[f"#{component.id}"] = known[component.name] = component.id
        return known

    def people(self) -> list[Person]:
        return [self.me, *(p for p in self.world.people if p is not self.me)]

    def person(self, ref: str) -> Person | None:
        """A user by Cloud accountId or Data Center name."""
        for person in self.people():
            if ref == (person.account_id if self.mode == "cloud" else person.username):
                return person
        return None

    def default_assignee(self, app_key: str) -> Person:
        return self.world.app(app_key).lead

    def apply(self, issue: SiteIssue, values: dict[str, Any]
              ) -> list[tuple[str, str, str, str, str]]:
        """Set checked values on the issue; the changelog items of what really changed."""
        changes: list[tuple[str, str, str, str, str]] = []
        for name, new in values.items():
            old = self._get(issue, name)
            if old == new:
                continue
            if name in ("fixVersions", "versions", "components"):
                label = {"fixVersions": "Fix Version", "versions": "Version",
                         "components": "Component"}[name]
                named = self.versions if name != "components" else self.components
                changes += [(label, str(i), named[i].name, "", "") for i in old if i not in new]
                changes += [(label, "", "", str(i), named[i].name) for i in new if i not in old]
            elif name in ("assignee", "reporter"):
                def ref(p: Person | None) -> str:
                    if p is None:
                        return ""
                    return p.account_id if self.mode == "cloud" else p.username
                changes.append((name, ref(old), old.display_name if old else "",
                                ref(new), new.display_name if new else ""))
            elif name == "priority":
                changes.append((name, PRIORITY_IDS[old], old, PRIORITY_IDS[new], new))
            elif name == "issuetype":
                changes.append((name, ISSUE_TYPES[old][0], old, ISSUE_TYPES[new][0], new))
            elif name == "labels":
                changes.append((name, "", " ".join(old), "", " ".join(new)))
            elif name == "duedate":
                changes.append((name, f"{old or ''}", f"{old or ''}", f"{new or ''}",
                                f"{new or ''}"))
            else:
                changes.append((name, "", str(old), "", str(new)))
            self._set(issue, name, new)
        return changes

    _ATTRS = {"summary": "summary", "description": "description",
              "environment": "environment", "duedate": "due", "labels": "labels",
              "fixVersions": "fix_versions", "versions": "affects_versions",
              "components": "components", "priority": "priority", "assignee": "assignee",
              "reporter": "reporter", "issuetype": "issue_type"}

    def _get(self, issue: SiteIssue, name: str) -> Any:
        value = getattr(issue, self._ATTRS[name])
        return list(value) if isinstance(value, list) else value

    def _set(self, issue: SiteIssue, name: str, value: Any) -> None:
        setattr(issue, self._ATTRS[name], value)
        if name == "fixVersions":
            self._postings = None

    def current_lists(self, issue: SiteIssue) -> dict[str, Any]:
        return {name: self._get(issue, name) for name in writes.LIST_FIELDS}

    def new_issue(self, app_key: str, values: dict[str, Any]) -> SiteIssue:
        """A new issue in To Do, numbered after the project's highest key."""
        numbers = [int(key.rsplit("-", 1)[1]) for key in self.issues
                   if key.startswith(f"{app_key}-")]
        now = self.world.clock.now()
        issue = SiteIssue(
            id=max(self.by_id, default=10000) + 1, key=f"{app_key}-{max(numbers, default=0) + 1}",
            app_key=app_key, summary="", description="", issue_type="Task", priority="Medium",
            status=WORKFLOW[0][0], status_category=WORKFLOW[0][1], assignee=None,
            reporter=self.me, created=now, updated=now, labels=[], fix_versions=[],
            watchers=[self.me])
        for name, value in values.items():
            self._set(issue, name, value)
        self.issues[issue.key] = issue
        self.by_id[issue.id] = issue
        self._postings = None
        return issue

    def add_comment(self, issue: SiteIssue, body: str) -> SiteComment:
        now = self.world.clock.now()
        comment = SiteComment(id=self.next_comment_id, author=self.me, body=body,
                              created=now, updated=now)
        self.next_comment_id += 1
        issue.comments.append(comment)
        issue.updated = now
        return comment

    async def record_change(self, issue: SiteIssue, request: Request, v: str,
                            changes: list[tuple[str, str, str, str, str]],
                            event_type: str, *, webhook_event: str = "jira:issue_updated"
                            ) -> None:
        """Stamp the change on the issue and tell the webhook receiver about it."""
        actor = self.me
        now = self.world.clock.now()
        issue.updated = now
        entry = (self.next_history_id, now, actor, changes)
        self.next_history_id += 1
        if changes:
            issue.history.append(entry)
        base = self.base(request)
        payload: Json = {
            # When the delivery is sent (real time, which receivers check for freshness),
            # not when the change happened in the world.
            "timestamp": int(time.time() * 1000),
            "webhookEvent": webhook_event,
            "issue_event_type_name": event_type,
            "user": self.user(actor, base, "2"),
            "issue": self.render_issue(issue, base, "2", set(NAVIGABLE), set()),
            "changelog": {"id": str(entry[0]),
                          "items": self.changelog_entry(entry, base, "2")["items"]},
        }
        if not changes:
            del payload["changelog"]
        await self.kit.emit_webhook(
            webhook_event, payload,
            {"X-Atlassian-Webhook-Identifier": str(uuid.uuid4())})  # unique across restarts

    async def version_changed(self, request: Request, version: SiteVersion,
                              webhook_event: str) -> None:
        """Tell the webhook receiver a version was created, changed, moved or deleted:
        the payload carries the version (its `self` on /rest/api/2/, as JIRA's do)."""
        payload: Json = {"timestamp": int(time.time() * 1000), "webhookEvent": webhook_event,
                         "version": self.version(version, self.base(request), "2")}
        await self.kit.emit_webhook(
            webhook_event, payload, {"X-Atlassian-Webhook-Identifier": str(uuid.uuid4())})


def _version_event(version: SiteVersion, was_released: bool | None) -> str:
    """The webhook JIRA sends for a version write (None: it was created)."""
    if was_released is None:
        return "jira:version_created"
    if version.released != was_released:
        return "jira:version_released" if version.released else "jira:version_unreleased"
    return "jira:version_updated"


def _done_at(issue: SiteIssue) -> datetime:
    """When the issue last changed status (its creation if never)."""
    return next((when for _, when, _, changes in reversed(issue.history)
                 if any(c[0] == "status" for c in changes)), issue.created)


def _resolution(issue: SiteIssue, base: str, v: str) -> Json | None:
    if issue.status_category != "done":
        return None
    return {"self": f"{base}/rest/api/{v}/resolution/10000", "id": "10000",
            "description": "Work has been done on this issue.", "name": "Done"}


def _issue_type(issue: SiteIssue, base: str, v: str) -> Json:
    type_id, type_text = ISSUE_TYPES[issue.issue_type]
    return {"self": f"{base}/rest/api/{v}/issuetype/{type_id}", "id": type_id,
            "description": type_text,
            "iconUrl": f"{base}/images/icons/issuetypes/{issue.issue_type.lower()}.svg",
            "name": issue.issue_type, "subtask": False, "avatarId": 10300, "hierarchyLevel": 0}


def _priority(issue: SiteIssue, base: str, v: str) -> Json:
    priority_id = PRIORITY_IDS[issue.priority]
    return {"self": f"{base}/rest/api/{v}/priority/{priority_id}",
            "iconUrl": f"{base}/images/icons/priorities/{issue.priority.lower()}.svg",
            "name": issue.priority, "id": priority_id}


def _comments(site: JiraSite, issue: SiteIssue, base: str, v: str) -> Json:
    return {"comments": [site.comment(issue, c, base, v) for c in issue.comments],
            "self": f"{base}/rest/api/{v}/issue/{issue.key}/comment",
            "maxResults": len(issue.comments), "total": len(issue.comments), "startAt": 0}


FieldRenderer = Callable[[JiraSite, SiteIssue, str, str], Any]
#: Every field of an issue, in the order JIRA lists them: (site, issue, base, API version).
ISSUE_FIELDS: dict[str, FieldRenderer] = {
    "summary": lambda site, issue, base, v: issue.summary,
    "issuetype": lambda site, issue, base, v: _issue_type(issue, base, v),
    "status": lambda site, issue, base, v: site.status(issue.status, issue.status_category,
                                                       base, v),
    "priority": lambda site, issue, base, v: _priority(issue, base, v),
    "assignee": lambda site, issue, base, v: (site.user(issue.assignee, base, v)
                                              if issue.assignee else None),
    "reporter": lambda site, issue, base, v: site.user(issue.reporter, base, v),
    "creator": lambda site, issue, base, v: site.user(issue.reporter, base, v),
    "project": lambda site, issue, base, v: site.project(issue.app_key, base, v),
    "fixVersions": lambda site, issue, base, v: [
        site.version(site.versions[vid], base, v, full=False) for vid in issue.fix_versions],
    "versions": lambda site, issue, base, v: [
        site.version(site.versions[vid], base, v, full=False)
        for vid in issue.affects_versions],
    "labels": lambda site, issue, base, v: list(issue.labels),
    "components": lambda site, issue, base, v: [
        site.component(site.components[cid], base, v, full=False) for cid in issue.components],
    "resolution": lambda site, issue, base, v: _resolution(issue, base, v),
    "resolutiondate": lambda site, issue, base, v: (
        jira_time(_done_at(issue)) if issue.status_category == "done" else None),
    "created": lambda site, issue, base, v: jira_time(issue.created),
    "updated": lambda site, issue, base, v: jira_time(issue.updated),
    "statuscategorychangedate": lambda site, issue, base, v: jira_time(_done_at(issue)),
    "description": lambda site, issue, base, v: (
        site.text(issue.description, v) if issue.description else None),
    "environment": lambda site, issue, base, v: (
        site.text(issue.environment, v) if issue.environment else None),
    "duedate": lambda site, issue, base, v: f"{issue.due:%Y-%m-%d}" if issue.due else None,
    "subtasks": lambda site, issue, base, v: [],
    "issuelinks": lambda site, issue, base, v: site.links_of(issue, base, v),
    "watches": lambda site, issue, base, v: {
        "self": f"{base}/rest/api/{v}/issue/{issue.key}/watchers",
        "watchCount": len(issue.watchers), "isWatching": site.me in issue.watchers},
    "votes": lambda site, issue, base, v: {
        "self": f"{base}/rest/api/{v}/issue/{issue.key}/votes", "votes": len(issue.voters),
        "hasVoted": site.me in issue.voters},
    "workratio": lambda site, issue, base, v: -1,
    "lastViewed": lambda site, issue, base, v: None,
    "customfield_10016": lambda site, issue, base, v: None,
    "customfield_10020": lambda site, issue, base, v: None,
    "comment": _comments,
    "worklog": lambda site, issue, base, v: site.worklog_page(issue, base, v, 0, 20),
    "attachment": lambda site, issue, base, v: [],
}


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
    app.add_exception_handler(HTTPException, unknown_resource)
    app.state.jira = site
    return app


Handler = Callable[[Request, str], Awaitable[Response]]


class _Handlers:
    """The REST resources, one method each; `v` is the API version in the path."""

    def __init__(self, site: JiraSite) -> None:
        self.site = site

    def routes(self) -> list[BaseRoute]:
        cloud = self.site.mode == "cloud"
        # `latest` is an alias of 2 on both flavours (pycontribs assigns issues through it).
        versions = ["2", "3", "latest"] if cloud else ["2", "latest"]
        table: list[tuple[str, Handler, list[str]]] = [
            ("/search", self.removed_search if cloud else self.classic_search, ["GET", "POST"]),
            ("/issue", self.create_issue, ["POST"]),
            ("/issue/bulk", self.create_issues, ["POST"]),
            ("/issue/{key}", self.get_issue, ["GET"]),
            ("/issue/{key}/assignee", self.assign, ["PUT"]),
            ("/issue/{key}/editmeta", self.editmeta, ["GET"]),
            ("/issue/{key}/comment", self.comments, ["GET"]),
            ("/issue/{key}/comment", self.add_comment, ["POST"]),
            ("/issue/{key}/comment/{id}", self.get_comment, ["GET"]),
            ("/issue/{key}", self.edit_issue, ["PUT"]),
            ("/issue/{key}/watchers", self.watchers, ["GET", "POST", "DELETE"]),
            ("/issue/{key}/votes", self.votes, ["GET", "POST", "DELETE"]),
            ("/issue/{key}/worklog", self.worklogs, ["GET"]),
            ("/issue/{key}/worklog", self.add_worklog, ["POST"]),
            ("/issue/{key}/worklog/{id}", self.get_worklog, ["GET"]),
            ("/issue/{key}/remotelink", self.remote_links, ["GET"]),
            ("/issue/{key}/remotelink", self.put_remote_link, ["POST"]),
            ("/issue/{key}/remotelink", self.delete_remote_link_by_global_id, ["DELETE"]),
            ("/issue/{key}/remotelink/{id}", self.remote_link, ["GET", "PUT", "DELETE"]),
            ("/issue/{key}/transitions", self.transitions, ["GET"]),
            ("/issue/{key}/transitions", self.transition, ["POST"]),
            ("/project", self.projects, ["GET"]),
            ("/project/{key}", self.get_project, ["GET"]),
            ("/project/{key}/versions", self.project_versions, ["GET"]),
            ("/project/{key}/version", self.project_version_page, ["GET"]),
            ("/project/{key}/components", self.project_components, ["GET"]),
            ("/version", self.create_version, ["POST"]),
            ("/version/{id}", self.get_version, ["GET"]),
            ("/version/{id}", self.update_version, ["PUT"]),
            ("/version/{id}", self.delete_version, ["DELETE"]),
            ("/version/{id}/relatedIssueCounts", self.version_issue_counts, ["GET"]),
            ("/version/{id}/unresolvedIssueCount", self.version_unresolved_count, ["GET"]),
            ("/version/{id}/move", self.move_version, ["POST"]),
            ("/component", self.create_component, ["POST"]),
            ("/component/{id}", self.get_component, ["GET"]),
            ("/issueLinkType", self.link_types, ["GET"]),
            ("/issueLinkType/{id}", self.link_type, ["GET"]),
            ("/issueLink", self.create_issue_link, ["POST"]),
            ("/issueLink/{id}", self.issue_link, ["GET", "DELETE"]),
            ("/field", self.fields, ["GET"]),
            ("/status", self.statuses, ["GET"]),
            ("/status/{id}", self.get_status, ["GET"]),
            ("/priority", self.priorities, ["GET"]),
            ("/priority/{id}", self.get_priority, ["GET"]),
            ("/issuetype", self.issue_types, ["GET"]),
            ("/issuetype/{id}", self.get_issue_type, ["GET"]),
            ("/resolution", self.resolutions, ["GET"]),
            ("/user", self.get_user, ["GET"]),
            ("/user/search", self.search_users, ["GET"]),
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
                ("/issue/bulkfetch", self.bulk_issues, ["POST"]),
                ("/changelog/bulkfetch", self.bulk_changelogs, ["POST"]),
                ("/webhook", self.dynamic_webhooks, ["GET", "POST", "DELETE"]),
            ]
        # More specific paths first, so /project/search is not read as a project key.
        table.sort(key=lambda row: -row[0].count("/") - ("{" not in row[0]))
        routes: list[BaseRoute] = []
        for v in versions:
            for path, handler, methods in table:
                routes.append(Route(f"/rest/api/{v}{path}", _bind(handler, v), methods=methods))
        if not cloud:
            routes.append(Route("/rest/auth/1/session", self.session, methods=["GET"]))
        agile_base = "/rest/agile/1.0"
        routes += [Route(f"{agile_base}/board", self.agile_boards, methods=["GET"]),
                   Route(f"{agile_base}/board/{{id:int}}", self.agile_board, methods=["GET"]),
                   Route(f"{agile_base}/board/{{id:int}}/sprint", self.board_sprints,
                         methods=["GET"]),
                   Route(f"{agile_base}/sprint/{{id:int}}", self.agile_sprint, methods=["GET"]),
                   Route(f"{agile_base}/sprint/{{id:int}}/issue", self.sprint_issues,
                         methods=["GET"])]
        # The site is linked to no other Atlassian application (pycontribs asks before it
        # adds a remote link).
        routes.append(Route("/rest/applinks/latest/listApplicationlinks",
                            self.application_links, methods=["GET"]))
        return routes

    async def application_links(self, request: Request) -> Response:
        return JSONResponse([])

    # --- boards and sprints (JIRA Software's agile API, `agile.py`) ------------------------

    def _board_json(self, board: agile.Board, base: str) -> Json:
        app = board.app
        return {"id": board.id, "self": f"{base}/rest/agile/1.0/board/{board.id}",
                "name": board.name, "type": "scrum",
                "location": {"projectId": app.jira_project_id, "displayName":
                             f"{app.name} ({app.key})", "projectName": app.name,
                             "projectKey": app.key, "projectTypeKey": "software",
                             "name": f"{app.name} ({app.key})"}}

    def _sprint_json(self, sprint: agile.Sprint, base: str) -> Json:
        body: Json = {"id": sprint.id, "self": f"{base}/rest/agile/1.0/sprint/{sprint.id}",
                      "state": sprint.state, "name": sprint.name,
                      "startDate": _agile_time(sprint.start),
                      "endDate": _agile_time(sprint.end),
                      "createdDate": _agile_time(sprint.start - timedelta(days=3)),
                      "originBoardId": sprint.board.id, "goal": sprint.goal}
        if sprint.state == "closed":
            body["completeDate"] = _agile_time(sprint.end - timedelta(hours=3))
        return body

    @staticmethod
    def _values_page(request: Request, values: list[Json]) -> Response:
        """The agile API's page: `startAt`, `maxResults` (at most 50), `isLast`, `values`."""
        try:
            start = _int(request.query_params.get("startAt"), 0, "startAt")
            size = min(_int(request.query_params.get("maxResults"), 50, "maxResults"), 50)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        page = values[start:start + size]
        return JSONResponse({"maxResults": size, "startAt": start, "total": len(values),
                             "isLast": start + len(page) >= len(values), "values": page})

    async def agile_boards(self, request: Request) -> Response:
        params, base = request.query_params, self.site.base(request)
        name = (params.get("name") or "").lower()
        project = (params.get("projectKeyOrId") or "").lower()
        found = [b for b in self.site.boards.values()
                 if name in b.name.lower()
                 and params.get("type") in (None, "", "scrum")
                 and project in ("", b.app.key.lower(), str(b.app.jira_project_id))]
        return self._values_page(request, [self._board_json(b, base) for b in found])

    def _board(self, request: Request) -> agile.Board:
        board = self.site.boards.get(request.path_params["id"])
        if board is None:
            raise _NotFound("Board does not exist or you do not have permission to see it.")
        return board

    @_not_found_is_404
    async def agile_board(self, request: Request) -> Response:
        return JSONResponse(self._board_json(self._board(request), self.site.base(request)))

    @_not_found_is_404
    async def board_sprints(self, request: Request) -> Response:
        board = self._board(request)
        states = set(_split([request.query_params.get("state") or ""]))
        unknown = states - {"future", "active", "closed"}
        if unknown:
            return errors(f"The sprint state '{sorted(unknown)[0]}' is not valid. Valid "
                          f"states are: future, active, closed.", status=400)
        base = self.site.base(request)
        return self._values_page(request, [
            self._sprint_json(s, base) for s in self.site.project_sprints[board.app.key]
            if not states or s.state in states])

    def _sprint(self, request: Request) -> agile.Sprint:
        sprint = self.site.sprints.get(request.path_params["id"])
        if sprint is None:
            raise _NotFound("Sprint does not exist or you do not have permission to see it.")
        return sprint

    @_not_found_is_404
    async def agile_sprint(self, request: Request) -> Response:
        return JSONResponse(self._sprint_json(self._sprint(request), self.site.base(request)))

    @_not_found_is_404
    async def sprint_issues(self, request: Request) -> Response:
        """The sprint's issues, narrowed by `jql` when given, paged by `startAt`."""
        sprint = self._sprint(request)
        params = request.query_params
        try:
            _, found = self.site.run_jql(params.get("jql") or "", within=f"sprint = {sprint.id}")
            start = _int(params.get("startAt"), 0, "startAt")
            size = min(_int(params.get("maxResults"), 50, "maxResults"), 100)
        except jql.JqlError as exc:
            return errors(*exc.messages, status=400)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        wanted = select_fields(_as_list(params.get("fields")), "*navigable")
        base, page = self.site.base(request), found[start:start + size]
        return JSONResponse({"expand": "schema,names", "startAt": start, "maxResults": size,
                             "total": len(found),
                             "issues": [self.site.render_issue(i, base, "2", wanted, set())
                                        for i in page]})

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

    async def bulk_issues(self, request: Request, v: str) -> Response:
        """Cloud's bulk fetch: up to 100 issues by id or key, in the order asked; one it
        cannot find is left out, as JIRA leaves out what the caller may not see."""
        try:
            body = await self._body(request)
            asked = _id_list(body.get("issueIdsOrKeys"), BULK_ISSUES_MAX, "issue IDs/keys")
            wanted = select_fields(_as_list(body.get("fields")), "*navigable") or set()
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        expand = set(_split(_as_list(body.get("expand"))))
        base = self.site.base(request)
        found = self.site.find_issues(asked)
        return JSONResponse({"issueErrors": [],
                             "issues": [self.site.render_issue(i, base, v, wanted, expand)
                                        for i in found]})

    async def bulk_changelogs(self, request: Request, v: str) -> Response:
        """Cloud's bulk changelog fetch: the change histories of up to 1,000 issues, oldest
        first, only the items of `fieldIds` when given, paged by `nextPageToken` over
        histories."""
        try:
            body = await self._body(request)
            asked = _id_list(body.get("issueIdsOrKeys"), BULK_CHANGELOGS_MAX, "issue IDs/keys")
            fields = _as_list(body.get("fieldIds"))
            if len(fields) > 10:
                raise _BadRequest("You can filter by a maximum of 10 field IDs.")
            limit = _int(body.get("maxResults"), 1000, "maxResults")
            if not 1 <= limit <= 10000:
                raise _BadRequest("maxResults must be between 1 and 10000.")
            digest = hashlib.sha256(json.dumps([asked, fields]).encode()).hexdigest()[:12]
            offset = _read_token(body.get("nextPageToken"), digest)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        base = self.site.base(request)
        found = self.site.find_issues(asked)
        rows: list[tuple[SiteIssue, Json]] = []
        for issue in found:
            for entry in issue.history:
                rendered = self.site.changelog_entry(entry, base, v)
                if fields:
                    rendered["items"] = [item for item in rendered["items"]
                                         if item.get("fieldId", item["field"]) in fields]
                if rendered["items"]:
                    rows.append((issue, rendered))
        page = rows[offset:offset + limit]
        grouped: dict[int, Json] = {}
        for issue, rendered in page:
            grouped.setdefault(issue.id, {"issueId": str(issue.id), "changeHistories": []})[
                "changeHistories"].append(rendered)
        answer: Json = {"issueChangeLogs": list(grouped.values())}
        if offset + len(page) < len(rows):
            answer["nextPageToken"] = _make_token(offset + len(page), digest)
        return JSONResponse(answer)

    async def dynamic_webhooks(self, request: Request, v: str) -> Response:
        """Dynamic webhooks are an app's (Connect or OAuth 2.0); a user's API token, the
        only credential this site takes, is refused as JIRA refuses it. The site's webhook
        is registered as an administrator registers one (`webhook_url`)."""
        return errors("Only Connect and OAuth 2.0 apps can use dynamic webhooks.",
                      status=403)

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

    async def _body(self, request: Request) -> Json:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _BadRequest("Invalid request payload. Refer to the REST API documentation "
                              "and try again.")
        return body

    async def edit_issue(self, request: Request, v: str) -> Response:
        """Edit the fields on the edit screen; every refusal is answered at once."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        try:
            body = await self._body(request)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        write = writes.check_write(self.site, app_key=issue.app_key,
                                   current=self.site.current_lists(issue),
                                   fields=body.get("fields", {}), update=body.get("update", {}),
                                   allowed=writes.EDITABLE, v=v)
        if write.errors:
            return refused(write)
        changes = self.site.apply(issue, write.values)
        for text in write.comments:
            self.site.add_comment(issue, text)
        if changes:
            await self.site.record_change(issue, request, v, changes, "issue_updated")
        return Response(status_code=204)

    def _check_create(self, body: Any, v: str) -> writes.Write:
        """Project, issue type and summary are required; all refusals come together."""
        if not isinstance(body, dict):
            return writes.Write(errors={"": "Invalid request payload. Refer to the REST API "
                                               "documentation and try again."})
        fields = body.get("fields", {})
        write = writes.check_write(self.site, app_key=None, current={}, fields=fields,
                                   update=body.get("update", {}), allowed=writes.CREATABLE,
                                   v=v)
        if isinstance(fields, dict):
            required = {"project": "Specify a valid project ID or key",
                        "issuetype": "Specify an issue type",
                        "summary": "You must specify a summary of the issue."}
            for name, message in required.items():
                if name not in fields:
                    write.errors.setdefault(name, message)
        return write

    async def _create(self, request: Request, v: str, write: writes.Write) -> Json:
        assert write.app_key is not None
        issue = self.site.new_issue(write.app_key, write.values)
        for text in write.comments:
            self.site.add_comment(issue, text)
        await self.site.record_change(issue, request, v, [], "issue_created",
                                      webhook_event="jira:issue_created")
        base = self.site.base(request)
        return {"id": str(issue.id), "key": issue.key,
                "self": f"{base}/rest/api/{v}/issue/{issue.id}"}

    async def create_issue(self, request: Request, v: str) -> Response:
        """Create an issue in To Do."""
        try:
            body = await self._body(request)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        write = self._check_create(body, v)
        if write.errors or write.app_key is None:
            return refused(write)
        return JSONResponse(await self._create(request, v, write), status_code=201)

    async def create_issues(self, request: Request, v: str) -> Response:
        """Bulk create: each element is created or refused on its own; 400 if none was."""
        try:
            updates = (await self._body(request)).get("issueUpdates")
            if not isinstance(updates, list):
                raise _BadRequest("Invalid request payload. Refer to the REST API "
                                  "documentation and try again.")
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        created: list[Json] = []
        failed: list[Json] = []
        for number, element in enumerate(updates):
            write = self._check_create(element, v)
            if write.errors or write.app_key is None:
                failed.append({"status": 400, "failedElementNumber": number,
                               "elementErrors": error_collection(write)})
            else:
                created.append(await self._create(request, v, write))
        return JSONResponse({"issues": created, "errors": failed},
                            status_code=201 if created or not failed else 400)

    async def assign(self, request: Request, v: str) -> Response:
        """Cloud names the assignee by accountId, Data Center by name; null unassigns."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        try:
            body = await self._body(request)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        write = writes.check_write(self.site, app_key=issue.app_key, current={},
                                   fields={"assignee": body}, update={},
                                   allowed={"assignee"}, v=v)
        if body.get("accountId" if self.site.mode == "cloud" else "name") is None:
            write = writes.Write(values={"assignee": None})
        if write.errors:
            return refused(write)
        changes = self.site.apply(issue, write.values)
        if changes:
            await self.site.record_change(issue, request, v, changes, "issue_assigned")
        return Response(status_code=204)

    async def editmeta(self, request: Request, v: str) -> Response:
        """The edit screen: the fields an edit may set, their operations and allowed values."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        base = self.site.base(request)
        allowed: dict[str, list[Json]] = {
            "priority": [self._priority(name, base, v) for name in PRIORITY_IDS],
            "issuetype": [self._issue_type(name, base, v) for name in ISSUE_TYPES],
            "fixVersions": [self.site.version(r, base, v, full=False)
                            for r in self._releases(issue.app_key)],
            "components": [self.site.component(c, base, v, full=False)
                           for c in self._components(issue.app_key)]}
        allowed["versions"] = allowed["fixVersions"]
        meta: Json = {}
        for field_def in site_fields(self.site.mode):
            if field_def.id not in writes.EDITABLE and field_def.id != "comment":
                continue
            schema = render_field(field_def, self.site.mode)["schema"]
            if field_def.id == "comment":
                operations = ["add", "edit", "remove"]
            elif field_def.id in writes.LIST_FIELDS:
                operations = ["add", "set", "remove"]
            else:
                operations = ["set"]
            entry: Json = {"required": field_def.id in ("summary", "issuetype"),
                           "schema": schema, "name": field_def.name, "key": field_def.id,
                           "operations": operations}
            if field_def.id in allowed:
                entry["allowedValues"] = allowed[field_def.id]
            meta[field_def.id] = entry
        return JSONResponse({"fields": meta})

    async def comments(self, request: Request, v: str) -> Response:
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        query = request.query_params
        try:
            start = _int(query.get("startAt"), 0, "startAt")
            limit = min(_int(query.get("maxResults"), 5000, "maxResults"), 5000)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        order = query.get("orderBy") or "created"
        if order.lstrip("+-") != "created":
            return errors(f"Invalid orderBy value: '{order}'.", status=400)
        ordered = sorted(issue.comments, key=lambda c: (c.created, c.id),
                         reverse=order.startswith("-"))
        base = self.site.base(request)
        page = ordered[start:start + limit]
        return JSONResponse({"startAt": start, "maxResults": limit, "total": len(ordered),
                             "comments": [self.site.comment(issue, c, base, v) for c in page]})

    async def get_comment(self, request: Request, v: str) -> Response:
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        raw = request.path_params["id"]
        comment = next((c for c in issue.comments if str(c.id) == raw), None)
        if comment is None:
            return errors(f"Can not find a comment for the id: {raw}.", status=404)
        return JSONResponse(self.site.comment(issue, comment, self.site.base(request), v))

    async def add_comment(self, request: Request, v: str) -> Response:
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        try:
            body = await self._body(request)
            text = writes.rich_text(body.get("body"), v)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        except writes.Refused as exc:
            return errors(status=400, field_errors={"comment": str(exc)})
        if not text.strip():
            return errors(status=400, field_errors={"comment": "Comment body can not be empty!"})
        comment = self.site.add_comment(issue, text)
        return JSONResponse(self.site.comment(issue, comment, self.site.base(request), v),
                            status_code=201)

    # --- links between issues ----------------------------------------------------------

    async def link_types(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        return JSONResponse({"issueLinkTypes": [issue_links.type_json(t, base, v)
                                                for t in issue_links.LINK_TYPES]})

    async def link_type(self, request: Request, v: str) -> Response:
        raw = request.path_params["id"]
        found = next((t for t in issue_links.LINK_TYPES if t.id == raw), None)
        if found is None:
            return errors(f"No issue link type with id '{raw}' exists.", status=404)
        return JSONResponse(issue_links.type_json(found, self.site.base(request), v))

    async def create_issue_link(self, request: Request, v: str) -> Response:
        """Link two issues (201, no body); the same link made again is kept once."""
        try:
            body = await self._body(request)
            kind = issue_links.link_type(body.get("type"))
            inward_ref = issue_links.issue_ref(body, "inwardIssue")
            outward_ref = issue_links.issue_ref(body, "outwardIssue")
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        except issue_links.Refused as exc:
            return errors(str(exc), status=exc.status)
        inward = self.site.find_issue(inward_ref)
        outward = self.site.find_issue(outward_ref)
        if inward is None or outward is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        if not any(link.type == kind and (link.inward_id, link.outward_id) == (
                inward.id, outward.id) for link in self.site.issue_links):
            self.site.issue_links.append(issue_links.IssueLink(
                self.site.next_issue_link_id, kind, inward.id, outward.id))
            self.site.next_issue_link_id += 1
            now = self.site.world.clock.now()
            inward.updated = outward.updated = now
        return Response(status_code=201)

    async def issue_link(self, request: Request, v: str) -> Response:
        raw = request.path_params["id"]
        link = next((x for x in self.site.issue_links if str(x.id) == raw), None)
        if link is None:
            return errors(f"No issue link with id '{raw}' exists.", status=404)
        if request.method == "DELETE":
            self.site.issue_links.remove(link)
            return Response(status_code=204)
        return JSONResponse(self.site.issue_link(link, self.site.base(request), v))

    # --- watchers and votes ------------------------------------------------------------

    async def watchers(self, request: Request, v: str) -> Response:
        """Who watches an issue (its reporter, and whoever was added); POST adds a user
        (the body a JSON string naming them, or empty for the caller), DELETE removes the
        one named by `accountId` (Cloud) or `username` (Data Center)."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        base = self.site.base(request)
        if request.method == "GET":
            return JSONResponse({
                "self": f"{base}/rest/api/{v}/issue/{issue.key}/watchers",
                "isWatching": self.site.me in issue.watchers,
                "watchCount": len(issue.watchers),
                "watchers": [self.site.user(p, base, v) for p in issue.watchers]})
        if request.method == "POST":
            raw = (await request.body()).strip()
            try:
                named = json.loads(raw) if raw else None
                if named is not None and not isinstance(named, str):
                    raise ValueError(named)
            except ValueError:
                return errors("The watcher must be a JSON string naming a user.", status=400)
        else:
            param = "accountId" if self.site.mode == "cloud" else "username"
            named = request.query_params.get(param)
            if not named:
                return errors(f"{param} is required.", status=400)
        who = self.site.me if named is None else self.site.person(named)
        if who is None:
            return errors(f"The user {named!r} does not exist.", status=404)
        if request.method == "POST":
            if who not in issue.watchers:
                issue.watchers.append(who)
        elif who in issue.watchers:
            issue.watchers.remove(who)
        return Response(status_code=204)

    async def votes(self, request: Request, v: str) -> Response:
        """An issue's votes; POST is the caller's vote, DELETE takes it back."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        me = self.site.me
        if request.method == "POST" and me not in issue.voters:
            issue.voters.append(me)
        elif request.method == "DELETE" and me in issue.voters:
            issue.voters.remove(me)
        if request.method != "GET":
            return Response(status_code=204)
        base = self.site.base(request)
        return JSONResponse({"self": f"{base}/rest/api/{v}/issue/{issue.key}/votes",
                             "votes": len(issue.voters), "hasVoted": me in issue.voters,
                             "voters": [self.site.user(p, base, v) for p in issue.voters]})

    # --- work logged -----------------------------------------------------------------

    async def worklogs(self, request: Request, v: str) -> Response:
        """An issue's worklogs, oldest first, paged by `startAt` and `maxResults`."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        try:
            start = _int(request.query_params.get("startAt"), 0, "startAt")
            limit = min(_int(request.query_params.get("maxResults"), 5000, "maxResults"), 5000)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        return JSONResponse(self.site.worklog_page(issue, self.site.base(request), v, start,
                                                   limit))

    async def add_worklog(self, request: Request, v: str) -> Response:
        """Log work by the caller: `timeSpent` (`3h 30m`) or `timeSpentSeconds`."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        now = self.site.world.clock.now()
        try:
            body = await self._body(request)
            seconds = worklogs.seconds_of(body.get("timeSpent"), body.get("timeSpentSeconds"))
            started = worklogs.started_at(body.get("started"), now)
            comment = writes.rich_text(body.get("comment"), v)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        except worklogs.Refused as exc:
            return errors(status=400, field_errors={exc.field: str(exc)})
        except writes.Refused as exc:
            return errors(status=400, field_errors={"comment": str(exc)})
        log = worklogs.Worklog(id=self.site.next_worklog_id, issue_id=issue.id,
                               author=self.site.me, comment=comment, started=started,
                               seconds=seconds, created=now, updated=now)
        self.site.next_worklog_id += 1
        self.site.worklogs.append(log)
        issue.updated = now
        return JSONResponse(self.site.worklog(issue, log, self.site.base(request), v),
                            status_code=201)

    async def get_worklog(self, request: Request, v: str) -> Response:
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        raw = request.path_params["id"]
        log = next((w for w in self.site.worklogs
                    if w.issue_id == issue.id and str(w.id) == raw), None)
        if log is None:
            return errors(f"Cannot find worklog with id: {raw}", status=404)
        return JSONResponse(self.site.worklog(issue, log, self.site.base(request), v))

    # --- remote issue links ---------------------------------------------------------

    def _remote_link_url(self, request: Request, v: str, issue: SiteIssue, ident: int) -> str:
        return f"{self.site.base(request)}/rest/api/{v}/issue/{issue.key}/remotelink/{ident}"

    def _remote_links_of(self, issue: SiteIssue) -> list[remote_links.RemoteLink]:
        return [link for link in self.site.remote_links if link.issue_id == issue.id]

    async def remote_links(self, request: Request, v: str) -> Response:
        """An issue's remote links, or the one with `globalId`."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        found = self._remote_links_of(issue)
        wanted = request.query_params.get("globalId")
        if wanted is None:
            return JSONResponse([remote_links.rendered(
                link, self._remote_link_url(request, v, issue, link.id)) for link in found])
        link = next((link for link in found if link.global_id == wanted), None)
        if link is None:
            return errors(f"No remote link with the global id {wanted!r} on this issue.",
                          status=404)
        return JSONResponse(remote_links.rendered(
            link, self._remote_link_url(request, v, issue, link.id)))

    async def put_remote_link(self, request: Request, v: str) -> Response:
        """Create a link, or update the issue's link with the same `globalId` (200)."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        try:
            body = await self._body(request)
            link = remote_links.read(body, ident=self.site.next_remote_link_id,
                                     issue_id=issue.id)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        except remote_links.Refused as exc:
            return errors(status=400, field_errors=exc.errors)
        # Looked up once the body is in: two POSTs of one global id make one link.
        same = next((old for old in self._remote_links_of(issue)
                     if link.global_id is not None and old.global_id == link.global_id), None)
        if same is not None:
            link = dataclasses.replace(link, id=same.id)
            self.site.remote_links[self.site.remote_links.index(same)] = link
            status = 200
        else:
            self.site.next_remote_link_id += 1
            self.site.remote_links.append(link)
            status = 201
        return JSONResponse({"id": link.id,
                             "self": self._remote_link_url(request, v, issue, link.id)},
                            status_code=status)

    async def remote_link(self, request: Request, v: str) -> Response:
        """One link by id: read, replaced whole (PUT, 204) or deleted (204)."""
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        try:  # the body first: a link deleted while it arrives is not found for it
            body = await self._body(request) if request.method == "PUT" else {}
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        raw = request.path_params["id"]
        link = next((x for x in self._remote_links_of(issue) if str(x.id) == raw), None)
        if link is None:
            return errors(f"No remote link with the id {raw} on this issue.", status=404)
        if request.method == "GET":
            return JSONResponse(remote_links.rendered(
                link, self._remote_link_url(request, v, issue, link.id)))
        index = self.site.remote_links.index(link)
        if request.method == "DELETE":
            del self.site.remote_links[index]
            return Response(status_code=204)
        try:
            self.site.remote_links[index] = remote_links.read(body, ident=link.id,
                                                              issue_id=issue.id)
        except remote_links.Refused as exc:
            return errors(status=400, field_errors=exc.errors)
        return Response(status_code=204)

    async def delete_remote_link_by_global_id(self, request: Request, v: str) -> Response:
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        wanted = request.query_params.get("globalId")
        if not wanted:
            return errors("The globalId of the link to delete is required.", status=400)
        link = next((x for x in self._remote_links_of(issue) if x.global_id == wanted), None)
        if link is None:
            return errors(f"No remote link with the global id {wanted!r} on this issue.",
                          status=404)
        self.site.remote_links.remove(link)
        return Response(status_code=204)

    async def transitions(self, request: Request, v: str) -> Response:
        issue = self.site.find_issue(request.path_params["key"])
        if issue is None:
            return errors(ISSUE_NOT_FOUND, status=404)
        base = self.site.base(request)
        only = request.query_params.get("transitionId")
        with_fields = "transitions.fields" in _split(request.query_params.getlist("expand"))
        found: list[Json] = []
        for name, category in WORKFLOW:
            if name == issue.status or only not in (None, TRANSITION_IDS[name]):
                continue
            found.append({"id": TRANSITION_IDS[name], "name": name,
                          "to": self.site.status(name, category, base, v), "hasScreen": False,
                          "isGlobal": True, "isInitial": False, "isAvailable": True,
                          "isConditional": False, "isLooped": False})
            if with_fields:
                found[-1]["fields"] = {}
        return JSONResponse({"expand": "transitions", "transitions": found})

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
        # The sandbox's transitions have no screen: fields are refused, comments are not.
        write = writes.check_write(self.site, app_key=issue.app_key, current={},
                                   fields=body.get("fields") or {},
                                   update=body.get("update") or {}, allowed=set(), v=v)
        if write.errors:
            return refused(write)
        for text in write.comments:
            self.site.add_comment(issue, text)
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
            "issueTypes": [self._issue_type(name, base, v) for name in ISSUE_TYPES],
            "versions": [self.site.version(r, base, v) for r in self._releases(app_key)],
            "components": [self.site.component(c, base, v)
                           for c in self._components(app_key)],
            "assigneeType": "UNASSIGNED", "roles": {}})
        return JSONResponse(body)

    def _releases(self, app_key: str) -> list[SiteVersion]:
        return [r for r in self.site.versions.values() if r.app_key == app_key]

    def _components(self, app_key: str) -> list[SiteComponent]:
        return [c for c in self.site.components.values() if c.app_key == app_key]

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
                        or ("archived" in statuses and r.archived)
                        or ("unreleased" in statuses and not r.released and not r.archived)]
        text = (query.get("query") or "").lower()
        releases = [r for r in releases if text in r.name.lower()
                    or text in r.description.lower()]
        order = query.get("orderBy") or ""
        field_name = order.lstrip("+-")
        if field_name in ("name", "releaseDate", "sequence", "startDate", "description"):
            sort_keys: dict[str, Callable[[SiteVersion], Any]] = {
                "name": lambda r: r.name, "description": lambda r: r.description,
                "releaseDate": lambda r: r.release_date or date.max,
                "startDate": lambda r: r.start_date or r.release_date or date.max,
                "sequence": lambda r: r.id}
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
        version = self._version(request)
        if version is None:
            return _no_version(request)
        return JSONResponse(self.site.version(version, self.site.base(request), v))

    async def create_version(self, request: Request, v: str) -> Response:
        """A new version; JIRA wants a project and a name unique within it."""
        try:
            body = await self._body(request)
            release_date = _date(body.get("releaseDate"), "releaseDate")
            start_date = _date(body.get("startDate"), "startDate")
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        ref = body.get("projectId", body.get("project"))
        app_key = self._app_for(str(ref)) if ref is not None else None
        if ref is not None and app_key is None:
            return errors(f"No project could be found with key '{ref}'.", status=404)
        name = body.get("name")
        problems: dict[str, str] = {}
        if app_key is None:
            problems["project"] = "Project must be specified to create a version."
        if not isinstance(name, str) or not name.strip():
            problems["name"] = "You must specify a valid version name"
        elif app_key is not None and any(
                r.name.lower() == name.strip().lower() for r in self._releases(app_key)):
            problems["name"] = "A version with this name already exists in this project."
        elif len(name) > 255:
            problems["name"] = "The version name must not be longer than 255 characters."
        if problems or app_key is None or not isinstance(name, str):
            return errors(status=400, field_errors=problems)
        version = SiteVersion(
            id=max(self.site.versions, default=10000) + 1, app_key=app_key, name=name.strip(),
            description=str(body.get("description") or ""),
            released=bool(body.get("released", False)),
            archived=bool(body.get("archived", False)), release_date=release_date,
            start_date=start_date)
        self.site.versions[version.id] = version
        self.site.catalogue_changed()
        await self.site.version_changed(request, version, _version_event(version, None))
        return JSONResponse(self.site.version(version, self.site.base(request), v),
                            status_code=201)

    async def update_version(self, request: Request, v: str) -> Response:
        """Rename, describe, date, release or archive a version."""
        version = self._version(request)
        if version is None:
            return _no_version(request)
        try:
            # JIRA reads the body into a bean, where a field sent as null is as absent:
            # left as it is (atlassian-python-api's `update_version` sends every field,
            # those not given as null).
            body = {k: value for k, value in (await self._body(request)).items()
                    if value is not None}
            release_date = _date(body.get("releaseDate"), "releaseDate")
            start_date = _date(body.get("startDate"), "startDate")
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        if self._version(request) is not version:  # deleted while its body was read
            return _no_version(request)
        name = body.get("name", version.name)
        if not isinstance(name, str) or not name.strip():
            return errors(status=400,
                          field_errors={"name": "You must specify a valid version name"})
        if any(r.name.lower() == name.strip().lower() and r is not version
               for r in self._releases(version.app_key)):
            return errors(status=400, field_errors={
                "name": "A version with this name already exists in this project."})
        was_released = version.released
        version.name = name.strip()
        version.description = str(body.get("description", version.description) or "")
        version.released = bool(body.get("released", version.released))
        version.archived = bool(body.get("archived", version.archived))
        if "releaseDate" in body:
            version.release_date = release_date
        if "startDate" in body:
            version.start_date = start_date
        self.site.catalogue_changed()
        await self.site.version_changed(request, version, _version_event(version, was_released))
        return JSONResponse(self.site.version(version, self.site.base(request), v))

    def _version(self, request: Request) -> SiteVersion | None:
        raw = request.path_params["id"]
        return self.site.versions.get(int(raw)) if raw.isdigit() else None

    async def version_issue_counts(self, request: Request, v: str) -> Response:
        """How many issues name the version as fixed in, and as affected by."""
        version = self._version(request)
        if version is None:
            return _no_version(request)
        issues = self.site.issues.values()
        return JSONResponse({
            "self": f"{self.site.base(request)}/rest/api/{v}/version/{version.id}",
            "issuesFixedCount": sum(version.id in i.fix_versions for i in issues),
            "issuesAffectedCount": sum(version.id in i.affects_versions for i in issues),
            "issueCountWithCustomFieldsShowingVersion": 0})

    async def version_unresolved_count(self, request: Request, v: str) -> Response:
        """Of the issues fixed in the version, how many are not done yet."""
        version = self._version(request)
        if version is None:
            return _no_version(request)
        fixed = [i for i in self.site.issues.values() if version.id in i.fix_versions]
        return JSONResponse({
            "self": f"{self.site.base(request)}/rest/api/{v}/version/{version.id}",
            "issuesUnresolvedCount": sum(i.status_category != "done" for i in fixed),
            "issuesCount": len(fixed)})

    async def move_version(self, request: Request, v: str) -> Response:
        """Reorder a version among its project's: `position` First, Last, Earlier or Later,
        or `after` another version's URL."""
        version = self._version(request)
        if version is None:
            return _no_version(request)
        try:
            body = await self._body(request)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        if self._version(request) is not version:  # deleted while its body was read
            return _no_version(request)
        order = self._releases(version.app_key)
        here = order.index(version)
        order.remove(version)
        position, after = body.get("position"), body.get("after")
        if isinstance(after, str) and after:
            ident = after.rstrip("/").rsplit("/", 1)[-1]
            target = next((r for r in order if str(r.id) == ident), None)
            if target is None:
                return errors(status=400, field_errors={
                    "after": f"Could not find version for id '{ident}'"})
            order.insert(order.index(target) + 1, version)
        elif position in ("First", "Last", "Earlier", "Later"):
            spot = {"First": 0, "Last": len(order), "Earlier": max(here - 1, 0),
                    "Later": min(here + 1, len(order))}[position]
            order.insert(spot, version)
        else:
            return errors(status=400, field_errors={
                "position": "Specify a position (First, Last, Earlier or Later) or after."})
        others = [r for r in self.site.versions.values() if r.app_key != version.app_key]
        self.site.versions = {r.id: r for r in [*others, *order]}
        self.site.catalogue_changed()
        await self.site.version_changed(request, version, "jira:version_moved")
        return JSONResponse(self.site.version(version, self.site.base(request), v))

    async def delete_version(self, request: Request, v: str) -> Response:
        """Delete a version; its issues move to `moveFixIssuesTo` / `moveAffectedIssuesTo`
        when given (another version of the project), else lose it."""
        version = self._version(request)
        if version is None:
            return _no_version(request)
        moves: dict[str, int | None] = {}
        for name in ("moveFixIssuesTo", "moveAffectedIssuesTo"):
            raw = request.query_params.get(name)
            target = self.site.versions.get(int(raw)) if raw and raw.isdigit() else None
            if raw and (target is None or target is version
                        or target.app_key != version.app_key):
                return errors(f"The version to move issues to ('{raw}') is not another "
                              f"version of this project.", status=400)
            moves[name] = target.id if target else None
        for issue in self.site.issues.values():
            issue.fix_versions = _swap(issue.fix_versions, version.id, moves["moveFixIssuesTo"])
            issue.affects_versions = _swap(issue.affects_versions, version.id,
                                           moves["moveAffectedIssuesTo"])
        del self.site.versions[version.id]
        self.site.catalogue_changed()
        await self.site.version_changed(request, version, "jira:version_deleted")
        return Response(status_code=204)

    # --- components --------------------------------------------------------------------

    async def project_components(self, request: Request, v: str) -> Response:
        key = request.path_params["key"]
        app_key = self._app_for(key)
        if app_key is None:
            return errors(f"No project could be found with key '{key}'.", status=404)
        base = self.site.base(request)
        return JSONResponse([self.site.component(c, base, v) for c in self._components(app_key)])

    async def get_component(self, request: Request, v: str) -> Response:
        raw = request.path_params["id"]
        component = self.site.components.get(int(raw)) if raw.isdigit() else None
        if component is None:
            return errors(f"The component with id {raw} does not exist.", status=404)
        return JSONResponse(self.site.component(component, self.site.base(request), v))

    async def create_component(self, request: Request, v: str) -> Response:
        try:
            body = await self._body(request)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        ref = body.get("projectId", body.get("project"))
        app_key = self._app_for(str(ref)) if ref is not None else None
        name = body.get("name")
        problems: dict[str, str] = {}
        if app_key is None:
            problems["project"] = "The project key is not valid."
        if not isinstance(name, str) or not name.strip():
            problems["name"] = "The component name must not be empty."
        elif app_key is not None and any(c.name.lower() == name.strip().lower()
                                         for c in self._components(app_key)):
            problems["name"] = f"A component with the name {name.strip()} already exists in " \
                               f"this project."
        lead_ref = body.get("leadAccountId" if self.site.mode == "cloud" else "leadUserName")
        lead = self.site.person(str(lead_ref)) if lead_ref else None
        if lead_ref and lead is None:
            problems["leadUserName"] = f"The user {lead_ref} does not exist."
        if problems or app_key is None or not isinstance(name, str):
            return errors(status=400, field_errors=problems)
        component = SiteComponent(id=max(self.site.components, default=10000) + 1,
                                  app_key=app_key, name=name.strip(),
                                  description=str(body.get("description") or ""), lead=lead)
        self.site.components[component.id] = component
        self.site.catalogue_changed()
        return JSONResponse(self.site.component(component, self.site.base(request), v),
                            status_code=201)

    # --- metadata ------------------------------------------------------------------------

    async def fields(self, request: Request, v: str) -> Response:
        return JSONResponse([render_field(f, self.site.mode)
                             for f in site_fields(self.site.mode)])

    async def statuses(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        return JSONResponse([self.site.status(name, category, base, v)
                             for name, category in WORKFLOW])

    async def get_status(self, request: Request, v: str) -> Response:
        raw = request.path_params["id"]
        for name, category in WORKFLOW:
            if raw in (STATUS_IDS[name], name) or raw.lower() == name.lower():
                return JSONResponse(self.site.status(name, category, self.site.base(request), v))
        return errors(f"The status with id '{raw}' does not exist", status=404)

    def _priority(self, name: str, base: str, v: str) -> Json:
        pid = PRIORITY_IDS[name]
        return {"self": f"{base}/rest/api/{v}/priority/{pid}",
                "statusColor": PRIORITY_COLOURS[name], "description": f"{name} priority.",
                "iconUrl": f"{base}/images/icons/priorities/{name.lower()}.svg",
                "name": name, "id": pid}

    async def priorities(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        return JSONResponse([self._priority(name, base, v) for name in PRIORITY_IDS])

    async def get_priority(self, request: Request, v: str) -> Response:
        raw = request.path_params["id"]
        name = next((n for n, pid in PRIORITY_IDS.items() if pid == raw), None)
        if name is None:
            return errors(f"Cannot find priority with id '{raw}'.", status=404)
        return JSONResponse(self._priority(name, self.site.base(request), v))

    def _issue_type(self, name: str, base: str, v: str) -> Json:
        tid, text = ISSUE_TYPES[name]
        body: Json = {"self": f"{base}/rest/api/{v}/issuetype/{tid}", "id": tid,
                      "description": text,
                      "iconUrl": f"{base}/images/icons/issuetypes/{name.lower()}.svg",
                      "name": name, "subtask": False, "avatarId": 10300}
        if self.site.mode == "cloud":
            body.update({"untranslatedName": name, "hierarchyLevel": 0})
        return body

    async def issue_types(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        return JSONResponse([self._issue_type(name, base, v) for name in ISSUE_TYPES])

    async def get_issue_type(self, request: Request, v: str) -> Response:
        raw = request.path_params["id"]
        name = next((n for n, (tid, _) in ISSUE_TYPES.items() if tid == raw), None)
        if name is None:
            return errors(f"The issue type with id '{raw}' does not exist.", status=404)
        return JSONResponse(self._issue_type(name, self.site.base(request), v))

    async def resolutions(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        return JSONResponse([{"self": f"{base}/rest/api/{v}/resolution/10000", "id": "10000",
                              "description": "Work has been done on this issue.",
                              "name": "Done"}])

    # --- users ---------------------------------------------------------------------------

    async def search_users(self, request: Request, v: str) -> Response:
        """Cloud matches `query`, Data Center `username`, against names and e-mail."""
        query = request.query_params
        wanted = query.get("query" if self.site.mode == "cloud" else "username")
        if not wanted:
            if self.site.mode == "cloud":
                return errors("The query parameter 'query' is required.", status=400)
            return errors("The username query parameter was not provided", status=400)
        try:
            start = _int(query.get("startAt"), 0, "startAt")
            limit = min(_int(query.get("maxResults"), 50, "maxResults"), 1000)
        except _BadRequest as exc:
            return errors(str(exc), status=400)
        text = wanted.lower()
        found = [p for p in self.site.people()
                 if any(part.lower().startswith(text) for part in
                        (p.email, p.username, p.display_name, *p.display_name.split()))]
        base = self.site.base(request)
        return JSONResponse([self.site.user(p, base, v) for p in found[start:start + limit]])

    async def get_user(self, request: Request, v: str) -> Response:
        param = "accountId" if self.site.mode == "cloud" else "username"
        ref = request.query_params.get(param)
        if not ref and self.site.mode == "datacenter":
            ref = request.query_params.get("key")
        if not ref:
            return errors(f"The '{param}' query parameter needs to be provided.", status=400)
        person = self.site.person(ref)
        if person is None:
            return errors(f"The user named '{ref}' does not exist", status=404)
        return JSONResponse(self.site.user(person, self.site.base(request), v))

    async def session(self, request: Request) -> Response:
        """Data Center's session resource, which clients read to check a login."""
        me = self.site.me
        base = self.site.base(request)
        now = jira_time(self.site.world.clock.now())
        return JSONResponse({"self": f"{base}/rest/api/latest/user?username={quote(me.username)}",
                             "name": me.username,
                             "loginInfo": {"failedLoginCount": 0, "loginCount": 1,
                                           "previousLoginTime": now}})

    # --- site ----------------------------------------------------------------------------

    async def server_info(self, request: Request, v: str) -> Response:
        base = self.site.base(request)
        now = jira_time(self.site.world.clock.now())
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
        body = self.site.user(self.site.me, self.site.base(request), v)
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


def _no_version(request: Request) -> Response:
    return errors(f"Could not find version for id '{request.path_params['id']}'", status=404)


def _swap(ids: list[int], gone: int, instead: int | None) -> list[int]:
    """`ids` without `gone`, and with `instead` (once) if `gone` was there."""
    if gone not in ids:
        return ids
    kept = [i for i in ids if i != gone]
    return kept if instead is None or instead in kept else [*kept, instead]


#: How many issues one bulk fetch may name (JIRA Cloud's limits, from its description).
BULK_ISSUES_MAX = 100
BULK_CHANGELOGS_MAX = 1000


def _id_list(value: Any, most: int, what: str) -> list[str]:
    """A bulk request's ids or keys: at least one, at most `most`."""
    if not isinstance(value, list) or not value:
        raise _BadRequest(f"No {what} were provided.")
    if len(value) > most:
        raise _BadRequest(f"You can request a maximum of {most} {what}.")
    return [str(item) for item in value]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def _date(value: Any, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _BadRequest(f"Invalid date format. Please enter the date in the format "
                          f"\"yyyy-MM-dd\" ({name}).") from None


def _agile_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


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
                  demo_links=demo_links,
                  flavors={"cloud": create_app,
                           "datacenter": functools.partial(create_app, mode="datacenter")})
