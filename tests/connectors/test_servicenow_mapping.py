"""ServiceNow change_request rows read into canonical records, and drafts written back.

No ServiceNow change_request recording exists in the shared fixtures, so the
literal inputs below are the example payloads of upstream-apis.md §3.4; the
one real recording (an `rm_release` row with display values) checks that the
readers take a real instance's shapes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from connectors.base import (
    ApprovalState,
    ChangeDraft,
    ChangePatch,
    ChangeState,
    ChangeType,
    RiskLevel,
)
from connectors.servicenow import mapping
from connectors.servicenow.mapping import IllegalTransition, change_from_row, state_steps
from tests.support.paths import FIXTURES

INSTANCE = "https://acme.service-now.com"

# upstream-apis.md §3.4, "Minimal realistic raw record".
DOC_RECORD: dict[str, Any] = {
    "sys_id": "70ad699e47410200e90d87e8dee4907d",
    "number": "CHG0030001",
    "sys_class_name": "change_request",
    "short_description": "Deploy shop 2.4.0 to production",
    "description": "Release train 2.4.0: REL-101, REL-102",
    "type": "normal",
    "state": "-2",
    "phase": "requested",
    "approval": "approved",
    "risk": "3", "impact": "2", "urgency": "3", "priority": "3",
    "start_date": "2025-06-30 20:00:00",
    "end_date": "2025-06-30 22:00:00",
    "work_start": "", "work_end": "",
    "on_hold": "false", "active": "true",
    "assignment_group": {
        "link": "https://acme.service-now.com/api/now/table/sys_user_group/"
                "14b181dddbb1089429a34410ba961970",
        "value": "14b181dddbb1089429a34410ba961970"},
    "cmdb_ci": {"link": "https://acme.service-now.com/api/now/table/cmdb_ci/"
                        "e0c286aedbc0cc10058c1a2f2a961951",
                "value": "e0c286aedbc0cc10058c1a2f2a961951"},
    "close_code": "", "close_notes": "",
    "sys_created_on": "2025-06-10 08:01:22", "sys_updated_on": "2025-06-12 15:42:51",
    "sys_updated_by": "cab.chair", "sys_mod_count": "9",
}


def read(row: dict[str, Any], overrides: dict[str, str] | None = None) -> Any:
    return change_from_row(row, source="snow", instance_url=INSTANCE, overrides=overrides)


def row_with(**fields: Any) -> dict[str, Any]:
    return {**DOC_RECORD, **fields}


# -- the doc's record ------------------------------------------------------------------


def test_the_documented_raw_record_reads_into_a_canonical_change() -> None:
    record = read(DOC_RECORD)

    assert record.number == "CHG0030001"
    assert record.upstream_id == "70ad699e47410200e90d87e8dee4907d"
    assert record.title == "Deploy shop 2.4.0 to production"
    assert record.description == "Release train 2.4.0: REL-101, REL-102"
    assert (record.state, record.state_label) == (ChangeState.SCHEDULED, "Scheduled")
    assert record.type is ChangeType.NORMAL
    assert record.approval is ApprovalState.APPROVED
    assert record.risk is RiskLevel.MODERATE
    assert record.planned_start == datetime(2025, 6, 30, 20, 0, tzinfo=UTC)
    assert record.planned_end == datetime(2025, 6, 30, 22, 0, tzinfo=UTC)
    assert record.updated_at == datetime(2025, 6, 12, 15, 42, 51, tzinfo=UTC)
    assert record.configuration_items == ("e0c286aedbc0cc10058c1a2f2a961951",)
    assert record.correlation_id is None
    assert record.url == (f"{INSTANCE}/nav_to.do?uri=change_request.do?"
                          "sys_id=70ad699e47410200e90d87e8dee4907d")


def test_display_value_all_keeps_the_number_for_the_state_and_the_label_for_people() -> None:
    row = row_with(
        state={"display_value": "Scheduled", "value": "-2"},
        start_date={"display_value": "30/06/2025 23:00:00", "value": "2025-06-30 20:00:00"},
        cmdb_ci={"display_value": "Shop Service", "value": "e0c286aedbc0cc10058c1a2f2a961951"},
        risk={"display_value": "Moderate", "value": "3"})

    record = read(row)

    assert (record.state, record.state_label) == (ChangeState.SCHEDULED, "Scheduled")
    assert record.planned_start == datetime(2025, 6, 30, 20, 0, tzinfo=UTC)
    assert record.configuration_items == ("Shop Service",)
    assert record.risk is RiskLevel.MODERATE


def test_display_value_true_rows_read_from_their_labels() -> None:
    record = read(row_with(state="Scheduled", risk="Very High", approval="Not Yet Requested"))

    assert (record.state, record.state_label) == (ChangeState.SCHEDULED, "Scheduled")
    assert record.risk is RiskLevel.VERY_HIGH
    assert record.approval is ApprovalState.NOT_REQUESTED


def test_a_row_without_sys_id_or_number_is_refused() -> None:
    with pytest.raises(mapping.BadRecord):
        read(row_with(sys_id=""))


def test_the_real_recorded_row_reads_with_its_display_values_and_utc_stamps() -> None:
    body = json.loads((FIXTURES / "servicenow/port-ocean/release/response.json").read_text())
    row = body["result"][0]

    record = read(row)

    assert (record.number, record.upstream_id) == ("REL0010001",
                                                  "053892cb47357650360b3b12d16d43eb")
    assert record.description == "Test release project created for Port Ocean integration testing"
    assert record.risk is RiskLevel.LOW  # shown as the label "Low"
    assert record.updated_at == datetime(2025, 12, 18, 3, 37, 47, tzinfo=UTC)
    assert record.planned_start is None  # "" means not set


# -- every state, approval, risk and type ------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("-5", ChangeState.NEW), ("New", ChangeState.NEW),
    ("-4", ChangeState.ASSESS), ("Assess", ChangeState.ASSESS),
    ("-3", ChangeState.AUTHORIZE), ("Authorize", ChangeState.AUTHORIZE),
    ("-2", ChangeState.SCHEDULED), ("Scheduled", ChangeState.SCHEDULED),
    ("-1", ChangeState.IMPLEMENT), ("Implement", ChangeState.IMPLEMENT),
    ("0", ChangeState.REVIEW), ("Review", ChangeState.REVIEW),
    ("3", ChangeState.CLOSED), ("Closed", ChangeState.CLOSED),
    ("4", ChangeState.CANCELED), ("Canceled", ChangeState.CANCELED),
    # legacy (pre state-model) task states
    ("1", ChangeState.NEW), ("Open", ChangeState.NEW), ("Pending", ChangeState.NEW),
    ("2", ChangeState.IMPLEMENT), ("Work in Progress", ChangeState.IMPLEMENT),
    ("Closed Complete", ChangeState.CLOSED), ("Closed Incomplete", ChangeState.CLOSED),
    ("7", ChangeState.CANCELED), ("Closed Skipped", ChangeState.CANCELED),
])
def test_every_state_number_and_label_has_a_canonical_state(raw: str,
                                                          expected: ChangeState) -> None:
    record = read(row_with(state=raw, approval="requested"))

    assert record.state is expected
    assert record.state_label == mapping.STATE_LABELS.get(raw, raw)


def test_an_unknown_state_keeps_its_word_and_reads_as_new() -> None:
    record = read(row_with(state="42"))

    assert (record.state, record.state_label) == (ChangeState.NEW, "42")


def test_a_change_on_hold_is_on_hold_whatever_its_state() -> None:
    record = read(row_with(state={"display_value": "Assess", "value": "-4"}, on_hold="true"))

    assert (record.state, record.state_label) == (ChangeState.ON_HOLD, "Assess")


def test_new_with_a_rejected_approval_is_rejected() -> None:
    assert read(row_with(state="-5", approval="rejected")).state is ChangeState.REJECTED
    assert read(row_with(state="-4", approval="rejected")).state is ChangeState.ASSESS


@pytest.mark.parametrize(("raw", "expected"), [
    ("not requested", ApprovalState.NOT_REQUESTED), ("Not Yet Requested",
                                                     ApprovalState.NOT_REQUESTED),
    ("requested", ApprovalState.REQUESTED), ("approved", ApprovalState.APPROVED),
    ("rejected", ApprovalState.REJECTED), ("not_required", ApprovalState.APPROVED),
    ("cancelled", ApprovalState.NOT_REQUESTED), ("duplicate", ApprovalState.NOT_REQUESTED),
])
def test_every_approval_value(raw: str, expected: ApprovalState) -> None:
    assert read(row_with(approval=raw)).approval is expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", RiskLevel.VERY_HIGH), ("Very High", RiskLevel.VERY_HIGH),
    ("2", RiskLevel.HIGH), ("High", RiskLevel.HIGH),
    ("3", RiskLevel.MODERATE), ("Moderate", RiskLevel.MODERATE),
    ("4", RiskLevel.LOW), ("Low", RiskLevel.LOW), ("", None),
])
def test_every_risk_value(raw: str, expected: RiskLevel | None) -> None:
    assert read(row_with(risk=raw)).risk is expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("standard", ChangeType.STANDARD), ("normal", ChangeType.NORMAL),
    ("emergency", ChangeType.EMERGENCY), ("Emergency", ChangeType.EMERGENCY),
])
def test_every_change_type(raw: str, expected: ChangeType) -> None:
    assert read(row_with(type=raw)).type is expected


def test_status_map_overrides_a_number_or_a_label() -> None:
    by_number = read(row_with(state="-1"), {"-1": "REVIEW"})
    by_label = read(row_with(state={"display_value": "Implement", "value": "-1"}),
                    {"implement": "SCHEDULED"})
    ignored = read(row_with(state="-1"), {"-1": "NOT_A_STATE"})

    assert by_number.state is ChangeState.REVIEW
    assert by_label.state is ChangeState.SCHEDULED
    assert ignored.state is ChangeState.IMPLEMENT


def test_search_narrowing_follows_overrides() -> None:
    assert mapping.raw_states_for(ChangeState.IMPLEMENT, {}) == ["-1", "2"]
    assert mapping.raw_states_for(ChangeState.REVIEW, {"-1": "REVIEW"}) == ["-1", "0"]
    assert mapping.raw_states_for(ChangeState.REJECTED, {}) == ["-5", "1"]


# -- writes ---------------------------------------------------------------------------


def test_a_draft_becomes_numeric_choices_and_utc_dates() -> None:
    cet = timezone(timedelta(hours=1))
    draft = ChangeDraft(title="Deploy shop 2.4.0", description="REL-101", type=ChangeType.NORMAL,
                        correlation_id="hs-rel-42",
                        planned_start=datetime(2025, 6, 30, 21, 0, tzinfo=cet),
                        planned_end=datetime(2025, 6, 30, 22, 0, tzinfo=UTC),
                        risk=RiskLevel.HIGH, configuration_items=("Shop Service", "DB"),
                        assignment_group="Shop Ops")

    assert mapping.draft_to_body(draft) == {
        "short_description": "Deploy shop 2.4.0", "description": "REL-101", "type": "normal",
        "correlation_id": "hs-rel-42", "correlation_display": "Heatshield",
        "risk": "2", "impact": "1",
        "start_date": "2025-06-30 20:00:00", "end_date": "2025-06-30 22:00:00",
        "cmdb_ci": "Shop Service", "assignment_group": "Shop Ops"}


def test_a_minimal_draft_sends_only_what_it_has() -> None:
    draft = ChangeDraft(title="t", description="d", type=ChangeType.STANDARD, correlation_id="c")

    assert set(mapping.draft_to_body(draft)) == {
        "short_description", "description", "type", "correlation_id", "correlation_display"}


def test_a_patch_sends_changed_fields_and_the_note_as_work_notes() -> None:
    patch = ChangePatch(title="New title", risk=RiskLevel.VERY_HIGH, note="CAB agreed",
                        planned_end=datetime(2025, 7, 1, 1, 30, tzinfo=UTC))

    assert mapping.patch_to_body(patch) == {"short_description": "New title", "risk": "1",
                                            "work_notes": "CAB agreed",
                                            "end_date": "2025-07-01 01:30:00"}


@pytest.mark.parametrize(("kind", "current", "target", "steps"), [
    (ChangeType.NORMAL, "-5", ChangeState.ASSESS, ["-4"]),
    (ChangeType.NORMAL, "-5", ChangeState.AUTHORIZE, ["-4", "-3"]),
    (ChangeType.STANDARD, "-5", ChangeState.IMPLEMENT, ["-2", "-1"]),
    (ChangeType.NORMAL, "-1", ChangeState.CANCELED, ["4"]),
    (ChangeType.NORMAL, "-3", ChangeState.NEW, ["-5"]),
    (ChangeType.NORMAL, "-2", ChangeState.SCHEDULED, []),
    (ChangeType.NORMAL, "-2", ChangeState.CLOSED, ["-1", "0", "3"]),
])
def test_a_target_state_is_reached_one_allowed_step_at_a_time(
        kind: ChangeType, current: str, target: ChangeState, steps: list[str]) -> None:
    assert state_steps(kind, current, target) == steps


@pytest.mark.parametrize(("kind", "current", "target", "steps"), [
    (ChangeType.NORMAL, "-4", ChangeState.SCHEDULED, ["-3", "-2"]),
    (ChangeType.NORMAL, "-5", ChangeState.CLOSED, ["-4", "-3", "-2", "-1", "0", "3"]),
    (ChangeType.EMERGENCY, "-5", ChangeState.SCHEDULED, ["-3", "-2"]),
    (ChangeType.NORMAL, "-3", ChangeState.IMPLEMENT, ["-2", "-1"]),
])
def test_leaving_authorize_is_walked_only_for_an_approved_change(
        kind: ChangeType, current: str, target: ChangeState, steps: list[str]) -> None:
    with pytest.raises(IllegalTransition, match="would pass the approval"):
        state_steps(kind, current, target)
    assert state_steps(kind, current, target, approved=True) == steps


@pytest.mark.parametrize(("kind", "current", "target", "words"), [
    (ChangeType.NORMAL, "-2", ChangeState.ASSESS, "from Scheduled (-2) to Assess (-4)"),
    (ChangeType.NORMAL, "3", ChangeState.CANCELED, "from Closed (3) to Canceled (4)"),
    (ChangeType.STANDARD, "-5", ChangeState.AUTHORIZE, "from New (-5) to Authorize (-3)"),
    (ChangeType.NORMAL, "-1", ChangeState.NEW, "from Implement (-1) to New (-5)"),
    (ChangeType.NORMAL, "-5", ChangeState.REJECTED, "REJECTED"),
])
def test_an_illegal_target_names_from_and_to(kind: ChangeType, current: str,
                                             target: ChangeState, words: str) -> None:
    with pytest.raises(IllegalTransition, match=words.replace("(", r"\(").replace(")", r"\)")):
        state_steps(kind, current, target)
