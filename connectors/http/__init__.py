"""The one HTTP layer every connector talks through, one concept per module.

- `client`: `UpstreamClient`, the pooled client with de-duplication and health.
- `policy`: timeouts, retries, the circuit breaker, `Retry-After` and reset headers.
- `etag`: the conditional-request cache.
- `auth`: Basic, bearer and session-token credentials.
- `redaction`: scrubbing secrets from logs, installed at start-up, not at import.
- `paths`: path segments built from data.
- `observe`: what an observer hears of each exchange (the server counts calls with it).

The public names are re-exported here: `from connectors.http import UpstreamClient`.
"""

from connectors.http.auth import (
    BasicAuth,
    BearerAuth,
    LoginFailed,
    LoginTokenAuth,
    auth_from_secrets,
)
from connectors.http.client import HealthSnapshot, UpstreamClient
from connectors.http.etag import from_etag_cache
from connectors.http.observe import CallObserver, CallOutcome
from connectors.http.paths import api_path, has_control, segment
from connectors.http.policy import (
    IDEMPOTENT_METHODS,
    CircuitBreaker,
    RetryPolicy,
    Timeouts,
    retry_after_seconds,
)
from connectors.http.redaction import (
    forget_secret,
    install_log_redaction,
    log_redaction_installed,
    register_secret,
)
from connectors.records import BreakerState

__all__ = [
    "IDEMPOTENT_METHODS",
    "BasicAuth",
    "BearerAuth",
    "BreakerState",
    "CallObserver",
    "CallOutcome",
    "CircuitBreaker",
    "HealthSnapshot",
    "LoginFailed",
    "LoginTokenAuth",
    "RetryPolicy",
    "Timeouts",
    "UpstreamClient",
    "api_path",
    "auth_from_secrets",
    "forget_secret",
    "from_etag_cache",
    "has_control",
    "install_log_redaction",
    "log_redaction_installed",
    "register_secret",
    "retry_after_seconds",
    "segment",
]
