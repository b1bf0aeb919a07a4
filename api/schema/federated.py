"""Resolvers' helpers for the federated fields of a release or an environment.

They turn a release's stored links into upstream keys, load them through the
request's batching loaders, report failed sources as partial errors, and
shape canonical records into graph types.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.changes import blocker_rule
from api.db import models as m
from api.domain.readiness import ReadinessSummary, summarize
from api.hub import Fetched
from api.schema.context import Info
from api.schema.paging import slice_page
from api.schema.partial_results import report
from api.schema.upstream import (
    ChangeRequest,
    DeployedVersion,
    Deployment,
    Readiness,
    SourceReadiness,
    WorkItemConnection,
    WorkItemEdge,
    change_request,
    work_item,
)
from connectors import base as c

WORK_LINKS = frozenset({c.LinkKind.JIRA_VERSION, c.LinkKind.GITHUB_MILESTONE,
                        c.LinkKind.GITHUB_COMPARE})


def link_ref(row: m.SourceLink) -> c.LinkRef:
    return c.LinkRef(row.source, row.kind, row.external_key)


async def release_work(info: Info, release_id: int
                       ) -> list[tuple[str, list[c.WorkItem], bool, bool]]:
    """(source, items, stale, available) for each source the release links to."""
    rows = await info.context.loaders.links.load(release_id)
    # A milestone already holds the repository's issues and pull requests; a compare
    # range is for teams without milestones, and would only repeat them.
    planned = {(r.source, r.external_key.partition("#")[0]) for r in rows
               if r.kind is c.LinkKind.GITHUB_MILESTONE}
    links = [link_ref(r) for r in rows if r.kind in WORK_LINKS and not (
        r.kind is c.LinkKind.GITHUB_COMPARE
        and (r.source, r.external_key.partition("@")[0]) in planned)]
    fetched = await info.context.upstream.work_items.load_many(links)
    by_source: dict[str, tuple[dict[str, c.WorkItem], bool, bool]] = {}
    for ref, result in zip(links, fetched, strict=True):
        report(info, result)
        items, stale, available = by_source.get(ref.source, ({}, False, True))
        for item in result.value or []:
            items.setdefault(item.key, item)
        by_source[ref.source] = (items, stale or result.stale_age is not None,
                                 available and (result.ok or result.value is not None))
    return [(source, sorted(items.values(), key=_item_order), stale, available)
            for source, (items, stale, available) in by_source.items()]


def _item_order(item: c.WorkItem) -> tuple[str, int, str]:
    prefix, _, number = item.key.rpartition("-" if "#" not in item.key else "#")
    return (prefix, int(number) if number.isdigit() else 0, item.key)


def work_item_page(items: Sequence[c.WorkItem], status: c.WorkStatus | None, first: int,
                   after: str | None) -> WorkItemConnection:
    selected = [i for i in items if status is None or i.status is status]
    page = slice_page(selected, lambda i: [i.source, i.key], first, after)
    return WorkItemConnection(
        edges=[WorkItemEdge(cursor=cursor, node=work_item(i)) for cursor, i in page.items],
        total_count=page.total, page_info=page.page_info)


async def release_changes_known(info: Info, release_id: int
                                ) -> tuple[list[c.ChangeRecord], bool]:
    """The release's linked change requests, and whether every source answered."""
    keys = [(r.source, r.external_key) for r in await info.context.loaders.links.load(release_id)
            if r.kind is c.LinkKind.CHANGE_REQUEST]
    fetched = await info.context.upstream.changes.load_many(keys)
    records: list[c.ChangeRecord] = []
    for result in fetched:
        report(info, result)
        if result.value is not None:
            records.append(result.value)
    return records, all(result.ok for result in fetched)


async def release_changes(info: Info, release_id: int) -> list[c.ChangeRecord]:
    return (await release_changes_known(info, release_id))[0]


def kind_of(info: Info, source: str) -> str:
    connector = info.context.hub.connectors.get(source)
    return connector.settings.kind if connector else ""


def change_requests(info: Info, records: Sequence[c.ChangeRecord]) -> list[ChangeRequest]:
    return [change_request(r, kind_of(info, r.source)) for r in records]


async def release_deployments(info: Info, release_id: int) -> list[Deployment]:
    """Deployments of the ref each linked code range ends at (its kind says which)."""
    wanted: list[tuple[tuple[str, str, str | None], str]] = []
    for row in await info.context.loaders.links.load(release_id):
        connector = info.context.hub.connectors.get(row.source)
        code = connector.code_ref(row.kind, row.external_key) if connector else None
        if code:
            wanted.append(((row.source, code[0], None), code[1]))
    fetched = await info.context.upstream.deployments.load_many([k for k, _ in wanted])
    found: list[c.Deployment] = []
    for (_, head), result in zip(wanted, fetched, strict=True):
        report(info, result)
        found += [d for d in result.value or [] if d.ref == head]
    found.sort(key=lambda d: (d.created_at, d.id))
    return [Deployment.from_record(d) for d in found]


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
    work = await release_work(info, release_id)
    changes = await release_changes(info, release_id)
    summary: ReadinessSummary = summarize(work, changes,
                                          blocker_rule(info.context.settings))
    return Readiness(
        total=summary.total, done=summary.done, ratio=summary.ratio,
        per_source=[SourceReadiness(source=s.source, total=s.total, done=s.done, stale=s.stale,
                                    available=s.available) for s in summary.per_source],
        open_blockers=[work_item(i) for i in summary.blockers],
        change_approved=summary.change_approved, complete=summary.complete)
