"""Where the change bridge used to live; the use cases are now `api.services.changes`.

Kept so existing imports work: `ChangeBridge` is the change service, and
`ChangeBridgeError` an older coded refusal nothing in the hub raises any more
(services raise `api.errors.ServiceError`).
"""

from __future__ import annotations

from typing import Any

from api.services.changes import (
    CRASH_AFTER_CREATE_ENV,
    ChangeService,
    Raised,
    blackout_facts,
    blocker_rule,
    compose_config,
    release_facts,
)

ChangeBridge = ChangeService

__all__ = ["CRASH_AFTER_CREATE_ENV", "ChangeBridge", "ChangeBridgeError", "ChangeService",
           "Raised", "blackout_facts", "blocker_rule", "compose_config", "release_facts"]


class ChangeBridgeError(Exception):
    """Refused before anything was sent upstream; `code` and `field` go to the client."""

    def __init__(self, message: str, code: str, field: str | None = None,
                 **extensions: Any) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.extensions = extensions
