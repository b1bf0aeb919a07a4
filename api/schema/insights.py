"""`Query.insights`: DORA's four keys per application and overall, with their records.

Every figure names the records it came from, so a reader can drill down; a
source that fails adds a coded error and the figures stand on the others.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import strawberry

from api.domain import dora
from api.errors import bad_input
from api.hub import Fetched
from api.permissions import IsViewer
from api.schema.context import Info
from api.schema.partial_results import report
from api.services import insights as service
from connectors.base import ChangeType


@strawberry.enum(description="How a trend is cut: calendar weeks (from Monday) or months.")
class InsightBucket(enum.Enum):
    WEEK = "week"
    MONTH = "month"


@strawberry.enum(description="The performance bands of DORA's Accelerate State of DevOps "
                             "Report 2023.")
class PerformanceBand(enum.Enum):
    ELITE = "elite"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


_UNITS = {dora.Key.DEPLOYMENT_FREQUENCY: "deployments per week",
          dora.Key.LEAD_TIME: "hours", dora.Key.CHANGE_FAILURE_RATE: "ratio",
          dora.Key.TIME_TO_RESTORE: "hours"}


@strawberry.type(description="One key's value, its band, and the records behind it.")
class DoraFigure:
    value: float | None = strawberry.field(
        description="None when there is nothing to measure (no deployment, no failure).")
    unit: str
    band: PerformanceBand | None
    sample_size: int
    records: list[str] = strawberry.field(
        description="Deployment ids (`source:owner/repo/deployments/id`) the figure counts.")
    work: list[str] = strawberry.field(
        description="Lead time only: the merged work it measured (`source:owner/repo#n`), "
                    "its sample; empty for the other keys.")

    @classmethod
    def of(cls, figure: dora.Figure) -> DoraFigure:
        return cls(value=figure.value, unit=_UNITS[figure.key],
                   band=PerformanceBand[figure.band.name] if figure.band else None,
                   sample_size=figure.sample_size, records=list(figure.records),
                   work=list(figure.work))


@strawberry.type(description="A production deployment that hurt, and what says so.")
class DoraFailure:
    deployment: str
    application: str
    at: datetime
    reasons: list[str]
    incidents: list[str]
    restored_at: datetime | None


@strawberry.type(description="The four keys over a period, for one application or many.")
class FourKeys:
    application: str | None = strawberry.field(description="None for a group of them.")
    period_start: datetime
    period_end: datetime
    deployment_frequency: DoraFigure
    lead_time: DoraFigure
    change_failure_rate: DoraFigure
    time_to_restore: DoraFigure
    failures: list[DoraFailure]

    @classmethod
    def of(cls, keys: dora.FourKeys, application: str | None = None) -> FourKeys:
        return cls(
            application=application, period_start=keys.period.start,
            period_end=keys.period.end,
            deployment_frequency=DoraFigure.of(keys.deployment_frequency),
            lead_time=DoraFigure.of(keys.lead_time),
            change_failure_rate=DoraFigure.of(keys.change_failure_rate),
            time_to_restore=DoraFigure.of(keys.time_to_restore),
            failures=[DoraFailure(deployment=f.deployment, application=f.application, at=f.at,
                                  reasons=list(f.reasons), incidents=list(f.incidents),
                                  restored_at=f.restored_at) for f in keys.failures])


@strawberry.type(description="A production deployment of the period, as the code host "
                             "reported it: what a figure's `records` name.")
class DoraDeployment:
    id: str
    application: str
    at: datetime
    succeeded: bool
    repository: str
    ref: str
    url: str
    change: str | None = strawberry.field(
        description="The change request it shipped under, by number.")
    work: list[str] = strawberry.field(description="The work it shipped first, by id.")


@strawberry.type(description="A pull request merged into a deployed repository: what lead "
                             "time's `work` names.")
class DoraWork:
    id: str
    application: str
    title: str
    url: str
    merged_at: datetime
    first_commit_at: datetime | None
    deployment: str | None = strawberry.field(
        description="The production deployment that shipped it first; None until one did.")
    lead_time_hours: float | None


@strawberry.type(description="A change request on an application in the period.")
class DoraChange:
    number: str
    title: str
    url: str
    emergency: bool
    planned_start: datetime | None
    planned_end: datetime | None


@strawberry.type(description="An incident on an application since the period began.")
class DoraIncident:
    number: str
    application: str
    title: str
    url: str
    opened_at: datetime
    resolved_at: datetime | None
    caused_by: list[str]


@strawberry.type(description="DORA's four keys per application and overall, and their trend.")
class Insights:
    applications: list[FourKeys]
    overall: FourKeys
    trend: list[FourKeys] = strawberry.field(
        description="Overall keys per bucket, in the asked time zone; empty without a bucket.")
    deployments: list[DoraDeployment] = strawberry.field(
        description="The period's production deployments (failed attempts too), oldest first.")
    work: list[DoraWork] = strawberry.field(
        description="The work the period's deployments shipped, by deployment.")
    changes: list[DoraChange] = strawberry.field(
        description="The applications' change requests planned in the period or the failure "
                    "window after it.")
    incidents: list[DoraIncident] = strawberry.field(
        description="The applications' incidents opened since the period began.")


From = Annotated[datetime, strawberry.argument(name="from")]


@strawberry.type
class InsightsQuery:
    @strawberry.field(description="DORA's four keys over [from, to) for the applications "
                                  "named (all when omitted): deployments from the code "
                                  "hosts, failures and restoration from the ITSMs.",
                      permission_classes=[IsViewer])
    async def insights(self, info: Info, from_: From, to: datetime,
                       applications: list[str] | None = None,
                       bucket: InsightBucket | None = None,
                       time_zone: str = "UTC") -> Insights:
        try:
            period = dora.Period(from_, to)
        except ValueError as exc:
            raise bad_input(str(exc), "from") from None
        try:
            zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise bad_input(f"{time_zone!r} is not a time zone (an IANA name such as "
                            "'Europe/Paris')", "timeZone") from None
        try:
            apps = await service.scopes(info.context.sessions, applications)
        except ValueError as exc:
            raise bad_input(str(exc), "applications") from None
        hub = info.context.hub
        gathered = await service.gather(hub, apps, period, deadline=hub.deadline())
        for error in gathered.errors:
            report(info, Fetched(None, error=error))
        keys = [a.key for a in apps]
        result = service.compute(gathered, period, keys,
                                 bucket=dora.Bucket(bucket.value) if bucket else None,
                                 zone=zone)
        return Insights(
            applications=[FourKeys.of(result.applications[k], k) for k in keys],
            overall=FourKeys.of(result.overall),
            trend=[FourKeys.of(t) for t in result.trend], **_records(result))


def _records(result: service.Insights) -> dict[str, list[Any]]:
    """The upstream records behind the figures, with their titles and links."""
    period, records = result.period, result.records
    deployed = sorted((d for d in result.facts.deployments if d.at in period),
                      key=lambda d: (d.at, d.id))
    deployments: list[Any] = []
    work: list[Any] = []
    for d in deployed:
        upstream = records.deployments[d.id]
        carried = result.shipped.get(d.id, [])
        deployments.append(DoraDeployment(
            id=d.id, application=d.application, at=d.at, succeeded=d.succeeded,
            repository=upstream.repository, ref=upstream.ref, url=upstream.url,
            change=d.change, work=[w.id for w in carried]))
        for piece in carried:
            pull = records.work[piece.id]
            work.append(DoraWork(
                id=piece.id, application=piece.application, title=pull.title, url=pull.url,
                merged_at=piece.merged_at, first_commit_at=piece.first_commit_at,
                deployment=d.id,
                lead_time_hours=max(0.0, (d.at - piece.started_at) / timedelta(hours=1))))
    changes: list[Any] = [
        DoraChange(number=c.number, title=c.title, url=c.url,
                   emergency=c.type is ChangeType.EMERGENCY, planned_start=c.planned_start,
                   planned_end=c.planned_end)
        for c in sorted(records.changes.values(),
                        key=lambda c: (c.planned_start or period.start, c.number))]
    incidents: list[Any] = [
        DoraIncident(number=i.id, application=i.application,
                     title=records.incidents[i.id].title, url=records.incidents[i.id].url,
                     opened_at=i.opened_at, resolved_at=i.resolved_at,
                     caused_by=list(i.caused_by))
        for i in sorted(result.facts.incidents, key=lambda i: (i.opened_at, i.id))]
    return {"deployments": deployments, "work": work, "changes": changes,
            "incidents": incidents}
