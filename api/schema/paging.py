"""Page-size guard shared by every list that takes `first`."""

from __future__ import annotations

from api.schema.context import Info
from api.schema.errors import bad_input


def check_page_size(info: Info, first: int, field: str = "first") -> None:
    """Refuse, rather than silently cap, a page larger than configured."""
    limit = info.context.settings.limits.max_page_size
    if first < 0 or first > limit:
        raise bad_input(f"{field} must be between 0 and {limit}, got {first}", field,
                        maximum=limit)
