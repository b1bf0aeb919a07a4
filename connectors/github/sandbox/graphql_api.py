"""GitHub's GraphQL endpoint (v4) over the demo world, for the subset the hub reads.

Queries are validated against `schema.graphql`, a true subset of
GitHub's published schema, so a query the sandbox accepts names only real
fields. Answers keep GitHub's habits: HTTP 200 even with errors, `type` on
each error (`NOT_FOUND`, `MISSING_PAGINATION_BOUNDARIES`...), `null` entries in
`nodes(ids:)` for ids it cannot resolve, opaque cursors and node ids that match
the REST `node_id`s.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute_sync,
    parse,
    validate,
)

from connectors.github.limits import MAX_NODES, QueryCost, query_cost
from connectors.github.sandbox import git, render, search
from connectors.sandbox.world import (
    Application,
    Commit,
    Deployment,
    DeploymentStatus,
    GitHubIssue,
    PullRequest,
    Release,
)

if TYPE_CHECKING:
    from connectors.github.sandbox.app import RateBudget

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
MAX_PAGE = 100
#: Parsed and validated documents kept, by their text: clients send the same few documents
#: over and over, and a dashboard's document of 200 aliases takes half a second to check.
KEPT_DOCUMENTS = 16
#: ... as long as their texts add up to no more than this (a parsed document is ~100x its text).
KEPT_DOCUMENT_CHARS = 200_000
# A deployment's `state` follows its newest status; GitHub calls a successful one ACTIVE.
DEPLOYMENT_STATE = {"success": "ACTIVE"}
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
Info = GraphQLResolveInfo[Any]
Json = dict[str, Any]


def load_schema() -> GraphQLSchema:
    return build_schema(SCHEMA_PATH.read_text())


def _cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:v2:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return -1
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
        return int(raw.removeprefix("cursor:v2:"))
    except ValueError:
        raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.",
                           extensions={"type": "INVALID_CURSOR_ARGUMENTS"}) from None


def _error_json(error: GraphQLError) -> Json:
    """graphql-core's error in GitHub's layout: `type` beside `path` and `message`."""
    formatted: Json = dict(error.formatted)
    extensions = formatted.pop("extensions", None) or {}
    out: Json = {}
    if "type" in extensions:
        out["type"] = extensions.pop("type")
    if "path" in formatted:
        out["path"] = formatted["path"]
    if extensions:
        out["extensions"] = extensions
    out["locations"] = formatted.get("locations") or []
    out["message"] = formatted["message"]
    return out


_UNKNOWN_FIELD = re.compile(r"^Cannot query field '([^']+)' on type '([^']+)'\.")
_UNKNOWN_ARGUMENT = re.compile(r"^Unknown argument '([^']+)' on field '([^'.]+)\.([^']+)'\.")


def _validation_error_json(error: GraphQLError, document: DocumentNode) -> Json:
    """The two mistakes scripts make most, worded as GitHub words them; others as is.

    GitHub answers an unknown field with `Field 'x' doesn't exist on type 'T'`
    and an unknown argument with `Field 'f' doesn't accept argument 'a'`, each
    with a `code` in `extensions` and a `path` through the document.
    """
    out = _error_json(error)
    node = error.nodes[0] if error.nodes else None
    field = _UNKNOWN_FIELD.match(error.message)
    argument = _UNKNOWN_ARGUMENT.match(error.message)
    if field is not None:
        name, type_name = field.groups()
        out["message"] = f"Field '{name}' doesn't exist on type '{type_name}'"
        out["extensions"] = {"code": "undefinedField", "typeName": type_name, "fieldName": name}
    elif argument is not None:
        name, _, field_name = argument.groups()
        out["message"] = f"Field '{field_name}' doesn't accept argument '{name}'"
        out["extensions"] = {"code": "argumentNotAccepted", "name": field_name,
                             "typeName": "Field", "argumentName": name}
    else:
        return out
    path = _document_path(document, node) if node is not None else None
    return {"path": path, **out} if path else out


def _document_path(document: DocumentNode, target: Node) -> list[str] | None:
    """Where `target` sits in the document, as GitHub spells it (`query Name`, fields...)."""

    def walk(selections: SelectionSetNode | None, trail: list[str]) -> list[str] | None:
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                here = [*trail, selection.name.value]
                if selection is target:
                    return here
                for argument in selection.arguments or ():
                    if argument is target:
                        return [*here, argument.name.value]
                found = walk(selection.selection_set, here)
            elif isinstance(selection, InlineFragmentNode):
                on = selection.type_condition
                found = walk(selection.selection_set,
                             [*trail, f"... on {on.name.value}" if on else "..."])
            else:
                found = None
            if found is not None:
                return found
        return None

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            head = definition.operation.value
            label = f"{head} {definition.name.value}" if definition.name else head
        elif isinstance(definition, FragmentDefinitionNode):
            label = f"fragment {definition.name.value}"
        else:
            continue
        found = walk(definition.selection_set, [label])
        if found is not None:
            return found
    return None


class _Checked:
    """One query text, parsed and validated: its document, or the errors to answer with."""

    __slots__ = ("_costs", "document", "errors")

    def __init__(self, document: DocumentNode | None, errors: list[Json]) -> None:
        self.document = document
        self.errors = errors
        self._costs: dict[str, QueryCost] = {}

    def cost(self, variables: Json) -> QueryCost:
        """What GitHub would count for these variables (page sizes may be variables)."""
        if self.document is None:
            return QueryCost(0, 0)
        key = json.dumps(variables, sort_keys=True, default=str)
        found = self._costs.get(key)
        if found is None:
            if len(self._costs) >= 8:
                self._costs.clear()
            found = self._costs[key] = query_cost(self.document, variables)
        return found


class _PerQuery:
    """What one query reads many times, grouped the first time it is asked for.

    A document of 200 milestone aliases would otherwise scan every issue and pull
    request of the world twice per milestone. Built per query, so a write between two
    queries is always seen (a query runs start to end without yielding).
    """

    def __init__(self, data: render.GitHubData) -> None:
        self.data = data
        self._issues: dict[str | None, list[GitHubIssue]] | None = None
        self._pulls: dict[str | None, list[PullRequest]] | None = None
        self._refs: dict[str, list[tuple[str, str, Commit]]] = {}
        self._commits: dict[str, dict[str, Commit]] = {}
        self._milestones: dict[tuple[str, int], Release] | None = None
        self._releases: dict[str, Release] | None = None

    def release(self, key: str | None) -> Release | None:
        """`GitHubData.milestone_by_key`, from one dict."""
        if self._releases is None:
            self._releases = {}
            for release in self.data.all_milestones():
                self._releases.setdefault(release.key, release)
        return None if key is None else self._releases.get(key)

    def milestone(self, app: Application, number: int) -> Release | None:
        if self._milestones is None:
            self._milestones = {}
            for release in self.data.all_milestones():
                self._milestones.setdefault((release.app_key, release.milestone_number),
                                            release)  # the first, as a scan would find
        return self._milestones.get((app.key, number))

    def milestone_issues(self, release: Release) -> list[GitHubIssue]:
        if self._issues is None:
            self._issues = defaultdict(list)
            for issue in self.data.all_issues:
                self._issues[issue.release_key].append(issue)
        return self._issues.get(release.key, [])

    def milestone_pulls(self, release: Release) -> list[PullRequest]:
        if self._pulls is None:
            self._pulls = defaultdict(list)
            for pull in self.data.pulls:
                self._pulls[pull.release_key].append(pull)
        return self._pulls.get(release.key, [])

    def milestone_counts(self, release: Release) -> tuple[int, int]:
        """(open, closed), as `GitHubData.milestone_counts` counts them."""
        states = [i.state for i in self.milestone_issues(release)]
        states += [p.state for p in self.milestone_pulls(release)]
        return states.count("open"), states.count("closed")

    def refs(self, app: Application) -> list[tuple[str, str, Commit]]:
        found = self._refs.get(app.key)
        if found is None:
            found = self._refs[app.key] = git.refs(self.data, app)
        return found

    def commit(self, app: Application, sha: str) -> Commit | None:
        by_sha = self._commits.get(app.key)
        if by_sha is None:
            by_sha = self._commits[app.key] = {}
            for item in self.data.commits(app):
                by_sha.setdefault(item.sha, item)  # the first, as a scan would find
        return by_sha.get(sha)


class GraphQLService:
    """Executes queries against the world; objects are dicts with lazy fields."""

    def __init__(self, data: render.GitHubData) -> None:
        self.data = data
        self.schema = load_schema()
        self._documents: OrderedDict[str, _Checked] = OrderedDict()

    def execute(self, base: str, query: str, variables: Json, operation_name: Any,
                budget: RateBudget) -> tuple[Json, int]:
        """The response body and its cost in rate-limit points."""
        checked = self._checked(query)
        document = checked.document
        if document is None or checked.errors:
            return {"errors": checked.errors}, 1
        asked = checked.cost(variables)
        if asked.nodes > MAX_NODES:
            return {"data": None, "errors": [{
                "type": "MAX_NODE_LIMIT_EXCEEDED",
                "message": f"This query requests up to {asked.nodes:,} possible nodes which "
                           f"exceeds the maximum limit of {MAX_NODES:,}."}]}, 1
        # `rateLimit` reports what GitHub would charge; the budget is spent one point per
        # call, so a demo left open all day is not throttled by its own fake.
        cost = 1
        root = self._root(base, budget, cost, asked.points, asked.nodes)
        result = execute_sync(self.schema, document, root_value=root,
                              context_value=_PerQuery(self.data), variable_values=variables,
                              operation_name=operation_name if isinstance(operation_name, str)
                              else None)
        body: Json = {"data": result.data}
        if result.errors:
            body["errors"] = [_error_json(e) for e in result.errors]
        return body, cost

    def _checked(self, query: str) -> _Checked:
        """The document parsed and validated, or the errors GitHub would answer with;
        the newest few are kept (a document's check does not depend on the data)."""
        kept = self._documents.get(query)
        if kept is not None:
            self._documents.move_to_end(query)
            return kept
        try:
            document = parse(query)
        except GraphQLError as error:
            checked = _Checked(None, [_error_json(error)])
        else:
            problems = validate(self.schema, document)
            checked = _Checked(document, [_validation_error_json(p, document)
                                          for p in problems])
        if len(query) <= KEPT_DOCUMENT_CHARS:
            self._documents[query] = checked
            while (len(self._documents) > KEPT_DOCUMENTS
                   or sum(map(len, self._documents)) > KEPT_DOCUMENT_CHARS):
                self._documents.popitem(last=False)
        return checked

    # -- root fields ---------------------------------------------------------------

    def _root(self, base: str, budget: RateBudget, cost: int, points: int,
              node_count: int) -> Json:
        def repository(info: Info, owner: str, name: str) -> Json:
            app = self.data.repo(owner, name)
            if app is None:
                raise GraphQLError(f"Could not resolve to a Repository with the name "
                                   f"'{owner}/{name}'.", extensions={"type": "NOT_FOUND"})
            return self.repository(base, app)

        def node(info: Info, id: str) -> Json:
            found = self.node(base, id)
            if found is None:
                raise GraphQLError(f"Could not resolve to a node with the global id of '{id}'",
                                   extensions={"type": "NOT_FOUND"})
            return found

        def nodes(info: Info, ids: Sequence[str]) -> list[Json | GraphQLError]:
            if len(ids) > MAX_PAGE:
                raise GraphQLError(f"You may not request more than {MAX_PAGE} node ids at once.",
                                   extensions={"type": "MAX_NODE_LIMIT_EXCEEDED"})
            out: list[Json | GraphQLError] = []
            for ident in ids:
                found = self.node(base, ident)
                out.append(found if found is not None else GraphQLError(
                    f"Could not resolve to a node with the global id of '{ident}'",
                    extensions={"type": "NOT_FOUND"}))
            return out

        def rate_limit(info: Info, dryRun: bool = False) -> Json:
            spent = 0 if dryRun else cost
            reset = dt.datetime.fromtimestamp(budget.reset, dt.UTC)
            return {"cost": points, "limit": budget.limit, "nodeCount": node_count,
                    "remaining": max(0, budget.remaining - spent), "used": budget.used + spent,
                    "resetAt": render.ts(reset)}

        def viewer(info: Info) -> Json:
            v = self.data.viewer
            return self._user(base, v.login, v.id, v.name, v.email)

        def search_items(info: Info, query: str, type: str, first: int | None = None,
                         after: str | None = None) -> Json:
            rows = search.search(self.data, search.parse(query))[:1000]
            found = self._connection("search", rows, first, after,
                                     lambda item: self.pull(base, item)
                                     if isinstance(item, PullRequest) else self.issue(base, item))
            return {**found, "issueCount": len(rows)}

        return {"repository": repository, "node": node, "nodes": nodes, "rateLimit": rate_limit,
                "viewer": viewer, "search": search_items}

    def node(self, base: str, ident: str) -> Json | None:
        parsed = render.parse_node_id(ident)
        if parsed is None:
            return None
        kind, raw = parsed
        world = self.data.world
        if kind == "Repository":
            app = next((a for a in world.applications if str(a.repo_id) == raw), None)
            return None if app is None else self.repository(base, app)
        if kind == "Milestone":
            release = next((r for r in self.data.all_milestones()
                            if str(render.milestone_id(r)) == raw), None)
            return None if release is None else self.milestone(base, release)
        if kind == "Issue":
            issue = next((i for i in self.data.all_issues if str(i.id) == raw), None)
            if issue is not None:
                return self.issue(base, issue)
            pull = next((p for p in self.data.pulls
                         if str(render.PR_ISSUE_ID_OFFSET + p.id) == raw), None)
            return None if pull is None else self.pull(base, pull)
        if kind == "PullRequest":
            pull = next((p for p in self.data.pulls if str(p.id) == raw), None)
            return None if pull is None else self.pull(base, pull)
        if kind == "Deployment":
            found = next((d for d in self.data.deployments if str(d.id) == raw), None)
            if found is not None:
                return self.deployment(base, world.app(found.app_key), found)
        if kind == "User":
            who = next((p for p in world.people if str(p.github_id) == raw), None)
            if who is not None:
                return self._user(base, who.github_login, who.github_id, who.display_name,
                                  who.email)
        return None

    # -- objects -----------------------------------------------------------------------

    def _user(self, base: str, login: str, ident: int, name: str, email: str) -> Json:
        return {"__typename": "User", "id": render.node_id("User", ident), "databaseId": ident,
                "login": login, "name": name, "email": email,
                "avatarUrl": lambda info, size=None: f"{base}/avatars/u/{ident}?v=4",
                "resourcePath": f"/{login}", "url": f"{base}/{login}"}

    def _person(self, base: str, who: Any) -> Json:
        return self._user(base, who.github_login, who.github_id, who.display_name, who.email)

    def repository(self, base: str, app: Application) -> Json:
        def milestone(info: Info, number: int) -> Json | None:
            found = info.context.milestone(app, number)
            return None if found is None else self.milestone(base, found)

        def milestones(info: Info, first: int | None = None,
                       after: str | None = None, states: list[str] | None = None) -> Json:
            rows = [r for r in self.data.milestones(app)
                    if not states or self.data.milestone_state(r).upper() in states]
            return self._connection("milestones", rows, first, after,
                                    lambda r: self.milestone(base, r))

        def issue(info: Info, number: int) -> Json | None:
            found = next((i for i in self.data.issues(app) if i.number == number), None)
            if found is None:
                raise GraphQLError(f"Could not resolve to an Issue with the number of {number}.",
                                   extensions={"type": "NOT_FOUND"})
            return self.issue(base, found)

        def pull_request(info: Info, number: int) -> Json | None:
            found = next((p for p in self.data.app_pulls(app) if p.number == number), None)
            if found is None:
                raise GraphQLError(f"Could not resolve to a PullRequest with the number of "
                                   f"{number}.", extensions={"type": "NOT_FOUND"})
            return self.pull(base, found)

        def deployments(info: Info, first: int | None = None, after: str | None = None,
                        environments: list[str] | None = None,
                        orderBy: Json | None = None) -> Json:
            rows = [d for d in self.data.app_deployments(app)
                    if environments is None or d.environment in environments]
            newest_first = (orderBy or {}).get("direction") == "DESC"
            rows.sort(key=lambda d: (d.created, d.id), reverse=newest_first)
            return self._connection("deployments", rows, first, after,
                                    lambda d: self.deployment(base, app, d))

        def issues(info: Info, first: int | None = None, after: str | None = None,
                   labels: list[str] | None = None, orderBy: Json | None = None,
                   states: list[str] | None = None) -> Json:
            rows = [i for i in self.data.issues(app)
                    if (not states or i.state.upper() in states)
                    and (not labels or set(labels) & set(i.labels))]
            return self._connection("issues", self._ordered(app, rows, orderBy), first, after,
                                    lambda i: self.issue(base, i))

        def pull_requests(info: Info, first: int | None = None, after: str | None = None,
                          baseRefName: str | None = None, headRefName: str | None = None,
                          labels: list[str] | None = None, orderBy: Json | None = None,
                          states: list[str] | None = None) -> Json:
            rows = [p for p in self.data.app_pulls(app)
                    if (not states or _pull_state(p) in states)
                    and (baseRefName is None or p.base_ref == baseRefName)
                    and (headRefName is None or p.head_ref == headRefName)
                    and (not labels or set(labels) & set(p.labels))]
            return self._connection("pullRequests", self._ordered(app, rows, orderBy), first,
                                    after, lambda p: self.pull(base, p))

        def refs(info: Info, refPrefix: str, first: int | None = None, after: str | None = None,
                 query: str | None = None, orderBy: Json | None = None,
                 direction: str | None = None) -> Json:
            rows = [r for r in info.context.refs(app) if r[0] == refPrefix
                    and (not query or query.lower() in r[1].lower())]
            if (orderBy or {}).get("field") == "TAG_COMMIT_DATE":
                rows.sort(key=lambda r: (r[2].date, r[1]))
            else:
                rows.sort(key=lambda r: r[1])
            if ((orderBy or {}).get("direction") or direction) == "DESC":
                rows.reverse()
            return self._connection("refs", rows, first, after,
                                    lambda r: self.ref(base, app, r[0], r[1], r[2]))

        def default_branch(info: Info) -> Json | None:
            main = next((r for r in info.context.refs(app)
                         if r[:2] == ("refs/heads/", git.MAIN)), None)
            return None if main is None else self.ref(base, app, *main)

        def ref(info: Info, qualifiedName: str) -> Json | None:
            """`refs/heads/main`, `refs/tags/v1.2.0`, or a bare name (branches first)."""
            rows = info.context.refs(app)
            found = next((r for r in rows if r[0] + r[1] == qualifiedName), None) or next(
                (r for r in sorted(rows, key=lambda r: r[0] != "refs/heads/")
                 if r[1] == qualifiedName), None)
            return None if found is None else self.ref(base, app, *found)

        return {"__typename": "Repository", "id": render.node_id("Repository", app.repo_id),
                "databaseId": app.repo_id, "name": app.repo_name,
                "nameWithOwner": f"{app.repo_owner}/{app.repo_name}",
                "url": f"{base}/{app.repo_owner}/{app.repo_name}", "milestone": milestone,
                "milestones": milestones, "issue": issue, "pullRequest": pull_request,
                "deployments": deployments, "issues": issues, "pullRequests": pull_requests,
                "refs": refs, "defaultBranchRef": default_branch, "ref": ref}

    def _ordered(self, app: Application, rows: list[Any], order: Json | None) -> list[Any]:
        """GitHub's `IssueOrder`; without one, connections list oldest first."""
        field = (order or {}).get("field", "CREATED_AT")

        def key(item: Any) -> Any:
            if field == "COMMENTS":
                return (len(self.data.issue_comments(app, item.number)), item.number)
            return (item.updated if field == "UPDATED_AT" else item.created, item.number)

        return sorted(rows, key=key, reverse=(order or {}).get("direction") == "DESC")

    def ref(self, base: str, app: Application, prefix: str, name: str,
            target: Commit | None) -> Json:
        return {"__typename": "Ref", "id": render.node_id("Ref", f"{app.repo_id}:{prefix}{name}"),
                "name": name, "prefix": prefix,
                "repository": lambda info: self.repository(base, app),
                "target": None if target is None else self.commit(base, app, target)}

    def commit(self, base: str, app: Application, item: Commit) -> Json:
        rest = render.commit(base, app, item, None)
        return {"__typename": "Commit", "id": rest["node_id"], "oid": item.sha,
                "abbreviatedOid": item.sha[:7], "commitUrl": rest["html_url"],
                "url": rest["html_url"], "message": item.message,
                "messageHeadline": item.message.split("\n", 1)[0],
                "authoredDate": render.ts(item.date), "committedDate": render.ts(item.date),
                "repository": lambda info: self.repository(base, app)}

    def deployment(self, base: str, app: Application, item: Deployment) -> Json:
        """Values come from the REST rendering, so both APIs tell the same story."""
        rest = render.deployment(base, app, item, self.data.deployment_extras.get(item.id))
        latest = item.statuses[-1] if item.statuses else None
        word = latest.state if latest else "pending"
        return {"__typename": "Deployment", "id": rest["node_id"], "databaseId": item.id,
                "environment": item.environment, "originalEnvironment": item.environment,
                "latestEnvironment": item.environment, "description": rest["description"],
                "task": rest["task"],
                "ref": lambda info: self._ref(base, app, item.ref, info.context),
                "commitOid": item.sha,
                "commit": lambda info: self._deployed_commit(base, app, item.sha, info.context),
                "createdAt": rest["created_at"],
                "updatedAt": rest["updated_at"], "creator": self._person(base, item.creator),
                "state": DEPLOYMENT_STATE.get(word, word.upper()),
                "latestStatus": None if latest is None else self._status(base, app, item, latest),
                "repository": lambda info: self.repository(base, app)}

    def _deployed_commit(self, base: str, app: Application, sha: str,
                         lookups: _PerQuery) -> Json | None:
        found = lookups.commit(app, sha)
        return None if found is None else self.commit(base, app, found)

    def _status(self, base: str, app: Application, item: Deployment,
                status: DeploymentStatus) -> Json:
        rest = render.deployment_status(base, app, item, status)
        return {"__typename": "DeploymentStatus", "id": rest["node_id"],
                "state": status.state.upper(), "description": rest["description"],
                "environment": rest["environment"], "environmentUrl": rest["environment_url"],
                "logUrl": rest["log_url"], "createdAt": rest["created_at"],
                "updatedAt": rest["updated_at"], "creator": self._person(base, item.creator)}

    def _ref(self, base: str, app: Application, name: str, lookups: _PerQuery) -> Json | None:
        """A tag or branch; a deployment made from a bare commit SHA has no ref."""
        known = next((r for r in lookups.refs(app) if r[1] == name), None)
        if known is not None:
            return self.ref(base, app, *known)
        if _SHA.match(name):
            return None
        return self.ref(base, app, "refs/heads/", name, None)

    def milestone(self, base: str, release: Release) -> Json:
        app = self.data.world.app(release.app_key)
        rendered: list[Json] = []

        def rest(name: str) -> Callable[[Info], Any]:
            """A field of the REST rendering, made the first time any is asked for (most
            documents ask a milestone for its title and its issues only)."""
            def field(info: Info) -> Any:
                if not rendered:  # counts: on demand (progressPercentage)
                    rendered.append(render.milestone(base, self.data, release, counts=(0, 0)))
                return rendered[0][name]
            return field

        def progress(info: Info) -> float:
            open_count, closed_count = info.context.milestone_counts(release)
            total = open_count + closed_count
            return 100.0 * closed_count / total if total else 0.0

        def issues(info: Info, first: int | None = None, after: str | None = None,
                   labels: list[str] | None = None, states: list[str] | None = None) -> Json:
            rows = [i for i in info.context.milestone_issues(release)
                    if (not states or i.state.upper() in states)
                    and (not labels or set(labels) & set(i.labels))]
            rows.sort(key=lambda i: i.number)
            return self._connection("issues", rows, first, after, lambda i: self.issue(base, i))

        def pull_requests(info: Info, first: int | None = None,
                          after: str | None = None, baseRefName: str | None = None,
                          headRefName: str | None = None,
                          labels: list[str] | None = None,
                          states: list[str] | None = None) -> Json:
            rows = [p for p in info.context.milestone_pulls(release)
                    if (not states or _pull_state(p) in states)
                    and (baseRefName is None or p.base_ref == baseRefName)
                    and (headRefName is None or p.head_ref == headRefName)
                    and (not labels or set(labels) & set(p.labels))]
            rows.sort(key=lambda p: p.number)
            return self._connection("pullRequests", rows, first, after,
                                    lambda p: self.pull(base, p))

        state = self.data.milestone_state(release)
        return {"__typename": "Milestone", "id": rest("node_id"),
                "number": release.milestone_number,
                "title": self.data.milestone_title(release),
                "description": rest("description"), "state": state.upper(),
                "closed": state == "closed", "closedAt": rest("closed_at"),
                "createdAt": rest("created_at"), "updatedAt": rest("updated_at"),
                "dueOn": rest("due_on"), "progressPercentage": progress,
                "url": rest("html_url"), "repository": lambda info: self.repository(base, app),
                "issues": issues, "pullRequests": pull_requests}

    def _labels(self, base: str, app: Application, names: list[str]) -> Callable[..., Json]:
        def labels(info: Info, first: int | None = None,
                   after: str | None = None) -> Json:
            def one(name: str) -> Json:
                rest = render.label(base, app, name)
                return {"__typename": "Label", "id": rest["node_id"], "name": name,
                        "color": rest["color"], "url": rest["url"]}
            return self._connection("labels", names, first, after, one)
        return labels

    def _milestone_of(self, base: str, release_key: str | None) -> Callable[..., Json | None]:
        def resolve(info: Info) -> Json | None:
            release = info.context.release(release_key)
            return None if release is None else self.milestone(base, release)
        return resolve

    def issue(self, base: str, item: GitHubIssue) -> Json:
        app = self.data.world.app(item.app_key)
        reason = item.state_reason.upper() if item.state_reason else None
        return {"__typename": "Issue", "id": lambda info: render.node_id("Issue", item.id),
                "databaseId": item.id, "number": item.number, "title": item.title,
                "body": item.body, "state": item.state.upper(),
                "stateReason": lambda info, enableDuplicate=None: reason,
                "closed": item.state == "closed",
                "closedAt": lambda info: render.ts(item.closed_at),
                "createdAt": lambda info: render.ts(item.created),
                "updatedAt": lambda info: render.ts(item.updated),
                "url": f"{base}/{app.repo_owner}/{app.repo_name}/issues/{item.number}",
                "author": self._person(base, item.author),
                "milestone": self._milestone_of(base, item.release_key),
                "repository": lambda info: self.repository(base, app),
                "labels": self._labels(base, app, item.labels),
                "assignees": self._assignees(base, item)}

    def _assignees(self, base: str, item: GitHubIssue) -> Callable[..., Json]:
        def assignees(info: Info, first: int | None = None, after: str | None = None) -> Json:
            people = [item.assignee] if item.assignee is not None else []
            return self._connection("assignees", people, first, after,
                                    lambda who: self._person(base, who))
        return assignees

    def pull(self, base: str, item: PullRequest) -> Json:
        app = self.data.world.app(item.app_key)
        return {"__typename": "PullRequest",
                "id": lambda info: render.node_id("PullRequest", item.id),
                "databaseId": item.id, "number": item.number, "title": item.title,
                "body": item.body, "state": _pull_state(item), "isDraft": item.draft,
                "merged": item.merged_at is not None,
                "mergedAt": lambda info: render.ts(item.merged_at),
                "closed": item.state == "closed",
                "closedAt": lambda info: render.ts(item.closed_at),
                "createdAt": lambda info: render.ts(item.created),
                "updatedAt": lambda info: render.ts(item.updated),
                "baseRefName": item.base_ref, "headRefName": item.head_ref,
                "headRefOid": item.head_sha,
                "url": f"{base}/{app.repo_owner}/{app.repo_name}/pull/{item.number}",
                "author": self._person(base, item.author),
                "milestone": self._milestone_of(base, item.release_key),
                "repository": lambda info: self.repository(base, app),
                "labels": self._labels(base, app, item.labels),
                **self._pull_review_fields(base, app, item)}

    def _pull_review_fields(self, base: str, app: Application, item: PullRequest) -> Json:
        """Size, merge commit and reviews, from the same records the REST answers use; each
        worked out when asked for (a dashboard asks none of them of 370 pull requests)."""
        def reviews() -> list[Any]:
            return self.data.reviews(item)

        def head() -> Commit:
            return git.pull_head(self.data, app, item)[0]

        def review(found: Any) -> Json:
            rest = render.review(base, app, item, found)
            return {"__typename": "PullRequestReview", "id": rest["node_id"],
                    "state": found.state, "body": found.body,
                    "author": self._person(base, found.reviewer),
                    "submittedAt": rest["submitted_at"], "url": rest["html_url"],
                    "commit": self.commit(base, app, head())}

        def reviews_of(info: Info, first: int | None = None, after: str | None = None,
                       author: str | None = None, states: list[str] | None = None) -> Json:
            rows = [r for r in reviews() if (not states or r.state in states)
                    and (author is None or r.reviewer.github_login == author)]
            return self._connection("reviews", rows, first, after, review)

        def commits(info: Info, first: int | None = None, after: str | None = None) -> Json:
            """The world keeps one commit per pull request: its head, as it opened."""
            url = f"{base}/{app.repo_owner}/{app.repo_name}/pull/{item.number}/commits"
            return self._connection("commits", [head()], first, after, lambda c: {
                "__typename": "PullRequestCommit",
                "id": render.node_id("PullRequestCommit", f"{item.id}:{c.sha}"),
                "commit": self.commit(base, app, c), "url": f"{url}/{c.sha}"})

        def merge_commit(info: Info) -> Json | None:
            merge = info.context.commit(app, item.merge_commit_sha or "")
            return None if merge is None else self.commit(base, app, merge)

        def decision(info: Info) -> str:
            approved = any(r.state == "APPROVED" for r in reviews())
            return "APPROVED" if approved else "REVIEW_REQUIRED"

        return {"commits": commits,
                "additions": lambda info: render.pull_size(item)[0],
                "deletions": lambda info: render.pull_size(item)[1],
                "changedFiles": lambda info: render.pull_size(item)[2],
                "mergeCommit": merge_commit, "reviewDecision": decision, "reviews": reviews_of}

    @staticmethod
    def _connection(name: str, rows: Sequence[Any], first: int | None, after: str | None,
                    make: Callable[[Any], Json]) -> Json:
        """A Relay connection; GitHub insists on `first` (or `last`) between 1 and 100."""
        if first is None:
            raise GraphQLError(f"You must provide a `first` or `last` value to properly "
                               f"paginate the `{name}` connection.",
                               extensions={"type": "MISSING_PAGINATION_BOUNDARIES"})
        if first < 1 or first > MAX_PAGE:
            raise GraphQLError(f"Requesting {first} records on the `{name}` connection exceeds "
                               f"the `first` limit of {MAX_PAGE} records.",
                               extensions={"type": "EXCESSIVE_PAGINATION"})
        start = _offset(after) + 1
        chunk = list(rows[start:start + first])
        edges = [{"cursor": _cursor(start + i), "node": make(row)} for i, row in enumerate(chunk)]
        return {"edges": edges, "nodes": [e["node"] for e in edges], "totalCount": len(rows),
                "pageInfo": {"hasNextPage": start + first < len(rows),
                             "hasPreviousPage": start > 0,
                             "startCursor": edges[0]["cursor"] if edges else None,
                             "endCursor": edges[-1]["cursor"] if edges else None}}


def _pull_state(item: PullRequest) -> str:
    if item.merged_at is not None:
        return "MERGED"
    return "OPEN" if item.state == "open" else "CLOSED"
