"""JIRA wire payloads -> canonical records. Pure: no I/O.

The client hands over parsed JSON; anything here that cannot be read raises
`JiraShapeError`, which the client turns into `UpstreamBadResponse`, so a
surprising payload never becomes a half-filled record.

Choices the graph relies on:
- `kind` is the issue type name in lower case (`story`, `bug`, `task`);
  `issue_type` keeps JIRA's own spelling.
- `status` follows the status *category* (`new`, `indeterminate`, `done`),
  which every workflow has, unless the instance's `status_map` names the
  status itself; sites too old to send a category fall back to the usual
  workflow names (`Open`, `Resolved`, `Closed`, ...).
- `url` is the site's browse page, `<site>/browse/KEY`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import LinkKind, TrackerIssue, VersionRef, WorkStatus, map_status

#: The only issue fields the connector reads, so searches ask for nothing else.
SEARCH_FIELDS: tuple[str, ...] = ("summary", "status", "issuetype", "priority", "assignee",
                                  "updated", "fixVersions")

#: Status category key -> canonical status; `undefined` has no default on purpose.
CATEGORY_STATUS: Mapping[str, WorkStatus] = {
    "new": WorkStatus.TODO,
    "indeterminate": WorkStatus.IN_PROGRESS,
    "done": WorkStatus.DONE,
}

#: Status names of JIRA's stock workflows, for payloads that carry no category.
STATUS_NAMES: Mapping[str, WorkStatus] = {
    "Open": WorkStatus.TODO,
    "To Do": WorkStatus.TODO,
    "Backlog": WorkStatus.TODO,
    "Selected for Development": WorkStatus.TODO,
    "Reopened": WorkStatus.TODO,
    "In Progress": WorkStatus.IN_PROGRESS,
    "In Review": WorkStatus.IN_PROGRESS,
    "Resolved": WorkStatus.DONE,
    "Closed": WorkStatus.DONE,
    "Done": WorkStatus.DONE,
}

#: Both wordings JIRA uses for a value that names nothing (upstream-apis §1.3.4).
_MISSING_VALUE = re.compile(r"(?:The value|An issue with key) '(?P<value>.*)' does not exist "
                            r"for the field '(?P<field>[^']+)'", re.IGNORECASE)


class JiraShapeError(ValueError):
    """A payload lacks something the connector needs; the message names what."""


# --------------------------------------------------------------------------- small readers


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise JiraShapeError(f"{what} is not an object")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise JiraShapeError(f"{what} is missing or not a string")
    return value


def _ident(value: Any, what: str) -> str:
    """Ids are strings on the wire; a number is accepted too (it means the same id)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value, what)


def _optional_name(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return str(value["name"])
    return None


def parse_timestamp(value: Any, what: str = "timestamp") -> datetime:
    """JIRA's `2025-06-30T20:00:00.000+0000`; an offset-less value is taken as UTC."""
    if not isinstance(value, str):
        raise JiraShapeError(f"{what} is missing or not a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise JiraShapeError(f"{what} {value!r} is not a timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_day(value: Any, what: str = "date") -> datetime | None:
    """A version's `yyyy-mm-dd` as midnight UTC; absent means unset."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise JiraShapeError(f"{what} is not a string")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise JiraShapeError(f"{what} {value!r} is not a yyyy-mm-dd date") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --------------------------------------------------------------------------- status


def work_status(name: str, category_key: str | None,
                overrides: Mapping[str, str] | None = None) -> WorkStatus:
    """Canonical status: an override for the status name, else its category, else its name."""
    default = CATEGORY_STATUS.get((category_key or "").casefold())
    if default is None:
        default = map_status(name, STATUS_NAMES, {}, WorkStatus.TODO)
    return map_status(name, {}, overrides or {}, default)


def status_of(status: Any, overrides: Mapping[str, str] | None = None
              ) -> tuple[WorkStatus, str]:
    """A `status` object -> (canonical status, JIRA's status name)."""
    body = _object(status, "fields.status")
    name = _text(body.get("name"), "fields.status.name")
    category = body.get("statusCategory")
    key = category.get("key") if isinstance(category, dict) else None
    return work_status(name, key if isinstance(key, str) else None, overrides), name


# --------------------------------------------------------------------------- issues


@dataclass(frozen=True, slots=True)
class FixVersion:
    id: str
    name: str


def fix_versions(fields: Mapping[str, Any]) -> tuple[FixVersion, ...]:
    """The issue's fix versions; `[]`, `null` or an absent field all mean none."""
    raw = fields.get("fixVersions") or []
    if not isinstance(raw, list):
        raise JiraShapeError("fields.fixVersions is not a list")
    found: list[FixVersion] = []
    for item in raw:
        body = _object(item, "a fixVersions entry")
        found.append(FixVersion(_ident(body.get("id"), "fixVersions[].id"),
                                _text(body.get("name"), "fixVersions[].name")))
    return tuple(found)


def tracker_issue(raw: Any, *, source: str, site_url: str,
                  overrides: Mapping[str, str] | None = None) -> TrackerIssue:
    """One `IssueBean` (search result or GET issue) -> `TrackerIssue`.

    `overrides` is the instance's `status_map` (status name -> WorkStatus
    member name), the same rule as `Connector.canonical`.
    """
    issue = _object(raw, "issue")
    key = _text(issue.get("key"), "issue key")
    try:
        fields = _object(issue.get("fields"), "fields")
        status, label = status_of(fields.get("status"), overrides)
        issue_type = _text(_object(fields.get("issuetype"), "fields.issuetype").get("name"),
                           "fields.issuetype.name")
        assignee = fields.get("assignee")
        return TrackerIssue(
            source=source,
            key=key,
            title=_text(fields.get("summary"), "fields.summary"),
            url=f"{site_url.rstrip('/')}/browse/{key}",
            kind=issue_type.casefold(),
            status=status,
            status_label=label,
            assignee=assignee.get("displayName") if isinstance(assignee, dict) else None,
            updated_at=parse_timestamp(fields.get("updated"), "fields.updated"),
            issue_type=issue_type,
            priority=_optional_name(fields.get("priority")),
            versions=tuple(v.name for v in fix_versions(fields)),
        )
    except JiraShapeError as exc:
        raise JiraShapeError(f"issue {key}: {exc}") from None


# --------------------------------------------------------------------------- search pages


@dataclass(frozen=True, slots=True)
class CloudPage:
    """One page of `/rest/api/3/search/jql`; `next_token` is None on the last page."""

    issues: list[dict[str, Any]]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class OffsetPage:
    """One page of Data Center's `/rest/api/2/search`."""

    issues: list[dict[str, Any]]
    start_at: int
    total: int


def _issues(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("issues")
    if not isinstance(raw, list):
        raise JiraShapeError("search result has no issues list")
    return [_object(item, "an issues entry") for item in raw]


def cloud_page(raw: Any) -> CloudPage:
    """Read a token page; a page that is not last must say where to go next."""
    body = _object(raw, "search result")
    issues = _issues(body)
    token = body.get("nextPageToken")
    is_last = body.get("isLast")
    if is_last is True or (is_last is None and not token):
        return CloudPage(issues, None)
    if not isinstance(token, str) or not token:
        raise JiraShapeError("search page is not the last but has no nextPageToken")
    return CloudPage(issues, token)


def offset_page(raw: Any) -> OffsetPage:
    body = _object(raw, "search result")
    issues = _issues(body)
    start, total = body.get("startAt", 0), body.get("total")
    if not isinstance(start, int) or not isinstance(total, int):
        raise JiraShapeError("search result has no numeric startAt/total")
    return OffsetPage(issues, start, total)


def missing_values(error_body: Any) -> list[tuple[str, str]]:
    """(field, value) pairs a 400 says do not exist, e.g. a deleted fixVersion id."""
    if not isinstance(error_body, dict):
        return []
    messages = error_body.get("errorMessages")
    if not isinstance(messages, list):
        return []
    found: list[tuple[str, str]] = []
    for message in messages:
        match = _MISSING_VALUE.search(str(message))
        if match:
            found.append((match["field"].casefold(), match["value"]))
    return found


# --------------------------------------------------------------------------- versions


def version_ref(raw: Any, *, source: str, site_url: str, project: str) -> VersionRef:
    """A `Version` -> `VersionRef`; its link key is the version id, which never changes."""
    body = _object(raw, "version")
    version_id = _ident(body.get("id"), "version id")
    description = body.get("description")
    return VersionRef(
        source=source,
        kind=LinkKind.PLANNED_VERSION,
        id=version_id,
        name=_text(body.get("name"), f"version {version_id} name"),
        container=project,
        url=f"{site_url.rstrip('/')}/projects/{project}/versions/{version_id}",
        released=body.get("released") is True,
        release_date=parse_day(body.get("releaseDate"), f"version {version_id} releaseDate"),
        description=description if isinstance(description, str) and description else None,
    )


def version_refs(raw: Any, *, source: str, site_url: str, project: str) -> list[VersionRef]:
    """The plain array `/project/{key}/versions` answers."""
    if not isinstance(raw, list):
        raise JiraShapeError(f"versions of {project} are not a list")
    return [version_ref(item, source=source, site_url=site_url, project=project)
            for item in raw]

