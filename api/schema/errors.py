"""How every error leaves the graph: a code, and for bad input the field.

Resolvers and services raise `api.errors.ServiceError` (helpers `bad_input`,
`not_found`, `conflict` there); `shape_error` is the one place it becomes a
coded GraphQL error.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError, IntegrityError

from api.errors import ErrorCode, ServiceError

# --- how every error leaves the graph ---------------------------------------------------

errors_log = logging.getLogger("heatshield.errors")
log = logging.getLogger("heatshield.graphql")

INTERNAL_SERVER_ERROR = str(ErrorCode.INTERNAL_SERVER_ERROR)
# Every code of the vocabulary is a refusal made on purpose; only ours is unexpected.
EXPECTED_CODES = frozenset(str(code) for code in ErrorCode) - {INTERNAL_SERVER_ERROR}
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def new_error_id() -> str:
    return uuid.uuid4().hex[:16]


def internal_error_body(error_id: str) -> dict[str, Any]:
    """What a client learns of a failure of ours: that it happened, and its reference."""
    return {"message": f"internal error; reference {error_id}",
            "extensions": {"code": INTERNAL_SERVER_ERROR, "errorId": error_id}}


def log_internal(error_id: str, exc: BaseException | None, where: str) -> None:
    """The detail of an internal error, for operators, under its reference.

    SQL errors name their class and statement only: the engine hides parameters
    (`hide_parameters=True`), and nothing here prints them either.
    """
    if isinstance(exc, DBAPIError):
        driver = type(exc.orig).__name__ if exc.orig is not None else "-"
        errors_log.error("internal error %s at %s: %s (%s) in SQL: %s", error_id, where,
                         type(exc).__name__, driver, exc.statement)
    elif exc is not None:
        errors_log.error("internal error %s at %s: %s", error_id, where,
                         type(exc).__name__, exc_info=exc)
    else:
        errors_log.error("internal error %s at %s", error_id, where)


def shape_error(error: GraphQLError, *, hide_suggestions: bool = False) -> None:
    """Give one error its code and client-facing message, in place (idempotent).

    A service's refusal keeps its code and message; a unique-key race becomes
    CONFLICT; an error the graph raised on purpose keeps its code; anything else
    raised while executing is ours: the client gets a generic message with a
    reference, the log gets the detail under the same reference.
    """
    original = error.original_error
    extensions = dict(error.extensions or {})
    if hide_suggestions and "Did you mean" in error.message:
        error.message = _SUGGESTION.sub("", error.message)
    if isinstance(original, ServiceError):
        error.message = original.message
        error.extensions = original.as_extensions()
    elif "code" in extensions:
        code = str(extensions["code"])
        if original is not None and code not in EXPECTED_CODES and not (
                code.startswith("UPSTREAM_") or "errorId" in extensions):
            log.error("unexpected error: %s", error.message, exc_info=original)
    elif isinstance(original, IntegrityError):
        error.message = "the write conflicts with an existing record; read it and retry"
        error.extensions = {"code": str(ErrorCode.CONFLICT)}
    elif error.path is not None or (
            original is not None and not isinstance(original, GraphQLError | ValueError)):
        # Raised while executing (errors without a path are the operation's own:
        # its variables or document; `error_code` in the view names them).
        error_id = new_error_id()
        log_internal(error_id, original, ".".join(map(str, error.path or [])) or "graph")
        body = internal_error_body(error_id)
        error.message = body["message"]
        error.extensions = body["extensions"]
