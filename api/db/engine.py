"""The async engine and sessions; SQLite gets WAL, enforced foreign keys, and writers
that take turns.

SQLite has one writer at a time, and one that finds the file locked polls for it
(the busy timeout) instead of queueing: under a burst of writes from one process
(10,000 webhook deliveries from 16 senders), a transaction can lose every poll for
the whole timeout while others, whose locks last as long as the event loop takes to
come back to them, win in turn; it then fails with "database is locked" (HTTP 500).
So on SQLite a process's write transactions (`session.begin()`) queue on an
asyncio lock, first come first served, and only other processes poll; the busy
timeout, set first so no other pragma fails on a lock either, is a long one for them.
"""

from __future__ import annotations

import asyncio
import weakref
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.orm import Session

from api.db.sqlite_driver import one_trip_dbapi

BUSY_TIMEOUT_SECONDS = 30.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class WriteTurns:
    """One write transaction at a time per event loop: an asyncio lock (FIFO) each.

    A task that already holds the turn (a transaction opened inside another) goes on
    without waiting for itself.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())
        self._held: ContextVar[bool] = ContextVar(f"write_turn_{id(self)}", default=False)

    async def take(self) -> asyncio.Lock | None:
        """Wait for the turn; the lock to release after, or None when already held."""
        if self._held.get():
            return None
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        try:
            async with asyncio.timeout(BUSY_TIMEOUT_SECONDS):
                await lock.acquire()
        except TimeoutError:
            raise OperationalError("waiting for the database's write turn", None,
                                   TimeoutError("database is locked")) from None
        self._held.set(True)
        return lock

    def give_back(self, lock: asyncio.Lock | None) -> None:
        if lock is not None:
            self._held.set(False)
            lock.release()


class _TurnTransaction(AsyncSessionTransaction):
    """A session transaction that waits for its write turn before it starts."""

    turns: WriteTurns
    _turn: asyncio.Lock | None = None

    async def start(self, is_ctxmanager: bool = False) -> _TurnTransaction:
        self._turn = await self.turns.take()
        try:
            await super().start(is_ctxmanager)
        except BaseException:
            self.turns.give_back(self._turn)
            raise
        return self

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        try:
            await super().__aexit__(type_, value, traceback)
        finally:
            self.turns.give_back(self._turn)


class TurnTakingSession(AsyncSession):
    """An AsyncSession whose `begin()` waits for the process's SQLite write turn."""

    turns: WriteTurns

    def begin(self) -> AsyncSessionTransaction:
        transaction = _TurnTransaction(self)
        transaction.turns = self.turns
        return transaction


def _in_memory(url: str) -> bool:
    """An in-memory SQLite database lives in one connection (a static pool, no sizes)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and (
        parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 10,
                  pool_timeout: float = 10.0) -> AsyncEngine:
    """Build the engine for a SQLite or PostgreSQL URL; nothing else differs.

    The pool is bounded (`pool_size` + `max_overflow`) and a request that finds it
    full waits `pool_timeout` seconds at most; sessions are short (none is held
    across an upstream call), so the bound is reached only under real load.
    Parameters are hidden from SQL error messages and echo: they hold password
    hashes and whatever else a row holds, and error text ends up in logs.
    """
    pool: dict[str, Any] = {} if _in_memory(url) else {
        "pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if make_url(url).get_driver_name() == "aiosqlite":
        # A statement is one trip to aiosqlite's thread, not four (api/db/sqlite_driver.py).
        pool["module"] = one_trip_dbapi()
    engine = create_async_engine(url, echo=echo, pool_pre_ping=not url.startswith("sqlite"),
                                 hide_parameters=True, **pool)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine, session_class: type[Session] = Session
                    ) -> async_sessionmaker[AsyncSession]:
    """`session_class` lets one app listen to its own sessions' events (api.events).

    On SQLite the sessions' write transactions take turns (see the module's doc)."""
    if engine.dialect.name != "sqlite":
        return async_sessionmaker(engine, expire_on_commit=False,
                                  sync_session_class=session_class)
    session_type = type("TurnTakingSession", (TurnTakingSession,), {"turns": WriteTurns()})
    return async_sessionmaker(engine, class_=session_type, expire_on_commit=False,
                              sync_session_class=session_class)
