"""Configuration: a TOML file plus ``HEATSHIELD_*`` environment overrides.

Settings are built once, in the app factory or the CLI, never at import, so
tests can set the environment first. Every value is validated at start-up and
a bad one is reported with its dotted key (``database.url``) and the reason.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.config import ConnectorConfig

CONFIG_ENV = "HEATSHIELD_CONFIG"
DEFAULT_CONFIG = Path("heatshield.toml")


class SettingsError(Exception):
    """Raised when the configuration cannot be read or is invalid."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///heatshield.db"
    echo: bool = False
    # Connections kept open, and how many more a burst may open. No request holds one
    # while it waits on an upstream, so a slow source cannot drain the pool.
    pool_size: int = Field(default=10, ge=1, le=1000)
    max_overflow: int = Field(default=10, ge=0, le=1000)
    # How long a request waits for a free connection before it fails.
    pool_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                "(Heatshield uses the async drivers)"
            )
        return value


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Where browsers reach us; used for the printed URLs and Origin checks.
    public_url: str | None = None
    # Slow clients (api/server.py). A request's line and headers must arrive within
    # this many seconds of the connection opening (or of its first byte on a kept-alive
    # connection); past it the connection is closed (408 when something was sent).
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # The whole body must arrive within this many seconds of the headers: 408 after.
    # 1 MB (limits.max_body_bytes) in 30 s needs about 35 KB/s.
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # An idle kept-alive connection is closed after this many seconds.
    keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    # Open connections (and requests in flight) per process; past it uvicorn answers 503.
    max_connections: int = Field(default=1000, ge=1)
    # The request line and headers together; larger is refused with 400.
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or
    # networks, "*" for any), as uvicorn's option of the same name; from anyone
    # else those headers are ignored, so a client cannot pick its own address.
    forwarded_allow_ips: list[str] = ["127.0.0.1"]

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            if item.strip() == "*":
                continue
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address, a network or *") from None
        return [item.strip() for item in value]


class LimitSettings(_Section):
    """Guards against expensive or hostile queries; safe by default."""

    max_depth: int = Field(default=12, ge=1)
    # Fields, inline fragments and spreads of an operation with every fragment spread
    # counted as often as it is spread (nested ones multiplied): refused above this
    # before any validation rule runs. A document within max_tokens and without
    # fragments stays far below it; fragments spreading fragments do not.
    max_selections: int = Field(default=5000, ge=100)
    max_tokens: int = Field(default=2000, ge=10)
    max_aliases: int = Field(default=30, ge=1)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    # Each field costs 1 plus its weight (api.limits.FIELD_WEIGHTS: 100 for a live read
    # of a release's upstream records, 1500 for gates, changePreview and releaseNotes);
    # `first`/`last` multiply what is below them.
    max_cost: int = Field(default=200_000, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # A webhook delivery's body (deployment and issue events are tens of KB); larger is
    # refused with 413 before it is read.
    max_webhook_body_bytes: int = Field(default=262_144, ge=1024)
    # How long a delivery waits for an earlier one of the same record before it is queued.
    webhook_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    # Operations in one batched request; 0 turns batching off.
    max_batch_operations: int = Field(default=10, ge=0, le=100)
    # None: on in development, off in production.
    introspection: bool | None = None
    # Requests per minute per caller (token or user); bursts up to `rate_limit_burst`.
    rate_limit_per_minute: int = Field(default=600, ge=1)
    rate_limit_burst: int = Field(default=100, ge=1)


class SecuritySettings(_Section):
    """Sessions, cookies, origins and login throttling."""

    # Signs session cookies; required in production, random per process otherwise.
    secret_key: SecretStr | None = None
    session_idle_minutes: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    # A session older than this gets a fresh cookie; the old one keeps working for
    # `session_rotate_grace_seconds`, for the browser's requests already in flight.
    session_rotate_minutes: int = Field(default=15, ge=1)
    session_rotate_grace_seconds: int = Field(default=60, ge=1, le=600)
    # None: Secure when the request or server.public_url is HTTPS.
    cookie_secure: bool | None = None
    cookie_name: str = "heatshield_session"
    # Origins (scheme://host[:port]) allowed to send cookie-authenticated writes,
    # besides server.public_url and the server's own host.
    allowed_origins: list[str] = []
    # Login attempts per client address and minute (all at once, then steady).
    login_attempts_per_minute: int = Field(default=20, ge=1)
    # Failed logins per user name and client address: the first `login_max_failures`
    # are free, each further one doubles the wait (from `login_backoff_seconds` up to
    # `login_backoff_max_seconds`). Never a lock: another address is not slowed.
    login_max_failures: int = Field(default=5, ge=1)
    login_backoff_seconds: float = Field(default=1.0, gt=0)
    login_backoff_max_seconds: float = Field(default=300.0, gt=0)
    # Failures are forgotten after this long without one.
    login_lockout_minutes: int = Field(default=15, ge=1)
    password_min_length: int = Field(default=12, ge=8)
    token_max_days: int = Field(default=365, ge=1)
    # A principal found for a token or session is kept this long (0: asked every request);
    # a revocation, logout or role change here or on another replica drops it at once.
    principal_cache_seconds: float = Field(default=10.0, ge=0, le=300)
    # Last-used times of tokens and sessions are written in batches this often (and at
    # shutdown), never on a request's path.
    last_used_flush_seconds: float = Field(default=30.0, gt=0, le=3600)


class FederationSettings(_Section):
    """The short cross-request cache of upstream answers, and how long a request waits."""

    cache_ttl_seconds: float = Field(default=15.0, ge=0)
    # How old a copy may be and still be served (flagged stale) when a source fails.
    cache_max_stale_seconds: float = Field(default=3600.0, ge=0)
    cache_max_entries: int = Field(default=10_000, ge=0)
    # How long one request waits for upstream data in all. Past it the fields answer
    # from the stale copy (or empty) with UPSTREAM_TIMEOUT, and the call goes on in the
    # background to fill the cache; the connector's own timeout still ends it.
    request_deadline_seconds: float = Field(default=5.0, gt=0, le=300)
    # Upstream calls left running after their request's deadline, at most; past it a
    # late call is cancelled, so a hung source cannot pile up work.
    max_background_fetches: int = Field(default=32, ge=0, le=10_000)


class MetricsSettings(_Section):
    """Prometheus metrics at /metrics (api/metrics.py)."""

    enabled: bool = True
    # The least role of a signed-in caller or API token that may read them. A scraper
    # needs no more than a VIEWER token (Prometheus: `authorization: credentials_file`).
    role: Literal["VIEWER", "RELEASE_MANAGER", "ADMIN"] = "VIEWER"
    # Addresses or networks that may scrape without credentials (the Prometheus host).
    allow_from: list[str] = []
    # Distinct GraphQL operation names given their own label; later ones are "(other)".
    max_operations: int = Field(default=100, ge=0, le=10_000)

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or a network") from None
        return [item.strip() for item in value]


class TelemetrySettings(_Section):
    """OpenTelemetry traces (api/telemetry.py); off unless an endpoint is named."""

    # The OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces.
    otlp_endpoint: str | None = None
    service_name: str = "heatshield"
    # The share of traces kept (a request that arrives with a sampled parent is kept).
    sample_ratio: float = Field(default=1.0, ge=0, le=1)

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (OTLP over HTTP)")
        return value


class RedisSettings(_Section):
    """State shared by replicas (api/shared_state.py): rate limits, login throttling,
    breaker state and upstream cache invalidation. Unset: all of it stays in-process."""

    # redis://[:password@]host:port/db or rediss://...; a password here is never logged.
    url: SecretStr | None = None
    # Prepended to every key and channel, so several hubs (or tests) can share one Redis.
    key_prefix: str = Field(default="heatshield:", min_length=1, max_length=100)
    # How long one Redis call may take before it counts as Redis being down.
    timeout_seconds: float = Field(default=0.5, gt=0, le=30)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
                ("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


class LoggingSettings(_Section):
    """How log lines look: `text` for people, `json` (one object a line) for collectors."""

    format: Literal["text", "json"] = "text"


ChangeTypeName = Literal["STANDARD", "NORMAL", "EMERGENCY"]
OpenStatusName = Literal["TODO", "IN_PROGRESS"]


def _default_change_types() -> dict[str, ChangeTypeName]:
    return {"EMERGENCY": "EMERGENCY", "ENTERPRISE": "NORMAL", "PROJECT": "NORMAL"}


def _default_blocker_statuses() -> list[OpenStatusName]:
    return ["TODO", "IN_PROGRESS"]


class ChangeSettings(_Section):
    """How the change bridge composes change requests and gates deployments."""

    # The change source raiseChangeRequest uses when none is named.
    default_source: str | None = None
    # Release type -> change type (STANDARD | NORMAL | EMERGENCY).
    change_types: dict[str, ChangeTypeName] = Field(default_factory=_default_change_types)
    # A STANDARD change is pre-approved: it needs no approval before deploying.
    pre_approved_standard: bool = True
    backout_plan: str = "Redeploy the previous release of each affected application."
    # Which unfinished work items block a deployment.
    blocker_priorities: list[str] = Field(
        default_factory=lambda: ["highest", "blocker", "critical"])
    blocker_statuses: list[OpenStatusName] = Field(default_factory=_default_blocker_statuses)
    blocker_labels: list[str] = Field(default_factory=list)
    # How far back failed deployments of the same applications raise the risk.
    failed_deployment_days: int = Field(default=30, ge=0)
    # How long one request holds the claim to raise a change; past it another may take
    # over (after looking the change up upstream). Longer than a create with its retries.
    claim_lease_seconds: float = Field(default=120.0, gt=0)
    # How long a retry waits for the claimer's outcome before answering CHANGE_IN_PROGRESS.
    claim_wait_seconds: float = Field(default=5.0, ge=0)


class EventSettings(_Section):
    """Live updates: GraphQL subscriptions and the events behind them."""

    # Live subscriptions one caller may hold at once, in one process.
    subscriptions_per_caller: int = Field(default=20, ge=1, le=1000)
    # Events a slow subscriber may fall behind before the oldest are dropped.
    subscriber_queue: int = Field(default=100, ge=1, le=10_000)
    # How often a subscription checks that its caller's session or token still holds.
    recheck_seconds: float = Field(default=30.0, gt=0, le=3600)
    # How often ITSMs that push nothing (their kind polls) are asked what changed; 0: never.
    poll_seconds: float = Field(default=30.0, ge=0, le=86_400)


class GraphQLSettings(_Section):
    """Persisted queries (api/persisted_queries.py), shared by replicas in the database."""

    # "automatic": Apollo's automatic persisted queries (a client sends the SHA-256 of its
    # document, and the document itself once when the hub answers PersistedQueryNotFound);
    # "allowlist": only operations registered from a manifest run (`heatshield persisted
    # register`, or `persisted_queries_manifest` at start-up), by hash or by document;
    # "off": a request that names a hash is answered PersistedQueryNotSupported.
    persisted_queries: Literal["off", "automatic", "allowlist"] = "automatic"
    # Documents remembered automatically, at most; past it the oldest are forgotten
    # (registered ones never are).
    persisted_queries_max_entries: int = Field(default=10_000, ge=1, le=1_000_000)
    # A manifest (hash -> document, as graphql-codegen's persisted documents) to register
    # at start-up, e.g. the dashboard's frontend/src/gql/persisted-documents.json.
    persisted_queries_manifest: Path | None = None
    # Whole answers to identical reads (same document, variables, role and scope), kept
    # at most this long and never longer than [federation] cache_ttl_seconds (0: off);
    # any write, upstream event or upstream refresh drops them (api/response_cache.py).
    response_cache_seconds: float = Field(default=15.0, ge=0)
    response_cache_entries: int = Field(default=1000, ge=0, le=1_000_000)
    response_cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)


class VocabularySettings(_Section):
    """Words an organisation uses for Heatshield's terms, in release notes."""

    release: str = "release"
    change: str = "change"
    work_item: str = "work item"
    version: str = "version"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HEATSHIELD_", env_nested_delimiter="__", extra="forbid"
    )

    environment: Literal["development", "production"] = "development"
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    limits: LimitSettings = LimitSettings()
    federation: FederationSettings = FederationSettings()
    changes: ChangeSettings = ChangeSettings()
    events: EventSettings = EventSettings()
    vocabulary: VocabularySettings = VocabularySettings()
    graphql: GraphQLSettings = GraphQLSettings()
    security: SecuritySettings = SecuritySettings()
    metrics: MetricsSettings = MetricsSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    redis: RedisSettings = RedisSettings()
    logging: LoggingSettings = LoggingSettings()
    connectors: list[ConnectorConfig] = []

    @model_validator(mode="after")
    def _production_needs_a_key(self) -> Settings:
        if self.environment == "production" and self.security.secret_key is None:
            raise ValueError("security.secret_key is required when environment is production "
                             "(sessions must survive restarts and agree across replicas)")
        return self

    @property
    def introspection(self) -> bool:
        if self.limits.introspection is not None:
            return self.limits.introspection
        return self.environment != "production"

    @field_validator("connectors")
    @classmethod
    def _unique_names(cls, value: list[ConnectorConfig]) -> list[ConnectorConfig]:
        seen: set[str] = set()
        for connector in value:
            if connector.name in seen:
                raise ValueError(f"connector name {connector.name!r} is used twice")
            seen.add(connector.name)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment wins over them.
        return (env_settings, init_settings)


def _describe(error: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration ({origin}):"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"  {key}: {item['msg']}")
    return "\n".join(lines)


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (if any), apply ``HEATSHIELD_*`` and validate.

    ``path`` defaults to ``$HEATSHIELD_CONFIG`` and then ``./heatshield.toml``;
    an explicitly named file that does not exist is an error, the default is not.
    """
    explicit = path or os.environ.get(CONFIG_ENV)
    config_path = Path(explicit) if explicit else DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config_path}: not valid TOML: {exc}") from None
    elif explicit:
        raise SettingsError(f"configuration file {config_path} does not exist")
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, str(config_path))) from None
