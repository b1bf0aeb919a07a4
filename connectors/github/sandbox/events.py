"""Issue events: what happened to each issue and pull request, as GitHub's timeline of
`closed`, `labeled`, `milestoned`... records (`/repos/{o}/{r}/issues/{n}/events`).

An item of the world has the history its state implies (its labels, milestone and
assignee set when it was opened, closed or merged when the world says so), derived
the same way on every run; what a write through the sandbox changes is recorded as it
happens, by the token's owner. Release scripts read these to say who closed what, and
when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.github.sandbox import render
from connectors.github.sandbox.render import GitHubData, IssueEvent, Json, node_id, repo_url, ts
from connectors.sandbox.world import Application, GitHubIssue, Person, PullRequest

Item = GitHubIssue | PullRequest

#: Derived events' ids: far from every other id the sandbox hands out.
EVENT_ID_OFFSET = 7_000_000_000
#: Each event name's GraphQL type, which its `node_id` names.
NODE_TYPES = {"closed": "ClosedEvent", "reopened": "ReopenedEvent", "merged": "MergedEvent",
              "labeled": "LabeledEvent", "unlabeled": "UnlabeledEvent",
              "milestoned": "MilestonedEvent", "demilestoned": "DemilestonedEvent",
              "assigned": "AssignedEvent", "unassigned": "UnassignedEvent",
              "renamed": "RenamedTitleEvent"}


def derived(data: GitHubData, item: Item) -> list[IssueEvent]:
    """The history the world's own state for `item` implies (not what writes did since)."""
    original = _original(data, item)
    if original is None:
        return []  # made through the sandbox: every event of it was recorded
    made: list[IssueEvent] = []

    def add(event: str, actor: Person, at: datetime, **fields: Any) -> None:
        ident = EVENT_ID_OFFSET + render.issue_id(original) * 32 + len(made)
        made.append(IssueEvent(ident, original.app_key, original.number, event, actor, at,
                               **fields))

    milestone = data.milestone_by_key(original.release_key)
    if milestone is not None:
        add("milestoned", original.author, original.created,
            milestone=data.milestone_title(milestone))
    for name in original.labels:
        add("labeled", original.author, original.created, label=name)
    if isinstance(original, GitHubIssue):
        if original.assignee is not None:
            add("assigned", original.author, original.created, assignee=original.assignee)
        if original.closed_at is not None:
            add("closed", original.assignee or original.author, original.closed_at,
                state_reason=original.state_reason or "completed")
    elif original.merged_at is not None:
        add("merged", original.author, original.merged_at,
            commit_id=original.merge_commit_sha)
        add("closed", original.author, original.merged_at,
            commit_id=original.merge_commit_sha)
    elif original.closed_at is not None:
        add("closed", original.author, original.closed_at)
    return made


def _original(data: GitHubData, item: Item) -> Item | None:
    world: list[GitHubIssue] | list[PullRequest] = (
        data.world.github_issues if isinstance(item, GitHubIssue) else data.world.pull_requests)
    return next((o for o in world if o.app_key == item.app_key and o.number == item.number),
                None)


def of_item(data: GitHubData, item: Item) -> list[IssueEvent]:
    """Every event of one issue or pull request, oldest first."""
    recorded = [e for e in data.issue_events
                if e.app_key == item.app_key and e.number == item.number]
    return sorted([*derived(data, item), *recorded], key=lambda e: (e.at, e.id))


def of_repository(data: GitHubData, app: Application) -> list[IssueEvent]:
    """Every event of the repository's issues and pull requests, newest first."""
    items: list[Item] = [*data.issues(app), *data.app_pulls(app)]
    events = [e for item in items for e in of_item(data, item)]
    return sorted(events, key=lambda e: (e.at, e.id), reverse=True)


def changes(data: GitHubData, before: Item, after: Item, actor: Person,
            at: datetime) -> list[IssueEvent]:
    """The events an edit from `before` to `after` makes, in the order GitHub records
    them; their ids are new."""
    made: list[IssueEvent] = []

    def add(event: str, **fields: Any) -> None:
        made.append(IssueEvent(data.new_id(), after.app_key, after.number, event, actor, at,
                               **fields))

    if before.title != after.title:
        add("renamed", rename=(before.title, after.title))
    if before.release_key != after.release_key:
        for key, event in ((before.release_key, "demilestoned"),
                           (after.release_key, "milestoned")):
            milestone = data.milestone_by_key(key)
            if milestone is not None:
                add(event, milestone=data.milestone_title(milestone))
    had = {n.lower() for n in before.labels}
    has = {n.lower() for n in after.labels}
    for name in before.labels:
        if name.lower() not in has:
            add("unlabeled", label=name)
    for name in after.labels:
        if name.lower() not in had:
            add("labeled", label=name)
    if isinstance(before, GitHubIssue) and isinstance(after, GitHubIssue) \
            and before.assignee != after.assignee:
        if before.assignee is not None:
            add("unassigned", assignee=before.assignee)
        if after.assignee is not None:
            add("assigned", assignee=after.assignee)
    if isinstance(after, PullRequest) and after.merged_at is not None \
            and isinstance(before, PullRequest) and before.merged_at is None:
        add("merged", commit_id=after.merge_commit_sha)
        add("closed", commit_id=after.merge_commit_sha)
    elif before.state != after.state:
        reason = after.state_reason if isinstance(after, GitHubIssue) else None
        add("closed" if after.state == "closed" else "reopened", state_reason=reason)
    return made


def rendered(base: str, data: GitHubData, event: IssueEvent, *, with_issue: bool) -> Json:
    """An event as the REST API gives it; the repository's listing and a single event
    carry the issue (as it is now), an issue's own listing does not."""
    app = data.world.app(event.app_key)
    repo = repo_url(base, app)
    body: Json = {
        "id": event.id, "node_id": node_id(NODE_TYPES[event.event], event.id),
        "url": f"{repo}/issues/events/{event.id}",
        "actor": render.person(base, event.actor), "event": event.event,
        "commit_id": event.commit_id,
        "commit_url": f"{repo}/commits/{event.commit_id}" if event.commit_id else None,
        "created_at": ts(event.at), "performed_via_github_app": None,
    }
    if event.label is not None:
        colour = data.label_json(base, app, event.label)["color"]
        body["label"] = {"name": event.label, "color": colour}
    if event.milestone is not None:
        body["milestone"] = {"title": event.milestone}
    if event.assignee is not None:
        body["assignee"] = render.person(base, event.assignee)
        body["assigner"] = render.person(base, event.actor)
    if event.rename is not None:
        body["rename"] = {"from": event.rename[0], "to": event.rename[1]}
    if event.event in ("closed", "reopened"):
        body["state_reason"] = event.state_reason
    if with_issue:
        item = data.numbered(app, event.number)
        assert item is not None  # events are of items that exist
        body["issue"] = (render.issue(base, data, item) if isinstance(item, GitHubIssue)
                         else render.pull_as_issue(base, data, item))
    return body
