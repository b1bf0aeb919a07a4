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
    LinkKind,
    WorkItemSource,
)
from connectors.errors import UpstreamBadResponse, UpstreamError
from connectors.records import dropped_from, failures_of

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Fetched(Generic[V]):
    """One key's answer: a value (maybe stale), an error, or both.

    `dropped` names the records the source left out of `value` because they
    could not be read; the value stands without them.
    """

    value: V | None
    error: UpstreamError | None = None
    stale_age: float | None = None  # seconds, when `value` is a stale copy
    dropped: tuple[UpstreamError, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def key_name(key: Any) -> str:
    """How an error names a batch key: a link's key, a change number, a repository."""
    if isinstance(key, str):
        return key
    named = getattr(key, "key", None)
    if isinstance(named, str):
        return named
    if isinstance(key, tuple) and key and isinstance(key[0], str):
        return key[0]
    return str(key)


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

    def parse_link(self, source: str, kind: LinkKind, key: str) -> str:
        """`key` as the source's kind writes it, or `BadLinkKey` saying what is wrong;
        a source with no connector here (none configured) keeps the key as given."""
        connector = self.connectors.get(source)
        return connector.parse_link(kind, key) if connector is not None else key

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

        One key must not cost the others their data: a key the source answers
        with an error (an `Answer`'s `failed`) gets that error alone, and when
        the upstream refuses a whole batch for what it was asked (a 400 or 422:
        one bad key among many), the keys are asked again by halves until the
        key at fault is alone with its error.
        """
        results: dict[tuple[str, K], Fetched[V]] = {}
        wanted: dict[str, list[K]] = defaultdict(list)
        for source, key in keys:
            cache_key = (source, self._credential(source), operation, key)
            entry = self.cache.fresh(cache_key)
            if entry is not None:
                value, dropped = entry.value
                results[(source, key)] = Fetched(value, dropped=dropped)
            elif key not in wanted[source]:
                wanted[source].append(key)

        def failed(source: str, key: K, error: UpstreamError) -> None:
            entry = self.cache.stale((source, self._credential(source), operation, key))
            results[(source, key)] = Fetched(
                entry.value[0] if entry else None, error,
                entry.age(self.cache.now()) if entry else None)

        # Halving splits about log2(n) times per key at fault; past two such keys the
        # upstream refuses most of what it is asked, and is not asked again and again.
        splits = {source: 2 * max(1, len(ks)).bit_length() for source, ks in wanted.items()}

        async def one_source(source: str, source_keys: list[K]) -> None:
            credential = self._credential(source)
            try:
                if source not in self.connectors:
                    raise UpstreamBadResponse(source, "no connector is configured with this name")
                answer = await call(source, source_keys)
            except UpstreamError as error:
                if error.blames_request and len(source_keys) > 1 and splits[source] > 0:
                    splits[source] -= 1
                    half = len(source_keys) // 2
                    await asyncio.gather(one_source(source, source_keys[:half]),
                                         one_source(source, source_keys[half:]))
                    return
                if error.blames_request and error.key is None and len(source_keys) == 1:
                    error = error.for_key(key_name(source_keys[0]))
                for key in source_keys:
                    failed(source, key, error)
                return
            for key in source_keys:
                refused = failures_of(answer, key)
                if refused is not None:
                    failed(source, key, refused)
                    continue
                value = answer.get(key, missing)
                dropped = tuple(dropped_from(answer, key, value))
                self.cache.put((source, credential, operation, key), (value, dropped))
                results[(source, key)] = Fetched(value, dropped=dropped)

        await asyncio.gather(*(one_source(s, ks) for s, ks in wanted.items() if ks))
        return [results[(source, key)] for source, key in keys]

    async def aclose(self) -> None:
        from connectors.registry import close_connectors

        await close_connectors(self.connectors)
