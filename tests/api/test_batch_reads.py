"""When a batch source's call goes out: reads a request's loaders announced go as soon as
they are all in, not after the quiet loop turns a batch waits for unannounced ones."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from api.hub import SETTLE_TURNS, Coalescer, Hub
from api.upstream_loaders import UpstreamLoaders
from connectors.base import (
    BatchRead,
    Deployment,
    DeploymentsRead,
    LinkKind,
    LinkRef,
    WorkItem,
    WorkItemsRead,
)


class _Http:
    credential_fingerprint = "test"


class _Batches:
    """A batch source (work items and deployments) that notes the loop turn of each call
    and the reads it carried."""

    def __init__(self, clock: list[int]) -> None:
        self.http = _Http()
        self.clock = clock
        self.calls: list[tuple[int, list[BatchRead[Any]]]] = []

    async def fetch_batch(self, reads: Sequence[BatchRead[Any]]) -> list[Any]:
        self.calls.append((self.clock[0], list(reads)))
        return [{link: [] for link in read.links} if isinstance(read, WorkItemsRead) else []
                for read in reads]

    async def work_items(self, links: Sequence[LinkRef]) -> dict[LinkRef, list[WorkItem]]:
        raise AssertionError("a batch source is read through fetch_batch")

    async def deployments(self, repositories: Sequence[str],
                          environment: str | None = None) -> list[Deployment]:
        raise AssertionError("a batch source is read through fetch_batch")


async def _turns(clock: list[int]) -> None:
    while True:
        clock[0] += 1
        await asyncio.sleep(0)


def test_a_batch_goes_the_turn_after_its_announced_reads_are_in() -> None:
    async def run(announce: bool) -> int:
        clock = [0]
        source = _Batches(clock)
        batch = Coalescer(source)
        ticking = asyncio.ensure_future(_turns(clock))
        await asyncio.sleep(0)
        if announce:
            batch.expect(WorkItemsRead)
            batch.expect(DeploymentsRead)
        started = clock[0]
        await asyncio.gather(batch.read(WorkItemsRead(())), batch.read(DeploymentsRead(())))
        ticking.cancel()
        assert len(source.calls) == 1 and len(source.calls[0][1]) == 2  # one call for both
        return source.calls[0][0] - started

    announced, quiet = asyncio.run(run(announce=True)), asyncio.run(run(announce=False))
    # The reads join a turn after the start (gather's tasks); the batch goes a turn later.
    assert announced == 2
    assert quiet == announced + SETTLE_TURNS


def test_an_announced_read_that_never_comes_holds_the_batch_no_longer_than_before() -> None:
    async def run() -> int:
        clock = [0]
        source = _Batches(clock)
        batch = Coalescer(source)
        ticking = asyncio.ensure_future(_turns(clock))
        await asyncio.sleep(0)
        batch.expect(WorkItemsRead)
        batch.expect(DeploymentsRead)  # answered from elsewhere: never read here
        started = clock[0]
        await batch.read(WorkItemsRead(()))
        ticking.cancel()
        assert len(source.calls) == 1
        return source.calls[0][0] - started

    assert asyncio.run(run()) == 1 + SETTLE_TURNS  # as an unannounced batch's


def test_a_list_reads_work_items_and_deployments_of_a_batch_source_in_one_early_call() -> None:
    """`start_work_items` and `start_deployments` (what a list's `start_reads` calls)
    announce their reads: the source is called once, with both, sooner than the loaders'
    own reads would make it (they wait the quiet turns)."""
    links = [LinkRef("gh", LinkKind.MILESTONE, f"acme/api#{n}") for n in (1, 2)]
    deployments = [("gh", "acme/api", None), ("gh", "acme/web", None)]

    async def run(started_by_list: bool) -> tuple[int, list[BatchRead[Any]]]:
        clock = [0]
        source = _Batches(clock)
        loaders = UpstreamLoaders(Hub({"gh": source}))  # type: ignore[dict-item]
        ticking = asyncio.ensure_future(_turns(clock))
        await asyncio.sleep(0)
        started = clock[0]
        if started_by_list:
            loaders.start_work_items(links)
            loaders.start_deployments(deployments)
        work, deployed = await asyncio.gather(loaders.work_items.load_many(links),
                                              loaders.deployments.load_many(deployments))
        ticking.cancel()
        assert [w.value for w in work] == [[], []]
        assert [d.value for d in deployed] == [[], []]
        assert len(source.calls) == 1
        turn, reads = source.calls[0]
        return turn - started, reads

    early, reads = asyncio.run(run(started_by_list=True))
    assert sorted(type(read).__name__ for read in reads) == ["DeploymentsRead", "WorkItemsRead"]
    late, _ = asyncio.run(run(started_by_list=False))
    assert late - early >= SETTLE_TURNS, (early, late)
