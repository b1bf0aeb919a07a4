"""GraphQL errors that clients can act on: a code and, for bad input, the field."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"


def bad_input(message: str, field: str, **extra: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": BAD_USER_INPUT, "field": field, **extra})


def not_found(what: str, ident: str, field: str = "id") -> GraphQLError:
    return GraphQLError(f"{what} {ident!r} does not exist",
                        extensions={"code": NOT_FOUND, "field": field})


def conflict(message: str, field: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": CONFLICT, "field": field})
