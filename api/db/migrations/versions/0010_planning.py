"""Planning: booking decisions, runnable deployment plans, plan templates, calendar feeds.

- environment_bookings: the team a booking is for (when no release is), who
  decided it, when and why, the override reason when approved over another
  approved booking, a version, and an index by environment and start.
- deployment_plans: where a plan came from and a version.
- deployment_activities: planned start, environment, dependencies, the
  implementation and backout steps, who started and finished it and when, and
  the statuses NOT_STARTED (was PENDING) and FAILED. The status CHECK is widened,
  rows rewritten, then narrowed, as in 0006.
- plan_templates, seeded with two runbooks; calendar_feeds (hashed secrets).

The words and templates are spelled out here: a migration keeps meaning what it
meant when it was written.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD = ("PENDING", "IN_PROGRESS", "DONE", "SKIPPED")
NEW = ("NOT_STARTED", "IN_PROGRESS", "DONE", "FAILED", "SKIPPED")


def _status(words: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*words, name="activity_status", native_enum=False, create_constraint=True,
                   length=20)


def _convert(start: tuple[str, ...], end: tuple[str, ...], words: dict[str, str]) -> None:
    both = tuple(dict.fromkeys((*start, *end)))
    with op.batch_alter_table("deployment_activities") as batch:
        batch.alter_column("status", existing_type=_status(start), type_=_status(both),
                           existing_nullable=False)
    rows = sa.table("deployment_activities", sa.column("status", sa.String(20)))
    for old, new in words.items():
        op.execute(rows.update().where(rows.c.status == old).values(status=new))
    with op.batch_alter_table("deployment_activities") as batch:
        batch.alter_column("status", existing_type=_status(both), type_=_status(end),
                           existing_nullable=False)


def _step(title: str, minutes: int, after: list[int], tier: str, implementation: str,
          backout: str) -> dict[str, object]:
    return {"title": title, "duration_minutes": minutes, "depends_on": after,
            "environment_tier": tier, "implementation_steps": implementation,
            "backout_steps": backout}


TEMPLATES = [
    {"name": "Standard production release",
     "description": "Announce, back up, deploy, verify and hand over one application's "
                    "release to production.",
     "activities": [
         _step("Announce the maintenance window", 15, [], "PRODUCTION",
               "Post the window and the expected impact to the service desk and users.",
               "Post that the window is cancelled."),
         _step("Back up the database", 30, [0], "PRODUCTION",
               "Take a full backup and check that it restores on the standby.",
               "Nothing to undo."),
         _step("Deploy the new version", 30, [1], "PRODUCTION",
               "Deploy the release's build with the pipeline; watch it finish.",
               "Redeploy the previous version with the pipeline."),
         _step("Run the smoke tests", 20, [2], "PRODUCTION",
               "Run the smoke suite against production and read its report.",
               "Nothing to undo."),
         _step("Hand over to operations", 10, [3], "PRODUCTION",
               "Confirm monitoring is green and close the window with the service desk.",
               "Restore the backup if data was changed, then announce the rollback."),
     ]},
    {"name": "Database schema change",
     "description": "A schema migration rehearsed in staging before production.",
     "activities": [
         _step("Rehearse the migration in staging", 60, [], "STAGING",
               "Restore last night's production backup to staging and run the migration.",
               "Drop the staging copy."),
         _step("Back up production", 30, [0], "PRODUCTION",
               "Take a full backup of the production database.",
               "Nothing to undo."),
         _step("Apply the migration", 45, [1], "PRODUCTION",
               "Run the migration scripts in order; record each one's duration.",
               "Run the down-migrations in reverse order, or restore the backup."),
         _step("Verify the data", 30, [2], "PRODUCTION",
               "Run the data checks and compare row counts with the rehearsal.",
               "Restore the backup taken before the migration."),
     ]},
]


def upgrade() -> None:
    with op.batch_alter_table("environment_bookings") as batch:
        batch.add_column(sa.Column("team", sa.String(length=100), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("decided_by", sa.String(length=100), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("decision_reason", sa.Text(), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("override_reason", sa.Text(), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_environment_bookings_window", ["environment_id", "start"])
    with op.batch_alter_table("deployment_plans") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=200), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("deployment_activities") as batch:
        batch.add_column(sa.Column("planned_start", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("environment_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("depends_on", sa.JSON(), nullable=False,
                                   server_default="[]"))
        batch.add_column(sa.Column("implementation_steps", sa.Text(), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("backout_steps", sa.Text(), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("started_by", sa.String(length=100), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("finished_by", sa.String(length=100), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("outcome_note", sa.Text(), nullable=False,
                                   server_default=""))
        batch.create_foreign_key("fk_deployment_activities_environment_id", "environments",
                                 ["environment_id"], ["id"], ondelete="SET NULL")
    _convert(OLD, NEW, {"PENDING": "NOT_STARTED"})
    templates = op.create_table(
        "plan_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.bulk_insert(templates, TEMPLATES)
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    with op.batch_alter_table("calendar_feeds") as batch:
        batch.create_index("ix_calendar_feeds_user_id", ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("calendar_feeds") as batch:
        batch.drop_index("ix_calendar_feeds_user_id")
    op.drop_table("calendar_feeds")
    op.drop_table("plan_templates")
    # FAILED has no older word: a failed activity goes back to not started.
    _convert(NEW, OLD, {"NOT_STARTED": "PENDING", "FAILED": "PENDING"})
    with op.batch_alter_table("deployment_activities") as batch:
        batch.drop_constraint("fk_deployment_activities_environment_id", type_="foreignkey")
        for column in ("outcome_note", "finished_by", "finished_at", "started_by",
                       "started_at", "backout_steps", "implementation_steps", "depends_on",
                       "environment_id", "planned_start"):
            batch.drop_column(column)
    with op.batch_alter_table("deployment_plans") as batch:
        for column in ("created_at", "version", "origin"):
            batch.drop_column(column)
    with op.batch_alter_table("environment_bookings") as batch:
        batch.drop_index("ix_environment_bookings_window")
        for column in ("updated_at", "created_at", "version", "override_reason",
                       "decision_reason", "decided_at", "decided_by", "team"):
            batch.drop_column(column)
