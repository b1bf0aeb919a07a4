"""A clock tests move by hand, for code that takes `clock: Callable[[], float]`.

Breakers, token lifetimes and caches read time through an injected clock, so
a test advances it past a cool-down or a TTL instead of sleeping through one.
"""

from __future__ import annotations


class FakeClock:
    """Monotonic seconds that only move when `advance` is called."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
