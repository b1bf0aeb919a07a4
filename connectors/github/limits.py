"""GitHub GraphQL's per-call limits, counted the way GitHub documents them.

A call may ask for at most 500,000 nodes, and every connection must say
`first` or `last` (1 to 100). Nodes: each connection contributes its
`first`/`last` times those of the connections it sits in. Cost: each
connection needs one request per node of the connections around it; the
requests summed, divided by 100 and rounded (at least 1) are the points the
call spends of the hourly budget (5,000 for a user token). Sources and the
worked examples the tests check: docs/upstream-limits.md.

The connector sizes its documents with this; the GitHub sandbox refuses
documents over the node limit with it, as GitHub does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    parse,
)

#: Nodes one call may ask for.
MAX_NODES = 500_000
#: The largest `first`/`last` on a connection.
MAX_PAGE = 100
#: Points a user token may spend per hour; a call costing more can never run.
HOURLY_POINTS = 5_000


@dataclass(frozen=True, slots=True)
class QueryCost:
    """What one GraphQL call asks of GitHub."""

    nodes: int
    requests: int

    @property
    def points(self) -> int:
        """The rate-limit points the call spends."""
        return max(1, round(self.requests / 100))

    def __add__(self, other: QueryCost) -> QueryCost:
        return QueryCost(self.nodes + other.nodes, self.requests + other.requests)


def query_cost(document: str | DocumentNode,
               variables: Mapping[str, Any] | None = None) -> QueryCost:
    """Nodes and requests of a document's operations; a connection whose size is not
    an integer (a missing variable) counts as the largest page."""
    parsed = parse(document) if isinstance(document, str) else document
    fragments = {d.name.value: d for d in parsed.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    values = dict(variables or {})
    total = QueryCost(0, 0)
    for definition in parsed.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total += _selection(definition.selection_set, 1, fragments, values, set())
    return total


def _selection(selections: SelectionSetNode | None, around: int,
               fragments: Mapping[str, FragmentDefinitionNode], values: Mapping[str, Any],
               spreading: set[str]) -> QueryCost:
    total = QueryCost(0, 0)
    for selection in selections.selections if selections is not None else ():
        if isinstance(selection, FieldNode):
            size = _page_size(selection, values)
            if size is None:
                total += _selection(selection.selection_set, around, fragments, values,
                                    spreading)
            else:
                total += QueryCost(around * size, around)
                total += _selection(selection.selection_set, around * size, fragments,
                                    values, spreading)
        elif isinstance(selection, InlineFragmentNode):
            total += _selection(selection.selection_set, around, fragments, values, spreading)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in spreading:
                total += _selection(fragment.selection_set, around, fragments, values,
                                    spreading | {name})
    return total


def _page_size(field: FieldNode, values: Mapping[str, Any]) -> int | None:
    """A connection's `first` or `last`; None for a field that is not a connection."""
    for argument in field.arguments or ():
        if argument.name.value not in ("first", "last"):
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = values.get(value.name.value)
            return given if isinstance(given, int) else MAX_PAGE
        return MAX_PAGE
    return None
