"""The async engine and sessions; SQLite gets WAL and enforced foreign keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.orm import Session


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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
    engine = create_async_engine(url, echo=echo, pool_pre_ping=not url.startswith("sqlite"),
                                 hide_parameters=True, **pool)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine, session_class: type[Session] = Session
                    ) -> async_sessionmaker[AsyncSession]:
    """`session_class` lets one app listen to its own sessions' events (api.events)."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)
