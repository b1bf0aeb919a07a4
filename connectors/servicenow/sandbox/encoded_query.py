"""ServiceNow encoded queries (`sysparm_query`): parse once, then filter and order rows.

No I/O and no table knowledge: the caller supplies a getter that answers a
field's raw string value, or None for a field the table does not have, in
which case the condition is ignored, as an instance does with invalid parts.

Precedence follows the platform: `^OR` binds to the condition before it,
`^` joins those with AND, `^NQ` starts a new query OR-ed with the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from connectors.servicenow.sandbox import dynamic

Row = TypeVar("Row")
Getter = Callable[[Row, str], str | None]

# Longest first, so "NOT IN" wins over "IN" and ">=" over ">".
OPERATORS = ["NOT LIKE", "NOT IN", "STARTSWITH", "ENDSWITH", "ISNOTEMPTY", "ISEMPTY", "BETWEEN",
             "NOTON", "LIKE", "IN", "ON", "!=", ">=", "<=", "=", ">", "<"]
_CONDITION = re.compile(
    r"^(?P<field>[a-z_][a-z0-9_.]*)(?P<op>" + "|".join(re.escape(o) for o in OPERATORS)
    + r")(?P<value>.*)$", re.DOTALL)
_NO_VALUE = {"ISEMPTY", "ISNOTEMPTY"}


class QueryError(ValueError):
    """The query has a part that is not a condition at all."""


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str


@dataclass
class EncodedQuery:
    # OR of queries; each query an AND of clauses; each clause an OR of conditions.
    queries: list[list[list[Condition]]] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)


def parse(text: str, now: datetime | None = None) -> EncodedQuery:
    """`now` is the instance's clock, for dynamic values (`javascript:gs.daysAgoStart(7)`)."""
    query = EncodedQuery()
    for part in text.split("^NQ"):
        clauses: list[list[Condition]] = []
        for token in part.split("^"):
            if token in ("", "EQ"):
                continue
            if token.startswith("ORDERBYDESC"):
                query.order_by.append((token[len("ORDERBYDESC"):], True))
                continue
            if token.startswith("ORDERBY"):
                query.order_by.append((token[len("ORDERBY"):], False))
                continue
            if token.startswith("OR") and clauses:
                clauses[-1].append(_condition(token[2:], now))
                continue
            clauses.append([_condition(token, now)])
        if clauses:
            query.queries.append(clauses)
    return query


def _condition(token: str, now: datetime | None) -> Condition:
    match = _CONDITION.match(token)
    if match is None:
        raise QueryError(f"Invalid query condition: {token}")
    op = match["op"]
    value = match["value"]
    if op in _NO_VALUE and value:
        raise QueryError(f"Invalid query condition: {token}")
    if op in ("ON", "NOTON"):  # "Label@start@end", as the list UI writes a date choice
        parts = value.split("@")
        if len(parts) != 3:
            raise QueryError(f"Invalid query condition: {token}")
        value = "@".join(parts[1:])
    if "javascript:" in value:
        value = "@".join(_dynamic(part, now) for part in value.split("@"))
    return Condition(match["field"], op, value)


def _dynamic(value: str, now: datetime | None) -> str:
    if not dynamic.is_dynamic(value):
        return value
    if now is None:
        raise QueryError(f"Dynamic value without a clock: {value}")
    try:
        return dynamic.evaluate(value, now)
    except dynamic.DynamicValueError as exc:
        raise QueryError(str(exc)) from exc


def _compare(left: str, right: str) -> int:
    """Numbers as numbers (state "-2" < "0"); everything else, dates included, as text."""
    try:
        a, b = float(left), float(right)
    except ValueError:
        return (left > right) - (left < right)
    return (a > b) - (a < b)


def _holds(cond: Condition, actual: str) -> bool:
    value = cond.value
    lowered, wanted = actual.lower(), value.lower()
    match cond.op:
        case "=":
            return actual == value
        case "!=":
            return actual != value
        case "IN":
            return actual in value.split(",")
        case "NOT IN":
            return actual not in value.split(",")
        case "LIKE":
            return wanted in lowered
        case "NOT LIKE":
            return wanted not in lowered
        case "STARTSWITH":
            return lowered.startswith(wanted)
        case "ENDSWITH":
            return lowered.endswith(wanted)
        case "ISEMPTY":
            return actual == ""
        case "ISNOTEMPTY":
            return actual != ""
        case "BETWEEN" | "ON":
            low, _, high = value.partition("@")
            return actual != "" and _compare(actual, low) >= 0 and _compare(actual, high) <= 0
        case "NOTON":
            low, _, high = value.partition("@")
            return actual == "" or _compare(actual, low) < 0 or _compare(actual, high) > 0
        case ">" | ">=" | "<" | "<=":
            if actual == "":
                return False
            sign = _compare(actual, value)
            return {">": sign > 0, ">=": sign >= 0, "<": sign < 0, "<=": sign <= 0}[cond.op]
    return False  # pragma: no cover - the regex admits only the operators above


def _clause_holds(row: Row, clause: list[Condition], get: Getter[Row]) -> bool:
    known = [(c, get(row, c.field)) for c in clause]
    checked = [(c, v) for c, v in known if v is not None]
    if not checked:  # every condition names an unknown field: the part is ignored
        return True
    return any(_holds(c, v) for c, v in checked if v is not None)


def matches(query: EncodedQuery, row: Row, get: Getter[Row]) -> bool:
    if not query.queries:
        return True
    return any(all(_clause_holds(row, clause, get) for clause in q) for q in query.queries)


def apply(query: EncodedQuery, rows: Sequence[Row], get: Getter[Row]) -> list[Row]:
    """Rows that match, in the query's order (stable, so ties keep table order)."""
    selected = [row for row in rows if matches(query, row, get)]
    for name, descending in reversed(query.order_by):
        if not selected or get(selected[0], name) is None:  # unknown field: ignored
            continue

        def key(row: Row, name: str = name) -> _SortKey:
            return _SortKey(get(row, name) or "")

        selected.sort(key=key, reverse=descending)
    return selected


class _SortKey:
    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _SortKey) -> bool:
        return _compare(self.value, other.value) < 0
