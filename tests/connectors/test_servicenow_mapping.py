"""ServiceNow change_request rows read into canonical records, and drafts written back.

The rows are the project's own sample answers (tests/contracts/samples/
servicenow.json, invented values in the Table API's shapes); the test marked
`reference` reads a real instance's recording from `../shared` and skips
without it.
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
from tests.support.contracts import sample
from tests.support.paths import FIXTURES

INSTANCE = "https://northwind.service-now.com"

#: A scheduled normal change, raw values (strings, UTC times, reference links).
SAMPLE_ROW: dict[str, Any] = sample("servicenow", "scheduled change")["result"]


def read(row: dict[str, Any], overrides: dict[str, str] | None = None) -> Any:
    return change_from_row(row, source="snow", instance_url=INSTANCE, overrides=overrides)


def row_with(**fields: Any) -> dict[str, Any]:
    return {**SAMPLE_ROW, **fields}


# -- the sample record -----------------------------------------------------------------


def test_a_raw_record_reads_into_a_canonical_change() -> None:
    record = read(SAMPLE_ROW)

    assert record.number == "CHG0041207"
    assert record.upstream_id == "3f9c2a7e5b1d4c8e9a0b1c2d3e4f5a6b"
    assert record.title == "Deploy ledger 3.1 to production"
    assert record.description == "Winter train 3.1: LED-29, LED-30"
    assert (record.state, record.state_label) == (ChangeState.SCHEDULED, "Scheduled")
    assert record.type is ChangeType.NORMAL
    assert record.approval is ApprovalState.APPROVED
    assert record.risk is RiskLevel.MODERATE
    assert record.planned_start == datetime(2026, 12, 15, 21, 0, tzinfo=UTC)
    assert record.planned_end == datetime(2026, 12, 15, 23, 30, tzinfo=UTC)
    assert record.updated_at == datetime(2026, 12, 3, 14, 5, 17, tzinfo=UTC)
    assert record.configuration_items == ("9f8e7d6c5b4a39281706f5e4d3c2b1a0",)
    assert record.correlation_id is None
    assert record.url == (f"{INSTANCE}/nav_to.do?uri=change_request.do?"
                          "sys_id=3f9c2a7e5b1d4c8e9a0b1c2d3e4f5a6b")


def test_display_value_all_keeps_the_number_for_the_state_and_the_label_for_people() -> None:
    row = row_with(
        state={"display_value": "Scheduled", "value": "-2"},
        start_date={"display_value": "15/12/2026 22:00:00", "value": "2026-12-15 21:00:00"},
        cmdb_ci={"display_value": "Ledger Service", "value": "9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
        risk={"display_value": "Moderate", "value": "3"})

    record = read(row)

    assert (record.state, record.state_label) == (ChangeState.SCHEDULED, "Scheduled")
    assert record.planned_start == datetime(2026, 12, 15, 21, 0, tzinfo=UTC)
    assert record.configuration_items == ("Ledger Service",)
    assert record.risk is RiskLevel.MODERATE


def test_display_value_true_rows_read_from_their_labels() -> None:
    record = read(row_with(state="Scheduled", risk="Very High", approval="Not Yet Requested"))

    assert (record.state, record.state_label) == (ChangeState.SCHEDULED, "Scheduled")
    assert record.risk is RiskLevel.VERY_HIGH
    assert record.approval is ApprovalState.NOT_REQUESTED


def test_a_row_without_sys_id_or_number_is_refused() -> None:
    with pytest.raises(mapping.BadRecord):
        read(row_with(sys_id=""))


def test_a_row_of_labels_reads_with_utc_stamps_and_empty_dates_unset() -> None:
    [row] = sample("servicenow", "labelled rows")["result"]

    record = read(row)

    assert (record.number, record.upstream_id) == ("CHG0041188",
                                                  "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b")
    assert (record.state, record.state_label) == (ChangeState.REVIEW, "Review")
    assert record.type is ChangeType.STANDARD
    assert record.approval is ApprovalState.APPROVED
    assert record.risk is RiskLevel.LOW  # shown as the label "Low"
    assert record.updated_at == datetime(2026, 11, 28, 3, 37, 47, tzinfo=UTC)
    assert record.planned_start is None and record.planned_end is None  # "" means not set
    assert record.configuration_items == ()


@pytest.mark.reference
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


# -- numbers where the Table API sends strings, and odd but legal rows ----------------------


@pytest.mark.parametrize("closed", [3, 3.0, "3.0", " 3 ", {"value": 3.0, "display_value": ""},
                                    {"value": 3, "display_value": "Closed"}])
def test_a_state_sent_as_a_number_reads_as_its_choice(closed: object) -> None:
    record = read(row_with(state=closed))

    assert (record.state, record.state_label) == (ChangeState.CLOSED, "Closed")


@pytest.mark.parametrize(("raw", "expected"), [
    (-2, ChangeState.SCHEDULED), (-2.0, ChangeState.SCHEDULED), ("-5.0", ChangeState.NEW),
    (0, ChangeState.REVIEW), (0.0, ChangeState.REVIEW), ("4.00", ChangeState.CANCELED),
])
def test_negative_and_zero_states_sent_as_numbers_keep_their_meaning(
        raw: object, expected: ChangeState) -> None:
    assert read(row_with(state=raw)).state is expected


@pytest.mark.parametrize(("raw", "expected"), [
    (1, RiskLevel.VERY_HIGH), (2.0, RiskLevel.HIGH), ("3.0", RiskLevel.MODERATE),
    ({"value": 4.0, "display_value": "Low"}, RiskLevel.LOW),
])
def test_a_risk_sent_as_a_number_reads_as_its_level(raw: object, expected: RiskLevel) -> None:
    assert read(row_with(risk=raw)).risk is expected


def test_a_boolean_on_hold_flag_holds_the_change() -> None:
    assert read(row_with(on_hold=True)).state is ChangeState.ON_HOLD
    assert read(row_with(on_hold=False)).state is ChangeState.SCHEDULED


def test_a_number_that_is_not_a_whole_choice_keeps_its_digits() -> None:
    record = read(row_with(state=2.5))

    assert (record.state, record.state_label) == (ChangeState.NEW, "2.5")


def test_a_row_with_only_its_identity_reads_with_everything_else_unset() -> None:
    record = read({"sys_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "number": "CHG0050001"})

    assert record.number == "CHG0050001"
    assert (record.state, record.state_label) == (ChangeState.NEW, "")
    assert record.title == ""
    assert record.risk is None
    assert record.approval is ApprovalState.NOT_REQUESTED
    assert record.type is ChangeType.NORMAL
    assert record.planned_start is record.updated_at is None
    assert record.description is record.correlation_id is None
    assert record.configuration_items == ()


def test_nulls_and_empty_strings_read_as_unset() -> None:
    record = read(row_with(description=None, risk=None, start_date=None, end_date="",
                           correlation_id="", cmdb_ci={"value": None, "display_value": None},
                           state={"value": "-1", "display_value": None}, approval=None))

    assert record.description is None and record.correlation_id is None
    assert record.risk is None
    assert record.planned_start is None and record.planned_end is None
    assert record.configuration_items == ()
    assert (record.state, record.state_label) == (ChangeState.IMPLEMENT, "Implement")
    assert record.approval is ApprovalState.NOT_REQUESTED


@pytest.mark.parametrize("stamp", ["2026-12-15T21:00:00", "2026-12-15 21:00:00.000",
                                   "2026-12-15T22:00:00+01:00", "2026-12-15T21:00:00Z"])
def test_iso_stamps_from_scripted_rows_read_in_utc(stamp: str) -> None:
    assert read(row_with(start_date=stamp)).planned_start == datetime(2026, 12, 15, 21, 0,
                                                                     tzinfo=UTC)


def test_a_date_that_is_no_date_makes_the_row_unreadable_not_wrong() -> None:
    with pytest.raises(ValueError, match="next week"):
        read(row_with(start_date="next week"))


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


# -- incidents -------------------------------------------------------------------------


INCIDENT_ROW: dict[str, Any] = {
    "sys_id": {"value": "9a1b2c3d4e5f60718293a4b5c6d7e8f9", "display_value": ""},
    "number": {"value": "INC0020417", "display_value": "INC0020417"},
    "short_description": {"value": "Ledger totals off after the 3.1 rollout",
                          "display_value": "Ledger totals off after the 3.1 rollout"},
    "state": {"value": "6", "display_value": "Resolved"},
    "priority": {"value": "2", "display_value": "2 - High"},
    "opened_at": {"value": "2026-11-20 08:15:00", "display_value": "20/11/2026 09:15:00"},
    "resolved_at": {"value": "2026-11-20 11:45:00", "display_value": "20/11/2026 12:45:00"},
    "caused_by": {"value": "3f9c2a7e5b1d4c8e9a0b1c2d3e4f5a6b", "display_value": "CHG0041207"},
    "cmdb_ci": {"value": "77aa", "display_value": "ledger-db-01"},
    "business_service": {"value": "88bb", "display_value": "Ledger Service"},
}


def test_an_incident_reads_its_service_its_times_and_the_number_of_its_causing_change() -> None:
    record = mapping.incident_from_row(INCIDENT_ROW, source="snow", instance_url=INSTANCE)

    assert record.number == "INC0020417"
    assert record.service == "Ledger Service"
    assert record.state_label == "Resolved"
    assert record.priority == 2
    assert record.opened_at == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    assert record.resolved_at == datetime(2026, 11, 20, 11, 45, tzinfo=UTC)
    assert record.caused_by == ("CHG0041207",)
    assert record.url.endswith("incident.do?sys_id=9a1b2c3d4e5f60718293a4b5c6d7e8f9")


def test_an_incident_without_a_service_falls_back_to_its_ci_and_without_a_cause_has_none(
) -> None:
    row = {**INCIDENT_ROW, "business_service": {"value": "", "display_value": ""},
           "caused_by": {"value": "", "display_value": ""},
           "resolved_at": {"value": "", "display_value": ""}}
    record = mapping.incident_from_row(row, source="snow", instance_url=INSTANCE)
    assert (record.service, record.caused_by, record.resolved_at) == ("ledger-db-01", (), None)


def test_an_incident_without_an_opening_time_is_refused() -> None:
    with pytest.raises(ValueError, match="INC0020417 has no opened_at"):
        mapping.incident_from_row({**INCIDENT_ROW, "opened_at": ""}, source="snow",
                                  instance_url=INSTANCE)


def test_the_incident_query_asks_for_the_services_by_name_since_the_given_time() -> None:
    query = mapping.incident_query(["Ledger Service", "Billing"],
                                   datetime(2026, 9, 1, tzinfo=UTC))
    assert query.startswith("business_service.nameINLedger Service,Billing"
                            "^ORcmdb_ci.nameINLedger Service,Billing"
                            "^opened_at>=2026-09-01 00:00:00")


def test_a_service_name_that_would_change_the_query_is_refused() -> None:
    with pytest.raises(ValueError, match="'Ledger,Billing' cannot be used"):
        mapping.incident_query(["Ledger,Billing"], datetime(2026, 9, 1, tzinfo=UTC))
