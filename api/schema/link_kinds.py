"""The graph's `LinkKind`: the stored neutral words, plus last release's words, deprecated.

Storage holds only the neutral words (`connectors.records.LinkKind`). Clients
written against the earlier vendor words keep working for one release: those
words are still accepted as input (and stored as their neutral word), but the
graph only ever answers with the neutral ones.
"""

from __future__ import annotations

import enum

import strawberry

from connectors.records import LinkKind

_DEPRECATED = "Stored as {new} since schema 0006; this word is accepted as input and " \
              "mapped to {new} for one release, then removed."


@strawberry.enum(name="LinkKind", description="What upstream record a release links to.")
class GraphLinkKind(enum.Enum):
    PLANNED_VERSION = strawberry.enum_value("PLANNED_VERSION",
                                            description="A version planned in a tracker.")
    MILESTONE = strawberry.enum_value("MILESTONE",
                                      description="A milestone of a code host's repository.")
    CODE_RANGE = strawberry.enum_value(
        "CODE_RANGE", description="The commits between two refs of a repository.")
    CHANGE_REQUEST = strawberry.enum_value("CHANGE_REQUEST",
                                           description="A change request in an ITSM.")
    JIRA_VERSION = strawberry.enum_value(
        "JIRA_VERSION", deprecation_reason=_DEPRECATED.format(new="PLANNED_VERSION"))
    GITHUB_MILESTONE = strawberry.enum_value(
        "GITHUB_MILESTONE", deprecation_reason=_DEPRECATED.format(new="MILESTONE"))
    GITHUB_COMPARE = strawberry.enum_value(
        "GITHUB_COMPARE", deprecation_reason=_DEPRECATED.format(new="CODE_RANGE"))

    def stored(self) -> LinkKind:
        """The neutral word this value is stored as."""
        return LinkKind[_LEGACY.get(self.name, self.name)]

    @classmethod
    def of(cls, kind: LinkKind) -> GraphLinkKind:
        return cls[kind.name]


# The words before migration 0006 -> the neutral word they are stored as.
_LEGACY = {"JIRA_VERSION": "PLANNED_VERSION", "GITHUB_MILESTONE": "MILESTONE",
           "GITHUB_COMPARE": "CODE_RANGE"}
