"""JSON request bodies, parsed with bounds: depth, shape and storable text.

`json.loads` recurses once per nesting level, so a body of a few kilobytes of
`[[[[...` ends in RecursionError, a server error; nesting beyond any real input
is refused instead, as is text that no store can keep (NUL, lone surrogates).
"""

from __future__ import annotations

import json
from typing import Any

from api.domain.text import text_problem
from api.errors import ErrorCode, ServiceError

# Real inputs nest a few levels (a batch, an operation, variables, an input object,
# a list); 32 leaves room for any of them.
MAX_JSON_DEPTH = 32


def _refuse(message: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> ServiceError:
    return ServiceError(code, message, "body")


def check_json(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse nesting over `max_depth` and strings (keys too) that cannot be stored."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise _refuse(f"a string in the body {problem}", ErrorCode.BAD_USER_INPUT)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise _refuse(f"the body nests deeper than {max_depth} levels")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((inner, depth + 1) for inner in item.values())
            else:
                stack.extend((inner, depth + 1) for inner in item)


def parse_json(raw: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value of a body, or a coded refusal (never RecursionError)."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise _refuse(f"the body nests deeper than {max_depth} levels") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise _refuse("the body is not valid JSON") from None
    check_json(value, max_depth)
    return value


def parse_json_object(raw: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    value = parse_json(raw, max_depth)
    if not isinstance(value, dict):
        raise _refuse("the body must be a JSON object")
    return value
