"""Real databases for tests: a fresh SQLite file, or a fresh PostgreSQL database.

PostgreSQL comes from ``HEATSHIELD_TEST_POSTGRES_URL`` (``.ci/run`` always sets
it); without it those tests skip and say why.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text

from api.db.engine import create_engine

POSTGRES_ENV = "HEATSHIELD_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def _admin(url: str, statement: str) -> None:
    import asyncpg  # the driver the app uses; plain SQL, outside any transaction

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host or "127.0.0.1", port=parsed.port or 5432,
        user=parsed.username or "postgres", password=parsed.password,
        database=parsed.database or "postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Yield the SQLAlchemy URL of an empty database of ``backend``."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / 'heatshield.db'}"
        return
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        if os.environ.get("HEATSHIELD_REQUIRE_POSTGRES"):
            pytest.fail(f"{POSTGRES_ENV} is not set but HEATSHIELD_REQUIRE_POSTGRES is")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. "
                    "postgresql+asyncpg://postgres@127.0.0.1:5432/test); .ci/run sets it")
    name = f"heatshield_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def query_db(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read a hub's database directly, as someone with a copy of it would."""
    async def run() -> list[tuple[Any, ...]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return [tuple(r) for r in (await connection.execute(text(sql))).all()]
        finally:
            await engine.dispose()
    return asyncio.run(run())


def execute_db(database_url: str, sql: str) -> None:
    """Change a hub's database behind its back (e.g. to age a session)."""
    async def run() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(sql))
        finally:
            await engine.dispose()
    asyncio.run(run())
