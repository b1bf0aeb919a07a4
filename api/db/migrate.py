"""Run Alembic migrations from inside the app (start-up) or the CLI.

A server starting over a database that is already up to date (every restart)
checks the stored revision with one SELECT and never imports Alembic, whose
import and script loading were a third of `heatshield serve`'s start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
#: The PostgreSQL advisory lock held while migrating (any fixed number; "heat" in ASCII).
MIGRATION_LOCK = 0x68656174
_REVISION = re.compile(r'^(down_)?revision\s*(?::[^=]*)?=\s*(?:"([^"]+)"|None)\s*$', re.M)


def head_revisions() -> frozenset[str]:
    """The revisions no other migration revises, read from the version files; empty
    when a file does not say its revisions in the plain form (then Alembic decides)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {bool(m.group(1)): m.group(2) for m in _REVISION.finditer(path.read_text())}
        if False not in found or True not in found or found[False] is None:
            return frozenset()
        revisions.add(found[False])
        if found[True] is not None:
            revised.add(found[True])
    return frozenset(revisions - revised)


async def _at_head(engine: AsyncEngine) -> bool:
    heads = head_revisions()
    if not heads:
        return False
    try:
        async with engine.connect() as connection:
            stored = (await connection.execute(
                text("SELECT version_num FROM alembic_version"))).scalars().all()
    except SQLAlchemyError:  # no table yet: a new database
        return False
    return set(stored) == heads


def alembic_config(url: str) -> Config:
    from alembic.config import Config
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision`` over the app's own engine."""
    if revision == "head" and await _at_head(engine):
        return

    def _run(connection: Connection) -> None:
        from alembic import command

        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together over one database migrate one after the other;
            # the lock ends with this transaction, and the next finds nothing left to do.
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                     {"key": MIGRATION_LOCK})
        await connection.run_sync(_run)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the database back to ``revision`` (tests of a migration's way back)."""

    def _run(connection: Connection) -> None:
        from alembic import command

        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_run)
