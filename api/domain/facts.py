"""Plain inputs the change-bridge rules read.

The rules take these instead of database rows or GraphQL types, so they stay
free of I/O and can be fed from any storage (and from the demo world in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from api.domain.plans import RunbookStep


@dataclass(frozen=True, slots=True)
class AppFacts:
    key: str
    name: str
    cmdb_items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OverrideFacts:
    """The last time someone moved the release past failing gates, and why."""

    actor: str
    at: datetime
    reason: str
    failed: tuple[str, ...] = ()  # the gates that failed, by name


@dataclass(frozen=True, slots=True)
class ReleaseFacts:
    key: str
    name: str
    type: str  # "ENTERPRISE" | "PROJECT" | "EMERGENCY"
    status: str
    window_start: datetime | None
    window_end: datetime | None
    applications: tuple[AppFacts, ...] = ()
    description: str = ""
    tiers: tuple[str, ...] = ("PRODUCTION",)  # environment tiers the release goes to
    runbook: tuple[RunbookStep, ...] = ()  # its deployment plan's activities, in order
    override: OverrideFacts | None = None  # the gate override it deploys under, if any

    @property
    def under_override(self) -> bool:
        """Deploying or deployed past failing gates: the mark lasts after the fact."""
        return self.override is not None and self.status in {"DEPLOYING", "DEPLOYED"}

    @property
    def app_keys(self) -> frozenset[str]:
        return frozenset(a.key.casefold() for a in self.applications)

    @property
    def tier_names(self) -> frozenset[str]:
        return frozenset(t.casefold() for t in self.tiers)

    @property
    def goes_to_production(self) -> bool:
        return "production" in self.tier_names


@dataclass(frozen=True, slots=True)
class BlackoutFacts:
    name: str
    start: datetime
    end: datetime
    reason: str
    tiers: tuple[str, ...] = ()  # empty = every tier
    applications: tuple[str, ...] = ()  # app keys; empty = every application

    def covers(self, release: ReleaseFacts) -> bool:
        """In scope when both its tiers and its applications match (an empty list matches all)."""
        tiers = {t.casefold() for t in self.tiers}
        apps = {a.casefold() for a in self.applications}
        return ((not tiers or bool(tiers & release.tier_names))
                and (not apps or bool(apps & release.app_keys)))


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, as the database stores them."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_utc(moment: datetime | None) -> str:
    return "not scheduled" if moment is None else f"{as_utc(moment):%Y-%m-%d %H:%M} UTC"


def format_window(start: datetime | None, end: datetime | None) -> str:
    """One line for a window, with its length, e.g. for a CAB."""
    if start is None or end is None:
        return "not scheduled yet"
    minutes = int((as_utc(end) - as_utc(start)).total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    length = f"{hours}h{rest:02d}m" if rest else f"{hours}h"
    return f"{format_utc(start)} to {format_utc(end)} ({length})"
