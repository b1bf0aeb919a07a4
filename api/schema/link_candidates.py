"""The graph's link pickers: upstream records a release could be linked to."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.schema.context import Info
from api.schema.link_kinds import GraphLinkKind
from api.schema.partial_results import report
from api.services.link_candidates import LinkCandidate as Found
from api.services.link_candidates import link_candidates


@strawberry.type(description="An upstream record a release could link to, as a picker "
                             "offers it.")
class LinkCandidate:
    source: str
    kind: GraphLinkKind
    key: str = strawberry.field(description="Send as `linkSource`'s `externalKey`.")
    name: str
    container: str = strawberry.field(description="The project or repository it belongs to.")
    url: str
    detail: str = strawberry.field(description="Released, due date, or a change's state, "
                                               "in words.")
    closed: bool = strawberry.field(description="Released, closed, or a finished change.")
    date: datetime | None = strawberry.field(description="Release or due date; a change's "
                                                         "planned start.")

    @classmethod
    def of(cls, found: Found) -> LinkCandidate:
        return cls(source=found.source, kind=GraphLinkKind.of(found.kind), key=found.key,
                   name=found.name, container=found.container, url=found.url,
                   detail=found.detail, closed=found.closed, date=found.date)


async def resolve_link_candidates(info: Info, source: str, kind: GraphLinkKind, container: str,
                                  search: str | None, first: int) -> list[LinkCandidate]:
    """Searched upstream, live; a failing source adds a coded error and answers empty
    (or from its stale copy)."""
    found = await link_candidates(info.context.hub, source, kind.stored(), container, search,
                                  first, deadline=info.context.hub.deadline())
    report(info, found.fetched)
    return [LinkCandidate.of(c) for c in found.items]
