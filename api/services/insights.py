"""DORA's four keys over upstream facts: this gathers the facts, `api.domain.dora` rules.

Four batched reads whatever the number of applications: production
deployments of every application's repositories from each deployment source,
the pull requests merged into those repositories from each merged-work source,
the change requests scheduled in the period from each change source, and the
incidents on every application's configuration items from each incident
source. A source that fails leaves its error here and the others' facts stand.

A deployment ships under the change of its application whose planned window
holds it (the ITSM knows no deployment ids), and carries the work merged up to
its commit (`dora.shipped` says which deployment shipped each piece first).
The upstream records stay beside the facts, so every figure's records can be
shown with their titles and links.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.domain import dora
from api.hub import Fetched, Hub
from connectors.base import (
    ChangeRecord,
    ChangeSource,
    ChangeType,
    Deployment,
    DeploymentSource,
    DeploymentState,
    IncidentRecord,
    IncidentSource,
    MergedWorkSource,
    PullRequest,
    TimeWindow,
)
from connectors.errors import UpstreamError

PRODUCTION = "production"
#: A deployment superseded by a later one turns INACTIVE; it did reach production.
_SHIPPED = frozenset({DeploymentState.SUCCESS, DeploymentState.INACTIVE})
_CANCELED = frozenset({"canceled", "cancelled"})
#: How far before the period merged work is read: a deployment in the period carries the
#: work merged since the deployment before it, which is rarely more than a quarter older.
WORK_LOOKBACK = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class AppScope:
    """Where one application lives upstream, as the hub's catalogue records it."""

    key: str
    repositories: tuple[str, ...] = ()
    cmdb_items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The upstream records behind the facts, by the ids the facts give them."""

    deployments: dict[str, Deployment] = field(default_factory=dict)
    work: dict[str, PullRequest] = field(default_factory=dict)
    changes: dict[str, ChangeRecord] = field(default_factory=dict)
    incidents: dict[str, IncidentRecord] = field(default_factory=dict)


@dataclass(slots=True)
class Gathered:
    facts: dora.Facts
    errors: list[UpstreamError] = field(default_factory=list)
    records: Catalogue = field(default_factory=Catalogue)


@dataclass(frozen=True, slots=True)
class Insights:
    period: dora.Period
    applications: dict[str, dora.FourKeys]
    overall: dora.FourKeys
    team: dora.FourKeys | None
    trend: list[dora.FourKeys]
    errors: list[UpstreamError]
    facts: dora.Facts = field(default_factory=lambda: dora.Facts([]))
    records: Catalogue = field(default_factory=Catalogue)
    #: Which deployment shipped each piece of work first, by deployment id.
    shipped: dict[str, list[dora.Work]] = field(default_factory=dict)


async def scopes(sessions: async_sessionmaker[AsyncSession],
                 keys: Sequence[str] | None = None) -> list[AppScope]:
    """The applications asked for (all when `keys` is None), by key; an unknown key is an
    error naming it rather than a silent zero."""
    async with sessions() as session:
        query = select(m.Application).order_by(m.Application.key)
        if keys is not None:
            query = query.where(m.Application.key.in_(list(keys)))
        rows = list((await session.scalars(query)).all())
    missing = sorted(set(keys or ()) - {r.key for r in rows})
    if missing:
        raise ValueError(f"no application {', '.join(missing)}")
    return [AppScope(r.key, tuple(r.repositories), tuple(r.cmdb_items)) for r in rows]


def deployment_id(deployment: Deployment) -> str:
    """How a deployment is named among a figure's records: source, repository, id."""
    return f"{deployment.source}:{deployment.repository}/deployments/{deployment.id}"


def work_id(pull: PullRequest) -> str:
    """How merged work is named among lead time's records: source and `owner/repo#N`."""
    return f"{pull.source}:{pull.key}"


async def gather(hub: Hub, apps: Sequence[AppScope], period: dora.Period, *,
                 window: timedelta = dora.DEFAULT_FAILURE_WINDOW,
                 deadline: float | None = None) -> Gathered:
    """The facts of `apps` in `period` (and the failure window after it), batched."""
    repo_app = {r.casefold(): a.key for a in apps for r in a.repositories}
    ci_app = {c.casefold(): a.key for a in apps for c in a.cmdb_items}
    repositories = tuple(sorted({r for a in apps for r in a.repositories}))
    items = tuple(sorted({c for a in apps for c in a.cmdb_items}))
    errors: list[UpstreamError] = []

    def note(fetched: Fetched[Any]) -> None:
        if fetched.error is not None:
            errors.append(fetched.error)
        errors.extend(fetched.dropped)

    async def deployments_call(source: str, keys: list[tuple[str, ...]]
                               ) -> dict[tuple[str, ...], list[Deployment]]:
        connector = hub.connectors[source]
        assert isinstance(connector, DeploymentSource)
        return {keys[0]: await connector.deployments(list(keys[0]), PRODUCTION)}

    span = TimeWindow(period.start, period.end + window)

    async def changes_call(source: str, keys: list[TimeWindow]
                           ) -> dict[TimeWindow, list[ChangeRecord]]:
        connector = hub.connectors[source]
        assert isinstance(connector, ChangeSource)
        return {keys[0]: await connector.search_changes(None, keys[0])}

    async def work_call(source: str, keys: list[tuple[tuple[str, ...], datetime]]
                        ) -> dict[tuple[tuple[str, ...], datetime], list[PullRequest]]:
        connector = hub.connectors[source]
        assert isinstance(connector, MergedWorkSource)
        names, since = keys[0]
        return {keys[0]: await connector.merged_work(list(names), since)}

    async def incidents_call(source: str, keys: list[tuple[tuple[str, ...], datetime]]
                             ) -> dict[tuple[tuple[str, ...], datetime], list[IncidentRecord]]:
        connector = hub.connectors[source]
        assert isinstance(connector, IncidentSource)
        names, since = keys[0]
        return {keys[0]: await connector.incidents(list(names), since)}

    no_deployments: list[Deployment] = []
    no_work: list[PullRequest] = []
    no_changes: list[ChangeRecord] = []
    no_incidents: list[IncidentRecord] = []
    deployments: list[Deployment] = []
    if repositories:
        for fetched in await hub.fetch_many(
                "insights:deployments", [(s, repositories) for s in hub.deployment_sources()],
                deployments_call, missing=no_deployments, deadline=deadline):
            note(fetched)
            deployments += fetched.value or []
    merged: list[PullRequest] = []
    if repositories:
        for fetched_work in await hub.fetch_many(
                "insights:work", [(s, (repositories, period.start - WORK_LOOKBACK))
                                  for s in hub.of_kind(MergedWorkSource)],
                work_call, missing=no_work, deadline=deadline):
            note(fetched_work)
            merged += fetched_work.value or []
    changes: list[ChangeRecord] = []
    for fetched_changes in await hub.fetch_many(
            "insights:changes", [(s, span) for s in hub.change_sources()], changes_call,
            missing=no_changes, deadline=deadline):
        note(fetched_changes)
        changes += fetched_changes.value or []
    incidents: list[IncidentRecord] = []
    if items:
        for fetched_incidents in await hub.fetch_many(
                "insights:incidents", [(s, (items, period.start))
                                       for s in hub.of_kind(IncidentSource)],
                incidents_call, missing=no_incidents, deadline=deadline):
            note(fetched_incidents)
            incidents += fetched_incidents.value or []
    records = Catalogue()
    return Gathered(facts(deployments, changes, incidents, repo_app, ci_app, merged, records),
                    errors, records)


def facts(deployments: Sequence[Deployment], changes: Sequence[ChangeRecord],
          incidents: Sequence[IncidentRecord], repo_app: dict[str, str],
          ci_app: dict[str, str], merged: Sequence[PullRequest] = (),
          records: Catalogue | None = None) -> dora.Facts:
    """Upstream records as the four keys' facts, each placed in its application; the
    records used are filed in `records` by the ids the facts give them."""
    records = records if records is not None else Catalogue()
    changes_of: dict[str, list[ChangeRecord]] = defaultdict(list)
    emergencies: list[dora.EmergencyChange] = []
    for change in changes:
        owners = {ci_app[c.casefold()] for c in change.configuration_items
                  if c.casefold() in ci_app}
        for app in sorted(owners):
            changes_of[app].append(change)
            if change.type is ChangeType.EMERGENCY and change.planned_start is not None:
                emergencies.append(dora.EmergencyChange(change.number, app,
                                                        change.planned_start))
        if owners:
            records.changes[change.number] = change
    shipped: list[dora.ProductionDeployment] = []
    for deployment in deployments:
        deployed = repo_app.get(deployment.repository.casefold())
        if deployed is None or deployment.environment.casefold() != PRODUCTION:
            continue
        ident = deployment_id(deployment)
        records.deployments[ident] = deployment
        shipped.append(dora.ProductionDeployment(
            id=ident, application=deployed, at=deployment.created_at,
            succeeded=deployment.state in _SHIPPED,
            change=_shipped_under(changes_of.get(deployed, []), deployment.created_at),
            committed_at=deployment.committed_at))
    work: list[dora.Work] = []
    for pull in merged:
        owner = repo_app.get(pull.repository.casefold())
        if owner is None or pull.merged_at is None:
            continue
        ident = work_id(pull)
        records.work[ident] = pull
        work.append(dora.Work(ident, owner, pull.merged_at, pull.first_commit_at))
    failed: list[dora.Incident] = []
    for incident in incidents:
        hit = ci_app.get(incident.service.casefold())
        if hit is None or incident.state_label.casefold() in _CANCELED:
            continue
        records.incidents[incident.number] = incident
        failed.append(dora.Incident(incident.number, hit, incident.opened_at,
                                    incident.resolved_at, incident.caused_by))
    return dora.Facts(shipped, failed, emergencies, work)


def _shipped_under(changes: Sequence[ChangeRecord], at: datetime) -> str | None:
    """The change whose planned window holds the deployment; the latest to start wins."""
    holding = [c for c in changes if c.planned_start is not None and c.planned_end is not None
               and c.planned_start <= at <= c.planned_end]
    if not holding:
        return None
    return max(holding, key=lambda c: (c.planned_start or at, c.number)).number


def compute(gathered: Gathered, period: dora.Period, applications: Sequence[str], *,
            team: Sequence[str] | None = None, bucket: dora.Bucket | None = None,
            zone: tzinfo | None = None,
            window: timedelta = dora.DEFAULT_FAILURE_WINDOW) -> Insights:
    """Four keys per application, for the team's applications, overall, and the trend."""
    facts_ = gathered.facts
    per_app = {key: dora.four_keys(facts_.only([key]), period, window) for key in applications}
    team_keys = dora.four_keys(facts_.only(team), period, window) if team else None
    trend = (dora.trend(facts_, period, bucket, zone, window)
             if bucket is not None and zone is not None else [])
    return Insights(period, per_app, dora.four_keys(facts_, period, window), team_keys, trend,
                    gathered.errors, facts_, gathered.records, dora.shipped(facts_))


def _shown(figure: dora.Figure) -> str:
    if figure.value is None:
        return f"{'-':>8} {'':<6} n={figure.sample_size}"
    value = (f"{figure.value:.0%}" if figure.key is dora.Key.CHANGE_FAILURE_RATE
             else f"{figure.value:.2f}")
    band = figure.band.value if figure.band else ""
    return f"{value:>8} {band:<6} n={figure.sample_size}"


def table(insights: Insights) -> list[str]:
    """The four keys per application and overall, as lines of a plain-text table."""
    head = (f"{'application':<12} {'deploys/week':<22} {'lead time (h)':<22} "
            f"{'change failure rate':<22} {'time to restore (h)':<22}")
    rows = [(key, keys) for key, keys in insights.applications.items()]
    rows.append(("overall", insights.overall))
    lines = [f"DORA four keys, {insights.period.start:%Y-%m-%d %H:%M} to "
             f"{insights.period.end:%Y-%m-%d %H:%M} UTC", head]
    for name, keys in rows:
        lines.append(f"{name:<12} " + " ".join(f"{_shown(f):<22}" for f in keys.figures()))
    return lines
