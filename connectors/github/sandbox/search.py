"""GitHub's issue search syntax (`q=`), shared by `GET /search/issues` and GraphQL `search`.

Scripts find pull requests and issues by release with queries such as
`repo:acme-retail/payments-service is:pr is:merged milestone:"2026.11"`; the
same words must select the same items over REST and GraphQL, so both read
them here. Qualifiers that are not understood select nothing, as an unknown
qualifier value does on GitHub; free words match the title or body.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from connectors.github.sandbox.render import GitHubData
from connectors.sandbox.world import Application, GitHubIssue, PullRequest

Item = GitHubIssue | PullRequest


@dataclass(slots=True)
class IssueQuery:
    """One parsed `q`: every qualifier given must hold (labels: all of them)."""

    repos: list[str] = field(default_factory=list)  # "owner/name", lower case
    owners: list[str] = field(default_factory=list)
    kind: str | None = None  # "pr" | "issue"
    state: str | None = None  # "open" | "closed"
    merged: bool | None = None
    milestone: str | None = None
    no_milestone: bool = False
    labels: list[str] = field(default_factory=list)
    without_labels: list[str] = field(default_factory=list)
    author: str | None = None
    assignee: str | None = None
    words: list[str] = field(default_factory=list)
    impossible: bool = False  # a qualifier value nothing can match


def parse(q: str) -> IssueQuery:
    """Qualifiers as GitHub reads them; quoted values (`milestone:"Q4 train"`) keep spaces."""
    try:
        tokens = shlex.split(q)
    except ValueError:  # an unbalanced quote: GitHub reads the rest as words
        tokens = q.split()
    query = IssueQuery()
    for token in tokens:
        negated = token.startswith("-") and ":" in token
        key, sep, value = token.lstrip("-").partition(":") if negated else token.partition(":")
        key = key.lower()
        if not sep or not value:
            query.words.append(token.lower())
        elif key == "repo":
            query.repos.append(value.lower())
        elif key in ("org", "user", "owner"):
            query.owners.append(value.lower())
        elif key in ("is", "type", "state"):
            _is(query, value.lower())
        elif key == "milestone":
            query.milestone = value
        elif key == "no" and value.lower() == "milestone":
            query.no_milestone = True
        elif key == "label":
            (query.without_labels if negated else query.labels).append(value.lower())
        elif key == "author":
            query.author = value.lower()
        elif key == "assignee":
            query.assignee = value.lower()
        else:
            query.words.append(token.lower())
    return query


def _is(query: IssueQuery, value: str) -> None:
    if value in ("pr", "pull-request", "pull_request"):
        query.kind = "pr"
    elif value == "issue":
        query.kind = "issue"
    elif value in ("open", "closed"):
        query.state = value
    elif value == "merged":
        query.kind, query.merged = "pr", True
    elif value == "unmerged":
        query.kind, query.merged = "pr", False
    else:
        query.impossible = True


def search(data: GitHubData, query: IssueQuery) -> list[Item]:
    """Every issue and pull request the query selects, newest first."""
    if query.impossible:
        return []
    found: list[Item] = []
    for app in data.world.applications:
        if not _repo_selected(app, query):
            continue
        candidates: list[Item] = []
        if query.kind != "pr":
            candidates += data.issues(app)
        if query.kind != "issue":
            candidates += data.app_pulls(app)
        found += [item for item in candidates if _matches(data, item, query)]
    found.sort(key=lambda item: (item.created, item.id), reverse=True)
    return found


def _repo_selected(app: Application, query: IssueQuery) -> bool:
    full_name = f"{app.repo_owner}/{app.repo_name}".lower()
    if query.repos and full_name not in query.repos:
        return False
    return not query.owners or app.repo_owner.lower() in query.owners


def _matches(data: GitHubData, item: Item, query: IssueQuery) -> bool:
    if query.state is not None and item.state != query.state:
        return False
    if query.merged is not None and (
            not isinstance(item, PullRequest) or (item.merged_at is not None) != query.merged):
        return False
    release = data.milestone_by_key(item.release_key)
    if query.no_milestone and release is not None:
        return False
    if query.milestone is not None and (
            release is None or data.milestone_title(release) != query.milestone):
        return False
    names = {n.lower() for n in item.labels}
    if not set(query.labels) <= names or names & set(query.without_labels):
        return False
    if query.author is not None and item.author.github_login.lower() != query.author:
        return False
    if query.assignee is not None:
        who = item.assignee if isinstance(item, GitHubIssue) else None
        if who is None or who.github_login.lower() != query.assignee:
            return False
    text = f"{item.title}\n{item.body}".lower()
    return all(word in text for word in query.words)
