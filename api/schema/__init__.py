"""The Strawberry schema: one graph over Heatshield's data and the upstream systems."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import BatchingConfig, StrawberryConfig
from strawberry.tools import merge_types

from api.limits import NoIntrospection, QueryCost
from api.schema.access import AccessMutation, AccessQuery
from api.schema.change_bridge import ChangeBridgeMutation
from api.schema.mutations import Mutation as ReleaseMutation
from api.schema.partial_results import PartialResults
from api.schema.query import Query as ReleaseQuery
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
                            "GATE_FAILED", "INTROSPECTION_DISABLED", "CHANGE_IN_PROGRESS",
                            "TRANSITION_REFUSED"})
log = logging.getLogger("heatshield.graphql")

# The graph is assembled from parts; each part guards its own fields.
Query = merge_types("Query", (ReleaseQuery, AccessQuery))
Mutation = merge_types("Mutation", (ReleaseMutation, ChangeBridgeMutation, AccessMutation))


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


def build_schema(limits: LimitSettings | None = None, *,
                 introspection: bool = True) -> strawberry.Schema:
    """Guards are passed as factories so each operation gets its own instances."""
    limits = limits or LimitSettings()
    # The depth and alias rules are built once: a new rule class per request would be a
    # new key for the validation cache, so every request would be validated afresh.
    rules: list[type[ASTValidationRule]] = [depth_rule(limits.max_depth, None),
                                            alias_rule(limits.max_aliases)]
    extensions: list[Any] = [
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(AddValidationRules, rules),
        partial(ParserCache, maxsize=256),
        partial(ValidationCache, maxsize=256),
        # After validation (cached above), so a costly but valid query is refused unrun.
        partial(QueryCost, max_cost=limits.max_cost, max_depth=limits.max_depth),
        PartialResults,
    ]
    if not introspection:
        extensions.append(NoIntrospection)
    batching = (BatchingConfig(max_operations=limits.max_batch_operations)
                if limits.max_batch_operations else None)
    return HeatshieldSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        types=[JiraIssue, GitHubIssue, GitHubPullRequest, ServiceNowChange, RemedyChange],
        config=StrawberryConfig(sort_schema=False, batching_config=batching),
    )


def export_sdl() -> str:
    """The SDL that `heatshield schema` prints and `schema.graphql` must equal."""
    return build_schema().as_str() + "\n"
