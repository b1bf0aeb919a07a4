"""Per-request loaders for upstream reads: one hub call per source, whatever N is.

Every release's links, change numbers and repositories asked for during one
request are collected by the DataLoader in the same tick and handed to the
hub as one batch; the hub calls each source once (concurrently) and caches.
A source that answers several kinds at once (`BatchSource`) gets the
request's reads of every kind through one `Coalescer`, so in one call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from strawberry.dataloader import DataLoader

from api.hub import Coalescer, Fetched, Hub
from connectors.base import (
    Answer,
    BatchRead,
    BatchSource,
    ChangeRecord,
    ChangeSource,
    ChangeState,
    Deployment,
    DeploymentSource,
    DeploymentsRead,
    LinkRef,
    TimeWindow,
    WorkItem,
    WorkItemSource,
    WorkItemsRead,
)
from connectors.records import dropped_from

log = logging.getLogger("heatshield.upstream")

ChangeKey = tuple[str, str]  # (source, number)
DeploymentKey = tuple[str, str, str | None]  # (source, repository, environment)
SearchKey = tuple[ChangeState | None, TimeWindow | None]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def item_order(item: WorkItem) -> tuple[str, int, str]:
    """Where a work item stands in a release's list: by key prefix, then by number
    ("PAY-9" before "PAY-10", "acme/api#9" before "acme/api#10")."""
    prefix, _, number = item.key.rpartition("-" if "#" not in item.key else "#")
    return (prefix, int(number) if number.isdigit() else 0, item.key)


def _in_order(items: list[WorkItem]) -> None:
    """A link's items in list order, each key once (the first kept), in place: ordered
    once when read from the source, not by every request that lists them again."""
    unique: dict[str, WorkItem] = {}
    for item in items:
        unique.setdefault(item.key, item)
    items[:] = sorted(unique.values(), key=item_order)


class ListLoader(Generic[K, V]):
    """A request's reads of one kind by key, asked for a list at a time.

    Like a DataLoader, a key is read once per request and its answer kept, and a
    key asked for while its read is running waits for that read. Unlike one, a list
    costs one read and one future, not a future, a batch entry and a context copy
    per key: a list of a thousand releases asks for thousands of links at once
    (`api.schema.federated.work_loader` batches its callers already)."""

    def __init__(self, load_fn: Callable[[list[K]], Awaitable[Sequence[V]]]) -> None:
        self._load_fn = load_fn
        self._known: dict[K, V] = {}
        self._running: dict[K, asyncio.Future[None]] = {}

    async def load(self, key: K) -> V:
        return (await self.load_many([key]))[0]

    async def load_many(self, keys: Sequence[K]) -> list[V]:
        self.start(keys)
        running = self._running
        for wait in {running[key] for key in keys if key in running}:
            await wait
        return [self._known[key] for key in keys]

    def start(self, keys: Sequence[K]) -> list[K]:
        """Start reading the keys not read nor being read yet; `load_many` waits for them.
        Returns the keys it started reading."""
        running = self._running
        missing = [key for key in dict.fromkeys(keys)
                   if key not in self._known and key not in running]
        if missing:
            read = asyncio.ensure_future(self._read(missing))
            read.add_done_callback(_noted)
            for key in missing:
                running[key] = read
        return missing

    async def _read(self, keys: list[K]) -> None:
        try:
            for key, value in zip(keys, await self._load_fn(keys), strict=True):
                self._known[key] = value
        finally:
            for key in keys:
                self._running.pop(key, None)


class UpstreamLoaders:
    """One request's upstream loaders; `deadline` (a `time.monotonic()` instant) is when
    the request stops waiting for upstream data (None: wait for the connectors)."""

    def __init__(self, hub: Hub, deadline: float | None = None) -> None:
        self.hub = hub
        self.deadline = deadline
        self._batches: dict[str, Coalescer] = {}
        self.work_items: ListLoader[LinkRef, Fetched[list[WorkItem]]] = ListLoader(
            self._work_items)
        self.changes: DataLoader[ChangeKey, Fetched[ChangeRecord]] = DataLoader(
            load_fn=self._changes)
        self.deployments: DataLoader[DeploymentKey, Fetched[list[Deployment]]] = DataLoader(
            load_fn=self._deployments)

    async def _work_items(self, refs: list[LinkRef]) -> list[Fetched[list[WorkItem]]]:
        async def call(source: str, keys: list[LinkRef]) -> Mapping[LinkRef, list[WorkItem]]:
            connector = self.hub.connectors[source]
            answer: Mapping[LinkRef, list[WorkItem]]
            if isinstance(connector, BatchSource):
                answer = await self._batch(source, connector).read(WorkItemsRead(tuple(keys)))
            elif isinstance(connector, WorkItemSource):
                answer = await connector.work_items(keys)
            else:
                return {}
            for items in answer.values():
                _in_order(items)
            return answer

        return await self.hub.fetch_many("work_items", [(r.source, r) for r in refs], call,
                                         missing=[], deadline=self.deadline)

    async def _changes(self, keys: list[ChangeKey]) -> list[Fetched[ChangeRecord]]:
        async def call(source: str, numbers: list[str]) -> Mapping[str, ChangeRecord]:
            connector = self.hub.connectors[source]
            if not isinstance(connector, ChangeSource):
                return {}
            return await connector.changes(numbers)

        return await self.hub.fetch_many("changes", keys, call, deadline=self.deadline)

    async def _deployments(self, keys: list[DeploymentKey]
                           ) -> list[Fetched[list[Deployment]]]:
        async def call(source: str, wanted: list[tuple[str, str | None]]
                       ) -> Mapping[tuple[str, str | None], list[Deployment]]:
            connector = self.hub.connectors[source]
            if not isinstance(connector, DeploymentSource):
                return {}
            by_environment: dict[str | None, list[str]] = defaultdict(list)
            for repository, environment in wanted:
                by_environment[environment].append(repository)
            result: Answer[tuple[str, str | None], list[Deployment]] = Answer(
                {key: [] for key in wanted})
            reads = [self._read_deployments(source, connector, repositories, environment)
                     for environment, repositories in by_environment.items()]
            # One environment (a dashboard's) is read from here, not from a task a loop
            # turn later: a batch source's document waits for this read.
            readings = [await reads[0]] if len(reads) == 1 else await asyncio.gather(*reads)
            for (environment, repositories), found in zip(by_environment.items(), readings,
                                                          strict=True):
                for deployment in found:
                    key = (deployment.repository, environment)
                    if key in result:
                        result[key].append(deployment)
                # A deployment left out is named "<repository> ...": its repository's key.
                for dropped in dropped_from(None, None, found):
                    for repository in repositories:
                        if (dropped.key or "").partition(" ")[0] == repository:
                            result.drop((repository, environment), dropped)
            return result

        return await self.hub.fetch_many(
            "deployments", [(s, (r, e)) for s, r, e in keys], call, missing=[],
            deadline=self.deadline)

    def start_work_items(self, refs: Sequence[LinkRef]) -> None:
        """Read these links' work items now, not when a loader's batch dispatches; a
        batch source is told the read is coming, so its batch need not wait turns for
        it (`Coalescer.expect`)."""
        self._announce(WorkItemsRead, {ref.source for ref in self.work_items.start(refs)})

    def start_deployments(self, keys: Sequence[DeploymentKey]) -> None:
        """Read these deployments now, not when the loader's next batch dispatches (two
        loop turns on): each key's future goes in the loader's cache, where its callers
        find it. A batch source's document waits for its last read, so this is when it
        can go out."""
        loader = self.deployments
        wanted = [key for key in dict.fromkeys(keys) if loader.cache_map.get(key) is None]
        if not wanted:
            return
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Fetched[list[Deployment]]]] = []
        for key in wanted:
            futures.append(loop.create_future())
            loader.cache_map.set(key, futures[-1])
        read = asyncio.ensure_future(self._deployments(wanted))
        read.add_done_callback(_noted)
        read.add_done_callback(lambda done: _settle(done, futures))
        # One read per source and environment (`_deployments`).
        for source, _ in dict.fromkeys((source, environment)
                                       for source, _, environment in wanted):
            if isinstance(self.hub.connectors.get(source), DeploymentSource):
                self._announce(DeploymentsRead, {source})

    def _announce(self, kind: type[BatchRead[Any]], sources: set[str]) -> None:
        """Tell each batch source among `sources` a read of `kind` is on its way."""
        for source in sources:
            connector = self.hub.connectors.get(source)
            if isinstance(connector, BatchSource):
                self._batch(source, connector).expect(kind)

    def _batch(self, source: str, connector: BatchSource) -> Coalescer:
        """The request's batch for `source`, made on its first read."""
        if source not in self._batches:
            self._batches[source] = Coalescer(connector)
        return self._batches[source]

    async def _read_deployments(self, source: str, connector: DeploymentSource,
                                repositories: list[str], environment: str | None
                                ) -> list[Deployment]:
        if isinstance(connector, BatchSource):
            return await self._batch(source, connector).read(
                DeploymentsRead(tuple(repositories), environment))
        return await connector.deployments(repositories, environment)

    async def search_changes(self, sources: Sequence[str], key: SearchKey
                             ) -> list[tuple[str, Fetched[list[ChangeRecord]]]]:
        """Every change source's matches, concurrently; not batched across requests."""
        async def call(source: str, keys: list[SearchKey]) -> Mapping[SearchKey, Any]:
            connector = self.hub.connectors[source]
            if not isinstance(connector, ChangeSource):
                return {}
            state, window = keys[0]
            return {keys[0]: await connector.search_changes(state, window)}

        fetched: list[Fetched[list[ChangeRecord]]] = await self.hub.fetch_many(
            "search_changes", [(s, key) for s in sources], call, missing=[],
            deadline=self.deadline)
        return list(zip(sources, fetched, strict=True))


def _settle(read: asyncio.Future[list[V]], futures: Sequence[asyncio.Future[V]]) -> None:
    """Each key's future from a read of them all, as a DataLoader's batch settles them."""
    for index, future in enumerate(futures):
        if future.done():
            continue
        if read.cancelled():
            future.cancel()
        elif (failure := read.exception()) is not None:
            future.set_exception(failure)
            future.exception()  # noted with the read (`_noted`); its waiters still get it
        else:
            future.set_result(read.result()[index])


def _noted(read: asyncio.Future[Any]) -> None:
    """A read's failure is its waiters' to report. A read a list started whose fields never
    waited (the query failed first) would otherwise be reported by asyncio, when the task
    is collected, as an exception nobody retrieved: it is noted here instead."""
    if not read.cancelled() and (failure := read.exception()) is not None:
        log.debug("an upstream read failed: %s", type(failure).__name__)
