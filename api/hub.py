"""The hub: configured connectors, and batched, cached, fault-tolerant reads from them.

Resolvers never call a connector directly: they ask the request's loaders,
which call `Hub.fetch_many` once per source with every key the query needs.
Sources are read concurrently; a failing source yields `Fetched` results
that carry its error (and a stale copy when the cache still has one) instead
of failing the whole query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from api.cache import UpstreamCache
from connectors.base import (
    ChangeSource,
    Connector,
    DeploymentSource,
    WorkItemSource,
)
from connectors.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
)

log = logging.getLogger("heatshield.hub")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Fetched(Generic[V]):
    """One key's answer: a value (maybe stale), an error, or both."""

    value: V | None
    error: UpstreamError | None = None
    stale_age: float | None = None  # seconds, when `value` is a stale copy

    @property
    def ok(self) -> bool:
        return self.error is None


class Hub:
    def __init__(self, connectors: Mapping[str, Connector], cache: UpstreamCache | None = None,
                 *, deadline_seconds: float = 5.0, max_background: int = 32) -> None:
        self.connectors = dict(connectors)
        self.cache = cache if cache is not None else UpstreamCache()
        #: How long a request waits for upstream data in all (see `fetch_many`).
        self.deadline_seconds = deadline_seconds
        self.max_background = max_background
        self._background: set[asyncio.Future[Any]] = set()
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    def deadline(self) -> float:
        """The `time.monotonic()` instant a request starting now stops waiting upstream."""
        return time.monotonic() + self.deadline_seconds

    def of_kind(self, protocol: type[Any]) -> dict[str, Any]:
        """The instances that implement a source protocol, by name."""
        return {name: c for name, c in self.connectors.items() if isinstance(c, protocol)}

    def work_item_sources(self) -> dict[str, WorkItemSource]:
        return self.of_kind(WorkItemSource)

    def change_sources(self) -> dict[str, ChangeSource]:
        return self.of_kind(ChangeSource)

    def deployment_sources(self) -> dict[str, DeploymentSource]:
        return self.of_kind(DeploymentSource)

    def _credential(self, source: str) -> str:
        connector = self.connectors.get(source)
        return connector.http.credential_fingerprint if connector else ""

    async def fetch_many(
        self,
        operation: str,
        keys: Sequence[tuple[str, K]],
        call: Callable[[str, list[K]], Awaitable[Mapping[K, V]]],
        *,
        missing: V | None = None,
        deadline: float | None = None,
    ) -> list[Fetched[V]]:
        """Answer `(source, key)` pairs with one `call(source, keys)` per source.

        Fresh cache entries are used as they are; the rest of each source's
        keys go upstream in one call, all sources concurrently. A key the
        source does not return gets `missing`. `deadline` (a `time.monotonic()`
        instant) bounds the wait: a source still working then answers from the
        stale copy (or empty) with `UpstreamTimeout`, and its call goes on in the
        background so its answer fills the cache for the next request.
        """
        results: dict[tuple[str, K], Fetched[V]] = {}
        wanted: dict[str, list[K]] = defaultdict(list)
        for source, key in keys:
            cache_key = (source, self._credential(source), operation, key)
            entry = self.cache.fresh(cache_key)
            if entry is not None:
                results[(source, key)] = Fetched(entry.value)
            elif key not in wanted[source]:
                wanted[source].append(key)

        calls = {source: self._call(operation, source, source_keys, call, missing)
                 for source, source_keys in wanted.items() if source_keys}
        if calls:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait(calls.values(), timeout=wait)
            except asyncio.CancelledError:
                for task in calls.values():
                    self._leave_running(task)
                raise
        for source, task in calls.items():
            if not task.done():
                self._leave_running(task)
                error: UpstreamError = UpstreamTimeout(
                    source, f"no answer within the request's deadline "
                            f"({self.deadline_seconds:g} s); it will be cached when it comes")
            elif task.cancelled() or task.exception() is not None:
                failure = task.exception() if not task.cancelled() else None
                if failure is not None and not isinstance(failure, UpstreamError):
                    raise failure
                error = failure or UpstreamTimeout(
                    source, "the call was dropped: too many calls to slow sources are still "
                            "running")
            else:
                for key, value in task.result().items():
                    results[(source, key)] = Fetched(value)
                continue
            credential = self._credential(source)
            for key in wanted[source]:
                entry = self.cache.stale((source, credential, operation, key))
                results[(source, key)] = Fetched(
                    entry.value if entry else None, error,
                    entry.age(self.cache.now()) if entry else None)
        return [results[(source, key)] for source, key in keys]

    def _call(self, operation: str, source: str, keys: list[K],
              call: Callable[[str, list[K]], Awaitable[Mapping[K, V]]],
              missing: V | None) -> asyncio.Future[dict[K, V | None]]:
        """The running call for these keys: requests asking the same at once share one."""
        ident = (source, self._credential(source), operation, tuple(keys))
        running = self._running.get(ident)
        if running is not None and not running.done():
            return running
        task = asyncio.ensure_future(self._fetch(operation, source, keys, call, missing))
        self._running[ident] = task
        task.add_done_callback(lambda done: self._forget(ident, done))
        return task

    def _forget(self, ident: Hashable, task: asyncio.Future[Any]) -> None:
        if self._running.get(ident) is task:
            del self._running[ident]

    async def _fetch(self, operation: str, source: str, keys: list[K],
                     call: Callable[[str, list[K]], Awaitable[Mapping[K, V]]],
                     missing: V | None) -> dict[K, V | None]:
        """One source's call; its answer goes to the cache, whoever still waits for it."""
        credential = self._credential(source)
        generation = self.cache.generation
        if source not in self.connectors:
            raise UpstreamBadResponse(source, "no connector is configured with this name")
        answer = await call(source, keys)
        found: dict[K, V | None] = {}
        for key in keys:
            value = answer.get(key, missing)
            self.cache.put((source, credential, operation, key), value, generation=generation)
            found[key] = value
        return found

    def _leave_running(self, task: asyncio.Future[Any]) -> None:
        """Let a call its request stopped waiting for finish (to fill the cache), within
        the bound; past the bound it is cancelled rather than piled up."""
        if task.done() or task in self._background:
            return
        if len(self._background) >= self.max_background:
            task.cancel()
            task.add_done_callback(_consume)
            return
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        _consume(task)

    @property
    def background_fetches(self) -> int:
        """Calls still running after their request stopped waiting."""
        return len(self._background)

    async def aclose(self) -> None:
        from connectors.registry import close_connectors

        late = list(self._background)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

        await close_connectors(self.connectors)


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a finished background call's outcome so asyncio does not warn about it;
    its failure is in the connector's health already."""
    if task.cancelled():
        return
    failure = task.exception()
    if failure is not None and not isinstance(failure, UpstreamError):
        log.error("a background upstream call failed", exc_info=failure)
