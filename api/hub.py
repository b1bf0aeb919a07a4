"""The hub: configured connectors, and batched, cached, fault-tolerant reads from them.

Resolvers never call a connector directly: they ask the request's loaders,
which call `Hub.fetch_many` once per source with every key the query needs.
Sources are read concurrently; a failing source yields `Fetched` results
that carry its error (and a stale copy when the cache still has one) instead
of failing the whole query.
"""

from __future__ import annotations

import asyncio
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
from connectors.errors import UpstreamBadResponse, UpstreamError

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
    def __init__(self, connectors: Mapping[str, Connector], cache: UpstreamCache | None = None
                 ) -> None:
        self.connectors = dict(connectors)
        self.cache = cache if cache is not None else UpstreamCache()

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
    ) -> list[Fetched[V]]:
        """Answer `(source, key)` pairs with one `call(source, keys)` per source.

        Fresh cache entries are used as they are; the rest of each source's
        keys go upstream in one call, all sources concurrently. A key the
        source does not return gets `missing`.
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

        async def one_source(source: str, source_keys: list[K]) -> None:
            credential = self._credential(source)
            try:
                if source not in self.connectors:
                    raise UpstreamBadResponse(source, "no connector is configured with this name")
                answer = await call(source, source_keys)
            except UpstreamError as error:
                for key in source_keys:
                    entry = self.cache.stale((source, credential, operation, key))
                    results[(source, key)] = Fetched(
                        entry.value if entry else None, error,
                        entry.age(self.cache.now()) if entry else None)
                return
            for key in source_keys:
                value = answer.get(key, missing)
                self.cache.put((source, credential, operation, key), value)
                results[(source, key)] = Fetched(value)

        await asyncio.gather(*(one_source(s, ks) for s, ks in wanted.items() if ks))
        return [results[(source, key)] for source, key in keys]

    async def aclose(self) -> None:
        from connectors.registry import close_connectors

        await close_connectors(self.connectors)
