"""Conditional requests: bodies kept with their ETag, so a revalidated GET costs a 304.

The client sends `If-None-Match` for a kept entry and serves the kept body when
the upstream answers "not modified" (GitHub counts such a 304 against no rate budget).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import httpx

#: The response extension that marks a body served from the cache after a 304.
FROM_CACHE = "heatshield.from_etag_cache"


@dataclass(frozen=True, slots=True)
class Cached:
    """A 200 kept to answer a later 304 with (no hop-by-hop or cookie headers)."""

    etag: str
    status: int
    headers: list[tuple[str, str]]
    content: bytes


@dataclass(slots=True)
class EtagCache:
    """Bounded LRU of validated bodies, keyed by URL, params, credential and headers."""

    max_entries: int = 512
    _entries: OrderedDict[tuple[str, ...], Cached] = field(default_factory=OrderedDict)

    def get(self, key: tuple[str, ...]) -> Cached | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[str, ...], entry: Cached) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def from_etag_cache(response: httpx.Response) -> bool:
    """Whether this response was served from the ETag cache after a 304."""
    return bool(response.extensions.get(FROM_CACHE))
