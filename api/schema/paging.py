"""Paging shared by every list that takes `first`: the size guard and live-list slices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from api.errors import bad_input
from api.schema.context import Info
from api.schema.ids import decode_cursor, encode_cursor
from api.schema.node import PageInfo

T = TypeVar("T")


def check_page_size(info: Info, first: int, field: str = "first") -> None:
    """Refuse, rather than silently cap, a page larger than configured."""
    limit = info.context.settings.limits.max_page_size
    if first < 0 or first > limit:
        raise bad_input(f"{field} must be between 0 and {limit}, got {first}", field,
                        maximum=limit)


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of an in-memory list (upstream results), with Relay's page facts.

    The page holds its items as they are; an item's identity, and a cursor from it, is
    made only when the query asks for an edge or the page's cursors (most ask for nodes
    alone), never for every item of every page."""

    items: list[T]
    identity: Callable[[T], list[Any]]
    total: int
    start: int  # the first item's position in the whole list

    def page_info(self) -> PageInfo:
        items, identity = self.items, self.identity
        return PageInfo(
            has_next_page=self.start + len(items) < self.total,
            has_previous_page=self.start > 0,
            start_cursor=encode_cursor(identity(items[0])) if items else None,
            end_cursor=encode_cursor(identity(items[-1])) if items else None)


def slice_page(items: Sequence[T], identity: Callable[[T], list[Any]], first: int,
               after: str | None) -> Slice[T]:
    """Page a live list by item identity, so a cursor survives items added before it."""
    start = 0
    if after:
        cursor = decode_cursor(after)
        start = next((n for n, item in enumerate(items) if identity(item) == cursor), -1) + 1
        if not start:
            raise bad_input("the cursor does not point into this list", "after")
    page = items[start:start + first]
    return Slice(page if isinstance(page, list) else list(page), identity, len(items), start)
