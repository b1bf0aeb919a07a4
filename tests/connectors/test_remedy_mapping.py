"""Remedy payloads read into canonical records, and canonical intent written back.

Pure functions, no server: every status Remedy reports, its numeric form,
overrides, the process-flow walk, the qualifications (checked by the
sandbox's own qualification evaluator, which follows the AR syntax), and
the project's sample answers (tests/contracts/samples/remedy.json). The tests
marked `reference` read a real server's recordings from `../shared` and skip
without it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import (
    ApprovalState,
    ChangeDraft,
    ChangePatch,
    ChangeState,
    ChangeType,
    RiskLevel,
    TimeWindow,
)
from connectors.remedy import mapping as m
from connectors.remedy.sandbox.forms import CHANGE_FIELDS
from connectors.remedy.sandbox.qualification import compile_qualification
from tests.support.contracts import sample
from tests.support.paths import FIXTURES

REMEDY_FIXTURES = FIXTURES / "bmc-remedy" / "demisto-content"


def fixture(name: str) -> Any:
    return json.loads((REMEDY_FIXTURES / name).read_text())


def change_entry(**values: object) -> dict[str, Any]:
    """A `CHG:Infrastructure Change` entry as the doc's list example shows one."""
    base: dict[str, object] = {
        "Request ID": "000000000001234",
        "Infrastructure Change ID": "CRQ000000001234",
        "Description": "Deploy shop 2.4.0 to production",
        "Detailed Description": "Release train 2.4.0: REL-101, REL-102",
        "Change Request Status": "Scheduled",
        "Status Reason": None,
        "Class": "Normal",
        "Scheduled Start Date": "2025-06-30T20:00:00.000+0000",
        "Scheduled End Date": "2025-06-30T22:00:00.000+0000",
        "Risk Level": "Risk Level 2",
        "Last Modified Date": "2025-06-20T08:15:00.000+0000",
        "Vendor Ticket Number": "heatshield:REL-42",
        "ServiceCI": "Shop Web",
    }
    href = ("https://acme-restapi.onbmc.com/api/arsys/v1/entry/"
            "CHG:Infrastructure%20Change/000000000001234")
    return {"values": {**base, **values}, "_links": {"self": [{"href": href}]}}


# --- status -> canonical state -------------------------------------------------------------

EVERY_STATUS = [
    ("Draft", ChangeState.NEW, ApprovalState.NOT_REQUESTED),
    ("Request For Authorization", ChangeState.ASSESS, ApprovalState.REQUESTED),
    ("Request For Change", ChangeState.ASSESS, ApprovalState.NOT_REQUESTED),
    ("Planning In Progress", ChangeState.ASSESS, ApprovalState.NOT_REQUESTED),
    ("Scheduled For Review", ChangeState.ASSESS, ApprovalState.NOT_REQUESTED),
    ("Scheduled For Approval", ChangeState.AUTHORIZE, ApprovalState.REQUESTED),
    ("Scheduled", ChangeState.SCHEDULED, ApprovalState.APPROVED),
    ("Implementation In Progress", ChangeState.IMPLEMENT, ApprovalState.APPROVED),
    ("Pending", ChangeState.ON_HOLD, ApprovalState.REQUESTED),
    ("Rejected", ChangeState.REJECTED, ApprovalState.REJECTED),
    ("Completed", ChangeState.REVIEW, ApprovalState.APPROVED),
    ("Closed", ChangeState.CLOSED, ApprovalState.APPROVED),
    ("Cancelled", ChangeState.CANCELED, ApprovalState.NOT_REQUESTED),
]


def test_the_table_covers_every_status_of_the_change_form() -> None:
    assert [status for status, _, _ in EVERY_STATUS] == list(m.STATUS_LABELS)
    assert set(m.STATE_DEFAULTS) == set(m.STATUS_LABELS)


@pytest.mark.parametrize(("status", "state", "approval"), EVERY_STATUS)
def test_every_status_maps_to_its_canonical_state_and_approval(
        status: str, state: ChangeState, approval: ApprovalState) -> None:
    record = m.change_record(change_entry(**{"Change Request Status": status}), source="remedy")
    assert record.state is state
    assert record.approval is approval
    assert record.state_label == status


@pytest.mark.parametrize(("number", "status"), list(enumerate(m.STATUS_LABELS)))
def test_a_status_returned_as_its_enum_number_reads_as_the_label(number: int, status: str
                                                                  ) -> None:
    for raw in (number, str(number)):
        record = m.change_record(change_entry(**{"Change Request Status": raw}), source="r")
        assert record.state_label == status
        assert record.state is m.STATE_DEFAULTS[status]


def test_the_status_reason_is_kept_in_the_label_and_does_not_change_the_default_state() -> None:
    record = m.change_record(change_entry(**{"Change Request Status": "Completed",
                                             "Status Reason": "Final Review Required"}),
                             source="remedy")
    assert record.state is ChangeState.REVIEW
    assert record.state_label == "Completed (Final Review Required)"
    assert m.split_state_label(record.state_label) == ("Completed", "Final Review Required")
    assert m.split_state_label("Scheduled") == ("Scheduled", None)


def test_a_status_map_override_wins_over_the_default() -> None:
    overrides = {"scheduled for review": "AUTHORIZE", "Completed": "CLOSED"}
    review = m.change_record(change_entry(**{"Change Request Status": "Scheduled For Review"}),
                             source="remedy", overrides=overrides)
    assert review.state is ChangeState.AUTHORIZE
    assert m.change_state("Completed", "Successful", overrides) is ChangeState.CLOSED


def test_an_override_can_single_out_one_status_reason() -> None:
    overrides = {"Closed (Backed Out)": "CANCELED"}
    assert m.change_state("Closed", "Backed Out", overrides) is ChangeState.CANCELED
    assert m.change_state("Closed", "Successful", overrides) is ChangeState.CLOSED
    assert m.statuses_for(ChangeState.CANCELED, overrides) == ["Closed", "Cancelled"]


def test_an_override_naming_no_canonical_state_is_ignored() -> None:
    assert m.change_state("Scheduled", None, {"Scheduled": "SOMEDAY"}) is ChangeState.SCHEDULED


def test_statuses_for_a_state_list_exactly_those_that_map_to_it() -> None:
    assert m.statuses_for(ChangeState.ASSESS, {}) == [
        "Request For Authorization", "Request For Change", "Planning In Progress",
        "Scheduled For Review"]
    assert m.statuses_for(ChangeState.REVIEW, {}) == ["Completed"]
    assert m.statuses_for(ChangeState.REVIEW, {"Completed": "CLOSED"}) == []


# --- the other fields ------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "risk"), [
    ("Risk Level 1", RiskLevel.LOW), ("Risk Level 2", RiskLevel.MODERATE),
    ("Risk Level 3", RiskLevel.HIGH), ("Risk Level 4", RiskLevel.HIGH),
    ("Risk Level 5", RiskLevel.VERY_HIGH), ("5", RiskLevel.VERY_HIGH), (None, None),
])
def test_risk_levels_one_to_five_map_onto_four_canonical_risks(raw: object,
                                                               risk: RiskLevel | None) -> None:
    assert m.risk_level(raw) is risk


@pytest.mark.parametrize(("change_class", "change_type"), [
    ("Standard", ChangeType.STANDARD), ("No Impact", ChangeType.STANDARD),
    ("Normal", ChangeType.NORMAL), ("Expedited", ChangeType.NORMAL),
    ("Latent", ChangeType.NORMAL), ("Emergency", ChangeType.EMERGENCY),
])
def test_the_change_class_gives_the_change_type(change_class: str,
                                                change_type: ChangeType) -> None:
    assert m.change_type(change_class, {}) is change_type
    assert m.change_type("Expedited", {"Expedited": "EMERGENCY"}) is ChangeType.EMERGENCY


@pytest.mark.parametrize("raw", [6, 6.0, "6", "6.0", " 6 "])
def test_a_status_sent_as_a_whole_number_in_any_form_reads_as_its_label(raw: object) -> None:
    record = m.change_record(change_entry(**{"Change Request Status": raw}), source="r")

    assert (record.state, record.state_label) == (ChangeState.SCHEDULED, "Scheduled")


@pytest.mark.parametrize(("raw", "risk"), [
    (1, RiskLevel.LOW), (2.0, RiskLevel.MODERATE), ("4.0", RiskLevel.HIGH), ("", None),
    ("Risk Level 9", None),
])
def test_a_risk_level_sent_as_a_number_reads_as_that_level(raw: object,
                                                           risk: RiskLevel | None) -> None:
    assert m.risk_level(raw) is risk


@pytest.mark.parametrize(("raw", "change_type"), [
    (1000, ChangeType.EMERGENCY), ("4000", ChangeType.NORMAL), (6000.0, ChangeType.STANDARD),
    (5000, ChangeType.STANDARD), (None, ChangeType.NORMAL), ("", ChangeType.NORMAL),
])
def test_a_change_class_sent_as_its_enum_number_gives_the_change_type(
        raw: object, change_type: ChangeType) -> None:
    assert m.change_type(raw, {}) is change_type


def test_an_entry_with_only_its_change_number_reads_with_everything_else_unset() -> None:
    entry = {"values": {"Request ID": "000000000000042",
                        "Infrastructure Change ID": "CRQ000000000042"}}

    record = m.change_record(entry, source="r")

    assert (record.number, record.upstream_id) == ("CRQ000000000042", "000000000000042")
    assert (record.state, record.state_label) == (ChangeState.NEW, "")
    assert record.title == "" and record.url == ""
    assert record.risk is None and record.type is ChangeType.NORMAL
    assert record.planned_start is None and record.updated_at is None
    assert record.configuration_items == () and record.correlation_id is None


def test_nulls_and_empty_strings_read_as_unset() -> None:
    record = m.change_record(change_entry(**{
        "Description": None, "Detailed Description": "", "Status Reason": "",
        "Risk Level": None, "Scheduled Start Date": "", "Scheduled End Date": None,
        "Vendor Ticket Number": "", "ServiceCI": None, "Class": None}), source="r")

    assert record.title == "" and record.description is None
    assert record.state_label == "Scheduled"
    assert record.risk is None and record.type is ChangeType.NORMAL
    assert record.planned_start is None and record.planned_end is None
    assert record.correlation_id is None and record.configuration_items == ()


@pytest.mark.parametrize("raw", [1751313600, 1751313600.0, "1751313600",
                                 "2025-06-30T20:00:00Z", "2025-06-30T22:00:00.000+02:00"])
def test_dates_in_epoch_seconds_or_any_iso_offset_read_in_utc(raw: object) -> None:
    assert m.parse_ar_date(raw) == datetime(2025, 6, 30, 20, 0, tzinfo=UTC)


def test_a_change_entry_reads_into_a_complete_record() -> None:
    record = m.change_record(change_entry(), source="remedy-prod")
    assert record.source == "remedy-prod"
    assert record.number == "CRQ000000001234"
    assert record.upstream_id == "000000000001234"
    assert record.title == "Deploy shop 2.4.0 to production"
    assert record.description == "Release train 2.4.0: REL-101, REL-102"
    assert record.url.endswith("/CHG:Infrastructure%20Change/000000000001234")
    assert record.type is ChangeType.NORMAL
    assert record.risk is RiskLevel.MODERATE
    assert record.planned_start == datetime(2025, 6, 30, 20, 0, tzinfo=UTC)
    assert record.planned_end == datetime(2025, 6, 30, 22, 0, tzinfo=UTC)
    assert record.updated_at == datetime(2025, 6, 20, 8, 15, tzinfo=UTC)
    assert record.correlation_id == "heatshield:REL-42"
    assert record.configuration_items == ("Shop Web",)


def test_without_the_request_id_field_the_entry_id_comes_from_the_self_link() -> None:
    entry = change_entry()
    del entry["values"]["Request ID"]
    assert m.change_record(entry, source="r").upstream_id == "000000000001234"


def test_an_entry_without_a_change_number_is_a_payload_error() -> None:
    with pytest.raises(m.RemedyPayloadError):
        m.change_record(change_entry(**{"Infrastructure Change ID": None}), source="r")
    with pytest.raises(m.RemedyPayloadError):
        m.change_record(change_entry(**{"Scheduled Start Date": "next tuesday"}), source="r")


def test_dates_are_written_in_remedys_wire_form_in_utc() -> None:
    moment = datetime.fromisoformat("2025-06-30T22:00:00+02:00")
    assert m.format_ar_date(moment) == "2025-06-30T20:00:00.000+0000"
    assert m.parse_ar_date(m.format_ar_date(moment)) == moment


def test_ar_error_arrays_read_leniently() -> None:
    body = [{"messageType": "ERROR", "messageText": "Field does not exist on current form",
             "messageAppendedText": "CHG:Infrastructure Change : <Risk Levle>",
             "messageNumber": 314},
            {"messageType": "ERROR", "messageText": None, "appendedText": "x",
             "messageNumber": 1}]
    assert m.error_text(body) == ("[314] Field does not exist on current form "
                                  "(CHG:Infrastructure Change : <Risk Levle>); [1] (x)")
    assert m.error_text({"not": "an array"}) == ""


# --- envelopes and recorded responses ---------------------------------------------------------

def test_a_list_page_gives_its_entries_and_the_next_link() -> None:
    body = {"entries": [change_entry()],
            "_links": {"next": [{"href": "https://h/api/arsys/v1/entry/X?offset=1&limit=1"}]}}
    entries, following = m.entries_page(body)
    assert len(entries) == 1
    assert following == "https://h/api/arsys/v1/entry/X?offset=1&limit=1"
    assert m.entries_page({"entries": []}) == ([], None)
    with pytest.raises(m.RemedyPayloadError):
        m.entries_page([{"messageType": "ERROR"}])
    with pytest.raises(m.RemedyPayloadError):
        m.entries_page({"entries": [{"no": "values"}]})


def test_a_change_create_echo_gives_the_new_change_number() -> None:
    assert m.created_change_number(sample("remedy", "change created")) == "CRQ000000000731"


def test_an_incident_create_echo_holds_no_change_number() -> None:
    assert m.created_change_number(sample("remedy", "incident created")) is None


def test_a_template_search_reads_through_the_envelope_and_value_parsers() -> None:
    entries, following = m.entries_page(sample("remedy", "templates"))
    assert following is None  # a single page
    [template] = entries
    values = template["values"]
    assert m.entry_id(template) == "CTP000000000042"
    assert values["Description"] == "Rotate TLS certificates"
    assert m.risk_level(values["Risk Level"]) is RiskLevel.LOW
    assert m.change_type(values["Change Timing"], {}) is ChangeType.NORMAL
    assert m.parse_ar_date(values["Submit Date"]) == datetime(2024, 3, 6, 14, 22, 11, tzinfo=UTC)
    assert m.parse_ar_date(values["Scheduled Start Date"]) is None


@pytest.mark.reference
def test_recorded_change_create_echo_gives_the_new_change_number() -> None:
    body = fixture("create_change_request.json")
    assert m.created_change_number(body) == "CRQ000000000109"


@pytest.mark.reference
def test_recorded_incident_create_echo_holds_no_change_number() -> None:
    assert m.created_change_number(fixture("incident_create.json")) is None


@pytest.mark.reference
def test_recorded_template_search_reads_through_the_envelope_and_value_parsers() -> None:
    entries, following = m.entries_page(fixture("list_change_template_filter.json"))
    assert following is None  # the recording is a single page
    assert len(entries) == 1
    template = entries[0]
    values = template["values"]
    assert m.entry_id(template) == "CTP000000000008"
    assert values["Description"] == "Provision New Employee"
    assert m.risk_level(values["Risk Level"]) is RiskLevel.LOW
    assert m.change_type(values["Change Timing"], {}) is ChangeType.NORMAL
    assert m.parse_ar_date(values["Submit Date"]) == datetime(2008, 11, 6, 23, 18, 3, tzinfo=UTC)
    assert m.parse_ar_date(values["Scheduled Start Date"]) is None


# --- qualifications ----------------------------------------------------------------------------

def test_numbers_are_joined_with_or_and_chunked_under_the_length_limit() -> None:
    numbers = [f"CRQ{n:012d}" for n in range(1, 61)]
    chunks = m.any_of(m.NUMBER, [*numbers, numbers[0]], 1500)
    assert len(chunks) == 2
    assert all(len(chunk) <= 1500 for chunk in chunks)
    entries = [{m.NUMBER: n} for n in [*numbers, "CRQ999999999999"]]
    selected = [e[m.NUMBER] for chunk in chunks
                for e in entries if compile_qualification(chunk, CHANGE_FIELDS)(e)]
    assert selected == numbers


def test_quotes_inside_values_are_doubled_so_they_cannot_break_out() -> None:
    qualification = m.equals(m.CORRELATION, 'x" OR \'Description\' LIKE "%')
    matches = compile_qualification(qualification, CHANGE_FIELDS)
    assert not matches({m.CORRELATION: "x", "Description": "anything"})
    assert matches({m.CORRELATION: 'x" OR \'Description\' LIKE "%'})


def test_the_search_qualification_selects_status_and_window_overlap() -> None:
    window = TimeWindow(datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 7, 2, tzinfo=UTC))
    matches = compile_qualification(
        m.search_qualification(["Scheduled", "Pending"], window), CHANGE_FIELDS)

    def entry(status: str, start: str, end: str) -> dict[str, object]:
        return {m.STATUS: status, m.START: f"{start}.000+0000", m.END: f"{end}.000+0000"}

    assert matches(entry("Scheduled", "2025-06-30T22:00:00", "2025-07-01T02:00:00"))
    assert matches(entry("Pending", "2025-07-01T20:00:00", "2025-07-03T00:00:00"))
    assert not matches(entry("Scheduled", "2025-06-30T20:00:00", "2025-06-30T23:00:00"))
    assert not matches(entry("Scheduled", "2025-07-02T00:00:00", "2025-07-02T02:00:00"))
    assert not matches(entry("Closed", "2025-07-01T01:00:00", "2025-07-01T02:00:00"))
    assert m.search_qualification(None, None) == ""


# --- writes ------------------------------------------------------------------------------------

def test_a_draft_becomes_interface_form_values_that_submit_a_draft_change() -> None:
    draft = ChangeDraft(
        title="Deploy Payments 2026.12 to production " * 4, description="Scope: PAY-1, PAY-2",
        type=ChangeType.EMERGENCY, correlation_id="heatshield:REL-7",
        planned_start=datetime(2026, 12, 15, 20, tzinfo=UTC),
        planned_end=datetime(2026, 12, 15, 22, tzinfo=UTC), risk=RiskLevel.HIGH,
        configuration_items=("Payments API", "Payments DB"), assignment_group="Payments Ops")
    values = m.create_values(draft, company="Acme Retail", first_name="Ada",
                             last_name="Lovelace")
    assert values["z1D_Action"] == "CREATE"
    assert values["Status"] == "Draft"
    assert isinstance(values["Description"], str) and len(values["Description"]) == 100
    assert values["Detailed Description"] == "Scope: PAY-1, PAY-2"
    assert values["Class"] == "Emergency"
    assert values["Risk Level"] == "Risk Level 4"
    assert (values["Impact"], values["Urgency"]) == ("2-Significant/Large", "1-Critical")
    assert values["Scheduled Start Date"] == "2026-12-15T20:00:00.000+0000"
    assert values["Scheduled End Date"] == "2026-12-15T22:00:00.000+0000"
    assert (values["Company"], values["Location Company"]) == ("Acme Retail", "Acme Retail")
    assert (values["First Name"], values["Last Name"]) == ("Ada", "Lovelace")
    assert values["ASGRP"] == "Payments Ops"
    assert values["ServiceCI"] == "Payments API"
    assert values["Vendor Ticket Number"] == "heatshield:REL-7"


def test_risk_and_type_round_trip_through_the_written_labels() -> None:
    for risk in RiskLevel:
        assert m.risk_level(m.LEVEL_BY_RISK[risk]) is risk
    for change_type in ChangeType:
        assert m.change_type(m.CLASS_BY_TYPE[change_type], {}) is change_type


def test_a_patch_writes_only_the_fields_it_sets() -> None:
    assert m.patch_values(ChangePatch(state=ChangeState.CLOSED, note="done")) == {}
    assert m.patch_values(ChangePatch(title="New", risk=RiskLevel.LOW,
                                      planned_end=datetime(2026, 1, 1, tzinfo=UTC))) == {
        "Description": "New", "Risk Level": "Risk Level 1",
        "Scheduled End Date": "2026-01-01T00:00:00.000+0000"}


def test_a_target_state_is_walked_along_the_process_flow() -> None:
    assert m.status_walk("Draft", None, ChangeState.ASSESS) == [
        ("Request For Authorization", None)]
    assert m.status_walk("Request For Change", None, ChangeState.AUTHORIZE) == [
        ("Planning In Progress", None), ("Scheduled For Review", None),
        ("Scheduled For Approval", None)]
    assert m.status_walk("Scheduled", None, ChangeState.IMPLEMENT) == [
        ("Implementation In Progress", None)]
    assert m.status_walk("Implementation In Progress", None, ChangeState.CLOSED) == [
        ("Completed", "Final Review Required"), ("Closed", "Successful")]
    assert m.status_walk("Scheduled", None, ChangeState.ON_HOLD) == [
        ("Pending", "Manager Intervention")]
    assert m.status_walk("Rejected", None, ChangeState.ASSESS) == [
        ("Draft", None), ("Request For Authorization", None)]


@pytest.mark.parametrize(("current", "target"), [
    ("Draft", ChangeState.SCHEDULED), ("Request For Authorization", ChangeState.AUTHORIZE),
    ("Scheduled For Approval", ChangeState.SCHEDULED),
    ("Scheduled For Approval", ChangeState.CLOSED),
])
def test_a_walk_never_takes_a_move_the_approvers_make(current: str,
                                                     target: ChangeState) -> None:
    with pytest.raises(m.IllegalTransition, match="does not pass an approval"):
        m.status_walk(current, None, target)


def test_a_change_already_in_the_target_state_needs_no_step() -> None:
    assert m.status_walk("Planning In Progress", None, ChangeState.ASSESS) == []


def test_a_pending_change_is_asked_to_resume_straight_at_the_target() -> None:
    assert m.status_walk("Pending", "Manager Intervention", ChangeState.SCHEDULED) == [
        ("Scheduled", None)]


def test_configured_reasons_replace_the_defaults() -> None:
    assert m.status_walk("Scheduled", None, ChangeState.ON_HOLD,
                         reasons={"Pending": "Vendor Purchase"}) == [
        ("Pending", "Vendor Purchase")]


@pytest.mark.parametrize(("current", "target"), [
    ("Closed", ChangeState.IMPLEMENT), ("Cancelled", ChangeState.NEW),
    ("Scheduled", ChangeState.ASSESS), ("Completed", ChangeState.CANCELED),
    ("Closed", ChangeState.REJECTED),
])
def test_a_move_the_flow_does_not_allow_is_an_illegal_transition(current: str,
                                                                 target: ChangeState) -> None:
    with pytest.raises(m.IllegalTransition, match=current):
        m.status_walk(current, None, target)


# -- incidents -------------------------------------------------------------------------


INCIDENT_ENTRY: dict[str, Any] = {
    "values": {
        "Request ID": "000000000004711", "Incident Number": "INC000000004711",
        "Description": "Checkout timeouts after the spring release", "Status": "Closed",
        "Priority": "High", "Submit Date": "2026-04-02T07:30:00.000+0000",
        "Last Resolved Date": "2026-04-02T09:00:00.000+0000", "ServiceCI": "Checkout",
        "Caused By Change ID": "CRQ000000000733",
    },
    "_links": {"self": [{"href": "https://itsm.example/api/arsys/v1/entry/HPD:Help%20Desk/"
                                  "000000000004711"}]},
}


def test_an_incident_entry_reads_its_service_its_times_and_its_causing_change() -> None:
    record = m.incident_record(INCIDENT_ENTRY, source="remedy")
    assert record.number == "INC000000004711"
    assert record.upstream_id == "000000000004711"
    assert (record.service, record.state_label, record.priority) == ("Checkout", "Closed", 2)
    assert record.opened_at == datetime(2026, 4, 2, 7, 30, tzinfo=UTC)
    assert record.resolved_at == datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    assert record.caused_by == ("CRQ000000000733",)


def test_an_incident_status_sent_as_its_enum_number_reads_as_the_label() -> None:
    entry = {**INCIDENT_ENTRY, "values": {**INCIDENT_ENTRY["values"], "Status": 4,
                                         "Caused By Change ID": None}}
    record = m.incident_record(entry, source="remedy")
    assert (record.state_label, record.caused_by) == ("Resolved", ())


def test_an_incident_without_a_submit_date_is_refused() -> None:
    entry = {**INCIDENT_ENTRY, "values": {**INCIDENT_ENTRY["values"], "Submit Date": None}}
    with pytest.raises(ValueError, match="INC000000004711 has no Submit Date"):
        m.incident_record(entry, source="remedy")


def test_the_incident_qualification_selects_the_services_submitted_since_a_time() -> None:
    [q] = m.incident_qualification(["Checkout", "Ledger"], datetime(2026, 3, 1, tzinfo=UTC),
                                   3000)
    assert q == ("('ServiceCI' = \"Checkout\" OR 'ServiceCI' = \"Ledger\") AND "
                 "'Submit Date' >= \"2026-03-01T00:00:00.000+0000\"")


def test_many_services_split_into_several_qualifications_each_with_the_time() -> None:
    names = [f"Service {n:03d}" for n in range(200)]
    chunks = m.incident_qualification(names, datetime(2026, 3, 1, tzinfo=UTC), 1000)
    assert len(chunks) > 1 and all(len(c) <= 1000 for c in chunks)
    assert all(c.endswith("'Submit Date' >= \"2026-03-01T00:00:00.000+0000\"") for c in chunks)
    assert sum(c.count("'ServiceCI' =") for c in chunks) == 200
