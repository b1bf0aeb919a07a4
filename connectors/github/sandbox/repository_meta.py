"""What a repository says about itself beside its git history: topics, languages, its
README, who may write to it, and its Actions runs. Pure rendering: no I/O.

Each answer agrees with the repository object the sandbox serves (`render.repository`:
one topic, written in Python, the token's owner may push but not administer). The
workflow runs listed are those a deployment protection rule held (`GitHubData.runs`),
each `waiting` until the rule's app answers, then `completed` (a success if approved, a
failure if rejected); CI's jobs are read as check runs (`checks.py`).
"""

from __future__ import annotations

import base64
import hashlib

from connectors.github.sandbox import render
from connectors.github.sandbox.render import GitHubData, Json, repo_url, ts
from connectors.sandbox.world import Application, Person

#: The workflow a protection rule's held run belongs to (the world defines no other).
DEPLOY_WORKFLOW = ".github/workflows/deploy.yml"


def topics() -> Json:
    return {"names": list(render.TOPICS)}


def languages() -> Json:
    """Bytes of code per language: the whole repository's size, in its one language."""
    return {render.LANGUAGE: render.SIZE_KB * 1024}


def workflows(base: str, app: Application) -> Json:
    """`GET .../actions/workflows`: the deployment workflow protection rules hold."""
    ident = _workflow_id(app)
    return {"total_count": 1, "workflows": [{
        "id": ident, "node_id": render.node_id("Workflow", ident), "name": "Deploy",
        "path": DEPLOY_WORKFLOW, "state": "active", "created_at": "2021-03-01T10:00:00Z",
        "updated_at": "2021-03-01T10:00:00Z",
        "url": f"{repo_url(base, app)}/actions/workflows/{ident}",
        "html_url": f"{base}/{app.repo_owner}/{app.repo_name}/blob/main/{DEPLOY_WORKFLOW}",
        "badge_url": f"{base}/{app.repo_owner}/{app.repo_name}/workflows/Deploy/badge.svg"}]}


def readme_text(app: Application) -> str:
    return (f"# {app.repo_name}\n\n{app.name} ({app.key}), released on the "
            f"release train.\n\nSupport: {app.support_group}.\n")


def readme(base: str, app: Application) -> Json:
    """`GET .../readme`: the README as a base64 `file` content object."""
    text = readme_text(app).encode()
    sha = hashlib.sha1(b"blob %d\0" % len(text) + text).hexdigest()
    url = f"{repo_url(base, app)}/contents/README.md?ref=main"
    html = f"{base}/{app.repo_owner}/{app.repo_name}/blob/main/README.md"
    git = f"{repo_url(base, app)}/git/blobs/{sha}"
    return {"type": "file", "encoding": "base64", "size": len(text), "name": "README.md",
            "path": "README.md", "content": base64.b64encode(text).decode(), "sha": sha,
            "url": url, "git_url": git, "html_url": html,
            "download_url": f"{base}/raw/{app.repo_owner}/{app.repo_name}/main/README.md",
            "_links": {"self": url, "git": git, "html": html}}


def role_of(app: Application, who: Person) -> str:
    """The application's lead administers its repository; everyone else writes to it."""
    return "admin" if who.github_login == app.lead.github_login else "write"


def permissions(role: str) -> Json:
    admin = role == "admin"
    return {"admin": admin, "maintain": admin, "push": True, "triage": True, "pull": True}


def collaborator(base: str, app: Application, who: Person) -> Json:
    role = role_of(app, who)
    return {**render.person(base, who), "permissions": permissions(role), "role_name": role}


def permission(base: str, app: Application, who: Person) -> Json:
    """`GET .../collaborators/{user}/permission`."""
    role = role_of(app, who)
    return {"permission": role, "role_name": role, "user": collaborator(base, app, who)}


def workflow_run(base: str, data: GitHubData, app: Application, run_id: int,
                 deployment_id: int, conclusion: str | None) -> Json:
    """A run a deployment protection rule held, as `GET .../actions/runs` lists it;
    `conclusion` None while it waits for the rule's answer."""
    item = next(d for d in data.deployments if d.id == deployment_id)
    repo = repo_url(base, app)
    run = f"{repo}/actions/runs/{run_id}"
    html = f"{base}/{app.repo_owner}/{app.repo_name}/actions/runs/{run_id}"
    workflow_id = _workflow_id(app)
    repository = render.repository(base, data, app)
    return {
        "id": run_id, "name": "Deploy", "node_id": render.node_id("WorkflowRun", run_id),
        "head_branch": item.ref, "head_sha": item.sha, "path": DEPLOY_WORKFLOW,
        "display_title": f"Deploy {item.ref} to {item.environment}",
        "run_number": run_id % 100_000, "event": "push",
        "status": "waiting" if conclusion is None else "completed", "conclusion": conclusion,
        "workflow_id": workflow_id, "check_suite_id": run_id,
        "url": run, "html_url": html, "pull_requests": [],
        "created_at": ts(item.created), "updated_at": ts(item.created),
        "run_started_at": ts(item.created), "run_attempt": 1,
        "actor": render.person(base, item.creator),
        "triggering_actor": render.person(base, item.creator),
        "jobs_url": f"{run}/jobs", "logs_url": f"{run}/logs",
        "check_suite_url": f"{repo}/check-suites/{run_id}", "artifacts_url": f"{run}/artifacts",
        "cancel_url": f"{run}/cancel", "rerun_url": f"{run}/rerun",
        "workflow_url": f"{repo}/actions/workflows/{workflow_id}",
        "head_commit": None, "repository": repository, "head_repository": repository,
    }


def _workflow_id(app: Application) -> int:
    return 70_000_000 + app.repo_id % 1_000_000


def runs(base: str, data: GitHubData, app: Application) -> list[Json]:
    """The repository's runs, newest first: those a protection rule held."""
    return [workflow_run(base, data, app, run_id, run.deployment_id, run.conclusion)
            for run_id, run in sorted(data.runs.items(), reverse=True)
            if run.app_key == app.key]
