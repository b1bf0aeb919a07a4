"""A short cross-request cache of upstream answers that can also serve stale copies.

Fresh entries spare the upstream a call for `ttl` seconds; older ones are kept
up to `max_stale` seconds so a failing source can still be shown, flagged as
stale with its age. Bounded (LRU) so memory stays flat under any query mix.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Entry:
    value: Any
    stored_at: float  # monotonic seconds

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored_at)


class UpstreamCache:
    def __init__(self, *, ttl: float = 15.0, max_stale: float = 3600.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_stale = max_stale
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        #: Bumped by `clear`; an answer fetched before a clear must not be stored after it.
        self.generation = 0
        #: Told of each lookup for a fresh copy, `(key, hit)`: the server's hit ratio.
        self.observer: Callable[[Hashable, bool], None] | None = None
        #: Told after each `clear`: the one hook through which other replicas hear of it
        #: (api/shared_state.py).
        self.on_clear: Callable[[], None] | None = None

    def now(self) -> float:
        return self._clock()

    def fresh(self, key: Hashable) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None or entry.age(self.now()) > self.ttl:
            if self.observer is not None:
                self.observer(key, False)
            return None
        if self.observer is not None:
            self.observer(key, True)
        self._entries.move_to_end(key)
        return entry

    def stale(self, key: Hashable) -> Entry | None:
        """Any copy still within `max_stale`, for when the source has failed."""
        entry = self._entries.get(key)
        if entry is None or entry.age(self.now()) > self.max_stale:
            return None
        return entry

    def put(self, key: Hashable, value: Any, *, generation: int | None = None) -> None:
        """Store `value`; dropped when the cache was cleared since `generation` was read
        (a call still running when a write cleared the cache holds the old truth)."""
        if generation is not None and generation != self.generation:
            return
        self._entries[key] = Entry(value, self.now())
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1
        if self.on_clear is not None:
            self.on_clear()

    def __len__(self) -> int:
        return len(self._entries)
