"""Remote issue links: an issue's links to things outside JIRA (a change record, a
release page, a build), as `/rest/api/{v}/issue/{key}/remotelink` keeps them.

A release team links its issues to the change that ships them; a script that does so
writes here, and finds the link again by its `globalId` (the other system's id for the
thing linked), which makes a second POST with the same id an update, not a duplicate.
Pure: a request body is read into a link or refusals keyed by field, as JIRA answers
them; the site stores what is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

#: JIRA's length limit on a global id.
GLOBAL_ID_MAX = 255


@dataclass(frozen=True, slots=True)
class RemoteLink:
    id: int
    issue_id: int
    global_id: str | None
    relationship: str | None
    application: Json | None  # {"type", "name"}, as sent
    object: Json  # url, title, summary, icon, status: as sent, url and title checked


class Refused(ValueError):
    """A body JIRA would refuse; `errors` by field, as its ErrorCollection holds them."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def read(body: Json, *, ident: int, issue_id: int) -> RemoteLink:
    """The link a create-or-update body describes, or `Refused` naming each bad field."""
    problems: dict[str, str] = {}
    target = body.get("object")
    if not isinstance(target, dict):
        target = {}
        problems["object"] = "The remote object is required."
    for name in ("url", "title"):
        value = target.get(name)
        if not isinstance(value, str) or not value.strip():
            problems[name] = f"The remote object's {name} is required."
    global_id = _optional_text(body, "globalId", problems)
    if global_id is not None and len(global_id) > GLOBAL_ID_MAX:
        problems["globalId"] = f"The global id is longer than {GLOBAL_ID_MAX} characters."
    relationship = _optional_text(body, "relationship", problems)
    application = body.get("application")
    if application is not None and not isinstance(application, dict):
        problems["application"] = "The application must be an object."
    if problems:
        raise Refused(problems)
    return RemoteLink(id=ident, issue_id=issue_id, global_id=global_id,
                      relationship=relationship, application=application, object=dict(target))


def _optional_text(body: Json, name: str, problems: dict[str, str]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        problems[name] = f"The {name} must be a string."
        return None
    return value


def rendered(link: RemoteLink, self_url: str) -> Json:
    """A link as GET answers it: what was sent, with its id and address."""
    body: Json = {"id": link.id, "self": self_url}
    if link.global_id is not None:
        body["globalId"] = link.global_id
    if link.application is not None:
        body["application"] = link.application
    if link.relationship is not None:
        body["relationship"] = link.relationship
    body["object"] = link.object
    return body
