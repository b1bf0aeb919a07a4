"""Partial results: a failing source adds a coded error; the rest of the query stands."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from api.hub import Fetched
from api.schema.context import Info


def report(info: Info, fetched: Fetched[Any]) -> None:
    """Record `fetched`'s error (once per source and field) for the response."""
    if fetched.error is None:
        return
    extensions = fetched.error.extensions()
    if fetched.stale_age is not None:
        extensions["stale"] = True
        extensions["ageSeconds"] = round(fetched.stale_age, 1)
    path = info.path.as_list()
    for existing in info.context.partial_errors:
        if existing.path == path and (existing.extensions or {}).get("source") == \
                extensions["source"]:
            return
    message = fetched.error.message
    if fetched.stale_age is not None:
        message += f" (showing data from {round(fetched.stale_age)} s ago)"
    info.context.partial_errors.append(
        GraphQLError(f"{fetched.error.source}: {message}", path=path, extensions=extensions))


class PartialResults(SchemaExtension):
    """Adds the errors `report` collected to the response's `errors`."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        context = self.execution_context.context
        partial = getattr(context, "partial_errors", None)
        if result is not None and partial:
            result.errors = [*(result.errors or []), *partial]
