"""Compare the shape of two JSON documents along the paths a reader uses.

A sandbox must answer in the shape a real upstream does. Comparing whole
documents would fail on every field a recording happens to carry, so the
comparison follows only named paths (`issues[].fields.status.name`: `[]`
steps into every element of an array) and checks that both documents have
each path with the same JSON types. `null` on either side matches anything,
because a real response leaves many fields empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def values_at(document: Any, path: str) -> list[Any]:
    """Every value found at `path`; empty when the path is absent."""
    current = [document]
    for step in path.split("."):
        into_items = step.endswith("[]")
        key = step[:-2] if into_items else step
        found: list[Any] = []
        for value in current:
            if key:
                if not isinstance(value, dict) or key not in value:
                    continue
                value = value[key]
            if into_items:
                if isinstance(value, list):
                    found.extend(value)
            else:
                found.append(value)
        current = found
    return current


def shape_mismatches(reference: Any, candidate: Any, paths: Iterable[str]) -> list[str]:
    """Readable differences between the two documents along `paths` (empty when alike)."""
    problems: list[str] = []
    for path in paths:
        ref_values = values_at(reference, path)
        cand_values = values_at(candidate, path)
        if not ref_values:
            problems.append(f"{path}: absent from the reference")
            continue
        if not cand_values:
            problems.append(f"{path}: absent from the candidate")
            continue
        ref_types = {json_type(v) for v in ref_values} - {"null"}
        cand_types = {json_type(v) for v in cand_values} - {"null"}
        if ref_types and cand_types and cand_types != ref_types:
            problems.append(f"{path}: reference has {sorted(ref_types)}, "
                            f"candidate has {sorted(cand_types)}")
    return problems


def every_path(document: Any, prefix: str = "") -> list[str]:
    """Each path to a value in `document`, in `values_at`'s notation: what a recording
    shows a reader may use, when the whole of it is to be compared."""
    if isinstance(document, dict):
        paths: list[str] = []
        for key, value in document.items():
            path = f"{prefix}.{key}" if prefix else key
            paths += [path, *every_path(value, path)]
        return paths
    if isinstance(document, list):
        items = f"{prefix}[]"
        return sorted({p for item in document for p in every_path(item, items)})
    return []
