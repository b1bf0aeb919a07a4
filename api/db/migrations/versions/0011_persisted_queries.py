"""Persisted GraphQL documents, by SHA-256, shared by replicas.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persisted_queries",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("canonical_sha256", sa.String(length=64), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index("ix_persisted_queries_canonical_sha256", "persisted_queries",
                    ["canonical_sha256"])
    op.create_index("ix_persisted_queries_created_at", "persisted_queries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_persisted_queries_created_at", table_name="persisted_queries")
    op.drop_index("ix_persisted_queries_canonical_sha256", table_name="persisted_queries")
    op.drop_table("persisted_queries")
