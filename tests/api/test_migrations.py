"""Alembic owns the schema: the migrations produce exactly what the models declare."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from api.db.engine import create_engine
from api.db.migrate import upgrade
from api.db.models import Base
from tests.support.databases import BACKENDS, fresh_database


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_models(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        async def diff() -> list[object]:
            engine = create_engine(url)
            try:
                await upgrade(engine)

                def compare(connection: Connection) -> list[object]:
                    context = MigrationContext.configure(connection,
                                                         opts={"compare_type": False})
                    return list(compare_metadata(context, Base.metadata))

                async with engine.connect() as connection:
                    return await connection.run_sync(compare)
            finally:
                await engine.dispose()

        assert asyncio.run(diff()) == []
