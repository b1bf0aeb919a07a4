"""How much a query may ask for, judged on the parsed document before anything runs.

Two passes, both linear in the document however its fragments nest:

- `DocumentShape` measures each operation with fragments expanded (selections,
  nesting, aliases), computing each fragment once. `GuardedValidation` refuses
  a document over a limit before any validation rule walks it, because those
  rules (and a naive cost count) expand every spread: a 1 KB query of 18
  fragments that each spread the next twice expands to 2^18 selections.
- `estimate` prices a valid operation. Every selected field costs 1 plus its
  declared weight (`FIELD_WEIGHTS`: fields that read upstream systems or compose
  several reads); a field with `first` or `last` multiplies the cost of everything
  below it by that number (its declared default when the argument is left out),
  so `releases(first: 50) { workItems(first: 100) { key } }` costs about
  50 x (100 + 100). Counting stops once the maximum is passed.

The figure is returned in `extensions.cost` either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from graphql import (
    DocumentNode,
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
from graphql.validation import (
    ASTValidationRule,
    NoSchemaIntrospectionCustomRule,
    ProvidedRequiredArgumentsRule,
    ValuesOfCorrectTypeRule,
)
from strawberry.extensions import AddValidationRules, SchemaExtension, ValidationCache

from api.errors import ErrorCode

QUERY_TOO_COMPLEX = str(ErrorCode.QUERY_TOO_COMPLEX)
INTROSPECTION_DISABLED = str(ErrorCode.INTROSPECTION_DISABLED)
MULTIPLIERS = ("first", "last")

# What a field costs beyond 1, by "Type.field": the one place the price list lives.
# 100 is one federated read for a release (a page of upstream records fetched and
# mapped); the composites read every linked source of the release (work items,
# changes, deployments), the database (applications, blackout windows, history,
# earlier deployments) and then evaluate rules or render text.
FEDERATED_READ = 100
COMPOSITE = 1500
FIELD_WEIGHTS: Mapping[str, int] = {
    "Release.workItems": FEDERATED_READ,
    "Release.changeRequests": FEDERATED_READ,
    "Release.deployments": FEDERATED_READ,
    "Release.readiness": FEDERATED_READ,
    "Release.gates": COMPOSITE,
    "Release.changePreview": COMPOSITE,
    "Release.releaseNotes": COMPOSITE,
    "Query.insights": COMPOSITE,  # every application's deployments, changes and incidents
}


def too_complex(message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": QUERY_TOO_COMPLEX, **extensions})


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)}


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


class DocumentShape:
    """Sizes of a document with fragments expanded, each fragment measured once.

    `selections` counts every field, inline fragment and spread as often as it
    would appear expanded; `height` is the longest chain of nested fields (a
    leaf field is 1; what is below an introspection field is not counted);
    `aliases` counts aliased fields, expanded. A fragment that spreads itself
    (directly or not) counts as empty here: the validation rule for fragment
    cycles refuses it.
    """

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = _fragments(document)
        self.operations = _operations(document)
        self._memo: dict[str, tuple[int, int, int]] = {}
        self._open: set[str] = set()

    def measure(self, node: SelectionSetNode | None) -> tuple[int, int, int]:
        """(selections, height, aliases) of a selection set, expanded."""
        selections = height = aliases = 0
        if node is None:
            return 0, 0, 0
        for selection in node.selections:
            selections += 1
            if isinstance(selection, FieldNode):
                below = self.measure(selection.selection_set)
                selections += below[0]
                # Introspection (`__schema`, `__type`) nests type references deeply by
                # design; its size still counts, its depth does not (as graphql-depth-limit).
                introspection = selection.name.value.startswith("__")
                height = max(height, 1 + (0 if introspection else below[1]))
                aliases += below[2] + (1 if selection.alias else 0)
            elif isinstance(selection, InlineFragmentNode):
                below = self.measure(selection.selection_set)
                selections += below[0]
                height = max(height, below[1])
                aliases += below[2]
            elif isinstance(selection, FragmentSpreadNode):
                below = self.fragment(selection.name.value)
                selections += below[0]
                height = max(height, below[1])
                aliases += below[2]
        return selections, height, aliases

    def fragment(self, name: str) -> tuple[int, int, int]:
        known = self._memo.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self._open:
            return 0, 0, 0  # unknown or cyclic: validation names it
        self._open.add(name)
        try:
            measured = self.measure(definition.selection_set)
        finally:
            self._open.discard(name)
        self._memo[name] = measured
        return measured

    def refusal(self, *, max_selections: int, max_depth: int, max_aliases: int
                ) -> GraphQLError | None:
        """Why the document is too big to validate or run, or None."""
        total_aliases = 0
        for operation in self.operations:
            selections, height, aliases = self.measure(operation.selection_set)
            name = operation.name.value if operation.name else "the operation"
            if selections > max_selections:
                return too_complex(
                    f"{name} expands to {selections} selections (fragments spread out); "
                    f"the maximum is {max_selections}", selections=selections,
                    maximumSelections=max_selections)
            # Root fields are at depth 0: a chain of max_depth + 1 fields is the deepest.
            if height - 1 > max_depth:
                return too_complex(
                    f"{name} is nested {height - 1} fields deep; it exceeds maximum "
                    f"operation depth of {max_depth}", depth=height - 1,
                    maximumDepth=max_depth)
            total_aliases += aliases
        if total_aliases > max_aliases:
            return too_complex(f"{total_aliases} aliases found; the maximum is {max_aliases}",
                               aliases=total_aliases, maximumAliases=max_aliases)
        return None


class _Coded(ASTValidationRule):
    """A validation rule whose refusals carry their code from the moment they are made."""

    code: ClassVar[ErrorCode]

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": str(self.code)}
        super().report_error(error)


class InputValuesRule(_Coded, ValuesOfCorrectTypeRule):
    """A literal argument value its type refuses: the caller's input, not the document."""

    code = ErrorCode.BAD_USER_INPUT


class RequiredArgumentsRule(_Coded, ProvidedRequiredArgumentsRule):
    """A required argument left out: the caller's input."""

    code = ErrorCode.BAD_USER_INPUT


class IntrospectionRule(_Coded, NoSchemaIntrospectionCustomRule):
    code = ErrorCode.INTROSPECTION_DISABLED


# graphql-core's rules whose refusals are about the caller's input (or our policy), by rule.
CODED_RULES: Mapping[type[ASTValidationRule], type[ASTValidationRule]] = {
    ValuesOfCorrectTypeRule: InputValuesRule,
    ProvidedRequiredArgumentsRule: RequiredArgumentsRule,
    NoSchemaIntrospectionCustomRule: IntrospectionRule,
}
VALIDATION_FAILED = str(ErrorCode.GRAPHQL_VALIDATION_FAILED)


class GuardedValidation(ValidationCache):
    """Measures the document (linearly) before the cached validation rules walk it.

    Every validation error leaves here with a code: the rules in `CODED_RULES`
    set theirs when they report; any other rule's refusal is the document's
    (GRAPHQL_VALIDATION_FAILED). Nothing is told apart by its message.
    """

    def __init__(self, *, max_selections: int, max_depth: int, max_aliases: int,
                 maxsize: int = 256) -> None:
        super().__init__(maxsize=maxsize)
        self.limits = {"max_selections": max_selections, "max_depth": max_depth,
                       "max_aliases": max_aliases}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        refused = DocumentShape(document).refusal(**self.limits) if document else None
        if refused is not None:
            context.pre_execution_errors = [refused]
            yield
            return
        rules = tuple(CODED_RULES.get(rule, rule) for rule in context.validation_rules)
        errors = self.cached_validate_document(context.schema._schema, document, rules)
        for error in errors:  # cached and shared between requests: setting a code is idempotent
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": VALIDATION_FAILED}
        context.pre_execution_errors = errors
        yield


class _OverBudget(Exception):
    def __init__(self, counted: int) -> None:
        self.counted = counted


class _Estimator:
    """Prices selection sets; a fragment is priced once per parent type and nesting."""

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any], max_nesting: int, budget: int | None) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_nesting = max_nesting
        self.budget = budget
        self._memo: dict[tuple[str, str | None, int], int] = {}
        self._open: set[str] = set()

    def cost(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None,
             nesting: int = 0) -> int:
        # Deeper than allowed is the depth guard's refusal; stop counting there.
        if node is None or nesting > self.max_nesting:
            return 0
        total = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, nesting)
            elif isinstance(selection, InlineFragmentNode):
                inner = (self.schema.get_type(selection.type_condition.name.value)
                         if selection.type_condition else parent)
                total += self.cost(selection.selection_set, inner, nesting)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, nesting)
            if self.budget is not None and total > self.budget:
                raise _OverBudget(total)
        return total

    def field(self, field: FieldNode, parent: GraphQLNamedType | None, nesting: int) -> int:
        definition = None
        weight = 0
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            definition = parent.fields.get(field.name.value)
            weight = FIELD_WEIGHTS.get(f"{parent.name}.{field.name.value}", 0)
        child = get_named_type(definition.type) if definition is not None else None
        below = self.cost(field.selection_set, child, nesting + 1)
        return 1 + weight + self.multiplier(field, definition) * below

    def fragment(self, name: str, nesting: int) -> int:
        definition = self.fragments.get(name)
        if definition is None or name in self._open:
            return 0  # unknown or cyclic: validation refuses those
        inner = self.schema.get_type(definition.type_condition.name.value)
        key = (name, inner.name if inner else None, nesting)
        known = self._memo.get(key)
        if known is not None:
            return known
        self._open.add(name)
        try:
            priced = self.cost(definition.selection_set, inner, nesting)
        finally:
            self._open.discard(name)
        self._memo[key] = priced
        return priced

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
             variables: Mapping[str, Any] | None, max_nesting: int = 64,
             budget: int | None = None) -> int:
    """The cost of the operation that would run (the largest one if unnamed and ambiguous).

    With a `budget`, counting stops as soon as it is passed and the figure returned
    is what was counted by then (more than the budget, less than the full cost).
    """
    costs = []
    for definition in _operations(document):
        if operation_name and (definition.name is None
                               or definition.name.value != operation_name):
            continue
        root = {OperationType.QUERY: schema.query_type,
                OperationType.MUTATION: schema.mutation_type,
                OperationType.SUBSCRIPTION: schema.subscription_type}[definition.operation]
        estimator = _Estimator(schema, _fragments(document), variables or {}, max_nesting,
                               budget)
        try:
            costs.append(estimator.cost(definition.selection_set, root))
        except _OverBudget as over:
            return over.counted
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
                                 context.variables, self.max_depth + 1, budget=self.max_cost)
            if self.cost > self.max_cost:
                # Errors set here stop the operation before any resolver runs.
                context.pre_execution_errors = [too_complex(
                    f"query cost over {self.max_cost} (counting stopped at {self.cost}); "
                    "ask for smaller pages (first/last) or fewer fields",
                    cost=self.cost, maximumCost=self.max_cost)]
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": {"requested": self.cost, "maximum": self.max_cost}}


class NoIntrospection(AddValidationRules):
    """Production schemas do not describe themselves to strangers."""

    def __init__(self) -> None:
        super().__init__([IntrospectionRule])
