"""The Perforce connector: a release's changelists and the jobs they fix, through Swarm.

It reads Helix Swarm's REST API (v11 changes), which a Perforce site running code
review already serves over HTTP; README `### Perforce` says why not the newer
Helix Core REST API.

Upstream calls for `work_items`: the numeric ranges of one depot path are read
together, as one range spanning them all (`GET /api/v11/changes` with the range
in `rootPath`), and split here by changelist number; a range bounded by labels
is read on its own, since only the server knows where a label lies. So a request
costs one query per depot path (plus one per label range), and more only by
pages (`max` per page, following `lastSeen`), whatever the number of releases.
The reviews of the changes found come after, `review_batch` changes per
`GET /api/v9/reviews` (`change[]`), so their number grows with the changes read,
as pages do, not with the releases; when that call fails the changes stand
without their review state, and the error says so.

Options (`ConnectorConfig.options`): `page_size` (1..1000, default 500),
`web_url` (Swarm's address for people, default `base_url`), `reviews` (default
true; false reads no review states), `review_batch` (1..200, default 100), `mirrored_jobs`
(default false: a job named after a JIRA key its changelist names is the
tracker's issue, counted there, and left out here).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from connectors.base import Answer, Capability, Connector, LinkKind, LinkRef, WorkItem
from connectors.config import ConnectorConfig
from connectors.errors import BadLinkKey, UpstreamBadResponse, UpstreamError
from connectors.http import UpstreamClient
from connectors.perforce import mapping
from connectors.perforce.mapping import HEAD, RangeKey

T = TypeVar("T")
CHANGES = "api/v11/changes"
REVIEWS = "api/v9/reviews"
PROJECTS = "api/v9/projects"
MAX_PAGES = 1000


def _bounded(value: Any, low: int, high: int, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(low, min(high, number))


def root_path(revision_range: str) -> str:
    """Swarm takes the path as URL-safe Base64."""
    return base64.urlsafe_b64encode(revision_range.encode()).decode()


class PerforceConnector(Connector):
    """Perforce (Helix Core through Helix Swarm) as a source of code changes and jobs."""

    kind: ClassVar[str] = "perforce"
    product: ClassVar[str] = "Perforce"
    capabilities = frozenset({Capability.WORK_ITEMS, Capability.CODE_CHANGES})

    def __init__(self, settings: ConnectorConfig, http: UpstreamClient) -> None:
        super().__init__(settings, http)
        options = settings.options
        self.page_size = _bounded(options.get("page_size"), 1, 1000, 500)
        self.web_url = str(options.get("web_url") or settings.base_url)
        self.mirrored_jobs = bool(options.get("mirrored_jobs", False))
        self.read_reviews = bool(options.get("reviews", True))
        self.review_batch = _bounded(options.get("review_batch"), 1, 200, 100)

    # ------------------------------------------------------------------ link keys

    def parse_link(self, kind: LinkKind, key: str) -> str:
        """`//depot/path@from,@to`: changelist numbers or labels, `#head` above; or a
        Swarm project's branch for the path, `swarm:project/branch@from,@to`."""
        text = self.plain_key(key)
        if kind is not LinkKind.CODE_RANGE:
            raise self.wrong_kind(kind, key)
        try:
            return str(mapping.parse_range_key(text))
        except ValueError as exc:
            raise BadLinkKey(self.name, key, str(exc)) from None

    def code_ref(self, kind: LinkKind, key: str) -> tuple[str, str] | None:
        """A range is deployed when its upper bound is."""
        if kind is not LinkKind.CODE_RANGE:
            return None
        try:
            found = mapping.parse_range_key(key)
        except ValueError:
            return None
        return found.path, found.end

    # ------------------------------------------------------------------ protocol

    async def work_items(self, links: Sequence[LinkRef]) -> Mapping[LinkRef, list[WorkItem]]:
        """Changelists in each range and the jobs they fix; a bad key fails only itself."""
        result: Answer[LinkRef, list[WorkItem]] = Answer({link: [] for link in links})
        ranges: dict[LinkRef, RangeKey] = {}
        for link in links:
            if link.kind is not LinkKind.CODE_RANGE:
                continue
            try:
                ranges[link] = mapping.parse_range_key(self.parse_link(link.kind, link.key))
            except BadLinkKey as error:
                result.fail(link, error)
        if any(key.swarm_branch for key in ranges.values()):
            branches = await self._branches()
            for link, key in list(ranges.items()):
                if key.swarm_branch is None:
                    continue
                path = branches.get(key.swarm_branch)
                if path is None:
                    del ranges[link]
                    result.fail(link, BadLinkKey(self.name, link.key,
                                                 "names no branch of a Swarm project"))
                else:
                    ranges[link] = key.on(path)
        queries = self._queries(set(ranges.values()))
        answers = await self._all([self._changes(query) for query in queries])
        by_query = dict(zip(queries, answers, strict=True))
        spans = {query.path: query for query in queries if query.numeric}
        reviews: Mapping[int, Mapping[str, Any]] = {}
        review_error: UpstreamError | None = None
        if self.read_reviews:
            numbers = sorted({int(c["id"]) for found in answers for c in found
                              if isinstance(c.get("id"), int)})
            try:
                reviews = await self._reviews(numbers)
            except UpstreamError as error:
                review_error = error
        for link, key in ranges.items():
            query = spans[key.path] if key.numeric else key
            changes = [c for c in by_query[query]
                       if not key.numeric or key.holds(int(c["id"]))]
            try:
                result[link] = mapping.items_of(
                    changes, source=self.name, path=key.path, web_url=self.web_url,
                    status_map=self.settings.status_map, mirrored_jobs=self.mirrored_jobs,
                    reviews=reviews)
                if review_error is not None and changes:
                    result.drop(link, UpstreamBadResponse(
                        self.name, f"{key}: review states left out ({review_error})"[:300],
                        key=str(key)))
            except (KeyError, TypeError, ValueError) as exc:
                result.fail(link, self._bad(f"{key}: unreadable change "
                                            f"({type(exc).__name__}: {exc})"[:300]))
        return result

    # ------------------------------------------------------------------ queries

    @staticmethod
    def _queries(keys: set[RangeKey]) -> list[RangeKey]:
        """One spanning range per depot path for the numeric ranges; labels on their own."""
        spans: dict[str, RangeKey] = {}
        labelled: list[RangeKey] = []
        for key in sorted(keys):
            if not key.numeric:
                labelled.append(key)
                continue
            seen = spans.get(key.path)
            if seen is None:
                spans[key.path] = key
                continue
            start = str(min(int(seen.start), int(key.start)))
            end = HEAD if HEAD in (seen.end, key.end) else str(max(int(seen.end), int(key.end)))
            spans[key.path] = RangeKey(key.path, start, end)
        return [*spans.values(), *labelled]

    async def _changes(self, query: RangeKey) -> list[Mapping[str, Any]]:
        """Every submitted change of a range, newest first, page by page."""
        params: dict[str, Any] = {"rootPath": root_path(query.revision_range),
                                  "pending": "false", "max": self.page_size}
        found: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            response = await self.http.request("GET", CHANGES, params=params)
            if not response.is_success:
                raise self.http.unexpected(response)
            body = self.http.json(response)
            try:
                data = body["data"]
                page = data["changes"]
                if not isinstance(page, list):
                    raise TypeError("changes is not a list")
                found += [c for c in page if isinstance(c, Mapping)]
                last_seen = data.get("lastSeen")
            except (KeyError, TypeError) as exc:
                raise self._bad(f"unexpected changes payload ({type(exc).__name__}: "
                                f"{exc})"[:200]) from None
            if not last_seen or not page:
                return found
            params = {**params, "after": last_seen}
        raise self._bad(f"{query}: more than {MAX_PAGES} pages")

    async def _branches(self) -> dict[tuple[str, str], str]:
        """Every Swarm project's branches and their depot paths, in one call."""
        response = await self.http.request("GET", PROJECTS, params={
            "fields": "id,branches"})
        if not response.is_success:
            raise self.http.unexpected(response)
        body = self.http.json(response)
        try:
            return mapping.branch_paths(body["projects"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise self._bad(f"unexpected projects payload ({type(exc).__name__}: "
                            f"{exc})"[:200]) from None

    async def _reviews(self, numbers: Sequence[int]) -> dict[int, Mapping[str, Any]]:
        """Reviews naming these changes, `review_batch` changes per request, concurrently."""
        chunks = [numbers[i:i + self.review_batch]
                  for i in range(0, len(numbers), self.review_batch)]
        found: list[Mapping[str, Any]] = []
        for part in await self._all([self._review_chunk(chunk) for chunk in chunks]):
            found += part
        try:
            return dict(mapping.reviews_by_change(found))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._bad(f"unexpected reviews payload ({type(exc).__name__}: "
                            f"{exc})"[:200]) from None

    async def _review_chunk(self, numbers: Sequence[int]) -> list[Mapping[str, Any]]:
        params: dict[str, Any] = {"change[]": list(numbers), "max": 1000}
        found: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            response = await self.http.request("GET", REVIEWS, params=params)
            if not response.is_success:
                raise self.http.unexpected(response)
            body = self.http.json(response)
            try:
                page = body["reviews"]
                if not isinstance(page, list):
                    raise TypeError("reviews is not a list")
                found += [r for r in page if isinstance(r, Mapping)]
                last_seen = body.get("lastSeen")
            except (KeyError, TypeError) as exc:
                raise self._bad(f"unexpected reviews payload ({type(exc).__name__}: "
                                f"{exc})"[:200]) from None
            if not last_seen or not page:
                return found
            params = {**params, "after": last_seen}
        raise self._bad(f"reviews: more than {MAX_PAGES} pages")

    # ------------------------------------------------------------------ helpers

    def _bad(self, message: str) -> UpstreamBadResponse:
        return self.http.note_error(UpstreamBadResponse(self.name, message))

    @staticmethod
    async def _all(calls: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
        """Concurrently; the first failure is raised as itself."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(call) for call in calls]
        except BaseExceptionGroup as failed:
            first: BaseException = failed
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None
        return [task.result() for task in tasks]
