"""What a release could be linked to, searched upstream, so nobody types a raw id.

The dashboard's link pickers ask here: the versions of a tracker project, the
milestones of a repository, change requests by number or words. Reads go
through the hub (cached, batched, fault tolerant); a failing source answers
with its error beside whatever stale copy the cache still has. Each candidate
carries the key `linkSource` accepts, canonicalised by the kind's `parse_link`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.errors import bad_input
from api.hub import Fetched, Hub
from connectors.base import (
    ChangeRecord,
    ChangeSource,
    LinkKind,
    VersionRef,
    VersionSource,
)

MAX_CANDIDATES = 100
_NUMBER = re.compile(r"^[A-Za-z]{2,6}\d{3,}$")  # "CHG0030001", "CRQ000000000101"


@dataclass(frozen=True, slots=True)
class LinkCandidate:
    """One upstream record a release could link to, in the words a person picks it by."""

    source: str
    kind: LinkKind
    key: str  # what linkSource takes as externalKey
    name: str
    container: str
    url: str
    detail: str  # "released", "due 2026-11-20", a change's state word
    closed: bool
    date: datetime | None


@dataclass(frozen=True, slots=True)
class Candidates:
    """The candidates found, and the source's answer they came from (its error, if any)."""

    items: list[LinkCandidate]
    fetched: Fetched[Any]


def _matches(search: str | None, *words: str) -> bool:
    if not search:
        return True
    needle = search.strip().casefold()
    return any(needle in w.casefold() for w in words)


async def link_candidates(hub: Hub, source: str, kind: LinkKind, container: str,
                          search: str | None = None, first: int = 20,
                          deadline: float | None = None) -> Candidates:
    """Up to `first` records of `source` a release could link to as `kind`.

    Versions and milestones come from `container` (a project key, an
    `owner/repo`); open ones first, by date. Change requests are found by number,
    or by words in their number or title (`container` is not used for them).
    """
    if not 1 <= first <= MAX_CANDIDATES:
        raise bad_input(f"first must be between 1 and {MAX_CANDIDATES}", "first")
    connector = hub.connectors.get(source)
    if connector is None:
        raise bad_input(f"{source!r} is not a configured source; sources: "
                        f"{', '.join(sorted(hub.connectors)) or 'none'}", "source")
    if kind in (LinkKind.PLANNED_VERSION, LinkKind.MILESTONE):
        if not isinstance(connector, VersionSource):
            raise bad_input(f"{source!r} has no versions or milestones to link", "source")
        if not container.strip():
            raise bad_input("name the project or repository to search", "container")
        return await _versions(hub, connector_name=source, kind=kind,
                               container=container.strip(), search=search, first=first,
                               deadline=deadline)
    if kind is LinkKind.CHANGE_REQUEST:
        if not isinstance(connector, ChangeSource):
            raise bad_input(f"{source!r} is not a change source", "source")
        return await _changes(hub, source, search, first, deadline)
    # No connector lists refs (tags, branches): a code range is written by hand and
    # checked by the kind's parse_link when it is linked.
    raise bad_input(f"{kind.value} links are written as owner/repo@base...head; there is "
                    "nothing to search for them", "kind")


async def _versions(hub: Hub, *, connector_name: str, kind: LinkKind, container: str,
                    search: str | None, first: int, deadline: float | None) -> Candidates:
    async def call(name: str, containers: list[str]) -> Mapping[str, list[VersionRef]]:
        connector = hub.connectors[name]
        assert isinstance(connector, VersionSource)
        # One container per call (see below): every ref is its, whatever case the kind
        # writes the container in.
        return {containers[0]: await connector.versions(containers[:1])}

    none: list[VersionRef] = []
    results: list[Fetched[list[VersionRef]]] = await hub.fetch_many(
        "link_candidates:versions", [(connector_name, container)], call, missing=none,
        deadline=deadline)
    fetched = results[0]
    refs = [r for r in (fetched.value or []) if r.kind is kind
            and _matches(search, r.name, r.id, r.description or "")]
    far = datetime.max
    refs.sort(key=lambda r: (r.released, r.release_date is None,
                             (r.release_date.replace(tzinfo=None) if r.release_date else far),
                             r.name))
    items = [LinkCandidate(
        source=r.source, kind=kind, key=hub.parse_link(r.source, kind, r.id), name=r.name,
        container=r.container, url=r.url,
        detail=("released" if kind is LinkKind.PLANNED_VERSION else "closed") if r.released
        else (f"due {r.release_date.date().isoformat()}" if r.release_date else "open"),
        closed=r.released, date=r.release_date) for r in refs[:first]]
    return Candidates(items, fetched)


async def _changes(hub: Hub, source: str, search: str | None, first: int,
                   deadline: float | None) -> Candidates:
    text = (search or "").strip()
    none: list[ChangeRecord] = []
    results: list[Fetched[list[ChangeRecord]]]
    if _NUMBER.match(text):
        async def by_number(name: str, numbers: list[str]) -> Mapping[str, list[ChangeRecord]]:
            connector = hub.connectors[name]
            assert isinstance(connector, ChangeSource)
            found = await connector.changes(numbers)
            return {n: [found[n]] if n in found else [] for n in numbers}

        results = await hub.fetch_many("link_candidates:number", [(source, text.upper())],
                                       by_number, missing=none, deadline=deadline)
    else:
        async def every(name: str, keys: list[str]) -> Mapping[str, list[ChangeRecord]]:
            connector = hub.connectors[name]
            assert isinstance(connector, ChangeSource)
            return {keys[0]: await connector.search_changes(None, None)}

        results = await hub.fetch_many("link_candidates:changes", [(source, "*")], every,
                                       missing=none, deadline=deadline)
    fetched = results[0]
    records = [c for c in (fetched.value or []) if _matches(text, c.number, c.title)]
    far = datetime.max
    records.sort(key=lambda c: (c.planned_start.replace(tzinfo=None) if c.planned_start
                                else far, c.number))
    items = [LinkCandidate(
        source=c.source, kind=LinkKind.CHANGE_REQUEST,
        key=hub.parse_link(c.source, LinkKind.CHANGE_REQUEST, c.number), name=c.title,
        container=source, url=c.url, detail=c.state_label,
        closed=c.state.value in ("CLOSED", "CANCELED", "REJECTED"), date=c.planned_start)
        for c in records[:first]]
    return Candidates(items, fetched)
