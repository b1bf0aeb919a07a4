"""The JIRA connector: issues of fix versions, and project versions, over JIRA's REST API.

Two flavours (`options.flavour`): `cloud` (default) searches with
`POST /rest/api/3/search/jql`; `datacenter` with `POST /rest/api/2/search`.
Either way one batch of links becomes one JQL query per chunk of versions,
asking only for the fields the mapping reads, in the largest page the flavour
serves for them (docs/upstream-limits.md): Cloud 100, Data Center 1,000.

Pages are fetched concurrently, never as a serial chain: Data Center's first
page says the `total`, so the other pages' offsets are known and asked at
once. Cloud's pages carry no total and its `nextPageToken`s form a chain, so a
query expected to fill more than a page is also listed by key (keys-only
pages hold up to 5,000 issues) alongside its first page; the keys beyond that
page are then fetched as concurrent `key in (...)` queries of one page each.
The calls are ceil(issues / page) (+1 for Cloud's listing), in at most two
rounds, and never depend on how many releases asked.

Link keys (`LinkKind.PLANNED_VERSION`): a version id (`"20003"`), which is what
linking stores, or `PROJECT:version name` for hand-written links.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, TypeVar

import httpx

from connectors.base import (
    Answer,
    Capability,
    Connector,
    LinkKind,
    LinkRef,
    SourceHealth,
    VersionRef,
    WorkItem,
)
from connectors.config import ConnectorConfig
from connectors.errors import (
    BadLinkKey,
    ConnectorConfigError,
    LinkTargetMissing,
    UpstreamBadResponse,
    UpstreamError,
)
from connectors.http import UpstreamClient, api_path, has_control, segment
from connectors.jira import mapping
from connectors.jira.webhook import JiraWebhooks

Flavour = Literal["cloud", "datacenter"]
T = TypeVar("T")

_PROJECT_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$|^\d{1,18}$")
_VERSION_ID = re.compile(r"^[0-9]{1,18}$")
#: JIRA's limit on a version name.
_MAX_VERSION_NAME = 255
#: The largest page of issues with the fields the hub reads (docs/upstream-limits.md):
#: Cloud caps field-carrying pages at 100; Data Center's default cap is 1,000.
_MAX_PAGE = {"cloud": 100, "datacenter": 1000}
#: Cloud: the largest page when only issue keys are asked for.
_KEYS_PAGE = 5000
#: How many issues a version is expected to hold before the first answer says so:
#: a Cloud query over more versions than page / this is listed by key at once.
_ISSUES_PER_VERSION = 10
#: Versions whose issue counts a connector remembers from its last fetches, at most.
_KEPT_SIZES = 20_000
#: A chunk planned from remembered counts fills this share of a page: room to grow.
_PACKED_FILL = 0.9


@dataclass(frozen=True, slots=True)
class _Term:
    """One version a link names: by id, or by project and name."""

    version_id: str | None = None
    project: str | None = None
    name: str | None = None

    def jql(self) -> str:
        if self.version_id is not None:
            return self.version_id
        project, name = _quote(self.project or ""), _quote(self.name or "")
        return f"(project = {project} AND fixVersion = {name})"

    def matches(self, project: str, version: mapping.FixVersion) -> bool:
        if self.version_id is not None:
            return version.id == self.version_id
        return (project.casefold() == (self.project or "").casefold()
                and version.name.casefold() == (self.name or "").casefold())


class _Wanted:
    """The links of one `work_items` call, found from the versions an issue names: 1,400
    issues over 200 links would otherwise test every link against every issue."""

    def __init__(self, wanted: Mapping[LinkRef, _Term]) -> None:
        self.links = list(wanted)
        self._by_id: dict[str, list[int]] = {}
        self._by_name: dict[tuple[str, str], list[int]] = {}
        for index, term in enumerate(wanted.values()):
            if term.version_id is not None:
                self._by_id.setdefault(term.version_id, []).append(index)
            else:
                named = ((term.project or "").casefold(), (term.name or "").casefold())
                self._by_name.setdefault(named, []).append(index)

    def of(self, project: str, versions: Iterable[mapping.FixVersion]) -> list[LinkRef]:
        """The links `_Term.matches` would match, in the order they were asked for."""
        hits: set[int] = set()
        for version in versions:
            hits.update(self._by_id.get(version.id, ()))
            hits.update(self._by_name.get((project.casefold(), version.name.casefold()), ()))
        return [self.links[index] for index in sorted(hits)]


def _quote(value: str) -> str:
    """A JQL string literal; quoting every value keeps reserved words and dots inert."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def parse_version_key(key: str) -> _Term:
    """A version id (`20003`) or `PROJECT:version name`; ValueError says what is wrong."""
    key = key.strip()
    if has_control(key):
        raise ValueError("contains a control character")
    if _VERSION_ID.match(key):
        return _Term(version_id=key)
    project, sep, name = key.partition(":")
    project, name = project.strip(), name.strip()
    if not (sep and name and _PROJECT_KEY.match(project)):
        raise ValueError("is neither a JIRA version id (digits) nor PROJECT:version name")
    if len(name) > _MAX_VERSION_NAME:
        raise ValueError(f"has a version name longer than {_MAX_VERSION_NAME} characters")
    return _Term(project=project.upper(), name=name)


def term_for(link: LinkRef) -> _Term | None:
    """What a link key names; None for a key that can name no version."""
    try:
        return parse_version_key(link.key)
    except ValueError:
        return None


def version_jql(terms: Sequence[_Term]) -> str:
    """One bounded query for many versions, in a stable order so pages line up."""
    ids = [t.version_id for t in terms if t.version_id is not None]
    parts = [f"fixVersion in ({', '.join(ids)})"] if ids else []
    parts += [t.jql() for t in terms if t.version_id is None]
    return f"{' OR '.join(parts)} ORDER BY key ASC"


def keys_jql(keys: Sequence[str]) -> str:
    """One query for issues by key (keys come from JIRA's own answer)."""
    return f"key in ({', '.join(keys)}) ORDER BY key ASC"


def _issue_order(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return project, int(number) if number.isdigit() else 0


def _chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


async def _all(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Run concurrently; on the first failure cancel the rest and raise that failure."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class JiraConnector(Connector, JiraWebhooks):
    """A JIRA site as a `WorkItemSource` and `VersionSource`, and a webhook receiver
    (`connectors.jira.webhook`)."""

    kind: ClassVar[str] = "jira"
    product: ClassVar[str] = "JIRA"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.WORK_ITEMS, Capability.WEBHOOKS})
    graph_types: ClassVar[Mapping[str, str]] = {"TrackerIssue": "JiraIssue"}

    def __init__(self, settings: ConnectorConfig, http: UpstreamClient) -> None:
        super().__init__(settings, http)
        options = settings.options
        flavour = options.get("flavour", "cloud")
        if flavour not in ("cloud", "datacenter"):
            raise ConnectorConfigError(
                f"connector {settings.name!r}: options.flavour must be 'cloud' or "
                f"'datacenter', not {flavour!r}")
        self.flavour: Flavour = flavour
        self.api = "3" if flavour == "cloud" else "2"
        self.page_size = self._int_option("page_size", _MAX_PAGE[flavour], 1,
                                          _MAX_PAGE[flavour])
        self.chunk_size = self._int_option("versions_per_query", 500, 1, 1000)
        self.issues_per_version = self._int_option("issues_per_version",
                                                   _ISSUES_PER_VERSION, 1, 5000)
        # What the last `serverInfo` probe said about the site (version, deployment type).
        self._site_details: dict[str, str] = {"flavour": flavour}
        # Issues each version held when last fetched, oldest first (`_plan`, `_remember`).
        self._sizes: dict[_Term, int] = {}

    def _int_option(self, name: str, default: int, low: int, high: int) -> int:
        value = self.settings.options.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConnectorConfigError(
                f"connector {self.name!r}: options.{name} must be an integer "
                f"from {low} to {high}")
        return value

    @property
    def site_url(self) -> str:
        return self.settings.base_url

    # ------------------------------------------------------------------ work items

    def parse_link(self, kind: LinkKind, key: str) -> str:
        """Version links only: the id, or `PROJECT:name` with the project upper-cased."""
        if kind is not LinkKind.PLANNED_VERSION:
            raise self.wrong_kind(kind, key)
        try:
            term = parse_version_key(self.plain_key(key))
        except ValueError as exc:
            raise BadLinkKey(self.name, key, str(exc)) from None
        return term.version_id or f"{term.project}:{term.name}"

    async def work_items(self, links: Sequence[LinkRef]) -> Mapping[LinkRef, list[WorkItem]]:
        """Issues of every fix-version link, in issue-key order.

        Links of other kinds are left out of the result. A link whose version JIRA
        says does not exist (deleted, renamed, or not visible to this account) gets an
        error naming it, not an empty list: its issues are unknown, and a release must
        not look done, or free of blockers, because its version went away. One whose
        key can name no version gets its own error without being sent. An issue
        planned for two linked versions appears under both; an issue that cannot be
        read is left out, with an error naming it.
        """
        result: Answer[LinkRef, list[WorkItem]] = Answer()
        wanted: dict[LinkRef, _Term] = {}
        for link in dict.fromkeys(links):
            if link.kind is not LinkKind.PLANNED_VERSION:
                continue
            result[link] = []
            try:
                wanted[link] = parse_version_key(self.parse_link(link.kind, link.key))
            except BadLinkKey as error:
                result.fail(link, error)  # an old row: never sent upstream
        terms = list(dict.fromkeys(wanted.values()))
        by_version = _Wanted(wanted)
        searched = await _all(self._search(chunk, expect_more)
                              for chunk, expect_more in self._plan(terms))
        gone = {term for _issues, missing in searched for term in missing}
        for link, term in wanted.items():
            if term in gone:
                result.fail(link, LinkTargetMissing(
                    self.name, f"JIRA has no version {link.key!r} (deleted, renamed, or "
                    f"not visible to this connector's account)", key=link.key))
        pages = [issues for issues, _missing in searched]
        raw_by_key: dict[str, dict[str, Any]] = {}
        for found in pages:
            for raw in found:
                key = raw.get("key")
                if isinstance(key, str) and key:
                    raw_by_key[key] = raw
                else:
                    for link in self._links_of(raw, "", by_version):
                        result.drop(link, self._unreadable(None, "a search result issue "
                                                           "has no key"))

        for key in sorted(raw_by_key, key=_issue_order):
            raw = raw_by_key[key]
            project = key.rpartition("-")[0]
            try:
                record = mapping.tracker_issue(raw, source=self.name, site_url=self.site_url,
                                               overrides=self.settings.status_map)
            except mapping.JiraShapeError as exc:
                for link in self._links_of(raw, project, by_version):
                    result.drop(link, self._unreadable(key, str(exc)))
                continue
            for link in self._links_of(raw, project, by_version):
                result[link].append(record)
        self._remember(wanted, result)
        return result

    def _plan(self, terms: list[_Term]) -> list[tuple[list[_Term], bool]]:
        """The searches to send: chunks of versions, and whether each may pass a page.

        When the last fetches told how many issues every one of these versions holds,
        they are packed into chunks that fill a page with a tenth to spare, all asked at
        once: one round (a chunk that outgrew its page reads on as below). Otherwise
        chunks of `versions_per_query`, each listed by key beside its first page when
        it may hold more than a page: two rounds, the fewest calls (Cloud's pages carry
        no total, so nothing else tells how many pages a query has).
        """
        if any(term not in self._sizes for term in terms):
            return [(chunk, len(chunk) * self.issues_per_version > self.page_size)
                    for chunk in _chunks(terms, self.chunk_size)]
        room = max(1, int(self.page_size * _PACKED_FILL))
        plan: list[tuple[list[_Term], bool]] = []
        chunk: list[_Term] = []
        filled = 0
        for term in terms:
            size = self._sizes[term]
            if chunk and (filled + size > room or len(chunk) >= self.chunk_size):
                plan.append((chunk, filled > self.page_size))
                chunk, filled = [], 0
            chunk.append(term)
            filled += size
        if chunk:
            plan.append((chunk, filled > self.page_size))
        return plan

    def _remember(self, wanted: Mapping[LinkRef, _Term],
                  result: Answer[LinkRef, list[WorkItem]]) -> None:
        """How many issues each version held (read or left out), for the next `_plan`."""
        for link, term in wanted.items():
            self._sizes.pop(term, None)
            self._sizes[term] = len(result[link]) + len(result.dropped.get(link, ()))
        while len(self._sizes) > _KEPT_SIZES:
            del self._sizes[next(iter(self._sizes))]

    @staticmethod
    def _links_of(raw: dict[str, Any], project: str, wanted: _Wanted) -> list[LinkRef]:
        """The links an issue belongs to; all of them when its versions cannot be read."""
        try:
            fields = raw.get("fields")
            versions = mapping.fix_versions(fields if isinstance(fields, dict) else {})
        except mapping.JiraShapeError:
            return list(wanted.links)
        return wanted.of(project, versions)

    def _unreadable(self, key: str | None, problem: str) -> UpstreamBadResponse:
        """One issue left out; not counted for the breaker, the rest of the answer stands."""
        return UpstreamBadResponse(self.name, f"unexpected JIRA payload: {problem}", key=key)

    async def _search(self, terms: list[_Term], expect_more: bool
                      ) -> tuple[list[dict[str, Any]], list[_Term]]:
        """All issues of these versions, and the versions JIRA says do not exist (asked
        again without them)."""
        remaining = list(terms)
        while remaining:
            refused, issues = await self._search_all(version_jql(remaining), expect_more)
            if refused is None:
                return issues, [t for t in terms if t not in remaining]
            gone = mapping.missing_values(self.http.json(refused))
            kept = [t for t in remaining if not any(
                (field == "fixversion" and value in (t.version_id, t.name))
                or (field == "project" and t.project is not None
                    and value.casefold() == t.project.casefold())
                for field, value in gone)]
            if len(kept) == len(remaining):
                raise self.http.unexpected(refused)
            remaining = kept
        return [], list(terms)

    async def _search_all(self, jql: str, expect_more: bool
                          ) -> tuple[httpx.Response | None, list[dict[str, Any]]]:
        """Every issue of one query, pages fetched concurrently; a 400 comes back to read."""
        if self.flavour == "datacenter":
            return await self._offset_pages(jql)
        listed = None
        if expect_more:  # the first page and the listing, side by side
            first, listed = await _all([self._token_pages(jql, max_pages=1),
                                        self._key_listing(jql)])
        else:
            first = await self._token_pages(jql, max_pages=1)
        refused, issues, token = first
        if refused is not None or token is None:
            return refused, issues
        if listed is None:  # more than expected: list the keys now
            listed = await self._key_listing(jql)
        if listed[0] is not None:
            return listed[0], []
        have = {raw.get("key") for raw in issues}
        rest = [key for key in (raw.get("key") for raw in listed[1])
                if isinstance(key, str) and key not in have]
        for found in await _all(self._by_keys(chunk)
                                for chunk in _chunks(rest, self.page_size)):
            issues += found
        return None, issues

    def _key_listing(self, jql: str
                     ) -> Awaitable[tuple[httpx.Response | None, list[dict[str, Any]],
                                          str | None]]:
        """Cloud: the keys of every issue a query finds, in pages of up to 5,000."""
        return self._token_pages(jql, fields=["key"], size=_KEYS_PAGE)

    async def _by_keys(self, keys: list[str]) -> list[dict[str, Any]]:
        """Issues by key, one page; keys deleted since they were listed are dropped."""
        remaining = list(keys)
        while remaining:
            refused, issues, _ = await self._token_pages(keys_jql(remaining))
            if refused is None:
                return issues
            gone = {value.upper() for field, value in
                    mapping.missing_values(self.http.json(refused)) if field == "key"}
            kept = [key for key in remaining if key.upper() not in gone]
            if len(kept) == len(remaining):
                raise self.http.unexpected(refused)
            remaining = kept
        return []

    async def _token_pages(self, jql: str, *, fields: Sequence[str] = mapping.SEARCH_FIELDS,
                           size: int | None = None, max_pages: int | None = None
                           ) -> tuple[httpx.Response | None, list[dict[str, Any]], str | None]:
        """Cloud: follow a query's `nextPageToken`s (at most `max_pages`); the issues and
        the token to go on from, or the 400 for the caller to read."""
        issues: list[dict[str, Any]] = []
        token: str | None = None
        seen: set[str] = set()
        pages = 0
        while max_pages is None or pages < max_pages:
            body: dict[str, Any] = {"jql": jql, "fields": list(fields),
                                    "maxResults": size or self.page_size}
            if token is not None:
                body["nextPageToken"] = token
            response = await self._post_search("rest/api/3/search/jql", body)
            if response.status_code == 400:
                return response, [], None
            page = self._read(mapping.cloud_page, self.http.json(response))
            issues += page.issues
            pages += 1
            if page.next_token is None:
                return None, issues, None
            if page.next_token in seen:
                raise self._bad("search paging repeats a nextPageToken")
            seen.add(page.next_token)
            token = page.next_token
        return None, issues, token

    async def _offset_pages(self, jql: str
                            ) -> tuple[httpx.Response | None, list[dict[str, Any]]]:
        """Data Center: the first page says the total; the other pages are asked at once.

        A page may hold fewer issues than asked for while more remain; what such a
        page left out is read on from where it stopped.
        """
        response, first = await self._offset_page(jql, 0)
        if first is None:
            return response, []
        step = max(1, len(first.issues))
        starts = list(range(first.start_at + step, first.total, step))
        pages = [first, *await _all(self._read_offset(jql, start) for start in starts)]
        issues: list[dict[str, Any]] = []
        ends = [*starts, first.total]
        for page, end in zip(pages, ends, strict=True):
            issues += page.issues
            at = page.start_at + len(page.issues)
            while page.issues and at < end:  # a short page: read on to the next start
                page = await self._read_offset(jql, at)
                issues += page.issues
                at = page.start_at + len(page.issues)
        return None, issues

    async def _read_offset(self, jql: str, start: int) -> mapping.OffsetPage:
        response, page = await self._offset_page(jql, start)
        if page is None:  # the query was accepted a moment ago
            raise self.http.unexpected(response)
        return page

    async def _offset_page(self, jql: str, start: int
                           ) -> tuple[httpx.Response, mapping.OffsetPage | None]:
        response = await self._post_search(
            "rest/api/2/search", {"jql": jql, "startAt": start, "maxResults": self.page_size,
                                  "fields": list(mapping.SEARCH_FIELDS)})
        if response.status_code == 400:
            return response, None
        return response, self._read(mapping.offset_page, self.http.json(response))

    async def _post_search(self, path: str, body: dict[str, Any]) -> httpx.Response:
        # A search only reads, so it may be retried like a GET.
        response = await self.http.request("POST", path, json=body, idempotent=True)
        if not response.is_success and response.status_code != 400:
            raise self.http.unexpected(response)
        return response

    # ------------------------------------------------------------------ versions

    async def versions(self, containers: Sequence[str]) -> list[VersionRef]:
        """Versions of each project key (or id), one call per project, concurrently.

        A project that does not exist or is not visible (404), or a container
        that cannot be a project key, contributes nothing.
        """
        projects = list(dict.fromkeys(c.strip().upper() for c in containers
                                      if _PROJECT_KEY.match(c.strip())))
        found = await _all(self._project_versions(p) for p in projects)
        return [ref for refs in found for ref in refs]

    async def _project_versions(self, project: str) -> list[VersionRef]:
        response = await self.http.request(
            "GET", api_path("rest", "api", self.api, "project", segment(project), "versions"))
        if response.status_code == 404:
            return []
        if not response.is_success:
            raise self.http.unexpected(response)
        body = self.http.json(response)
        return self._read(lambda raw: mapping.version_refs(
            raw, source=self.name, site_url=self.site_url, project=project), body)

    # ------------------------------------------------------------------ health

    async def health(self) -> SourceHealth:
        """A `serverInfo` probe that names the site, then the recorded view with its details.

        For the CLI or a background check: the graph reads `recorded_health` only.
        """
        details: dict[str, str] = {"flavour": self.flavour}
        try:
            info = await self.http.get_json(f"rest/api/{self.api}/serverInfo")
        except UpstreamError:
            info = None  # the failure is in the HTTP layer's bookkeeping already
        if isinstance(info, dict):
            for key in ("version", "deploymentType"):
                if isinstance(info.get(key), str):
                    details[key] = info[key]
        self._site_details = details
        return self.recorded_health()

    def recorded_health(self) -> SourceHealth:
        """The HTTP layer's view, with what the last probe (if any) said about the site."""
        return replace(super().recorded_health(), details=dict(self._site_details))

    # ------------------------------------------------------------------ helpers

    def _read(self, reader: Callable[[Any], T], raw: Any) -> T:
        try:
            return reader(raw)
        except mapping.JiraShapeError as exc:
            raise self._bad(str(exc)) from None

    def _bad(self, message: str) -> UpstreamBadResponse:
        """A bad answer, counted in health and the breaker."""
        return self.http.note_error(
            UpstreamBadResponse(self.name, f"unexpected JIRA payload: {message}"))
