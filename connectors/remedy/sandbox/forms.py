"""The Remedy sandbox's forms: field types, the seeded entries, the change process flow.

Kept apart from the HTTP layer so the vocabulary (labels, numbers, status
reasons) and the process-flow rule read as data and can be checked without a
server. Everything here is Remedy's own wording.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.remedy.sandbox.qualification import FieldSpec, parse_date
from connectors.sandbox.world import ChangeRequest, Incident, World

CHANGE_FORM = "CHG:Infrastructure Change"
CHANGE_CREATE_FORM = "CHG:ChangeInterface_Create"
TEMPLATE_FORM = "CHG:Template"
INCIDENT_FORM = "HPD:Help Desk"
INCIDENT_CREATE_FORM = "HPD:IncidentInterface_Create"

# The field a client can set on create and search by later to find "its"
# change again (duplicate-proof creation). It is a stored field of the
# change form (it appears on the change template too), unlike the z1D_*
# display-only fields that the server forgets after workflow runs.
CORRELATION_FIELD = "Vendor Ticket Number"
# The change an incident was caused by. A real server keeps that relation in
# the association forms; the sandbox carries it on the incident, where a
# qualification can reach it.
CAUSED_BY_FIELD = "Caused By Change ID"



def change_number(change: ChangeRequest) -> str:
    """The change ID this sandbox gives a world change request (the demo links by it)."""
    return f"CRQ{change.seq:012d}"

def _enum(*labels: str, start: int = 0, step: int = 1) -> FieldSpec:
    return FieldSpec("enum", tuple((start + i * step, label) for i, label in enumerate(labels)))


STATUS_LABELS = ("Draft", "Request For Authorization", "Request For Change", "Planning In Progress",
                 "Scheduled For Review", "Scheduled For Approval", "Scheduled",
                 "Implementation In Progress", "Pending", "Rejected", "Completed", "Closed",
                 "Cancelled")
STATUS = _enum(*STATUS_LABELS)
IMPACT = _enum("1-Extensive/Widespread", "2-Significant/Large", "3-Moderate/Limited",
               "4-Minor/Localized", start=1000, step=1000)
URGENCY = _enum("1-Critical", "2-High", "3-Medium", "4-Low", start=1000, step=1000)
PRIORITY = _enum("Critical", "High", "Medium", "Low")
RISK = _enum("Risk Level 1", "Risk Level 2", "Risk Level 3", "Risk Level 4", "Risk Level 5")
CHANGE_CLASS = _enum("Emergency", "Expedited", "Latent", "Normal", "No Impact", "Standard",
                     start=1000, step=1000)
CHANGE_TYPE = _enum("Project", "Change", "Release", "Asset Configuration", "Asset Management",
                    "Asset Lease", "Purchase Requisition", "Asset Maintenance",
                    start=1000, step=1000)
INCIDENT_STATUS = _enum("New", "Assigned", "In Progress", "Pending", "Resolved", "Closed",
                        "Cancelled")
TEMPLATE_STATUS = _enum("Proposed", "Enabled", "Offline", "Obsolete", "Archive", "Delete")
CHAR = FieldSpec()
DATE = FieldSpec("date")

# Fields every form has (AR core fields 1-7 and friends).
_CORE = {"Request ID": CHAR, "Submitter": CHAR, "Submit Date": DATE, "Last Modified By": CHAR,
         "Last Modified Date": DATE}

CHANGE_FIELDS: dict[str, FieldSpec] = {
    **_CORE,
    "Infrastructure Change ID": CHAR, "Description": CHAR, "Detailed Description": CHAR,
    "Change Request Status": STATUS, "Status Reason": CHAR, "Change Type": CHANGE_TYPE,
    "Class": CHANGE_CLASS, "Risk Level": RISK, "Impact": IMPACT, "Urgency": URGENCY,
    "Priority": PRIORITY, "Scheduled Start Date": DATE, "Scheduled End Date": DATE,
    "Actual Start Date": DATE, "Actual End Date": DATE, "Company": CHAR,
    "Location Company": CHAR, "ASCPY": CHAR, "ASORG": CHAR, "ASGRP": CHAR, "ASCHG": CHAR,
    "ServiceCI": CHAR, "Reason For Change": CHAR, "First Name": CHAR, "Last Name": CHAR,
    "InstanceId": CHAR, CORRELATION_FIELD: CHAR, "Vendor Name": CHAR,
}

# What the interface form accepts and, after its workflow ran, reports back.
CHANGE_CREATE_FIELDS: dict[str, FieldSpec] = {
    **_CORE,
    "z1D_Action": CHAR, "Description": CHAR, "Detailed Description": CHAR, "Status": STATUS,
    "Status Reason": CHAR, "Change Type": CHANGE_TYPE, "Class": CHANGE_CLASS, "Risk Level": RISK,
    "Impact": IMPACT, "Urgency": URGENCY, "Scheduled Start Date": DATE,
    "Scheduled End Date": DATE, "Company": CHAR, "Location Company": CHAR, "First Name": CHAR,
    "Last Name": CHAR, "ASGRP": CHAR, "ServiceCI": CHAR, "Reason For Change": CHAR,
    CORRELATION_FIELD: CHAR, "Vendor Name": CHAR,
    "Infrastructure Change Id": CHAR, "Change_Entry_ID": CHAR, "Create Date": DATE,
}

TEMPLATE_FIELDS: dict[str, FieldSpec] = {
    **_CORE,
    "CHG Template ID": CHAR, "Template Name": CHAR, "Description": CHAR,
    "Detailed Description": CHAR, "Status": TEMPLATE_STATUS, "Change Type": CHANGE_TYPE,
    "Change Timing": CHANGE_CLASS, "Risk Level": RISK, "Impact": IMPACT, "Urgency": URGENCY,
    "Priority": PRIORITY, "Reason For Change": CHAR, "Location Company": CHAR,
    "Categorization Tier 1": CHAR, "Categorization Tier 2": CHAR, "Categorization Tier 3": CHAR,
    "ASCPY": CHAR, "ASORG": CHAR, "ASGRP": CHAR, "Authoring Company": CHAR,
    "Authoring Organization": CHAR, "Authoring Group": CHAR, "Environment": CHAR,
    "InstanceId": CHAR, "ServiceCI": CHAR, "Scheduled Start Date": DATE,
    "Scheduled End Date": DATE,
}

INCIDENT_FIELDS: dict[str, FieldSpec] = {
    **_CORE,
    "Incident Number": CHAR, "Description": CHAR, "Detailed Decription": CHAR,
    "Status": INCIDENT_STATUS, "Impact": IMPACT, "Urgency": URGENCY, "Priority": PRIORITY,
    "First_Name": CHAR, "Last_Name": CHAR, "Company": CHAR, "Reported Source": CHAR,
    "Service_Type": CHAR, "Assigned Group": CHAR, "Assignee": CHAR, "ServiceCI": CHAR,
    "Reported Date": DATE, "Last Resolved Date": DATE, "Closed Date": DATE,
    "Resolution": CHAR, "Status_Reason": CHAR, CAUSED_BY_FIELD: CHAR,
}

INCIDENT_CREATE_FIELDS: dict[str, FieldSpec] = {
    **_CORE,
    "z1D_Action": CHAR, "Description": CHAR, "Detailed_Decription": CHAR,
    "Status": INCIDENT_STATUS, "Impact": IMPACT, "Urgency": URGENCY, "First_Name": CHAR,
    "Last_Name": CHAR, "Company": CHAR, "Reported Source": CHAR, "Service_Type": CHAR,
    "Assigned Group": CHAR, "Incident Number": CHAR, "Incident_Entry_ID": CHAR,
    "Create Date": DATE,
}


def ar_date(moment: datetime) -> str:
    """Remedy's wire form: milliseconds and an offset without a colon."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def entry_id(number: int) -> str:
    """Request IDs are 15 characters, zero padded."""
    return f"{number:015d}"


def instance_id() -> str:
    return "AG" + secrets.token_hex(14).upper()


# --- the change process flow ---------------------------------------------

OPEN_STATUSES = frozenset(STATUS_LABELS[:8])
# Forward moves of the process flow; Cancelled and Pending are added for open
# states below, and a Pending change resumes where it was held.
_FORWARD: dict[str, tuple[str, ...]] = {
    "Draft": ("Request For Authorization",),
    "Request For Authorization": ("Request For Change", "Rejected"),
    "Request For Change": ("Planning In Progress",),
    "Planning In Progress": ("Scheduled For Review",),
    "Scheduled For Review": ("Scheduled For Approval", "Planning In Progress"),
    "Scheduled For Approval": ("Scheduled", "Rejected"),
    "Scheduled": ("Implementation In Progress",),
    "Implementation In Progress": ("Completed",),
    "Rejected": ("Draft", "Cancelled"),
    "Completed": ("Closed",),
}
NEEDS_REASON = frozenset({"Pending", "Completed"})


def allowed_next(current: str, held_at: str | None) -> frozenset[str]:
    """Statuses a change may move to from `current` (`held_at`: where Pending came from)."""
    moves = set(_FORWARD.get(current, ()))
    if current in OPEN_STATUSES:
        moves |= {"Cancelled", "Pending"}
    if current == "Pending":
        moves |= {held_at or "Draft", "Cancelled"}
    moves.discard(current)
    return frozenset(moves)


# --- forms and entries -------------------------------------------------------

@dataclass
class Form:
    """One AR form: its fields and its entries, keyed by Request ID, in submit order."""

    name: str
    fields: Mapping[str, FieldSpec]
    entries: dict[str, dict[str, object]] = field(default_factory=dict)
    next_number: int = 1
    writable: bool = True

    def allocate_id(self) -> str:
        new_id = entry_id(self.next_number)
        self.next_number += 1
        return new_id


def normalise(spec: FieldSpec, value: object) -> object:
    """Store what a client sent in the form the server returns; raise ValueError if it cannot."""
    if value is None or value == "":
        return None
    if spec.kind == "enum":
        if isinstance(value, int) and not isinstance(value, bool):
            label = spec.label_of(value)
        else:
            label = str(value) if spec.number_of(str(value)) is not None else None
        if label is None:
            raise ValueError(str(value))
        return label
    if spec.kind == "date":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return ar_date(datetime.fromtimestamp(float(value), tz=UTC))
        parsed = parse_date(str(value))
        if parsed is None:
            raise ValueError(str(value))
        return ar_date(parsed)
    return value if isinstance(value, int | float) else str(value)


_RISK = {"low": "Risk Level 1", "moderate": "Risk Level 2", "high": "Risk Level 4",
         "very_high": "Risk Level 5"}
_IMPACT = {"low": "4-Minor/Localized", "medium": "3-Moderate/Limited",
           "high": "2-Significant/Large"}
_CLASS = {"standard": "Standard", "normal": "Normal", "emergency": "Emergency"}

# World stage (and approval) -> Change Request Status and Status Reason.
_STAGE_STATUS: dict[str, tuple[str, str | None]] = {
    "new": ("Draft", None),
    "assess": ("Request For Authorization", None),
    "authorize": ("Scheduled For Approval", None),
    "scheduled": ("Scheduled", None),
    "implement": ("Implementation In Progress", None),
    "review": ("Completed", "Final Review Required"),
    "closed": ("Closed", "Successful"),
    "canceled": ("Cancelled", "No Longer Required"),
    "rejected": ("Rejected", None),
    "on_hold": ("Pending", "Manager Intervention"),
}
# Where an on-hold change was when it was put on hold, so it can resume.
HELD_AT_FIELD = "_held_at"


def priority_for(impact: str, urgency: str) -> str:
    """Remedy derives priority from impact and urgency; lower ranks are more severe."""
    impact_rank = int(impact[0])
    urgency_rank = int(urgency[0])
    score = impact_rank + urgency_rank
    return "Critical" if score <= 3 else "High" if score <= 5 else "Medium" if score <= 6 else "Low"


def change_entry(world: World, change: ChangeRequest, request_id: str) -> dict[str, object]:
    """Render one world change request as a `CHG:Infrastructure Change` entry."""
    app = world.app(change.app_key)
    status, reason = _STAGE_STATUS[change.stage]
    if change.stage == "assess" and change.approval == "not_requested":
        status = "Planning In Progress"
    urgency = "1-Critical" if change.change_type == "emergency" else (
        "2-High" if change.impact == "high" else "3-Medium")
    impact = _IMPACT[change.impact]
    started = change.stage in ("implement", "review", "closed")
    ended = change.stage in ("review", "closed")
    first, _, last = change.requested_by.display_name.partition(" ")
    values: dict[str, object] = {
        "Request ID": request_id,
        "Submitter": change.requested_by.username,
        "Submit Date": ar_date(change.created),
        "Last Modified By": change.requested_by.username,
        "Last Modified Date": ar_date(change.updated),
        "Infrastructure Change ID": change_number(change),
        "Description": change.title,
        "Detailed Description": f"{change.description}\nBackout: {change.backout_plan}\n"
                                f"Test: {change.test_plan}",
        "Change Request Status": status,
        "Status Reason": reason,
        "Change Type": "Change",
        "Class": _CLASS[change.change_type],
        "Risk Level": _RISK[change.risk],
        "Impact": impact,
        "Urgency": urgency,
        "Priority": priority_for(impact, urgency),
        "Scheduled Start Date": ar_date(change.planned_start),
        "Scheduled End Date": ar_date(change.planned_end),
        "Actual Start Date": ar_date(change.planned_start) if started else None,
        "Actual End Date": ar_date(change.planned_end) if ended else None,
        "Company": world.company,
        "Location Company": world.company,
        "ASCPY": world.company,
        "ASORG": "IT Operations",
        "ASGRP": change.assignment_group,
        "ASCHG": app.lead.username,
        "ServiceCI": app.ci_name,
        "Reason For Change": "Upgrade",
        "First Name": first,
        "Last Name": last,
        "InstanceId": f"AG{change.seq:08d}{world.seed:04d}CHG{app.key}",
        CORRELATION_FIELD: change.correlation_id or None,
        "Vendor Name": None,
    }
    if status == "Pending":
        values[HELD_AT_FIELD] = "Scheduled For Approval"
    return values


def template_entries(world: World) -> list[dict[str, object]]:
    """One standard-change template per application (patching), as CHG:Template entries."""
    out: list[dict[str, object]] = []
    for index, app in enumerate(world.applications, start=1):
        template_id = f"CTP{index:012d}"
        out.append({
            "Request ID": template_id, "Submitter": app.lead.username,
            "Submit Date": ar_date(world.now.replace(year=world.now.year - 1)),
            "Last Modified By": app.lead.username,
            "Last Modified Date": ar_date(world.now.replace(year=world.now.year - 1)),
            "CHG Template ID": template_id, "Template Name": f"{app.name} OS patching",
            "Description": f"Patch {app.name} operating system", "Detailed Description": None,
            "Status": "Enabled", "Change Type": "Change", "Change Timing": "Standard",
            "Risk Level": "Risk Level 1", "Impact": "4-Minor/Localized", "Urgency": "4-Low",
            "Priority": "Low", "Reason For Change": "Maintenance",
            "Location Company": world.company, "Categorization Tier 1": "Maintenance",
            "Categorization Tier 2": "Operating System", "Categorization Tier 3": "Patch",
            "ASCPY": world.company, "ASORG": "IT Operations", "ASGRP": app.support_group,
            "Authoring Company": world.company, "Authoring Organization": "IT Operations",
            "Authoring Group": app.support_group, "Environment": "Production",
            "InstanceId": f"AG{index:08d}{world.seed:04d}CTP{app.key}", "ServiceCI": app.ci_name,
            "Scheduled Start Date": None, "Scheduled End Date": None,
        })
    return out


# World incident state -> (Status, Status_Reason).
_INCIDENT_STATUS: dict[str, tuple[str, str | None]] = {
    "new": ("New", None), "in_progress": ("In Progress", None),
    "on_hold": ("Pending", "Supplier Delivery"),
    "resolved": ("Resolved", "No Further Action Required"),
    "closed": ("Closed", "Automated Resolution Reported"),
    "canceled": ("Cancelled", "No Longer Required"),
}
# World priority (1 critical .. 4 low) -> (Impact, Urgency) that `priority_for` turns back into it.
_INCIDENT_IMPACT_URGENCY: dict[int, tuple[str, str]] = {
    1: ("1-Extensive/Widespread", "1-Critical"), 2: ("2-Significant/Large", "2-High"),
    3: ("3-Moderate/Limited", "3-Medium"), 4: ("4-Minor/Localized", "4-Low"),
}


def incident_number(incident: Incident) -> str:
    """The Incident Number this sandbox gives a world incident."""
    return f"INC{incident.seq:012d}"


def incident_entries(world: World) -> list[dict[str, object]]:
    """The world's Remedy incidents as `HPD:Help Desk` entries, oldest first."""
    changes = {c.seq: c for c in world.change_requests if c.itsm == "remedy"}
    out: list[dict[str, object]] = []
    for index, incident in enumerate((i for i in world.incidents if i.itsm == "remedy"),
                                     start=1):
        status, reason = _INCIDENT_STATUS[incident.state]
        impact, urgency = _INCIDENT_IMPACT_URGENCY[incident.priority]
        app = world.app(incident.app_key)
        first, _, last = incident.opened_by.display_name.partition(" ")
        cause = changes.get(incident.caused_by) if incident.caused_by else None
        out.append({
            "Request ID": entry_id(index), "Submitter": incident.opened_by.username,
            "Submit Date": ar_date(incident.opened),
            "Last Modified By": incident.opened_by.username,
            "Last Modified Date": ar_date(incident.updated),
            "Incident Number": incident_number(incident), "Description": incident.title,
            "Detailed Decription": incident.description, "Status": status,
            "Status_Reason": reason, "Impact": impact, "Urgency": urgency,
            "Priority": priority_for(impact, urgency), "First_Name": first, "Last_Name": last,
            "Company": world.company, "Reported Source": "Systems Management",
            "Service_Type": "Infrastructure Event", "Assigned Group": incident.assignment_group,
            "Assignee": incident.assigned_to.display_name if incident.assigned_to else None,
            "ServiceCI": app.ci_name, "Reported Date": ar_date(incident.opened),
            "Last Resolved Date": ar_date(incident.resolved) if incident.resolved else None,
            "Closed Date": ar_date(incident.closed) if incident.closed else None,
            "Resolution": "Service restored." if incident.resolved else None,
            CAUSED_BY_FIELD: change_number(cause) if cause else None,
        })
    return out


# Offset between the change number and its Request ID, so that the two are
# never the same string (as on a real server, where they are set apart).
CHANGE_ID_OFFSET = 600


def build_forms(world: World) -> dict[str, Form]:
    """Every form the sandbox serves, seeded from the world."""
    changes = Form(CHANGE_FORM, CHANGE_FIELDS)
    remedy = sorted((c for c in world.change_requests if c.itsm == "remedy"), key=lambda c: c.seq)
    for change in remedy:
        request_id = entry_id(change.seq - CHANGE_ID_OFFSET)
        changes.entries[request_id] = change_entry(world, change, request_id)
    last_seq = remedy[-1].seq if remedy else 1000
    changes.next_number = last_seq + 1 - CHANGE_ID_OFFSET
    templates = Form(TEMPLATE_FORM, TEMPLATE_FIELDS, writable=False)
    for values in template_entries(world):
        templates.entries[str(values["Request ID"])] = values
    incidents = Form(INCIDENT_FORM, INCIDENT_FIELDS)
    for values in incident_entries(world):
        incidents.entries[str(values["Request ID"])] = values
    incidents.next_number = len(incidents.entries) + 1
    return {
        CHANGE_FORM: changes,
        CHANGE_CREATE_FORM: Form(CHANGE_CREATE_FORM, CHANGE_CREATE_FIELDS),
        TEMPLATE_FORM: templates,
        INCIDENT_FORM: incidents,
        INCIDENT_CREATE_FORM: Form(INCIDENT_CREATE_FORM, INCIDENT_CREATE_FIELDS),
    }
