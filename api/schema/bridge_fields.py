"""Release fields of the change bridge: gates, the composed change, release notes.

Each gathers the release's live facts through the request's loaders (so many
releases in one query still cost one upstream call per source) and hands them
to the pure rules in `api/domain`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import strawberry

from api.domain.compose import ChangeOverrides, ComposedChange, compose_change, once_raised
from api.domain.facts import BlackoutFacts, ReleaseFacts
from api.domain.gates import GateResult as GateRule
from api.domain.gates import blackout_warnings, evaluate_gates
from api.domain.notes import Audience, NotesFormat, Vocabulary, render_notes
from api.errors import ServiceError, not_found
from api.schema import federated
from api.schema.context import Context, Info
from api.services.changes import blocker_rule, compose_config
from api.services.release_facts import StoredFacts, stored_facts
from api.upstream_loaders import UpstreamLoaders
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
    # Upstream reads that failed (or missed the deadline), reported on each field using them.
    problems: federated.Problems = ()


async def live(info: Info, release_id: int) -> Live:
    """A release's live facts, read afresh, for mutations that act on them.

    A change request composed from them goes to the change board, and a gate checked
    on them lets a release deploy: so they wait for every source (up to the connectors'
    own timeouts) instead of answering partly at the request's deadline. That wait is
    the caller's alone: no database session is held meanwhile.
    """
    unhurried = replace(info.context, scoped={})
    unhurried.upstream = UpstreamLoaders(info.context.hub)
    found = (await _load_live(unhurried, [release_id]))[0]
    if isinstance(found, BaseException):
        raise found
    federated.report_all(info, found.problems)
    return found


async def shared_live(info: Info, release_id: int) -> Live:
    """A release's live facts, computed once per request for every field that needs them
    (gates, changePreview, releaseNotes) and for every release of the page at once."""
    state: Live = await info.context.scoped_loader(
        "release_live", lambda ids: _load_live(info.context, ids)).load(release_id)
    federated.report_all(info, state.problems)
    return state


async def _load_live(context: Context, release_ids: list[int]) -> list[Live | ServiceError]:
    # The stored facts come from one short session, closed before any upstream wait.
    stored = await stored_facts(context.sessions, release_ids)
    found = await asyncio.gather(*(_live_of(context, pk, stored[pk]) for pk in release_ids
                                   if pk in stored))
    by_id = dict(zip([pk for pk in release_ids if pk in stored], found, strict=True))
    return [by_id.get(pk) or not_found("Release", str(pk)) for pk in release_ids]


async def _live_of(context: Context, release_id: int, stored: StoredFacts) -> Live:
    work, changes, (failures, failed) = await asyncio.gather(
        federated.work_loader(context).load(release_id),
        federated.changes_loader(context).load(release_id),
        _recent_failures(context, stored.repositories))
    return Live(facts=stored.facts,
                items=[i for _, items, _, _ in work.sources for i in items],
                items_known=all(available for _, _, _, available in work.sources),
                changes=changes.records, changes_known=changes.known,
                blackouts=list(stored.blackouts), failed_deployments=failures,
                problems=(*work.problems, *changes.problems, *failed))


async def _recent_failures(context: Context, repositories: Sequence[str]
                           ) -> tuple[int, federated.Problems]:
    """Failed deployments of these repositories within the configured look-back."""
    since = datetime.now(UTC) - timedelta(days=context.settings.changes.failed_deployment_days)
    keys = [(source, repo, None) for source in context.hub.deployment_sources()
            for repo in repositories]
    failures = 0
    fetched = await context.upstream.deployments.load_many(keys)
    for result in fetched:
        failures += sum(1 for d in result.value or []
                        if d.state is c.DeploymentState.FAILURE and d.created_at >= since)
    return failures, tuple(result for result in fetched if not result.ok)


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
    return gate_results(gates(info, await shared_live(info, release_id)))


async def change_preview(info: Info, release_id: int) -> ChangePreview:
    state = await shared_live(info, release_id)
    composed = compose(info, state)
    return ChangePreview.of(composed, warnings(state, composed))


async def release_notes(info: Info, release_id: int, audience: Audience,
                        fmt: NotesFormat) -> str:
    state = await shared_live(info, release_id)
    words = info.context.settings.vocabulary
    return render_notes(audience, fmt, state.facts, items=state.items, changes=state.changes,
                        composed=compose(info, state, once_raised(state.changes)),
                        gates=gates(info, state),
                        vocabulary=Vocabulary(release=words.release, change=words.change,
                                              work_item=words.work_item,
                                              version=words.version))
