"""Alembic owns the schema: the migrations produce exactly what the models declare."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import create_engine
from api.db.migrate import downgrade, upgrade
from api.db.models import Base
from tests.support.databases import BACKENDS, fresh_database


# SQLAlchemy does not reflect SQLite's expression indexes (it says so, and Alembic then
# leaves them out of the comparison); the test below reads them from sqlite_master.
@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based "
                            "index:UserWarning")
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


OLD_KINDS = {"JIRA_VERSION": "20003", "GITHUB_MILESTONE": "acme/shop#3",
             "GITHUB_COMPARE": "acme/shop@v1...v2", "CHANGE_REQUEST": "CHG0030001"}
NEW_KINDS = {"PLANNED_VERSION": "20003", "MILESTONE": "acme/shop#3",
             "CODE_RANGE": "acme/shop@v1...v2", "CHANGE_REQUEST": "CHG0030001"}


async def _kinds(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT kind, external_key FROM source_links"))
        return {kind: key for kind, key in rows}


async def _insert_link(engine: AsyncEngine, kind: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO source_links (release_id, source, kind, external_key, created_at) "
            "VALUES (1, 'x', :kind, 'k', CURRENT_TIMESTAMP)"), {"kind": kind})


@pytest.mark.parametrize("backend", BACKENDS)
def test_link_kinds_stored_in_vendor_words_become_neutral_words_and_back(
        backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        async def migrate() -> None:
            engine = create_engine(url)
            try:
                await upgrade(engine, "0005")
                async with engine.begin() as connection:
                    await connection.execute(text(
                        "INSERT INTO releases (id, key, name, description, type, status, "
                        "created_at, updated_at, version) VALUES (1, 'R1', 'R1', '', "
                        "'PROJECT', 'PLANNED', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"))
                    for kind, key in OLD_KINDS.items():
                        await connection.execute(text(
                            "INSERT INTO source_links (release_id, source, kind, external_key,"
                            " created_at) VALUES (1, 'src', :kind, :key, CURRENT_TIMESTAMP)"),
                            {"kind": kind, "key": key})

                await upgrade(engine)
                assert await _kinds(engine) == NEW_KINDS
                with pytest.raises(IntegrityError):  # the CHECK now names the new words only
                    await _insert_link(engine, "JIRA_VERSION")

                await downgrade(engine, "0005")
                assert await _kinds(engine) == OLD_KINDS
                with pytest.raises(IntegrityError):
                    await _insert_link(engine, "PLANNED_VERSION")
            finally:
                await engine.dispose()

        asyncio.run(migrate())


def test_sqlite_expression_indexes_are_the_ones_the_models_declare(tmp_path: Path) -> None:
    """What the comparison above cannot see on SQLite: the expression indexes' definitions."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex

    def canonical(sql: str) -> str:
        return "".join(sql.lower().split()).replace('"', "")

    declared = {index.name: canonical(str(CreateIndex(index).compile(dialect=sqlite.dialect())))
                for table in Base.metadata.tables.values() for index in table.indexes
                if not all(isinstance(e, Column) for e in index.expressions)}
    assert {"ix_releases_sort", "ix_releases_status_sort", "ix_releases_type_sort"} <= set(
        declared)
    with fresh_database("sqlite", tmp_path) as url:
        async def stored() -> dict[str, str]:
            engine = create_engine(url)
            try:
                await upgrade(engine)
                async with engine.connect() as connection:
                    rows = await connection.execute(text(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                        "AND sql IS NOT NULL"))
                    return {name: canonical(sql) for name, sql in rows}
            finally:
                await engine.dispose()

        found = asyncio.run(stored())
    assert {name: found.get(name) for name in declared} == declared


def test_the_head_read_from_the_version_files_is_alembics_head() -> None:
    """Start-up skips Alembic when the stored revision is this head: it must be Alembic's."""
    from alembic.script import ScriptDirectory

    from api.db.migrate import alembic_config, head_revisions

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert head_revisions() == frozenset(script.get_heads())
    assert len(head_revisions()) == 1


def test_a_database_one_migration_behind_is_still_brought_up_to_date(tmp_path: Path) -> None:
    from api.db.migrate import head_revisions

    with fresh_database("sqlite", tmp_path) as url:
        async def run() -> list[str]:
            engine = create_engine(url)
            try:
                await upgrade(engine)
                await downgrade(engine, "-1")
                await upgrade(engine)  # not at head: Alembic runs the missing step
                async with engine.connect() as connection:
                    return list((await connection.execute(
                        text("SELECT version_num FROM alembic_version"))).scalars())
            finally:
                await engine.dispose()

        assert asyncio.run(run()) == sorted(head_revisions())


@pytest.mark.parametrize("backend", BACKENDS)
def test_links_written_before_0016_get_their_releases_status_and_type_and_lose_them_back(
        backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        async def migrate() -> list[list[tuple[object, ...]]]:
            engine = create_engine(url)
            seen = []
            try:
                await upgrade(engine, "0015")
                async with engine.begin() as connection:
                    await connection.execute(text(
                        "INSERT INTO applications (id, key, name, description, repositories, "
                        "jira_projects, cmdb_items, created_at, updated_at) VALUES (7, 'A', "
                        "'A', '', '[]', '[]', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
                    await connection.execute(text(
                        "INSERT INTO releases (id, key, name, description, type, status, "
                        "created_at, updated_at, version) VALUES (1, 'R1', 'R1', '', "
                        "'EMERGENCY', 'READY', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"))
                    await connection.execute(text(
                        "INSERT INTO release_applications (release_id, application_id, "
                        "window_start) VALUES (1, 7, NULL)"))
                for revision in ("head", "0015"):
                    if revision == "head":
                        await upgrade(engine)
                    else:
                        await downgrade(engine, revision)
                    async with engine.connect() as connection:
                        seen.append([tuple(row) for row in await connection.execute(
                            text("SELECT * FROM release_applications"))])
                await upgrade(engine)
                with pytest.raises(IntegrityError):  # the copies keep the releases' CHECKs
                    async with engine.begin() as connection:
                        await connection.execute(text(
                            "UPDATE release_applications SET status = 'SHIPPED'"))
                return seen
            finally:
                await engine.dispose()

        assert asyncio.run(migrate()) == [[(1, 7, None, "READY", "EMERGENCY")], [(1, 7, None)]]
