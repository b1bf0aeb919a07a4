"""A repository's git history as the sandbox tells it: branches, tags, what a ref reaches.

REST (commits, branches, compare) and GraphQL (`refs`, `defaultBranchRef`)
read their answers here, so both APIs agree on which commit a name points at.
The world records `main`'s commits (oldest first) and the tags; each open
pull request adds its head branch, one commit on top of `main` as it was
when the pull opened. Merged pulls' branches are gone (the repositories
delete a branch on merge), but their head commits stay reachable by sha.
"""

from __future__ import annotations

from connectors.github.sandbox.render import GitHubData
from connectors.sandbox.world import Application, Commit, PullRequest, Tag

Row = tuple[Commit, str | None]  # a commit and its parent's sha
MAIN = "main"


def root_commit(app: Application, tag: Tag) -> Commit:
    """The first tag's commit, older than any commit the world records."""
    return Commit(tag.sha, f"Release {tag.name}", app.lead, tag.date)


def pull_head(data: GitHubData, app: Application, pull: PullRequest) -> Row:
    before = [c for c in data.commits(app) if c.date <= pull.created]
    head = Commit(pull.head_sha, pull.title, pull.author, pull.created)
    return head, before[-1].sha if before else None


def branches(data: GitHubData, app: Application) -> list[tuple[str, Commit, str | None]]:
    """(name, head commit, parent sha) of `main`, each open pull's head and each branch
    a POST of git/refs made, by name."""
    commits = data.commits(app)
    out: list[tuple[str, Commit, str | None]] = []
    if commits:
        out.append((MAIN, commits[-1], commits[-2].sha if len(commits) > 1 else None))
    for pull in data.app_pulls(app):
        if pull.state == "open":
            out.append((pull.head_ref, *pull_head(data, app, pull)))
    for key, name, sha in data.created_branches:
        rows = history(data, app, sha) if key == app.key else None
        if rows:
            out.append((name, *rows[0]))
    return sorted(out, key=lambda b: b[0])


def protected(name: str) -> bool:
    """Whether a branch is protected: `main` (reviewed pull requests only), no other."""
    return name == MAIN


def created_branch(data: GitHubData, app: Application, ref: str) -> str | None:
    """The commit sha a branch a POST of git/refs made points at (None: no such branch)."""
    return next((sha for key, name, sha in data.created_branches
                 if key == app.key and name == ref), None)


def position(data: GitHubData, app: Application, ref: str) -> int | None:
    """Where `ref` (main, tag, sha or its prefix) sits on `main`: -1 is the root tag,
    None is a ref `main` does not hold."""
    commits = data.commits(app)
    if ref in (MAIN, "HEAD", f"{app.repo_owner}:{MAIN}"):
        return len(commits) - 1
    ref = created_branch(data, app, ref) or ref
    tag = next((t for t in data.tags(app) if t.name == ref), None)
    sha = tag.sha if tag else ref
    for index, item in enumerate(commits):
        if item.sha == sha or (len(sha) >= 7 and item.sha.startswith(sha)):
            return index
    return -1 if tag is not None else None


def history(data: GitHubData, app: Application, ref: str) -> list[Row] | None:
    """Commits reachable from `ref` (branch, tag or sha), newest first; None if unknown."""
    ref = created_branch(data, app, ref) or ref
    commits = data.commits(app)
    chain = [(c, commits[i - 1].sha if i else None) for i, c in enumerate(commits)]
    for pull in data.app_pulls(app):
        by_branch = pull.state == "open" and ref == pull.head_ref
        by_sha = ref == pull.head_sha or (len(ref) >= 7 and pull.head_sha.startswith(ref))
        if by_branch or by_sha:
            below = [row for row in chain if row[0].date <= pull.created]
            return [pull_head(data, app, pull), *reversed(below)]
    index = position(data, app, ref)
    return None if index is None else list(reversed(chain[:index + 1]))


def refs(data: GitHubData, app: Application) -> list[tuple[str, str, Commit]]:
    """(prefix, name, target commit) of every tag and branch."""
    by_sha = {c.sha: c for c in data.commits(app)}
    out = [("refs/tags/", tag.name, by_sha.get(tag.sha) or _off_main(data, app, tag))
           for tag in data.tags(app)]
    out += [("refs/heads/", name, head) for name, head, _ in branches(data, app)]
    return out


def _off_main(data: GitHubData, app: Application, tag: Tag) -> Commit:
    """The commit of a tag `main` does not hold: a pull's head, else the first tag's."""
    rows = history(data, app, tag.sha)
    return rows[0][0] if rows and rows[0][0].sha == tag.sha else root_commit(app, tag)
