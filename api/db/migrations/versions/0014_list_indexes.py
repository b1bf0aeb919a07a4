"""Indexes for every filter and order the graph's lists offer.

The releases list sorts on its window start with unscheduled releases last: an
expression (`coalesce(window_start, <after every instant>)`, then id) indexed
alone and after each equality filter (status, type), so a page is an index range
read at any table size. The application filter starts from
`release_applications.application_id`; a release's history from
`(release_id, id)`; the bookings list from `(start, id)` or `(status, start, id)`;
a user's tokens from `(user_id, id)`. The single-column indexes the composite
ones begin with are dropped: they only cost writes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Where a release without a window sorts; the same literal as api/db/models.Unscheduled.
_UNSCHEDULED = {"postgresql": "'infinity'::timestamp with time zone",
                "sqlite": "'9999-12-31 23:59:59.999999'"}


def _sort_key() -> sa.TextClause:
    return sa.text(f"coalesce(window_start, {_UNSCHEDULED[op.get_bind().dialect.name]})")


def upgrade() -> None:
    op.create_index("ix_releases_sort", "releases", [_sort_key(), sa.text("id")])
    op.create_index("ix_releases_status_sort", "releases",
                    [sa.text("status"), _sort_key(), sa.text("id")])
    op.create_index("ix_releases_type_sort", "releases",
                    [sa.text("type"), _sort_key(), sa.text("id")])
    op.create_index("ix_releases_window_end", "releases", ["window_end"])
    op.drop_index("ix_releases_status", table_name="releases")
    op.create_index("ix_release_applications_application", "release_applications",
                    ["application_id", "release_id"])
    op.create_index("ix_audit_release", "audit_events", ["release_id", "id"])
    op.drop_index("ix_audit_events_release_id", table_name="audit_events")
    op.create_index("ix_environment_bookings_start", "environment_bookings", ["start", "id"])
    op.create_index("ix_environment_bookings_status", "environment_bookings",
                    ["status", "start", "id"])
    op.create_index("ix_environment_bookings_end", "environment_bookings", ["end"])
    op.create_index("ix_blackout_windows_end", "blackout_windows", ["end"])
    op.create_index("ix_api_tokens_user", "api_tokens", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_api_tokens_user", table_name="api_tokens")
    op.drop_index("ix_blackout_windows_end", table_name="blackout_windows")
    op.drop_index("ix_environment_bookings_end", table_name="environment_bookings")
    op.drop_index("ix_environment_bookings_status", table_name="environment_bookings")
    op.drop_index("ix_environment_bookings_start", table_name="environment_bookings")
    op.create_index("ix_audit_events_release_id", "audit_events", ["release_id"])
    op.drop_index("ix_audit_release", table_name="audit_events")
    op.drop_index("ix_release_applications_application", table_name="release_applications")
    op.create_index("ix_releases_status", "releases", ["status"])
    op.drop_index("ix_releases_window_end", table_name="releases")
    op.drop_index("ix_releases_type_sort", table_name="releases")
    op.drop_index("ix_releases_status_sort", table_name="releases")
    op.drop_index("ix_releases_sort", table_name="releases")
