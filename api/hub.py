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
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from api.cache import UpstreamCache, tags_for
from api.telemetry import fetch_span
from connectors.base import (
    BatchRead,
    BatchSource,
    ChangeSource,
    Connector,
    DeploymentSource,
    LinkKind,
    WorkItemSource,
)
from connectors.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
)
from connectors.records import dropped_from, failures_of

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger("heatshield.hub")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")

#: Loop turns a source's batch stays open after its latest read. A release's links
#: reach the deployments loader two turns before the work-item loader (which goes
#: through the release-work loader); three leave one turn of room. Each turn delays
#: the batch's call by what the loop runs in it (1-2 ms while a dashboard resolves).
SETTLE_TURNS = 3


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


class Coalescer:
    """One source's reads for one execution, sent as one `fetch_batch` call.

    DataLoaders batch the keys of one kind; the loaders of several kinds that
    wait on the same database batch dispatch a loop turn or two apart, so reads
    gather here until `settle` turns pass with none new, then go to the source
    together (e.g. one GraphQL document for milestones and deployments). A caller
    that knows which reads it started (a list's `start_reads`) announces them
    (`expect`), and the batch goes as soon as they are all in.
    """

    def __init__(self, source: BatchSource, settle: int = SETTLE_TURNS) -> None:
        self.source = source
        self.settle = settle
        self._pending: list[tuple[BatchRead[Any], asyncio.Future[Any]]] = []
        self._quiet = 0
        self._flushing: asyncio.Task[None] | None = None
        #: Reads announced by `expect` and not joined yet, by kind; None: none announced.
        self._expected: dict[type[Any], int] | None = None

    def expect(self, kind: type[BatchRead[Any]]) -> None:
        """Announce a read of `kind` on its way (its loader started it): once every
        announced read has joined, the batch goes out at the next loop turn instead of
        after `settle` quiet ones. A read announced and never made (answered from the
        cache meanwhile) costs only that: the batch goes when the turns pass."""
        expected = self._expected if self._expected is not None else {}
        expected[kind] = expected.get(kind, 0) + 1
        self._expected = expected

    async def read(self, read: BatchRead[R]) -> R:
        """`read`'s answer, from the batch it joins; its error (or the batch's) raised."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((read, future))
        self._quiet = 0
        expected = self._expected
        if expected is not None and expected.get(type(read)):
            expected[type(read)] -= 1
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._quiet < self.settle and not self._all_joined():
            self._quiet += 1
            await asyncio.sleep(0)
        batch, self._pending, self._flushing = self._pending, [], None
        self._expected = None
        batch = [(read, future) for read, future in batch if not future.cancelled()]
        if not batch:
            return
        try:
            answers = await self.source.fetch_batch([read for read, _ in batch])
        except Exception as failure:  # every read waits on this one call
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            return
        except BaseException:  # cancelled: so are the reads
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    def _all_joined(self) -> bool:
        """Whether reads were announced and every one has joined."""
        expected = self._expected
        return expected is not None and not any(expected.values())


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
        #: Traces each source's fetch when tracing is on (api/telemetry.py).
        self.tracer: Tracer | None = None

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

    def parse_link(self, source: str, kind: LinkKind, key: str) -> str:
        """`key` as the source's kind writes it, or `BadLinkKey` saying what is wrong;
        a source with no connector here (none configured) keeps the key as given."""
        connector = self.connectors.get(source)
        return connector.parse_link(kind, key) if connector is not None else key

    def _credential(self, source: str) -> str:
        connector = self.connectors.get(source)
        return connector.http.credential_fingerprint if connector else ""

    def cached_many(self, operation: str, keys: Sequence[tuple[str, K]]
                    ) -> list[Fetched[Any]] | None:
        """Every key's answer as `fetch_many` gives it, when each has a fresh copy here;
        else None, and nothing looked up, counted or moved: the caller asks
        `fetch_many` as usual. Answers a read that need not wait for anything."""
        credential = self._credential
        entries = self.cache.fresh_all([(source, credential(source), operation, key)
                                        for source, key in keys])
        if entries is None:
            return None
        return [Fetched(value, dropped=dropped) for value, dropped in (e.value for e in entries)]

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

        One key must not cost the others their data: a key the source answers
        with an error (an `Answer`'s `failed`) gets that error alone, and when
        the upstream refuses a whole batch for what it was asked (a 400 or 422:
        one bad key among many), the keys are asked again by halves until the
        key at fault is alone with its error.
        """
        results: dict[tuple[str, K], Fetched[V]] = {}
        # Insertion-ordered sets: a thousand uncached keys stay linear, not quadratic.
        wanted: dict[str, dict[K, None]] = defaultdict(dict)
        for source, key in keys:
            cache_key = (source, self._credential(source), operation, key)
            entry = self.cache.fresh(cache_key)
            if entry is not None:
                value, dropped = entry.value
                results[(source, key)] = Fetched(value, dropped=dropped)
            else:
                wanted[source][key] = None

        calls = {source: self._call(operation, source, list(source_keys), call, missing)
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
                for key, fetched in task.result().items():
                    results[(source, key)] = fetched
                continue
            for key in wanted[source]:
                results[(source, key)] = self._stale(operation, source, key, error)
        return [results[(source, key)] for source, key in keys]

    def _call(self, operation: str, source: str, keys: list[K],
              call: Callable[[str, list[K]], Awaitable[Mapping[K, V]]],
              missing: V | None) -> asyncio.Future[dict[K, Fetched[V]]]:
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

    def _stale(self, operation: str, source: str, key: K, error: UpstreamError
               ) -> Fetched[V]:
        """A failed key's answer: its stale copy when the cache still has one, unless the
        upstream said the record is gone."""
        entry = None if error.final else self.cache.stale(
            (source, self._credential(source), operation, key))
        if entry is None:
            return Fetched(None, error)
        value, dropped = entry.value
        return Fetched(value, error, entry.age(self.cache.now()), dropped)

    async def _fetch(self, operation: str, source: str, keys: list[K],
                     call: Callable[[str, list[K]], Awaitable[Mapping[K, V]]],
                     missing: V | None) -> dict[K, Fetched[V]]:
        """One source's call; its answers go to the cache, whoever still waits for them."""
        credential = self._credential(source)
        generation = self.cache.generation
        found: dict[K, Fetched[V]] = {}
        # Halving splits about log2(n) times per key at fault; past two such keys the
        # upstream refuses most of what it is asked, and is not asked again and again.
        splits = [2 * max(1, len(keys)).bit_length()]

        async def ask(some: list[K]) -> None:
            try:
                if source not in self.connectors:
                    raise UpstreamBadResponse(source, "no connector is configured with this name")
                answer = await call(source, some)
            except UpstreamError as error:
                if error.blames_request and len(some) > 1 and splits[0] > 0:
                    splits[0] -= 1
                    half = len(some) // 2
                    await asyncio.gather(ask(some[:half]), ask(some[half:]))
                    return
                if error.blames_request and error.key is None and len(some) == 1:
                    error = error.for_key(key_name(some[0]))
                if len(some) == len(keys):
                    raise error from None  # the whole call failed: the source's error
                for key in some:
                    found[key] = self._stale(operation, source, key, error)
                return
            for key in some:
                refused = failures_of(answer, key)
                if refused is not None:
                    found[key] = self._stale(operation, source, key, refused)
                    continue
                value = answer.get(key, missing)
                dropped = tuple(dropped_from(answer, key, value))
                self.cache.put((source, credential, operation, key), (value, dropped),
                               generation=generation,
                               tags=tags_for(source, operation, key_name(key)))
                found[key] = Fetched(value, dropped=dropped)

        with fetch_span(self.tracer, operation, source, len(keys)):
            await ask(keys)
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
    def fetches_in_flight(self) -> int:
        """Upstream calls running now, a request waiting on them or not."""
        return len(self._running)

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
