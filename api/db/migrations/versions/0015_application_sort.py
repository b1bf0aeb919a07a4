"""One application's releases in list order, as one index range.

The releases list filtered on an application used to walk the list's order
(`ix_releases_sort`) and look up each release's applications, so a page read about
50 ÷ (the application's share) entries, most of them at random. Each link now
carries its release's window start (written with every write of the release's
window or applications), indexed after the application as the list sorts it:
`(application_id, coalesce(window_start, <after every instant>), release_id)`.
A page of one application is then a range of that index, and its count an
index-only range count. The index replaces `(application_id, release_id)`, which it
begins with.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Where a release without a window sorts; the same literal as api/db/models.Unscheduled.
_UNSCHEDULED = {"postgresql": "'infinity'::timestamp with time zone",
                "sqlite": "'9999-12-31 23:59:59.999999'"}


def upgrade() -> None:
    op.add_column("release_applications",
                  sa.Column("window_start", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE release_applications SET window_start = (SELECT releases.window_start"
               " FROM releases WHERE releases.id = release_applications.release_id)")
    unscheduled = _UNSCHEDULED[op.get_bind().dialect.name]
    op.create_index("ix_release_applications_sort", "release_applications",
                    [sa.text("application_id"),
                     sa.text(f"coalesce(window_start, {unscheduled})"),
                     sa.text("release_id")])
    op.drop_index("ix_release_applications_application", table_name="release_applications")


def downgrade() -> None:
    op.create_index("ix_release_applications_application", "release_applications",
                    ["application_id", "release_id"])
    op.drop_index("ix_release_applications_sort", table_name="release_applications")
    # SQLite (3.35 on) drops a column in place; a batch copy would reflect the tables'
    # expression indexes, which SQLAlchemy cannot.
    op.execute("ALTER TABLE release_applications DROP COLUMN window_start")
