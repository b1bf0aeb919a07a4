"""What a SQLite statement costs through the hub's engine, against SQLAlchemy's stock
aiosqlite adapter: the same statements, side by side in one run.

The hub's engine (`api.db.engine.create_engine`) runs each statement in one trip to
aiosqlite's thread (`api.db.sqlite_driver`); the stock adapter makes four. Rows:

- a session that runs `SELECT 1` and closes (its rollback is one more trip);
- a page of ten releases read by `api.services.release_list.read_page`, in one
  open session;
- the same SELECT through plain `sqlite3` on the loop's thread, as the floor.

Medians of interleaved rounds, microseconds per statement.

Run: `.venv/bin/python -m bench.db_trips [--rounds 7] [--repeat 300]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from api.db.engine import create_engine
from api.db.migrate import upgrade
from api.demo import seed
from api.services import release_list
from connectors.sandbox.world import build_world


async def per_call(call: Callable[[], Awaitable[object]], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        await call()
    return (time.perf_counter() - started) / repeat * 1e6


async def select_one(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        await session.execute(text("SELECT 1"))


async def plain_page(plain: sqlite3.Connection) -> None:
    plain.execute("SELECT * FROM releases ORDER BY id LIMIT 11").fetchall()


async def measure(rounds: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trips.db"
        url = f"sqlite+aiosqlite:///{path}"
        engines: dict[str, AsyncEngine] = {"one trip": create_engine(url),
                                           "stock": create_async_engine(url)}
        await upgrade(engines["one trip"])
        await seed(async_sessionmaker(engines["one trip"]), build_world(seed=7, scale=1))
        query = release_list.ReleaseQuery()
        plain = sqlite3.connect(path)
        samples: dict[str, list[float]] = {}
        try:
            for _ in range(rounds):
                for name, engine in engines.items():
                    sessions = async_sessionmaker(engine)
                    samples.setdefault(f"session with SELECT 1, {name}", []).append(
                        await per_call(partial(select_one, sessions), repeat))
                    async with sessions() as session:
                        resolved = await release_list.resolve(session, query)
                        samples.setdefault(f"page of 10 releases, {name}", []).append(
                            await per_call(partial(release_list.read_page, session,
                                                   resolved, 10), repeat))
                samples.setdefault("plain sqlite3 on the loop's thread", []).append(
                    await per_call(partial(plain_page, plain), repeat))
        finally:
            plain.close()
            for engine in engines.values():
                await engine.dispose()
    print(f"medians of {rounds} interleaved rounds of {repeat}, microseconds per call")
    for name, values in samples.items():
        print(f"  {name:42s} {statistics.median(values):8.0f}")
    for what in ("session with SELECT 1", "page of 10 releases"):
        ours = statistics.median(samples[f"{what}, one trip"])
        stock = statistics.median(samples[f"{what}, stock"])
        print(f"{what}: one trip ÷ stock = {ours / stock:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(measure(args.rounds, args.repeat))


if __name__ == "__main__":
    main()
