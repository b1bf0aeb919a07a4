"""Links between issues (`Blocks`, `Relates`...) and their types, as
`/rest/api/{v}/issueLink` and `/issueLinkType` keep them. Pure: no I/O.

A link is directed: its inward issue carries the type's outward words of the outward
one (`PAY-1` *blocks* `PAY-2`), and the outward issue the inward words (`PAY-2` *is
blocked by* `PAY-1`). Each issue's `issuelinks` field lists its links from its own side,
naming the other issue under `outwardIssue` or `inwardIssue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LinkType:
    id: str
    name: str
    inward: str
    outward: str


#: JIRA's default link types.
LINK_TYPES = (LinkType("10000", "Blocks", "is blocked by", "blocks"),
              LinkType("10001", "Cloners", "is cloned by", "clones"),
              LinkType("10002", "Duplicate", "is duplicated by", "duplicates"),
              LinkType("10003", "Relates", "relates to", "relates to"))


@dataclass(frozen=True, slots=True)
class IssueLink:
    id: int
    type: LinkType
    inward_id: int  # the issue the outward words are said of
    outward_id: int


class Refused(ValueError):
    """A link body JIRA would refuse; `status` is its answer's."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def link_type(ref: Any) -> LinkType:
    """The type a body's `type` names, by `name` (any case) or `id`."""
    if not isinstance(ref, dict) or not (ref.get("name") or ref.get("id")):
        raise Refused("The link type is required, by its name or id.")
    name, ident = ref.get("name"), ref.get("id")
    for known in LINK_TYPES:
        if (isinstance(name, str) and name.casefold() == known.name.casefold()) \
                or (ident is not None and str(ident) == known.id):
            return known
    raise Refused(f"No issue link type with name '{name or ident}' found.", status=404)


def issue_ref(body: Json, side: str) -> str:
    """The key or id a body gives for `inwardIssue` or `outwardIssue`."""
    ref = body.get(side)
    value = (ref.get("key") or ref.get("id")) if isinstance(ref, dict) else None
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
        raise Refused(f"{side} is required, by its key or id.")
    return str(value)


def type_json(kind: LinkType, base: str, v: str) -> Json:
    return {"id": kind.id, "name": kind.name, "inward": kind.inward, "outward": kind.outward,
            "self": f"{base}/rest/api/{v}/issueLinkType/{kind.id}"}
