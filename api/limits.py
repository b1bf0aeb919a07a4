"""How much a query may ask for: a cost computed before anything runs.

Every selected field costs 1; a field with `first` or `last` multiplies the
cost of everything below it by that number (its declared default when the
argument is left out), so `releases(first: 50) { workItems(first: 100) { key } }`
costs about 50 x 100. The estimate is made on the parsed document, before
validation and execution, so a refused query costs the server almost nothing;
the figure is returned in `extensions.cost` either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, SchemaExtension

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
MULTIPLIERS = ("first", "last")


class _Estimator:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any], max_nesting: int) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_nesting = max_nesting

    def selections(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None,
                   spreading: frozenset[str]) -> Iterator[
                       tuple[FieldNode, GraphQLNamedType | None, frozenset[str]]]:
        """The fields of a selection set, fragments flattened (cycles cut)."""
        if node is None:
            return
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent, spreading
            elif isinstance(selection, InlineFragmentNode):
                inner = (self.schema.get_type(selection.type_condition.name.value)
                         if selection.type_condition else parent)
                yield from self.selections(selection.selection_set, inner, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spreading:
                    continue
                inner = self.schema.get_type(fragment.type_condition.name.value)
                yield from self.selections(fragment.selection_set, inner, spreading | {name})

    def cost(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None,
             nesting: int = 0, spreading: frozenset[str] = frozenset()) -> int:
        # Deeper than allowed is the depth guard's refusal; stop counting there.
        if nesting > self.max_nesting:
            return 0
        total = 0
        for field, owner, seen in self.selections(node, parent, spreading):
            definition = None
            if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
                definition = owner.fields.get(field.name.value)
            child = get_named_type(definition.type) if definition is not None else None
            below = self.cost(field.selection_set, child, nesting + 1, seen)
            total += 1 + self.multiplier(field, definition) * below
        return total

    def multiplier(self, field: FieldNode, definition: Any) -> int:
        given = {a.name.value: a.value for a in field.arguments or ()}
        for name in MULTIPLIERS:
            value: Any = None
            if name in given:
                node = given[name]
                if isinstance(node, IntValueNode):
                    value = int(node.value)
                elif isinstance(node, VariableNode):
                    value = self.variables.get(node.name.value)
            elif definition is not None and name in definition.args:
                value = definition.args[name].default_value
            if isinstance(value, int) and not isinstance(value, bool):
                return max(value, 1)
        return 1


def estimate(schema: GraphQLSchema, document: Any, operation_name: str | None,
             variables: Mapping[str, Any] | None, max_nesting: int = 64) -> int:
    """The cost of the operation that would run (the largest one if unnamed and ambiguous)."""
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    estimator = _Estimator(schema, fragments, variables or {}, max_nesting)
    costs = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name and (definition.name is None
                               or definition.name.value != operation_name):
            continue
        root = {OperationType.QUERY: schema.query_type,
                OperationType.MUTATION: schema.mutation_type,
                OperationType.SUBSCRIPTION: schema.subscription_type}[definition.operation]
        costs.append(estimator.cost(definition.selection_set, root))
    return max(costs, default=0)


class QueryCost(SchemaExtension):
    """Refuses operations over `max_cost` with QUERY_TOO_COMPLEX; reports the cost."""

    def __init__(self, *, max_cost: int, max_depth: int) -> None:
        self.max_cost = max_cost
        self.max_depth = max_depth
        self.cost: int | None = None

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            self.cost = estimate(context.schema._schema, document, context.operation_name,
                                 context.variables, self.max_depth + 1)
            if self.cost > self.max_cost:
                # Errors set here stop the operation before any resolver runs.
                context.pre_execution_errors = [GraphQLError(
                    f"query cost {self.cost} exceeds the maximum of {self.max_cost}; "
                    "ask for smaller pages (first/last) or fewer fields",
                    extensions={"code": QUERY_TOO_COMPLEX, "cost": self.cost,
                                "maximumCost": self.max_cost})]
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": {"requested": self.cost, "maximum": self.max_cost}}


class NoIntrospection(AddValidationRules):
    """Production schemas do not describe themselves to strangers."""

    def __init__(self) -> None:
        super().__init__([NoSchemaIntrospectionCustomRule])
