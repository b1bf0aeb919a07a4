"""Published reports, the rules: what a column may name, and how an answer becomes rows.

A report is a saved GraphQL query plus where its rows are (`rows_path`, a dotted
path to a list in the answer) and which values make its columns (dotted paths
inside each row). Paths are response names (an alias, else the field's name) of
the saved query's own selections, so a column can only name what the query asks
for: it is checked against the query's selection tree, never looked up in the
answer by arbitrary keys. Plain functions over parsed documents and plain data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from api.errors import bad_input

# A GraphQL name (an alias or a field), the only thing a path segment may be.
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?")
MAX_SEGMENTS = 20
MAX_COLUMNS = 100
MAX_HEADER = 200

Format = Literal["csv", "json"]

#: A query's selections by response name; a leaf's subtree is empty.
Tree = dict[str, "Tree"]


@dataclass(frozen=True, slots=True)
class Column:
    path: tuple[str, ...]
    header: str

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def parse_path(text: str, field: str, *, empty: bool = False) -> tuple[str, ...]:
    """A dotted path of GraphQL names; a clear refusal names the bad segment."""
    if text == "":
        if empty:
            return ()
        raise bad_input("a path needs at least one name", field)
    segments = text.split(".")
    if len(segments) > MAX_SEGMENTS:
        raise bad_input(f"a path has at most {MAX_SEGMENTS} names", field)
    for segment in segments:
        if not _NAME.fullmatch(segment):
            raise bad_input(f"{segment[:60]!r} is not a GraphQL name (letters, digits and _, "
                            "not starting with a digit); separate names with dots", field)
    return tuple(segments)


def check_slug(slug: str, field: str = "input.slug") -> str:
    """A URL-safe name that cannot be read as a report's number."""
    if not _SLUG.fullmatch(slug) or slug.isdigit():
        raise bad_input("a slug has 1 to 80 lower-case letters, digits and inner hyphens, "
                        "and is not only digits", field)
    return slug


def slug_of(name: str) -> str:
    """A slug made from a report's name ("Q3 changes" -> "q3-changes")."""
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80].strip("-")
    return words if words and not words.isdigit() else f"report-{words or 'x'}"


def selection_tree(document: DocumentNode) -> Tree:
    """The first operation's selections by response name, fragments merged in.

    Run on a validated document (no unknown or cyclic fragment); a cycle still ends.
    """
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))

    def collect(node: SelectionSetNode | None, into: Tree, open_: frozenset[str]) -> Tree:
        for selection in node.selections if node is not None else ():
            if isinstance(selection, FieldNode):
                name = (selection.alias or selection.name).value
                collect(selection.selection_set, into.setdefault(name, {}), open_)
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set, into, open_)
            elif isinstance(selection, FragmentSpreadNode):
                spread = selection.name.value
                if spread in fragments and spread not in open_:
                    collect(fragments[spread].selection_set, into, open_ | {spread})
        return into

    return collect(operation.selection_set, {}, frozenset())


def _walk(tree: Tree, path: Sequence[str], field: str, what: str) -> Tree:
    node = tree
    for depth, segment in enumerate(path):
        if segment not in node:
            where = ".".join(path[:depth]) or "the query's top level"
            known = ", ".join(sorted(node)) or "nothing"
            raise bad_input(f"{what} {'.'.join(path)!r}: {where} selects no {segment!r} "
                            f"(it selects {known})", field)
        node = node[segment]
    return node


def _leaves(tree: Tree, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, below in tree.items():
        found += _leaves(below, (*prefix, name)) if below else [(*prefix, name)]
    return found


def resolve_columns(tree: Tree, rows_path: tuple[str, ...],
                    columns: Sequence[tuple[str, str | None]]) -> list[Column]:
    """Check the rows' path and each column's against the query; no columns: every leaf.

    `columns` are (dotted path, header or None); a header defaults to the path.
    """
    rows = _walk(tree, rows_path, "input.rowsPath", "rows path")
    if rows_path and not rows:
        raise bad_input(f"rows path {'.'.join(rows_path)!r} selects a value, not a list of "
                        "objects; point it at the list whose items are the rows",
                        "input.rowsPath")
    if len(columns) > MAX_COLUMNS:
        raise bad_input(f"a report has at most {MAX_COLUMNS} columns", "input.columns")
    resolved: list[Column] = []
    for index, (text, header) in enumerate(columns):
        field = f"input.columns[{index}]"
        path = parse_path(text, f"{field}.path")
        below = _walk(rows, path, f"{field}.path", "column")
        if below:
            raise bad_input(f"column {text!r} selects an object; name one of its fields: "
                            f"{', '.join(sorted(below))}", f"{field}.path")
        title = (header if header is not None else text).strip()
        if not title or len(title) > MAX_HEADER:
            raise bad_input(f"a header has 1 to {MAX_HEADER} characters", f"{field}.header")
        resolved.append(Column(path, title))
    if not resolved:
        resolved = [Column(p, ".".join(p)) for p in _leaves(rows)[:MAX_COLUMNS]]
    headers = [c.header for c in resolved]
    twice = sorted({h for h in headers if headers.count(h) > 1})
    if twice:
        raise bad_input(f"two columns share the header {twice[0]!r}", "input.columns")
    return resolved


def _step(values: list[Any], name: str) -> list[Any]:
    """One path segment over values, lists flattened: [{"a": [1, 2]}, {"a": 3}] -> [1, 2, 3]."""
    found: list[Any] = []
    for value in values:
        if isinstance(value, Mapping):
            inner = value.get(name)
            if isinstance(inner, list):
                found += [v for v in inner if v is not None]
            elif inner is not None:
                found.append(inner)
    return found


def rows_of(data: Mapping[str, Any] | None, rows_path: Sequence[str]) -> list[Mapping[str, Any]]:
    """The rows an answer holds at `rows_path`: lists on the way are flattened in order."""
    values: list[Any] = [data] if data is not None else []
    for name in rows_path:
        values = _step(values, name)
    return [v for v in values if isinstance(v, Mapping)]


def cell(row: Mapping[str, Any], path: Sequence[str]) -> Any:
    """A column's value in a row: a scalar, None, or (through a list) a list of scalars."""
    values: list[Any] = [row]
    through_list = False
    for name in path:
        for value in values:
            if isinstance(value, Mapping) and isinstance(value.get(name), list):
                through_list = True
        values = _step(values, name)
    if through_list:
        return values
    return values[0] if values else None


def table(data: Mapping[str, Any] | None, rows_path: Sequence[str],
          columns: Sequence[Column]) -> list[list[Any]]:
    """The answer as rows of cells, in the columns' order."""
    return [[cell(row, c.path) for c in columns] for row in rows_of(data, rows_path)]


_TYPES: dict[str, Format] = {"text/csv": "csv", "application/json": "json"}


def negotiate(accept: str) -> Format | None:
    """The format an Accept header prefers (JSON when anything goes); None: neither."""
    if not accept.strip():
        return "json"
    best: tuple[float, int, Format] | None = None
    for order, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        choice: Format | None = _TYPES.get(media) or (
            "json" if media in ("*/*", "application/*") else
            "csv" if media == "text/*" else None)
        if choice is None or quality <= 0:
            continue
        if best is None or (quality, -order) > (best[0], -best[1]):
            best = (quality, order, choice)
    return best[2] if best else None


def takes_cursor(document: DocumentNode) -> bool:
    """Whether the query declares `$after`, so a report can walk its pages."""
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return any(v.variable.name.value == "after" for v in operation.variable_definitions or ())


def next_cursor(data: Mapping[str, Any] | None, rows_path: Sequence[str]) -> str | None:
    """The cursor of the next page of the connection that holds the rows, if it says so.

    The rows' list must sit in one connection (no list on the way) whose `pageInfo`
    the query selects: `releases.nodes` beside `releases.pageInfo`.
    """
    found: Any = data
    for name in rows_path[:-1]:
        found = found.get(name) if isinstance(found, Mapping) else None
    info = found.get("pageInfo") if isinstance(found, Mapping) else None
    if not isinstance(info, Mapping) or info.get("hasNextPage") is not True:
        return None
    cursor = info.get("endCursor")
    return cursor if isinstance(cursor, str) and cursor else None
