"""Trust: claimed change intents, versioned releases, session rotation grace, webhook digests.

- change_intents.lease_owner / lease_until: one caller at a time claims an
  intent (a compare-and-set on these columns) before calling the ITSM.
- change_intents.reason: why an additional change was raised beside an open one.
- releases.version: optimistic concurrency; every write bumps it and only
  updates the version it read.
- login_sessions.previous_secret_hash / previous_valid_until: after a cookie
  rotation the previous cookie stays valid for a short grace, so parallel
  requests of one browser are not logged out.
- webhook_deliveries.digest: a digest of the signed body (or the event's own
  id), so a replay under a fresh delivery id is refused too.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_intents") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                   server_default="1"))
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("previous_secret_hash", sa.String(length=64),
                                   nullable=True))
        batch.add_column(sa.Column("previous_valid_until", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.create_index("ix_login_sessions_previous_secret_hash",
                           ["previous_secret_hash"])
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_webhook_deliveries_source_digest",
                                       ["source", "digest"])


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_constraint("uq_webhook_deliveries_source_digest", type_="unique")
        batch.drop_column("digest")
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_index("ix_login_sessions_previous_secret_hash")
        batch.drop_column("previous_valid_until")
        batch.drop_column("previous_secret_hash")
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("change_intents") as batch:
        batch.drop_column("reason")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
