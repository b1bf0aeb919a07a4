"""Canonical records, their enums, and the source protocols: the hub's words, no I/O.

The graph and the rules in `api/domain` speak only these types. Each kind maps
its wire payloads onto them in its own `mapping.py`; the upstream's own words
survive in `status_label` and `state_label`, and `map_status` lets an instance
override the mapping. `connectors.base` re-exports all of it beside `Connector`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from connectors.errors import ErrorCode, UpstreamError

# --------------------------------------------------------------------------- enums


class WorkStatus(enum.Enum):
    TODO = "TODO"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"


class ChangeState(enum.Enum):
    NEW = "NEW"
    ASSESS = "ASSESS"
    AUTHORIZE = "AUTHORIZE"
    SCHEDULED = "SCHEDULED"
    IMPLEMENT = "IMPLEMENT"
    REVIEW = "REVIEW"
    CLOSED = "CLOSED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    ON_HOLD = "ON_HOLD"


class ChangeType(enum.Enum):
    STANDARD = "STANDARD"
    NORMAL = "NORMAL"
    EMERGENCY = "EMERGENCY"


class RiskLevel(enum.Enum):
    LOW = "LOW"
    MODERATE = "MODERATE"
    HIGH = "HIGH"
    VERY_HIGH = "VERY_HIGH"


class ApprovalState(enum.Enum):
    NOT_REQUESTED = "NOT_REQUESTED"
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class DeploymentState(enum.Enum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    INACTIVE = "INACTIVE"


class LinkKind(enum.Enum):
    """What a release can be linked to upstream, in words no vendor owns.

    Stored as these names (migration 0006 converted the vendor words of before);
    each connector kind says which of them it can parse a key for.
    """

    PLANNED_VERSION = "PLANNED_VERSION"  # a version planned in a tracker
    MILESTONE = "MILESTONE"  # a milestone of a code host's repository
    CODE_RANGE = "CODE_RANGE"  # the commits between two refs of a repository
    CHANGE_REQUEST = "CHANGE_REQUEST"  # a change request in an ITSM

    # A member equals itself alone, so its identity is hash enough: Enum's own hashes
    # the name in Python, and every upstream cache key (a link) is hashed at each
    # lookup, a list of a thousand releases looking up thousands.
    __hash__ = object.__hash__


class Capability(enum.Enum):
    """What a connector kind can do for a release, as the dashboard needs to know it."""

    WORK_ITEMS = "WORK_ITEMS"  # issues or tickets to ship
    CODE_CHANGES = "CODE_CHANGES"  # pull requests, compare ranges
    CHANGE_REQUESTS = "CHANGE_REQUESTS"  # raises and reads changes in an ITSM
    DEPLOYMENTS = "DEPLOYMENTS"  # reports what runs where
    WEBHOOKS = "WEBHOOKS"  # pushes events the hub acts on


class BreakerState(enum.StrEnum):
    """A connector instance's circuit breaker, as `Query.sources` shows it."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class SourceStatus(enum.Enum):
    UNKNOWN = "UNKNOWN"  # no call made yet
    UP = "UP"
    DEGRADED = "DEGRADED"  # the last call failed, the breaker is still closed
    DOWN = "DOWN"  # the breaker is open


E = TypeVar("E", bound=enum.Enum)


def map_status(raw: str, defaults: Mapping[str, E], overrides: Mapping[str, str],
               fallback: E) -> E:
    """Raw upstream word -> canonical member; an instance's `status_map` wins.

    Matching ignores case. An override naming no member of the enum is ignored
    rather than failing a whole query. A word spelt as `defaults` spells it is found
    by one lookup (a dashboard maps thousands of upstream words per answer);
    `defaults` names each word once, whatever its case.
    """
    enum_type = type(fallback)
    lowered = raw.casefold()
    for word, name in overrides.items():
        if word.casefold() == lowered and name in enum_type.__members__:
            return enum_type[name]
    exact = defaults.get(raw)
    if exact is not None:
        return exact
    for word, member in defaults.items():
        if word.casefold() == lowered:
            return member
    return fallback


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class LinkRef:
    """One thing a release links to, in the named source.

    `key` is the source's own identifier: a version id or `PROJECT:name`,
    `owner/repo#number` for a milestone, `owner/repo@base...head` for a
    compare range, a change number. Each kind documents what it accepts.
    """

    source: str
    kind: LinkKind
    key: str


@dataclass(frozen=True, slots=True)
class VersionRef:
    """A planning bucket upstream: a JIRA version or a GitHub milestone."""

    source: str
    kind: LinkKind
    id: str
    name: str
    container: str  # project key or owner/repo
    url: str
    released: bool = False
    release_date: datetime | None = None
    description: str | None = None

    def link(self) -> LinkRef:
        return LinkRef(self.source, self.kind, self.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkItem:
    """A unit of work, whatever the tracker; subclasses add what their kind knows."""

    source: str
    key: str  # stable and human: "PAY-12", "acme/payments-service#34"
    title: str
    url: str
    kind: str  # "issue", "pull_request", or the tracker's issue type
    status: WorkStatus
    status_label: str
    assignee: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackerIssue(WorkItem):
    """An issue in a project tracker (JIRA)."""

    issue_type: str
    priority: str | None = None
    versions: tuple[str, ...] = ()  # names of the versions it is planned for


@dataclass(frozen=True, slots=True, kw_only=True)
class RepositoryIssue(WorkItem):
    """An issue in a code host (GitHub)."""

    repository: str  # owner/name
    number: int
    milestone: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PullRequest(RepositoryIssue):
    merged: bool = False
    merged_at: datetime | None = None
    base_ref: str | None = None
    #: When its first commit was authored, where the read asked (lead time starts there).
    first_commit_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeRecord:
    """A change request in an ITSM, in canonical words plus the upstream's own."""

    source: str
    number: str  # "CHG0030001", "CRQ000000000101"
    upstream_id: str  # the record's internal id (ServiceNow sys_id, Remedy Request ID)
    title: str
    url: str
    state: ChangeState
    state_label: str
    type: ChangeType
    approval: ApprovalState
    risk: RiskLevel | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    correlation_id: str | None = None
    description: str | None = None
    updated_at: datetime | None = None
    configuration_items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeDraft:
    """What the hub asks an ITSM to create; `correlation_id` makes creation idempotent."""

    title: str
    description: str
    type: ChangeType
    correlation_id: str
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    risk: RiskLevel | None = None
    configuration_items: tuple[str, ...] = ()
    assignment_group: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangePatch:
    """Fields to change on an existing change request; `None` leaves a field alone."""

    state: ChangeState | None = None
    title: str | None = None
    description: str | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    risk: RiskLevel | None = None
    note: str | None = None  # appended as a work note / comment


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    source: str
    id: str
    repository: str  # owner/name
    environment: str
    ref: str
    sha: str
    state: DeploymentState
    state_label: str
    created_at: datetime
    updated_at: datetime
    url: str
    creator: str | None = None
    #: When the deployed commit was made, where the source tells it: the deployment
    #: carries what was merged up to then.
    committed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentRecord:
    """An incident in an ITSM: when the service broke, when it was restored, and which
    change requests it was traced to (by number), for the failure side of the four keys."""

    source: str
    number: str  # "INC0010001", "INC000000001001"
    upstream_id: str
    title: str
    url: str
    state_label: str
    service: str  # the configuration item (business service) it was raised on, by name
    opened_at: datetime
    resolved_at: datetime | None = None
    priority: int | None = None  # 1 critical .. 5 planning
    caused_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceHealth:
    """What `Query.sources` shows for one connector instance."""

    name: str
    kind: str
    status: SourceStatus
    breaker: BreakerState
    calls: int = 0
    failures: int = 0
    latency_ms: float | None = None
    last_success_at: datetime | None = None
    last_error_code: ErrorCode | None = None
    last_error_message: str | None = None
    last_error_at: datetime | None = None
    details: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)


# --------------------------------------------------------------------------- protocols


# --------------------------------------------------------------------------- partial answers

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class Answer(dict[K, V], Generic[K, V]):
    """A batch read's values by key, with what went wrong for single keys.

    One bad key or one malformed record must not cost the other keys their
    data, so a kind reports them here instead of raising: `failed[key]` when
    the key could not be answered at all (its link key is invalid, its record
    cannot be read), `dropped[key]` for records left out of a value that
    stands without them. A plain dict answer is one where nothing went wrong.
    """

    def __init__(self, values: Mapping[K, V] | None = None) -> None:
        super().__init__(values or {})
        self.failed: dict[K, UpstreamError] = {}
        self.dropped: dict[K, list[UpstreamError]] = {}

    def fail(self, key: K, error: UpstreamError) -> None:
        """`key` has no real value; a placeholder one may stay for callers that read the
        answer as a plain mapping (the hub reads `failed` first)."""
        self.failed[key] = error

    def drop(self, key: K, error: UpstreamError) -> None:
        self.dropped.setdefault(key, []).append(error)


class Records(list[T], Generic[T]):
    """A list read, with the records left out because they could not be mapped."""

    def __init__(self, values: Sequence[T] = (),
                 dropped: Sequence[UpstreamError] = ()) -> None:
        super().__init__(values)
        self.dropped: list[UpstreamError] = list(dropped)


def failures_of(answer: object, key: object) -> UpstreamError | None:
    """The error a batch answer gives for `key` instead of a value, if any."""
    return answer.failed.get(key) if isinstance(answer, Answer) else None


def dropped_from(answer: object, key: object, value: object) -> list[UpstreamError]:
    """Records left out of `key`'s value, by the answer or by the value itself."""
    found = list(answer.dropped.get(key, [])) if isinstance(answer, Answer) else []
    if isinstance(value, Records):
        found += value.dropped
    return found


R = TypeVar("R", covariant=True)


class BatchRead(Generic[R]):
    """One read of a `BatchSource.fetch_batch` call; `R` is what it answers."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class WorkItemsRead(BatchRead[Mapping[LinkRef, list[WorkItem]]]):
    """`WorkItemSource.work_items(links)` as a read of a batch."""

    links: tuple[LinkRef, ...]


@dataclass(frozen=True, slots=True)
class DeploymentsRead(BatchRead[list[Deployment]]):
    """`DeploymentSource.deployments(repositories, environment)` as a read of a batch."""

    repositories: tuple[str, ...]
    environment: str | None = None


@runtime_checkable
class BatchSource(Protocol):
    """A source that answers reads of several kinds in one upstream call (GitHub: one
    GraphQL document within its limits), so the hub sends a request's reads together.

    Answers come in the order of `reads`; a read that failed alone is its error.
    """

    async def fetch_batch(self, reads: Sequence[BatchRead[Any]]) -> list[Any]:
        ...


@runtime_checkable
class WorkItemSource(Protocol):
    async def work_items(self, links: Sequence[LinkRef]) -> Mapping[LinkRef, list[WorkItem]]:
        """Items for many links in as few upstream calls as the API allows.

        May return an `Answer` to report a bad link or a left-out record."""
        ...


@runtime_checkable
class VersionSource(Protocol):
    async def versions(self, containers: Sequence[str]) -> list[VersionRef]:
        """Versions or milestones of these projects/repositories, for linking a release."""
        ...


@runtime_checkable
class ChangeSource(Protocol):
    async def changes(self, numbers: Sequence[str]) -> Mapping[str, ChangeRecord]:
        """Changes by number, batched; numbers not found are absent from the result
        (an `Answer` says which could not be read)."""
        ...

    async def search_changes(self, state: ChangeState | None = None,
                             window: TimeWindow | None = None) -> list[ChangeRecord]:
        """Changes in a state and/or whose planned window overlaps `window`
        (a `Records` says which were left out)."""
        ...

    async def create_change(self, draft: ChangeDraft) -> ChangeRecord:
        """Create once: a kind first looks up `draft.correlation_id` and returns any match."""
        ...

    async def update_change(self, number: str, patch: ChangePatch) -> ChangeRecord:
        """Apply `patch`; a refused transition raises `UpstreamRefused`."""
        ...

    async def find_by_correlation_id(self, correlation_id: str) -> ChangeRecord | None:
        ...


@runtime_checkable
class ChangePoller(Protocol):
    """An ITSM without webhooks worth relying on: the hub asks it what changed."""

    async def changes_modified_since(self, since: datetime | None,
                                     numbers: Sequence[str]) -> list[ChangeRecord]:
        """The changes among `numbers` last modified at or after `since` (all of them
        when None), in as few calls as the API allows; each with its `updated_at`."""
        ...


@runtime_checkable
class DeploymentGate(Protocol):
    """A code host whose pipelines wait for the hub's word (a deployment protection rule)."""

    async def answer_deployment_gate(self, callback: str, environment: str, approved: bool,
                                     comment: str) -> None:
        """Tell the waiting deployment to proceed or to fail, with the reasons."""
        ...


@runtime_checkable
class DeploymentSource(Protocol):
    async def deployments(self, repositories: Sequence[str],
                          environment: str | None = None) -> list[Deployment]:
        ...


@runtime_checkable
class MergedWorkSource(Protocol):
    """A code host that tells what was merged, for lead time: merge and first commit."""

    async def merged_work(self, repositories: Sequence[str],
                          since: datetime) -> list[PullRequest]:
        """Pull requests of these repositories merged at or after `since`, each with its
        `merged_at` and `first_commit_at`; one query per chunk of repositories and page,
        however many repositories there are (a `Records` says which were left out)."""
        ...


@runtime_checkable
class IncidentSource(Protocol):
    async def incidents(self, services: Sequence[str], since: datetime) -> list[IncidentRecord]:
        """Incidents raised on these services (configuration items by name) and opened
        at or after `since`; one query per chunk of services, however many there are
        (a `Records` says which were left out)."""
        ...
