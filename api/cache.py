"""A short cross-request cache of upstream answers that can also serve stale copies.

Fresh entries spare the upstream a call for `ttl` seconds; older ones are kept
up to `max_stale` seconds so a failing source can still be shown, flagged as
stale with its age. Bounded (LRU) so memory stays flat under any query mix.

A write that changes what a source would answer drops only what it affects:
each entry carries tags (its source; its source and operation; and the key
itself, see `tags_for`), and `invalidate(tags)` drops the entries holding any
of them. A call still running when its tags were invalidated holds the old
truth: its answer is not stored (the generation guard of `put`). `listeners`
hear each invalidation (the response cache, a broadcaster to other replicas);
`refreshed` hear when a stored answer was replaced by a different one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

#: ("tracker",), ("tracker", "work_items") or ("tracker", "work_items", "PAY-1").
Tag = tuple[str, ...]
# Tags remembered with the generation that invalidated them, at most; past it the
# whole cache counts as invalidated for calls still running (they store nothing).
_MAX_CUTS = 10_000


def tags_for(source: str, operation: str, key: str | None = None) -> tuple[Tag, ...]:
    """The tags of an entry (with `key`), or the tag naming a source's operation (without)."""
    if key is None:
        return ((source, operation),)
    return (source,), (source, operation), (source, operation, key)


def change_tags(source: str) -> tuple[Tag, ...]:
    """What a change request written in (or reported by) `source` can alter: that source's
    changes read by number and its searches; not its work items or deployments."""
    return tags_for(source, "changes") + tags_for(source, "search_changes")


@dataclass(frozen=True, slots=True)
class Entry:
    value: Any
    stored_at: float  # monotonic seconds
    tags: tuple[Tag, ...] = ()

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
        #: Bumped by each clear and invalidation; an answer fetched before one that
        #: concerns it must not be stored after it.
        self.generation = 0
        self._cleared_at = 0
        self._cut_at: dict[Tag, int] = {}
        self._tagged: dict[Tag, set[Hashable]] = {}
        #: Told of each lookup for a fresh copy, `(key, hit)`: the server's hit ratio.
        self.observer: Callable[[Hashable, bool], None] | None = None
        #: Told of each invalidation, with its tags (none: everything was cleared).
        self.listeners: list[Callable[[tuple[Tag, ...]], None]] = []
        #: Told when an answer replaced a different one kept under the same key.
        self.refreshed: list[Callable[[Hashable], None]] = []

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

    def fresh_all(self, keys: Sequence[Hashable]) -> list[Entry] | None:
        """Each key's fresh entry, as `fresh` gives it (counted, kept in order), when
        every key has one; else None, and nothing counted or moved. Judged at one
        instant: a list's thousands of keys read the clock once."""
        now, ttl, get = self.now(), self.ttl, self._entries.get
        entries = [get(key) for key in keys]
        for entry in entries:
            if entry is None or entry.age(now) > ttl:
                return None
        observer, move = self.observer, self._entries.move_to_end
        for key in keys:
            if observer is not None:
                observer(key, True)
            move(key)
        return cast(list[Entry], entries)

    def stale(self, key: Hashable) -> Entry | None:
        """Any copy still within `max_stale`, for when the source has failed."""
        entry = self._entries.get(key)
        if entry is None or entry.age(self.now()) > self.max_stale:
            return None
        return entry

    def put(self, key: Hashable, value: Any, *, generation: int | None = None,
            tags: Iterable[Tag] = ()) -> None:
        """Store `value`; dropped when the cache was cleared, or one of `tags` invalidated,
        since `generation` was read (a call still running then holds the old truth)."""
        tags = tuple(tags)
        if generation is not None and (self._cleared_at > generation or any(
                self._cut_at.get(tag, 0) > generation for tag in tags)):
            return
        previous = self._drop(key)
        self._entries[key] = Entry(value, self.now(), tags)
        for tag in tags:
            self._tagged.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))
        if previous is not None and previous.value != value:
            for listener in self.refreshed:
                listener(key)

    def _drop(self, key: Hashable) -> Entry | None:
        entry = self._entries.pop(key, None)
        for tag in entry.tags if entry is not None else ():
            keys = self._tagged.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tagged[tag]
        return entry

    def invalidate(self, tags: Iterable[Tag], *, announce: bool = True) -> int:
        """Drop every entry holding one of `tags`, and refuse what calls running now fetch
        for them; the number dropped. `announce=False` keeps it from the listeners (an
        invalidation heard from another replica, not to be told back)."""
        tags = tuple(tags)
        self.generation += 1
        if len(self._cut_at) + len(tags) > _MAX_CUTS:
            self._cut_at.clear()
            self._cleared_at = self.generation
        dropped = 0
        for tag in tags:
            self._cut_at[tag] = self.generation
            for key in list(self._tagged.get(tag, ())):
                self._drop(key)
                dropped += 1
        if announce:
            for listener in self.listeners:
                listener(tags)
        return dropped

    def clear(self, *, announce: bool = True) -> None:
        self._entries.clear()
        self._tagged.clear()
        self._cut_at.clear()
        self.generation += 1
        self._cleared_at = self.generation
        if announce:
            for listener in self.listeners:
                listener(())

    def __len__(self) -> int:
        return len(self._entries)
