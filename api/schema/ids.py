"""Global object ids (Relay): opaque base64 of ``Type:pk``, and keyset cursors."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from api.errors import bad_input

# Primary keys are SQL INTEGER: PostgreSQL refuses anything above 2**31 - 1 with an
# error, and SQLite any int beyond 64 bits; neither should reach the database.
MAX_PK = 2**31 - 1
_PK = re.compile(r"[1-9][0-9]{0,9}")


def check_pk(value: object, field: str) -> int:
    """A primary key from outside (an id, a cursor): a positive INTEGER, no bool."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PK:
        raise bad_input(f"{field} does not point at a Heatshield record", field)
    return value


def to_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def from_global_id(global_id: str, field: str = "id") -> tuple[str, int]:
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_input(f"{global_id[:100]!r} is not a Heatshield id", field) from None
    if not _PK.fullmatch(pk) or int(pk) > MAX_PK:
        raise bad_input(f"{global_id[:100]!r} is not a Heatshield id", field)
    return type_name, int(pk)


def expect_id(global_id: str, type_name: str, field: str = "id") -> int:
    kind, pk = from_global_id(global_id, field)
    if kind != type_name:
        raise bad_input(f"{field} must be the id of a {type_name}, not of a {kind}", field)
    return pk


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "after") -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_input(f"{cursor[:100]!r} is not a valid cursor", field) from None
    if not isinstance(values, list):
        raise bad_input(f"{cursor[:100]!r} is not a valid cursor", field)
    return values


def to_global_key(type_name: str, key: str) -> str:
    """Global id of an upstream object, whose identity is a string (`source:key`)."""
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")
