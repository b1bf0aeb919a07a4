"""Resolvers' helpers for the federated fields of a release or an environment.

They turn a release's stored links into upstream keys, load them through the
request's batching loaders, report failed sources as partial errors, and
shape canonical records into graph types.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types.nodes import SelectedField, Selection

from api.db import models as m
from api.domain.readiness import ReadinessSummary, summarize
from api.hub import Fetched
from api.loaders import LinkRow, load_all
from api.schema.context import Context, Info
from api.schema.paging import slice_page
from api.schema.partial_results import report
from api.schema.upstream import (
    ChangeRequest,
    DeployedVersion,
    Deployment,
    Readiness,
    SourceReadiness,
    WorkItemConnection,
    change_request,
)
from api.services.changes import blocker_rule
from api.upstream_loaders import item_order
from connectors import base as c
from connectors.errors import UpstreamError

WORK_LINKS = frozenset({c.LinkKind.PLANNED_VERSION, c.LinkKind.MILESTONE,
                        c.LinkKind.CODE_RANGE})


def link_ref(row: LinkRow) -> c.LinkRef:
    return c.LinkRef(row.source, row.kind, row.external_key)


WorkBySource = list[tuple[str, list[c.WorkItem], bool, bool]]
Problems = tuple[Fetched[Any], ...]


@dataclass(frozen=True, slots=True)
class ReleaseWork:
    """(source, items, stale, available) per linked source, and the failed fetches."""

    sources: WorkBySource
    problems: Problems


@dataclass(frozen=True, slots=True)
class ReleaseChanges:
    """Linked change requests, whether every source answered, and the failed fetches."""

    records: list[c.ChangeRecord]
    known: bool
    problems: Problems


def report_all(info: Info, problems: Problems) -> None:
    """Report shared failures on the field that uses them (each field names its path)."""
    for fetched in problems:
        report(info, fetched)


async def release_work(info: Info, release_id: int) -> WorkBySource:
    """(source, items, stale, available) for each source the release links to."""
    return (await _release_work(info, release_id)).sources


async def _release_work(info: Info, release_id: int) -> ReleaseWork:
    """The release's work and the failed fetches behind it, reported on the asking field."""
    work: ReleaseWork | None = info.context.prefetched_work.get(release_id)
    if work is None:
        work = await work_loader(info.context).load(release_id)
    report_all(info, work.problems)
    return work


def known_work(info: Info, release_id: int) -> WorkBySource | None:
    """The release's work when this request has it already (`start_reads`, or another
    field read it), its failures reported on the asking field; None: ask `release_work`."""
    work: ReleaseWork | None = info.context.prefetched_work.get(release_id)
    if work is None:
        known = info.context.scoped.get(_WORK_LOADER)
        future = known.cache_map.get(release_id) if known is not None else None
        if future is None or not future.done() or future.cancelled() or future.exception():
            return None
        work = future.result()
    report_all(info, work.problems)
    return work.sources


#: Where a list's releases are, below the list field: its nodes, or its edges' nodes.
_RELEASE_PATHS = (("nodes",), ("edges", "node"))
#: The release fields answered from upstream, and the reads each waits on.
_UPSTREAM_READS: dict[str, frozenset[str]] = {
    "workItems": frozenset({"work"}), "readiness": frozenset({"work", "changes"}),
    "changeRequests": frozenset({"changes"}), "deployments": frozenset({"deployments"})}


def listed_reads(info: Info) -> frozenset[str]:
    """The upstream reads ("work", "changes", "deployments") the list field resolving now
    asks of its releases, on paths no directive may skip."""
    reads: frozenset[str] = frozenset()
    for name, needs in _UPSTREAM_READS.items():
        if not needs <= reads and any(_asks(field.selections, (*path, name))
                                      for field in info.selected_fields
                                      for path in _RELEASE_PATHS):
            reads |= needs
    return reads


def _asks(selections: Sequence[Selection], path: tuple[str, ...]) -> bool:
    for selection in selections:
        if selection.directives:
            continue
        if not isinstance(selection, SelectedField):  # a fragment, spread or inline
            if _asks(selection.selections, path):
                return True
        elif selection.name == path[0] and (len(path) == 1
                                            or _asks(selection.selections, path[1:])):
            return True
    return False


def start_reads(context: Context, links: Mapping[int, Sequence[LinkRow]],
                reads: frozenset[str]) -> None:
    """Before a list of releases resolves its fields: start the upstream reads they will
    wait on, so each source is asked as soon as the links are known rather than when
    the resolvers of every release first ask (they then find the reads running, or
    done). A release whose every work link has a fresh upstream answer gets its work
    kept for the request at once (the work loader answers from it too), so its
    `workItems` resolves without waiting (a list of a thousand releases then costs no
    task, nor future, per release)."""
    if "work" in reads:
        known = context.prefetched_work
        loader = work_loader(context)
        uncached: list[c.LinkRef] = []
        for release_id, rows in links.items():
            refs = _work_links(rows)
            fetched = context.hub.cached_many("work_items", [(r.source, r) for r in refs])
            if fetched is not None:
                known[release_id] = _work_of(refs, fetched)
            else:
                uncached += refs
                loader.load(release_id)  # the field that asks awaits the same future
        if uncached:
            # Asked now, not after the work loader's batch dispatches (a few loop turns
            # on): its own read finds these running and waits for them.
            context.upstream.start_work_items(uncached)
    if "changes" in reads:
        changes = changes_loader(context)
        for release_id, rows in links.items():
            changes.load(release_id)
            # Asked now, so the quick sources are on the wire before the batch source's
            # document (it waits a few turns for its reads): its answer comes last.
            for key in _change_keys(rows):
                context.upstream.changes.load(key)
    if "deployments" in reads:
        context.upstream.start_deployments(
            [key for rows in links.values() for key, _ in _deployment_keys(context, rows)])


def work_loader(context: Context) -> DataLoader[int, ReleaseWork]:
    """Each release's work, once per request, for every field that shows or judges it.

    The links of every release in the batch are read in one load of the upstream
    loader, and each release's share taken from it: no task per release."""
    async def load(release_ids: list[int]) -> list[ReleaseWork]:
        known = context.prefetched_work
        unknown = [pk for pk in release_ids if pk not in known]
        links = [_work_links(rows) for rows in await load_all(context.loaders.links, unknown)]
        fetched = iter(await context.upstream.work_items.load_many(
            [ref for refs in links for ref in refs]))
        read = {pk: _work_of(refs, [next(fetched) for _ in refs])
                for pk, refs in zip(unknown, links, strict=True)}
        return [known[pk] if pk in known else read[pk] for pk in release_ids]

    return context.scoped_loader(_WORK_LOADER, load)


_WORK_LOADER = "release_work"


def _work_links(rows: Sequence[LinkRow]) -> list[c.LinkRef]:
    # A milestone already holds the repository's issues and pull requests; a compare
    # range is for teams without milestones, and would only repeat them.
    planned = {(r.source, r.external_key.partition("#")[0]) for r in rows
               if r.kind is c.LinkKind.MILESTONE}
    return [link_ref(r) for r in rows if r.kind in WORK_LINKS and not (
        r.kind is c.LinkKind.CODE_RANGE
        and (r.source, r.external_key.partition("@")[0]) in planned)]


def _work_of(links: list[c.LinkRef], fetched: list[Fetched[list[c.WorkItem]]]) -> ReleaseWork:
    # Each link's items come ordered, each key once (`api.upstream_loaders`): a source
    # with one link (most) serves its list as it is; several links are merged.
    by_source: dict[str, tuple[list[list[c.WorkItem]], bool, bool]] = {}
    for ref, result in zip(links, fetched, strict=True):
        lists, stale, available = by_source.get(ref.source, ([], False, True))
        lists.append(result.value or [])
        by_source[ref.source] = (lists, stale or result.stale_age is not None,
                                 available and (result.ok or result.value is not None))
    return ReleaseWork(
        sources=[(source, lists[0] if len(lists) == 1 else _merged(lists), stale, available)
                 for source, (lists, stale, available) in by_source.items()],
        problems=tuple(result for result in fetched if not result.ok or result.dropped))


def _merged(lists: list[list[c.WorkItem]]) -> list[c.WorkItem]:
    items: dict[str, c.WorkItem] = {}
    for found in lists:
        for item in found:
            items.setdefault(item.key, item)
    return sorted(items.values(), key=item_order)


def work_item_page(info: Info, items: Sequence[c.WorkItem], status: c.WorkStatus | None, first: int,
                   after: str | None) -> WorkItemConnection:
    selected = items if status is None else [i for i in items if i.status is status]
    return WorkItemConnection(page=slice_page(selected, _work_identity, first, after))


def _work_identity(item: c.WorkItem) -> list[Any]:
    return [item.source, item.key]


async def release_changes_known(info: Info, release_id: int
                                ) -> tuple[list[c.ChangeRecord], bool]:
    """The release's linked change requests, and whether every source answered."""
    changes: ReleaseChanges = await changes_loader(info.context).load(release_id)
    report_all(info, changes.problems)
    return changes.records, changes.known


def changes_loader(context: Context) -> DataLoader[int, ReleaseChanges]:
    """Each release's linked change requests, once per request."""
    async def load(release_ids: list[int]) -> list[ReleaseChanges]:
        links = await load_all(context.loaders.links, release_ids)
        return list(await asyncio.gather(*(_changes_of(context, rows) for rows in links)))

    return context.scoped_loader("release_changes", load)


def _change_keys(rows: Sequence[LinkRow]) -> list[tuple[str, str]]:
    return [(r.source, r.external_key) for r in rows if r.kind is c.LinkKind.CHANGE_REQUEST]


async def _changes_of(context: Context, rows: Sequence[LinkRow]) -> ReleaseChanges:
    fetched = await context.upstream.changes.load_many(_change_keys(rows))
    return ReleaseChanges(records=[r.value for r in fetched if r.value is not None],
                          known=all(r.ok for r in fetched),
                          problems=tuple(r for r in fetched if not r.ok or r.dropped))


async def release_changes(info: Info, release_id: int) -> list[c.ChangeRecord]:
    return (await release_changes_known(info, release_id))[0]


def change_requests(info: Info, records: Sequence[c.ChangeRecord]) -> list[ChangeRequest]:
    return [change_request(info, r) for r in records]


async def release_deployments(info: Info, release_id: int) -> list[Deployment]:
    """Deployments of the ref each linked code range ends at (its kind says which)."""
    wanted = _deployment_keys(info.context, await info.context.loaders.links.load(release_id))
    fetched = await info.context.upstream.deployments.load_many([k for k, _ in wanted])
    found: list[c.Deployment] = []
    for (_, head), result in zip(wanted, fetched, strict=True):
        report(info, result)
        found += [d for d in result.value or [] if d.ref == head]
    found.sort(key=lambda d: (d.created_at, d.id))
    return [Deployment.from_record(d) for d in found]


def _deployment_keys(context: Context, rows: Sequence[LinkRow]
                     ) -> list[tuple[tuple[str, str, str | None], str]]:
    """(deployments loader key, head ref) of each linked code range (its kind says which)."""
    wanted: list[tuple[tuple[str, str, str | None], str]] = []
    for row in rows:
        connector = context.hub.connectors.get(row.source)
        code = connector.code_ref(row.kind, row.external_key) if connector else None
        if code:
            wanted.append(((row.source, code[0], None), code[1]))
    return wanted


async def environment_versions(info: Info, environment: m.Environment,
                               applications: Sequence[m.Application]) -> list[DeployedVersion]:
    """The latest successful deployment per repository of the environment's applications."""
    target = environment.deploy_target or environment.name.lower()
    repos = {repo: app.key for app in applications for repo in app.repositories}
    keys = [(source, repo, target) for source in info.context.hub.deployment_sources()
            for repo in repos]
    fetched: list[Fetched[list[c.Deployment]]] = await info.context.upstream.deployments.load_many(
        keys)
    latest: dict[str, c.Deployment] = {}
    for result in fetched:
        report(info, result)
        for deployment in result.value or []:
            if deployment.state is not c.DeploymentState.SUCCESS:
                continue
            current = latest.get(deployment.repository)
            if current is None or deployment.created_at > current.created_at:
                latest[deployment.repository] = deployment
    return [DeployedVersion(application=repos.get(repo), deployment=Deployment.from_record(d))
            for repo, d in sorted(latest.items())]


async def release_readiness(info: Info, release_id: int) -> Readiness:
    work = await _release_work(info, release_id)
    changes = await release_changes(info, release_id)
    summary: ReadinessSummary = summarize(work.sources, changes,
                                          blocker_rule(info.context.settings))
    # What each source answered in place of its figures (the first failure per source),
    # in the data itself, where a client's cache keeps it with the figures.
    problems: dict[str, UpstreamError] = {}
    for fetched in work.problems:
        if fetched.error is not None:
            problems.setdefault(fetched.error.source, fetched.error)
    return Readiness(
        total=summary.total, done=summary.done, ratio=summary.ratio,
        per_source=[SourceReadiness(
            source=s.source, total=s.total, done=s.done, stale=s.stale, available=s.available,
            problem=problems[s.source].message if s.source in problems else None,
            problem_code=problems[s.source].code.value if s.source in problems else None)
            for s in summary.per_source],
        open_blockers=list(summary.blockers),
        change_approved=summary.change_approved, complete=summary.complete)
