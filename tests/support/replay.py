"""Read PyGithub's recorded exchanges with api.github.com (`fixtures/github/pygithub-replaydata`).

Each exchange is 11 lines: scheme, method, host, port, path with query,
request headers (a Python dict literal), request body or `None`, status,
response headers (a Python list of pairs), response body on one line, blank.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any

from tests.support.paths import FIXTURES

REPLAYS = FIXTURES / "github" / "pygithub-replaydata"
LINES_PER_EXCHANGE = 11


@dataclass(frozen=True, slots=True)
class Exchange:
    method: str
    host: str
    path: str  # with its query string
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON, or None for an empty body


def exchanges(name: str) -> list[Exchange]:
    """Every exchange in one replay file, in recorded order."""
    lines = (REPLAYS / name).read_text().split("\n")
    found: list[Exchange] = []
    for start in range(0, len(lines) - (LINES_PER_EXCHANGE - 2), LINES_PER_EXCHANGE):
        record = lines[start:start + LINES_PER_EXCHANGE - 1]
        raw_body = record[9]
        found.append(Exchange(
            method=record[1], host=record[2], path=record[4], status=int(record[7]),
            headers={k.lower(): v for k, v in ast.literal_eval(record[8])},
            body=json.loads(raw_body) if raw_body.strip() else None,
        ))
    return found


def response(name: str, method: str, path: str) -> Any:
    """The body answering `method path` (query ignored) in a replay file."""
    for exchange in exchanges(name):
        if exchange.method == method and exchange.path.split("?", 1)[0] == path:
            return exchange.body
    raise LookupError(f"{name} has no {method} {path}")
