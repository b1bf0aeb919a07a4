"""Upstream requests go on the wire in the order they start, each before the next is built.

Between `send` and the request's bytes reaching the socket, httpx and httpcore yield to
the loop several times (anyio's lock and stream checkpoints). When a query starts calls
to several upstreams at once, each yield lets the other calls build their requests, so
every request is written only once all of them are built: the call to the slowest
upstream, which bounds the answer, waits for the CPU of every other call first (about
6 ms for the dashboard's five sources, timed at httpcore's writes). Taking turns,
the first request is written after its own preparation only, and none is written later
than before: the same work is done, in order. A call that starts while a turn is held
waits for the turn to be free before it builds its request (`wait_free`): building
one (encoding its body, its URL and headers) is CPU the request on the wire would
otherwise wait for, at each of httpcore's yields (some 1.3 ms for the dashboard's
GitHub document, timed at httpcore's header write).

A turn lasts from a call's start until httpcore reports its body written (the request's
`trace` extension), or reports that it is connecting (a wait on the network, not on the
CPU), or until `hold` seconds pass: a request waiting for a free connection of a full
pool, or for a slow socket, delays the next by at most `hold`. A call waits at most
`hold` for its turn, then goes without one: a queue of calls stuck behind a hung
upstream's full pool, each holding its turn for `hold`, costs any other call at most
`hold`, not `hold` times the queue.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

Trace = Callable[[str, dict[str, Any]], Awaitable[None]]

#: httpcore trace events after which a request no longer needs the CPU to reach the wire.
_DONE = ("send_request_body.complete", ".failed")
_NETWORK_WAITS = ("connection.connect_tcp.started", "connection.connect_unix_socket.started")


class SendTurns:
    """One event loop's turns; `turns_for` gives the running loop's."""

    def __init__(self, hold: float = 0.005) -> None:
        self.hold = hold
        self._taken = False
        self._waiting: deque[asyncio.Future[bool]] = deque()
        #: Calls that wait for the turn to be free before they build a request.
        self._idle: list[asyncio.Future[None]] = []

    async def wait_free(self) -> None:
        """Return once no turn is held, at most `hold` seconds on; at once (without a loop
        turn) when none is."""
        if not self._taken:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._idle.append(waiter)
        timer = loop.call_later(self.hold, _settle, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if waiter in self._idle:
                self._idle.remove(waiter)

    @asynccontextmanager
    async def turn(self, request: httpx.Request) -> AsyncIterator[None]:
        """Hold a turn while `request` is sent; it passes on once the request is written."""
        if not await self._take():
            yield  # waited `hold` for a turn: goes without one
            return
        loop = asyncio.get_running_loop()
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                timer.cancel()
                self._pass()

        timer = loop.call_later(self.hold, release)
        earlier: Trace | None = request.extensions.get("trace")

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event.endswith(_DONE) or event in _NETWORK_WAITS:
                release()
            if earlier is not None:
                await earlier(event, info)

        request.extensions["trace"] = trace
        try:
            yield
        finally:
            release()
            if earlier is None:
                request.extensions.pop("trace", None)
            else:
                request.extensions["trace"] = earlier

    async def _take(self) -> bool:
        """True once the turn is this call's; False if it waited `hold` without one."""
        if not self._taken:
            self._taken = True
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiting.append(waiter)
        timer = loop.call_later(self.hold, self._give_up, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self._pass()  # given the turn as it was cancelled: the next one has it
            elif waiter in self._waiting:  # not yet skipped by a `_pass`
                self._waiting.remove(waiter)
            raise
        finally:
            timer.cancel()

    def _give_up(self, waiter: asyncio.Future[bool]) -> None:
        if not waiter.done():
            self._waiting.remove(waiter)
            waiter.set_result(False)

    def _pass(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self._taken = False
        idle, self._idle = self._idle, []
        for each in idle:
            _settle(each)


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SendTurns] = (
    weakref.WeakKeyDictionary())


def turns_for(loop: asyncio.AbstractEventLoop) -> SendTurns:
    """The turns every client on `loop` shares: the calls of one process take turns
    across upstreams, since they share its CPU."""
    turns = _TURNS.get(loop)
    if turns is None:
        turns = _TURNS[loop] = SendTurns()
    return turns
