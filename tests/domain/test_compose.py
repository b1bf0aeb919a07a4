"""Composing a change request from a release: risk with reasons, the description
the change board reads, the type, and requester overrides field by field."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.domain.compose import (
    ChangeOverrides,
    ComposeConfig,
    assess_risk,
    compose_change,
)
from api.domain.facts import AppFacts, ReleaseFacts
from connectors.base import ChangeType, RiskLevel, TrackerIssue, WorkItem, WorkStatus
from tests.domain import WORLD, all_items, pull_requests, release_facts, tracker_issues

KEY = "PAY-2026.11"  # READY, enterprise, a mix of done and open work, merged and open PRs
START = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


@pytest.fixture
def release() -> ReleaseFacts:
    return release_facts(KEY)


@pytest.fixture
def items() -> list[WorkItem]:
    return all_items(KEY)


def issues(count: int) -> list[WorkItem]:
    return [TrackerIssue(source="jira", key=f"OPS-{n}", title=f"Task {n}", url="",
                         kind="Task", status=WorkStatus.DONE, status_label="Done",
                         assignee=None, updated_at=START, issue_type="Task")
            for n in range(1, count + 1)]


def plain_release(**changes: Any) -> ReleaseFacts:
    """A release with no risk factor of its own: a project release to staging."""
    base = ReleaseFacts(key="OPS-1", name="Ops 1", type="PROJECT", status="READY",
                        window_start=START, window_end=START + timedelta(hours=2),
                        applications=(AppFacts("OPS", "Ops", ("Ops Service",)),),
                        tiers=("STAGING",))
    return dataclasses.replace(base, **changes)


# --------------------------------------------------------------------------- risk


def test_a_small_release_outside_production_is_low_risk_and_says_why() -> None:
    level, reasons = assess_risk(plain_release(), issues(3), recent_failed_deployments=0)
    assert level is RiskLevel.LOW
    assert reasons == ("no risk factor: 3 work items, no production tier, not an emergency, "
                       "no recent failed deployments",)


@pytest.mark.parametrize(("release", "count", "failed", "level", "reason"), [
    (plain_release(tiers=("PRODUCTION",)), 3, 0, RiskLevel.MODERATE,
     "deploys to the production tier"),
    (plain_release(), 10, 0, RiskLevel.MODERATE, "sizeable scope: 10 work items (at least 10)"),
    (plain_release(), 25, 0, RiskLevel.HIGH, "large scope: 25 work items (at least 25)"),
    (plain_release(type="EMERGENCY"), 3, 0, RiskLevel.HIGH,
     "emergency release: shortened assessment and testing"),
    (plain_release(), 3, 1, RiskLevel.MODERATE,
     "1 recent failed deployment of the same applications"),
    (plain_release(), 3, 2, RiskLevel.HIGH,
     "2 recent failed deployments of the same applications"),
], ids=["production", "sizeable-scope", "large-scope", "emergency", "one-failure",
        "two-failures"])
def test_each_risk_factor_alone_raises_the_level_and_gives_its_reason(
        release: ReleaseFacts, count: int, failed: int, level: RiskLevel, reason: str) -> None:
    assert assess_risk(release, issues(count), recent_failed_deployments=failed) == (
        level, (reason,))


def test_production_tier_is_recognised_whatever_its_case() -> None:
    level, _ = assess_risk(plain_release(tiers=("staging", "Production")), issues(1),
                           recent_failed_deployments=0)
    assert level is RiskLevel.MODERATE


def test_factors_add_up_to_very_high_with_every_reason() -> None:
    release = plain_release(type="EMERGENCY", tiers=("PRODUCTION",))
    level, reasons = assess_risk(release, issues(30), recent_failed_deployments=3)
    assert level is RiskLevel.VERY_HIGH
    assert reasons == ("large scope: 30 work items (at least 25)",
                       "deploys to the production tier",
                       "emergency release: shortened assessment and testing",
                       "3 recent failed deployments of the same applications")


def test_the_seeded_release_is_high_risk_for_its_scope_and_production(
        release: ReleaseFacts, items: list[WorkItem]) -> None:
    level, reasons = assess_risk(release, items, recent_failed_deployments=0)
    assert level is RiskLevel.HIGH
    assert reasons == (f"sizeable scope: {len(items)} work items (at least 10)",
                       "deploys to the production tier")


# --------------------------------------------------------------------------- composition


def test_the_change_is_titled_and_scheduled_from_the_release(
        release: ReleaseFacts, items: list[WorkItem]) -> None:
    change = compose_change(release, items)
    world_release = WORLD.release(KEY)
    assert change.title == "Deploy Payments 2026.11 to production"
    assert (change.planned_start, change.planned_end) == (world_release.window_start,
                                                          world_release.window_end)
    assert change.configuration_items == ("Payments Service",)
    assert change.type is ChangeType.NORMAL
    assert change.risk is RiskLevel.HIGH


def test_the_description_names_services_window_risk_backout_evidence_and_every_ticket(
        release: ReleaseFacts, items: list[WorkItem]) -> None:
    text = compose_change(release, items).description
    jira = tracker_issues(KEY)
    pulls = pull_requests(KEY)
    done = sum(1 for i in items if i.status is WorkStatus.DONE)
    merged = sum(1 for p in pulls if p.merged)
    assert "Affected services and configuration items\n- Payments (PAY): Payments Service" in text
    assert "Implementation window\n- 2026-11-16 05:00 UTC to 2026-11-16 09:00 UTC (4h)" in text
    assert "Risk: high\n- sizeable scope" in text
    assert "Backout plan\nRedeploy the previous release of each affected application." in text
    assert f"Test evidence\n{done} of {len(items)} work items done; {merged} merged pull " \
           "requests" in text
    assert f"- Pull requests: {merged} merged, {len(pulls) - merged} open" in text
    for issue in jira:
        assert f"- {issue.key}: {issue.title} ({issue.status_label})" in text
    for pull in pulls:
        assert f"- {pull.key}: " in text


def test_linked_tickets_are_in_natural_key_order_whatever_the_fetch_order(
        release: ReleaseFacts, items: list[WorkItem]) -> None:
    shuffled = list(items)
    random.Random(3).shuffle(shuffled)
    first, second = compose_change(release, items), compose_change(release, shuffled)
    assert first.description == second.description
    jira_keys = [k for k in first.linked_tickets if k.startswith("PAY-")]
    assert jira_keys == sorted(jira_keys, key=lambda k: int(k.split("-")[1]))
    assert set(first.linked_tickets) == {i.key for i in items}


def test_a_release_without_window_or_work_says_so() -> None:
    change = compose_change(plain_release(window_start=None, window_end=None), [])
    assert "Implementation window\n- not scheduled yet" in change.description
    assert change.test_evidence == "no work items are linked to the release"
    assert "Linked tickets\n- none" in change.description


def test_configuration_items_of_several_applications_are_listed_once_in_order() -> None:
    apps = (AppFacts("A", "Alpha", ("Shared DB", "Alpha Service")),
            AppFacts("B", "Beta", ("Beta Service", "Shared DB")),
            AppFacts("C", "Gamma"))
    change = compose_change(plain_release(applications=apps), [])
    assert change.configuration_items == ("Shared DB", "Alpha Service", "Beta Service")
    assert "- Gamma (C): no configuration item recorded" in change.description


@pytest.mark.parametrize(("release_type", "config", "expected"), [
    ("EMERGENCY", ComposeConfig(), ChangeType.EMERGENCY),
    ("ENTERPRISE", ComposeConfig(), ChangeType.NORMAL),
    ("PROJECT", ComposeConfig(), ChangeType.NORMAL),
    ("PROJECT", ComposeConfig(change_types={"project": ChangeType.STANDARD}),
     ChangeType.STANDARD),
    ("EMERGENCY", ComposeConfig(change_types={"PROJECT": ChangeType.STANDARD}),
     ChangeType.EMERGENCY),
], ids=["emergency", "enterprise", "project", "configured-standard", "unnamed-keeps-default"])
def test_the_change_type_follows_the_release_type_and_configuration(
        release_type: str, config: ComposeConfig, expected: ChangeType) -> None:
    change = compose_change(plain_release(type=release_type), [], config=config)
    assert change.type is expected


def test_a_configured_backout_plan_replaces_the_default() -> None:
    config = ComposeConfig(backout_plan="Flip the feature flag off.")
    change = compose_change(plain_release(), [], config=config)
    assert change.backout_plan == "Flip the feature flag off."
    assert "Backout plan\nFlip the feature flag off." in change.description


# --------------------------------------------------------------------------- overrides

LATER = START + timedelta(days=2)
OVERRIDES: dict[str, Any] = {
    "title": "Payments hotfix",
    "type": ChangeType.EMERGENCY,
    "risk": RiskLevel.VERY_HIGH,
    "planned_start": LATER,
    "planned_end": LATER + timedelta(hours=1),
    "backout_plan": "Restore the database snapshot.",
    "test_evidence": "Load test report LT-42 attached.",
    "configuration_items": ("Payments DB",),
    "assignment_group": "Payments Ops",
}


@pytest.mark.parametrize("name", sorted(OVERRIDES))
def test_an_override_wins_for_its_field_and_leaves_the_others_composed(
        name: str, release: ReleaseFacts, items: list[WorkItem]) -> None:
    composed = compose_change(release, items)
    overridden = compose_change(release, items,
                                overrides=ChangeOverrides(**{name: OVERRIDES[name]}))
    assert getattr(overridden, name) == OVERRIDES[name]
    for other in ("title", "type", "risk", "planned_start", "planned_end", "backout_plan",
                  "test_evidence", "configuration_items", "assignment_group",
                  "linked_tickets"):
        if other != name:
            assert getattr(overridden, other) == getattr(composed, other), other


def test_the_description_tells_the_overridden_story(
        release: ReleaseFacts, items: list[WorkItem]) -> None:
    overrides = ChangeOverrides(**{k: v for k, v in OVERRIDES.items() if k != "title"})
    text = compose_change(release, items, overrides=overrides).description
    assert "Backout plan\nRestore the database snapshot." in text
    assert "Test evidence\nLoad test report LT-42 attached." in text
    assert "2026-12-03 22:00 UTC to 2026-12-03 23:00 UTC (1h)" in text
    assert "- Further configuration items: Payments DB" in text
    assert "Risk: very high\n- set to very high by the requester (computed high)" in text


def test_a_description_override_replaces_the_composed_text_whole(
        release: ReleaseFacts, items: list[WorkItem]) -> None:
    change = compose_change(release, items,
                            overrides=ChangeOverrides(description="See the runbook."))
    assert change.description == "See the runbook."
    assert change.risk is RiskLevel.HIGH


def test_the_draft_carries_the_composed_fields_and_the_correlation_id(
        release: ReleaseFacts, items: list[WorkItem]) -> None:
    change = compose_change(release, items,
                            overrides=ChangeOverrides(assignment_group="Payments Ops"))
    draft = change.draft("heatshield:PAY-2026.11")
    assert draft.correlation_id == "heatshield:PAY-2026.11"
    assert (draft.title, draft.description, draft.type, draft.risk) == (
        change.title, change.description, ChangeType.NORMAL, RiskLevel.HIGH)
    assert (draft.planned_start, draft.planned_end) == (change.planned_start,
                                                        change.planned_end)
    assert draft.configuration_items == ("Payments Service",)
    assert draft.assignment_group == "Payments Ops"
