"""ServiceNow change_request payloads <-> canonical records, with no I/O.

Rows may come raw (`"state": "-2"`), as display values (`"Scheduled"`), or
with `sysparm_display_value=all` as `{"value", "display_value"}` pairs; the
readers below accept all three, so the connector keeps both the number and
the label. Dates are UTC `yyyy-MM-dd HH:mm:ss` (the raw form, never the
display form, which follows the API user's time zone).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from connectors.base import (
    ApprovalState,
    ChangeDraft,
    ChangePatch,
    ChangeRecord,
    ChangeState,
    ChangeType,
    IncidentRecord,
    RiskLevel,
)

TABLE = "change_request"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CORRELATION_DISPLAY = "Heatshield"

#: The columns the mapping reads; the connector asks for these only.
FIELDS = ("sys_id", "number", "short_description", "description", "state", "type", "risk",
          "approval", "on_hold", "start_date", "end_date", "correlation_id", "cmdb_ci",
          "sys_updated_on")

#: Current numeric states and their labels (doc §3.4).
STATE_LABELS: dict[str, str] = {
    "-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled", "-1": "Implement",
    "0": "Review", "3": "Closed", "4": "Canceled",
}

_CURRENT_STATES: dict[str, ChangeState] = {
    "-5": ChangeState.NEW, "-4": ChangeState.ASSESS, "-3": ChangeState.AUTHORIZE,
    "-2": ChangeState.SCHEDULED, "-1": ChangeState.IMPLEMENT, "0": ChangeState.REVIEW,
    "3": ChangeState.CLOSED, "4": ChangeState.CANCELED,
}

#: Raw word (number or label, current or legacy) -> canonical state. Legacy
#: instances (before the state model plugin) used the task states: 1 Open,
#: 2 Work in Progress, 3 Closed Complete, 4 Closed Incomplete, 7 Closed Skipped,
#: -5 Pending; 4 now means Canceled, so only its legacy label maps to CLOSED.
STATE_DEFAULTS: dict[str, ChangeState] = {
    **_CURRENT_STATES,
    **{STATE_LABELS[value]: state for value, state in _CURRENT_STATES.items()},
    "Cancelled": ChangeState.CANCELED,
    "1": ChangeState.NEW, "Open": ChangeState.NEW, "Pending": ChangeState.NEW,
    "2": ChangeState.IMPLEMENT, "Work in Progress": ChangeState.IMPLEMENT,
    "In Progress": ChangeState.IMPLEMENT,
    "Closed Complete": ChangeState.CLOSED, "Closed Incomplete": ChangeState.CLOSED,
    "7": ChangeState.CANCELED, "Closed Skipped": ChangeState.CANCELED,
}

#: `not_required` means no approval stands in the way, which gates read as approved.
APPROVAL_DEFAULTS: dict[str, ApprovalState] = {
    "not requested": ApprovalState.NOT_REQUESTED, "Not Yet Requested": ApprovalState.NOT_REQUESTED,
    "requested": ApprovalState.REQUESTED,
    "approved": ApprovalState.APPROVED,
    "rejected": ApprovalState.REJECTED,
    "not_required": ApprovalState.APPROVED, "Not Required": ApprovalState.APPROVED,
    "cancelled": ApprovalState.NOT_REQUESTED, "duplicate": ApprovalState.NOT_REQUESTED,
}

RISK_DEFAULTS: dict[str, RiskLevel] = {
    "1": RiskLevel.VERY_HIGH, "Very High": RiskLevel.VERY_HIGH,
    "2": RiskLevel.HIGH, "High": RiskLevel.HIGH,
    "3": RiskLevel.MODERATE, "Moderate": RiskLevel.MODERATE,
    "4": RiskLevel.LOW, "Low": RiskLevel.LOW,
}

TYPE_DEFAULTS: dict[str, ChangeType] = {
    "standard": ChangeType.STANDARD, "normal": ChangeType.NORMAL,
    "emergency": ChangeType.EMERGENCY,
}

RISK_VALUES: dict[RiskLevel, str] = {
    RiskLevel.VERY_HIGH: "1", RiskLevel.HIGH: "2", RiskLevel.MODERATE: "3", RiskLevel.LOW: "4",
}
#: The draft knows one risk level; impact (1 High, 2 Medium, 3 Low) follows it.
IMPACT_FOR_RISK: dict[RiskLevel, str] = {
    RiskLevel.VERY_HIGH: "1", RiskLevel.HIGH: "1", RiskLevel.MODERATE: "2", RiskLevel.LOW: "3",
}
STATE_VALUES: dict[ChangeState, str] = {state: value for value, state in _CURRENT_STATES.items()}

#: The state sequence of each change model. Canceled is reachable from any open
#: state; Assess and Authorize may fall back to New.
MODEL_PATHS: dict[ChangeType, tuple[str, ...]] = {
    ChangeType.NORMAL: ("-5", "-4", "-3", "-2", "-1", "0", "3"),
    ChangeType.EMERGENCY: ("-5", "-3", "-2", "-1", "0", "3"),
    ChangeType.STANDARD: ("-5", "-2", "-1", "0", "3"),
}
CLOSED_VALUES = frozenset({"3", "4", "7"})
#: Authorize -> Scheduled is where the approvers' decision takes a change.
AUTHORIZE_VALUE, SCHEDULED_VALUE = "-3", "-2"

E = TypeVar("E", bound=enum.Enum)


class IllegalTransition(ValueError):
    """The change model allows no path from the current state to the target."""


class BadRecord(ValueError):
    """A row lacks what every change_request has (sys_id, number)."""


# --------------------------------------------------------------------------- reading


def _text(value: object) -> str:
    """A value as the instance would write it: `3` and `3.0` are the choice `"3"`.

    Rows that passed through a script, an export or a proxy may carry numbers
    where the Table API sends strings; a choice number must still match.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return str(value)


_WHOLE = re.compile(r"^\s*-?\d+(?:\.0*)?\s*$")


def value_of(row: Mapping[str, Any], name: str) -> str:
    """The raw value of a field in any of the three renderings; `""` when absent."""
    field = row.get(name)
    if isinstance(field, Mapping):
        return _text(field.get("value"))
    return _text(field)


def choice_of(row: Mapping[str, Any], name: str) -> str:
    """A choice field's raw value, with `"3.0"` or `" 3 "` read as the choice `"3"`."""
    text = value_of(row, name)
    return str(int(float(text))) if _WHOLE.match(text) else text


def label_of(row: Mapping[str, Any], name: str) -> str:
    """The display value when the row carries one, else the raw value."""
    field = row.get(name)
    if isinstance(field, Mapping) and field.get("display_value") not in (None, ""):
        return str(field["display_value"])
    return value_of(row, name)


def parse_time(text: str) -> datetime | None:
    """`yyyy-MM-dd HH:mm:ss` in UTC; empty means not set.

    ISO variants (a `T`, fractions, an offset, a bare date) read too, since
    scripted and imported rows carry them; anything else is a ValueError.
    """
    if not text.strip():
        return None
    try:
        moment = datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """UTC `yyyy-MM-dd HH:mm:ss`; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIME_FORMAT)


def _first(words: tuple[str, ...], defaults: Mapping[str, E], overrides: Mapping[str, str],
           fallback: E) -> E:
    """`map_status` over two words (the raw value and its label).

    An instance's override of either word wins over the defaults of both.
    """
    present = [w for w in words if w]
    enum_type = type(fallback)
    for word in present:
        for key, name in overrides.items():
            if key.casefold() == word.casefold() and name in enum_type.__members__:
                return enum_type[name]
    for word in present:
        for key, member in defaults.items():
            if key.casefold() == word.casefold():
                return member
    return fallback


def canonical_state(value: str, label: str, *, on_hold: bool, approval: ApprovalState,
                    overrides: Mapping[str, str]) -> ChangeState:
    """On hold is a flag beside the state; a rejected approval sends a change back to New."""
    if on_hold:
        return ChangeState.ON_HOLD
    state = _first((value, label), STATE_DEFAULTS, overrides, ChangeState.NEW)
    if state is ChangeState.NEW and approval is ApprovalState.REJECTED:
        return ChangeState.REJECTED
    return state


def change_from_row(row: Mapping[str, Any], *, source: str, instance_url: str,
                    overrides: Mapping[str, str] | None = None) -> ChangeRecord:
    """One change_request row (raw, display or both) as a canonical record."""
    overrides = overrides or {}
    sys_id, number = value_of(row, "sys_id"), value_of(row, "number")
    if not sys_id or not number:
        raise BadRecord("a change_request row without sys_id or number")
    approval = _first((value_of(row, "approval"), label_of(row, "approval")),
                      APPROVAL_DEFAULTS, overrides, ApprovalState.NOT_REQUESTED)
    state_value = choice_of(row, "state")
    state_label = label_of(row, "state")
    if state_label in (state_value, value_of(row, "state")):
        state_label = STATE_LABELS.get(state_value, state_value)
    on_hold = value_of(row, "on_hold").strip().casefold() == "true"
    risk_words = (choice_of(row, "risk"), label_of(row, "risk"))
    risk = _first(risk_words, RISK_DEFAULTS, overrides, RiskLevel.MODERATE) \
        if any(risk_words) else None
    ci = label_of(row, "cmdb_ci")
    return ChangeRecord(
        source=source,
        number=number,
        upstream_id=sys_id,
        title=value_of(row, "short_description"),
        url=record_url(instance_url, sys_id),
        state=canonical_state(state_value, state_label, on_hold=on_hold, approval=approval,
                              overrides=overrides),
        state_label=state_label,
        type=_first((value_of(row, "type"), label_of(row, "type")), TYPE_DEFAULTS, overrides,
                    ChangeType.NORMAL),
        approval=approval,
        risk=risk,
        planned_start=parse_time(value_of(row, "start_date")),
        planned_end=parse_time(value_of(row, "end_date")),
        correlation_id=value_of(row, "correlation_id") or None,
        description=value_of(row, "description") or None,
        updated_at=parse_time(value_of(row, "sys_updated_on")),
        configuration_items=(ci,) if ci else (),
    )


def record_url(instance_url: str, sys_id: str) -> str:
    """The form of the record in the instance's UI, inside its navigation frame."""
    return f"{instance_url.rstrip('/')}/nav_to.do?uri={TABLE}.do?sys_id={sys_id}"


# --------------------------------------------------------------------------- incidents

INCIDENT_TABLE = "incident"
#: The columns the incident mapping reads.
INCIDENT_FIELDS = ("sys_id", "number", "short_description", "state", "priority", "opened_at",
                   "resolved_at", "caused_by", "cmdb_ci", "business_service")
INCIDENT_STATE_LABELS: dict[str, str] = {
    "1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed",
    "8": "Canceled"}


def incident_query(services: Sequence[str], since: datetime) -> str:
    """Incidents on these services (by the service's or the CI's name) opened since `since`.

    Encoded queries have no escaping, so a name holding a caret or a comma is refused
    rather than allowed to change what the query means.
    """
    names = [query_name(name) for name in dict.fromkeys(services)]
    joined = ",".join(names)
    return (f"business_service.nameIN{joined}^ORcmdb_ci.nameIN{joined}"
            f"^opened_at>={format_time(since)}^ORDERBYopened_at^ORDERBYsys_id")


def query_name(text: str) -> str:
    if not text or any(c in text for c in "^,\n\r"):
        raise ValueError(f"{text!r} cannot be used in a ServiceNow query")
    return text


def incident_from_row(row: Mapping[str, Any], *, source: str, instance_url: str
                      ) -> IncidentRecord:
    """One incident row; `caused_by` read by its display value, the change's number."""
    sys_id, number = value_of(row, "sys_id"), value_of(row, "number")
    if not sys_id or not number:
        raise BadRecord("an incident row without sys_id or number")
    opened = parse_time(value_of(row, "opened_at"))
    if opened is None:
        raise BadRecord(f"incident {number} has no opened_at")
    state = choice_of(row, "state")
    label = label_of(row, "state")
    if label in (state, value_of(row, "state")):
        label = INCIDENT_STATE_LABELS.get(state, state)
    priority = choice_of(row, "priority")
    cause = label_of(row, "caused_by")
    if cause == value_of(row, "caused_by") and len(cause) == 32:
        cause = ""  # a bare sys_id: the row was read without display values
    return IncidentRecord(
        source=source, number=number, upstream_id=sys_id,
        title=value_of(row, "short_description"),
        url=f"{instance_url.rstrip('/')}/nav_to.do?uri={INCIDENT_TABLE}.do?sys_id={sys_id}",
        state_label=label,
        service=label_of(row, "business_service") or label_of(row, "cmdb_ci"),
        opened_at=opened,
        resolved_at=parse_time(value_of(row, "resolved_at")),
        priority=int(priority) if priority.isdigit() else None,
        caused_by=(cause,) if cause else (),
    )


# --------------------------------------------------------------------------- writing


def draft_to_body(draft: ChangeDraft) -> dict[str, str]:
    """The POST body: numeric strings for choices, since labels silently misbehave.

    The Table API holds one `cmdb_ci` per change; the first item is sent.
    """
    body = {
        "short_description": draft.title,
        "description": draft.description,
        "type": draft.type.value.lower(),
        "correlation_id": draft.correlation_id,
        "correlation_display": CORRELATION_DISPLAY,
    }
    if draft.risk is not None:
        body["risk"] = RISK_VALUES[draft.risk]
        body["impact"] = IMPACT_FOR_RISK[draft.risk]
    if draft.planned_start is not None:
        body["start_date"] = format_time(draft.planned_start)
    if draft.planned_end is not None:
        body["end_date"] = format_time(draft.planned_end)
    if draft.configuration_items:
        body["cmdb_ci"] = draft.configuration_items[0]
    if draft.assignment_group:
        body["assignment_group"] = draft.assignment_group
    return body


def patch_to_body(patch: ChangePatch) -> dict[str, str]:
    """The non-state fields of a PATCH; the note becomes a work note."""
    body: dict[str, str] = {}
    if patch.title is not None:
        body["short_description"] = patch.title
    if patch.description is not None:
        body["description"] = patch.description
    if patch.planned_start is not None:
        body["start_date"] = format_time(patch.planned_start)
    if patch.planned_end is not None:
        body["end_date"] = format_time(patch.planned_end)
    if patch.risk is not None:
        body["risk"] = RISK_VALUES[patch.risk]
    if patch.note:
        body["work_notes"] = patch.note
    return body


def _describe(value: str) -> str:
    return f"{STATE_LABELS.get(value, value)} ({value})"


def state_steps(change_type: ChangeType, current: str, target: ChangeState, *,
                approved: bool = False) -> list[str]:
    """The numeric states to set, one PATCH each, to walk from `current` to `target`.

    Forward moves pass every intermediate state of the type's model; Canceled
    is one step from any open state; New is one step back from Assess or
    Authorize. Leaving Authorize for Scheduled is the approval itself, so a
    walk takes it only when the change is already `approved`: the client never
    approves on the change board's behalf. Anything else raises
    `IllegalTransition` naming from and to.
    """
    wanted = STATE_VALUES.get(target)
    if wanted is None:
        raise IllegalTransition(
            f"cannot move a change to {target.value} by setting its state "
            f"(it is {_describe(current)})")
    if wanted == current:
        return []
    refusal = IllegalTransition(
        f"the {change_type.value.lower()} change model has no path from "
        f"{_describe(current)} to {_describe(wanted)}")
    if current in CLOSED_VALUES:
        raise refusal
    if wanted == "4":
        return ["4"]
    if wanted == "-5" and current in ("-4", "-3"):
        return ["-5"]
    path = MODEL_PATHS[change_type]
    if current not in path or wanted not in path or path.index(wanted) < path.index(current):
        raise refusal
    steps = list(path[path.index(current) + 1: path.index(wanted) + 1])
    if not approved and any(a == AUTHORIZE_VALUE and b == SCHEDULED_VALUE
                            for a, b in zip([current, *steps], steps, strict=False)):
        raise IllegalTransition(
            f"moving {_describe(current)} to {_describe(wanted)} would pass the approval "
            f"from {_describe(AUTHORIZE_VALUE)} to {_describe(SCHEDULED_VALUE)}, which is "
            "the change board's to give")
    return steps


def raw_states_for(target: ChangeState, overrides: Mapping[str, str]) -> list[str]:
    """Numeric states that may read as `target`, to narrow a search upstream."""
    found = []
    for value in (*STATE_LABELS, "1", "2", "7"):
        label = STATE_LABELS.get(value, "")
        for approval in (ApprovalState.NOT_REQUESTED, ApprovalState.REJECTED):
            if canonical_state(value, label, on_hold=False, approval=approval,
                               overrides=overrides) is target:
                found.append(value)
                break
    return found
