"""The Strawberry schema: one graph over Heatshield's data and the upstream systems."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from api.schema.mutations import Mutation
from api.schema.partial_results import PartialResults
from api.schema.query import Query
from api.schema.upstream import (
    GitHubIssue,
    GitHubPullRequest,
    JiraIssue,
    RemedyChange,
    ServiceNowChange,
)
from api.settings import LimitSettings

EXPECTED_CODES = frozenset({"BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "FORBIDDEN",
                            "UNAUTHENTICATED", "QUERY_TOO_COMPLEX", "UPSTREAM_REFUSED",
                            "GATE_FAILED"})
log = logging.getLogger("heatshield.graphql")


class HeatshieldSchema(strawberry.Schema):
    """Logs only unexpected errors: a refused input is the client's business, not ours."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: Any = None) -> None:
        for error in errors:
            code = (error.extensions or {}).get("code")
            if error.original_error is None or code in EXPECTED_CODES or (
                    code and str(code).startswith("UPSTREAM_")):
                log.debug("refused: %s", error.message)
            else:
                log.error("unexpected error: %s", error.message, exc_info=error.original_error)


def build_schema(limits: LimitSettings | None = None) -> strawberry.Schema:
    """Guards are passed as factories so each operation gets its own instances."""
    limits = limits or LimitSettings()
    extensions: list[Any] = [
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(QueryDepthLimiter, max_depth=limits.max_depth),
        partial(MaxAliasesLimiter, max_alias_count=limits.max_aliases),
        partial(ParserCache, maxsize=256),
        partial(ValidationCache, maxsize=256),
        PartialResults,
    ]
    return HeatshieldSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        types=[JiraIssue, GitHubIssue, GitHubPullRequest, ServiceNowChange, RemedyChange],
        config=StrawberryConfig(sort_schema=False),
    )


def export_sdl() -> str:
    """The SDL that `heatshield schema` prints and `schema.graphql` must equal."""
    return build_schema().as_str() + "\n"
