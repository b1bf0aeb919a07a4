"""The webhook deliveries table becomes the inbox: events are stored, then applied.

Deliveries taken before this revision were applied when they arrived, so they
are marked processed at their receipt time; their ids and digests keep
refusing replays.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("record_key", sa.String(200), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=False, server_default=""))
        batch.create_index("ix_webhook_deliveries_pending", ["processed_at", "id"])
    op.execute("UPDATE webhook_deliveries SET processed_at = received_at")


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_pending")
        for column in ("last_error", "claimed_until", "attempts", "processed_at", "payload",
                       "record_key"):
            batch.drop_column(column)
