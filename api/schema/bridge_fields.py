"""Release fields of the change bridge: gates, the composed change, release notes.

Each gathers the release's live facts through the request's loaders (so many
releases in one query still cost one upstream call per source) and hands them
to the pure rules in `api/domain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import strawberry

from api.changes import blackout_facts, blocker_rule, compose_config, release_facts
from api.db import models as m
from api.domain.change_flow import is_open
from api.domain.compose import ChangeOverrides, ComposedChange, compose_change
from api.domain.facts import BlackoutFacts, ReleaseFacts
from api.domain.gates import GateResult as GateRule
from api.domain.gates import blackout_warnings, evaluate_gates
from api.domain.notes import Audience, NotesFormat, Vocabulary, render_notes
from api.schema import federated
from api.schema.context import Info
from api.schema.partial_results import report
from connectors import base as c

strawberry.enum(Audience, description="Who release notes are for, in their own words.")
strawberry.enum(NotesFormat)


@strawberry.type(description="One condition for entering DEPLOYING, evaluated live.")
class GateResult:
    name: str
    passed: bool
    reason: str


@strawberry.type(description="The change request Heatshield would raise for a release.")
class ChangePreview:
    title: str
    description: str
    type: c.ChangeType
    risk: c.RiskLevel
    risk_reasons: list[str]
    planned_start: datetime | None
    planned_end: datetime | None
    configuration_items: list[str]
    backout_plan: str
    test_evidence: str
    linked_tickets: list[str]
    warnings: list[str] = strawberry.field(
        description="Blackout windows the planned window falls in; raising needs "
                    "acknowledgeBlackout.")

    @classmethod
    def of(cls, composed: ComposedChange, warnings: list[str]) -> ChangePreview:
        return cls(title=composed.title, description=composed.description, type=composed.type,
                   risk=composed.risk, risk_reasons=list(composed.risk_reasons),
                   planned_start=composed.planned_start, planned_end=composed.planned_end,
                   configuration_items=list(composed.configuration_items),
                   backout_plan=composed.backout_plan, test_evidence=composed.test_evidence,
                   linked_tickets=list(composed.linked_tickets), warnings=warnings)


@dataclass(frozen=True, slots=True)
class Live:
    """What the rules need about one release, read live."""

    facts: ReleaseFacts
    items: list[c.WorkItem]
    items_known: bool
    changes: list[c.ChangeRecord]
    changes_known: bool
    blackouts: list[BlackoutFacts]
    failed_deployments: int


async def live(info: Info, release_id: int) -> Live:
    async with info.context.sessions() as session:
        release = await session.get(m.Release, release_id)
        assert release is not None
        facts = await release_facts(session, release)
        blackouts = await blackout_facts(session, release.window_start, release.window_end)
    repositories = [repo for app in await info.context.loaders.release_applications.load(
        release_id) for repo in app.repositories]
    work = await federated.release_work(info, release_id)
    changes, changes_known = await federated.release_changes_known(info, release_id)
    return Live(facts=facts, items=[i for _, items, _, _ in work for i in items],
                items_known=all(available for _, _, _, available in work),
                changes=changes, changes_known=changes_known, blackouts=blackouts,
                failed_deployments=await _recent_failures(info, repositories))


async def _recent_failures(info: Info, repositories: list[str]) -> int:
    """Failed deployments of these repositories within the configured look-back."""
    since = datetime.now(UTC) - timedelta(days=info.context.settings.changes.failed_deployment_days)
    keys = [(source, repo, None) for source in info.context.hub.deployment_sources()
            for repo in repositories]
    failures = 0
    for result in await info.context.upstream.deployments.load_many(keys):
        report(info, result)
        failures += sum(1 for d in result.value or []
                        if d.state is c.DeploymentState.FAILURE and d.created_at >= since)
    return failures


def compose(info: Info, state: Live, overrides: ChangeOverrides = ChangeOverrides()
            ) -> ComposedChange:
    return compose_change(state.facts, state.items,
                          recent_failed_deployments=state.failed_deployments,
                          config=compose_config(info.context.settings), overrides=overrides)


def warnings(state: Live, composed: ComposedChange) -> list[str]:
    return blackout_warnings(state.facts, composed.planned_start, composed.planned_end,
                             state.blackouts)


def gates(info: Info, state: Live) -> list[GateRule]:
    settings = info.context.settings
    config = compose_config(settings)
    return evaluate_gates(state.facts, changes=state.changes, changes_known=state.changes_known,
                          items=state.items, items_known=state.items_known,
                          blackouts=state.blackouts,
                          change_type=config.change_type_for(state.facts.type),
                          pre_approved_standard=settings.changes.pre_approved_standard,
                          rule=blocker_rule(settings))


def gate_results(rules: list[GateRule]) -> list[GateResult]:
    return [GateResult(name=g.name, passed=g.passed, reason=g.reason) for g in rules]


async def release_gates(info: Info, release_id: int) -> list[GateResult]:
    return gate_results(gates(info, await live(info, release_id)))


async def change_preview(info: Info, release_id: int) -> ChangePreview:
    state = await live(info, release_id)
    composed = compose(info, state)
    return ChangePreview.of(composed, warnings(state, composed))


async def release_notes(info: Info, release_id: int, audience: Audience,
                        fmt: NotesFormat) -> str:
    state = await live(info, release_id)
    words = info.context.settings.vocabulary
    # Once a change is raised, the board reads what it will approve: its risk and window.
    raised = next((ch for ch in state.changes if is_open(ch.state)), None)
    overrides = ChangeOverrides() if raised is None else ChangeOverrides(
        risk=raised.risk, planned_start=raised.planned_start, planned_end=raised.planned_end)
    return render_notes(audience, fmt, state.facts, items=state.items, changes=state.changes,
                        composed=compose(info, state, overrides), gates=gates(info, state),
                        vocabulary=Vocabulary(release=words.release, change=words.change,
                                              work_item=words.work_item,
                                              version=words.version))
