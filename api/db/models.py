"""Heatshield's own data: SQLAlchemy 2.0 models.

Upstream data (work items, change requests, deployments) is never stored here:
it is federated live. What is stored is what Heatshield owns: releases and
their links to upstream records, environments, windows, plans, the audit
trail, and who may use the hub.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import _TraverseInternalsType
from sqlalchemy.types import TypeDecorator

from api.domain.enums import (
    ActivityStatus,
    BookingStatus,
    EnvironmentTier,
    IntentStatus,
    ReleaseStatus,
    ReleaseType,
    Role,
)
from connectors.records import LinkKind

# The enums are stored here under their own names; other modules may import them from here.
__all__ = ["ActivityStatus", "BookingStatus", "EnvironmentTier", "IntentStatus", "LinkKind",
           "ReleaseStatus", "ReleaseType", "Role"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back aware datetimes, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Heatshield stores aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as the member name in a VARCHAR with a CHECK: portable and readable.
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=20,
                validate_strings=True)


release_applications = Table(
    "release_applications",
    Base.metadata,
    Column("release_id", ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True),
    Column("application_id", ForeignKey("applications.id", ondelete="RESTRICT"),
           primary_key=True),
    # The release's window start, status and type, copied here by every write of the
    # release's window, status, type or applications (`link_row`, api/services/releases.py),
    # so that one application's releases in list order, alone or of one status or type, are
    # one index range (`ix_release_applications_*`, below Release).
    Column("window_start", UTCDateTime(), nullable=True),
    Column("status", _enum(ReleaseStatus, "release_status"), nullable=False),
    Column("type", _enum(ReleaseType, "release_type"), nullable=False),
)

environment_applications = Table(
    "environment_applications",
    Base.metadata,
    Column("environment_id", ForeignKey("environments.id", ondelete="CASCADE"),
           primary_key=True),
    Column("application_id", ForeignKey("applications.id", ondelete="CASCADE"),
           primary_key=True),
)

blackout_applications = Table(
    "blackout_applications",
    Base.metadata,
    Column("blackout_id", ForeignKey("blackout_windows.id", ondelete="CASCADE"),
           primary_key=True),
    Column("application_id", ForeignKey("applications.id", ondelete="CASCADE"),
           primary_key=True),
)


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Where the application lives upstream: repositories, tracker project keys, CMDB CI names.
    repositories: Mapped[list[str]] = mapped_column(JSON, default=list)
    jira_projects: Mapped[list[str]] = mapped_column(JSON, default=list)
    cmdb_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Environment(Base):
    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    tier: Mapped[EnvironmentTier] = mapped_column(_enum(EnvironmentTier, "environment_tier"))
    # The name deployments report for it upstream (a code host's environment, say).
    deploy_target: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    applications: Mapped[list[Application]] = relationship(
        secondary=environment_applications, lazy="raise", order_by=Application.key
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Unscheduled(ColumnElement[datetime]):
    """Where a release without a window sorts: after every real instant.

    A literal, never a bound parameter, so the ORDER BY and keyset conditions
    repeat the indexed expression exactly (PostgreSQL matches an expression index
    only against constants, SQLite only against the same expression).
    """

    type = UTCDateTime()
    inherit_cache = True
    # No state to tell one apart from another: without this (even with inherit_cache) its
    # cache key is NO_CACHE, and every statement holding it, each releases page, was
    # compiled anew.
    _traverse_internals: _TraverseInternalsType = []


@compiles(Unscheduled)
def _unscheduled_sqlite(element: Unscheduled, compiler: SQLCompiler, **kw: Any) -> str:
    return "'9999-12-31 23:59:59.999999'"  # after any stored 'YYYY-MM-DD HH:MM:SS.ffffff'


@compiles(Unscheduled, "postgresql")
def _unscheduled_postgresql(element: Unscheduled, compiler: SQLCompiler, **kw: Any) -> str:
    return "'infinity'::timestamp with time zone"


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_window", "window_start", "id"),
                      Index("ix_releases_window_end", "window_end"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[ReleaseType] = mapped_column(_enum(ReleaseType, "release_type"))
    status: Mapped[ReleaseStatus] = mapped_column(
        _enum(ReleaseStatus, "release_status"), default=ReleaseStatus.PLANNED
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("releases.id", ondelete="SET NULL"), index=True
    )
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    # Read only: the links are written with the window start they carry (_set_applications
    # in api/services/releases.py), which the relationship would leave out.
    applications: Mapped[list[Application]] = relationship(
        secondary=release_applications, lazy="raise", order_by=Application.key, viewonly=True
    )
    # Bumped by every write; a write applies only to the version it read.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def release_sort_key(start: ColumnElement[datetime | None] | None = None
                     ) -> ColumnElement[datetime]:
    """The releases list's order: window start, unscheduled last (then id); of the
    release's own column unless given its copy in `release_applications`."""
    return func.coalesce(Release.window_start if start is None else start, Unscheduled())


# The releases list's order, alone and after each equality filter it offers, so a page is
# an index range read whatever the table's size (api/services/release_list.py).
Index("ix_releases_sort", release_sort_key(), Release.id)
Index("ix_releases_status_sort", Release.status, release_sort_key(), Release.id)
Index("ix_releases_type_sort", Release.type, release_sort_key(), Release.id)
# One application's releases in list order (migration 0015): alone, and of one status or one
# type (migration 0016). The application filter and the restrict check on deleting an
# application start here. The status index ends with the type, so a type filter on top of a
# status is checked in the index entry, without reading the link's row.
_links = release_applications.c
Index("ix_release_applications_sort", _links.application_id,
      release_sort_key(_links.window_start), _links.release_id)
Index("ix_release_applications_status_sort", _links.application_id, _links.status,
      release_sort_key(_links.window_start), _links.release_id, _links.type)
Index("ix_release_applications_type_sort", _links.application_id, _links.type,
      release_sort_key(_links.window_start), _links.release_id)


def link_row(release: Release, application_id: int) -> dict[str, Any]:
    """A `release_applications` row: the link, with the copies of its release's sort key,
    status and type that the application-filtered list reads."""
    return {"release_id": release.id, "application_id": application_id,
            "window_start": release.window_start, "status": release.status,
            "type": release.type}


class ReleasePhase(Base):
    __tablename__ = "release_phases"
    __table_args__ = (UniqueConstraint("release_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    start: Mapped[datetime | None]
    end: Mapped[datetime | None]


class SourceLink(Base):
    """Ties a release to an upstream record: which connector, what kind, which key."""

    __tablename__ = "source_links"
    __table_args__ = (UniqueConstraint("release_id", "source", "kind", "external_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"),
                                            index=True)
    source: Mapped[str] = mapped_column(String(80))  # connector instance name
    kind: Mapped[LinkKind] = mapped_column(_enum(LinkKind, "link_kind"))
    external_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnvironmentBooking(Base):
    """A release or a team asking for an environment over a window, and the answer."""

    __tablename__ = "environment_bookings"
    __table_args__ = (Index("ix_environment_bookings_window", "environment_id", "start"),
                      # The bookings list: by start, alone or after a status; `from` on end.
                      Index("ix_environment_bookings_start", "start", "id"),
                      Index("ix_environment_bookings_status", "status", "start", "id"),
                      Index("ix_environment_bookings_end", "end"))

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    release_id: Mapped[int | None] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    # Who the environment is for when no release is: a team's name.
    team: Mapped[str] = mapped_column(String(100), default="", server_default="")
    requested_by: Mapped[str] = mapped_column(String(100))
    start: Mapped[datetime]
    end: Mapped[datetime]
    status: Mapped[BookingStatus] = mapped_column(
        _enum(BookingStatus, "booking_status"), default=BookingStatus.REQUESTED
    )
    purpose: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Why it was approved over another approved booking (empty when it was not).
    override_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)


class BlackoutWindow(Base):
    __tablename__ = "blackout_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    start: Mapped[datetime] = mapped_column(index=True)
    end: Mapped[datetime] = mapped_column(index=True)
    # Tiers it covers (EnvironmentTier names); empty with no applications means "everything".
    tiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    applications: Mapped[list[Application]] = relationship(
        secondary=blackout_applications, lazy="raise", order_by=Application.key
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeploymentPlan(Base):
    """A release's runbook: its ordered activities."""

    __tablename__ = "deployment_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"),
                                            unique=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Where it came from: a template's name, or the release key it was copied from.
    origin: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Bumped by every write of the plan or its activities (optimistic concurrency).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    activities: Mapped[list[DeploymentActivity]] = relationship(
        lazy="raise", order_by="DeploymentActivity.position", cascade="all, delete-orphan"
    )


class DeploymentActivity(Base):
    __tablename__ = "deployment_activities"
    __table_args__ = (UniqueConstraint("plan_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("deployment_plans.id", ondelete="CASCADE"),
                                         index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str] = mapped_column(String(100), default="")
    planned_start: Mapped[datetime | None]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=0)
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="SET NULL"))
    # Ids of activities of the same plan that must be done (or skipped) first.
    depends_on: Mapped[list[int]] = mapped_column(JSON, default=list, server_default="[]")
    implementation_steps: Mapped[str] = mapped_column(Text, default="", server_default="")
    backout_steps: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[ActivityStatus] = mapped_column(
        _enum(ActivityStatus, "activity_status"), default=ActivityStatus.NOT_STARTED
    )
    started_at: Mapped[datetime | None]
    started_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    finished_at: Mapped[datetime | None]
    finished_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # Why it failed or was skipped.
    outcome_note: Mapped[str] = mapped_column(Text, default="", server_default="")


class PlanTemplate(Base):
    """A runbook to start a plan from: activities without dates, owners or statuses."""

    __tablename__ = "plan_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # [{"title", "duration_minutes", "depends_on": [indexes], "implementation_steps",
    #   "backout_steps", "environment_tier"}]
    activities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class CalendarFeed(Base):
    """A user's secret calendar address; only the secret's hash is kept, as for tokens."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class AuditEvent(Base):
    """One write: who did what to which entity, with its state before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id", "id"),
                      # A release's history, newest first.
                      Index("ix_audit_release", "release_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    entity_key: Mapped[str] = mapped_column(String(200), default="")
    # The release a change concerns (also for phases, links...), so history is one query.
    release_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), default=Role.VIEWER)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    # A user's tokens, newest first.
    __table_args__ = (Index("ix_api_tokens_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # Only a hash is kept; the prefix lets people recognise a token in a list.
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[Role] = mapped_column(_enum(Role, "token_role"))
    # "" for everything its role allows; "gates" for reading release gates only (CI).
    scope: Mapped[str] = mapped_column(String(20), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class LoginSession(Base):
    """A dashboard sign-in, kept server-side so logout and expiry really end it.

    The cookie carries a random secret; only its hash is stored here.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # The cookie before the last rotation stays valid briefly, for requests already in flight.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    previous_valid_until: Mapped[datetime | None]


class ChangeIntent(Base):
    """A change request Heatshield means to raise, written before the upstream call.

    The correlation id travels into the upstream record, so after a lost
    response, a retry or a restart the hub finds what it created instead of
    creating it again.
    """

    __tablename__ = "change_intents"
    __table_args__ = (UniqueConstraint("release_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"),
                                            index=True)
    source: Mapped[str] = mapped_column(String(80))
    correlation_id: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[IntentStatus] = mapped_column(_enum(IntentStatus, "intent_status"),
                                                 default=IntentStatus.PENDING)
    number: Mapped[str | None] = mapped_column(String(80))
    draft: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    # Who may call the ITSM for this intent now: a compare-and-set claim with a lease.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # Why an additional change was raised beside an open one (empty otherwise).
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """The inbox: an upstream event, stored before it is acted on.

    Its delivery id and body digest are unique per source, so a replay has no
    effect; `processed_at` stays empty until the event has been applied, so a
    crash between receipt and processing loses nothing (api/inbox.py).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("source", "delivery_id"),
                      UniqueConstraint("source", "digest",
                                       name="uq_webhook_deliveries_source_digest"),
                      Index("ix_webhook_deliveries_pending", "processed_at", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(80))
    delivery_id: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(80), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The event's own id or a digest of the signed body: a replay under a new delivery id.
    digest: Mapped[str | None] = mapped_column(String(64))
    # Events of one record (a change, a repository's environment) are applied in order.
    record_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # The neutral event, as api/inbox.py encodes it; null for deliveries taken before
    # the inbox (they were applied when they arrived).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A processor holds the event until then; past it, another may take it over.
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")


class PollWatermark(Base):
    """How far the hub has read a polled source's changes: its own last-modified time.

    Stored, so a restart neither misses what changed while it was down nor reads
    it twice (the inbox drops what it already has)."""

    __tablename__ = "poll_watermarks"

    source: Mapped[str] = mapped_column(String(80), primary_key=True)
    watermark: Mapped[datetime]
    polled_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersistedQuery(Base):
    """A GraphQL document known by its SHA-256 (api/persisted_queries.py).

    In the database rather than in memory so every replica knows what any one of
    them was taught: an Apollo client that sent the document to one replica may
    send only its hash to the next.
    """

    __tablename__ = "persisted_queries"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    # The hash of the document's canonical form: how a whole document a client sends is
    # matched to a registered one in allow-list mode, whatever its spacing or __typename.
    canonical_sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Registered from a manifest (allowed in allow-list mode, never forgotten), or
    # remembered from a client (forgotten oldest first past the configured bound).
    registered: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PipelineGate(Base):
    """A pipeline waiting for the hub's word (a deployment protection rule), until answered.

    One row per callback; `answered_at` is set by whoever claims the answer first,
    so two replicas never answer one pipeline twice."""

    __tablename__ = "pipeline_gates"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(80))
    callback: Mapped[str] = mapped_column(String(500), unique=True)
    repository: Mapped[str] = mapped_column(String(200))
    ref: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(100))
    release_id: Mapped[int | None] = mapped_column(
        ForeignKey("releases.id", ondelete="SET NULL"), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(index=True)
    decision: Mapped[str] = mapped_column(String(20), default="", server_default="")
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")


class Report(Base):
    """A saved GraphQL query published as CSV or JSON (api/reports.py).

    It runs as its owner, so it never shows more than the owner may read; `columns`
    are [{"path": "a.b", "header": "B"}], dotted paths into each row of `rows_path`.
    """

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    query: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows_path: Mapped[str] = mapped_column(String(500), default="", server_default="")
    columns: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportToken(Base):
    """A read-only credential for one report's URL; only its hash is kept."""

    __tablename__ = "report_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"),
                                           index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
