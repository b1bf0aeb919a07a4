"""A fake ServiceNow instance: the Table API as the hub calls it, over the demo world.

Speaks the instance's wire habits (shared/upstream-apis.md §3): a `result`
envelope, every value a string, UTC `yyyy-MM-dd HH:mm:ss`, reference fields
as `{link, value}`, `Link` + `X-Total-Count` pagination, encoded queries, the
`error`/`status: failure` envelope, Basic and Bearer auth, and the numeric
change states moved only along the change models' paths.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.config import ConnectorConfig
from connectors.sandbox.kit import Credentials, SandboxKit, mount_base_url, route_path
from connectors.sandbox.registry import DemoWiring, Sandbox
from connectors.sandbox.world import ChangeRequest as WorldChange
from connectors.sandbox.world import Incident as WorldIncident
from connectors.sandbox.world import World, build_world
from connectors.servicenow.sandbox import aggregate, encoded_query
from connectors.servicenow.sandbox.encoded_query import QueryError

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_LIMIT = 10000
# The OAuth application registered on the sandbox instance (System OAuth > Application Registry).
DEMO_CLIENT_ID = "heatshield-sandbox-client"
DEMO_CLIENT_SECRET = "heatshield-sandbox-secret"
MAX_ATTACHMENT_BYTES = 1024 * 1024 * 1024
RATE_LIMIT_RULE = "5f8e3b2a47d31210a8c5e2f9b1c2d3e4"
WEBHOOK_SECRET_HEADER = "X-Webhook-Secret"

# World stage -> (state, on_hold). A rejected normal change goes back to New
# with approval=rejected, as the approval rules of the normal model do.
STAGE_STATE: dict[str, tuple[str, str]] = {
    "new": ("-5", "false"), "assess": ("-4", "false"), "authorize": ("-3", "false"),
    "scheduled": ("-2", "false"), "implement": ("-1", "false"), "review": ("0", "false"),
    "closed": ("3", "false"), "canceled": ("4", "false"), "rejected": ("-5", "false"),
    "on_hold": ("-4", "true"),
}
CHANGE_STATES = {"-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled",
                 "-1": "Implement", "0": "Review", "3": "Closed", "4": "Canceled"}
CLOSED_STATES = {"3", "4"}
INCIDENT_STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved",
                   "7": "Closed", "8": "Canceled"}
# World incident state -> incident state number.
INCIDENT_STATE: dict[str, str] = {"new": "1", "in_progress": "2", "on_hold": "3",
                                  "resolved": "6", "closed": "7", "canceled": "8"}
# World priority (1 critical .. 4 low) -> (impact, urgency) the priority matrix turns back into it.
INCIDENT_IMPACT_URGENCY: dict[int, tuple[str, str]] = {1: ("1", "1"), 2: ("1", "2"),
                                                       3: ("2", "2"), 4: ("2", "3")}
CRITICALITY = {1: "1 - most critical", 2: "2 - somewhat critical", 3: "3 - less critical",
               4: "4 - not critical"}
APPROVALS = {"not_requested": "not requested", "requested": "requested",
             "approved": "approved", "rejected": "rejected"}
RISKS = {"very_high": "1", "high": "2", "moderate": "3", "low": "4"}
IMPACTS = {"high": "1", "medium": "2", "low": "3"}
SEEDED_URGENCY = "2"

# The state sequence of each change model; Canceled is reachable from any open
# state, and Assess/Authorize may fall back to New (a rejection).
MODEL_PATHS: dict[str, list[str]] = {
    "normal": ["-5", "-4", "-3", "-2", "-1", "0", "3"],
    "emergency": ["-5", "-3", "-2", "-1", "0", "3"],
    "standard": ["-5", "-2", "-1", "0", "3"],
}


def allowed_next_states(change_type: str, state: str) -> set[str]:
    """Where a change of this type may go next from `state` (rule, no I/O)."""
    path = MODEL_PATHS.get(change_type, MODEL_PATHS["normal"])
    if state in CLOSED_STATES:
        return set()
    nxt = {"4"}
    if state in path and path.index(state) + 1 < len(path):
        nxt.add(path[path.index(state) + 1])
    if state in ("-4", "-3"):
        nxt.add("-5")
    return nxt


def priority_for(impact: str, urgency: str) -> str:
    """The platform's impact x urgency matrix (1 = high on both scales)."""
    try:
        total = int(impact) + int(urgency)
    except ValueError:
        return "4"
    return {2: "1", 3: "2", 4: "3", 5: "4"}.get(total, "5")


@dataclass(frozen=True)
class TableSpec:
    name: str
    fields: tuple[str, ...]
    display_field: str
    references: dict[str, str] = field(default_factory=dict)
    choices: dict[str, dict[str, str]] = field(default_factory=dict)
    number_prefix: str | None = None
    defaults: dict[str, str] = field(default_factory=dict)
    #: A class extending another (cmdb_ci_service extends cmdb_ci): its records are
    #: also rows of the parent table, read there with the parent's fields.
    parent: str | None = None


SYSTEM_FIELDS = ("sys_id", "sys_class_name", "sys_created_on", "sys_created_by",
                 "sys_updated_on", "sys_updated_by", "sys_mod_count")
READ_ONLY = set(SYSTEM_FIELDS)

TABLES: dict[str, TableSpec] = {
    "change_request": TableSpec(
        name="change_request",
        fields=(
            *SYSTEM_FIELDS,
            "number", "short_description", "description", "type", "state", "phase", "approval",
            "risk", "impact", "urgency", "priority", "start_date", "end_date", "work_start",
            "work_end", "on_hold", "on_hold_reason", "active", "assignment_group",
            "assigned_to", "requested_by", "cmdb_ci", "business_service", "chg_model",
            "backout_plan", "test_plan", "implementation_plan", "justification", "close_code",
            "close_notes", "correlation_id", "correlation_display"),
        display_field="number",
        references={"assignment_group": "sys_user_group", "assigned_to": "sys_user",
                    "requested_by": "sys_user", "cmdb_ci": "cmdb_ci",
                    "business_service": "cmdb_ci"},
        choices={
            "state": CHANGE_STATES,
            "type": {"standard": "Standard", "normal": "Normal", "emergency": "Emergency"},
            "approval": {"not requested": "Not Yet Requested", "requested": "Requested",
                         "approved": "Approved", "rejected": "Rejected"},
            "risk": {"1": "Very High", "2": "High", "3": "Moderate", "4": "Low"},
            "impact": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
            "urgency": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
            "priority": {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate",
                         "4": "4 - Low", "5": "5 - Planning"},
            "close_code": {"successful": "Successful",
                           "successful_issues": "Successful with issues",
                           "unsuccessful": "Unsuccessful"},
        },
        number_prefix="CHG",
        defaults={"type": "normal", "state": "-5", "approval": "not requested", "risk": "3",
                  "impact": "3", "urgency": "3", "priority": "4", "on_hold": "false",
                  "active": "true", "phase": "requested"},
    ),
    "change_task": TableSpec(
        name="change_task",
        fields=(
            *SYSTEM_FIELDS,
            "number", "change_request", "short_description", "description", "change_task_type",
            "state", "active", "assignment_group", "assigned_to", "cmdb_ci",
            "planned_start_date", "planned_end_date", "close_code", "close_notes"),
        display_field="number",
        references={"change_request": "change_request", "assignment_group": "sys_user_group",
                    "assigned_to": "sys_user", "cmdb_ci": "cmdb_ci"},
        choices={"state": {"-5": "Pending", "1": "Open", "2": "In Progress", "3": "Closed",
                           "4": "Canceled"},
                 "change_task_type": {"planning": "Planning", "implementation": "Implementation",
                                      "testing": "Testing", "review": "Review"}},
        number_prefix="CTASK",
        defaults={"state": "1", "active": "true", "change_task_type": "implementation"},
    ),
    "cmdb_ci": TableSpec(
        name="cmdb_ci",
        fields=(*SYSTEM_FIELDS, "name", "short_description", "operational_status",
                                "support_group", "owned_by", "install_status"),
        display_field="name",
        references={"support_group": "sys_user_group", "owned_by": "sys_user"},
        choices={"operational_status": {"1": "Operational", "2": "Non-Operational"}},
        defaults={"operational_status": "1", "install_status": "1"},
    ),
    "cmdb_ci_service": TableSpec(
        name="cmdb_ci_service",
        fields=(*SYSTEM_FIELDS, "name", "short_description", "operational_status",
                                "support_group", "owned_by", "install_status",
                                "service_classification", "busines_criticality", "used_for",
                                "managed_by", "version"),
        display_field="name",
        references={"support_group": "sys_user_group", "owned_by": "sys_user",
                    "managed_by": "sys_user"},
        choices={"operational_status": {"1": "Operational", "2": "Non-Operational"},
                 "install_status": {"1": "Installed", "7": "Retired"}},
        defaults={"operational_status": "1", "install_status": "1",
                  "service_classification": "Business Service", "used_for": "Production",
                  "busines_criticality": "3 - less critical"},
        parent="cmdb_ci",
    ),
    "incident": TableSpec(
        name="incident",
        fields=(
            *SYSTEM_FIELDS,
            "number", "short_description", "description", "state", "incident_state",
            "impact", "urgency", "priority", "category", "caller_id", "opened_by", "opened_at",
            "resolved_at", "resolved_by", "closed_at", "closed_by", "close_code", "close_notes",
            "caused_by", "rfc", "cmdb_ci", "business_service", "assignment_group",
            "assigned_to", "active", "hold_reason", "correlation_id"),
        display_field="number",
        references={"caller_id": "sys_user", "opened_by": "sys_user",
                    "resolved_by": "sys_user", "closed_by": "sys_user",
                    "caused_by": "change_request", "rfc": "change_request",
                    "cmdb_ci": "cmdb_ci", "business_service": "cmdb_ci_service",
                    "assignment_group": "sys_user_group", "assigned_to": "sys_user"},
        choices={
            "state": INCIDENT_STATES, "incident_state": INCIDENT_STATES,
            "impact": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
            "urgency": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
            "priority": {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate",
                         "4": "4 - Low", "5": "5 - Planning"},
            "hold_reason": {"1": "Awaiting Caller", "3": "Awaiting Problem",
                            "4": "Awaiting User Info", "5": "Awaiting Evidence"},
            "category": {"software": "Software", "hardware": "Hardware",
                         "network": "Network", "database": "Database", "inquiry": "Inquiry"},
        },
        number_prefix="INC",
        defaults={"state": "1", "incident_state": "1", "impact": "3", "urgency": "3",
                  "priority": "5", "active": "true", "category": "inquiry"},
    ),
    "sys_attachment": TableSpec(
        name="sys_attachment",
        fields=(*SYSTEM_FIELDS, "file_name", "content_type", "size_bytes", "size_compressed",
                                "compressed", "table_name", "table_sys_id", "hash",
                                "image_width", "image_height", "state", "chunk_size_bytes",
                                "average_image_color", "sys_tags"),
        display_field="file_name",
        defaults={"compressed": "true", "state": "available", "chunk_size_bytes": "700000",
                  "image_width": "", "image_height": "", "average_image_color": ""},
    ),
    # One approver's say on one change (Normal changes ask theirs in Authorize): the
    # change is approved once every approver has approved, rejected by any one of them.
    "sysapproval_approver": TableSpec(
        name="sysapproval_approver",
        fields=(*SYSTEM_FIELDS, "sysapproval", "document_id", "source_table", "approver",
                                "state", "comments", "due_date", "expected_start"),
        display_field="approver",
        references={"sysapproval": "change_request", "document_id": "change_request",
                    "approver": "sys_user"},
        choices={"state": {"not requested": "Not Yet Requested", "requested": "Requested",
                           "approved": "Approved", "rejected": "Rejected",
                           "cancelled": "Cancelled", "not_required": "No Longer Required"}},
        defaults={"state": "requested", "source_table": "change_request"},
    ),
    "sys_user_group": TableSpec(
        name="sys_user_group",
        fields=(*SYSTEM_FIELDS, "name", "description", "email", "manager", "active"),
        display_field="name",
        references={"manager": "sys_user"},
        defaults={"active": "true"},
    ),
    "sys_user": TableSpec(
        name="sys_user",
        fields=(*SYSTEM_FIELDS, "user_name", "name", "first_name", "last_name", "email",
                                "active"),
        display_field="name",
        defaults={"active": "true"},
    ),
}

Record = dict[str, str]


def sys_id_for(*parts: object) -> str:
    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


def stamp(when: datetime) -> str:
    return when.strftime(TIME_FORMAT)


def as_text(value: Any) -> str:
    """The instance stores every value as a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return as_text(value.get("value", ""))
    return str(value)


class SnError(Exception):
    """An answer in the instance's error envelope."""

    def __init__(self, status: int, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def error_body(status: int, message: str, detail: str = "") -> Response:
    return JSONResponse({"error": {"message": message, "detail": detail}, "status": "failure"},
                        status_code=status)


def kit_error(status: int, message: str) -> Response:
    detail = {401: "Required to provide Auth information",
              429: "The number of requests exceeded the rate limit"}.get(status, "")
    if status == 401:
        message = "User Not Authenticated"
    return error_body(status, message, detail)


def not_found() -> SnError:
    return SnError(404, "No Record found",
                   "Record doesn't exist or ACL restricts the record retrieval")


class Instance:
    """One fake instance's tables, clock, tokens; lives on the app, never global."""

    def __init__(self, world: World, credentials: Credentials, tasks_per_change: int,
                 oauth_client: tuple[str, str] = (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)) -> None:
        self.world = world
        self.credentials = credentials
        #: The one OAuth application (client id, secret) `/oauth_token.do` knows.
        self.oauth_client = oauth_client
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in TABLES}
        self.tokens: set[str] = {credentials.token}
        self.refresh_tokens: set[str] = set()
        self.sequences: dict[str, int] = {"CHG": 30000, "CTASK": 10000, "INC": 10000}
        #: Attachment bytes by the sys_attachment record's sys_id.
        self.files: dict[str, bytes] = {}
        self._seed(tasks_per_change)

    # -- clock and seeding -------------------------------------------------

    def now(self) -> str:
        """World time moving at wall-clock speed, so updates sort after seeded data."""
        return stamp(self.world.clock.now())

    def _put(self, table: str, sys_id: str, values: dict[str, str], created: str,
             updated: str, by: str = "system") -> Record:
        spec = TABLES[table]
        record = dict.fromkeys(spec.fields, "")
        record.update(spec.defaults)
        record.update(values)
        record.update(sys_id=sys_id, sys_class_name=values.get("sys_class_name", table),
                      sys_created_on=created, sys_created_by=by, sys_updated_on=updated,
                      sys_updated_by=by, sys_mod_count=values.get("sys_mod_count", "0"))
        self.tables[table][sys_id] = record
        if spec.parent:
            self.tables[spec.parent][sys_id] = record
        return record

    def _seed(self, tasks_per_change: int) -> None:
        world = self.world
        born = stamp(world.now - timedelta(days=400))
        users: dict[str, str] = {}
        for person in world.people:
            first, _, last = person.display_name.partition(" ")
            uid = sys_id_for("sys_user", person.username)
            users[person.email] = uid
            self._put("sys_user", uid, {
                "user_name": person.username, "name": person.display_name,
                "first_name": first, "last_name": last, "email": person.email}, born, born)
        groups: dict[str, str] = {}
        cis: dict[str, str] = {}
        services = {service.app_key: service for service in world.business_services}
        for app in world.applications:
            if app.support_group not in groups:
                gid = sys_id_for("sys_user_group", app.support_group)
                groups[app.support_group] = gid
                slug = app.support_group.lower().replace(" ", "-")
                self._put("sys_user_group", gid, {
                    "name": app.support_group, "email": f"{slug}@acme-retail.example",
                    "description": f"Runs {app.name} in production.",
                    "manager": users[app.lead.email]}, born, born)
            cid = sys_id_for("cmdb_ci", app.ci_name)
            cis[app.key] = cid
            service = services.get(app.key)
            self._put("cmdb_ci_service", cid, {
                "name": app.ci_name,
                "short_description": f"{app.name} ({app.repo_owner}/{app.repo_name})",
                "support_group": groups[app.support_group],
                "owned_by": users[app.lead.email], "managed_by": users[app.lead.email],
                "busines_criticality": CRITICALITY[service.criticality] if service
                else CRITICALITY[3]}, born, born)
        for change in world.change_requests:
            if change.itsm != "servicenow":
                continue
            state, on_hold = STAGE_STATE[change.stage]
            number = change_number(change)
            self.sequences["CHG"] = max(self.sequences["CHG"], change.seq)
            impact = IMPACTS[change.impact]
            cid = sys_id_for("change_request", number)
            record = self._put("change_request", cid, {
                "number": number, "short_description": change.title,
                "description": change.description, "type": change.change_type,
                "state": state, "on_hold": on_hold,
                "on_hold_reason": "Awaiting information from the requester"
                if on_hold == "true" else "",
                "approval": APPROVALS[change.approval], "risk": RISKS[change.risk],
                "impact": impact, "urgency": SEEDED_URGENCY,
                "priority": priority_for(impact, SEEDED_URGENCY),
                "start_date": stamp(change.planned_start), "end_date": stamp(change.planned_end),
                "active": "false" if state in CLOSED_STATES else "true",
                "phase": "requested" if state in ("-5", "-4", "-3") else "scheduled",
                "assignment_group": groups.get(change.assignment_group, ""),
                "requested_by": users.get(change.requested_by.email, ""),
                "cmdb_ci": cis.get(change.app_key, ""),
                "backout_plan": change.backout_plan, "test_plan": change.test_plan,
                "close_code": "successful" if state == "3" else "",
                "close_notes": "Deployed as planned." if state == "3" else "",
                "work_start": stamp(change.planned_start) if state in ("-1", "0", "3") else "",
                "work_end": stamp(change.planned_end) if state in ("0", "3") else "",
                "correlation_id": change.correlation_id,
                "correlation_display": "Heatshield" if change.correlation_id else "",
                "sys_mod_count": str(3 + abs(int(state)))},
                stamp(change.created), stamp(change.updated),
                by=change.requested_by.username)
            self._seed_tasks(record, tasks_per_change)
            if record["approval"] != "not requested":
                self._request_approvals(record, stamp(change.updated),
                                        decided=record["approval"])
        self._seed_incidents(users, groups, cis)

    def _seed_incidents(self, users: dict[str, str], groups: dict[str, str],
                        cis: dict[str, str]) -> None:
        """The world's ServiceNow incidents, each on its service and its causing change."""
        changes = {c.seq: c for c in self.world.change_requests if c.itsm == "servicenow"}
        for incident in self.world.incidents:
            if incident.itsm != "servicenow":
                continue
            number = incident_number(incident)
            self.sequences["INC"] = max(self.sequences.get("INC", 0), incident.seq)
            state = INCIDENT_STATE[incident.state]
            impact, urgency = INCIDENT_IMPACT_URGENCY[incident.priority]
            cause = changes.get(incident.caused_by) if incident.caused_by else None
            lead = users.get(incident.opened_by.email, "")
            assignee = users.get(incident.assigned_to.email, "") if incident.assigned_to else ""
            resolved = stamp(incident.resolved) if incident.resolved else ""
            closed = stamp(incident.closed) if incident.closed else ""
            self._put("incident", sys_id_for("incident", number), {
                "number": number, "short_description": incident.title,
                "description": incident.description, "state": state, "incident_state": state,
                "impact": impact, "urgency": urgency, "priority": priority_for(impact, urgency),
                "category": "software", "caller_id": lead, "opened_by": lead,
                "opened_at": stamp(incident.opened), "resolved_at": resolved,
                "resolved_by": assignee if resolved else "", "closed_at": closed,
                "closed_by": assignee if closed else "",
                "close_code": "Solved (Permanently)" if resolved else (
                    "Canceled" if state == "8" else ""),
                "close_notes": "Service restored." if resolved else "",
                "caused_by": sys_id_for("change_request", change_number(cause)) if cause else "",
                "cmdb_ci": cis.get(incident.app_key, ""),
                "business_service": cis.get(incident.app_key, ""),
                "assignment_group": groups.get(incident.assignment_group, ""),
                "assigned_to": assignee,
                "active": "false" if state in ("6", "7", "8") else "true",
                "hold_reason": "4" if state == "3" else "",
                "sys_mod_count": str(2 + int(state))},
                stamp(incident.opened), stamp(incident.updated),
                by=incident.opened_by.username)

    def _seed_tasks(self, change: Record, count: int) -> None:
        titles = [("implementation", "Deploy to production"),
                  ("testing", "Verify after deployment"),
                  ("review", "Post-implementation review")]
        state = change["state"]
        for index in range(count):
            kind, title = titles[index % len(titles)]
            if state == "3":
                task_state = "3"
            elif state == "4":
                task_state = "4"
            elif state in ("-1", "0"):
                task_state = "2" if index == 0 else "1"
            else:
                task_state = "-5"
            self.sequences["CTASK"] += 1
            number = f"CTASK{self.sequences['CTASK']:07d}"
            self._put("change_task", sys_id_for("change_task", number), {
                "number": number, "change_request": change["sys_id"],
                "short_description": f"{title} ({change['number']})",
                "change_task_type": kind, "state": task_state,
                "active": "false" if task_state in ("3", "4") else "true",
                "assignment_group": change["assignment_group"], "cmdb_ci": change["cmdb_ci"],
                "planned_start_date": change["start_date"],
                "planned_end_date": change["end_date"]},
                change["sys_created_on"], change["sys_updated_on"], change["sys_created_by"])

    # -- approvals ----------------------------------------------------------

    def approvers(self, change: Record) -> list[str]:
        """Who approves a change: its assignment group's manager, then one change
        manager chosen by its number (never its requester), as sys_user ids."""
        group = self.tables["sys_user_group"].get(change["assignment_group"])
        chosen = [group["manager"]] if group and group["manager"] else []
        people = sorted(self.tables["sys_user"])
        others = [uid for uid in people if uid not in chosen and uid != change["requested_by"]]
        if others:
            chosen.append(others[int(change["number"][3:] or "0") % len(others)])
        return chosen

    def approvals_of(self, change: Record) -> list[Record]:
        return [row for row in self.tables["sysapproval_approver"].values()
                if row["sysapproval"] == change["sys_id"]]

    def _request_approvals(self, change: Record, when: str, decided: str = "") -> None:
        """Ask each approver (again, after a rejection); a seeded decision is recorded as
        made: all approved, or the first approver's rejection."""
        for index, approver in enumerate(self.approvers(change)):
            state = {"approved": "approved",
                     "rejected": "rejected" if index == 0 else "not_required"}.get(
                decided, "requested")
            self._put("sysapproval_approver",
                      sys_id_for("sysapproval_approver", change["sys_id"], approver, when,
                                 len(self.tables["sysapproval_approver"])), {
                          "sysapproval": change["sys_id"], "document_id": change["sys_id"],
                          "approver": approver, "state": state,
                          "expected_start": change["start_date"],
                          "sys_mod_count": "0" if state == "requested" else "1"}, when, when)

    def _approval_rules(self, approval: Record, values: dict[str, str],
                        user: str) -> list[Record]:
        """An approver's decision reaches the change: a rejection at once (the others no
        longer required), an approval once every approver has approved. Returns the
        change when it moved."""
        state = values.get("state")
        if state not in ("approved", "rejected") or state == approval["state"]:
            return []
        if approval["state"] != "requested":
            raise SnError(403, "Operation Failed",
                          "Error during update of sysapproval_approver: this approval is no "
                          "longer requested")
        change = self.tables["change_request"].get(approval["sysapproval"])
        if change is None or change["approval"] != "requested":
            return []
        approval.update(values)  # the decision is part of what decides the change
        if state == "rejected":
            # The change's update leaves the other answers not required (`_approval_asked`).
            self.update("change_request", change, {"approval": "rejected"}, user)
            return [change]
        if any(row["state"] == "requested" for row in self.approvals_of(change)):
            return []
        moves: dict[str, Any] = {"approval": "approved"}
        if change["state"] == "-3":
            moves["state"] = "-2"  # Authorize is left for Scheduled by the approval
        self.update("change_request", change, moves, user)
        return [change]

    # -- reading ----------------------------------------------------------

    def record(self, table: str, sys_id: str) -> Record:
        found = self.tables[table].get(sys_id)
        if found is None:
            raise not_found()
        return found

    def value(self, table: str, record: Record, name: str) -> str | None:
        """Raw value, following one or more dot-walks; None for an unknown field."""
        head, dot, rest = name.partition(".")
        if head not in record:
            return None
        if not dot:
            return record[head]
        target_table = TABLES[table].references.get(head)
        if target_table is None:
            return None
        target = self.tables[target_table].get(record[head])
        if target is None:
            return "" if rest in TABLES[target_table].fields else None
        return self.value(target_table, target, rest)

    def display(self, table: str, record: Record, name: str) -> str:
        raw = self.value(table, record, name) or ""
        spec = TABLES[table]
        if name in spec.references:
            target_table = spec.references[name]
            target = self.tables[target_table].get(raw)
            return target[TABLES[target_table].display_field] if target else ""
        return spec.choices.get(name, {}).get(raw, raw)

    def render(self, table: str, record: Record, fields: list[str] | None, mode: str,
               exclude_links: bool, base: str) -> dict[str, Any]:
        spec = TABLES[table]
        names = fields if fields is not None else list(spec.fields)
        out: dict[str, Any] = {}
        for name in names:
            raw = self.value(table, record, name)
            if raw is None:
                continue
            shown = self.display(table, record, name) if "." not in name else raw
            if name in spec.references and raw:
                link = f"{base}api/now/table/{spec.references[name]}/{raw}"
                if mode == "all":
                    out[name] = {"display_value": shown, "value": raw} if exclude_links \
                        else {"display_value": shown, "link": link, "value": raw}
                elif mode == "true":
                    out[name] = shown if exclude_links \
                        else {"display_value": shown, "link": link}
                else:
                    out[name] = raw if exclude_links else {"link": link, "value": raw}
            elif mode == "all":
                out[name] = {"display_value": shown, "value": raw}
            else:
                out[name] = shown if mode == "true" else raw
        return out

    # -- writing ----------------------------------------------------------

    def _input(self, table: str, body: dict[str, Any]) -> dict[str, str]:
        """Known, writable fields only (others are ignored); references by id or name."""
        spec = TABLES[table]
        values: dict[str, str] = {}
        for name, given in body.items():
            if name not in spec.fields or name in READ_ONLY:
                continue
            text = as_text(given)
            target_table = spec.references.get(name)
            if target_table and text and text not in self.tables[target_table]:
                display = TABLES[target_table].display_field
                text = next((sid for sid, row in self.tables[target_table].items()
                             if row[display] == text), text)
            values[name] = text
        return values

    def create(self, table: str, body: dict[str, Any], user: str) -> Record:
        spec = TABLES[table]
        values = self._input(table, body)
        if spec.number_prefix and not values.get("number"):
            self.sequences[spec.number_prefix] += 1
            width = 7
            values["number"] = f"{spec.number_prefix}{self.sequences[spec.number_prefix]:0{width}d}"
        if table == "incident":
            values["incident_state"] = values.setdefault("state", "1")
            values.setdefault("opened_at", self.now())
            values.setdefault("opened_by", self._user_id(user))
        if table in ("change_request", "incident") and "priority" not in values:
            values["priority"] = priority_for(values.get("impact", "3"),
                                              values.get("urgency", "3"))
        now = self.now()
        sys_id = sys_id_for(table, "created", values.get("number", ""), now,
                            len(self.tables[table]))
        record = self._put(table, sys_id, values, now, now, by=user)
        if table == "change_request" and record["approval"] == "requested":
            self._approval_asked(record, "")
        return record

    def delete(self, table: str, record: Record) -> None:
        """Gone from its class and every table it extends or that extends it."""
        for name, spec in TABLES.items():
            if name == table or spec.parent == table or TABLES[table].parent == name:
                self.tables[name].pop(record["sys_id"], None)
        if table == "sys_attachment":
            self.files.pop(record["sys_id"], None)

    def update(self, table: str, record: Record, body: dict[str, Any], user: str
               ) -> list[Record]:
        """Apply an update and the business rules it sets off; returns the other
        change requests those rules changed (an approval deciding its change)."""
        values = self._input(table, body)
        asked = record.get("approval")
        also: list[Record] = []
        if table == "change_request":
            self._change_rules(record, values)
        if table == "incident":
            self._incident_rules(record, values)
        if table == "sysapproval_approver":
            also = self._approval_rules(record, values, user)
        record.update(values)
        record["sys_updated_on"] = self.now()
        record["sys_updated_by"] = user
        record["sys_mod_count"] = str(int(record["sys_mod_count"] or "0") + 1)
        if table == "change_request" and record["approval"] != asked:
            self._approval_asked(record, asked or "")
        return also

    def _approval_asked(self, change: Record, before: str) -> None:
        """A change newly asking for approval asks its approvers; one decided some other
        way (a state moved by hand) no longer needs their answers."""
        if change["approval"] == "requested":
            self._request_approvals(change, change["sys_updated_on"])
        elif before == "requested":
            for row in self.approvals_of(change):
                if row["state"] == "requested":
                    row.update(state="not_required", sys_updated_on=self.now())

    def _user_id(self, user_name: str) -> str:
        return next((sid for sid, row in self.tables["sys_user"].items()
                     if row["user_name"] == user_name or row["email"] == user_name), "")

    def _incident_rules(self, record: Record, values: dict[str, str]) -> None:
        """What the incident business rules do: stamps on resolve and close, the mirror field."""
        state = values.get("state") or values.get("incident_state")
        if not state or state == record["state"]:
            return
        values["state"] = values["incident_state"] = state
        now = self.now()
        if state in ("6", "7") and not record["resolved_at"]:
            values.setdefault("resolved_at", now)
        if state == "7" and not record["closed_at"]:
            values.setdefault("closed_at", now)
        values["active"] = "false" if state in ("6", "7", "8") else "true"

    def _change_rules(self, record: Record, values: dict[str, str]) -> None:
        """What the change model's business rules do on an update."""
        old = record["state"]
        new = values.get("state", old)
        if values.get("approval") == "rejected" and old in ("-4", "-3") and new == old:
            new = values["state"] = "-5"
        if new != old and new not in allowed_next_states(record["type"], old):
            # A business rule aborts the update; the Table API answers 403.
            raise SnError(403, "Operation Failed",
                          f"Error during update of change_request ({record['number']})")
        if new == old:
            return
        if new == "-3" and record["approval"] == "not requested":
            values.setdefault("approval", "requested")
        if new == "-2" and old == "-3" and record["approval"] == "requested":
            values.setdefault("approval", "approved")
        if new == "-1" and not record["work_start"]:
            values.setdefault("work_start", self.now())
        if new in ("0", "3") and not record["work_end"]:
            values.setdefault("work_end", self.now())
        if new in CLOSED_STATES:
            values["active"] = "false"
            values.setdefault("on_hold", "false")


def change_number(change: WorldChange) -> str:
    """The number this sandbox gives a world change request (the demo links by it)."""
    return f"CHG{change.seq:07d}"


def incident_number(incident: WorldIncident) -> str:
    """The number this sandbox gives a world incident."""
    return f"INC{incident.seq:07d}"


def create_app(world: World | None = None, *, credentials: Credentials | None = None,
               webhook_url: str | None = None, webhook_secret: str | None = None,
               seed: int = 7, scale: int = 1, tasks_per_change: int = 2,
               oauth_client: tuple[str, str] = (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
               ) -> Starlette:
    """A ServiceNow instance over `world` (built from seed/scale when not given)."""
    creds = credentials or Credentials()
    instance = Instance(world or build_world(seed, scale), creds, tasks_per_change,
                        oauth_client)

    def rate_limit_headers(retry_after: int) -> dict[str, str]:
        return {"X-RateLimit-Limit": "5000",
                "X-RateLimit-Reset": str(int(time.time()) + retry_after),
                "X-RateLimit-Rule": RATE_LIMIT_RULE}

    def shared_secret(body: bytes, secret: str) -> dict[str, str]:
        return {WEBHOOK_SECRET_HEADER: secret}

    kit = SandboxKit("servicenow", error_response=kit_error,
                     rate_limit_headers=rate_limit_headers, webhook_url=webhook_url,
                     webhook_secret=webhook_secret, webhook_signer=shared_secret, seed=seed)
    handlers = TableHandlers(instance, kit)

    routes: list[BaseRoute] = [Route("/oauth_token.do", handlers.oauth_token, methods=["POST"])]
    for prefix in ("/api/now", "/api/now/v1"):
        routes += [
            Route(prefix + "/stats/{table}", handlers.stats, methods=["GET"]),
            Route(prefix + "/attachment", handlers.list_attachments, methods=["GET"]),
            Route(prefix + "/attachment/file", handlers.upload_file, methods=["POST"]),
            Route(prefix + "/attachment/upload", handlers.upload_multipart, methods=["POST"]),
            Route(prefix + "/attachment/{sys_id}", handlers.attachment_meta, methods=["GET"]),
            Route(prefix + "/attachment/{sys_id}", handlers.delete_attachment,
                  methods=["DELETE"]),
            Route(prefix + "/attachment/{sys_id}/file", handlers.attachment_file,
                  methods=["GET"]),
        ]
    for prefix in ("/api/now/table", "/api/now/v1/table", "/api/now/v2/table"):
        routes += [
            Route(prefix + "/{table}", handlers.list_records, methods=["GET"]),
            Route(prefix + "/{table}", handlers.create_record, methods=["POST"]),
            Route(prefix + "/{table}/{sys_id}", handlers.read_record, methods=["GET"]),
            Route(prefix + "/{table}/{sys_id}", handlers.update_record,
                  methods=["PATCH", "PUT"]),
            Route(prefix + "/{table}/{sys_id}", handlers.delete_record, methods=["DELETE"]),
        ]
    app = kit.app(routes, auth=handlers.authenticate)
    app.state.instance = instance
    return app


Handler = Callable[["TableHandlers", Request], Awaitable[Response]]


def _answers_errors(handler: Handler) -> Handler:
    """Turns an SnError raised anywhere in a handler into the instance's error envelope."""
    async def wrapped(self: TableHandlers, request: Request) -> Response:
        try:
            return await handler(self, request)
        except SnError as exc:
            return error_body(exc.status, exc.message, exc.detail)

    return wrapped


class TableHandlers:
    def __init__(self, instance: Instance, kit: SandboxKit) -> None:
        self.instance = instance
        self.kit = kit

    # -- auth ---------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if route_path(request.scope) == "/oauth_token.do":
            return None
        if self.user(request) is None:
            return kit_error(401, "User Not Authenticated")
        return None

    def user(self, request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        creds = self.instance.credentials
        if scheme.lower() == "bearer":
            return creds.username if value.strip() in self.instance.tokens else None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            username, _, password = decoded.partition(":")
            if hmac.compare_digest(username, creds.username) and \
                    hmac.compare_digest(password, creds.password):
                return username
        return None

    async def oauth_token(self, request: Request) -> Response:
        """Form-encoded only: the real endpoint fails on JSON bodies."""
        denied = JSONResponse({"error_description": "access_denied", "error": "server_error"},
                              status_code=401)
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return JSONResponse({"error_description": "Unsupported content type",
                                 "error": "server_error"}, status_code=400)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        creds = self.instance.credentials
        client_id, client_secret = self.instance.oauth_client
        given_id, given_secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if not given_secret and scheme.lower() == "basic":  # RFC 6749 2.3.1 client auth
            try:
                given_id, _, given_secret = base64.b64decode(encoded.strip(), validate=True
                                                             ).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return denied
            given_id, given_secret = unquote_plus(given_id), unquote_plus(given_secret)
        if not (hmac.compare_digest(given_id.encode(), client_id.encode())
                and hmac.compare_digest(given_secret.encode(), client_secret.encode())):
            return denied  # an unknown application registry entry, or a wrong secret
        grant = form.get("grant_type")
        if grant == "password":
            if form.get("username") != creds.username or form.get("password") != creds.password:
                return denied
        elif grant == "refresh_token":
            if form.get("refresh_token") not in self.instance.refresh_tokens:
                return denied
        else:
            return denied
        issued = len(self.instance.tokens) + len(self.instance.refresh_tokens)
        access = sys_id_for("access", creds.username, issued, time.monotonic_ns())
        refresh = sys_id_for("refresh", creds.username, issued, time.monotonic_ns())
        self.instance.tokens.add(access)
        self.instance.refresh_tokens.add(refresh)
        return JSONResponse({"access_token": access, "refresh_token": refresh,
                             "scope": "useraccount", "token_type": "Bearer",
                             "expires_in": 1799})

    # -- table API ----------------------------------------------------------

    @staticmethod
    def table_of(request: Request) -> str:
        table: str = request.path_params["table"]
        if table not in TABLES:
            raise SnError(404, f"Invalid table {table}")
        return table

    @staticmethod
    def view(request: Request) -> tuple[list[str] | None, str, bool]:
        params = request.query_params
        fields_param = params.get("sysparm_fields", "")
        fields = [f.strip() for f in fields_param.split(",") if f.strip()] or None
        mode = params.get("sysparm_display_value", "false").lower()
        if mode not in ("true", "false", "all"):
            mode = "false"
        exclude = params.get("sysparm_exclude_reference_link", "false").lower() == "true"
        return fields, mode, exclude

    def rendered(self, request: Request, table: str, record: Record) -> dict[str, Any]:
        fields, mode, exclude = self.view(request)
        return self.instance.render(table, record, fields, mode, exclude, mount_base_url(request))

    @_answers_errors
    async def list_records(self, request: Request) -> Response:
        table = self.table_of(request)
        params = request.query_params
        try:
            query = encoded_query.parse(params.get("sysparm_query", ""),
                                        now=self.instance.world.clock.now())
        except QueryError as exc:
            raise SnError(400, "Invalid query", str(exc)) from exc
        limit = _int_param(params.get("sysparm_limit"), MAX_LIMIT, "sysparm_limit", low=1)
        limit = min(limit, MAX_LIMIT)
        offset = _int_param(params.get("sysparm_offset"), 0, "sysparm_offset", low=0)

        def get(record: Record, name: str) -> str | None:
            return self.instance.value(table, record, name)

        rows = encoded_query.apply(query, list(self.instance.tables[table].values()), get)
        page = rows[offset:offset + limit]
        headers: dict[str, str] = {}
        if params.get("sysparm_no_count", "false").lower() != "true":
            headers["X-Total-Count"] = str(len(rows))
        if params.get("sysparm_suppress_pagination_header", "false").lower() != "true":
            link = _link_header(request, len(rows), offset, limit)
            if link:
                headers["Link"] = link
        return JSONResponse({"result": [self.rendered(request, table, r) for r in page]},
                            headers=headers)

    @_answers_errors
    async def read_record(self, request: Request) -> Response:
        table = self.table_of(request)
        record = self.instance.record(table, request.path_params["sys_id"])
        return JSONResponse({"result": self.rendered(request, table, record)})

    @_answers_errors
    async def create_record(self, request: Request) -> Response:
        table = self.table_of(request)
        body = await _json_object(request)
        record = self.instance.create(table, body, self.user(request) or "guest")
        location = f"{mount_base_url(request)}api/now/table/{table}/{record['sys_id']}"
        await self._notify("insert", table, record)
        return JSONResponse({"result": self.rendered(request, table, record)},
                            status_code=201, headers={"Location": location})

    @_answers_errors
    async def update_record(self, request: Request) -> Response:
        table = self.table_of(request)
        record = self.instance.record(table, request.path_params["sys_id"])
        body = await _json_object(request)
        changed = self.instance.update(table, record, body, self.user(request) or "guest")
        await self._notify("update", table, record)
        for change in changed:
            await self._notify("update", "change_request", change)
        return JSONResponse({"result": self.rendered(request, table, record)})

    @_answers_errors
    async def delete_record(self, request: Request) -> Response:
        table = self.table_of(request)
        self.instance.delete(table, self.instance.record(table, request.path_params["sys_id"]))
        return Response(status_code=204)

    # -- aggregate API --------------------------------------------------------

    @_answers_errors
    async def stats(self, request: Request) -> Response:
        table = self.table_of(request)
        params = request.query_params
        try:
            query = encoded_query.parse(params.get("sysparm_query", ""),
                                        now=self.instance.world.clock.now())
            wanted = aggregate.Request(
                count=params.get("sysparm_count", "false").lower() == "true",
                fields={fn: [f.strip() for f in params.get(f"sysparm_{fn}_fields", "").split(",")
                             if f.strip()] for fn in aggregate.FUNCTIONS},
                group_by=[f.strip() for f in params.get("sysparm_group_by", "").split(",")
                          if f.strip()],
                having=aggregate.parse_having(params.get("sysparm_having", "")),
                display=params.get("sysparm_display_value", "false").lower() in ("true", "all"))
        except (QueryError, aggregate.AggregateError) as exc:
            raise SnError(400, "Invalid query", str(exc)) from exc

        def get(record: Record, name: str) -> str | None:
            return self.instance.value(table, record, name)

        def shown(record: Record, name: str) -> str:
            return self.instance.display(table, record, name)

        for name in wanted.group_by:
            if name not in TABLES[table].fields:
                raise SnError(400, "Invalid group by field", f"{table}.{name} does not exist")
        rows = encoded_query.apply(query, list(self.instance.tables[table].values()), get)
        return JSONResponse({"result": aggregate.aggregate(rows, wanted, get, shown)})

    # -- attachment API -------------------------------------------------------

    def attachment_view(self, request: Request, record: Record) -> dict[str, Any]:
        """Every value raw, plus the link to the bytes, as the Attachment API answers."""
        spec = TABLES["sys_attachment"]
        out: dict[str, Any] = {name: record[name] for name in spec.fields}
        out["download_link"] = (f"{mount_base_url(request)}api/now/attachment/"
                                f"{record['sys_id']}/file")
        return out

    @_answers_errors
    async def list_attachments(self, request: Request) -> Response:
        params = request.query_params
        try:
            query = encoded_query.parse(params.get("sysparm_query", ""),
                                        now=self.instance.world.clock.now())
        except QueryError as exc:
            raise SnError(400, "Invalid query", str(exc)) from exc
        limit = min(_int_param(params.get("sysparm_limit"), 1000, "sysparm_limit", low=1),
                    MAX_LIMIT)
        offset = _int_param(params.get("sysparm_offset"), 0, "sysparm_offset", low=0)

        def get(record: Record, name: str) -> str | None:
            return self.instance.value("sys_attachment", record, name)

        rows = encoded_query.apply(query, list(self.instance.tables["sys_attachment"].values()),
                                   get)
        headers = {"X-Total-Count": str(len(rows))}
        link = _link_header(request, len(rows), offset, limit)
        if link:
            headers["Link"] = link
        return JSONResponse({"result": [self.attachment_view(request, r)
                                        for r in rows[offset:offset + limit]]}, headers=headers)

    @_answers_errors
    async def attachment_meta(self, request: Request) -> Response:
        record = self.instance.record("sys_attachment", request.path_params["sys_id"])
        return JSONResponse({"result": self.attachment_view(request, record)})

    @_answers_errors
    async def attachment_file(self, request: Request) -> Response:
        record = self.instance.record("sys_attachment", request.path_params["sys_id"])
        meta = json.dumps(self.attachment_view(request, record))
        return Response(self.instance.files.get(record["sys_id"], b""),
                        media_type=record["content_type"] or "application/octet-stream",
                        headers={"X-Attachment-Metadata": meta})

    @_answers_errors
    async def delete_attachment(self, request: Request) -> Response:
        record = self.instance.record("sys_attachment", request.path_params["sys_id"])
        self.instance.delete("sys_attachment", record)
        return Response(status_code=204)

    @_answers_errors
    async def upload_file(self, request: Request) -> Response:
        """The body is the file; table, record and name come in the query string."""
        params = request.query_params
        for name in ("table_name", "table_sys_id", "file_name"):
            if not params.get(name):
                raise SnError(400, f"Missing parameter: {name}", "")
        content_type = request.headers.get("content-type", "") or "application/octet-stream"
        return await self._attach(request, params["table_name"], params["table_sys_id"],
                                  params["file_name"], content_type, await request.body())

    @_answers_errors
    async def upload_multipart(self, request: Request) -> Response:
        """Form fields table_name and table_sys_id first, then the file part."""
        missing = SnError(400, "Failed to create the attachment. File part might be missing "
                          "in the request.", "")
        try:
            form = await request.form(max_part_size=MAX_ATTACHMENT_BYTES)
        except (HTTPException, MultiPartException) as exc:  # not multipart, or malformed
            raise SnError(400, missing.message, str(exc)) from exc
        try:
            upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
            table_name, table_sys_id = form.get("table_name"), form.get("table_sys_id")
            if upload is None or not isinstance(table_name, str) \
                    or not isinstance(table_sys_id, str):
                raise missing
            data = await upload.read()
            file_name = upload.filename or "attachment"
            content_type = upload.content_type or "application/octet-stream"
        finally:
            await form.close()
        return await self._attach(request, table_name, table_sys_id, file_name, content_type,
                                  data)

    async def _attach(self, request: Request, table: str, sys_id: str, file_name: str,
                      content_type: str, data: bytes) -> Response:
        if table not in TABLES or sys_id not in self.instance.tables[table]:
            raise SnError(400, "Invalid table or record", f"{table} {sys_id} does not exist")
        user = self.user(request) or "guest"
        record = self.instance.create("sys_attachment", {
            "file_name": file_name, "content_type": content_type.split(";")[0].strip(),
            "size_bytes": str(len(data)), "size_compressed": str(len(data)),
            "table_name": table, "table_sys_id": sys_id,
            "hash": hashlib.sha256(data).hexdigest()}, user)
        self.instance.files[record["sys_id"]] = data
        location = f"{mount_base_url(request)}api/now/attachment/{record['sys_id']}"
        return JSONResponse({"result": self.attachment_view(request, record)},
                            status_code=201, headers={"Location": location})

    async def _notify(self, operation: str, table: str, record: Record) -> None:
        """The push a customer's business rule would send; the hub may poll instead."""
        if table not in ("change_request", "change_task"):
            return
        payload = {"operation": operation, "table": table, "sys_id": record["sys_id"],
                   "number": record["number"], "state": record["state"],
                   "approval": record.get("approval", ""),
                   "correlation_id": record.get("correlation_id", ""),
                   "sys_updated_on": record["sys_updated_on"],
                   "sys_mod_count": record.get("sys_mod_count", "0"),
                   # When the rule ran (real time: receivers check it for freshness).
                   "timestamp": int(time.time() * 1000)}
        await self.kit.emit_webhook(f"{table}.{operation}", payload,
                                    {"X-ServiceNow-Event": f"{table}.{operation}"})


def _int_param(text: str | None, default: int, name: str, *, low: int) -> int:
    if text is None or text == "":
        return default
    try:
        number = int(text)
    except ValueError as exc:
        raise SnError(400, f"Invalid {name}", f"{name} must be a number") from exc
    if number < low:
        raise SnError(400, f"Invalid {name}", f"{name} must be at least {low}")
    return number


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise SnError(400, "Exception while reading request",
                      "The payload is not valid JSON.") from exc
    if isinstance(body, list):  # one record per call; the rest is ignored
        body = body[0] if body else {}
    if not isinstance(body, dict):
        raise SnError(400, "Exception while reading request", "The payload is not valid JSON.")
    return body


def _link_header(request: Request, total: int, offset: int, limit: int) -> str:
    """`first`, `prev`, `next`, `last`, comma-joined with no space; none for one page."""
    if offset == 0 and total <= limit:
        return ""
    last = max(0, (total - 1) // limit * limit)
    links = [("first", 0)]
    if offset > 0:
        links.append(("prev", max(0, offset - limit)))
    if offset + limit < total:
        links.append(("next", offset + limit))
    links.append(("last", last))
    return ",".join(
        f'<{request.url.include_query_params(sysparm_offset=o, sysparm_limit=limit)}>;rel="{rel}"'
        for rel, o in links)


#: This kind's entry in the `heatshield.sandboxes` registry (pyproject.toml).
def demo_connector(wiring: DemoWiring) -> ConnectorConfig:
    return ConnectorConfig(name=wiring.name, kind="servicenow", base_url=wiring.base_url,
                           auth={"type": "basic", "username": wiring.username,
                                 "password_env": wiring.password_env},
                           webhook_secret_env=wiring.webhook_secret_env)


SANDBOX = Sandbox(create_app, webhooks_to_hub=True, change_number=change_number,
                  demo_connector=demo_connector)
