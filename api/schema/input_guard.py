"""One guard for every string an operation brings in, whichever field takes it.

GraphQL's String cannot be replaced, so the guard looks at the operation's
inputs before anything runs: the variables and the string literals of the
document. A NUL or a lone surrogate anywhere refuses the whole operation with
BAD_USER_INPUT, so no resolver, query or upstream call ever sees one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from api.domain.text import text_problem
from api.errors import ErrorCode


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value (keys too), with where it was found."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, inner in item.items():
                yield where, str(key)
                stack.append((inner, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{n}]") for n, inner in enumerate(item))


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        self.found.append(node.value)


def first_problem(document: Any, variables: dict[str, Any] | None) -> tuple[str, str] | None:
    """(where, why) for the first string that cannot be stored, or None."""
    for where, value in _strings(variables or {}, "variables"):
        problem = text_problem(value)
        if problem:
            return where, problem
    source = document.loc.source.body if document is not None and document.loc else ""
    # The lexer refuses raw lone surrogates; a NUL arrives raw or as an escape.
    if document is not None and ("\x00" in source or "\\u" in source or not source):
        literals = _Literals()
        visit(document, literals)
        for value in literals.found:
            problem = text_problem(value)
            if problem:
                return "query", problem
    return None


class InputGuard(SchemaExtension):
    """Refuses an operation whose inputs hold text no store can keep."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if not context.pre_execution_errors:
            found = first_problem(context.graphql_document, context.variables)
            if found is not None:
                where, problem = found
                context.pre_execution_errors = [GraphQLError(
                    f"a string in {where} {problem}",
                    extensions={"code": str(ErrorCode.BAD_USER_INPUT), "field": where})]
        yield
