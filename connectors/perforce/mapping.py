"""Swarm's change payloads to canonical records, and Perforce code-range keys (pure).

A release links to a code range: a depot path or stream between two bounds, in
Perforce's own revision-range words, `//depot/payments/main@41002,@41013` or
`//depot/payments/main@payments-2026.10,@payments-2026.11`. Bounds are
changelist numbers or label names; the upper bound may be `#head`. Both ends
are included, as `p4 changes` reads such a range.

A submitted changelist is a code change (a merged pull request in the hub's
words); a job it fixes is a tracked item. A job named after a JIRA key that the
changelist's description also names is the gateway's copy of that issue: the
tracker counts it already, so it is left out here (`mirrored_jobs`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.records import PullRequest, TrackerIssue, WorkItem, WorkStatus, map_status

HEAD = "#head"
_PATH = re.compile(r"^//[^\s@#*%]+(?:/[^\s@#*%]+)*$")
# A Swarm project's branch, which names its depot paths: `swarm:project/branch`.
_SWARM_BRANCH = re.compile(r"^swarm:[a-z0-9][a-z0-9._-]{0,99}/[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SWARM_PREFIX = "swarm:"
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,127}$")
# A tracker key the way JIRA writes one: PROJECT-123.
TRACKER_KEY = re.compile(r"\b([A-Z][A-Z0-9_]+-\d+)\b")

# Job status words: the default jobspec's open/suspended/closed, plus words sites add.
JOB_STATUS: dict[str, WorkStatus] = {
    "open": WorkStatus.TODO, "suspended": WorkStatus.TODO, "new": WorkStatus.TODO,
    "inprogress": WorkStatus.IN_PROGRESS, "in_progress": WorkStatus.IN_PROGRESS,
    "review": WorkStatus.IN_PROGRESS,
    "closed": WorkStatus.DONE, "fixed": WorkStatus.DONE, "verified": WorkStatus.DONE,
}
# What a submitted change gives the jobs it fixes when it names no status.
DEFAULT_FIX_STATUS = "closed"


@dataclass(frozen=True, slots=True, order=True)
class RangeKey:
    """A depot path between two bounds (changelist numbers, labels, or `#head` above)."""

    path: str
    start: str
    end: str

    def __str__(self) -> str:
        end = self.end if self.end == HEAD else f"@{self.end}"
        return f"{self.path}@{self.start},{end}"

    @property
    def swarm_branch(self) -> tuple[str, str] | None:
        """(project, branch) when the range names a Swarm branch instead of a path."""
        if not self.path.startswith(SWARM_PREFIX):
            return None
        project, _, branch = self.path.removeprefix(SWARM_PREFIX).partition("/")
        return project, branch

    def on(self, path: str) -> RangeKey:
        """The same bounds on a depot path."""
        return RangeKey(path, self.start, self.end)

    @property
    def numeric(self) -> bool:
        return self.start.isdigit() and (self.end.isdigit() or self.end == HEAD)

    def holds(self, number: int) -> bool:
        """Whether a changelist lies in a numeric range."""
        upper = int(self.end) if self.end.isdigit() else None
        return int(self.start) <= number and (upper is None or number <= upper)

    @property
    def revision_range(self) -> str:
        """The path and range as `p4 changes` takes it (`/...` for every file below)."""
        end = self.end if self.end == HEAD else f"@{self.end}"
        return f"{self.path}/...@{self.start},{end}"


def _bound(text: str, what: str) -> str:
    if text.isdigit():
        if int(text) < 1:
            raise ValueError(f"the {what} changelist must be 1 or more")
        return str(int(text))
    if _LABEL.match(text):
        return text
    raise ValueError(f"the {what} bound {text!r} is neither a changelist number nor a label "
                     "name (letters, digits, '.', '_', '-', starting with a letter)")


def parse_range_key(key: str) -> RangeKey:
    """`//path@from,@to` (or `,to`, or `,#head`), validated and in canonical form; the
    path may instead be a Swarm project's branch, `swarm:project/branch`."""
    path, at, bounds = key.strip().partition("@")
    path = path.rstrip("/")
    if path.endswith("/..."):
        path = path[: -len("/...")]
    if not at:
        raise ValueError("expected //depot/path@from,@to (two bounds after '@')")
    if path.startswith(SWARM_PREFIX):
        if not _SWARM_BRANCH.match(path):
            raise ValueError(f"{path!r} is not a Swarm branch: swarm:project/branch, the "
                             "project id in lower case")
    elif not _PATH.match(path):
        raise ValueError(f"{path!r} is not a depot path: it starts with // and has no "
                         "blanks, '@', '#', '*' or '%'")
    start, comma, end = bounds.partition(",")
    if not comma or not start or not end:
        raise ValueError("expected two bounds separated by a comma: @from,@to")
    end = end.removeprefix("@")
    start_bound = _bound(start, "first")
    end_bound = HEAD if end.lower() == HEAD else _bound(end, "last")
    if start_bound.isdigit() and end_bound.isdigit() and int(start_bound) > int(end_bound):
        raise ValueError(f"the range is backwards: {start_bound} comes after {end_bound}")
    return RangeKey(path, start_bound, end_bound)


def swarm_time(value: str) -> datetime:
    """Swarm's `YYYY/MM/DD HH:MM:SS` (the server's clock, read as UTC)."""
    return datetime.strptime(value, "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)


def title_of(description: str) -> str:
    text = description.strip()
    return text.splitlines()[0].strip() if text else "(no description)"


def mentioned_keys(description: str) -> list[str]:
    """Tracker keys a changelist description names, in order, once each."""
    return list(dict.fromkeys(TRACKER_KEY.findall(description)))


def reviews_by_change(reviews: Sequence[Mapping[str, object]]) -> dict[int, Mapping[str, object]]:
    """Each change's review: the one that committed it, else the newest naming it."""
    found: dict[int, Mapping[str, object]] = {}
    for review in sorted(reviews, key=lambda r: int(str(r["id"]))):
        if not isinstance(review.get("state"), str):
            raise TypeError("review state is not a string")
        for key in ("changes", "commits"):
            numbers = review.get(key) or []
            if not isinstance(numbers, list):
                raise TypeError(f"review {key} is not a list")
            for number in numbers:
                if key == "commits" or int(number) not in found:
                    found[int(number)] = review
    return found


def change_from_swarm(raw: Mapping[str, object], *, source: str, path: str, web_url: str,
                      review: Mapping[str, object] | None = None) -> PullRequest:
    """A submitted changelist as a merged code change; its key is `change N`. With its
    review, it links there and says the review's state after its own."""
    number = raw["id"]
    if not isinstance(number, int) or isinstance(number, bool):
        raise TypeError("change id is not an integer")
    description = str(raw.get("description") or "")
    when = swarm_time(str(raw["date"]))
    submitted = raw.get("status") == "submitted"
    user = raw.get("user")
    label = str(raw.get("status") or "pending")
    url = f"{web_url.rstrip('/')}/changes/{number}"
    if review is not None:
        state = str(review.get("stateLabel") or review["state"])
        label = f"{label}, review {state.lower()}"
        url = f"{web_url.rstrip('/')}/reviews/{review['id']}"
    return PullRequest(
        source=source, key=f"change {number}", title=title_of(description),
        url=url, kind="changelist",
        status=WorkStatus.DONE if submitted else WorkStatus.IN_PROGRESS,
        status_label=label,
        assignee=str(user) if user else None, updated_at=when, repository=path,
        number=number, merged=submitted, merged_at=when if submitted else None,
        base_ref=path)


def jobs_from_swarm(raw: Mapping[str, object], *, source: str, web_url: str,
                    status_map: Mapping[str, str], mirrored_jobs: bool
                    ) -> list[TrackerIssue]:
    """The jobs a changelist fixes, with the status its fix gives them."""
    jobs = raw.get("jobs") or []
    if not isinstance(jobs, list):
        raise TypeError("jobs is not a list")
    description = str(raw.get("description") or "")
    mentioned = set(mentioned_keys(description))
    status = str(raw.get("jobStatus") or DEFAULT_FIX_STATUS)
    when = swarm_time(str(raw["date"]))
    found: list[TrackerIssue] = []
    for name in jobs:
        if not isinstance(name, str) or not name:
            raise TypeError("a job name is not a string")
        if name in mentioned and not mirrored_jobs:
            continue  # the tracker's own issue: counted there
        found.append(TrackerIssue(
            source=source, key=name, title=f"{name}, fixed in change {raw['id']}: "
            f"{title_of(description)}", url=f"{web_url.rstrip('/')}/jobs/{name}", kind="job",
            status=map_status(status, JOB_STATUS, status_map, WorkStatus.TODO),
            status_label=status, assignee=str(raw.get("user") or "") or None,
            updated_at=when, issue_type="job"))
    return found


def items_of(changes: Sequence[Mapping[str, object]], *, source: str, path: str, web_url: str,
             status_map: Mapping[str, str], mirrored_jobs: bool,
             reviews: Mapping[int, Mapping[str, object]] | None = None) -> list[WorkItem]:
    """Changelists, then the jobs they fix (each job once, from its latest fix)."""
    items: list[WorkItem] = []
    jobs: dict[str, TrackerIssue] = {}
    for raw in sorted(changes, key=lambda c: int(str(c["id"]))):
        review = (reviews or {}).get(int(str(raw["id"])))
        items.append(change_from_swarm(raw, source=source, path=path, web_url=web_url,
                                       review=review))
        for job in jobs_from_swarm(raw, source=source, web_url=web_url, status_map=status_map,
                                   mirrored_jobs=mirrored_jobs):
            jobs[job.key] = job
    return items + list(jobs.values())


def branch_paths(projects: Sequence[Mapping[str, object]]) -> dict[tuple[str, str], str]:
    """(project, branch) -> the branch's first depot path, without `/...`."""
    found: dict[tuple[str, str], str] = {}
    for project in projects:
        branches = project.get("branches") or []
        if not isinstance(branches, list):
            raise TypeError("branches is not a list")
        for branch in branches:
            paths = branch.get("paths") or []
            if not isinstance(paths, list) or not paths or not isinstance(paths[0], str):
                continue  # a branch without a plain path cannot hold a range
            path = paths[0].removesuffix("...").rstrip("/")
            found[(str(project["id"]), str(branch["id"]))] = path
    return found
