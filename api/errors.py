"""One vocabulary of API error codes, and the typed exception services raise.

Services (and anything below the graph) raise `ServiceError` with a code;
the graph maps it to a coded GraphQL error in one place
(`api.graphql_view.HeatshieldGraphQL.process_result`). Nothing classifies an
error by matching its message text.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    # The caller's input or request
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    CHANGE_IN_PROGRESS = "CHANGE_IN_PROGRESS"
    GATE_FAILED = "GATE_FAILED"
    BLACKOUT_WARNING = "BLACKOUT_WARNING"
    TRANSITION_REFUSED = "TRANSITION_REFUSED"
    # Who is calling
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    CSRF_REFUSED = "CSRF_REFUSED"
    RATE_LIMITED = "RATE_LIMITED"
    # The operation as a document
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
    TOO_MANY_OPERATIONS = "TOO_MANY_OPERATIONS"
    BATCHING_DISABLED = "BATCHING_DISABLED"
    OPERATION_NOT_ALLOWED = "OPERATION_NOT_ALLOWED"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    BAD_REQUEST = "BAD_REQUEST"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    # Persisted queries (api/persisted_queries.py), in the words Apollo clients read
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
    # Upstream systems (the connectors' own codes, connectors.errors.ErrorCode)
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    UPSTREAM_RATE_LIMITED = "UPSTREAM_RATE_LIMITED"
    UPSTREAM_AUTH_FAILED = "UPSTREAM_AUTH_FAILED"
    UPSTREAM_BAD_RESPONSE = "UPSTREAM_BAD_RESPONSE"
    UPSTREAM_REFUSED = "UPSTREAM_REFUSED"
    BAD_LINK_KEY = "BAD_LINK_KEY"
    # Ours
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class ServiceError(Exception):
    """A refusal a client can act on: a code, the input field at fault, and details."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None,
                 **extensions: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.extensions = extensions

    def as_extensions(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": str(self.code), **self.extensions}
        if self.field:
            extensions["field"] = self.field
        return extensions


def bad_input(message: str, field: str, **extensions: Any) -> ServiceError:
    return ServiceError(ErrorCode.BAD_USER_INPUT, message, field, **extensions)


def not_found(what: str, ident: str, field: str = "id") -> ServiceError:
    return ServiceError(ErrorCode.NOT_FOUND, f"{what} {ident!r} does not exist", field)


def conflict(message: str, field: str | None = None, **extensions: Any) -> ServiceError:
    return ServiceError(ErrorCode.CONFLICT, message, field, **extensions)
