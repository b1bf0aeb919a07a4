"""Requests to upstreams go on the wire in the order they start (`connectors.http.turns`),
shown with real clients against a server on a loopback socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.errors import UpstreamUnavailable
from connectors.http import RetryPolicy, UpstreamClient
from connectors.http.turns import SendTurns, turns_for
from tests.support.hub_process import free_port
from tests.support.server import serve_asgi

#: Long enough that a test passes only if a turn ends for its reason, not by the clock.
FOREVER = 30.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    async def echo(request: Request) -> Response:
        return JSONResponse({"got": (await request.body()).decode()})

    with serve_asgi(Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"])])) as url:
        yield url


class Recording(httpx.AsyncHTTPTransport):
    """A real transport that notes when each request starts being sent and when its
    body is written (httpcore's trace events)."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = request.url.params["n"]
        self.events.append(f"start {name}")
        earlier = request.extensions.get("trace")

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event.endswith("send_request_body.complete"):
                self.events.append(f"written {name}")
            if earlier is not None:
                await earlier(event, info)

        request.extensions["trace"] = trace
        return await super().handle_async_request(request)


class NoTurns(SendTurns):
    """What the layer did before turns: every call sends at once."""

    @asynccontextmanager
    async def turn(self, request: httpx.Request) -> AsyncIterator[None]:
        yield


async def send_together(upstream: str, turns: SendTurns, names: str = "abc",
                        note_builds: bool = False) -> list[str]:
    """Three clients (three upstreams, as a dashboard query asks) start a call each at
    once; the order in which their requests started and were written (and were built,
    with `note_builds`)."""
    events: list[str] = []
    clients = [UpstreamClient(name, upstream, transport=Recording(events), turns=turns,
                              retry=RetryPolicy(max_retries=0)) for name in names]
    if note_builds:
        for client in clients:
            build = client._client.build_request

            def noted(*args: Any, _name: str = client.name,
                      _build: Callable[..., httpx.Request] = build,
                      **kwargs: Any) -> httpx.Request:
                events.append(f"build {_name}")
                return _build(*args, **kwargs)

            client._client.build_request = noted  # type: ignore[method-assign]
    try:
        await asyncio.gather(*(c.request("POST", "/echo", params={"n": c.name},
                                         json={"from": c.name}) for c in clients))
        # Connections are open now, as in a running hub; this is the round that counts.
        events.clear()
        await asyncio.gather(*(c.request("POST", "/echo", params={"n": c.name},
                                         json={"from": c.name}) for c in clients))
    finally:
        for client in clients:
            await client.aclose()
    return events


async def test_each_request_is_written_before_the_next_one_starts(upstream: str) -> None:
    assert await send_together(upstream, SendTurns(hold=FOREVER)) == [
        "start a", "written a", "start b", "written b", "start c", "written c"]


async def test_a_call_started_while_a_request_is_written_builds_its_own_after_that_write(
        upstream: str) -> None:
    events = await send_together(upstream, SendTurns(hold=FOREVER), names="ab",
                                 note_builds=True)
    assert events == ["build a", "start a", "written a", "build b", "start b", "written b"]


async def test_waiting_for_a_free_turn_costs_nothing_when_none_is_held_and_ends_at_the_hold(
        ) -> None:
    turns = SendTurns(hold=0.05)
    free = turns.wait_free()
    with pytest.raises(StopIteration):  # done at its first step: no loop turn is spent
        free.send(None)
    async with turns.turn(request()):
        waited = asyncio.get_running_loop().time()
        await asyncio.wait_for(turns.wait_free(), timeout=10)  # the turn is still held
        assert asyncio.get_running_loop().time() - waited >= 0.04


async def test_without_turns_the_first_request_waits_for_all_the_others_to_be_built(
        upstream: str) -> None:
    events = await send_together(upstream, NoTurns())
    assert events.index("written a") > events.index("start c")


async def test_a_request_that_fails_to_connect_passes_the_turn_at_once(upstream: str) -> None:
    turns = SendTurns(hold=FOREVER)
    refused = UpstreamClient("gone", f"http://127.0.0.1:{free_port()}", turns=turns,
                             retry=RetryPolicy(max_retries=0))
    live = UpstreamClient("live", upstream, turns=turns, retry=RetryPolicy(max_retries=0))
    try:
        failed, answered = await asyncio.wait_for(asyncio.gather(
            refused.request("GET", "/echo"), live.request("GET", "/echo"),
            return_exceptions=True), timeout=10)
    finally:
        await refused.aclose()
        await live.aclose()
    assert isinstance(failed, UpstreamUnavailable)
    assert isinstance(answered, httpx.Response) and answered.status_code == 200


def request() -> httpx.Request:
    return httpx.Request("GET", "http://upstream.invalid/")


async def test_a_request_that_never_gets_written_holds_the_others_only_for_the_hold() -> None:
    turns = SendTurns(hold=0.05)
    holding, second_in = asyncio.Event(), asyncio.Event()

    async def stuck() -> None:  # as a call waiting for a free connection of a full pool
        async with turns.turn(request()):
            holding.set()
            await asyncio.sleep(FOREVER)

    async def next_call() -> None:
        await holding.wait()
        async with turns.turn(request()):
            second_in.set()

    first = asyncio.ensure_future(stuck())
    await asyncio.wait_for(next_call(), timeout=10)
    assert second_in.is_set() and not first.done()
    first.cancel()


async def test_calls_queued_behind_a_hung_upstream_delay_another_by_one_hold_not_all(
        ) -> None:
    # Twenty calls to a hung upstream wait for its full pool, each holding its turn for
    # the whole hold: one after another, 20 x 0.5 s. A call to a healthy upstream
    # behind them waits at most one hold, then goes without a turn.
    turns = SendTurns(hold=0.5)
    stuck_calls = 20

    async def stuck() -> None:
        async with turns.turn(request()):
            await asyncio.sleep(FOREVER)

    queued = [asyncio.ensure_future(stuck()) for _ in range(stuck_calls)]
    await asyncio.sleep(0)
    healthy = asyncio.Event()

    async def healthy_call() -> None:
        async with turns.turn(request()):
            healthy.set()

    try:
        await asyncio.wait_for(healthy_call(), timeout=stuck_calls * turns.hold / 2)
        assert healthy.is_set()
    finally:
        for call in queued:
            call.cancel()
        await asyncio.gather(*queued, return_exceptions=True)


async def test_a_caller_cancelled_while_waiting_does_not_keep_the_turn() -> None:
    turns = SendTurns(hold=FOREVER)
    order: list[str] = []
    release = asyncio.Event()

    async def call(name: str, wait: asyncio.Event | None = None) -> None:
        async with turns.turn(request()):
            order.append(name)
            if wait is not None:
                await wait.wait()

    first = asyncio.ensure_future(call("first", release))
    await asyncio.sleep(0)
    cancelled = asyncio.ensure_future(call("cancelled"))
    given_then_cancelled = asyncio.ensure_future(call("given then cancelled"))
    last = asyncio.ensure_future(call("last"))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0)  # the first call ends and gives the turn to the next waiter,
    given_then_cancelled.cancel()  # which is cancelled before it runs
    await asyncio.wait_for(last, timeout=10)
    await first
    assert order == ["first", "last"]
    assert cancelled.cancelled() and given_then_cancelled.cancelled()


async def test_a_trace_the_caller_set_still_hears_every_event(upstream: str) -> None:
    heard: list[str] = []

    async def trace(event: str, info: dict[str, Any]) -> None:
        heard.append(event)

    async with httpx.AsyncClient() as client:
        sent = client.build_request("GET", f"{upstream}/echo", extensions={"trace": trace})
        async with SendTurns(hold=FOREVER).turn(sent):
            await client.send(sent)
    assert "http11.send_request_body.complete" in heard
    assert sent.extensions["trace"] is trace  # given back as it was


async def test_a_client_without_turns_of_its_own_takes_the_running_loops(
        upstream: str) -> None:
    loop_turns = turns_for(asyncio.get_running_loop())
    assert loop_turns is turns_for(asyncio.get_running_loop())
    loop_turns.hold = FOREVER  # this test's loop: a turn held here ends only when let go
    events: list[str] = []
    client = UpstreamClient("x", upstream, transport=Recording(events),
                            retry=RetryPolicy(max_retries=0))
    let_go = asyncio.Event()

    async def holder() -> None:
        async with loop_turns.turn(request()):
            await let_go.wait()

    holding = asyncio.ensure_future(holder())
    await asyncio.sleep(0)
    try:
        call = asyncio.ensure_future(client.request("GET", "/echo", params={"n": "x"}))
        for _ in range(20):
            await asyncio.sleep(0)
        assert events == []  # waiting for the loop's turn, not sending
        let_go.set()
        await holding
        assert (await asyncio.wait_for(call, timeout=10)).status_code == 200
        assert events == ["start x", "written x"]
    finally:
        let_go.set()
        await client.aclose()
