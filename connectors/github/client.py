"""The GitHub connector: work items, milestones and deployments, in few calls.

Upstream calls per method (P = pages of 100). GraphQL documents hold as many
aliases as GitHub's per-call limits allow (`connectors.github.limits`: 500,000
nodes, the hourly points budget; docs/upstream-limits.md), so B below is
usually "all of them" and a document is split only when it would be over:

* `work_items`: milestones go through GraphQL, one request (per B milestones)
  for the first page of every milestone's issues and pull requests together,
  then one request per round (per B connections) for those that have more
  pages. Compare ranges take one REST compare per range and page (GitHub has
  no batched compare), run concurrently, then ceil(pull requests / 100)
  GraphQL requests for every pull request they name.
* `versions`: one REST milestone list per repository and page, concurrently.
  Repeats are conditional (ETags): a 304 costs no rate-limit budget.
* `deployments`: one GraphQL request per B repositories (each deployment with
  its `latestStatus`), so usually one in all; then one request per round
  (per B repositories) for those with more than a page of deployments.
* `fetch_batch`: work-item and deployment reads together (the hub gathers a
  request's reads of both kinds): every milestone's and repository's first
  pages are aliases of one document (B counts both), then the rounds above.
  There is no REST fallback: REST needs a list per repository and a status
  read per deployment, three sequential round trips where this is one, and
  every GitHub that serves the REST deployments also serves these fields.

Failures the connector finds in an answer (a bad payload, a GraphQL error)
are noted with the HTTP layer, so they show in health and count for the breaker.

Options (`ConnectorConfig.options`): `page_size` (1..100, default 100),
`graphql_batch` (at most this many aliases per GraphQL request, default 1000),
`graphql_max_nodes` (default and most 500,000), `graphql_max_points` (points one
request may cost, default and most 5,000), `max_concurrency`
(default 8), `graphql_url` (default `graphql` beside the REST root, or
`/api/graphql` for a GitHub Enterprise Server `/api/v3` root).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx

from connectors.base import (
    Answer,
    BatchRead,
    Capability,
    Connector,
    Deployment,
    DeploymentsRead,
    LinkKind,
    LinkRef,
    PullRequest,
    Records,
    VersionRef,
    WorkItem,
    WorkItemsRead,
)
from connectors.config import ConnectorConfig
from connectors.errors import (
    BadLinkKey,
    LinkTargetMissing,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
)
from connectors.github import mapping
from connectors.github.limits import HOURLY_POINTS, MAX_NODES, QueryCost, query_cost
from connectors.github.mapping import CompareKey, MilestoneKey
from connectors.github.webhook import GitHubWebhooks
from connectors.http import UpstreamClient, api_path, retry_after_seconds, segment

T = TypeVar("T")

REST_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
GRAPHQL_HEADERS = {"Accept": "application/json"}
MAX_PAGES = 1000  # a Link chain longer than this is a loop, not data

_PAGE_INFO = "pageInfo { hasNextPage endCursor }"
# Only the first assignee is kept; whether there is one tells TODO from IN_PROGRESS.
_ISSUE_FIELDS = "number title url state updatedAt assignees(first: 1) { nodes { login } }"
_PULL_FIELDS = ("number title url state isDraft merged mergedAt baseRefName updatedAt "
                "author { login } milestone { title }")
_CONNECTION_FIELDS = {"issues": _ISSUE_FIELDS, "pullRequests": _PULL_FIELDS}
_DEPLOYMENT_FIELDS = ("id databaseId environment ref { name } commitOid createdAt updatedAt "
                      "creator { login } latestStatus { state logUrl createdAt updatedAt } "
                      "commit { committedDate }")
# A pull request's commits are listed oldest first: the first is where its work began.
_MERGED_FIELDS = f"{_PULL_FIELDS} commits(first: 1) {{ nodes {{ commit {{ authoredDate }} }} }}"
_RECENTLY_UPDATED = "{field: UPDATED_AT, direction: DESC}"
_NEWEST_FIRST = "{field: CREATED_AT, direction: DESC}"


def _bounded(value: Any, low: int, high: int, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(low, min(high, number))


def _first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first real failure inside a TaskGroup's group (groups nest)."""
    first = group.exceptions[0]
    return _first_error(first) if isinstance(first, BaseExceptionGroup) else first


def _answer_of(outcome: object, kind: type[T]) -> T:
    """One read's answer out of `fetch_batch`, its error raised."""
    if isinstance(outcome, UpstreamError):
        raise outcome
    if not isinstance(outcome, kind):
        raise TypeError(f"fetch_batch answered {type(outcome).__name__}, not {kind.__name__}")
    return outcome


def _deployments_of(read: DeploymentsRead,
                    found: Mapping[tuple[str, str | None], Records[Deployment]]
                    ) -> Records[Deployment]:
    """The read's repositories' deployments, in the order it named them."""
    keys = [(repo, read.environment) for repo in dict.fromkeys(read.repositories)]
    return Records([d for key in keys for d in found.get(key, [])],
                   [error for key in keys for error in found.get(key, Records()).dropped])


@dataclass(frozen=True, slots=True)
class _Follow:
    """A milestone connection with more pages to read."""

    key: MilestoneKey
    connection: str  # "issues" | "pullRequests"
    cursor: str
    title: str


_GATE_CALLBACK = re.compile(r"/repos/[^/]+/[^/]+/actions/runs/\d+/deployment_protection_rule$")


class GitHubConnector(Connector, GitHubWebhooks):
    """GitHub as a work-item, version and deployment source (REST v3 + GraphQL v4), and a
    webhook receiver (`connectors.github.webhook`)."""

    kind = "github"
    product = "GitHub"
    capabilities = frozenset({Capability.WORK_ITEMS, Capability.CODE_CHANGES,
                              Capability.DEPLOYMENTS, Capability.WEBHOOKS})
    graph_types = {"RepositoryIssue": "GitHubIssue", "PullRequest": "GitHubPullRequest"}

    def __init__(self, settings: ConnectorConfig, http: UpstreamClient) -> None:
        super().__init__(settings, http)
        options = settings.options
        self.page_size = _bounded(options.get("page_size"), 1, 100, 100)
        self.graphql_batch = _bounded(options.get("graphql_batch"), 1, 1000, 1000)
        self.max_nodes = _bounded(options.get("graphql_max_nodes"), 1, MAX_NODES, MAX_NODES)
        self.max_points = _bounded(options.get("graphql_max_points"), 1, HOURLY_POINTS,
                                   HOURLY_POINTS)
        self._limit = asyncio.Semaphore(_bounded(options.get("max_concurrency"), 1, 50, 8))
        self.graphql_url = str(options.get("graphql_url") or self._default_graphql_url())
        self._costs: dict[str, QueryCost] = {}

    def _default_graphql_url(self) -> str:
        base = self.http.base_url
        if base.path.rstrip("/").endswith("/api/v3"):  # GitHub Enterprise Server
            return str(base.copy_with(path=base.path.rstrip("/")[: -len("/v3")] + "/graphql"))
        return "graphql"

    # ------------------------------------------------------------------ protocols

    # ------------------------------------------------------------------ link keys

    def parse_link(self, kind: LinkKind, key: str) -> str:
        """`owner/repo#N` milestones and `owner/repo@base...head` ranges, canonical."""
        text = self.plain_key(key)
        try:
            if kind is LinkKind.MILESTONE:
                return str(mapping.parse_milestone_key(text))
            if kind is LinkKind.CODE_RANGE:
                return str(mapping.parse_compare_key(text))
        except ValueError as exc:
            raise BadLinkKey(self.name, key, str(exc)) from None
        raise self.wrong_kind(kind, key)

    def code_ref(self, kind: LinkKind, key: str) -> tuple[str, str] | None:
        """A compare range is deployed when its head is."""
        if kind is not LinkKind.CODE_RANGE:
            return None
        try:
            compare = mapping.parse_compare_key(key)
        except ValueError:
            return None
        return compare.repository, compare.head

    # ------------------------------------------------------------------ protocols

    async def work_items(self, links: Sequence[LinkRef]) -> Mapping[LinkRef, list[WorkItem]]:
        """Items of milestones and compare ranges. A milestone GitHub does not have is an
        error for its link (deleted: its items are unknown, not none); a range whose refs
        do not exist yet has none (its tag is not cut); a malformed key has an error of
        its own, and an item that cannot be read is left out, named."""
        return _answer_of((await self.fetch_batch([WorkItemsRead(tuple(links))]))[0], Answer)

    async def fetch_batch(self, reads: Sequence[BatchRead[Any]]) -> list[Any]:
        """Work items and deployments of several reads, their first pages in as few GraphQL
        documents as the limits allow (usually one), so a dashboard costs one call.

        A compare range's REST calls fail only the reads that have ranges; a failed
        document fails every read it carried.
        """
        milestones: dict[MilestoneKey, None] = {}
        compares: dict[CompareKey, None] = {}
        repositories: dict[tuple[str, str | None], None] = {}
        answers: list[Answer[LinkRef, list[WorkItem]] | None] = []
        for read in reads:
            if isinstance(read, WorkItemsRead):
                answers.append(self._plan_work(read.links, milestones, compares))
            elif isinstance(read, DeploymentsRead):
                answers.append(None)
                repositories.update(((r, read.environment), None) for r in read.repositories
                                    if self._valid_repository(r))
            else:
                raise TypeError(f"{type(read).__name__} is not a read GitHub answers")
        graph: Any
        ranges: Any
        if compares:
            graph, ranges = await asyncio.gather(
                self._graph_reads(list(milestones), list(repositories)),
                self._compare_items(list(compares)), return_exceptions=True)
        else:  # the document alone: awaited here, not as a task a loop turn later
            ranges = {}
            try:
                graph = await self._graph_reads(list(milestones), list(repositories))
            except Exception as error:  # as `gather` above returns it
                graph = error
        for outcome in (graph, ranges):
            if isinstance(outcome, BaseException) and not isinstance(outcome, UpstreamError):
                raise outcome
        results: list[Any] = []
        for read, answer in zip(reads, answers, strict=True):
            if isinstance(read, DeploymentsRead):
                results.append(graph if isinstance(graph, UpstreamError)
                               else _deployments_of(read, graph[1]))
            elif answer is not None:
                results.append(self._fill_work(answer, graph, ranges))
        return results

    def _plan_work(self, links: Sequence[LinkRef], milestones: dict[MilestoneKey, None],
                   compares: dict[CompareKey, None]) -> Answer[LinkRef, list[WorkItem]]:
        """An empty answer for `links`; their milestones and ranges join the batch's."""
        result: Answer[LinkRef, list[WorkItem]] = Answer({link: [] for link in links})
        for link in list(result):
            if link.kind not in (LinkKind.MILESTONE, LinkKind.CODE_RANGE):
                continue
            try:
                canonical = self.parse_link(link.kind, link.key)
            except BadLinkKey as error:
                result.fail(link, error)  # an old row: never sent upstream
                continue
            if link.kind is LinkKind.MILESTONE:
                milestones[mapping.parse_milestone_key(canonical)] = None
            else:
                compares[mapping.parse_compare_key(canonical)] = None
        return result

    def _fill_work(self, result: Answer[LinkRef, list[WorkItem]], graph: Any, ranges: Any
                   ) -> Answer[LinkRef, list[WorkItem]] | UpstreamError:
        """The read's answer from the batch's findings, or the error of what it needed."""
        for link in result:
            if link in result.failed or link.kind not in (LinkKind.MILESTONE,
                                                          LinkKind.CODE_RANGE):
                continue
            canonical = self.parse_link(link.kind, link.key)
            if link.kind is LinkKind.MILESTONE:
                if isinstance(graph, UpstreamError):
                    return graph
                items = graph[0].get(mapping.parse_milestone_key(canonical))
                if items is None:  # its items are unknown, not none
                    result.fail(link, LinkTargetMissing(
                        self.name, f"GitHub has no milestone {canonical!r} (deleted, or its "
                        f"repository is gone or not visible to this connector's token)",
                        key=link.key))
                    continue
            else:
                if isinstance(ranges, UpstreamError):
                    return ranges
                items = ranges.get(mapping.parse_compare_key(canonical), Records())
            result[link] = list(items)
            for dropped in items.dropped:
                result.drop(link, dropped)
        return result

    async def versions(self, containers: Sequence[str]) -> list[VersionRef]:
        """Every milestone (open and closed) of each `owner/repo`."""
        repos = [r for r in dict.fromkeys(containers) if self._valid_repository(r)]
        found = await self._all([self._repo_milestones(r) for r in repos])
        return [version for group in found for version in group]

    async def answer_deployment_gate(self, callback: str, environment: str, approved: bool,
                                     comment: str) -> None:
        """`POST .../actions/runs/{run}/deployment_protection_rule` at the URL GitHub gave;
        a URL off this instance's host is refused by the HTTP layer (the token goes with it)."""
        if not _GATE_CALLBACK.search(httpx.URL(callback).path):
            raise UpstreamBadResponse(self.name, "a deployment gate's callback must be a "
                                      "deployment_protection_rule URL of a workflow run")
        response = await self.http.request(
            "POST", callback, json={"environment_name": environment,
                                    "state": "approved" if approved else "rejected",
                                    "comment": comment[:1024]}, accept=frozenset({422}))
        if response.status_code == 422:  # already answered (by another replica): fine
            return
        if response.status_code not in (200, 204):
            raise self.http.unexpected(response)

    async def deployments(self, repositories: Sequence[str],
                          environment: str | None = None) -> list[Deployment]:
        """Deployments of each `owner/repo` (newest first), with their latest state;
        an unknown repository has none."""
        read = DeploymentsRead(tuple(repositories), environment)
        return _answer_of((await self.fetch_batch([read]))[0], Records)

    async def merged_work(self, repositories: Sequence[str],
                          since: datetime) -> list[PullRequest]:
        """Pull requests of each `owner/repo` merged at or after `since`, with their first
        commit: one GraphQL request per B repositories, newest updates first, paged
        until a page reaches back before `since` (a merge updates its pull request)."""
        repos = [r for r in dict.fromkeys(repositories) if self._valid_repository(r)]
        chunks = [repos[i:i + self.graphql_batch]
                  for i in range(0, len(repos), self.graphql_batch)]
        found: dict[str, Records[PullRequest]] = {}
        for part in await self._all([self._merged_chunk(c, since) for c in chunks]):
            found.update(part)
        return Records([pull for repo in repos for pull in found.get(repo, [])],
                       [error for repo in repos for error in found.get(repo, Records()).dropped])

    async def _merged_chunk(self, chunk: list[str], since: datetime
                            ) -> dict[str, Records[PullRequest]]:
        found: dict[str, Records[PullRequest]] = {}
        cursors: dict[str, str | None] = dict.fromkeys(chunk)
        while cursors:
            cursors = await self._merged_round(cursors, since, found)
        return found

    async def _merged_round(self, cursors: Mapping[str, str | None], since: datetime,
                            found: dict[str, Records[PullRequest]]) -> dict[str, str | None]:
        """One page of merged pull requests per repository; the cursors of those to go on."""
        params: list[str] = []
        parts: list[str] = []
        variables: dict[str, Any] = {}
        repos = list(cursors)
        for i, repo in enumerate(repos):
            owner, name = mapping.parse_repository(repo)
            params += [f"$o{i}: String!", f"$r{i}: String!", f"$a{i}: String"]
            variables.update({f"o{i}": owner, f"r{i}": name, f"a{i}": cursors[repo]})
            parts.append(
                f"w{i}: repository(owner: $o{i}, name: $r{i}) {{ "
                f"pullRequests(first: {self.page_size}, after: $a{i}, states: [MERGED], "
                f"orderBy: {_RECENTLY_UPDATED}) {{ {_PAGE_INFO} nodes {{ {_MERGED_FIELDS} }} }} }}")
        data = await self._graphql(f"query({', '.join(params)}) {{ {' '.join(parts)} }}",
                                   variables)
        more: dict[str, str | None] = {}
        with self._reading("merged pull request"):
            for i, repo in enumerate(repos):
                answer = data.get(f"w{i}")
                if not isinstance(answer, Mapping):
                    continue  # no such repository (or not visible to this token)
                connection = answer["pullRequests"]
                into = found.setdefault(repo, Records())
                oldest: datetime | None = None
                for node in connection["nodes"]:
                    if node is None:
                        continue
                    try:
                        pull = mapping.pull_from_graphql(node, source=self.name,
                                                         repository=repo,
                                                         status_map=self.settings.status_map)
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        into.dropped.append(self._unreadable(repo, "pullRequests", node, exc))
                        continue
                    oldest = pull.updated_at if oldest is None else min(oldest, pull.updated_at)
                    if pull.merged_at is not None and pull.merged_at >= since:
                        into.append(pull)
                page = connection["pageInfo"]
                if page["hasNextPage"] and (oldest is None or oldest >= since):
                    if not page.get("endCursor"):
                        raise ValueError("a next page without a cursor")
                    more[repo] = page["endCursor"]
        return more

    # ------------------------------------------------------------------ milestones

    async def _graph_reads(self, milestones: list[MilestoneKey],
                           repositories: list[tuple[str, str | None]]
                           ) -> tuple[dict[MilestoneKey, Records[WorkItem]],
                                      dict[tuple[str, str | None], Records[Deployment]]]:
        """First pages of every milestone and every repository's deployments together,
        in as few documents as the limits allow; then rounds for the longer ones."""
        found: dict[MilestoneKey, Records[WorkItem]] = {}
        deployed: dict[tuple[str, str | None], Records[Deployment]] = {}
        firsts: list[MilestoneKey | tuple[str, str | None]] = [*milestones, *repositories]
        shapes = [self._milestone_part(0) if isinstance(item, MilestoneKey)
                  else self._deployment_part(0) for item in firsts]
        chunks = self._pack(list(zip(firsts, shapes, strict=True)))
        # One document (the usual case) is sent from here, not from a task a turn later.
        rounds = [await self._first_pages(chunks[0], found, deployed)] if len(chunks) == 1 \
            else await self._all([self._first_pages(chunk, found, deployed) for chunk in chunks])
        follow = [more for part, _ in rounds for more in part]
        cursors = {key: cursor for _, part in rounds for key, cursor in part.items()}
        if follow or cursors:  # else the answer is whole: no tasks, no turns after it
            await self._all([self._follow_all(follow, found),
                             self._deployment_pages(cursors, deployed)])
        return found, deployed

    async def _first_pages(self, chunk: list[MilestoneKey | tuple[str, str | None]],
                           found: dict[MilestoneKey, Records[WorkItem]],
                           deployed: dict[tuple[str, str | None], Records[Deployment]]
                           ) -> tuple[list[_Follow], dict[tuple[str, str | None], str]]:
        """One document: milestones' first pages (`m{i}`) and deployments' (`d{i}`)."""
        params: list[str] = []
        parts: list[str] = []
        variables: dict[str, Any] = {}
        for i, item in enumerate(chunk):
            if isinstance(item, MilestoneKey):
                params += [f"$o{i}: String!", f"$r{i}: String!", f"$n{i}: Int!"]
                variables.update({f"o{i}": item.owner, f"r{i}": item.repo, f"n{i}": item.number})
                parts.append(self._milestone_part(i))
            else:
                parts.append(self._deployment_part(i))
                self._deployment_variables(i, item, None, params, variables)
        data = await self._graphql(f"query({', '.join(params)}) {{ {' '.join(parts)} }}",
                                   variables)
        follow: list[_Follow] = []
        cursors: dict[tuple[str, str | None], str] = {}
        with self._reading("milestone"):
            for i, item in enumerate(chunk):
                if not isinstance(item, MilestoneKey):
                    continue
                repo = data.get(f"m{i}")
                milestone = repo.get("milestone") if isinstance(repo, Mapping) else None
                if not isinstance(milestone, Mapping):
                    continue  # no such repository or milestone
                items = found.setdefault(item, Records())
                for name in _CONNECTION_FIELDS:
                    follow += self._read(item, name, milestone[name], milestone["title"], items)
        with self._reading("deployment"):
            for i, item in enumerate(chunk):
                if isinstance(item, MilestoneKey):
                    continue
                cursor = self._read_deployments(data.get(f"d{i}"), item, None, deployed)
                if cursor is not None:
                    cursors[item] = cursor
        return follow, cursors

    async def _follow_all(self, follow: list[_Follow],
                          found: dict[MilestoneKey, Records[WorkItem]]) -> None:
        """Rounds of next pages until no milestone connection has more."""
        while follow:
            batches = self._documents(follow, self._follow_part(0, "issues"))
            rounds = await self._all([self._follow_up(batch, found) for batch in batches])
            follow = [more for part in rounds for more in part]

    async def _follow_up(self, batch: list[_Follow],
                         found: dict[Any, Records[WorkItem]]) -> list[_Follow]:
        params: list[str] = []
        parts: list[str] = []
        variables: dict[str, Any] = {}
        for i, item in enumerate(batch):
            key = item.key
            params += [f"$o{i}: String!", f"$r{i}: String!", f"$n{i}: Int!", f"$a{i}: String!"]
            variables.update({f"o{i}": key.owner, f"r{i}": key.repo, f"n{i}": key.number,
                              f"a{i}": item.cursor})
            parts.append(self._follow_part(i, item.connection))
        data = await self._graphql(f"query({', '.join(params)}) {{ {' '.join(parts)} }}",
                                   variables)
        more: list[_Follow] = []
        with self._reading("milestone page"):
            for i, item in enumerate(batch):
                repo = data.get(f"f{i}")
                milestone = repo.get("milestone") if isinstance(repo, Mapping) else None
                if not isinstance(milestone, Mapping):
                    raise self._bad(f"milestone {item.key.repository}#{item.key.number} "
                                    "vanished while it was being paged")
                more += self._read(item.key, item.connection, milestone[item.connection],
                                   item.title, found.setdefault(item.key, Records()))
        return more

    def _read(self, key: MilestoneKey, name: str, connection: Mapping[str, Any], title: str,
              into: Records[WorkItem]) -> list[_Follow]:
        """Map one page of a connection, item by item; the follow-up it needs, if any."""
        mapper = mapping.issue_from_graphql if name == "issues" else mapping.pull_from_graphql
        for node in connection["nodes"]:
            if node is None:  # an item the token may not see
                continue
            try:
                into.append(mapper(node, source=self.name, repository=key.repository,
                                   milestone=title, status_map=self.settings.status_map))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                into.dropped.append(self._unreadable(key.repository, name, node, exc))
        page = connection["pageInfo"]
        if page["hasNextPage"]:
            if not page.get("endCursor"):
                raise ValueError("a next page without a cursor")
            return [_Follow(key, name, page["endCursor"], title)]
        return []

    # ------------------------------------------------------------------ compare ranges

    async def _compare_items(self, keys: Any) -> dict[Any, Records[WorkItem]]:
        unique: list[CompareKey] = list(dict.fromkeys(keys))
        numbers = await self._all([self._compare_numbers(key) for key in unique])
        wanted = [(key.owner, key.repo, n) for key, found in zip(unique, numbers, strict=True)
                  for n in found]
        pulls = await self._pulls(list(dict.fromkeys(wanted)))
        result: dict[Any, Records[WorkItem]] = {}
        for key, found in zip(unique, numbers, strict=True):
            items: Records[WorkItem] = Records()
            for n in found:
                pull = pulls.get((key.owner, key.repo, n))
                if isinstance(pull, UpstreamError):
                    items.dropped.append(pull)
                elif pull is not None:
                    items.append(pull)
            result[key] = items
        return result

    async def _compare_numbers(self, key: CompareKey) -> list[int]:
        """Numbers of the pull requests whose merges lie in the range, in merge order."""
        path = api_path("repos", segment(key.owner), segment(key.repo), "compare",
                        segment(key.basehead))
        messages: list[str] = []
        async for body in self._rest_pages(path, {"per_page": self.page_size, "page": 1}):
            if body is None:
                return []  # an unknown ref: nothing is in the range
            with self._reading("compare"):
                messages += [commit["commit"]["message"] for commit in body["commits"]]
        return mapping.pull_numbers(messages)

    async def _pulls(self, wanted: list[tuple[str, str, int]]
                     ) -> dict[tuple[str, str, int], PullRequest | UpstreamError]:
        """Pull requests by (owner, repo, number), at most 100 per GraphQL request;
        one that cannot be read is its error."""
        chunks = [wanted[i:i + 100] for i in range(0, len(wanted), 100)]
        found: dict[tuple[str, str, int], PullRequest | UpstreamError] = {}
        for part in await self._all([self._pull_chunk(chunk) for chunk in chunks]):
            found.update(part)
        return found

    async def _pull_chunk(self, chunk: list[tuple[str, str, int]]
                          ) -> dict[tuple[str, str, int], PullRequest | UpstreamError]:
        repos: dict[tuple[str, str], list[int]] = {}
        for owner, repo, number in chunk:
            repos.setdefault((owner, repo), []).append(number)
        params: list[str] = []
        parts: list[str] = []
        variables: dict[str, Any] = {}
        for i, ((owner, repo), numbers) in enumerate(repos.items()):
            params += [f"$o{i}: String!", f"$r{i}: String!"]
            variables.update({f"o{i}": owner, f"r{i}": repo})
            pulls = " ".join(f"p{n}: pullRequest(number: {n}) {{ {_PULL_FIELDS} }}"
                             for n in numbers)
            parts.append(f"r{i}: repository(owner: $o{i}, name: $r{i}) {{ {pulls} }}")
        data = await self._graphql(f"query({', '.join(params)}) {{ {' '.join(parts)} }}",
                                   variables)
        found: dict[tuple[str, str, int], PullRequest | UpstreamError] = {}
        with self._reading("pull request"):
            for i, ((owner, repo), numbers) in enumerate(repos.items()):
                answer = data.get(f"r{i}")
                if not isinstance(answer, Mapping):
                    continue
                for number in numbers:
                    node = answer.get(f"p{number}")
                    if node is None:  # `(#N)` named an issue, or a pull request elsewhere
                        continue
                    try:
                        found[(owner, repo, number)] = mapping.pull_from_graphql(
                            node, source=self.name, repository=f"{owner}/{repo}",
                            status_map=self.settings.status_map)
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        found[(owner, repo, number)] = self._unreadable(
                            f"{owner}/{repo}", "pullRequests", {"number": number}, exc)
        return found

    # ------------------------------------------------------------------ deployments

    async def _deployment_pages(self, cursors: dict[tuple[str, str | None], str],
                                deployed: dict[tuple[str, str | None], Records[Deployment]]
                                ) -> None:
        """Rounds of next pages until no repository has more deployments."""
        while cursors:
            chunks = self._documents(list(cursors), self._deployment_part(0))
            rounds = await self._all([self._deployment_round({k: cursors[k] for k in chunk},
                                                             deployed) for chunk in chunks])
            cursors = {key: cursor for part in rounds for key, cursor in part.items()}

    async def _deployment_round(self, cursors: Mapping[tuple[str, str | None], str],
                                deployed: dict[tuple[str, str | None], Records[Deployment]]
                                ) -> dict[tuple[str, str | None], str]:
        """One next page per repository; the cursors of those with more pages."""
        params: list[str] = []
        parts: list[str] = []
        variables: dict[str, Any] = {}
        keys = list(cursors)
        for i, key in enumerate(keys):
            parts.append(self._deployment_part(i))
            self._deployment_variables(i, key, cursors[key], params, variables)
        data = await self._graphql(f"query({', '.join(params)}) {{ {' '.join(parts)} }}",
                                   variables)
        more: dict[tuple[str, str | None], str] = {}
        with self._reading("deployment"):
            for i, key in enumerate(keys):
                cursor = self._read_deployments(data.get(f"d{i}"), key, cursors[key], deployed)
                if cursor is not None:
                    more[key] = cursor
        return more

    @staticmethod
    def _deployment_variables(i: int, key: tuple[str, str | None], cursor: str | None,
                              params: list[str], variables: dict[str, Any]) -> None:
        repo, environment = key
        owner, name = mapping.parse_repository(repo)
        params += [f"$o{i}: String!", f"$r{i}: String!", f"$a{i}: String",
                   f"$e{i}: [String!]"]
        variables.update({f"o{i}": owner, f"r{i}": name, f"a{i}": cursor,
                          f"e{i}": [environment] if environment else None})

    def _read_deployments(self, answer: Any, key: tuple[str, str | None], cursor: str | None,
                          deployed: dict[tuple[str, str | None], Records[Deployment]]
                          ) -> str | None:
        """Map one page of a repository's deployments; the next page's cursor, if any."""
        repo = key[0]
        if not isinstance(answer, Mapping):
            if cursor is None:
                return None  # no such repository (or not visible to this token)
            raise ValueError(f"{repo} vanished while its deployments were paged")
        connection = answer["deployments"]
        into = deployed.setdefault(key, Records())
        for node in connection["nodes"]:
            if node is None:
                continue
            try:
                into.append(mapping.deployment_from_graphql(
                    node, source=self.name, repository=repo,
                    repository_url=answer["url"], status_map=self.settings.status_map))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                into.dropped.append(self._unreadable(repo, "deployments", node, exc))
        page = connection["pageInfo"]
        if not page["hasNextPage"]:
            return None
        if not page.get("endCursor"):
            raise ValueError("a next page without a cursor")
        return str(page["endCursor"])

    # ------------------------------------------------------------------ REST lists

    async def _repo_milestones(self, repository: str) -> list[VersionRef]:
        params = {"state": "all", "per_page": self.page_size, "page": 1}
        versions: list[VersionRef] = []
        owner, name = mapping.parse_repository(repository)
        path = api_path("repos", segment(owner), segment(name), "milestones")
        async for body in self._rest_pages(path, params):
            if body is None:
                return []
            with self._reading("milestone"):
                versions += [mapping.version_from_milestone(raw, source=self.name,
                                                            repository=repository)
                             for raw in body]
        return versions

    async def _rest_pages(self, path: str, params: Mapping[str, Any]) -> AsyncIterator[Any]:
        """Each page's JSON, following `Link: rel="next"` verbatim; None once for a 404 of
        the first page (nothing there). A later page's 404 is an error: the list changed
        while it was read (a ref force-pushed, a repository renamed), and the pages before
        it are no answer on their own."""
        url: str = path
        query: Mapping[str, Any] | None = params
        for page in range(1, MAX_PAGES + 1):
            async with self._limit:
                response = await self.http.request("GET", url, params=query,
                                                   headers=REST_HEADERS)
            if response.status_code == 404 and page > 1:
                raise self._bad(f"GET {path}: page {page} answered 404 after {page - 1} "
                                f"read; the list changed while it was read", status=404)
            if response.status_code == 404:
                yield None
                return
            if not response.is_success:
                raise self.http.unexpected(response)
            yield self.http.json(response)
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            url, query = following, None
        raise self._bad(f"GET {path}: more than {MAX_PAGES} pages")

    # ------------------------------------------------------------------ GraphQL

    async def _graphql(self, query: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        """`data` of a read query; NOT_FOUND parts come back as null for the caller to skip."""
        response = await self.http.request(
            "POST", self.graphql_url, json={"query": query, "variables": dict(variables)},
            headers=GRAPHQL_HEADERS, idempotent=True)  # a query changes nothing: safe to repeat
        if not response.is_success:
            raise self.http.unexpected(response)
        body = self.http.json(response)
        if not isinstance(body, Mapping):
            raise self._bad("GraphQL: the answer is not an object")
        errors = [e for e in body.get("errors") or [] if isinstance(e, Mapping)]
        kinds = {e.get("type") for e in errors}
        message = str(errors[0].get("message", ""))[:200] if errors else ""
        if "RATE_LIMITED" in kinds:
            raise self.http.note_error(UpstreamRateLimited(
                self.name, "GraphQL rate limit exhausted", status=200,
                retry_after=retry_after_seconds(response.headers)))
        if "FORBIDDEN" in kinds:
            raise self.http.note_error(UpstreamAuthFailed(self.name, f"GraphQL: {message}",
                                                          status=200))
        data = body.get("data")
        if kinds - {"NOT_FOUND"} or not isinstance(data, Mapping):
            raise self._bad(f"GraphQL query failed: {message}", status=200)
        return data

    # ------------------------------------------------------------------ documents

    def _milestone_part(self, i: int) -> str:
        """Alias `m{i}`: a milestone's first page of issues and of pull requests."""
        connections = " ".join(
            f"{name}(first: {self.page_size}) {{ {_PAGE_INFO} nodes {{ {fields} }} }}"
            for name, fields in _CONNECTION_FIELDS.items())
        return (f"m{i}: repository(owner: $o{i}, name: $r{i}) {{ "
                f"milestone(number: $n{i}) {{ title {connections} }} }}")

    def _follow_part(self, i: int, connection: str) -> str:
        """Alias `f{i}`: the next page of one milestone connection."""
        fields = _CONNECTION_FIELDS[connection]
        return (f"f{i}: repository(owner: $o{i}, name: $r{i}) {{ "
                f"milestone(number: $n{i}) {{ {connection}(first: {self.page_size}"
                f", after: $a{i}) {{ {_PAGE_INFO} nodes {{ {fields} }} }} }} }}")

    def _deployment_part(self, i: int) -> str:
        """Alias `d{i}`: a page of one repository's deployments."""
        return (f"d{i}: repository(owner: $o{i}, name: $r{i}) {{ url "
                f"deployments(first: {self.page_size}, after: $a{i}, environments: $e{i}, "
                f"orderBy: {_NEWEST_FIRST}) {{ {_PAGE_INFO} nodes {{ {_DEPLOYMENT_FIELDS} }} }} }}")

    def _documents(self, items: Sequence[T], part: str) -> list[list[T]]:
        """`items` in as few documents as GitHub's per-call limits allow, each item
        costing what `part` (its alias, the same shape for every item) costs."""
        return self._pack([(item, part) for item in items])

    def _pack(self, items: Sequence[tuple[T, str]]) -> list[list[T]]:
        """Items in order, each costing what its alias's shape costs, in as few documents
        as the alias cap, the node limit and the points budget allow (one at the least)."""
        documents: list[list[T]] = []
        current: list[T] = []
        total = QueryCost(0, 0)
        for item, part in items:
            cost = self._cost(part)
            after = total + cost
            if current and (len(current) >= self.graphql_batch or after.nodes > self.max_nodes
                            or after.requests > self.max_points * 100):
                documents.append(current)
                current, after = [], cost
            current.append(item)
            total = after
        if current:
            documents.append(current)
        return documents

    def _cost(self, part: str) -> QueryCost:
        """What one alias of this shape asks of GitHub (computed once per shape)."""
        cost = self._costs.get(part)
        if cost is None:
            cost = self._costs[part] = query_cost(f"query {{ {part} }}")
        return cost

    # ------------------------------------------------------------------ helpers

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """A payload that lacks what GitHub always sends is a bad response, not a crash."""
        try:
            yield
        except UpstreamError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._bad(
                f"unexpected {what} payload ({type(exc).__name__}: {exc})"[:200]) from None

    def _unreadable(self, repository: str, connection: str, node: Any,
                    exc: Exception) -> UpstreamBadResponse:
        """One record left out: the error names it; the rest of the answer stands.

        Not counted for the breaker: the upstream answered, only this record is odd.
        """
        number = node.get("number") if isinstance(node, Mapping) else None
        ident = node.get("databaseId") or node.get("id") if isinstance(node, Mapping) else None
        if connection == "deployments":
            key = f"{repository} deployment {ident}"
        else:
            key = mapping.item_key(repository, number) if isinstance(number, int) \
                else f"{repository} ({connection} without a number)"
        what = {"issues": "issue", "pullRequests": "pull request"}.get(connection, "deployment")
        return UpstreamBadResponse(self.name, f"{key}: unreadable {what} "
                                   f"({type(exc).__name__}: {exc})"[:300], key=key)

    def _bad(self, message: str, status: int | None = None) -> UpstreamBadResponse:
        """A bad answer, counted in health and the breaker."""
        return self.http.note_error(UpstreamBadResponse(self.name, message, status=status))

    @staticmethod
    def _valid_repository(name: str) -> bool:
        try:
            mapping.parse_repository(name)
        except ValueError:
            return False
        return True

    @staticmethod
    async def _all(calls: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
        """Run concurrently; the first failure cancels the rest and is raised as itself."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(call) for call in calls]
        except BaseExceptionGroup as failed:
            raise _first_error(failed) from None
        return [task.result() for task in tasks]

