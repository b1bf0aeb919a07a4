"""What the JIRA sandbox accepts in an issue create, edit or transition body.

JIRA validates every field of a write before it changes anything and answers
all refusals at once, keyed by field id; a field that is not on the create or
edit screen is refused with the same sentence whether it exists or not. This
module reads `fields` and `update` into new values (or those errors) against
what the site holds; the caller applies them only when nothing was refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from connectors.sandbox.world import Person

Mode = Literal["cloud", "datacenter"]

PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
ISSUE_TYPE_NAMES = ["Story", "Bug", "Task"]
LIST_FIELDS = {"labels", "fixVersions", "versions", "components"}
#: The fields on the sandbox's edit screen; the create screen adds project and reporter.
EDITABLE = {"summary", "description", "environment", "duedate", "labels", "fixVersions",
            "versions", "priority", "assignee", "components", "issuetype"}
CREATABLE = EDITABLE | {"project", "reporter"}

NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
NOT_STRING = "Operation value must be a string"


class Site(Protocol):
    """The parts of the site a write is checked against."""

    mode: Mode

    def app_key_of_project(self, ref: str) -> str | None: ...
    def version_ids(self, app_key: str) -> dict[str, int]: ...  # "#id" and name -> id
    def component_ids(self, app_key: str) -> dict[str, int]: ...
    def person(self, ref: str) -> Person | None: ...  # accountId or username
    def default_assignee(self, app_key: str) -> Person: ...


class Refused(ValueError):
    """One field's refusal; the message goes under the field id in `errors`."""


@dataclass
class Write:
    """A checked write: new values by field id, comments to add, or refusals.

    Refusals are keyed by field id; the key "" holds one about the whole body.
    """

    values: dict[str, Any] = field(default_factory=dict)
    app_key: str | None = None  # the project written to
    comments: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def adf_text(node: Any) -> str:
    """The plain text of an Atlassian Document: text nodes, one line per block."""
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        parts = [adf_text(child) for child in node.get("content") or []]
        joiner = "\n" if node.get("type") == "doc" else ""
        return joiner.join(parts)
    return ""


def rich_text(value: Any, v: str) -> str:
    """A description, environment or comment body as the API version sends it."""
    if value is None:
        return ""
    if v == "3":
        if not (isinstance(value, dict) and value.get("type") == "doc"):
            raise Refused(NOT_ADF)
        return adf_text(value)
    if not isinstance(value, str):
        raise Refused(NOT_STRING)
    return value


def check_write(site: Site, *, app_key: str | None, current: Mapping[str, Any],
                fields: Any, update: Any, allowed: set[str], v: str) -> Write:
    """Read a write body; `current` holds the issue's list values, for update operations."""
    write = Write()
    if not isinstance(fields, dict) or not isinstance(update, dict):
        write.errors[""] = ("Invalid request payload. Refer to the REST API documentation and "
                            "try again.")
        return write
    for name in [*fields, *update]:
        if name not in allowed and not (name == "comment" and name in update):
            write.errors[name] = NOT_ON_SCREEN.format(name)
    if "project" in fields and "project" not in write.errors:
        try:
            app_key = _project(site, fields["project"])
        except Refused as exc:
            write.errors["project"] = str(exc)
    for name, raw in fields.items():
        if name in write.errors or name == "project":
            continue
        try:
            write.values[name] = _value(site, app_key, name, raw, v)
        except Refused as exc:
            write.errors[name] = str(exc)
    for name, operations in update.items():
        if name in write.errors:
            continue
        try:
            if name == "comment":
                write.comments += _comments(operations, v)
            else:
                start = write.values.get(name, current.get(name))
                write.values[name] = _operations(site, app_key, name, start, operations, v)
        except Refused as exc:
            write.errors[name] = str(exc)
    write.app_key = app_key
    return write


def _project(site: Site, raw: Any) -> str:
    ref = raw.get("id") or raw.get("key") if isinstance(raw, dict) else raw
    app_key = site.app_key_of_project(str(ref)) if ref is not None else None
    if app_key is None:
        raise Refused("Specify a valid project ID or key")
    return app_key


def _operations(site: Site, app_key: str | None, name: str, start: Any, operations: Any,
                v: str) -> Any:
    if not isinstance(operations, list):
        raise Refused(f"Operations for field '{name}' must be a list.")
    value = list(start or []) if name in LIST_FIELDS else start
    for operation in operations:
        if not isinstance(operation, dict) or len(operation) != 1:
            raise Refused(f"An operation on field '{name}' must be one of set, add or remove.")
        ((verb, raw),) = operation.items()
        if verb == "set":
            value = _value(site, app_key, name, raw, v)
        elif verb in ("add", "remove") and name in LIST_FIELDS:
            (item,) = _value(site, app_key, name, [raw], v)
            if verb == "add" and item not in value:
                value.append(item)
            elif verb == "remove" and item in value:
                value.remove(item)
        else:
            raise Refused(f"Field '{name}' does not support operation '{verb}'.")
    return value


def _comments(operations: Any, v: str) -> list[str]:
    bodies: list[str] = []
    for operation in operations if isinstance(operations, list) else [None]:
        add = operation.get("add") if isinstance(operation, dict) else None
        if not isinstance(add, dict):
            raise Refused("Comment operations must be {\"add\": {\"body\": ...}}.")
        body = rich_text(add.get("body"), v)
        if not body.strip():
            raise Refused("Comment body can not be empty!")
        bodies.append(body)
    return bodies


def _value(site: Site, app_key: str | None, name: str, raw: Any, v: str) -> Any:
    parse = _PARSERS.get(name)
    if parse is None:
        raise Refused(NOT_ON_SCREEN.format(name))
    return parse(site, app_key, raw, v)


def _summary(site: Site, app_key: str | None, raw: Any, v: str) -> str:
    if raw is not None and not isinstance(raw, str):
        raise Refused(NOT_STRING)
    if not raw or not raw.strip():
        raise Refused("You must specify a summary of the issue.")
    if "\n" in raw or "\r" in raw:
        raise Refused("The summary is invalid because it contains newline characters.")
    if len(raw) > 255:
        raise Refused("Summary must be less than 255 characters.")
    return raw


def _text(site: Site, app_key: str | None, raw: Any, v: str) -> str:
    return rich_text(raw, v)


def _due(site: Site, app_key: str | None, raw: Any, v: str) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise Refused(f"Error parsing date string: {raw}") from None


def _named(raw: Any, names: list[str], ids: list[str], message: str) -> str:
    if isinstance(raw, dict):
        if raw.get("id") is not None and str(raw["id"]) in ids:
            return names[ids.index(str(raw["id"]))]
        if raw.get("name") in names:
            return str(raw["name"])
    raise Refused(message)


def _priority(site: Site, app_key: str | None, raw: Any, v: str) -> str:
    return _named(raw, PRIORITIES, [str(n) for n in range(1, 6)],
                  "The priority selected is invalid.")


def _issue_type(site: Site, app_key: str | None, raw: Any, v: str) -> str:
    if raw is None:
        raise Refused("Specify an issue type")
    return _named(raw, ISSUE_TYPE_NAMES, ["10001", "10004", "10002"],
                  "The issue type selected is invalid.")


def _user(site: Site, app_key: str | None, raw: Any, v: str) -> Person | None:
    if raw is None:
        return None
    ref_key = "accountId" if site.mode == "cloud" else "name"
    ref = raw.get(ref_key) if isinstance(raw, dict) else None
    if ref is None and isinstance(raw, dict) and site.mode == "datacenter":
        ref = raw.get("key")
    if ref is None:
        if site.mode == "cloud":
            raise Refused("Specify a user by accountId.")
        raise Refused("Specify a user by name.")
    if str(ref) == "-1" and app_key is not None:
        return site.default_assignee(app_key)
    person = site.person(str(ref))
    if person is None:
        if site.mode == "cloud":
            raise Refused("Specified user does not exist or you do not have required "
                          "permissions")
        raise Refused(f"User '{ref}' does not exist.")
    return person


def _labels(site: Site, app_key: str | None, raw: Any, v: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(label, str) for label in raw):
        raise Refused("Labels must be a list of strings.")
    for label in raw:
        if any(ch.isspace() for ch in label) or not label:
            raise Refused(f"The label '{label}' contains spaces which is invalid.")
        if len(label) > 255:
            raise Refused("The label must not exceed 255 characters.")
    return list(dict.fromkeys(raw))


def _refs(kind: str, lookup: Callable[[Site, str], dict[str, int]]
          ) -> Callable[[Site, str | None, Any, str], list[int]]:
    def parse(site: Site, app_key: str | None, raw: Any, v: str) -> list[int]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise Refused("data was not an array")
        known = lookup(site, app_key) if app_key is not None else {}
        found: list[int] = []
        for ref in raw:
            ident = ref.get("id") if isinstance(ref, dict) else None
            name = ref.get("name") if isinstance(ref, dict) else None
            if ident is not None and f"#{ident}" in known:
                found.append(known[f"#{ident}"])
            elif ident is None and name is not None and str(name) in known:
                found.append(known[str(name)])
            elif ident is not None:
                raise Refused(f"{kind} id '{ident}' is not valid")
            else:
                raise Refused(f"{kind} name '{name}' is not valid")
        return list(dict.fromkeys(found))
    return parse


_PARSERS: dict[str, Callable[[Site, str | None, Any, str], Any]] = {
    "summary": _summary, "description": _text, "environment": _text, "duedate": _due,
    "priority": _priority, "issuetype": _issue_type, "assignee": _user, "reporter": _user,
    "labels": _labels,
    "fixVersions": _refs("Version", lambda site, app_key: site.version_ids(app_key)),
    "versions": _refs("Version", lambda site, app_key: site.version_ids(app_key)),
    "components": _refs("Component", lambda site, app_key: site.component_ids(app_key)),
}
