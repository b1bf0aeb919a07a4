"""SQLite statements make one trip to aiosqlite's thread, and behave as before.

Each test runs against a real SQLite file through the hub's own engine
(`api.db.engine.create_engine`). Trips are counted at aiosqlite's single door to
its thread (`Connection._execute`), where SQLAlchemy's stock adapter makes four
per statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.db.engine import create_engine

SCHEMA = "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, size INT)"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.execute(text(SCHEMA))
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the functions sent to aiosqlite's thread, in order."""
    sent: list[str] = []
    door = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await door(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield sent


async def test_a_select_is_one_trip_to_the_thread(engine: AsyncEngine, trips: list[str]
                                                  ) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the pool's connection is open from now on
        trips.clear()
        rows = (await conn.execute(text("SELECT 1 AS one, 'two' AS two"))).all()
        assert len(trips) == 1, trips
    assert [tuple(r) for r in rows] == [(1, "two")]


async def test_the_stock_adapter_makes_four_trips_for_the_same_select(
        tmp_path: Path, trips: list[str]) -> None:
    # What the driver saves, measured the same way (this test pins the comparison).
    stock = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'stock.db'}")
    try:
        async with stock.connect() as conn:
            await conn.execute(text("SELECT 1"))
            trips.clear()
            await conn.execute(text("SELECT 1 AS one"))
            assert len(trips) == 4, trips
    finally:
        await stock.dispose()


async def test_rows_keys_counts_and_ids_are_what_sqlite_reports(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO things (name, size) VALUES ('a', 1)"))
        assert inserted.lastrowid == 1
        await conn.execute(text("INSERT INTO things (name, size) VALUES (:n, :s)"),
                           [{"n": "b", "s": 2}, {"n": "c", "s": 3}])  # executemany
        updated = await conn.execute(text("UPDATE things SET size = size * 10 WHERE size > 1"))
        assert updated.rowcount == 2
        returned = await conn.execute(text(
            "DELETE FROM things WHERE name = 'c' RETURNING id, name"))
        assert [tuple(r) for r in returned] == [(3, "c")]
        result = await conn.execute(text("SELECT name, size FROM things ORDER BY id"))
        assert list(result.keys()) == ["name", "size"]
        assert [tuple(r) for r in result] == [("a", 1), ("b", 20)]
        empty = await conn.execute(text("SELECT name FROM things WHERE size > 100"))
        assert empty.all() == [] and list(empty.keys()) == ["name"]


async def test_errors_are_translated_and_the_connection_goes_on(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO things (name) VALUES ('same')"))
        with pytest.raises(IntegrityError, match="UNIQUE"):
            await conn.execute(text("INSERT INTO things (name) VALUES ('same')"))
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM nothing_here"))
        assert (await conn.execute(text("SELECT count(*) FROM things"))).scalar() == 1


async def test_a_streamed_result_still_reads_every_row(engine: AsyncEngine) -> None:
    # stream() takes aiosqlite's own server-side cursor, which the driver leaves alone.
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO things (name, size) VALUES (:n, :s)"),
                           [{"n": f"t{i}", "s": i} for i in range(250)])
    async with engine.connect() as conn:
        streamed = await conn.stream(text("SELECT size FROM things ORDER BY size"))
        sizes = [row[0] async for row in streamed]
    assert sizes == list(range(250))


async def test_after_a_statement_cancelled_on_the_thread_the_connection_answers_again(
        engine: AsyncEngine) -> None:
    # SQLAlchemy gives up a connection whose statement was cancelled; after the rollback it
    # asks for it, the next statement runs on a fresh one.
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        slow = asyncio.ensure_future(conn.execute(text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)"
            " SELECT sum(i) FROM n")))
        await asyncio.sleep(0.005)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        await conn.rollback()
        assert (await conn.execute(text("SELECT 41 + 1"))).scalar() == 42


async def test_statements_of_concurrent_sessions_all_answer(engine: AsyncEngine) -> None:
    async def count(n: int) -> int:
        async with engine.connect() as conn:
            value = (await conn.execute(text("SELECT :n"), {"n": n})).scalar()
            return int(value)

    assert await asyncio.gather(*(count(n) for n in range(40))) == list(range(40))
