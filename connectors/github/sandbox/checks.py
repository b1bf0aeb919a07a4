"""Continuous integration as GitHub's checks API reports it: every commit of the world
ran GitHub Actions' CI (build, test, lint). Pure rendering: no I/O.

The outcome is a function of the commit's sha, so every run of the sandbox tells the
same story without drawing from the world's generator (which would change every
record drawn after it): a release commit (`Release v1.4.0`) passed, as it shipped;
about one other commit in nine failed its tests. Commit statuses (the older API) stay
empty, as on a repository whose CI reports through checks only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.github.sandbox import render
from connectors.github.sandbox.render import ACTIONS_APP_ID, Json, repo_url, ts
from connectors.sandbox.world import Application, Commit

ACTIONS_SLUG = "github-actions"
#: The CI workflow's jobs, in the order they start (`REQUIRED_CHECKS` among them).
CHECKS = ("build", "test", "lint")


def _number(sha: str, width: int = 7) -> int:
    return int(sha[:width], 16)


def failed_check(commit: Commit) -> str | None:
    """The check this commit failed, if any (only `test` ever does)."""
    if commit.message.startswith("Release "):
        return None
    return "test" if _number(commit.sha) % 9 == 0 else None


def suite_id(commit: Commit) -> int:
    return 3_000_000_000 + _number(commit.sha)


def run_ids(commit: Commit) -> list[int]:
    base = 40_000_000_000 + _number(commit.sha) * 10
    return [base + index for index in range(len(CHECKS))]


def run_times(commit: Commit, index: int) -> tuple[datetime, datetime]:
    """When a job of the commit's CI started and completed."""
    started = commit.date + timedelta(minutes=1, seconds=20 * index)
    return started, started + timedelta(seconds=60 + _number(commit.sha, 3) % 240 + 60 * index)


def actions_app(base: str) -> Json:
    return {"id": ACTIONS_APP_ID, "slug": ACTIONS_SLUG, "node_id": "MDM6QXBwMTUzNjg=",
            "name": "GitHub Actions", "description": "Automate your workflow",
            "external_url": "https://help.github.com/en/actions",
            "html_url": f"{base}/apps/{ACTIONS_SLUG}",
            "owner": render.user(base, "github", 9919, "Organization"),
            "created_at": "2018-07-30T09:30:17Z", "updated_at": "2019-12-10T19:04:12Z",
            "permissions": {"actions": "write", "checks": "write", "contents": "write",
                            "metadata": "read", "pull_requests": "write",
                            "statuses": "write"},
            "events": ["check_run", "check_suite", "pull_request", "push", "workflow_run"]}


def check_run(base: str, app: Application, commit: Commit, index: int) -> Json:
    """One job of the commit's CI run as `GET .../check-runs/{id}` answers it."""
    name = CHECKS[index]
    ident = run_ids(commit)[index]
    started, completed = run_times(commit, index)
    failed = failed_check(commit) == name
    repo = repo_url(base, app)
    html = f"{base}/{app.repo_owner}/{app.repo_name}"
    workflow_run = suite_id(commit) - 2_000_000_000
    output = ({"title": "2 tests failed", "summary": "2 of 412 tests failed.",
               "annotations_count": 2} if failed else
              {"title": f"{name} passed", "summary": f"The {name} job succeeded.",
               "annotations_count": 0})
    return {
        "id": ident, "node_id": render.node_id("CheckRun", ident), "name": name,
        "head_sha": commit.sha, "external_id": f"{workflow_run}-{index}",
        "url": f"{repo}/check-runs/{ident}",
        "html_url": f"{html}/actions/runs/{workflow_run}/job/{ident}",
        "details_url": f"{html}/actions/runs/{workflow_run}/job/{ident}",
        "status": "completed", "conclusion": "failure" if failed else "success",
        "started_at": ts(started), "completed_at": ts(completed),
        "output": {**output, "text": None,
                   "annotations_url": f"{repo}/check-runs/{ident}/annotations"},
        "check_suite": {"id": suite_id(commit)}, "app": actions_app(base),
        "pull_requests": []}


def check_runs(base: str, app: Application, commit: Commit) -> list[Json]:
    return [check_run(base, app, commit, index) for index in range(len(CHECKS))]


def check_suite(base: str, app: Application, commit: Commit, parent: str | None) -> Json:
    """The commit's one suite (GitHub Actions' CI), concluded by its worst run."""
    ident = suite_id(commit)
    repo = repo_url(base, app)
    return {
        "id": ident, "node_id": render.node_id("CheckSuite", ident), "head_branch": None,
        "head_sha": commit.sha, "status": "completed",
        "conclusion": "failure" if failed_check(commit) else "success",
        "url": f"{repo}/check-suites/{ident}", "before": parent or "0" * 40,
        "after": commit.sha, "pull_requests": [], "app": actions_app(base),
        "created_at": ts(commit.date + timedelta(minutes=1)),
        "updated_at": ts(run_times(commit, len(CHECKS) - 1)[1]), "rerequestable": True,
        "runs_rerequestable": True, "latest_check_runs_count": len(CHECKS),
        "check_runs_url": f"{repo}/check-suites/{ident}/check-runs",
        "head_commit": {"id": commit.sha, "tree_id": commit.sha[::-1],
                        "message": commit.message, "timestamp": ts(commit.date),
                        "author": {"name": commit.author.display_name,
                                   "email": commit.author.email},
                        "committer": {"name": commit.author.display_name,
                                      "email": commit.author.email}},
        "repository": {"id": app.repo_id, "name": app.repo_name,
                       "full_name": f"{app.repo_owner}/{app.repo_name}", "url": repo}}
