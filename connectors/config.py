"""Connector instance configuration, as `api/settings.py` loads it.

The file names environment variables, never secrets: `AuthConfig.resolve`
reads them at start-up into `SecretStr`s, which keep them out of reprs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.errors import ConnectorConfigError

AuthType = Literal["none", "basic", "token", "bearer", "ar-jwt"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")


def _check_base_url(value: str) -> str:
    """Reject URLs that would smuggle credentials or cannot be a service root."""
    url = httpx.URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an absolute http(s) URL")
    if url.userinfo:
        raise ValueError("base_url must not contain credentials; use auth with *_env")
    if url.query or url.fragment:
        raise ValueError("base_url must not have a query string or fragment")
    return str(url).rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_check_base_url)]


@dataclass(frozen=True, slots=True)
class AuthSecrets:
    """Credentials resolved from the environment; `SecretStr` hides them in reprs."""

    type: AuthType
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None

    def values(self) -> list[str]:
        """Every secret string, so log redaction can scrub them."""
        return [s.get_secret_value() for s in (self.password, self.token) if s is not None]


class AuthConfig(BaseModel):
    """How an instance authenticates; secrets are named by environment variable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: AuthType = "none"
    username: str | None = None
    token_env: str | None = None
    password_env: str | None = None

    @model_validator(mode="after")
    def _needs_what_it_uses(self) -> AuthConfig:
        if self.type == "basic" and not self.username:
            raise ValueError("basic auth needs a username")
        if self.type == "basic" and not (self.password_env or self.token_env):
            raise ValueError("basic auth needs password_env or token_env")
        if self.type in ("token", "bearer") and not self.token_env:
            raise ValueError(f"{self.type} auth needs token_env")
        if self.type == "ar-jwt" and not (self.username and self.password_env):
            raise ValueError("ar-jwt auth needs username and password_env")
        return self

    def resolve(self, environ: Mapping[str, str] | None = None) -> AuthSecrets:
        """Read the named variables; a missing one is a configuration error naming it."""
        env = os.environ if environ is None else environ

        def read(var: str | None) -> SecretStr | None:
            if var is None:
                return None
            value = env.get(var)
            if not value:
                raise ConnectorConfigError(f"environment variable {var} is not set")
            return SecretStr(value)

        return AuthSecrets(
            type=self.type,
            username=self.username,
            password=read(self.password_env),
            token=read(self.token_env),
        )


class ConnectorConfig(BaseModel):
    """One named connector instance; its `name` is the `source` in the graph."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME.pattern)
    kind: str = Field(min_length=1)
    base_url: BaseUrl
    auth: AuthConfig = AuthConfig()
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    max_retries: int = Field(default=3, ge=0, le=10)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    #: Raw upstream status/state word -> canonical enum member name, overriding defaults.
    status_map: dict[str, str] = Field(default_factory=dict)
    #: Kind-specific settings (JIRA flavour, GitHub owner, ...), read by that kind only.
    options: dict[str, Any] = Field(default_factory=dict)
    #: Names the variable holding the secret this instance's webhooks are signed with.
    webhook_secret_env: str | None = None

    def webhook_secret(self, environ: Mapping[str, str] | None = None) -> SecretStr | None:
        """The webhook secret (None when no webhooks are configured); a missing variable
        is a configuration error naming it, as for the other secrets."""
        if self.webhook_secret_env is None:
            return None
        env = os.environ if environ is None else environ
        value = env.get(self.webhook_secret_env)
        if not value:
            raise ConnectorConfigError(
                f"environment variable {self.webhook_secret_env} is not set")
        return SecretStr(value)
