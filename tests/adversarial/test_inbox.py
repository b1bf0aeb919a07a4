"""The inbox: stored before applied, applied at least once, in order per record, never twice
at once, and nothing lost when a hub dies between receipt and processing.

Each scenario runs against a real migrated database, SQLite and PostgreSQL;
the applier is the test's own, so what was applied, and in which order, is seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db.engine import create_engine, session_factory
from api.db.migrate import upgrade
from api.inbox import Applied, Inbox, decode, encode
from connectors.errors import UpstreamUnavailable
from connectors.records import DeploymentState
from connectors.webhooks import (
    ChangeChanged,
    DeploymentEvent,
    GateRequested,
    WebhookEvent,
    WorkChanged,
)
from tests.support.databases import BACKENDS, fresh_database


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class Recorder:
    """Applies events by noting them; `failing` makes the next applications fail upstream."""

    def __init__(self) -> None:
        self.applied: list[WebhookEvent] = []
        self.failing = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, source: str, event: WebhookEvent) -> Applied:
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            self.failing -= 1
            raise UpstreamUnavailable(source, "the ITSM is down")
        self.applied.append(event)
        return 200, {"status": "processed"}


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


def change(number: str, state: str = "Assess") -> ChangeChanged:
    return ChangeChanged(number=number, state=state)


async def test_a_replay_under_the_same_delivery_id_or_body_is_refused(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    inbox = Inbox(sessions, Recorder())
    first = await inbox.accept("itsm", "d-1", "change", "digest-1", change("CHG1"))

    assert first is not None
    assert await inbox.accept("itsm", "d-1", "change", "digest-2", change("CHG1")) is None
    assert await inbox.accept("itsm", "d-2", "change", "digest-1", change("CHG1")) is None
    assert await inbox.accept("other", "d-1", "change", "digest-1", change("CHG1")) is not None


async def test_events_of_one_record_are_applied_in_the_order_they_arrived(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    recorder = Recorder()
    inbox = Inbox(sessions, recorder)
    older = await inbox.accept("itsm", "d-1", "change", "g1", change("CHG1", "Assess"))
    newer = await inbox.accept("itsm", "d-2", "change", "g2", change("CHG1", "Authorize"))
    other = await inbox.accept("itsm", "d-3", "change", "g3", change("CHG2", "Assess"))
    assert older and newer and other

    assert await inbox.process(newer, held=True) is None  # CHG1's older event goes first
    assert await inbox.process(other, held=True) is not None  # another record need not wait
    assert await inbox.process(older, held=True) is not None
    assert await inbox.drain() == 1

    assert [(e.number, e.state) for e in recorder.applied
            if isinstance(e, ChangeChanged)] == [
        ("CHG2", "Assess"), ("CHG1", "Assess"), ("CHG1", "Authorize")]
    assert await inbox.pending() == 0


async def test_an_event_whose_receiver_died_is_applied_once_its_lease_runs_out(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, recorder = Clock(), Recorder()
    inbox = Inbox(sessions, recorder, lease_seconds=60, now=clock)
    await inbox.accept("itsm", "d-1", "change", "g1", change("CHG1"))  # then the hub died

    assert await inbox.drain() == 0  # still held by the receiver that died
    clock.advance(seconds=61)
    assert await inbox.drain() == 1
    assert recorder.applied == [change("CHG1")]


async def test_an_unreachable_upstream_is_tried_again_after_a_pause_and_nothing_is_lost(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, recorder = Clock(), Recorder()
    recorder.failing = 2
    inbox = Inbox(sessions, recorder, now=clock)
    row = await inbox.accept("itsm", "d-1", "change", "g1", change("CHG1"))
    assert row

    assert await inbox.process(row, held=True) is None  # attempt 1 fails: pause 2 s
    assert await inbox.drain() == 0  # not due yet
    clock.advance(seconds=3)
    assert await inbox.drain() == 0  # attempt 2 fails: pause 4 s
    clock.advance(seconds=5)
    assert await inbox.drain() == 1

    assert recorder.applied == [change("CHG1")]
    assert await inbox.pending() == 0


async def test_an_event_that_keeps_failing_is_given_up_in_the_end(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, recorder = Clock(), Recorder()
    recorder.failing = 100
    inbox = Inbox(sessions, recorder, now=clock, max_attempts=3)
    await inbox.accept("itsm", "d-1", "change", "g1", change("CHG1"))
    clock.advance(seconds=61)

    for _ in range(5):
        await inbox.drain()
        clock.advance(seconds=600)

    assert recorder.applied == [] and recorder.failing == 97  # three attempts, no more
    assert await inbox.pending() == 0


async def test_two_processors_racing_for_one_event_apply_it_once(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    clock = Clock()
    one, two = (Inbox(sessions, recorder, now=clock) for _ in range(2))
    await one.accept("itsm", "d-1", "change", "g1", change("CHG1"))
    clock.advance(seconds=61)  # the receiver's hold has run out: anyone may take it

    racing = asyncio.gather(one.drain(), two.drain())
    await asyncio.sleep(0.2)
    recorder.gate.set()
    applied = await racing

    assert sorted(applied) == [0, 1]
    assert recorder.applied == [change("CHG1")]


async def test_processed_events_are_pruned_after_the_keeping_time_and_pending_ones_never(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, recorder = Clock(), Recorder()
    recorder.failing = 1000
    inbox = Inbox(sessions, recorder, now=clock, keep_days=30, max_attempts=1000)
    done = await inbox.accept("itsm", "d-1", "change", "g1", change("CHG1"))
    stuck = await inbox.accept("itsm", "d-2", "change", "g2", change("CHG2"))
    assert done and stuck
    recorder.failing = 0
    await inbox.process(done, held=True)
    recorder.failing = 1000
    await inbox.process(stuck, held=True)

    clock.advance(days=31)

    assert await inbox.prune() == 1
    assert await inbox.pending() == 1
    # The pruned delivery id is forgotten; the pending one still refuses its replay.
    assert await inbox.accept("itsm", "d-2", "change", "g9", change("CHG2")) is None


@pytest.mark.parametrize("event", [
    ChangeChanged(number="CHG0030001", state="Authorize", approval="approved"),
    WorkChanged(keys=("PAY-1", "PAY-2")),
    GateRequested(repository="acme/pay", ref="v1", environment="production",
                  callback="https://code.example/repos/acme/pay/actions/runs/9/"
                           "deployment_protection_rule", deployment_id="12"),
    DeploymentEvent(reporter="GitHub", repository="acme/pay", ref="v1", environment="prod",
                    state=DeploymentState.SUCCESS, state_label="success", deployment_id="7"),
])
def test_a_stored_event_reads_back_as_it_was_stored(event: WebhookEvent) -> None:
    assert decode(encode(event)) == event
