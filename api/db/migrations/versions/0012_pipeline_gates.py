"""Pipelines waiting for the hub's word (deployment protection rules), until answered.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_gates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("callback", sa.String(500), nullable=False, unique=True),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("release_id", sa.Integer(),
                  sa.ForeignKey("releases.id", ondelete="SET NULL"), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.String(20), nullable=False, server_default=""),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_pipeline_gates_release_id", "pipeline_gates", ["release_id"])
    op.create_index("ix_pipeline_gates_answered_at", "pipeline_gates", ["answered_at"])


def downgrade() -> None:
    op.drop_table("pipeline_gates")
