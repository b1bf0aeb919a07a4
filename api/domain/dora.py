"""DORA's four keys from both sides of the divide: rules, no I/O.

Development systems say when production deployments happened and when their
work began; the ITSM says which of them hurt (an incident caused by their
change, an emergency change on the same application) and how long the hurt
lasted. A figure is only as good as the records behind it, so every figure
carries its sample size and the ids of those records.

Performance bands follow the clusters of the *Accelerate State of DevOps
Report 2023* (DORA, Google Cloud). The report describes clusters by typical
values, and its low and medium clusters share a deployment frequency and a
lead time; the thresholds below are the boundaries between those typical
values (see docs/insights.md), so every figure falls in exactly one band.
"""

from __future__ import annotations

import enum
import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

#: A deployment is failed by what happens to its application within this window after it.
DEFAULT_FAILURE_WINDOW = timedelta(days=7)


class Band(enum.Enum):
    ELITE = "elite"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Key(enum.Enum):
    DEPLOYMENT_FREQUENCY = "deployment_frequency"  # deployments per week
    LEAD_TIME = "lead_time"  # median hours from first commit to production
    CHANGE_FAILURE_RATE = "change_failure_rate"  # share of deployments, 0..1
    TIME_TO_RESTORE = "time_to_restore"  # median hours from failure to recovery


class Bucket(enum.Enum):
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class ProductionDeployment:
    """One deployment to production, as the development side reports it."""

    id: str
    application: str
    at: datetime
    succeeded: bool = True
    #: The change request it shipped under, as the ITSM numbers it.
    change: str | None = None
    #: When the deployed commit was made: it carries the work merged up to then
    #: (None: the deployment's own time).
    committed_at: datetime | None = None
    #: It put back an earlier version: the deployment before it failed.
    rollback: bool = False

    @property
    def commit_time(self) -> datetime:
        return self.committed_at if self.committed_at is not None else self.at


@dataclass(frozen=True, slots=True)
class Work:
    """A piece of work merged into the line that is deployed: a pull request."""

    id: str
    application: str
    merged_at: datetime
    #: Its first commit; work whose commits are unknown starts at its merge.
    first_commit_at: datetime | None = None

    @property
    def started_at(self) -> datetime:
        """The first commit, else the merge: when it began to be a change to ship."""
        if self.first_commit_at is None:
            return self.merged_at
        return min(self.first_commit_at, self.merged_at)


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident from the ITSM; `caused_by` names the changes it was traced to."""

    id: str
    application: str
    opened_at: datetime
    resolved_at: datetime | None = None
    caused_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EmergencyChange:
    number: str
    application: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Period:
    """Half-open: `start` is in, `end` is not."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period's bounds need a time zone")
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def weeks(self) -> float:
        return (self.end - self.start) / timedelta(weeks=1)


@dataclass(frozen=True, slots=True)
class Figure:
    """One key's value over a period, and the records it was computed from.

    `value` is None when there is nothing to measure (no deployment, no
    failure): a rate of nothing is not zero. `records` are deployment ids;
    lead time also names the work it measured in `work`, and its sample is
    that work (one deployment carries many pieces).
    """

    key: Key
    value: float | None
    sample_size: int
    records: tuple[str, ...]
    band: Band | None
    work: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    """A deployment that hurt production, and what says so."""

    deployment: str
    application: str
    at: datetime
    reasons: tuple[str, ...]  # "incident INC0010001", "emergency change CHG0030002", ...
    incidents: tuple[str, ...] = ()
    restored_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FourKeys:
    period: Period
    deployment_frequency: Figure
    lead_time: Figure
    change_failure_rate: Figure
    time_to_restore: Figure
    failures: tuple[Failure, ...] = field(default=())

    def figures(self) -> tuple[Figure, ...]:
        return (self.deployment_frequency, self.lead_time, self.change_failure_rate,
                self.time_to_restore)


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the four keys are computed from, for any set of applications."""

    deployments: Sequence[ProductionDeployment]
    incidents: Sequence[Incident] = ()
    emergency_changes: Sequence[EmergencyChange] = ()
    work: Sequence[Work] = ()

    def only(self, applications: Iterable[str]) -> Facts:
        keep = set(applications)
        return Facts([d for d in self.deployments if d.application in keep],
                     [i for i in self.incidents if i.application in keep],
                     [e for e in self.emergency_changes if e.application in keep],
                     [w for w in self.work if w.application in keep])


# --- bands --------------------------------------------------------------------------------

_DAY, _WEEK, _MONTH = 24.0, 24.0 * 7, 24.0 * 30


def band(key: Key, value: float | None) -> Band | None:
    """Place a figure in the 2023 report's bands; higher frequency, lower others are better."""
    if value is None:
        return None
    if key is Key.DEPLOYMENT_FREQUENCY:  # per week: daily or more, weekly, monthly, less
        return (Band.ELITE if value >= 7 else Band.HIGH if value >= 1
                else Band.MEDIUM if value >= 7 / 30 else Band.LOW)
    if key is Key.CHANGE_FAILURE_RATE:  # the clusters' typical rates: 5 %, 10 %, 15 %
        return (Band.ELITE if value <= 0.05 else Band.HIGH if value <= 0.10
                else Band.MEDIUM if value <= 0.15 else Band.LOW)
    # Hours, "less than": lead time a day, a week, a month; restoring an hour, a day, a week.
    limits = (_DAY, _WEEK, _MONTH) if key is Key.LEAD_TIME else (1.0, _DAY, _WEEK)
    return (Band.ELITE if value < limits[0] else Band.HIGH if value < limits[1]
            else Band.MEDIUM if value < limits[2] else Band.LOW)


def _figure(key: Key, value: float | None, records: Sequence[str]) -> Figure:
    return Figure(key, value, len(records), tuple(records), band(key, value))


def _lead_figure(pairs: Sequence[tuple[ProductionDeployment, Work]]) -> Figure:
    value = (statistics.median(_hours(max(timedelta(0), d.at - w.started_at))
                               for d, w in pairs) if pairs else None)
    return Figure(Key.LEAD_TIME, value, len(pairs), tuple(dict.fromkeys(d.id for d, _ in pairs)),
                  band(Key.LEAD_TIME, value), tuple(w.id for _, w in pairs))


def _hours(span: timedelta) -> float:
    return span / timedelta(hours=1)


# --- the keys -----------------------------------------------------------------------------

def shipped(facts: Facts) -> dict[str, list[Work]]:
    """The work each successful production deployment shipped first, by deployment id.

    A deployment carries what was merged up to its commit: the compare range
    from the previous deployment's commit to its own, on a main line whose
    commits follow time. So work goes to the earliest deployment (in time) of
    its application whose commit is at or after the merge; a redeployment or a
    rollback ships nothing new. Work no deployment carries yet is left out.
    """
    by_app: dict[str, list[ProductionDeployment]] = defaultdict(list)
    for deployment in facts.deployments:
        if deployment.succeeded:
            by_app[deployment.application].append(deployment)
    reach: dict[str, tuple[list[datetime], list[ProductionDeployment]]] = {}
    for app, deployments in by_app.items():
        deployments.sort(key=lambda d: (d.at, d.id))
        # The newest commit deployed so far never goes down, so the first deployment to
        # reach a merge is found by bisection.
        newest: list[datetime] = []
        for deployment in deployments:
            newest.append(max(newest[-1], deployment.commit_time) if newest
                          else deployment.commit_time)
        reach[app] = (newest, deployments)
    carried: dict[str, list[Work]] = defaultdict(list)
    for work in sorted(facts.work, key=lambda w: (w.merged_at, w.id)):
        newest, deployments = reach.get(work.application, ([], []))
        index = bisect_left(newest, work.merged_at)
        if index < len(deployments):
            carried[deployments[index].id].append(work)
    return dict(carried)


def failures(facts: Facts, window: timedelta = DEFAULT_FAILURE_WINDOW) -> list[Failure]:
    """Which successful production deployments failed, each with its reasons.

    A deployment fails when, within `window` after it, an incident traced to
    its change is opened, an emergency change on its application is made, or
    the application is rolled back (the rollback fails the deployment before
    it). An incident traced to two changes fails both their deployments.
    Restoration is the earliest resolution of its incidents, else the next
    successful deployment of the application.
    """
    incidents_by_change: dict[str, list[Incident]] = defaultdict(list)
    for incident in facts.incidents:
        for change in dict.fromkeys(incident.caused_by):
            incidents_by_change[change].append(incident)
    emergencies: dict[str, list[EmergencyChange]] = defaultdict(list)
    for emergency in facts.emergency_changes:
        emergencies[emergency.application].append(emergency)
    by_app: dict[str, list[ProductionDeployment]] = defaultdict(list)
    for deployment in facts.deployments:
        if deployment.succeeded:
            by_app[deployment.application].append(deployment)

    found: list[Failure] = []
    for app, deployments in by_app.items():
        deployments.sort(key=lambda d: (d.at, d.id))
        for index, deployment in enumerate(deployments):
            until = deployment.at + window
            later = deployments[index + 1:]
            reasons: list[str] = []
            hit = [i for i in incidents_by_change.get(deployment.change or "", ())
                   if deployment.at <= i.opened_at < until]
            reasons += [f"incident {i.id}" for i in hit]
            reasons += [f"emergency change {e.number}" for e in emergencies.get(app, ())
                        if e.number != deployment.change and deployment.at < e.at < until]
            following = later[0] if later else None
            if following is not None and following.rollback and following.at < until:
                reasons.append(f"rolled back by {following.id}")
            if not reasons:
                continue
            resolved = [i.resolved_at for i in hit if i.resolved_at is not None]
            restored = min(resolved) if resolved else (following.at if following else None)
            found.append(Failure(deployment.id, app, deployment.at, tuple(reasons),
                                 tuple(i.id for i in hit), restored))
    found.sort(key=lambda f: (f.at, f.deployment))
    return found


def four_keys(facts: Facts, period: Period,
              window: timedelta = DEFAULT_FAILURE_WINDOW) -> FourKeys:
    """The four keys of the deployments made in `period` (and what followed them)."""
    deployed = sorted((d for d in facts.deployments if d.succeeded and d.at in period),
                      key=lambda d: (d.at, d.id))
    ids = [d.id for d in deployed]
    frequency = _figure(Key.DEPLOYMENT_FREQUENCY, len(deployed) / period.weeks if deployed
                        else 0.0, ids)

    carried = shipped(facts)
    lead = _lead_figure([(d, w) for d in deployed for w in carried.get(d.id, ())])

    in_period = set(ids)
    failed = [f for f in failures(facts, window) if f.deployment in in_period]
    rate = _figure(Key.CHANGE_FAILURE_RATE, len(failed) / len(deployed) if deployed else None,
                   ids)

    restored = [f for f in failed if f.restored_at is not None]
    restore = _figure(Key.TIME_TO_RESTORE,
                      statistics.median(_restore_hours(f, facts) for f in restored)
                      if restored else None,
                      [f.deployment for f in restored])
    return FourKeys(period, frequency, lead, rate, restore, tuple(failed))


def _restore_hours(failure: Failure, facts: Facts) -> float:
    """From the incident's start (else the failed deployment) to restoration."""
    assert failure.restored_at is not None
    opened = [i.opened_at for i in facts.incidents if i.id in failure.incidents]
    began = min(opened) if opened else failure.at
    return _hours(max(timedelta(0), failure.restored_at - began))


# --- trends -------------------------------------------------------------------------------

def buckets(period: Period, size: Bucket, zone: tzinfo) -> Iterator[Period]:
    """Calendar weeks (from Monday) or months in `zone`, clipped to `period`.

    Edges are local midnights, so a deployment late on Sunday evening in the
    reader's zone counts in that week even when it is Monday in UTC.
    """
    local = period.start.astimezone(zone).date()
    first = (local - timedelta(days=local.weekday()) if size is Bucket.WEEK
             else local.replace(day=1))
    edge = _midnight(first, zone)
    while edge < period.end:
        day = edge.astimezone(zone).date()
        nxt = (day + timedelta(days=7) if size is Bucket.WEEK
               else (day.replace(day=28) + timedelta(days=4)).replace(day=1))
        end = _midnight(nxt, zone)
        yield Period(max(edge, period.start), min(end, period.end))
        edge = end


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def trend(facts: Facts, period: Period, size: Bucket, zone: tzinfo,
          window: timedelta = DEFAULT_FAILURE_WINDOW) -> list[FourKeys]:
    return [four_keys(facts, bucket, window) for bucket in buckets(period, size, zone)]
