"""Compose a change request from a release, in the operations vocabulary.

The change board reads services, configuration items, a window, a risk with
its reasons, a backout plan and test evidence; this turns a release and its
live work items into exactly that, as plain text (ITSMs store plain text).
Every composed field can be overridden by the requester.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from api.domain.change_flow import is_open
from api.domain.facts import ReleaseFacts, format_window
from api.domain.plans import backout_plan, implementation_plan
from api.domain.words import count, kind_word, risk_word
from connectors.records import (
    ChangeDraft,
    ChangeRecord,
    ChangeType,
    PullRequest,
    RiskLevel,
    WorkItem,
    WorkStatus,
)

DEFAULT_CHANGE_TYPES: Mapping[str, ChangeType] = MappingProxyType(
    {"EMERGENCY": ChangeType.EMERGENCY, "ENTERPRISE": ChangeType.NORMAL,
     "PROJECT": ChangeType.NORMAL})
DEFAULT_BACKOUT_PLAN = "Redeploy the previous release of each affected application."

# Risk scoring: points per factor, then levels by total points.
SCOPE_MEDIUM = 10  # work items from which the scope itself adds risk
SCOPE_LARGE = 25
_LEVELS = ((4, RiskLevel.VERY_HIGH), (2, RiskLevel.HIGH), (1, RiskLevel.MODERATE),
           (0, RiskLevel.LOW))


@dataclass(frozen=True, slots=True)
class ComposeConfig:
    # release type -> change type; types not named fall back to the defaults
    change_types: Mapping[str, ChangeType] = field(
        default_factory=lambda: DEFAULT_CHANGE_TYPES, hash=False)
    backout_plan: str = DEFAULT_BACKOUT_PLAN
    pre_approved_standard: bool = False  # a STANDARD change of this organisation needs no CAB

    def change_type_for(self, release_type: str) -> ChangeType:
        wanted = release_type.casefold()
        for name, change_type in self.change_types.items():
            if name.casefold() == wanted:
                return change_type
        return DEFAULT_CHANGE_TYPES.get(release_type.upper(), ChangeType.NORMAL)


@dataclass(frozen=True, slots=True)
class ChangeOverrides:
    """What the requester typed; `None` keeps the composed value."""

    title: str | None = None
    description: str | None = None
    type: ChangeType | None = None
    risk: RiskLevel | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    backout_plan: str | None = None
    test_evidence: str | None = None
    configuration_items: tuple[str, ...] | None = None
    assignment_group: str | None = None


def once_raised(changes: Sequence[ChangeRecord]) -> ChangeOverrides:
    """Once a change is raised, the board reads what it will approve: its risk and window.

    What the release would compose now gives way to the open change's own values;
    with no open change, nothing is overridden.
    """
    raised = next((ch for ch in changes if is_open(ch.state)), None)
    if raised is None:
        return ChangeOverrides()
    return ChangeOverrides(risk=raised.risk, planned_start=raised.planned_start,
                           planned_end=raised.planned_end)


@dataclass(frozen=True, slots=True)
class ComposedChange:
    title: str
    description: str
    type: ChangeType
    risk: RiskLevel
    risk_reasons: tuple[str, ...]
    planned_start: datetime | None
    planned_end: datetime | None
    configuration_items: tuple[str, ...]
    backout_plan: str
    test_evidence: str
    linked_tickets: tuple[str, ...]
    assignment_group: str | None = None

    def draft(self, correlation_id: str) -> ChangeDraft:
        return ChangeDraft(
            title=self.title, description=self.description, type=self.type,
            correlation_id=correlation_id, planned_start=self.planned_start,
            planned_end=self.planned_end, risk=self.risk,
            configuration_items=self.configuration_items,
            assignment_group=self.assignment_group)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def assess_risk(release: ReleaseFacts, items: Sequence[WorkItem], *,
                recent_failed_deployments: int) -> tuple[RiskLevel, tuple[str, ...]]:
    """A level from the scope, with one reason per factor that raised it."""
    points = 0
    reasons: list[str] = []
    if len(items) >= SCOPE_LARGE:
        points += 2
        reasons.append(f"large scope: {_plural(len(items), 'work item')} "
                       f"(at least {SCOPE_LARGE})")
    elif len(items) >= SCOPE_MEDIUM:
        points += 1
        reasons.append(f"sizeable scope: {_plural(len(items), 'work item')} "
                       f"(at least {SCOPE_MEDIUM})")
    if release.goes_to_production:
        points += 1
        reasons.append("deploys to the production tier")
    if release.type.upper() == "EMERGENCY":
        points += 2
        reasons.append("emergency release: shortened assessment and testing")
    if recent_failed_deployments > 0:
        points += 1 if recent_failed_deployments == 1 else 2
        reasons.append(f"{_plural(recent_failed_deployments, 'recent failed deployment')} "
                       "of the same applications")
    if not reasons:
        reasons.append(f"no risk factor: {_plural(len(items), 'work item')}, no production "
                       "tier, not an emergency, no recent failed deployments")
    level = next(level for floor, level in _LEVELS if points >= floor)
    return level, tuple(reasons)


def _natural(key: str) -> tuple[tuple[int, str], ...]:
    """Sort "PAY-2" before "PAY-10"."""
    return tuple((int(part), "") if part.isdigit() else (0, part)
                 for part in re.split(r"(\d+)", key))


def linked_tickets(items: Sequence[WorkItem]) -> tuple[str, ...]:
    return tuple(sorted({i.key for i in items}, key=_natural))


def _configuration_items(release: ReleaseFacts) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for app in release.applications:
        for ci in app.cmdb_items:
            seen.setdefault(ci)
    return tuple(seen)


def _pulls(items: Sequence[WorkItem]) -> tuple[list[PullRequest], list[PullRequest]]:
    pulls = [i for i in items if isinstance(i, PullRequest)]
    return [p for p in pulls if p.merged], [p for p in pulls if not p.merged]


def evidence_from(items: Sequence[WorkItem]) -> str:
    """Done work and merged code: what the hub can vouch for without a test system."""
    if not items:
        return "no work items are linked to the release"
    done = sum(1 for i in items if i.status is WorkStatus.DONE)
    merged, _ = _pulls(items)
    return f"{done} of {_plural(len(items), 'work item')} done; " \
           f"{_plural(len(merged), 'merged pull request')}"


def _scope_lines(items: Sequence[WorkItem]) -> list[str]:
    if not items:
        return ["- No work items are linked to the release."]
    done = sum(1 for i in items if i.status is WorkStatus.DONE)
    kinds = Counter(i.kind for i in items)
    by_kind = ", ".join(count(n, kind_word(kind)) for kind, n in sorted(kinds.items()))
    merged, open_pulls = _pulls(items)
    return [f"- {_plural(len(items), 'work item')}: {done} done, {len(items) - done} open "
            f"(by kind: {by_kind})",
            f"- Pull requests: {len(merged)} merged, {len(open_pulls)} open"]


def _describe(release: ReleaseFacts, change: ComposedChange, items: Sequence[WorkItem]) -> str:
    by_key = {i.key: i for i in items}
    services = [
        f"- {app.name} ({app.key}): "
        + (", ".join(app.cmdb_items) or "no configuration item recorded")
        for app in release.applications] or ["- No application is linked to the release."]
    extra = [ci for ci in change.configuration_items
             if not any(ci in app.cmdb_items for app in release.applications)]
    if extra:
        services.append("- Further configuration items: " + ", ".join(extra))
    tickets = [f"- {key}: {by_key[key].title} ({by_key[key].status_label})"
               if key in by_key else f"- {key}" for key in change.linked_tickets]
    lines = [
        f"Release {release.key}: {release.name} ({release.type.lower()} release, "
        f"to {', '.join(t.lower() for t in release.tiers) or 'no tier'}).",
        *([release.description] if release.description else []),
        "",
        "Scope",
        *_scope_lines(items),
        "",
        "Affected services and configuration items",
        *services,
        "",
        "Implementation window",
        f"- {format_window(change.planned_start, change.planned_end)}",
        "",
        *(["Implementation plan", implementation_plan(release.runbook), ""]
          if release.runbook else []),
        f"Risk: {risk_word(change.risk)}",
        *(f"- {reason}" for reason in change.risk_reasons),
        "",
        "Backout plan",
        change.backout_plan,
        "",
        "Test evidence",
        change.test_evidence,
        "",
        "Linked tickets",
        *(tickets or ["- none"]),
    ]
    return "\n".join(lines)


def compose_change(release: ReleaseFacts, items: Sequence[WorkItem], *,
                   recent_failed_deployments: int = 0,
                   config: ComposeConfig = ComposeConfig(),
                   overrides: ChangeOverrides = ChangeOverrides()) -> ComposedChange:
    """Overrides are applied before the description is written, so it tells the same story."""
    o = overrides
    risk, reasons = assess_risk(release, items,
                                recent_failed_deployments=recent_failed_deployments)
    if o.risk is not None and o.risk is not risk:
        reasons = (f"set to {risk_word(o.risk)} by the requester (computed "
                   f"{risk_word(risk)})", *reasons)
    tiers = ", ".join(t.lower() for t in release.tiers) or "no tier"
    change = ComposedChange(
        title=o.title if o.title is not None else f"Deploy {release.name} to {tiers}",
        description="",
        type=o.type if o.type is not None else config.change_type_for(release.type),
        risk=o.risk if o.risk is not None else risk,
        risk_reasons=reasons,
        planned_start=o.planned_start if o.planned_start is not None else release.window_start,
        planned_end=o.planned_end if o.planned_end is not None else release.window_end,
        configuration_items=(o.configuration_items if o.configuration_items is not None
                             else _configuration_items(release)),
        backout_plan=o.backout_plan if o.backout_plan is not None
        else backout_plan(release.runbook) or config.backout_plan,
        test_evidence=o.test_evidence if o.test_evidence is not None else evidence_from(items),
        linked_tickets=linked_tickets(items),
        assignment_group=o.assignment_group,
    )
    description = o.description if o.description is not None \
        else _describe(release, change, items)
    return replace(change, description=description)
