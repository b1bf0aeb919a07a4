"""GitHub payloads (REST v3 and GraphQL v4) -> Heatshield's canonical records.

Pure functions, no I/O. Decisions on GitHub's states, so the graph's
`status` means the same for every tracker:

* issue `open` -> TODO, or IN_PROGRESS once someone is assigned;
* pull request `open` or `draft` -> IN_PROGRESS (code exists, work is under way);
* issue `closed` (completed, not planned or duplicate), pull request `merged`,
  pull request `closed` unmerged -> DONE: nothing is left to do for the release,
  and `status_label` keeps the difference (`closed` vs `merged`).

`status_label` is GitHub's own word: `open`, `closed`, `merged` or `draft`. An
instance's `status_map` is matched on that word, and on deployment states.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from connectors.base import (
    Deployment,
    DeploymentState,
    LinkKind,
    PullRequest,
    RepositoryIssue,
    VersionRef,
    WorkStatus,
    map_status,
)
from connectors.http import has_control

Json = Mapping[str, Any]

NO_OVERRIDES: Mapping[str, str] = MappingProxyType({})

OPEN, CLOSED, MERGED, DRAFT = "open", "closed", "merged", "draft"

#: Issue words when nobody is assigned, and when someone is.
ISSUE_STATUS: Mapping[str, WorkStatus] = {OPEN: WorkStatus.TODO, CLOSED: WorkStatus.DONE}
ASSIGNED_ISSUE_STATUS: Mapping[str, WorkStatus] = {OPEN: WorkStatus.IN_PROGRESS,
                                                   CLOSED: WorkStatus.DONE}
PULL_STATUS: Mapping[str, WorkStatus] = {
    OPEN: WorkStatus.IN_PROGRESS, DRAFT: WorkStatus.IN_PROGRESS,
    MERGED: WorkStatus.DONE, CLOSED: WorkStatus.DONE,
}
#: Every state a deployment status can take: what REST `POST .../statuses` accepts,
#: plus `waiting` (held by an environment's protection rule), which GraphQL reports.
DEPLOYMENT_STATE: Mapping[str, DeploymentState] = {
    "pending": DeploymentState.PENDING,
    "queued": DeploymentState.PENDING,
    "waiting": DeploymentState.PENDING,
    "in_progress": DeploymentState.IN_PROGRESS,
    "success": DeploymentState.SUCCESS,
    "failure": DeploymentState.FAILURE,
    "error": DeploymentState.FAILURE,
    "inactive": DeploymentState.INACTIVE,
}
#: A deployment nobody has reported on yet is waiting to start.
NO_STATUS_YET = "pending"

_NAME = r"[A-Za-z0-9_.-]{1,100}"
_MILESTONE_KEY = re.compile(rf"^({_NAME})/({_NAME})#([1-9][0-9]{{0,9}})$")
_COMPARE_KEY = re.compile(rf"^({_NAME})/({_NAME})@(.+?)\.\.\.(.+)$")
_REPOSITORY = re.compile(rf"^({_NAME})/({_NAME})$")
#: A cross-repository compare names a fork's ref as `owner:ref`.
_FORK_REF = re.compile(rf"^({_NAME}):(.+)$")
#: What git's check-ref-format refuses in a ref name, plus `%`, which would be URL
#: encoding in disguise (a ref is stored as GitHub names it, never pre-encoded).
_REF_FORBIDDEN = set(" ~^:?*[\\%")
#: GraphQL's Int, which milestone numbers go through.
MAX_NUMBER = 2**31 - 1
# A squash merge's title ends "(#123)"; a merge commit's starts "Merge pull request #123".
_SQUASH_REF = re.compile(r"\(#([0-9]+)\)\s*$")
_MERGE_REF = re.compile(r"^Merge pull request #([0-9]+) ")
_REPO_IN_URL = re.compile(rf"/repos/({_NAME})/({_NAME})(?:/|$)")


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True)
class MilestoneKey:
    owner: str
    repo: str
    number: int

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.repo}"

    def __str__(self) -> str:
        return f"{self.repository}#{self.number}"


@dataclass(frozen=True, slots=True)
class CompareKey:
    owner: str
    repo: str
    base: str
    head: str

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def basehead(self) -> str:
        return f"{self.base}...{self.head}"

    def __str__(self) -> str:
        return f"{self.repository}@{self.basehead}"


def _names(owner: str, repo: str) -> tuple[str, str]:
    """`.` and `..` match the name pattern but would walk a URL path: no such repository."""
    if {owner, repo} & {".", ".."}:
        raise ValueError("names no repository: '.' and '..' are not owner or repository names")
    return owner, repo


def ref_problem(ref: str) -> str | None:
    """Why `ref` cannot be a git ref name (git check-ref-format's rules), or None."""
    name = _FORK_REF.match(ref)
    if name is not None:
        if name[1] in (".", ".."):
            return "names a fork owner that cannot exist"
        ref = name[2]
    if has_control(ref):
        return "has a control character in a ref"
    if any(c in _REF_FORBIDDEN for c in ref):
        return "has a character a git ref cannot hold (space ~ ^ : ? * [ \\ %)"
    if ".." in ref or "@{" in ref or ref == "@":
        return "has a ref with '..' or '@{', which git refuses"
    if ref.startswith("/") or ref.endswith(("/", ".", ".lock")) or "//" in ref:
        return "has a ref that begins or ends with '/', ends with '.', or has '//'"
    if any(part.startswith(".") for part in ref.split("/")):
        return "has a ref with a part that begins with '.'"
    return None


def parse_milestone_key(key: str) -> MilestoneKey:
    """`owner/repo#12`; a ValueError says what was wrong, for link validation."""
    match = _MILESTONE_KEY.match(key.strip())
    if match is None:
        raise ValueError("is not a GitHub milestone key (owner/repo#number, "
                         f"number from 1 to {MAX_NUMBER})")
    number = int(match[3])
    if number > MAX_NUMBER:
        raise ValueError(f"is not a GitHub milestone key (owner/repo#number, number from 1 "
                         f"to {MAX_NUMBER})")
    return MilestoneKey(*_names(match[1], match[2]), number)


def parse_compare_key(key: str) -> CompareKey:
    """`owner/repo@base...head` (three dots, as GitHub's compare takes it); each ref a
    valid git ref name, so that no ref can walk the compare URL's path."""
    match = _COMPARE_KEY.match(key.strip())
    if match is None:
        raise ValueError("is not a GitHub compare key (owner/repo@base...head)")
    owner, repo = _names(match[1], match[2])
    for ref in (match[3], match[4]):
        problem = ref_problem(ref)
        if problem is not None:
            raise ValueError(f"is not a GitHub compare key (owner/repo@base...head): {problem}")
    return CompareKey(owner, repo, match[3], match[4])


def parse_repository(name: str) -> tuple[str, str]:
    match = _REPOSITORY.match(name.strip())
    if match is None:
        raise ValueError("is not a GitHub repository (owner/name)")
    return _names(match[1], match[2])


def item_key(repository: str, number: int) -> str:
    return f"{repository}#{number}"


def pull_numbers(messages: Iterable[str]) -> list[int]:
    """Pull requests named by merge commits, first seen first, each once."""
    seen: dict[int, None] = {}
    for message in messages:
        title = message.split("\n", 1)[0]
        match = _SQUASH_REF.search(title) or _MERGE_REF.match(title)
        if match is not None:
            seen.setdefault(int(match[1]), None)
    return list(seen)


def repository_from_url(url: str) -> str | None:
    """`owner/name` from an API URL such as `.../repos/owner/name/issues/3`."""
    match = _REPO_IN_URL.search(url)
    return None if match is None else f"{match[1]}/{match[2]}"


# --------------------------------------------------------------------------- values


def parse_time(value: str | None) -> datetime | None:
    """GitHub's ISO-8601 UTC timestamps (`2025-06-20T09:00:00Z`)."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _required_time(value: str | None, what: str) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError(f"{what} has no timestamp")
    return parsed


def _login(actor: Any) -> str | None:
    return actor.get("login") if isinstance(actor, Mapping) else None


def _first_assignee(raw: Json) -> str | None:
    """REST `assignees`/`assignee`, or a GraphQL `assignees { nodes { login } }`."""
    people = raw.get("assignees")
    if isinstance(people, Mapping):
        people = people.get("nodes")
    if isinstance(people, list) and people:
        return _login(people[0])
    return _login(raw.get("assignee"))


def issue_label(state: str) -> str:
    """GraphQL says OPEN/CLOSED, REST open/closed; the label is GitHub's REST word."""
    return state.lower()


def pull_label(state: str, *, merged: bool, draft: bool) -> str:
    if merged or state.upper() == "MERGED":
        return MERGED
    if state.lower() == CLOSED:
        return CLOSED
    return DRAFT if draft else OPEN


def issue_status(label: str, assigned: bool, status_map: Mapping[str, str]) -> WorkStatus:
    defaults = ASSIGNED_ISSUE_STATUS if assigned else ISSUE_STATUS
    return map_status(label, defaults, status_map, WorkStatus.TODO)


def pull_status(label: str, status_map: Mapping[str, str]) -> WorkStatus:
    return map_status(label, PULL_STATUS, status_map, WorkStatus.IN_PROGRESS)


def deployment_state(label: str, status_map: Mapping[str, str]) -> DeploymentState:
    return map_status(label, DEPLOYMENT_STATE, status_map, DeploymentState.PENDING)


# --------------------------------------------------------------------------- GraphQL


def issue_from_graphql(node: Json, *, source: str, repository: str, milestone: str | None,
                       status_map: Mapping[str, str] = NO_OVERRIDES) -> RepositoryIssue:
    """An `Issue` node (number title url state updatedAt, optionally assignees)."""
    label = issue_label(node["state"])
    assignee = _first_assignee(node)
    return RepositoryIssue(
        source=source, key=item_key(repository, node["number"]), title=node["title"],
        url=node["url"], kind="issue", status=issue_status(label, assignee is not None,
                                                            status_map),
        status_label=label, assignee=assignee,
        updated_at=_required_time(node.get("updatedAt"), "issue"),
        repository=repository, number=node["number"], milestone=milestone,
    )


def pull_from_graphql(node: Json, *, source: str, repository: str,
                      milestone: str | None = None,
                      status_map: Mapping[str, str] = NO_OVERRIDES) -> PullRequest:
    """A `PullRequest` node; the assignee is the first assignee, else its author."""
    merged = bool(node.get("merged"))
    label = pull_label(node["state"], merged=merged, draft=bool(node.get("isDraft")))
    own_milestone = node.get("milestone")
    if isinstance(own_milestone, Mapping):
        milestone = own_milestone.get("title", milestone)
    return PullRequest(
        source=source, key=item_key(repository, node["number"]), title=node["title"],
        url=node["url"], kind="pull_request", status=pull_status(label, status_map),
        status_label=label, assignee=_first_assignee(node) or _login(node.get("author")),
        updated_at=_required_time(node.get("updatedAt"), "pull request"),
        repository=repository, number=node["number"], milestone=milestone,
        merged=merged, merged_at=parse_time(node.get("mergedAt")),
        base_ref=node.get("baseRefName"), first_commit_at=_first_commit_at(node),
    )


def _first_commit_at(node: Json) -> datetime | None:
    """`commits(first: 1)` lists the oldest commit first; absent when not asked for."""
    commits = node.get("commits")
    nodes = commits.get("nodes") if isinstance(commits, Mapping) else None
    if not nodes or not isinstance(nodes[0], Mapping):
        return None
    commit = nodes[0].get("commit")
    return parse_time(commit.get("authoredDate")) if isinstance(commit, Mapping) else None


def deployment_from_graphql(node: Json, *, source: str, repository: str, repository_url: str,
                            status_map: Mapping[str, str] = NO_OVERRIDES) -> Deployment:
    """A `Deployment` node with its `latestStatus`, read like its REST twin.

    The state is the latest status's (lower-cased to REST's word), not the
    node's own `state` (ACTIVE...), so both APIs give one vocabulary. GraphQL
    has no API URL for a deployment: without a status log, `url` is the
    repository's deployments page. A deployment made from a bare SHA has no `ref`.
    """
    latest = node.get("latestStatus")
    latest = latest if isinstance(latest, Mapping) else None
    label = str(latest["state"]).lower() if latest else NO_STATUS_YET
    updated = ((latest or {}).get("updatedAt") or (latest or {}).get("createdAt")
               or node.get("updatedAt") or node.get("createdAt"))
    ref = node.get("ref")
    ident = node.get("databaseId")
    return Deployment(
        source=source, id=str(ident if ident is not None else node["id"]),
        repository=repository, environment=node["environment"],
        ref=ref["name"] if isinstance(ref, Mapping) else node["commitOid"],
        sha=node["commitOid"], state=deployment_state(label, status_map), state_label=label,
        created_at=_required_time(node.get("createdAt"), "deployment"),
        updated_at=_required_time(updated, "deployment"),
        url=(latest or {}).get("logUrl") or f"{repository_url.rstrip('/')}/deployments",
        creator=_login(node.get("creator")),
        committed_at=parse_time(commit.get("committedDate"))
        if isinstance(commit := node.get("commit"), Mapping) else None,
    )


# --------------------------------------------------------------------------- REST


def is_pull_request(raw: Json) -> bool:
    """Issue lists mix in pull requests; very old issues carry an all-null `pull_request`."""
    marker = raw.get("pull_request")
    return isinstance(marker, Mapping) and marker.get("html_url") is not None


def _milestone_title(raw: Json) -> str | None:
    milestone = raw.get("milestone")
    return milestone.get("title") if isinstance(milestone, Mapping) else None


def _rest_repository(raw: Json, repository: str | None) -> str:
    if repository:
        return repository
    for field_name in ("repository_url", "url"):
        value = raw.get(field_name)
        found = repository_from_url(value) if isinstance(value, str) else None
        if found:
            return found
    raise ValueError("cannot tell which repository this payload belongs to")


def issue_from_rest(raw: Json, *, source: str, repository: str | None = None,
                    status_map: Mapping[str, str] = NO_OVERRIDES) -> RepositoryIssue:
    """A REST issue; when it is a pull request in disguise, a `PullRequest`."""
    repo = _rest_repository(raw, repository)
    if is_pull_request(raw):
        merged_at = raw["pull_request"].get("merged_at")
        label = pull_label(raw["state"], merged=merged_at is not None,
                           draft=bool(raw.get("draft")))
        return PullRequest(
            source=source, key=item_key(repo, raw["number"]), title=raw["title"],
            url=raw["html_url"], kind="pull_request", status=pull_status(label, status_map),
            status_label=label, assignee=_first_assignee(raw) or _login(raw.get("user")),
            updated_at=_required_time(raw.get("updated_at"), "pull request"),
            repository=repo, number=raw["number"], milestone=_milestone_title(raw),
            merged=merged_at is not None, merged_at=parse_time(merged_at),
        )
    label = issue_label(raw["state"])
    assignee = _first_assignee(raw)
    return RepositoryIssue(
        source=source, key=item_key(repo, raw["number"]), title=raw["title"],
        url=raw["html_url"], kind="issue",
        status=issue_status(label, assignee is not None, status_map), status_label=label,
        assignee=assignee, updated_at=_required_time(raw.get("updated_at"), "issue"),
        repository=repo, number=raw["number"], milestone=_milestone_title(raw),
    )


def pull_from_rest(raw: Json, *, source: str, status_map: Mapping[str, str] = NO_OVERRIDES
                   ) -> PullRequest:
    """A REST pull request (list item or full); its repository is the base's."""
    base: Json = raw["base"] if isinstance(raw.get("base"), Mapping) else {}
    base_repo: Json = base["repo"] if isinstance(base.get("repo"), Mapping) else {}
    repo = base_repo.get("full_name") or _rest_repository(raw, None)
    merged_at = raw.get("merged_at")
    merged = bool(raw.get("merged")) or merged_at is not None
    label = pull_label(raw["state"], merged=merged, draft=bool(raw.get("draft")))
    return PullRequest(
        source=source, key=item_key(repo, raw["number"]), title=raw["title"],
        url=raw["html_url"], kind="pull_request", status=pull_status(label, status_map),
        status_label=label, assignee=_first_assignee(raw) or _login(raw.get("user")),
        updated_at=_required_time(raw.get("updated_at"), "pull request"),
        repository=repo, number=raw["number"], milestone=_milestone_title(raw),
        merged=merged, merged_at=parse_time(merged_at), base_ref=base.get("ref"),
    )


def version_from_milestone(raw: Json, *, source: str, repository: str) -> VersionRef:
    """A milestone is a version; closed means released, `due_on` is its date.

    Milestones recorded before GitHub added `html_url` only carry their API `url`.
    """
    return VersionRef(
        source=source, kind=LinkKind.MILESTONE,
        id=item_key(repository, raw["number"]), name=raw["title"], container=repository,
        url=raw.get("html_url") or raw["url"], released=raw.get("state") == CLOSED,
        release_date=parse_time(raw.get("due_on")), description=raw.get("description"),
    )


def deployment_from_rest(raw: Json, latest_status: Json | None, *, source: str,
                         repository: str | None = None,
                         status_map: Mapping[str, str] = NO_OVERRIDES) -> Deployment:
    """A deployment with the newest of its statuses (GitHub lists statuses newest first).

    `url` is the status's log or target URL (what a person opens), else the
    deployment's API URL.
    """
    label = latest_status["state"] if latest_status else NO_STATUS_YET
    updated = (latest_status or {}).get("updated_at") or (latest_status or {}).get(
        "created_at") or raw.get("updated_at") or raw.get("created_at")
    link = None
    if latest_status:
        link = latest_status.get("log_url") or latest_status.get("target_url")
    return Deployment(
        source=source, id=str(raw["id"]), repository=_rest_repository(raw, repository),
        environment=raw["environment"], ref=raw["ref"], sha=raw["sha"],
        state=deployment_state(label, status_map), state_label=label,
        created_at=_required_time(raw.get("created_at"), "deployment"),
        updated_at=_required_time(updated, "deployment"), url=link or raw["url"],
        creator=_login(raw.get("creator")),
    )
