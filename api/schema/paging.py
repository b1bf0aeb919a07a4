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

    Each item comes with its identity, not its cursor: an edge encodes its cursor
    only when the query asks for it (most ask for nodes alone)."""

    items: list[tuple[list[Any], T]]  # (identity, item)
    total: int
    page_info: PageInfo


def slice_page(items: Sequence[T], identity: Callable[[T], list[Any]], first: int,
               after: str | None) -> Slice[T]:
    """Page a live list by item identity, so a cursor survives items added before it."""
    start = 0
    if after:
        cursor = decode_cursor(after)
        positions = [n for n, item in enumerate(items) if identity(item) == cursor]
        if not positions:
            raise bad_input("the cursor does not point into this list", "after")
        start = positions[0] + 1
    page = [(identity(item), item) for item in items[start:start + first]]
    return Slice(page, len(items), PageInfo(
        has_next_page=start + first < len(items), has_previous_page=start > 0,
        start_cursor=encode_cursor(page[0][0]) if page else None,
        end_cursor=encode_cursor(page[-1][0]) if page else None))
