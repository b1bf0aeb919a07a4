"""Gzip for the hub's answers: the size worth compressing, and kept answers compressed once.

A kept answer (`api.response_cache`) is sent as the kept `data` followed by its age,
which changes with every request, so gzipping it whole cost every browser request the
whole body again (about 170 µs for a 20 KB answer at level 6). zlib can copy a
compressor midway (`Compress.copy`): the kept part is compressed once, and each request
finishes a copy of that state with its own few bytes, an ordinary gzip stream.

Copying is what each request pays, so the compressor keeps a smaller hash table than
zlib's default (memory level 5, not 8): a copy then takes about 10 µs instead of 120,
for answers about 1% larger. Only the `size` answers asked most recently keep their
compressor (some 150 KB each); the others are compressed again when next asked.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

#: Answers smaller than this go uncompressed: the gzip framing would outweigh the gain.
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 6
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
_MEMORY_LEVEL = 5


@dataclass(frozen=True, slots=True)
class _Started:
    head: bytes  # kept by identity: a new answer under the same key starts afresh
    compressed: bytes  # what the compressor gave for the lead and `head` so far
    compressor: zlib._Compress


class KeptGzip:
    """Gzipped answers that share a head, per key; for one event loop's use."""

    def __init__(self, size: int = 16, level: int = GZIP_LEVEL) -> None:
        self.size = size
        self.level = level
        self._started: OrderedDict[Hashable, _Started] = OrderedDict()
        #: How many heads were compressed (each answer's once while it stays recent).
        self.heads_compressed = 0

    def gzip(self, key: Hashable, lead: bytes, head: bytes, tail: bytes) -> bytes:
        """`lead + head + tail` gzipped. `lead + head` is compressed again only when `head`
        is not the object compressed last under `key`: a kept answer's bytes are one
        object for as long as it is kept, so identity is the test, not equality."""
        started = self._started.get(key)
        if started is None or started.head is not head:
            compressor = zlib.compressobj(self.level, zlib.DEFLATED, _GZIP_WBITS, _MEMORY_LEVEL)
            compressed = compressor.compress(lead) + compressor.compress(head)
            started = _Started(head, compressed, compressor)
            self.heads_compressed += 1
            self._started[key] = started
            if len(self._started) > self.size:
                self._started.popitem(last=False)
        else:
            self._started.move_to_end(key)
        finish = started.compressor.copy()
        return started.compressed + finish.compress(tail) + finish.flush()
