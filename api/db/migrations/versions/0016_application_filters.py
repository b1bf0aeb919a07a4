"""One application's releases of one status or type, in list order, as one index range.

Migration 0015 made an application's page a range of its links; a status or type
filter on top was still checked on each link's release, found at random by id, so
a page read 50 ÷ (the filter's share) links and as many releases, and a count
joined every link to its release. Each link now also carries its release's status
and type (written with every write of the release's status, type, window or
applications), indexed after the application as the list sorts:
`(application_id, status, <sort key>, release_id, type)` and
`(application_id, type, <sort key>, release_id)`. A page of one application and
one status is then a range of the first (the type, last, checked in the index
entry), several statuses one range each, merged; its count an index-only count.

The copies are NOT NULL with the releases' CHECKs. SQLite adds a NOT NULL column
only with a default, so the columns are added nullable, filled from the releases,
then made NOT NULL by `batch_alter_table`, which copies the table on SQLite. The
copy is made from the table as written here, not reflected: SQLAlchemy cannot
reflect SQLite's expression indexes (the one of 0015 is dropped first and made
again after, and reflecting the releases the links refer to would warn of theirs).

The words are spelled out here, not imported: a migration must keep meaning
what it meant when it was written.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Where a release without a window sorts; the same literal as api/db/models.Unscheduled.
_UNSCHEDULED = {"postgresql": "'infinity'::timestamp with time zone",
                "sqlite": "'9999-12-31 23:59:59.999999'"}
_STATUSES = ("PLANNED", "IN_PROGRESS", "READY", "DEPLOYING", "DEPLOYED", "CANCELLED")
_TYPES = ("ENTERPRISE", "PROJECT", "EMERGENCY")


def _words(column: str) -> sa.Enum:
    words, name = (_STATUSES, "release_status") if column == "status" else (_TYPES,
                                                                            "release_type")
    return sa.Enum(*words, name=name, native_enum=False, create_constraint=True, length=20)


def _links(*copies: str) -> sa.Table:
    """`release_applications` as it stands with these copies (as varchar: the CHECKs are
    what `batch_alter_table` adds or takes away)."""
    return sa.Table(
        "release_applications", sa.MetaData(),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("releases.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("application_id", sa.Integer(),
                  sa.ForeignKey("applications.id", ondelete="RESTRICT"), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        *(sa.Column(column, sa.String(20), nullable=True) for column in copies))


def _sort_key() -> sa.TextClause:
    return sa.text(f"coalesce(window_start, {_UNSCHEDULED[op.get_bind().dialect.name]})")


def _sort_index() -> None:
    op.create_index("ix_release_applications_sort", "release_applications",
                    [sa.text("application_id"), _sort_key(), sa.text("release_id")])


def upgrade() -> None:
    op.drop_index("ix_release_applications_sort", table_name="release_applications")
    for column in ("status", "type"):
        op.add_column("release_applications",
                      sa.Column(column, sa.String(20), nullable=True))
        op.execute(f"UPDATE release_applications SET {column} = (SELECT releases.{column}"
                   " FROM releases WHERE releases.id = release_applications.release_id)")
    with op.batch_alter_table("release_applications",
                              copy_from=_links("status", "type")) as batch:
        for column in ("status", "type"):
            batch.alter_column(column, existing_type=sa.String(20), type_=_words(column),
                               nullable=False)
    _sort_index()
    op.create_index("ix_release_applications_status_sort", "release_applications",
                    [sa.text("application_id"), sa.text("status"), _sort_key(),
                     sa.text("release_id"), sa.text("type")])
    op.create_index("ix_release_applications_type_sort", "release_applications",
                    [sa.text("application_id"), sa.text("type"), _sort_key(),
                     sa.text("release_id")])


def downgrade() -> None:
    op.drop_index("ix_release_applications_type_sort", table_name="release_applications")
    op.drop_index("ix_release_applications_status_sort", table_name="release_applications")
    op.drop_index("ix_release_applications_sort", table_name="release_applications")
    with op.batch_alter_table("release_applications",
                              copy_from=_links("status", "type")) as batch:
        batch.drop_column("type")
        batch.drop_column("status")
    _sort_index()
