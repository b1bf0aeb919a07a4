"""The demo world as GitHub sees it: repositories, milestones, issues, pulls.

Pure functions from world records to GitHub's REST JSON objects. Every URL is
built from `base` (the request's base URL, mount prefix included), so the
objects point back at whichever sandbox served them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from connectors.sandbox.world import (
    NOUNS,
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
)

Json = dict[str, Any]

ENVIRONMENTS = ("dev", "staging", "production")
#: What every repository says of itself (`repository`, and `repository_meta` agrees).
TOPICS = ("release-train",)
#: GitHub Actions, the GitHub App that reports CI jobs as check runs (`checks.py`).
ACTIONS_APP_ID = 15368
#: The CI jobs branch protection requires of `main` before a pull request merges.
REQUIRED_CHECKS = ("build", "test")
LANGUAGE = "Python"
SIZE_KB = 2048
LABEL_COLOURS = {"bug": "d73a4a", "blocker": "b60205", "breaking-change": "e99695"}
LABEL_DESCRIPTIONS = {"bug": "A defect found in testing or production",
                      "blocker": "Must be fixed before the release ships",
                      "breaking-change": "Changes a contract other teams rely on"}
# Issue ids of pull requests live in their own range, as on GitHub where a
# pull request is also an issue with a different id.
PR_ISSUE_ID_OFFSET = 100_000_000
MILESTONE_ID_OFFSET = 3_000_000
REVIEW_ID_OFFSET = 400_000_000
ORG_ID = 8_800_000


def ts(when: datetime | None) -> str | None:
    """GitHub's timestamp form: UTC, `Z`, no fraction."""
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, ident: int | str) -> str:
    """Legacy-style global id: base64 of `<len>:<Type><id>`; stable and opaque."""
    return base64.b64encode(f"{len(kind):02d}:{kind}{ident}".encode()).decode()


def parse_node_id(value: str) -> tuple[str, str] | None:
    """Inverse of `node_id`, or None for anything that is not one of ours."""
    try:
        raw = base64.b64decode(value.encode(), validate=True).decode()
        size, rest = raw.split(":", 1)
        length = int(size)
    except (ValueError, UnicodeDecodeError):
        return None
    if length <= 0 or len(rest) <= length:
        return None
    return rest[:length], rest[length:]


def _small_int(*parts: object) -> int:
    return int(hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:7], 16)


@dataclass(slots=True)
class Viewer:
    """The account the demo token belongs to."""

    login: str
    id: int
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class IssueEvent:
    """Something that happened to an issue or pull request (`sandbox.events`)."""

    id: int
    app_key: str
    number: int
    event: str  # closed, labeled, milestoned... (`events.NODE_TYPES`)
    actor: Person
    at: datetime
    commit_id: str | None = None
    label: str | None = None
    milestone: str | None = None  # the milestone's title then
    assignee: Person | None = None
    rename: tuple[str, str] | None = None  # (from, to)
    state_reason: str | None = None


@dataclass(slots=True)
class HeldRun:
    """A workflow run a deployment protection rule held: waiting while `conclusion` is
    None, then `success` or `failure` as the rule's app answered."""

    app_key: str
    deployment_id: int
    conclusion: str | None = None


@dataclass(slots=True)
class IssueComment:
    """A comment written through the sandbox on an issue or pull request."""

    id: int
    app_key: str
    number: int
    body: str
    author: Person
    created: datetime
    updated: datetime


@dataclass(slots=True)
class LabelDef:
    """A label created through the sandbox (seeded labels take their look from constants)."""

    app_key: str
    name: str
    color: str
    description: str


@dataclass(slots=True)
class Review:
    """A pull-request review; seeded ones are derived from the pull request."""

    id: int
    reviewer: Person
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED
    body: str
    submitted: datetime
    commit_id: str


@dataclass(slots=True)
class MilestoneFacet:
    """What GitHub writes made a milestone: one created here, or a world one edited."""

    title: str
    description: str | None
    state: str  # open | closed
    due_on: datetime | None
    created: datetime
    updated: datetime
    closed_at: datetime | None


@dataclass(slots=True)
class GitHubData:
    """The world indexed the way GitHub serves it, plus what writes added.

    Deployments and pull requests are copied, so writes on one app never leak
    into another app built from the same world.
    """

    world: World
    viewer: Viewer
    deployments: list[Deployment] = field(default_factory=list)
    pulls: list[PullRequest] = field(default_factory=list)
    all_issues: list[GitHubIssue] = field(default_factory=list)
    releases: list[GitHubRelease] = field(default_factory=list)
    # Tags a published release or a POST of git/refs made (the world's own are in
    # `world.tags`), and branches a POST of git/refs made: (app key, name, commit sha).
    created_tags: list[Tag] = field(default_factory=list)
    created_branches: list[tuple[str, str, str]] = field(default_factory=list)
    # Milestones a POST made (each one a release of no company plan), and what writes set
    # on any milestone, by milestone id.
    created_milestones: list[Release] = field(default_factory=list)
    milestone_facets: dict[int, MilestoneFacet] = field(default_factory=dict)
    comments: list[IssueComment] = field(default_factory=list)
    # What writes did to issues and pull requests (the world's own history is derived).
    issue_events: list[IssueEvent] = field(default_factory=list)
    label_defs: list[LabelDef] = field(default_factory=list)
    # What a POST gave a deployment beyond the world's fields (payload, description, task).
    deployment_extras: dict[int, Json] = field(default_factory=dict)
    # Custom deployment protection rules: (repository app key, environment) -> app ids.
    protection_rules: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # Workflow runs a deployment protection rule held, by run id.
    runs: dict[int, HeldRun] = field(default_factory=dict)
    next_id: int = 990_000_000

    @classmethod
    def build(cls, world: World, viewer: Viewer) -> GitHubData:
        return cls(world=world, viewer=viewer, deployments=copy.deepcopy(world.deployments),
                   pulls=copy.deepcopy(world.pull_requests),
                   all_issues=copy.deepcopy(world.github_issues),
                   releases=copy.deepcopy(world.github_releases))

    @property
    def viewer_person(self) -> Person:
        """The token's owner as a world person, so what it writes has an author."""
        v = self.viewer
        return Person(index=-1, display_name=v.name, email=v.email, username=v.login,
                      account_id="", github_login=v.login, github_id=v.id)

    def people(self) -> list[Person]:
        """The organization's people and the token's owner, by login."""
        return sorted([*self.world.people, self.viewer_person],
                      key=lambda who: who.github_login.lower())

    def person(self, login: str) -> Person | None:
        """A GitHub login of the world (or the viewer's), case-insensitive."""
        wanted = login.lower()
        if wanted == self.viewer.login.lower():
            return self.viewer_person
        return next((p for p in self.world.people if p.github_login.lower() == wanted), None)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def repo(self, owner: str, name: str) -> Application | None:
        wanted = (owner.lower(), name.lower())
        return next((a for a in self.world.applications
                     if (a.repo_owner.lower(), a.repo_name.lower()) == wanted), None)

    def all_milestones(self) -> list[Release]:
        return [*self.world.releases, *self.created_milestones]

    def milestones(self, app: Application) -> list[Release]:
        return [r for r in self.all_milestones() if r.app_key == app.key]

    def milestone_by_key(self, release_key: str | None) -> Release | None:
        if release_key is None:
            return None
        return next((r for r in self.all_milestones() if r.key == release_key), None)

    def milestone_state(self, release: Release) -> str:
        facet = self.milestone_facets.get(milestone_id(release))
        return facet.state if facet is not None else milestone_state(release)

    def milestone_title(self, release: Release) -> str:
        facet = self.milestone_facets.get(milestone_id(release))
        return facet.title if facet is not None else release.version_name

    def issues(self, app: Application) -> list[GitHubIssue]:
        return [i for i in self.all_issues if i.app_key == app.key]

    def app_pulls(self, app: Application) -> list[PullRequest]:
        return [p for p in self.pulls if p.app_key == app.key]

    def numbered(self, app: Application, number: int) -> GitHubIssue | PullRequest | None:
        """The issue or pull request with this number (they share the sequence)."""
        items: list[GitHubIssue | PullRequest] = [*self.issues(app), *self.app_pulls(app)]
        return next((item for item in items if item.number == number), None)

    def tags(self, app: Application) -> list[Tag]:
        return [t for t in (*self.world.tags, *self.created_tags) if t.app_key == app.key]

    def app_releases(self, app: Application) -> list[GitHubRelease]:
        return [r for r in self.releases if r.app_key == app.key]

    def app_deployments(self, app: Application) -> list[Deployment]:
        return [d for d in self.deployments if d.app_key == app.key]

    def commits(self, app: Application) -> list[Commit]:
        return self.world.commits.get(app.key, [])

    def next_number(self, app: Application) -> int:
        """Issues and pull requests share one number sequence per repository."""
        numbers = [i.number for i in self.issues(app)] + [p.number for p in self.app_pulls(app)]
        return max(numbers, default=0) + 1

    def issue_comments(self, app: Application, number: int) -> list[IssueComment]:
        return [c for c in self.comments if c.app_key == app.key and c.number == number]

    def label_names(self, app: Application) -> list[str]:
        """The repository's labels: the standard three, those in use, those created."""
        names = list(LABEL_COLOURS)
        used = [n for i in self.issues(app) for n in i.labels]
        used += [n for p in self.app_pulls(app) for n in p.labels]
        used += [d.name for d in self.label_defs if d.app_key == app.key]
        for name in used:
            if name.lower() not in {n.lower() for n in names}:
                names.append(name)
        return sorted(names, key=str.lower)

    def label_def(self, app: Application, name: str) -> LabelDef | None:
        return next((d for d in self.label_defs
                     if d.app_key == app.key and d.name.lower() == name.lower()), None)

    def label_json(self, base: str, app: Application, name: str) -> Json:
        return label(base, app, name, self.label_def(app, name))

    def reviews(self, pr: PullRequest) -> list[Review]:
        """A merged pull request was approved before it merged; an open one may carry a
        comment review; drafts have none. Derived, so every run sees the same reviews."""
        people = [p for p in self.world.people if p.github_id != pr.author.github_id]
        reviewer = people[_small_int(pr.app_key, pr.number, "reviewer") % len(people)]
        if pr.merged_at is not None:
            return [Review(REVIEW_ID_OFFSET + pr.id, reviewer, "APPROVED", "Looks good.",
                           pr.merged_at - timedelta(hours=1), pr.head_sha)]
        if pr.draft or _small_int(pr.app_key, pr.number, "review") % 2:
            return []
        return [Review(REVIEW_ID_OFFSET + pr.id, reviewer, "COMMENTED",
                       "Please add a test for the failure path.",
                       pr.created + timedelta(hours=3), pr.head_sha)]

    def milestone_counts(self, release: Release) -> tuple[int, int]:
        """(open, closed) issues and pulls in the milestone, as GitHub counts both."""
        states = [i.state for i in self.all_issues if i.release_key == release.key]
        states += [p.state for p in self.pulls if p.release_key == release.key]
        return states.count("open"), states.count("closed")


# -- users -------------------------------------------------------------------

def user(base: str, login: str, ident: int, kind: str = "User") -> Json:
    api = f"{base}/users/{login}"
    return {
        "login": login, "id": ident, "node_id": node_id(kind, ident),
        "avatar_url": f"{base}/avatars/u/{ident}?v=4", "gravatar_id": "",
        "url": api, "html_url": f"{base}/{login}",
        "followers_url": f"{api}/followers", "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}", "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events", "type": kind, "site_admin": False,
        "user_view_type": "public",
    }


def person(base: str, who: Person) -> Json:
    return user(base, who.github_login, who.github_id)


def org_user(base: str, world: World) -> Json:
    return user(base, world.org, ORG_ID, "Organization")


def organization(base: str, world: World) -> Json:
    """`organization-simple`, as webhook payloads carry it."""
    api = f"{base}/orgs/{world.org}"
    return {"login": world.org, "id": ORG_ID, "node_id": node_id("Organization", ORG_ID),
            "url": api, "repos_url": f"{api}/repos", "events_url": f"{api}/events",
            "hooks_url": f"{api}/hooks", "issues_url": f"{api}/issues",
            "members_url": f"{api}/members{{/member}}",
            "public_members_url": f"{api}/public_members{{/member}}",
            "avatar_url": f"{base}/avatars/u/{ORG_ID}?v=4", "description": world.company}


def public_user(base: str, who: Person) -> Json:
    """`GET /users/{login}`: the public profile."""
    body = user(base, who.github_login, who.github_id)
    body.update({"name": who.display_name, "company": "Acme Retail", "blog": "",
                 "location": None, "email": None, "hireable": None, "bio": None,
                 "twitter_username": None, "public_repos": 0, "public_gists": 0,
                 "followers": 0, "following": 0, "created_at": "2020-01-06T09:00:00Z",
                 "updated_at": "2026-10-01T09:00:00Z"})
    return body


def organization_full(base: str, world: World) -> Json:
    """`GET /orgs/{org}`: the organization as a member sees it."""
    body = organization(base, world)
    repos = len(world.applications)
    body.update({
        "name": world.company, "company": None, "blog": "", "location": None, "email": None,
        "twitter_username": None, "is_verified": False, "has_organization_projects": True,
        "has_repository_projects": True, "public_repos": 0, "public_gists": 0, "followers": 0,
        "following": 0, "html_url": f"{base}/{world.org}", "created_at": "2020-01-06T09:00:00Z",
        "updated_at": "2026-10-01T09:00:00Z", "archived_at": None, "type": "Organization",
        "total_private_repos": repos, "owned_private_repos": repos, "private_gists": 0,
        "disk_usage": 2048 * repos, "collaborators": 0, "default_repository_permission": "read",
        "members_can_create_repositories": False, "two_factor_requirement_enabled": True})
    return body


def private_user(base: str, viewer: Viewer) -> Json:
    """`GET /user`: the public fields plus the profile the token's owner sees."""
    body = user(base, viewer.login, viewer.id)
    body.update({
        "name": viewer.name, "email": viewer.email, "company": "Acme Retail", "blog": "",
        "location": None, "hireable": None, "bio": None, "twitter_username": None,
        "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
        "created_at": "2020-01-06T09:00:00Z", "updated_at": "2026-10-01T09:00:00Z",
        "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
        "disk_usage": 0, "collaborators": 0, "two_factor_authentication": True,
    })
    return body


# -- repositories ------------------------------------------------------------

_REPO_URL_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}", "contributors_url": "/contributors",
    "deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
    "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}", "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}", "languages_url": "/languages",
    "merges_url": "/merges", "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}", "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}", "subscribers_url": "/subscribers",
    "subscription_url": "/subscription", "tags_url": "/tags", "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}", "hooks_url": "/hooks",
}


def repo_url(base: str, app: Application) -> str:
    return f"{base}/repos/{app.repo_owner}/{app.repo_name}"


def repository(base: str, data: GitHubData, app: Application) -> Json:
    """A `full-repository`, which is also a valid `repository` (PR head/base)."""
    url = repo_url(base, app)
    full_name = f"{app.repo_owner}/{app.repo_name}"
    html = f"{base}/{full_name}"
    open_count = sum(1 for i in data.issues(app) if i.state == "open") + sum(
        1 for p in data.app_pulls(app) if p.state == "open")
    commits = data.commits(app)
    pushed = commits[-1].date if commits else data.world.now
    body: Json = {
        "id": app.repo_id, "node_id": node_id("Repository", app.repo_id), "name": app.repo_name,
        "full_name": full_name, "owner": org_user(base, data.world), "private": True,
        "html_url": html, "description": f"{app.name} ({app.key})", "fork": False, "url": url,
    }
    body.update({key: url + suffix for key, suffix in _REPO_URL_TEMPLATES.items()})
    body.update({
        "git_url": f"git://sandbox/{full_name}.git", "ssh_url": f"git@sandbox:{full_name}.git",
        "clone_url": f"{html}.git", "svn_url": html, "mirror_url": None, "homepage": None,
        "language": LANGUAGE, "forks_count": 0, "forks": 0, "stargazers_count": 3,
        "watchers_count": 3, "watchers": 3, "size": SIZE_KB, "default_branch": "main",
        "open_issues_count": open_count, "open_issues": open_count, "is_template": False,
        "topics": list(TOPICS), "has_issues": True, "has_projects": False, "has_wiki": False,
        "has_pages": False, "has_downloads": True, "has_discussions": False, "archived": False,
        "disabled": False, "visibility": "private", "pushed_at": ts(pushed),
        "created_at": "2021-03-01T10:00:00Z", "updated_at": ts(data.world.now - timedelta(days=1)),
        "permissions": {"admin": False, "maintain": False, "push": True, "triage": True,
                        "pull": True},
        "allow_rebase_merge": True, "allow_squash_merge": True, "allow_merge_commit": True,
        "allow_auto_merge": False, "delete_branch_on_merge": True, "allow_forking": False,
        "web_commit_signoff_required": False, "license": None, "subscribers_count": 6,
        "network_count": 0, "organization": org_user(base, data.world),
        "temp_clone_token": "", "allow_update_branch": False,
        "use_squash_pr_title_as_default": True, "squash_merge_commit_title": "PR_TITLE",
        "squash_merge_commit_message": "COMMIT_MESSAGES", "merge_commit_title": "MERGE_MESSAGE",
        "merge_commit_message": "PR_TITLE", "custom_properties": {},
        "security_and_analysis": {"secret_scanning": {"status": "enabled"},
                                  "secret_scanning_push_protection": {"status": "enabled"},
                                  "dependabot_security_updates": {"status": "enabled"},
                                  "secret_scanning_non_provider_patterns": {"status": "disabled"},
                                  "secret_scanning_validity_checks": {"status": "disabled"}},
    })
    return body


# -- labels, milestones ------------------------------------------------------

def label(base: str, app: Application, name: str, defined: LabelDef | None = None) -> Json:
    ident = _small_int(app.key, "label", name.lower())
    if defined is not None:
        name, colour, description = defined.name, defined.color, defined.description
    else:
        colour = LABEL_COLOURS.get(name, "ededed")
        description = LABEL_DESCRIPTIONS.get(name, "")
    return {"id": ident, "node_id": node_id("Label", ident),
            "url": f"{repo_url(base, app)}/labels/{quote(name, safe='')}", "name": name,
            "description": description, "color": colour, "default": name == "bug"}


def milestone_id(release: Release) -> int:
    return MILESTONE_ID_OFFSET + release.jira_version_id


def milestone_state(release: Release) -> str:
    return "closed" if release.status in ("DEPLOYED", "CANCELLED") else "open"


def milestone(base: str, data: GitHubData, release: Release,
              counts: tuple[int, int] | None = None) -> Json:
    """The REST milestone; `counts` (open, closed) when the caller needs none counted."""
    app = data.world.app(release.app_key)
    url = f"{repo_url(base, app)}/milestones/{release.milestone_number}"
    open_count, closed_count = counts if counts is not None else data.milestone_counts(release)
    body: Json = {
        "url": url, "html_url": f"{base}/{app.repo_owner}/{app.repo_name}/milestone/"
                                f"{release.milestone_number}",
        "labels_url": f"{url}/labels", "id": milestone_id(release),
        "node_id": node_id("Milestone", milestone_id(release)),
        "number": release.milestone_number, "creator": person(base, app.lead),
        "open_issues": open_count, "closed_issues": closed_count,
    }
    facet = milestone_facet(data, release)
    body.update({"state": facet.state, "title": facet.title, "description": facet.description,
                 "created_at": ts(facet.created), "updated_at": ts(facet.updated),
                 "closed_at": ts(facet.closed_at), "due_on": ts(facet.due_on)})
    return body


def milestone_facet(data: GitHubData, release: Release) -> MilestoneFacet:
    """What a milestone reads as: what writes set on it, else what its release plans (a
    new object each time, so an edit may start from it)."""
    facet = data.milestone_facets.get(milestone_id(release))
    if facet is not None:
        return facet
    closed = milestone_state(release) == "closed"
    return MilestoneFacet(
        title=release.version_name, description=release.description,
        state=milestone_state(release), due_on=release.window_start.replace(hour=7, minute=0),
        created=release.window_start - timedelta(days=45),
        updated=min(data.world.now, release.window_end),
        closed_at=release.window_end if closed else None)


def _issue_common(base: str, data: GitHubData, app: Application, number: int) -> Json:
    url = f"{repo_url(base, app)}/issues/{number}"
    return {
        "url": url, "repository_url": repo_url(base, app), "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments", "events_url": f"{url}/events",
        "html_url": f"{base}/{app.repo_owner}/{app.repo_name}/issues/{number}", "number": number,
        "locked": False, "active_lock_reason": None,
        "comments": len(data.issue_comments(app, number)),
        "author_association": "MEMBER", "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None, "type": None,
        "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
        "issue_dependencies_summary": {"blocked_by": 0, "blocking": 0, "total_blocked_by": 0,
                                       "total_blocking": 0},
        "reactions": {"url": f"{url}/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
                      "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
    }


def _maybe_milestone(base: str, data: GitHubData, release_key: str | None) -> Json | None:
    release = data.milestone_by_key(release_key)
    return None if release is None else milestone(base, data, release)


def issue(base: str, data: GitHubData, item: GitHubIssue) -> Json:
    app = data.world.app(item.app_key)
    body = _issue_common(base, data, app, item.number)
    assignees = [] if item.assignee is None else [person(base, item.assignee)]
    body.update({
        "id": item.id, "node_id": node_id("Issue", item.id), "state": item.state,
        "state_reason": item.state_reason, "title": item.title, "body": item.body,
        "user": person(base, item.author),
        "labels": [data.label_json(base, app, n) for n in item.labels],
        "assignee": assignees[0] if assignees else None, "assignees": assignees,
        "milestone": _maybe_milestone(base, data, item.release_key),
        "closed_at": ts(item.closed_at), "created_at": ts(item.created),
        "updated_at": ts(item.updated), "closed_by": None,
        "type": {"id": _small_int("issue-type", "Bug"),
                 "node_id": node_id("IssueType", _small_int("issue-type", "Bug")),
                 "name": "Bug", "description": "Something does not work as it should",
                 "color": "red", "created_at": "2024-01-25T12:00:00Z",
                 "updated_at": "2024-01-25T12:00:00Z", "is_enabled": True},
    })
    return body


def issue_id(item: GitHubIssue | PullRequest) -> int:
    """The id the issues endpoints give an item: a pull request's is offset."""
    return item.id if isinstance(item, GitHubIssue) else PR_ISSUE_ID_OFFSET + item.id


def pull_as_issue(base: str, data: GitHubData, pr: PullRequest) -> Json:
    """A pull request as the issues endpoints list it, with its `pull_request` key."""
    app = data.world.app(pr.app_key)
    body = _issue_common(base, data, app, pr.number)
    html = f"{base}/{app.repo_owner}/{app.repo_name}/pull/{pr.number}"
    ident = issue_id(pr)
    body.update({
        "id": ident, "node_id": node_id("Issue", ident), "state": pr.state,
        "state_reason": None, "title": pr.title, "body": pr.body,
        "user": person(base, pr.author),
        "labels": [data.label_json(base, app, n) for n in pr.labels],
        "assignee": None, "assignees": [],
        "milestone": _maybe_milestone(base, data, pr.release_key), "draft": pr.draft,
        "closed_at": ts(pr.closed_at), "created_at": ts(pr.created), "updated_at": ts(pr.updated),
        "pull_request": {"url": f"{repo_url(base, app)}/pulls/{pr.number}", "html_url": html,
                         "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
                         "merged_at": ts(pr.merged_at)},
    })
    return body


def _branch(base: str, data: GitHubData, app: Application, ref: str, sha: str) -> Json:
    return {"label": f"{app.repo_owner}:{ref}", "ref": ref, "sha": sha,
            "user": org_user(base, data.world), "repo": repository(base, data, app)}


def pull_simple(base: str, data: GitHubData, pr: PullRequest) -> Json:
    app = data.world.app(pr.app_key)
    url = f"{repo_url(base, app)}/pulls/{pr.number}"
    issue_url = f"{repo_url(base, app)}/issues/{pr.number}"
    html = f"{base}/{app.repo_owner}/{app.repo_name}/pull/{pr.number}"
    commits = data.commits(app)
    base_sha = commits[-1].sha if commits else pr.head_sha
    links = {"self": url, "html": html, "issue": issue_url, "comments": f"{issue_url}/comments",
             "review_comments": f"{url}/comments",
             "review_comment": f"{repo_url(base, app)}/pulls/comments{{/number}}",
             "commits": f"{url}/commits",
             "statuses": f"{repo_url(base, app)}/statuses/{pr.head_sha}"}
    return {
        "url": url, "id": pr.id, "node_id": node_id("PullRequest", pr.id), "html_url": html,
        "diff_url": f"{html}.diff", "patch_url": f"{html}.patch", "issue_url": issue_url,
        "commits_url": links["commits"], "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"], "comments_url": links["comments"],
        "statuses_url": links["statuses"], "number": pr.number, "state": pr.state,
        "locked": False, "title": pr.title, "user": person(base, pr.author), "body": pr.body,
        "labels": [data.label_json(base, app, n) for n in pr.labels],
        "milestone": _maybe_milestone(base, data, pr.release_key), "active_lock_reason": None,
        "created_at": ts(pr.created), "updated_at": ts(pr.updated), "closed_at": ts(pr.closed_at),
        "merged_at": ts(pr.merged_at), "merge_commit_sha": pr.merge_commit_sha,
        "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
        "head": _branch(base, data, app, pr.head_ref, pr.head_sha),
        "base": _branch(base, data, app, pr.base_ref, base_sha),
        "_links": {k: {"href": v} for k, v in links.items()},
        "author_association": "MEMBER", "auto_merge": None, "draft": pr.draft,
    }


def pull_size(pr: PullRequest) -> tuple[int, int, int]:
    """(additions, deletions, changed files): derived, so the pull and its files agree."""
    size = _small_int(pr.app_key, pr.number)
    return 5 + size % 120, size % 40, 1 + size % 6


def pull_full(base: str, data: GitHubData, pr: PullRequest) -> Json:
    body = pull_simple(base, data, pr)
    merged = pr.merged_at is not None
    size = _small_int(pr.app_key, pr.number)
    additions, deletions, changed = pull_size(pr)
    app = data.world.app(pr.app_key)
    body.update({
        "merged": merged, "mergeable": None if merged else True,
        "rebaseable": None if merged else True,
        "mergeable_state": "unknown" if merged else "clean",
        "merged_by": person(base, pr.author) if merged else None,
        "comments": len(data.issue_comments(app, pr.number)),
        "review_comments": size % 4, "maintainer_can_modify": False,
        "commits": 1,  # the world gives each pull one head commit (`.../pulls/{n}/commits`)
        "additions": additions, "deletions": deletions, "changed_files": changed,
    })
    return body


def _module(app: Application, *parts: object) -> str:
    noun = NOUNS[_small_int(app.key, *parts) % len(NOUNS)]
    return f"src/{app.repo_name.replace('-', '_')}/{noun.replace(' ', '_')}.py"


def pull_files(base: str, app: Application, pr: PullRequest) -> list[Json]:
    """The files a pull request changes; their counts add up to the pull's totals."""
    additions, deletions, changed = pull_size(pr)
    names: list[str] = []
    for index in range(changed * 3):
        name = _module(app, pr.number, index)
        if name not in names:
            names.append(name)
        if len(names) == changed:
            break
    while len(names) < changed:
        names.append(f"tests/test_{pr.number}_{len(names)}.py")
    out: list[Json] = []
    for index, name in enumerate(names):
        adds = additions // changed + (1 if index < additions % changed else 0)
        dels = deletions // changed + (1 if index < deletions % changed else 0)
        blob = hashlib.sha1(f"{pr.head_sha}/{name}".encode()).hexdigest()
        html = f"{base}/{app.repo_owner}/{app.repo_name}"
        out.append({
            "sha": blob, "filename": name, "status": "modified" if index else "added",
            "additions": adds, "deletions": dels, "changes": adds + dels,
            "blob_url": f"{html}/blob/{pr.head_sha}/{name}",
            "raw_url": f"{html}/raw/{pr.head_sha}/{name}",
            "contents_url": f"{repo_url(base, app)}/contents/{name}?ref={pr.head_sha}",
            "patch": f"@@ -1,{dels} +1,{adds} @@"})
    return out


def review(base: str, app: Application, pr: PullRequest, item: Review) -> Json:
    html = f"{base}/{app.repo_owner}/{app.repo_name}/pull/{pr.number}#pullrequestreview-{item.id}"
    pull_url = f"{repo_url(base, app)}/pulls/{pr.number}"
    return {"id": item.id, "node_id": node_id("PullRequestReview", item.id),
            "user": person(base, item.reviewer), "body": item.body, "state": item.state,
            "html_url": html, "pull_request_url": pull_url, "author_association": "MEMBER",
            "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
            "submitted_at": ts(item.submitted), "commit_id": item.commit_id}


def issue_comment(base: str, app: Application, item: IssueComment) -> Json:
    url = f"{repo_url(base, app)}/issues/comments/{item.id}"
    html = (f"{base}/{app.repo_owner}/{app.repo_name}/issues/{item.number}"
            f"#issuecomment-{item.id}")
    return {"id": item.id, "node_id": node_id("IssueComment", item.id), "url": url,
            "html_url": html, "body": item.body, "user": person(base, item.author),
            "created_at": ts(item.created), "updated_at": ts(item.updated),
            "issue_url": f"{repo_url(base, app)}/issues/{item.number}",
            "author_association": "MEMBER", "performed_via_github_app": None,
            "reactions": {"url": f"{url}/reactions", "total_count": 0, "+1": 0, "-1": 0,
                          "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0,
                          "eyes": 0}}


# -- git: tags, commits, compare --------------------------------------------

def tag(base: str, app: Application, item: Tag) -> Json:
    return {"name": item.name,
            "commit": {"sha": item.sha, "url": f"{repo_url(base, app)}/commits/{item.sha}"},
            "zipball_url": f"{repo_url(base, app)}/zipball/{item.name}",
            "tarball_url": f"{repo_url(base, app)}/tarball/{item.name}",
            "node_id": node_id("Ref", f"refs/tags/{item.name}")}


def git_ref(base: str, app: Application, ref: str, target: Commit) -> Json:
    """`GET .../git/ref/{ref}`: a branch or a (lightweight) tag and the commit it names."""
    return {"ref": ref, "node_id": node_id("Ref", ref), "url": f"{repo_url(base, app)}/git/{ref}",
            "object": {"sha": target.sha, "type": "commit",
                       "url": f"{repo_url(base, app)}/git/commits/{target.sha}"}}


def commit(base: str, app: Application, item: Commit, parent: str | None) -> Json:
    url = f"{repo_url(base, app)}/commits/{item.sha}"
    html = f"{base}/{app.repo_owner}/{app.repo_name}/commit/{item.sha}"
    git_user = {"name": item.author.display_name, "email": item.author.email,
                "date": ts(item.date)}
    tree = hashlib.sha1(f"tree/{item.sha}".encode()).hexdigest()
    parents = [] if parent is None else [{
        "sha": parent, "url": f"{repo_url(base, app)}/commits/{parent}",
        "html_url": f"{base}/{app.repo_owner}/{app.repo_name}/commit/{parent}"}]
    return {
        "sha": item.sha, "node_id": node_id("Commit", item.sha), "url": url, "html_url": html,
        "comments_url": f"{url}/comments",
        "commit": {"url": f"{repo_url(base, app)}/git/commits/{item.sha}", "author": git_user,
                   "committer": git_user, "message": item.message, "comment_count": 0,
                   "tree": {"sha": tree, "url": f"{repo_url(base, app)}/git/trees/{tree}"},
                   "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                    "payload": None, "verified_at": None}},
        "author": person(base, item.author), "committer": person(base, item.author),
        "parents": parents,
    }


def commit_full(base: str, app: Application, item: Commit, parent: str | None) -> Json:
    """`GET .../commits/{ref}`: the commit with its stats and changed files."""
    body = commit(base, app, item, parent)
    files = [diff_file(base, app, item)]
    adds = sum(f["additions"] for f in files)
    dels = sum(f["deletions"] for f in files)
    body.update({"stats": {"total": adds + dels, "additions": adds, "deletions": dels},
                 "files": files})
    return body


def branch_url(base: str, app: Application, name: str) -> str:
    return f"{repo_url(base, app)}/branches/{quote(name, safe='')}"


def branch(base: str, app: Application, name: str, sha: str, protected: bool) -> Json:
    """A branch as `GET .../branches` lists it, with the protection a client may follow."""
    url = branch_url(base, app, name)
    return {"name": name, "commit": {"sha": sha, "url": f"{repo_url(base, app)}/commits/{sha}"},
            "protected": protected,
            "protection": {"enabled": protected,
                           "required_status_checks": {
                               "enforcement_level": "non_admins" if protected else "off",
                               "contexts": list(REQUIRED_CHECKS) if protected else [],
                               "checks": [{"context": name, "app_id": ACTIONS_APP_ID}
                                          for name in REQUIRED_CHECKS] if protected else []}},
            "protection_url": f"{url}/protection"}


def branch_full(base: str, app: Application, name: str, head: Json, protected: bool) -> Json:
    """`GET .../branches/{branch}`: the branch with its full head commit."""
    return {**branch(base, app, name, head["sha"], protected), "commit": head,
            "_links": {"self": branch_url(base, app, name),
                       "html": f"{base}/{app.repo_owner}/{app.repo_name}/tree/{name}"}}


def branch_protection(base: str, app: Application, name: str) -> Json:
    """`GET .../branches/{branch}/protection` of `main`: changes reach it by reviewed pull
    requests whose CI built and tested them (`checks.py`)."""
    url = f"{branch_url(base, app, name)}/protection"
    off = {"enabled": False}
    return {"url": url,
            "required_status_checks": {"url": f"{url}/required_status_checks", "strict": False,
                                       "contexts": list(REQUIRED_CHECKS),
                                       "checks": [{"context": check, "app_id": ACTIONS_APP_ID}
                                                  for check in REQUIRED_CHECKS],
                                       "contexts_url": f"{url}/required_status_checks/contexts"},
            "required_pull_request_reviews": {
                "url": f"{url}/required_pull_request_reviews", "dismiss_stale_reviews": False,
                "require_code_owner_reviews": False, "required_approving_review_count": 1,
                "require_last_push_approval": False},
            "required_signatures": {"url": f"{url}/required_signatures", "enabled": False},
            "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": False},
            "required_linear_history": off, "allow_force_pushes": off, "allow_deletions": off,
            "block_creations": off, "required_conversation_resolution": off,
            "lock_branch": off, "allow_fork_syncing": off}


def commit_path(app: Application, item: Commit) -> str:
    """The one file a commit changes (see `diff_file`)."""
    return f"src/{app.repo_name.replace('-', '_')}/{item.sha[:8]}.py"


def diff_file(base: str, app: Application, item: Commit) -> Json:
    name = commit_path(app, item)
    adds, dels = 1 + _small_int(item.sha) % 60, _small_int(item.sha, "d") % 20
    raw = f"{base}/{app.repo_owner}/{app.repo_name}/raw/{item.sha}/{name}"
    return {"sha": item.sha, "filename": name, "status": "modified", "additions": adds,
            "deletions": dels, "changes": adds + dels,
            "blob_url": f"{base}/{app.repo_owner}/{app.repo_name}/blob/{item.sha}/{name}",
            "raw_url": raw, "contents_url": f"{repo_url(base, app)}/contents/{name}?ref={item.sha}",
            "patch": f"@@ -1,{dels} +1,{adds} @@"}


# -- releases, deployments, environments ------------------------------------

def release(base: str, app: Application, item: GitHubRelease) -> Json:
    url = f"{repo_url(base, app)}/releases/{item.id}"
    html = f"{base}/{app.repo_owner}/{app.repo_name}"
    return {
        "url": url, "html_url": f"{html}/releases/tag/{item.tag_name}",
        "assets_url": f"{url}/assets", "upload_url": f"{base}/uploads/{app.repo_owner}/"
                                                      f"{app.repo_name}/releases/{item.id}/assets{{?name,label}}",
        "tarball_url": f"{repo_url(base, app)}/tarball/{item.tag_name}",
        "zipball_url": f"{repo_url(base, app)}/zipball/{item.tag_name}",
        "id": item.id, "node_id": node_id("Release", item.id), "tag_name": item.tag_name,
        "target_commitish": item.target, "name": item.name, "body": item.body, "draft": item.draft,
        "prerelease": item.prerelease, "immutable": False, "created_at": ts(item.created),
        "published_at": ts(item.published), "updated_at": ts(item.published or item.created),
        "author": person(base, item.author), "assets": [],
    }


def deployment(base: str, app: Application, item: Deployment,
               extras: Json | None = None) -> Json:
    url = f"{repo_url(base, app)}/deployments/{item.id}"
    updated = item.statuses[-1].created if item.statuses else item.created
    body: Json = {
        "url": url, "id": item.id, "node_id": node_id("Deployment", item.id), "sha": item.sha,
        "ref": item.ref, "task": "deploy", "payload": {}, "original_environment": item.environment,
        "environment": item.environment,
        "description": f"Deploy {item.ref} to {item.environment}",
        "creator": person(base, item.creator), "created_at": ts(item.created),
        "updated_at": ts(updated), "statuses_url": f"{url}/statuses",
        "repository_url": repo_url(base, app), "transient_environment": False,
        "production_environment": item.environment == "production",
        "performed_via_github_app": None,
    }
    body.update(extras or {})
    return body


def environment_url(app: Application, env: str) -> str:
    return f"https://{env}.{app.repo_name}.acme-retail.example"


def deployment_status(base: str, app: Application, item: Deployment,
                      status: DeploymentStatus) -> Json:
    deployment_url = f"{repo_url(base, app)}/deployments/{item.id}"
    log = f"{base}/{app.repo_owner}/{app.repo_name}/actions/runs/{status.id}"
    return {
        "url": f"{deployment_url}/statuses/{status.id}", "id": status.id,
        "node_id": node_id("DeploymentStatus", status.id), "state": status.state,
        "creator": person(base, item.creator), "description": status.description,
        "environment": item.environment, "target_url": log, "log_url": log,
        "environment_url": environment_url(app, item.environment),
        "created_at": ts(status.created), "updated_at": ts(status.created),
        "deployment_url": deployment_url, "repository_url": repo_url(base, app),
        "performed_via_github_app": None,
    }


def environment(base: str, app: Application, name: str) -> Json:
    ident = app.repo_id * 10 + ENVIRONMENTS.index(name)
    rules: list[Json] = []
    if name == "production":
        rules = [{"id": ident + 1, "node_id": node_id("Gate", ident + 1), "type": "wait_timer",
                  "wait_timer": 30}]
    return {
        "id": ident, "node_id": node_id("Environment", ident), "name": name,
        "url": f"{repo_url(base, app)}/environments/{name}",
        "html_url": f"{base}/{app.repo_owner}/{app.repo_name}/deployments/activity_log"
                    f"?environments_filter={name}",
        "created_at": "2021-03-01T10:00:00Z", "updated_at": "2021-03-01T10:00:00Z",
        "protection_rules": rules,
        "deployment_branch_policy": None if name != "production" else {
            "protected_branches": False, "custom_branch_policies": True},
    }
