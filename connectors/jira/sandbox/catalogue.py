"""The JIRA sandbox's system fields, as `GET /rest/api/{2,3}/field` lists them.

Client libraries read this list before they search (pycontribs `jira` maps JQL
clause names to field ids with it), so each entry carries what a real site
gives: its clause names, whether it can be ordered, navigated or searched, and
its schema. Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["cloud", "datacenter"]


@dataclass(frozen=True, slots=True)
class FieldDef:
    id: str
    name: str
    clauses: tuple[str, ...]
    type: str  # schema type
    items: str | None = None  # schema items, for arrays
    orderable: bool = True
    navigable: bool = True
    searchable: bool = True
    custom: str | None = None  # the custom field type key, for custom fields
    cloud_only: bool = False


FIELDS: tuple[FieldDef, ...] = (
    FieldDef("summary", "Summary", ("summary",), "string"),
    FieldDef("issuetype", "Issue Type", ("issuetype", "type"), "issuetype"),
    FieldDef("status", "Status", ("status",), "status", orderable=False),
    FieldDef("priority", "Priority", ("priority",), "priority"),
    FieldDef("assignee", "Assignee", ("assignee",), "user"),
    FieldDef("reporter", "Reporter", ("reporter",), "user"),
    FieldDef("creator", "Creator", ("creator",), "user", orderable=False),
    FieldDef("project", "Project", ("project",), "project", orderable=False),
    FieldDef("fixVersions", "Fix versions", ("fixVersion",), "array", "version"),
    FieldDef("versions", "Affects versions", ("affectedVersion",), "array", "version"),
    FieldDef("labels", "Labels", ("labels",), "array", "string"),
    FieldDef("components", "Components", ("component",), "array", "component"),
    FieldDef("resolution", "Resolution", ("resolution",), "resolution"),
    FieldDef("resolutiondate", "Resolved", ("resolutiondate", "resolved"), "datetime",
             orderable=False),
    FieldDef("created", "Created", ("created", "createdDate"), "datetime", orderable=False),
    FieldDef("updated", "Updated", ("updated", "updatedDate"), "datetime", orderable=False),
    FieldDef("statuscategorychangedate", "Status Category Changed",
             ("statusCategoryChangedDate",), "datetime", orderable=False, cloud_only=True),
    FieldDef("description", "Description", ("description",), "string"),
    FieldDef("environment", "Environment", ("environment",), "string"),
    FieldDef("duedate", "Due date", ("due", "duedate"), "date"),
    FieldDef("subtasks", "Sub-tasks", ("subtasks",), "array", "issuelinks", orderable=False),
    FieldDef("issuelinks", "Linked Issues", ("issueLink",), "array", "issuelinks"),
    FieldDef("watches", "Watchers", ("watchers",), "watches", orderable=False),
    FieldDef("votes", "Votes", ("votes",), "votes", orderable=False),
    FieldDef("workratio", "Work Ratio", ("workratio",), "number", orderable=False),
    FieldDef("lastViewed", "Last Viewed", ("lastViewed",), "datetime", orderable=False),
    FieldDef("comment", "Comment", ("comment",), "comments-page", navigable=False),
    FieldDef("worklog", "Log Work", ("worklogAuthor", "worklogDate"), "array", "worklog",
             navigable=False),
    FieldDef("attachment", "Attachment", ("attachments",), "array", "attachment",
             orderable=False, navigable=False),
    FieldDef("customfield_10016", "Story point estimate",
             ("cf[10016]", "Story point estimate"), "number",
             custom="com.pyxis.greenhopper.jira:jsw-story-points"),
    FieldDef("customfield_10020", "Sprint", ("cf[10020]", "Sprint"), "array", "json",
             custom="com.pyxis.greenhopper.jira:gh-sprint"),
)

FIELD_NAMES = {f.id: f.name for f in FIELDS}


def site_fields(mode: Mode) -> list[FieldDef]:
    return [f for f in FIELDS if mode == "cloud" or not f.cloud_only]


def render_field(field: FieldDef, mode: Mode) -> dict[str, Any]:
    """One field as `GET /field` lists it; Cloud adds `key` and custom fields' ids."""
    schema: dict[str, Any] = {"type": field.type}
    if field.items is not None:
        schema["items"] = field.items
    if field.custom is None:
        schema["system"] = field.id
    else:
        schema["custom"] = field.custom
        schema["customId"] = int(field.id.rsplit("_", 1)[1])
    body: dict[str, Any] = {"id": field.id, "name": field.name, "custom": field.custom is not None,
                            "orderable": field.orderable, "navigable": field.navigable,
                            "searchable": field.searchable, "clauseNames": list(field.clauses),
                            "schema": schema}
    if mode == "cloud":
        body = {"id": field.id, "key": field.id, **{k: v for k, v in body.items() if k != "id"}}
        if field.custom is not None:
            body["untranslatedName"] = field.name
    return body
