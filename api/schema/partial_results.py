"""Partial results: a failing source adds a coded error; the rest of the query stands."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from api.hub import Fetched
from api.schema.context import Info
from connectors.base import KindProfile
from connectors.errors import UpstreamError


def report(info: Info, fetched: Fetched[Any]) -> None:
    """Record `fetched`'s error, and each record it left out, for the response.

    Each is reported once per field, source and key: a source that failed for
    a whole batch says so once, a bad key or an unreadable record once each.
    """
    if fetched.error is not None:
        _add(info, fetched.error, fetched.stale_age)
    for dropped in fetched.dropped:
        _add(info, dropped, None)


def _add(info: Info, error: UpstreamError, stale_age: float | None) -> None:
    extensions = error.extensions()
    connector = info.context.hub.connectors.get(error.source)
    if connector is not None:  # so a client names the product without a list of kinds
        extensions["product"] = KindProfile.of(type(connector)).product
    if stale_age is not None:
        extensions["stale"] = True
        extensions["ageSeconds"] = round(stale_age, 1)
    path = info.path.as_list()
    seen = (tuple(path), extensions["source"], extensions.get("key"))
    if seen in info.context.partial_seen:
        return
    info.context.partial_seen.add(seen)
    message = error.message
    if stale_age is not None:
        message += f" (showing data from {round(stale_age)} s ago)"
    info.context.partial_errors.append(
        GraphQLError(f"{error.source}: {message}", path=path, extensions=extensions))


class PartialResults(SchemaExtension):
    """Adds the errors `report` collected to the response's `errors`."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        context = self.execution_context.context
        partial = getattr(context, "partial_errors", None)
        if result is not None and partial:
            result.errors = [*(result.errors or []), *partial]
