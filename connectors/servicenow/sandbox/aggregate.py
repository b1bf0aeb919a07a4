"""The Aggregate API's arithmetic (`/api/now/stats/{table}`): counts and sums, whole or grouped.

No I/O and no table knowledge: the caller hands the rows that matched the
query, a getter for raw values and one for display values. Every figure is
answered as a string, as the instance does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

Row = TypeVar("Row")

FUNCTIONS = ("avg", "min", "max", "sum")
HAVING_OPERATORS = {">": lambda a, b: a > b, "<": lambda a, b: a < b,
                    "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
                    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b}


class AggregateError(ValueError):
    """A parameter the Aggregate API would refuse."""


@dataclass(frozen=True)
class Having:
    function: str  # count | avg | min | max | sum
    field: str
    operator: str
    value: float


@dataclass
class Request:
    count: bool = False
    fields: dict[str, list[str]] = field(default_factory=dict)  # function -> fields
    group_by: list[str] = field(default_factory=list)
    having: list[Having] = field(default_factory=list)
    display: bool = False


def parse_having(text: str) -> list[Having]:
    """`count^priority^>^2`, several joined with `,`."""
    out: list[Having] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        pieces = part.split("^")
        if len(pieces) != 4 or pieces[0] not in ("count", *FUNCTIONS) \
                or pieces[2] not in HAVING_OPERATORS:
            raise AggregateError(f"sysparm_having cannot read {part!r} "
                                 "(aggregate^field^operator^value)")
        try:
            value = float(pieces[3])
        except ValueError as exc:
            raise AggregateError(f"sysparm_having needs a number, not {pieces[3]!r}") from exc
        out.append(Having(pieces[0], pieces[1], pieces[2], value))
    return out


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _figure(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.4f}".rstrip("0")


def _stats(rows: Sequence[Row], request: Request, get: Callable[[Row, str], str | None]
           ) -> tuple[dict[str, Any], dict[tuple[str, str], float]]:
    stats: dict[str, Any] = {}
    figures: dict[tuple[str, str], float] = {("count", ""): float(len(rows))}
    if request.count:
        stats["count"] = str(len(rows))
    for function in FUNCTIONS:
        for name in request.fields.get(function, []):
            numbers = [n for n in (_number(get(r, name)) for r in rows) if n is not None]
            if function == "sum":
                result: float | None = sum(numbers)
            elif not numbers:
                result = None
            elif function == "avg":
                result = sum(numbers) / len(numbers)
            else:
                result = min(numbers) if function == "min" else max(numbers)
            if result is not None:
                figures[(function, name)] = result
            stats.setdefault(function, {})[name] = "" if result is None else (
                f"{result:.4f}" if function == "avg" else _figure(result))
    return stats, figures


def _kept(figures: dict[tuple[str, str], float], having: list[Having]) -> bool:
    for rule in having:
        key = (rule.function, "" if rule.function == "count" else rule.field)
        if key not in figures or not HAVING_OPERATORS[rule.operator](figures[key], rule.value):
            return False
    return True


def aggregate(rows: Sequence[Row], request: Request, get: Callable[[Row, str], str | None],
              display: Callable[[Row, str], str]) -> dict[str, Any] | list[dict[str, Any]]:
    """The `result` of a stats call: one `{stats}` object, or one per group when grouping."""
    if not request.group_by:
        stats, _ = _stats(rows, request, get)
        return {"stats": stats}
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        key = tuple(get(row, name) or "" for name in request.group_by)
        groups.setdefault(key, []).append(row)
    out: list[dict[str, Any]] = []
    for key in sorted(groups):
        members = groups[key]
        stats, figures = _stats(members, request, get)
        if not _kept(figures, request.having):
            continue
        fields: list[dict[str, str]] = []
        for name, value in zip(request.group_by, key, strict=True):
            entry = {"field": name, "value": value}
            if request.display:
                entry["display_value"] = display(members[0], name)
            fields.append(entry)
        out.append({"stats": stats, "groupby_fields": fields})
    return out
