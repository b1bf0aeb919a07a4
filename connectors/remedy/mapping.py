"""Remedy change entries <-> canonical change records, and the qualifications to find them.

Pure functions only: the client does the I/O and hands the parsed JSON here.
Remedy's words (form and field names, status labels, the process flow) stay
in this package; what leaves it is `connectors.base` vocabulary.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from connectors.base import (
    ApprovalState,
    ChangeDraft,
    ChangePatch,
    ChangeRecord,
    ChangeState,
    ChangeType,
    IncidentRecord,
    RiskLevel,
    TimeWindow,
    map_status,
)

CHANGE_FORM = "CHG:Infrastructure Change"
CREATE_FORM = "CHG:ChangeInterface_Create"

NUMBER = "Infrastructure Change ID"
STATUS = "Change Request Status"
REASON = "Status Reason"
START = "Scheduled Start Date"
END = "Scheduled End Date"
#: A stored field the client sets on create and searches by later (duplicate-proof creation).
CORRELATION = "Vendor Ticket Number"

#: What a change read asks for with `fields=values(...)`.
READ_FIELDS: tuple[str, ...] = (
    "Request ID", NUMBER, "Description", "Detailed Description", STATUS, REASON, "Change Type",
    "Class", "Risk Level", START, END, "Last Modified Date", CORRELATION, "ServiceCI",
)
#: The interface form's echo of the change it created (the casing differs from NUMBER).
CREATED_NUMBER_FIELDS: tuple[str, ...] = ("Infrastructure Change Id", "Change_Entry_ID", NUMBER)

# `Change Request Status` in stored order: the index is the enum number that
# qualifications accept and that some servers return instead of the label.
STATUS_LABELS: tuple[str, ...] = (
    "Draft", "Request For Authorization", "Request For Change", "Planning In Progress",
    "Scheduled For Review", "Scheduled For Approval", "Scheduled", "Implementation In Progress",
    "Pending", "Rejected", "Completed", "Closed", "Cancelled",
)

# Status -> canonical state. Remedy's flow runs Draft, then the business
# review (Request For Authorization; once accepted Request For Change), then
# planning (Planning In Progress, Scheduled For Review): all of that is
# assessing the change. Scheduled For Approval waits for the implementation
# approval (AUTHORIZE); Scheduled and Implementation In Progress follow.
# Completed is the closure phase where the post-implementation review
# happens before Closed, hence REVIEW. Pending holds a change wherever it was
# (ON_HOLD); Rejected and Cancelled are their own ends.
STATE_DEFAULTS: dict[str, ChangeState] = {
    "Draft": ChangeState.NEW,
    "Request For Authorization": ChangeState.ASSESS,
    "Request For Change": ChangeState.ASSESS,
    "Planning In Progress": ChangeState.ASSESS,
    "Scheduled For Review": ChangeState.ASSESS,
    "Scheduled For Approval": ChangeState.AUTHORIZE,
    "Scheduled": ChangeState.SCHEDULED,
    "Implementation In Progress": ChangeState.IMPLEMENT,
    "Pending": ChangeState.ON_HOLD,
    "Rejected": ChangeState.REJECTED,
    "Completed": ChangeState.REVIEW,
    "Closed": ChangeState.CLOSED,
    "Cancelled": ChangeState.CANCELED,
}

# The change form has no single approval field; where the change stands in the
# flow says it. The two statuses that wait on approvers are REQUESTED, every
# status past the implementation approval is APPROVED. A Pending change is
# usually held while approvers ask for more, so it counts as REQUESTED.
APPROVAL_BY_STATUS: dict[str, ApprovalState] = {
    "Request For Authorization": ApprovalState.REQUESTED,
    "Scheduled For Approval": ApprovalState.REQUESTED,
    "Pending": ApprovalState.REQUESTED,
    "Scheduled": ApprovalState.APPROVED,
    "Implementation In Progress": ApprovalState.APPROVED,
    "Completed": ApprovalState.APPROVED,
    "Closed": ApprovalState.APPROVED,
    "Rejected": ApprovalState.REJECTED,
}

# Five risk levels onto four: the middle level errs to HIGH, since a gate
# should rather ask than wave a change through.
RISK_BY_LEVEL: dict[str, RiskLevel] = {
    "Risk Level 1": RiskLevel.LOW,
    "Risk Level 2": RiskLevel.MODERATE,
    "Risk Level 3": RiskLevel.HIGH,
    "Risk Level 4": RiskLevel.HIGH,
    "Risk Level 5": RiskLevel.VERY_HIGH,
}
LEVEL_BY_RISK: dict[RiskLevel, str] = {
    RiskLevel.LOW: "Risk Level 1",
    RiskLevel.MODERATE: "Risk Level 2",
    RiskLevel.HIGH: "Risk Level 4",
    RiskLevel.VERY_HIGH: "Risk Level 5",
}

# `Class` (the change timing) says how a change is governed. Expedited and
# Latent still go through the normal approvals; No Impact changes need none,
# like a standard change.
TYPE_BY_CLASS: dict[str, ChangeType] = {
    "Standard": ChangeType.STANDARD,
    "No Impact": ChangeType.STANDARD,
    "Normal": ChangeType.NORMAL,
    "Expedited": ChangeType.NORMAL,
    "Latent": ChangeType.NORMAL,
    "Emergency": ChangeType.EMERGENCY,
}
CLASS_BY_TYPE: dict[ChangeType, str] = {
    ChangeType.STANDARD: "Standard",
    ChangeType.NORMAL: "Normal",
    ChangeType.EMERGENCY: "Emergency",
}

IMPACT_BY_RISK: dict[RiskLevel | None, str] = {
    RiskLevel.LOW: "4-Minor/Localized",
    RiskLevel.MODERATE: "3-Moderate/Limited",
    RiskLevel.HIGH: "2-Significant/Large",
    RiskLevel.VERY_HIGH: "1-Extensive/Widespread",
    None: "3-Moderate/Limited",
}

#: Remedy's `Description` (the summary) holds at most this many characters.
SUMMARY_LENGTH = 100


class RemedyPayloadError(ValueError):
    """A payload lacks what every Remedy answer of that kind has."""


class IllegalTransition(ValueError):
    """The process flow has no way from the current status to the one asked for."""


# --------------------------------------------------------------------------- values


def _whole(raw: object) -> int | None:
    """`3`, `3.0`, `"3"` or `"3.0"` -> 3: an enum number however it was serialised."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    text = str(raw).strip()
    if text.isdigit():
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() and text[:1].isdigit() else None


def status_label(raw: object) -> str:
    """The label of a status that may come back as its enum number."""
    number = _whole(raw)
    if number is not None and 0 <= number < len(STATUS_LABELS):
        return STATUS_LABELS[number]
    return "" if raw is None else str(raw).strip()


def state_label(status: str, reason: str | None) -> str:
    """What the graph shows as `stateLabel`: "Status" or "Status (Reason)"."""
    return f"{status} ({reason})" if reason else status


def split_state_label(label: str) -> tuple[str, str | None]:
    """The inverse of `state_label` (no status label contains " (")."""
    status, _, rest = label.partition(" (")
    return status, (rest[:-1] if rest.endswith(")") else rest) or None


def change_state(status: str, reason: str | None, overrides: Mapping[str, str]
                 ) -> ChangeState:
    """Canonical state; an override may name "Status (Reason)" to single out one reason."""
    if reason:
        full = state_label(status, reason).casefold()
        for word, name in overrides.items():
            if word.casefold() == full and name in ChangeState.__members__:
                return ChangeState[name]
    return map_status(status, STATE_DEFAULTS, overrides, ChangeState.NEW)


def approval_state(status: str) -> ApprovalState:
    return APPROVAL_BY_STATUS.get(status, ApprovalState.NOT_REQUESTED)


def risk_level(raw: object) -> RiskLevel | None:
    """`Risk Level N` (or the bare number) -> canonical risk; empty -> None."""
    if raw is None or raw == "":
        return None
    number = _whole(raw)
    text = f"Risk Level {number}" if number is not None else str(raw).strip()
    return RISK_BY_LEVEL.get(text)


#: `Class` is an enum stored as 1000, 2000, ...; some answers carry the number.
CLASS_BY_NUMBER: dict[int, str] = {1000: "Emergency", 2000: "Expedited", 3000: "Latent",
                                   4000: "Normal", 5000: "No Impact", 6000: "Standard"}


def change_type(change_class: object, overrides: Mapping[str, str]) -> ChangeType:
    number = _whole(change_class)
    label = CLASS_BY_NUMBER.get(number, "") if number is not None else (
        "" if change_class is None else str(change_class))
    return map_status(label, TYPE_BY_CLASS, overrides, ChangeType.NORMAL)


def parse_ar_date(raw: object) -> datetime | None:
    """`2025-06-30T20:00:00.000+0000` (or epoch seconds) -> aware datetime."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return datetime.fromtimestamp(float(raw), tz=UTC)
    if str(raw).strip().isdigit():  # epoch seconds sent as text
        return datetime.fromtimestamp(int(str(raw).strip()), tz=UTC)
    try:
        moment = datetime.fromisoformat(str(raw).strip())
    except ValueError as exc:
        raise RemedyPayloadError(f"not a Remedy date: {raw!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_ar_date(moment: datetime) -> str:
    """Remedy's wire form: milliseconds, UTC, offset without a colon."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _text(raw: object) -> str | None:
    return None if raw is None or raw == "" else str(raw)


# --------------------------------------------------------------------------- envelopes


def self_href(item: Mapping[str, Any]) -> str | None:
    """`_links.self[0].href`; link values are arrays of `{href}` objects."""
    links = item.get("_links")
    if not isinstance(links, Mapping):
        return None
    selves = links.get("self")
    if isinstance(selves, list) and selves and isinstance(selves[0], Mapping):
        href = selves[0].get("href")
        return href if isinstance(href, str) else None
    return None


def next_href(body: Mapping[str, Any]) -> str | None:
    links = body.get("_links")
    if not isinstance(links, Mapping):
        return None
    nexts = links.get("next")
    if isinstance(nexts, list) and nexts and isinstance(nexts[0], Mapping):
        href = nexts[0].get("href")
        return href if isinstance(href, str) and href else None
    return None


def entries_page(body: object) -> tuple[list[Mapping[str, Any]], str | None]:
    """A list envelope -> its entries and the next page's URL (None on the last page)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("entries"), list):
        raise RemedyPayloadError("a list answer must be an object with an entries array")
    entries: list[Mapping[str, Any]] = []
    for entry in body["entries"]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("values"), Mapping):
            raise RemedyPayloadError("every entry must carry a values object")
        entries.append(entry)
    return entries, next_href(body)


def entry_id(entry: Mapping[str, Any]) -> str:
    """The Request ID: field 1 if asked for, else the last segment of the self link."""
    values = entry.get("values")
    if isinstance(values, Mapping) and _text(values.get("Request ID")):
        return str(values["Request ID"])
    href = self_href(entry)
    if href:
        return unquote(urlsplit(href).path.rstrip("/").rpartition("/")[2])
    raise RemedyPayloadError("an entry has neither a Request ID nor a self link")


def change_record(entry: Mapping[str, Any], *, source: str,
                  overrides: Mapping[str, str] | None = None) -> ChangeRecord:
    """One `CHG:Infrastructure Change` entry -> a canonical change record."""
    overrides = overrides or {}
    values = entry.get("values")
    if not isinstance(values, Mapping):
        raise RemedyPayloadError("an entry must carry a values object")
    number = _text(values.get(NUMBER))
    if number is None:
        raise RemedyPayloadError(f"a change entry lacks {NUMBER!r}")
    status = status_label(values.get(STATUS))
    reason = _text(values.get(REASON))
    service_ci = _text(values.get("ServiceCI"))
    return ChangeRecord(
        source=source,
        number=number,
        upstream_id=entry_id(entry),
        title=str(values.get("Description") or ""),
        url=self_href(entry) or "",
        state=change_state(status, reason, overrides),
        state_label=state_label(status, reason),
        type=change_type(values.get("Class"), overrides),
        approval=approval_state(status),
        risk=risk_level(values.get("Risk Level")),
        planned_start=parse_ar_date(values.get(START)),
        planned_end=parse_ar_date(values.get(END)),
        correlation_id=_text(values.get(CORRELATION)),
        description=_text(values.get("Detailed Description")),
        updated_at=parse_ar_date(values.get("Last Modified Date")),
        configuration_items=(service_ci,) if service_ci else (),
    )


def created_change_number(body: object) -> str | None:
    """The change number in an interface-form create echo or entry, if it is there."""
    if not isinstance(body, Mapping) or not isinstance(body.get("values"), Mapping):
        return None
    values = body["values"]
    for name in CREATED_NUMBER_FIELDS:
        number = _text(values.get(name))
        if number:
            return number
    return None


def error_text(body: object) -> str:
    """AR's error array -> one line; lenient, since variants rename or null fields."""
    if not isinstance(body, list):
        return ""
    parts: list[str] = []
    for message in body:
        if not isinstance(message, Mapping):
            continue
        number = message.get("messageNumber")
        text = message.get("messageText") or ""
        appended = message.get("messageAppendedText") or message.get("appendedText") or ""
        line = " ".join(str(p) for p in (f"[{number}]" if number is not None else "", text,
                                          f"({appended})" if appended else "") if p)
        if line:
            parts.append(line)
    return "; ".join(parts)


# --------------------------------------------------------------------------- qualifications


def quote_field(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def quote_value(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def equals(field: str, value: str) -> str:
    return f"{quote_field(field)} = {quote_value(value)}"


def any_of(field: str, values: Iterable[str], max_chars: int) -> list[str]:
    """`('F' = "a" OR 'F' = "b" ...)` split into chunks no longer than `max_chars`.

    Several short qualifications keep every URL well inside what servers and
    proxies accept, at the cost of one call per chunk, not per value.
    """
    chunks: list[str] = []
    current: list[str] = []
    size = 2
    for value in dict.fromkeys(values):
        clause = equals(field, value)
        extra = len(clause) + (4 if current else 0)
        if current and size + extra > max_chars:
            chunks.append("(" + " OR ".join(current) + ")")
            current, size = [], 2
            extra = len(clause)
        current.append(clause)
        size += extra
    if current:
        chunks.append("(" + " OR ".join(current) + ")")
    return chunks


def statuses_for(state: ChangeState, overrides: Mapping[str, str]) -> list[str]:
    """Status labels that may map to `state` (a reason-specific override counts too)."""
    found = {s for s in STATUS_LABELS
             if map_status(s, STATE_DEFAULTS, overrides, ChangeState.NEW) is state}
    for word, name in overrides.items():
        status, _, reason = word.partition(" (")
        if reason and name == state.name:
            found |= {s for s in STATUS_LABELS if s.casefold() == status.casefold()}
    return [s for s in STATUS_LABELS if s in found]


def search_qualification(statuses: Sequence[str] | None, window: TimeWindow | None) -> str:
    """Status in `statuses` AND the scheduled window overlaps `window` (either optional)."""
    parts: list[str] = []
    if statuses is not None:
        parts.append("(" + " OR ".join(equals(STATUS, s) for s in statuses) + ")")
    if window is not None:
        parts.append(f"{quote_field(START)} < {quote_value(format_ar_date(window.end))}")
        parts.append(f"{quote_field(END)} > {quote_value(format_ar_date(window.start))}")
    return " AND ".join(parts)


MODIFIED = "Last Modified Date"


def modified_since(since: datetime) -> str:
    """Inclusive: an entry modified in the same second as `since` is asked for again (the
    hub's inbox drops what it already has), so none modified meanwhile is missed."""
    return f"{quote_field(MODIFIED)} >= {quote_value(format_ar_date(since))}"


def fields_param(names: Iterable[str]) -> str:
    return "values(" + ",".join(names) + ")"


# --------------------------------------------------------------------------- incidents

INCIDENT_FORM = "HPD:Help Desk"
INCIDENT_NUMBER = "Incident Number"
INCIDENT_SERVICE = "ServiceCI"
SUBMITTED = "Submit Date"
#: Where the causing change sits on the incident; a server that keeps it only in the
#: association forms leaves it empty, and the incident then fails no deployment itself.
CAUSED_BY = "Caused By Change ID"
INCIDENT_FIELDS = ("Request ID", INCIDENT_NUMBER, "Description", "Status", "Priority",
                   SUBMITTED, "Last Resolved Date", INCIDENT_SERVICE, CAUSED_BY)
#: Priority labels (`Critical` .. `Low`) as the 1..4 the hub ranks by.
INCIDENT_PRIORITIES = {"critical": 1, "high": 2, "medium": 3, "low": 4}
INCIDENT_STATUS_LABELS = ("New", "Assigned", "In Progress", "Pending", "Resolved", "Closed",
                          "Cancelled")


def _incident_status(raw: object) -> str:
    """The label of an incident status that may come back as its enum number."""
    number = _whole(raw)
    if number is not None and 0 <= number < len(INCIDENT_STATUS_LABELS):
        return INCIDENT_STATUS_LABELS[number]
    return "" if raw is None else str(raw).strip()


def incident_qualification(services: Sequence[str], since: datetime, max_chars: int
                           ) -> list[str]:
    """Incidents on these services submitted since `since`, one qualification per chunk."""
    clause = f"{quote_field(SUBMITTED)} >= {quote_value(format_ar_date(since))}"
    return [f"{chunk} AND {clause}"
            for chunk in any_of(INCIDENT_SERVICE, services, max_chars - len(clause) - 5)]


def incident_record(entry: Mapping[str, Any], *, source: str) -> IncidentRecord:
    """One `HPD:Help Desk` entry -> a canonical incident."""
    values = entry["values"]
    number = _text(values.get(INCIDENT_NUMBER))
    if number is None:
        raise RemedyPayloadError("an incident entry without an Incident Number")
    opened = parse_ar_date(values.get(SUBMITTED))
    if opened is None:
        raise RemedyPayloadError(f"incident {number} has no {SUBMITTED}")
    request_id = entry_id(entry)
    priority = _text(values.get("Priority"))
    cause = _text(values.get(CAUSED_BY))
    return IncidentRecord(
        source=source, number=number, upstream_id=request_id,
        title=_text(values.get("Description")) or "",
        url=self_href(entry) or "",
        state_label=_incident_status(values.get("Status")),
        service=_text(values.get(INCIDENT_SERVICE)) or "",
        opened_at=opened,
        resolved_at=parse_ar_date(values.get("Last Resolved Date")),
        priority=INCIDENT_PRIORITIES.get(priority.casefold()) if priority else None,
        caused_by=(cause,) if cause else (),
    )


# --------------------------------------------------------------------------- writes


def create_values(draft: ChangeDraft, *, company: str, first_name: str, last_name: str,
                  impact: str | None = None, urgency: str | None = None) -> dict[str, object]:
    """A draft -> the `CHG:ChangeInterface_Create` values that submit it as a Draft change."""
    title = draft.title if len(draft.title) <= SUMMARY_LENGTH else (
        draft.title[:SUMMARY_LENGTH - 1] + "…")
    values: dict[str, object] = {
        "z1D_Action": "CREATE",
        "First Name": first_name,
        "Last Name": last_name,
        "Description": title,
        "Detailed Description": draft.description,
        "Status": "Draft",
        "Class": CLASS_BY_TYPE[draft.type],
        "Change Type": "Change",
        "Impact": impact or IMPACT_BY_RISK[draft.risk],
        "Urgency": urgency or ("1-Critical" if draft.type is ChangeType.EMERGENCY
                               else "3-Medium"),
        "Company": company,
        "Location Company": company,
        CORRELATION: draft.correlation_id,
    }
    if draft.risk is not None:
        values["Risk Level"] = LEVEL_BY_RISK[draft.risk]
    if draft.planned_start is not None:
        values[START] = format_ar_date(draft.planned_start)
    if draft.planned_end is not None:
        values[END] = format_ar_date(draft.planned_end)
    if draft.assignment_group:
        values["ASGRP"] = draft.assignment_group
    if draft.configuration_items:
        values["ServiceCI"] = draft.configuration_items[0]
    return values


def patch_values(patch: ChangePatch) -> dict[str, object]:
    """The non-status fields of a patch as change-form values."""
    values: dict[str, object] = {}
    if patch.title is not None:
        values["Description"] = patch.title[:SUMMARY_LENGTH]
    if patch.description is not None:
        values["Detailed Description"] = patch.description
    if patch.planned_start is not None:
        values[START] = format_ar_date(patch.planned_start)
    if patch.planned_end is not None:
        values[END] = format_ar_date(patch.planned_end)
    if patch.risk is not None:
        values["Risk Level"] = LEVEL_BY_RISK[patch.risk]
    return values


# The status a canonical target state is written as.
TARGET_STATUS: dict[ChangeState, str] = {
    ChangeState.NEW: "Draft",
    ChangeState.ASSESS: "Request For Authorization",
    ChangeState.AUTHORIZE: "Scheduled For Approval",
    ChangeState.SCHEDULED: "Scheduled",
    ChangeState.IMPLEMENT: "Implementation In Progress",
    ChangeState.REVIEW: "Completed",
    ChangeState.CLOSED: "Closed",
    ChangeState.CANCELED: "Cancelled",
    ChangeState.REJECTED: "Rejected",
    ChangeState.ON_HOLD: "Pending",
}

# The process flow's forward moves. Any open status may also go to Pending or
# Cancelled; a Pending change resumes where it was held, which only the
# server knows.
FLOW: dict[str, tuple[str, ...]] = {
    "Draft": ("Request For Authorization",),
    "Request For Authorization": ("Request For Change", "Rejected"),
    "Request For Change": ("Planning In Progress",),
    "Planning In Progress": ("Scheduled For Review",),
    "Scheduled For Review": ("Scheduled For Approval", "Planning In Progress"),
    "Scheduled For Approval": ("Scheduled", "Rejected"),
    "Scheduled": ("Implementation In Progress",),
    "Implementation In Progress": ("Completed",),
    "Completed": ("Closed",),
    "Rejected": ("Draft", "Cancelled"),
}
OPEN_STATUSES = frozenset(STATUS_LABELS[:8])
# Statuses a walk may end at but never pass through.
_ENDS_ONLY = frozenset({"Pending", "Cancelled", "Rejected"})
# The moves the approvers make: accepting the business review and approving the
# implementation. A client walk never takes them; the change board does.
APPROVAL_MOVES = frozenset({("Request For Authorization", "Request For Change"),
                            ("Scheduled For Approval", "Scheduled")})

#: Status Reason sent with a move to these statuses (Completed and Pending require one).
DEFAULT_REASONS: dict[str, str] = {
    "Completed": "Final Review Required",
    "Closed": "Successful",
    "Pending": "Manager Intervention",
    "Cancelled": "No Longer Required",
}


def _moves(status: str) -> tuple[str, ...]:
    moves = FLOW.get(status, ())
    if status in OPEN_STATUSES:
        moves = (*moves, "Pending", "Cancelled")
    return moves


def status_walk(current: str, reason: str | None, target: ChangeState,
                overrides: Mapping[str, str] | None = None,
                reasons: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """The (status, reason) steps that take a change from `current` to `target`.

    Empty when the change is already in that canonical state. The shortest
    way along the flow that takes no approval move is taken; a Pending change
    is asked to go straight to the target, since only the server knows where
    it resumes.
    Raises `IllegalTransition` when the flow has no way there.
    """
    overrides = overrides or {}
    reasons = {**DEFAULT_REASONS, **(reasons or {})}
    if change_state(current, reason, overrides) is target:
        return []
    goal = TARGET_STATUS[target]
    if current == "Pending":
        return [(goal, reasons.get(goal))]
    previous: dict[str, str] = {}
    queue = deque([current])
    while queue:
        status = queue.popleft()
        if status == goal:
            break
        if status in _ENDS_ONLY and status != current:
            continue
        for following in _moves(status):
            if (status, following) in APPROVAL_MOVES:
                continue
            if following not in previous and following != current:
                previous[following] = status
                queue.append(following)
    if goal not in previous:
        raise IllegalTransition(
            f"the change process flow has no way from {current!r} to {goal!r} that does "
            "not pass an approval (approvals are the change board's)")
    path = [goal]
    while previous[path[-1]] != current:
        path.append(previous[path[-1]])
    return [(status, reasons.get(status)) for status in reversed(path)]
