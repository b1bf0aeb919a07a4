"""Rules without I/O, fed from the seeded demo world.

The helpers below turn the world's vendor-neutral records into the canonical
records the connectors would return, so the tests use realistic releases.
"""

from __future__ import annotations

from api.domain.facts import AppFacts, ReleaseFacts
from connectors.base import (
    ApprovalState,
    ChangeRecord,
    ChangeState,
    ChangeType,
    PullRequest,
    RepositoryIssue,
    RiskLevel,
    TrackerIssue,
    WorkItem,
    WorkStatus,
)
from connectors.sandbox import world as sw

WORLD = sw.build_world(seed=7)
CATEGORY = {"new": WorkStatus.TODO, "indeterminate": WorkStatus.IN_PROGRESS,
            "done": WorkStatus.DONE}


def release_facts(key: str, *, tiers: tuple[str, ...] = ("PRODUCTION",)) -> ReleaseFacts:
    rel = WORLD.release(key)
    app = WORLD.app(rel.app_key)
    return ReleaseFacts(
        key=rel.key, name=f"{app.name} {rel.version_name}", type=rel.type, status=rel.status,
        window_start=rel.window_start, window_end=rel.window_end,
        applications=(AppFacts(app.key, app.name, (app.ci_name,)),),
        description=rel.description, tiers=tiers)


def tracker_issues(key: str) -> list[TrackerIssue]:
    return [TrackerIssue(
        source="jira", key=w.key, title=w.summary,
        url=f"https://acme-retail.example/browse/{w.key}", kind=w.issue_type,
        status=CATEGORY[w.status_category], status_label=w.status,
        assignee=w.assignee.display_name if w.assignee else None, updated_at=w.updated,
        issue_type=w.issue_type, priority=w.priority)
        for w in WORLD.work_items if w.release_key == key]


def pull_requests(key: str) -> list[PullRequest]:
    out = []
    for p in WORLD.pull_requests:
        if p.release_key != key:
            continue
        repo = f"{WORLD.org}/{WORLD.app(p.app_key).repo_name}"
        merged = p.merged_at is not None
        out.append(PullRequest(
            source="github", key=f"{repo}#{p.number}", title=p.title,
            url=f"https://github.example/{repo}/pull/{p.number}", kind="pull_request",
            status=WorkStatus.DONE if merged else WorkStatus.IN_PROGRESS,
            status_label="merged" if merged else "open", assignee=p.author.display_name,
            updated_at=p.updated, repository=repo, number=p.number, merged=merged,
            merged_at=p.merged_at, base_ref=p.base_ref))
    return out


def repository_issues(key: str) -> list[RepositoryIssue]:
    out = []
    for i in WORLD.github_issues:
        if i.release_key != key:
            continue
        repo = f"{WORLD.org}/{WORLD.app(i.app_key).repo_name}"
        out.append(RepositoryIssue(
            source="github", key=f"{repo}#{i.number}", title=i.title,
            url=f"https://github.example/{repo}/issues/{i.number}", kind="issue",
            status=WorkStatus.DONE if i.state == "closed" else WorkStatus.TODO,
            status_label=i.state, assignee=i.assignee.display_name if i.assignee else None,
            updated_at=i.updated, repository=repo, number=i.number))
    return out


def all_items(key: str) -> list[WorkItem]:
    return [*tracker_issues(key), *pull_requests(key), *repository_issues(key)]


def change_records(key: str) -> list[ChangeRecord]:
    return [ChangeRecord(
        source=c.itsm, number=f"CHG{c.seq:07d}", upstream_id=str(c.seq), title=c.title,
        url=f"https://itsm.example/change/{c.seq}", state=ChangeState[c.stage.upper()],
        state_label=c.stage.replace("_", " ").title(), type=ChangeType[c.change_type.upper()],
        approval=ApprovalState[c.approval.upper()], risk=RiskLevel[c.risk.upper()],
        planned_start=c.planned_start, planned_end=c.planned_end)
        for c in WORLD.change_requests if c.release_key == key]
