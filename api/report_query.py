"""The save-time check of a report's query: the graph's own guards, before anything runs.

A report runs later, unattended, from a URL; whatever would refuse it then is
refused now, with what was wrong: it must parse, hold one operation, be a query
(a report only reads), fit the graph, stay inside the depth, alias, size and cost
limits every `/graphql` request gets (api/limits.py), and its saved variables
must fit their declarations. A server in allow-list mode runs only registered
operations, and a report is no way around that: its query must be registered too,
when it is saved and whenever it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import ErrorCode, ServiceError, bad_input
from api.limits import CODED_RULES, DocumentShape, estimate
from api.persisted_queries import canonical_sha256
from api.persisted_store import PersistedQueryStore
from api.settings import LimitSettings, Settings

MAX_QUERY_CHARS = 20_000


def _where(error: GraphQLError) -> str:
    if error.locations:
        first = error.locations[0]
        return f" (line {first.line}, column {first.column})"
    return ""


def check_report_query(schema: GraphQLSchema, limits: LimitSettings, query: str,
                       variables: Mapping[str, Any]) -> DocumentNode:
    """The parsed document, or a BAD_USER_INPUT naming `input.query` or `input.variables`."""
    field = "input.query"
    if not query.strip():
        raise bad_input("a report needs a query", field)
    if len(query) > MAX_QUERY_CHARS:
        raise bad_input(f"a report's query has at most {MAX_QUERY_CHARS} characters", field)
    try:
        document = parse(query, max_tokens=limits.max_tokens)
    except GraphQLError as error:
        raise bad_input(f"the query does not parse: {error.message}{_where(error)}",
                        field) from None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        raise bad_input(f"a report's query holds exactly one operation, not "
                        f"{len(operations)}", field)
    operation = operations[0]
    if operation.operation is not OperationType.QUERY:
        raise bad_input(f"a report only reads: its operation must be a query, not a "
                        f"{operation.operation.value}", field)
    refused = DocumentShape(document).refusal(max_selections=limits.max_selections,
                                              max_depth=limits.max_depth,
                                              max_aliases=limits.max_aliases)
    if refused is not None:
        raise bad_input(f"the query is over a limit: {refused.message}", field)
    errors = validate(schema, document, [CODED_RULES.get(r, r) for r in specified_rules])
    if errors:
        found = "; ".join(f"{e.message}{_where(e)}" for e in errors[:5])
        raise bad_input(f"the query does not fit the graph: {found}", field)
    coerced = get_variable_values(schema, operation.variable_definitions or (),
                                  dict(variables))
    if isinstance(coerced, list):
        raise bad_input("the saved variables do not fit the query: "
                        + "; ".join(e.message for e in coerced[:5]), "input.variables")
    cost = estimate(schema, document, None, coerced.coerced, limits.max_depth + 1,
                    budget=limits.max_cost)
    if cost > limits.max_cost:
        raise bad_input(f"the query costs over {limits.max_cost} (counting stopped at {cost}); "
                        "ask for smaller pages (first/last) or fewer fields", field)
    return document


async def on_the_allow_list(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                            query: str) -> bool:
    """Whether `query` may run under `[graphql] persisted_queries` (always, but in
    allow-list mode only when its canonical form is registered)."""
    if settings.graphql.persisted_queries != "allowlist":
        return True
    canonical = canonical_sha256(query, max_tokens=settings.limits.max_tokens)
    store = PersistedQueryStore(sessions, max_entries=settings.graphql
                                .persisted_queries_max_entries)
    return canonical is not None and await store.is_registered_form(canonical)


def not_on_the_allow_list() -> ServiceError:
    return ServiceError(ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
                        "this server runs only registered operations: register the report's "
                        "query (heatshield persisted register) first", "input.query")
