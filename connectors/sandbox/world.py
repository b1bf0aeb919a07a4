"""The demo world: one fictional company, deterministic from a seed.

Every sandbox renders its own wire format from these vendor-neutral records, so
JIRA, GitHub, ServiceNow and Remedy all describe the same releases and the hub
can join them (a release's JIRA fixVersion, GitHub milestone and change
request share one `release_key`). Nothing here knows a wire format.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# A fixed "now" keeps the world identical across runs and machines; the demo
# moves it to the day it starts (`build_world(epoch=...)`).
EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class WorldClock:
    """The one clock every sandbox of a world stamps its writes with.

    World time starts at the world's epoch and advances with wall time, so a
    record written now sorts after every seeded record, and JIRA, GitHub,
    ServiceNow and Remedy agree on when something happened.
    """

    __slots__ = ("_started", "_wall", "epoch")

    def __init__(self, epoch: datetime, wall: Callable[[], float] = time.monotonic) -> None:
        self.epoch = epoch
        self._wall = wall
        self._started = wall()

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self._wall() - self._started)

APP_CATALOGUE: list[tuple[str, str, str]] = [
    # key, name, repository name
    ("PAY", "Payments", "payments-service"),
    ("CHK", "Checkout", "checkout-web"),
    ("INV", "Inventory", "inventory-api"),
    ("IDN", "Identity", "identity-gateway"),
    ("NTF", "Notifications", "notification-hub"),
    ("RPT", "Reporting", "reporting-portal"),
]

FIRST_NAMES = ["Ada", "Brian", "Chen", "Divya", "Emeka", "Freya", "Goran", "Hana",
               "Ivan", "Julia", "Kwame", "Lena", "Mateo", "Nadia", "Omar", "Priya"]
LAST_NAMES = ["Lovelace", "Kernighan", "Wei", "Rao", "Okafor", "Nilsen", "Petrov", "Sato",
              "Horvat", "Costa", "Mensah", "Fischer", "Ruiz", "Haddad", "Farouk", "Iyer"]

VERBS = ["Add", "Fix", "Refactor", "Harden", "Migrate", "Speed up", "Document", "Remove",
         "Validate", "Retry", "Cache", "Audit"]
NOUNS = ["settlement batch", "refund flow", "login throttle", "stock reservation", "SMS sender",
         "ledger export", "session cookie", "price rounding", "webhook receiver",
         "PDF statements", "address lookup", "fraud score call", "cart merge", "token refresh",
         "nightly report", "currency table"]

# Workflow statuses in the order a work item moves through them, with the
# status category JIRA would give each (new / indeterminate / done).
WORKFLOW: list[tuple[str, str]] = [
    ("To Do", "new"),
    ("In Progress", "indeterminate"),
    ("In Review", "indeterminate"),
    ("Done", "done"),
]
ISSUE_TYPES = ["Story", "Bug", "Task"]
PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]

# Vendor-neutral change lifecycle; each ITSM sandbox maps these to its own
# state model (ServiceNow numeric states, Remedy Status + Status Reason).
CHANGE_STAGES = ["new", "assess", "authorize", "scheduled", "implement", "review", "closed",
                 "canceled", "rejected", "on_hold"]
# Vendor-neutral incident lifecycle; ServiceNow and Remedy map these to their own.
INCIDENT_STATES = ["new", "in_progress", "on_hold", "resolved", "closed", "canceled"]
RELEASE_STATUSES = ["PLANNED", "IN_PROGRESS", "READY", "DEPLOYING", "DEPLOYED", "CANCELLED"]

# Applications (by catalogue key) whose source lives in a Perforce depot rather than git:
# reporting (long-lived C++ report engine and Oracle reports), and its scaled copies.
CODE_IN_PERFORCE = frozenset({"RPT"})
# Words a job's status takes in the demo's jobspec (the default three plus one site's own).
JOB_STATUSES = ["open", "inprogress", "suspended", "closed"]


@dataclass(slots=True)
class Person:
    """One employee, known to every system under its own identifier."""

    index: int
    display_name: str
    email: str
    username: str  # JIRA DC `name`/`key`, Remedy login
    account_id: str  # JIRA Cloud accountId
    github_login: str
    github_id: int


@dataclass(slots=True)
class Application:
    key: str  # JIRA project key and Heatshield application key
    name: str
    jira_project_id: int
    repo_owner: str
    repo_name: str
    repo_id: int
    ci_name: str  # CMDB configuration item name
    support_group: str
    lead: Person
    #: "git", or "perforce" when the code lives in a depot (`depot_path`, a stream).
    code_store: str = "git"

    @property
    def depot_path(self) -> str:
        return f"//depot/{self.repo_name}/main"


@dataclass(slots=True)
class Release:
    """A release as the company plans it; each upstream sees its own facet."""

    key: str  # e.g. "PAY-2026.11"; Heatshield's release key
    app_key: str
    version_name: str  # JIRA fixVersion name == GitHub milestone title
    jira_version_id: int
    milestone_number: int
    status: str  # one of RELEASE_STATUSES
    type: str  # ENTERPRISE | PROJECT | EMERGENCY
    window_start: datetime
    window_end: datetime
    released: bool
    from_tag: str  # compare range base
    to_tag: str  # compare range head
    description: str


@dataclass(slots=True)
class WorkItem:
    """A JIRA issue."""

    id: int
    key: str
    app_key: str
    release_key: str | None
    summary: str
    description: str
    issue_type: str
    priority: str
    status: str  # workflow status name (WORKFLOW)
    status_category: str
    assignee: Person | None
    reporter: Person
    created: datetime
    updated: datetime
    labels: list[str]
    # (when, author, field, from, to) in time order
    changelog: list[tuple[datetime, Person, str, str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Commit:
    sha: str
    message: str
    author: Person
    date: datetime


@dataclass(slots=True)
class PullRequest:
    id: int
    number: int  # shares the number space with GitHubIssue, as on GitHub
    app_key: str
    release_key: str | None
    title: str
    body: str
    author: Person
    state: str  # open | closed
    draft: bool
    merged_at: datetime | None
    base_ref: str
    head_ref: str
    head_sha: str
    merge_commit_sha: str | None
    created: datetime
    updated: datetime
    closed_at: datetime | None
    labels: list[str]
    jira_key: str | None  # the JIRA issue named in its title


@dataclass(slots=True)
class GitHubIssue:
    id: int
    number: int
    app_key: str
    release_key: str | None
    title: str
    body: str
    author: Person
    assignee: Person | None
    state: str  # open | closed
    state_reason: str | None  # completed | not_planned | reopened | None
    created: datetime
    updated: datetime
    closed_at: datetime | None
    labels: list[str]


@dataclass(slots=True)
class Tag:
    app_key: str
    name: str
    sha: str
    date: datetime


@dataclass(slots=True)
class GitHubRelease:
    id: int
    app_key: str
    release_key: str
    tag_name: str
    name: str
    body: str
    draft: bool
    prerelease: bool
    created: datetime
    published: datetime | None
    author: Person
    target: str = "main"  # what its tag is made from when it is published without one


@dataclass(slots=True)
class DeploymentStatus:
    id: int
    state: str  # error failure inactive in_progress queued pending success
    description: str
    created: datetime


@dataclass(slots=True)
class Deployment:
    id: int
    app_key: str
    release_key: str | None
    sha: str
    ref: str  # the tag deployed
    environment: str  # dev | staging | production
    creator: Person
    created: datetime
    statuses: list[DeploymentStatus]


@dataclass(slots=True)
class ChangeRequest:
    """A change request, raised in one ITSM (`itsm`) for one release."""

    seq: int  # per-ITSM sequence; sandboxes derive numbers (CHG0030001, CRQ...) from it
    itsm: str  # servicenow | remedy
    release_key: str | None
    app_key: str
    title: str
    description: str
    change_type: str  # standard | normal | emergency
    stage: str  # one of CHANGE_STAGES
    approval: str  # not_requested | requested | approved | rejected
    risk: str  # low | moderate | high | very_high
    impact: str  # low | medium | high
    planned_start: datetime
    planned_end: datetime
    requested_by: Person
    assignment_group: str
    created: datetime
    updated: datetime
    backout_plan: str
    test_plan: str
    correlation_id: str = ""


@dataclass(slots=True)
class BusinessService:
    """An application as the CMDB knows it: the configuration item incidents are raised on."""

    app_key: str
    name: str  # == Application.ci_name
    itsm: str  # the ITSM that holds its changes and incidents
    criticality: int  # 1 (most critical) .. 4
    owner: Person
    support_group: str
    created: datetime


@dataclass(slots=True)
class Incident:
    """An outage or degradation of one business service, raised in that service's ITSM."""

    seq: int  # per-ITSM sequence; sandboxes derive numbers (INC0010001, INC000000001001)
    itsm: str  # servicenow | remedy
    app_key: str
    title: str
    description: str
    priority: int  # 1 critical .. 4 low
    state: str  # one of INCIDENT_STATES
    opened: datetime
    resolved: datetime | None  # set once restored (resolved, closed)
    closed: datetime | None
    caused_by: int | None  # seq of the change request (same ITSM) that caused it
    opened_by: Person
    assigned_to: Person | None
    assignment_group: str
    updated: datetime


@dataclass(slots=True)
class Changelist:
    """A Perforce changelist; `submitted` ones are numbered in the order they went in."""

    number: int
    app_key: str
    release_key: str | None
    depot_path: str
    user: Person
    date: datetime
    description: str
    submitted: bool
    jobs: list[str] = field(default_factory=list)  # job names it fixes
    job_status: str | None = None  # the status its fixes give the jobs (None: "closed")


@dataclass(slots=True)
class Job:
    """A Perforce job; `mirrors` names the JIRA issue it copies (a defect-tracking gateway)."""

    name: str
    app_key: str
    release_key: str | None
    status: str  # one of JOB_STATUSES
    description: str
    user: Person
    date: datetime
    mirrors: str | None = None


@dataclass(slots=True)
class Label:
    """A release label: every file of the stream as of `change`."""

    name: str
    app_key: str
    release_key: str
    change: int


@dataclass(slots=True)
class Review:
    """A code review of one changelist (Swarm's words for its states)."""

    id: int
    app_key: str
    change: int
    author: Person
    description: str
    state: str  # needsReview | needsRevision | approved | rejected | archived
    created: datetime
    updated: datetime
    committed: bool


@dataclass(slots=True)
class World:
    seed: int
    scale: int
    now: datetime
    people: list[Person]
    applications: list[Application]
    releases: list[Release]
    work_items: list[WorkItem]
    commits: dict[str, list[Commit]]  # by app key, oldest first
    pull_requests: list[PullRequest]
    github_issues: list[GitHubIssue]
    tags: list[Tag]
    github_releases: list[GitHubRelease]
    deployments: list[Deployment]
    change_requests: list[ChangeRequest]
    business_services: list[BusinessService] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    changelists: list[Changelist] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    org: str = "acme-retail"
    company: str = "Acme Retail"
    #: World time for writes; `now` stays the fixed moment the world was seeded at.
    clock: WorldClock = field(init=False)

    def __post_init__(self) -> None:
        self.clock = WorldClock(self.now)

    def app(self, key: str) -> Application:
        return next(a for a in self.applications if a.key == key)

    def release(self, key: str) -> Release:
        return next(r for r in self.releases if r.key == key)

    def person_by_email(self, email: str) -> Person | None:
        return next((p for p in self.people if p.email == email), None)


def _sha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def _letters(n: int) -> str:
    """"" for 0, then B..Z, BA..ZZ: a suffix that keeps scaled keys unique."""
    out = ""
    while n > 0:
        out = chr(ord("A") + n % 26) + out
        n //= 26
    return out


def _people(rng: random.Random, count: int) -> list[Person]:
    people: list[Person] = []
    for i in range(count):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[(i * 7 + i // len(FIRST_NAMES)) % len(LAST_NAMES)]
        suffix = "" if i < len(FIRST_NAMES) else str(i // len(FIRST_NAMES))
        username = f"{first[0].lower()}{last.lower()}{suffix}"
        people.append(Person(
            index=i,
            display_name=f"{first} {last}",
            email=f"{username}@acme-retail.example",
            username=username,
            account_id=f"5b10ac8d82e05b22cc7d{i:04x}",
            github_login=f"{first.lower()}-{last.lower()}{suffix}",
            github_id=9100000 + i,
        ))
    rng.shuffle(people)  # deterministic, so leads are not always the first names
    return people


def build_world(seed: int = 7, scale: int = 1, epoch: datetime | None = None) -> World:
    """Make the demo world; `scale` multiplies releases and items for benchmarks.

    Every date is relative to `epoch` (default `EPOCH`), so a world seeded on
    another day has the same shape, shifted.
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    if epoch is not None and epoch.tzinfo is None:
        raise ValueError("epoch must carry a time zone")
    rng = random.Random(seed)
    now = (epoch or EPOCH).astimezone(UTC)
    people = _people(rng, 16 + 4 * (scale - 1))

    applications: list[Application] = []
    app_count = len(APP_CATALOGUE) if scale == 1 else len(APP_CATALOGUE) * min(scale, 10)
    for i in range(app_count):
        base_key, base_name, repo = APP_CATALOGUE[i % len(APP_CATALOGUE)]
        n = i // len(APP_CATALOGUE)
        key = base_key + _letters(n)  # JIRA project keys are letters only: PAY, PAYB, ...
        name = base_name if n == 0 else f"{base_name} {n + 1}"
        repo_name = repo if n == 0 else f"{repo}-{n + 1}"
        applications.append(Application(
            key=key, name=name, jira_project_id=10000 + i, repo_owner="acme-retail",
            repo_name=repo_name, repo_id=700000 + i, ci_name=f"{name} Service",
            support_group=f"{name} Ops", lead=people[i % len(people)],
            code_store="perforce" if base_key in CODE_IN_PERFORCE else "git",
        ))

    releases: list[Release] = []
    work_items: list[WorkItem] = []
    commits: dict[str, list[Commit]] = {}
    pulls: list[PullRequest] = []
    gh_issues: list[GitHubIssue] = []
    tags: list[Tag] = []
    gh_releases: list[GitHubRelease] = []
    deployments: list[Deployment] = []
    changes: list[ChangeRequest] = []
    issue_id = 10100
    gh_id = 1_500_000
    deploy_id = 880_000
    status_id = 9_900_000
    seq = {"servicenow": 30001, "remedy": 1001}

    # Monthly releases per application: a few shipped, one in flight, some planned.
    months_back, months_ahead = 3, 2 + (scale - 1) * 3
    # What is deploying or being implemented has its window open in this hour.
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    for app_index, app in enumerate(applications):
        issue_num = 0
        gh_number = 0
        app_commits: list[Commit] = []
        commits[app.key] = app_commits
        prev_tag = "v1.0.0"
        tag_date = now - timedelta(days=31 * (months_back + 1))
        tags.append(Tag(app.key, prev_tag, _sha(app.key, prev_tag), tag_date))
        for m in range(-months_back, months_ahead + 1):
            month_index = now.year * 12 + now.month - 1 + m
            month_start = now.replace(year=month_index // 12, month=month_index % 12 + 1, day=1)
            version = f"{month_start:%Y.%m}"
            rkey = f"{app.key}-{version}"
            start = month_start + timedelta(days=14 + app_index % 5, hours=20)
            end = start + timedelta(hours=4)
            if m < 0:
                status = "DEPLOYED" if rng.random() > 0.1 else "CANCELLED"
            elif m == 0:
                status = rng.choice(["IN_PROGRESS", "READY", "DEPLOYING"])
                if status == "DEPLOYING":
                    start = this_hour - timedelta(hours=1)
                    end = start + timedelta(hours=4)
            else:
                status = "PLANNED"
            rtype = "EMERGENCY" if rng.random() < 0.08 else (
                "ENTERPRISE" if app_index % 3 == 0 else "PROJECT")
            to_tag = f"v1.{m + months_back + 1}.0"
            rel = Release(
                key=rkey, app_key=app.key, version_name=version,
                jira_version_id=20000 + len(releases), milestone_number=m + months_back + 1,
                status=status, type=rtype, window_start=start, window_end=end,
                released=status == "DEPLOYED", from_tag=prev_tag, to_tag=to_tag,
                description=f"{app.name} {version} release",
            )
            releases.append(rel)

            # JIRA issues: done for shipped releases, mixed for the current, mostly to do ahead.
            for _ in range(rng.randint(5, 9)):
                issue_num += 1
                issue_id += 1
                if status == "DEPLOYED":
                    wf = 3
                elif m == 0:
                    wf = rng.choice([0, 1, 2, 3, 3, 3])
                elif status == "CANCELLED":
                    wf = rng.choice([0, 3])
                else:
                    wf = rng.choice([0, 0, 0, 1])
                created = start - timedelta(days=rng.randint(20, 40))
                updated = min(now, created + timedelta(days=rng.randint(1, 19),
                                                       hours=rng.randint(0, 23)))
                reporter = rng.choice(people)
                assignee = None if wf == 0 and rng.random() < 0.4 else rng.choice(people)
                summary = f"{rng.choice(VERBS)} {rng.choice(NOUNS)}"
                item = WorkItem(
                    id=issue_id, key=f"{app.key}-{issue_num}", app_key=app.key,
                    release_key=rkey, summary=summary,
                    description=f"{summary} in {app.name}. Acceptance: covered by tests.",
                    issue_type=rng.choice(ISSUE_TYPES), priority=rng.choice(PRIORITIES),
                    status=WORKFLOW[wf][0], status_category=WORKFLOW[wf][1],
                    assignee=assignee, reporter=reporter, created=created, updated=updated,
                    labels=rng.sample(["backend", "frontend", "security", "perf", "tech-debt"], 1),
                )
                step_time = created
                for step in range(1, wf + 1):
                    step_time = step_time + (updated - created) / (wf + 1)
                    item.changelog.append((step_time, assignee or reporter, "status",
                                           WORKFLOW[step - 1][0], WORKFLOW[step][0]))
                work_items.append(item)

                # Most JIRA issues have a pull request that names them.
                if wf >= 1 and rng.random() < 0.8:
                    gh_number += 1
                    gh_id += 1
                    author = assignee or reporter
                    merged = wf == 3
                    head_sha = _sha(app.key, "pr", gh_number)
                    merged_at = updated if merged else None
                    if merged:
                        app_commits.append(Commit(_sha(app.key, "merge", gh_number),
                                                  f"{item.key} {summary} (#{gh_number})",
                                                  author, updated))
                    pulls.append(PullRequest(
                        id=gh_id, number=gh_number, app_key=app.key, release_key=rkey,
                        title=f"{item.key}: {summary}", body=f"Implements {item.key}.",
                        author=author, state="closed" if merged else "open",
                        draft=wf == 1 and rng.random() < 0.3, merged_at=merged_at,
                        base_ref="main", head_ref=f"feature/{item.key.lower()}",
                        head_sha=head_sha,
                        merge_commit_sha=_sha(app.key, "merge", gh_number) if merged else None,
                        created=created + timedelta(days=1), updated=updated,
                        closed_at=merged_at,
                        labels=["breaking-change"] if rng.random() < 0.07 else [],
                        jira_key=item.key,
                    ))

            # A couple of GitHub issues per milestone (bugs found in testing).
            for _ in range(rng.randint(1, 3)):
                gh_number += 1
                gh_id += 1
                closed = status == "DEPLOYED" or (m == 0 and rng.random() < 0.5)
                created = start - timedelta(days=rng.randint(5, 15))
                updated = min(now, created + timedelta(days=rng.randint(1, 4)))
                gh_issues.append(GitHubIssue(
                    id=gh_id, number=gh_number, app_key=app.key, release_key=rkey,
                    title=f"{rng.choice(NOUNS).capitalize()} misbehaves after upgrade",
                    body="Steps to reproduce are in the linked log.",
                    author=rng.choice(people), assignee=rng.choice(people),
                    state="closed" if closed else "open",
                    state_reason="completed" if closed else None,
                    created=created, updated=updated, closed_at=updated if closed else None,
                    labels=["bug"] + (["blocker"] if not closed and rng.random() < 0.3 else []),
                ))

            # Shipped and in-flight releases have tags, releases and deployments.
            if m <= 0 and status != "CANCELLED":
                tag_date = start - timedelta(days=1)
                tag_sha = _sha(app.key, to_tag)
                app_commits.append(Commit(tag_sha, f"Release {to_tag}", app.lead, tag_date))
                tags.append(Tag(app.key, to_tag, tag_sha, tag_date))
                gh_id += 1
                gh_releases.append(GitHubRelease(
                    id=gh_id, app_key=app.key, release_key=rkey, tag_name=to_tag,
                    name=f"{app.name} {version}", body=f"Release {version} of {app.name}.",
                    draft=m == 0 and status != "DEPLOYING", prerelease=False,
                    created=tag_date, published=None if m == 0 else tag_date, author=app.lead,
                ))
                envs = ["dev", "staging", "production"] if status in ("DEPLOYED", "DEPLOYING") \
                    else ["dev", "staging"]
                for env_index, env in enumerate(envs):
                    deploy_id += 1
                    at = tag_date + timedelta(hours=2 + env_index * 20) if env != "production" \
                        else start + timedelta(minutes=30)
                    at = min(at, now - timedelta(hours=1))
                    last = "success"
                    if env == "production" and status == "DEPLOYING":
                        last = "in_progress"
                    elif rng.random() < 0.06:
                        last = "failure"
                    statuses = [DeploymentStatus(status_id + 1, "pending", "Queued", at),
                                DeploymentStatus(status_id + 2, "in_progress", "Rolling out",
                                                 at + timedelta(minutes=2))]
                    if last != "in_progress":
                        statuses.append(DeploymentStatus(status_id + 3, last,
                                                         f"Deployment {last}",
                                                         at + timedelta(minutes=9)))
                    status_id += 3
                    deployments.append(Deployment(
                        id=deploy_id, app_key=app.key, release_key=rkey, sha=tag_sha,
                        ref=to_tag, environment=env, creator=app.lead, created=at,
                        statuses=statuses,
                    ))
                prev_tag = to_tag

            # Change requests: ServiceNow for even apps, Remedy for odd ones.
            if status == "CANCELLED" and rng.random() < 0.5:
                continue
            itsm = _itsm_of(app_index)
            if status == "DEPLOYED":
                stage, approval = "closed", "approved"
            elif status == "CANCELLED":
                stage, approval = "canceled", "not_requested"
            elif status == "DEPLOYING":
                stage, approval = "implement", "approved"
            elif m == 0:
                stage, approval = rng.choice([("assess", "requested"), ("authorize", "requested"),
                                              ("scheduled", "approved"), ("on_hold", "requested")])
            elif m == 1:
                stage, approval = rng.choice([("new", "not_requested"), ("rejected", "rejected"),
                                              ("review", "approved")])
            else:
                continue  # far-future releases have no change yet
            ctype = {"EMERGENCY": "emergency", "ENTERPRISE": "normal"}.get(rtype, "normal")
            if rtype == "PROJECT" and rng.random() < 0.3:
                ctype = "standard"
                if stage in ("assess", "authorize"):  # a standard change is pre-approved
                    stage, approval = "scheduled", "approved"
            changes.append(ChangeRequest(
                seq=seq[itsm], itsm=itsm, release_key=rkey, app_key=app.key,
                title=f"Deploy {app.name} {version} to production",
                description=f"Release {rkey}: {app.name} {version}.",
                change_type=ctype, stage=stage, approval=approval,
                risk=rng.choice(["low", "moderate", "moderate", "high"]),
                impact=rng.choice(["low", "medium", "medium", "high"]),
                planned_start=start, planned_end=end, requested_by=app.lead,
                assignment_group=app.support_group,
                created=start - timedelta(days=10), updated=min(now, start - timedelta(days=2)),
                backout_plan=f"Redeploy {prev_tag} of {app.repo_name}.",
                test_plan="Regression suite green in staging.",
            ))
            seq[itsm] += 1

    # Make sure every stage of every ITSM appears at least once, so the hub's
    # state mapping meets each one in the demo.
    for itsm in ("servicenow", "remedy"):
        present = {c.stage for c in changes if c.itsm == itsm}
        apps_for = [a for i, a in enumerate(applications) if (i % 2 == 0) == (itsm == "servicenow")]
        for stage in CHANGE_STAGES:
            if stage in present:
                continue
            app = apps_for[seq[itsm] % len(apps_for)]
            start = now + timedelta(days=5 + seq[itsm] % 20, hours=21)
            if stage == "implement":
                start = this_hour - timedelta(minutes=30)
            changes.append(ChangeRequest(
                seq=seq[itsm], itsm=itsm, release_key=None, app_key=app.key,
                title=f"Patch {app.name} operating system", description="Monthly OS patching.",
                change_type="normal", stage=stage,
                # A change is approved once past authorization; before, its approval is
                # asked for (or not yet, when new).
                approval={"rejected": "rejected", "new": "not_requested",
                          "canceled": "not_requested", "assess": "requested",
                          "authorize": "requested", "on_hold": "requested"
                          }.get(stage, "approved"),
                risk="low", impact="low", planned_start=start,
                planned_end=start + timedelta(hours=2), requested_by=app.lead,
                assignment_group=app.support_group, created=now - timedelta(days=3),
                updated=now - timedelta(days=1), backout_plan="Restore the VM snapshot.",
                test_plan="Smoke tests after reboot.",
            ))
            seq[itsm] += 1

    _settle_in_the_past(work_items, pulls, gh_issues, changes, now)
    _finish_released_work(releases, work_items, pulls, gh_issues, commits, now)
    world = World(
        seed=seed, scale=scale, now=now, people=people, applications=applications,
        releases=releases, work_items=work_items, commits=commits, pull_requests=pulls,
        github_issues=gh_issues, tags=tags, github_releases=gh_releases,
        deployments=deployments, change_requests=changes,
        business_services=_business_services(applications, now),
        incidents=_incidents(seed, now, applications, changes),
    )
    _add_depots(world)
    return world



# How each catalogue application fares in production, cycled over scaled worlds:
# (chance a deployed change causes an incident, incidents a month not caused by
# a change, typical hours to restore). Payments is steady, Checkout fragile,
# Notifications noisy but quick to fix; a DORA view tells them apart.
RELIABILITY: list[tuple[float, float, float]] = [
    (0.15, 1.0, 3.0),   # Payments
    (0.65, 3.0, 10.0),  # Checkout
    (0.55, 1.5, 6.0),   # Inventory
    (0.05, 0.5, 2.0),   # Identity
    (0.45, 4.0, 1.5),   # Notifications
    (0.25, 2.0, 30.0),  # Reporting
]
INCIDENT_DAYS = 183
SYMPTOMS = ["Timeouts on", "Errors from", "Slow responses from", "Outage of",
            "Wrong totals in", "Failed logins to", "Stuck queue in", "Memory leak in"]


#: Records drawn as opened after now were opened within this span before it.
_FILED_WITHIN = timedelta(days=30)


def _filed(drawn: datetime, now: datetime) -> datetime:
    """When a record drawn as opened at `drawn` was opened: as drawn when that is past,
    else within `_FILED_WITHIN` before now, later the later it was drawn (so a pull
    request still follows the issue it implements)."""
    if drawn <= now:
        return drawn
    ahead = (drawn - now) / _FILED_WITHIN
    return now - _FILED_WITHIN / (1 + ahead)


def _settle_in_the_past(work_items: list[WorkItem], pulls: list[PullRequest],
                        gh_issues: list[GitHubIssue], changes: list[ChangeRequest],
                        now: datetime) -> None:
    """Nothing is opened in the future: planned work, its pull requests and bugs, and
    next month's change requests were drawn relative to their release's window, which
    may be months ahead. Each is moved to `_filed`'s time (a pull request to between its
    issue's opening and its own last update), drawing nothing; an issue's steps are
    spread again between its new opening and its last update."""
    for item in work_items:
        if item.created <= now:
            continue
        item.created = _filed(item.created, now)
        span, steps = item.updated - item.created, len(item.changelog)
        item.changelog = [(item.created + span * (k + 1) / (steps + 1), who, name, was, to)
                          for k, (_, who, name, was, to) in enumerate(item.changelog)]
    opened = {item.key: item.created for item in work_items}
    for pull in pulls:
        if pull.created > now:  # opened after the issue it implements, before its update
            since = opened.get(pull.jira_key or "", _filed(pull.created, now))
            pull.created = since + (pull.updated - since) / 2
    for issue in gh_issues:
        issue.created = _filed(issue.created, now)
    for change in changes:
        change.created = _filed(change.created, now)


def _finish_released_work(releases: list[Release], work_items: list[WorkItem],
                          pulls: list[PullRequest], gh_issues: list[GitHubIssue],
                          commits: dict[str, list[Commit]], now: datetime) -> None:
    """A release that is ready or deploying has its work done: its issues moved on to
    Done, its pull requests merged (their merge commits before the release's tag) and
    the bugs found in its testing closed.

    The month's releases draw their work before anyone knows which is ready, so this
    finishes it afterwards, drawing nothing: every other record is what the seed gave.
    Each step falls between the issue's last update and now.
    """
    finished = {r.key: r for r in releases if r.status in ("READY", "DEPLOYING")}
    done_at: dict[str, datetime] = {}
    for item in work_items:
        if item.release_key not in finished or item.status_category == "done":
            continue
        position = next(i for i, (name, _) in enumerate(WORKFLOW) if name == item.status)
        steps = len(WORKFLOW) - 1 - position
        moment, author = item.updated, item.assignee or item.reporter
        for step in range(position + 1, len(WORKFLOW)):
            moment = item.updated + (now - item.updated) * (step - position) / (steps + 1)
            item.changelog.append((moment, author, "status", WORKFLOW[step - 1][0],
                                   WORKFLOW[step][0]))
        item.status, item.status_category = WORKFLOW[-1]
        item.updated = done_at[item.key] = moment
    for pull in pulls:
        release = finished.get(pull.release_key or "")
        if release is None or pull.merged_at is not None:
            continue
        merged_at = done_at.get(pull.jira_key or "", pull.updated)
        pull.state, pull.draft, pull.merged_at, pull.closed_at = "closed", False, merged_at, \
            merged_at
        pull.updated = merged_at
        pull.merge_commit_sha = _sha(pull.app_key, "merge", pull.number)
        history = commits[pull.app_key]
        tag_sha = _sha(pull.app_key, release.to_tag)
        before = next((i for i, c in enumerate(history) if c.sha == tag_sha), len(history))
        history.insert(before, Commit(pull.merge_commit_sha,
                                      f"{pull.title.replace(':', '', 1)} (#{pull.number})",
                                      pull.author, merged_at))
    for issue in gh_issues:
        if issue.release_key in finished and issue.state == "open":
            issue.state, issue.state_reason, issue.closed_at = "closed", "completed", \
                issue.updated


def _business_services(applications: list[Application], now: datetime
                       ) -> list[BusinessService]:
    return [BusinessService(
        app_key=app.key, name=app.ci_name, itsm=_itsm_of(index),
        # Payments is the most critical service; the rest spread over the four grades.
        criticality=1 + index % 4 if index % len(APP_CATALOGUE) else 1,
        owner=app.lead, support_group=app.support_group,
        created=now - timedelta(days=400),
    ) for index, app in enumerate(applications)]


def _itsm_of(app_index: int) -> str:
    """ServiceNow for even applications, Remedy for odd ones (as their changes)."""
    return "servicenow" if app_index % 2 == 0 else "remedy"


def _incidents(seed: int, now: datetime, applications: list[Application],
               changes: list[ChangeRequest]) -> list[Incident]:
    """Six months of incidents per service: some caused by a deployed change, some not.

    A generator of its own keeps every record seeded before unchanged.
    """
    rng = random.Random(f"incidents/{seed}")
    seq = {"servicenow": 10001, "remedy": 1001}
    out: list[Incident] = []
    for index, app in enumerate(applications):
        itsm = _itsm_of(index)
        fail_rate, monthly, restore_hours = RELIABILITY[index % len(RELIABILITY)]
        raw: list[tuple[datetime, int | None, int]] = []  # (opened, caused by, priority)
        deployed = [c for c in changes if c.app_key == app.key and c.planned_end < now
                    and c.stage in ("implement", "review", "closed")]
        # The failed share is the service's rate, so a change-failure rate reads it back.
        for change in rng.sample(deployed, round(fail_rate * len(deployed))):
            opened = change.planned_end + timedelta(minutes=rng.randint(10, 300))
            if opened < now:
                raw.append((opened, change.seq, rng.choice([1, 2, 2, 3])))
        expected = monthly * INCIDENT_DAYS / 30
        for _ in range(max(0, round(rng.gauss(expected, expected ** 0.5)))):
            opened = now - timedelta(minutes=rng.randint(30, INCIDENT_DAYS * 24 * 60))
            raw.append((opened, None, rng.choice([2, 3, 3, 4, 4])))
        # Work in hand: noisy services always have something open.
        for _ in range(rng.randint(1 if monthly >= 2 else 0, 2)):
            opened = now - timedelta(minutes=rng.randint(20, 4 * 24 * 60))
            raw.append((opened, None, -rng.choice([2, 3, 3, 4])))  # negative: still open
        raw.sort(key=lambda item: item[0])
        for opened, caused_by, signed_priority in raw:
            priority = abs(signed_priority)
            hours = rng.expovariate(1 / restore_hours) * (0.5 if priority == 1 else 1.0)
            restored = opened + timedelta(minutes=max(10, round(hours * 60)))
            if restored > now or signed_priority < 0:
                state = rng.choice(["new", "in_progress", "in_progress", "on_hold"])
                resolved = closed = None
                updated = min(now, opened + timedelta(minutes=rng.randint(5, 120)))
            elif caused_by is None and rng.random() < 0.04:
                state, resolved, closed = "canceled", None, restored
                updated = restored
            else:
                resolved = restored
                closed = restored + timedelta(days=3)
                state = "closed" if closed <= now else "resolved"
                if closed > now:
                    closed = None
                updated = closed or resolved
            symptom = rng.choice(SYMPTOMS)
            title = f"{symptom} {app.name}"
            description = (f"{title}, reported by monitoring."
                           + (" Started right after a deployment." if caused_by else ""))
            out.append(Incident(
                seq=0, itsm=itsm, app_key=app.key, title=title,
                description=description, priority=priority, state=state, opened=opened,
                resolved=resolved, closed=closed, caused_by=caused_by,
                opened_by=app.lead, assigned_to=None if state == "new" else app.lead,
                assignment_group=app.support_group, updated=updated,
            ))
    out.sort(key=lambda incident: incident.opened)  # numbers follow time, as upstream
    for incident in out:
        incident.seq = seq[incident.itsm]
        seq[incident.itsm] += 1
    return out


def _add_depots(world: World) -> None:
    """Changelists, jobs, labels and reviews of the applications kept in Perforce.

    Derived from the JIRA issues with a random source of their own, so the rest of
    the world is the same with or without them. Each done issue was submitted as a
    changelist naming its key; a few changelists fix jobs of the depot's own (defects
    found in test), and one per release also fixes the job a gateway mirrors from
    its JIRA issue. Each shipped or in-flight release is labelled at a "Release"
    changelist, so consecutive releases' ranges meet at their labels.
    """
    rng = random.Random(f"depots-{world.seed}")
    number, job_seq, review_id = 41000, 100, 52000
    by_release: dict[str, list[WorkItem]] = {}
    for item in world.work_items:
        if item.release_key:
            by_release.setdefault(item.release_key, []).append(item)
    people = world.people
    for app in world.applications:
        if app.code_store != "perforce":
            continue
        path = app.depot_path
        first = min(r.window_start for r in world.releases if r.app_key == app.key)
        number += 1
        world.changelists.append(Changelist(
            number, app.key, None, path, app.lead, first - timedelta(days=90),
            f"Initial import of {app.name}", submitted=True))
        for release in (r for r in world.releases if r.app_key == app.key):
            fixes_mirror = True
            for item in sorted(by_release.get(release.key, []), key=lambda w: w.updated):
                author = item.assignee or item.reporter
                if item.status == "Done":
                    number += 1
                    jobs: list[str] = []
                    if fixes_mirror:  # the gateway's copy of this issue is fixed too
                        fixes_mirror = False
                        jobs.append(item.key)
                        world.jobs.append(Job(item.key, app.key, release.key, "closed",
                                              f"{item.key}: {item.summary}", author,
                                              item.created, mirrors=item.key))
                    world.changelists.append(Changelist(
                        number, app.key, release.key, path, author, item.updated,
                        f"{item.key} {item.summary}\n\nReviewed in Swarm.", True, jobs))
                    review_id += 1
                    world.reviews.append(Review(review_id, app.key, number, author,
                                                f"{item.key} {item.summary}", "approved",
                                                item.updated - timedelta(days=1),
                                                item.updated, committed=True))
                elif item.status == "In Review":
                    review_id += 1
                    world.reviews.append(Review(
                        review_id, app.key, 90000 + review_id, author,
                        f"{item.key} {item.summary}", rng.choice(["needsReview",
                                                                  "needsRevision"]),
                        item.updated - timedelta(days=1), item.updated, committed=False))
            if release.status in ("DEPLOYED", "IN_PROGRESS", "READY", "DEPLOYING"):
                # Defects found in test, tracked as the depot's own jobs.
                for _ in range(rng.randint(1, 2)):
                    job_seq += 1
                    status = "closed" if release.status == "DEPLOYED" else rng.choice(
                        JOB_STATUSES)
                    name = f"job{job_seq:06d}"
                    fixer = rng.choice(people)
                    title = f"{rng.choice(NOUNS).capitalize()} fails under load"
                    world.jobs.append(Job(name, app.key, release.key, status, title, fixer,
                                          release.window_start - timedelta(days=12)))
                    number += 1
                    world.changelists.append(Changelist(
                        number, app.key, release.key, path, fixer,
                        release.window_start - timedelta(days=8),
                        f"Fix {title.lower()}\n\nFound in system test.", True, [name],
                        job_status=status if status != "closed" else None))
                number += 1
                world.changelists.append(Changelist(
                    number, app.key, release.key, path, app.lead,
                    release.window_start - timedelta(days=1),
                    f"Release {release.version_name} of {app.name}", True))
                world.labels.append(Label(f"{app.repo_name}-{release.version_name}",
                                          app.key, release.key, number))


def depot_range(world: World, release: Release) -> tuple[str, int, int]:
    """(depot path, first, last) changelist numbers of a release, both ends included:
    after the previous release's label, up to its own label (or its last change)."""
    app = world.app(release.app_key)
    mine = [c.number for c in world.changelists if c.release_key == release.key and c.submitted]
    earlier = [c.number for c in world.changelists
               if c.app_key == app.key and c.submitted and (not mine or c.number < min(mine))]
    first = max(earlier) + 1 if earlier else 1
    last = max(mine) if mine else first - 1
    return app.depot_path, first, max(last, first - 1)
