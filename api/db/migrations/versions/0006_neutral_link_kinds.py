"""Link kinds in neutral words: a planned version, a milestone, a code range.

The stored kinds named vendors (JIRA_VERSION, GITHUB_MILESTONE, GITHUB_COMPARE),
so a fifth connector kind with planned versions or milestones had no word of
its own. The column is a non-native enum: a VARCHAR with a CHECK constraint
named `link_kind` listing the allowed words. Converting rows needs a CHECK that
allows both sets while the rows change, so each direction widens the CHECK,
rewrites the rows, then narrows it to the target words. `batch_alter_table`
recreates the table on SQLite (which cannot alter a CHECK) and issues
ALTER TABLE ... DROP/ADD CONSTRAINT on PostgreSQL.

The words are spelled out here, not imported: a migration must keep meaning
what it meant when it was written.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_TO_NEW = {"JIRA_VERSION": "PLANNED_VERSION", "GITHUB_MILESTONE": "MILESTONE",
              "GITHUB_COMPARE": "CODE_RANGE"}
OLD = ("JIRA_VERSION", "GITHUB_MILESTONE", "GITHUB_COMPARE", "CHANGE_REQUEST")
NEW = ("PLANNED_VERSION", "MILESTONE", "CODE_RANGE", "CHANGE_REQUEST")


def _kind(words: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*words, name="link_kind", native_enum=False, create_constraint=True,
                   length=20)


def _convert(start: tuple[str, ...], end: tuple[str, ...], words: dict[str, str]) -> None:
    both = tuple(dict.fromkeys((*start, *end)))
    with op.batch_alter_table("source_links") as batch:
        batch.alter_column("kind", existing_type=_kind(start), type_=_kind(both),
                           existing_nullable=False)
    links = sa.table("source_links", sa.column("kind", sa.String(20)))
    for old, new in words.items():
        op.execute(links.update().where(links.c.kind == old).values(kind=new))
    with op.batch_alter_table("source_links") as batch:
        batch.alter_column("kind", existing_type=_kind(both), type_=_kind(end),
                           existing_nullable=False)


def upgrade() -> None:
    _convert(OLD, NEW, OLD_TO_NEW)


def downgrade() -> None:
    _convert(NEW, OLD, {new: old for old, new in OLD_TO_NEW.items()})
