"""Change intents: what the hub means to raise upstream, recorded first.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.Enum("PENDING", "CREATED", "FAILED", name="intent_status",
                                    native_enum=False, create_constraint=True, length=20),
                  nullable=False),
        sa.Column("number", sa.String(length=80), nullable=True),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("correlation_id"),
        sa.UniqueConstraint("release_id", "idempotency_key"),
    )
    op.create_index("ix_change_intents_release_id", "change_intents", ["release_id"])


def downgrade() -> None:
    op.drop_index("ix_change_intents_release_id", table_name="change_intents")
    op.drop_table("change_intents")
