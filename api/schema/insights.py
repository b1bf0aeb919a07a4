"""`Query.insights`: DORA's four keys per application and overall, with their records.

Every figure names the records it came from, so a reader can drill down; a
source that fails adds a coded error and the figures stand on the others.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import strawberry

from api.domain import dora
from api.errors import bad_input
from api.hub import Fetched
from api.permissions import IsViewer
from api.schema.context import Info
from api.schema.partial_results import report
from api.services import insights as service


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

    @classmethod
    def of(cls, figure: dora.Figure) -> DoraFigure:
        return cls(value=figure.value, unit=_UNITS[figure.key],
                   band=PerformanceBand[figure.band.name] if figure.band else None,
                   sample_size=figure.sample_size, records=list(figure.records))


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


@strawberry.type(description="DORA's four keys per application and overall, and their trend.")
class Insights:
    applications: list[FourKeys]
    overall: FourKeys
    trend: list[FourKeys] = strawberry.field(
        description="Overall keys per bucket, in the asked time zone; empty without a bucket.")


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
            trend=[FourKeys.of(t) for t in result.trend])
