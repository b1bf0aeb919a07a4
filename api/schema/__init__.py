"""The Strawberry schema: one graph over Heatshield's data and the upstream systems."""

from __future__ import annotations

from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLEnumType, GraphQLError
from strawberry.extensions import MaxTokensLimiter, ParserCache
from strawberry.schema.config import BatchingConfig, StrawberryConfig
from strawberry.tools import merge_types

from api.limits import GuardedValidation, NoIntrospection, QueryCost
from api.request_context import OperationName
from api.schema.access import AccessMutation, AccessQuery
from api.schema.change_bridge import ChangeBridgeMutation
from api.schema.errors import shape_error
from api.schema.execution import (
    HeatshieldExecutionContext,
    plain_attributes,
    quick_enum_output,
)
from api.schema.feeds import FeedMutation, FeedQuery
from api.schema.input_guard import InputGuard
from api.schema.insights import InsightsQuery
from api.schema.mutations import Mutation as ReleaseMutation
from api.schema.partial_results import PartialResults
from api.schema.planning import PlanningMutation, PlanningQuery
from api.schema.query import Query as ReleaseQuery
from api.schema.reports import ReportMutation, ReportQuery
from api.schema.scalars import SCALARS
from api.schema.subscriptions import Subscription
from api.schema.upstream import GRAPH_TYPES
from api.settings import LimitSettings

# The graph is assembled from parts; each part guards its own fields.
Query = merge_types("Query", (ReleaseQuery, AccessQuery, PlanningQuery, FeedQuery,
                               InsightsQuery, ReportQuery))
Mutation = merge_types("Mutation", (ReleaseMutation, ChangeBridgeMutation, AccessMutation,
                                    PlanningMutation, FeedMutation, ReportMutation))


class HeatshieldSchema(strawberry.Schema):
    """Every error gets its code here (`shape_error`); only unexpected ones are logged.

    Strawberry's own error logging is replaced, so no exception text (which for a
    database error may carry values) reaches a log except through `shape_error`.
    Without introspection, messages carry no "Did you mean ...?" either: suggestions
    would describe the schema to a stranger field by field.
    """

    hide_suggestions = False

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: Any = None) -> None:
        for error in errors:
            shape_error(error, hide_suggestions=self.hide_suggestions)


def build_schema(limits: LimitSettings | None = None, *,
                 introspection: bool = True) -> strawberry.Schema:
    """Guards are passed as factories so each operation gets its own instances."""
    limits = limits or LimitSettings()
    extensions: list[Any] = [
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(ParserCache, maxsize=256),
        # Depth, aliases and the fragment-expanded size are measured in one linear pass
        # before the (cached) validation rules, which expand every fragment spread.
        partial(GuardedValidation, max_selections=limits.max_selections,
                max_depth=limits.max_depth, max_aliases=limits.max_aliases, maxsize=256),
        InputGuard,
        # After validation (cached above), so a costly but valid query is refused unrun.
        partial(QueryCost, max_cost=limits.max_cost, max_depth=limits.max_depth),
        PartialResults,
        OperationName,
    ]
    if not introspection:
        extensions.append(NoIntrospection)
    batching = (BatchingConfig(max_operations=limits.max_batch_operations)
                if limits.max_batch_operations else None)
    schema = HeatshieldSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        types=[t for shape in GRAPH_TYPES.values() for t in shape],
        config=StrawberryConfig(sort_schema=False, batching_config=batching,
                                scalar_map=SCALARS,
                                disable_field_suggestions=not introspection),
        execution_context_class=HeatshieldExecutionContext,
    )
    for graphql_type in schema._schema.type_map.values():
        if isinstance(graphql_type, GraphQLEnumType):
            quick_enum_output(graphql_type)
    plain_attributes(schema)
    schema.hide_suggestions = not introspection
    return schema


def export_sdl() -> str:
    """The SDL that `heatshield schema` prints and `schema.graphql` must equal."""
    return build_schema().as_str() + "\n"
