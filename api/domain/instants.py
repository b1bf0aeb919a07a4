"""Instants clients send: with an offset and within a range the hub can compute with.

A naive time means a different moment on every server and fails when compared
with stored (aware) times; years near the limits of `datetime` overflow as soon
as an offset is applied. Both are refused as input errors.
"""

from __future__ import annotations

from datetime import datetime

EARLIEST_YEAR = 1970
LATEST_YEAR = 2999


class InstantError(ValueError):
    """Why a text is not an instant the hub accepts; the message is for the client."""


def parse_instant(value: object) -> datetime:
    """An ISO 8601 date and time with an offset, between 1970 and 2999."""
    if not isinstance(value, str):
        raise InstantError("a DateTime is an ISO 8601 string, e.g. 2026-01-01T09:00:00Z")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise InstantError(f"not an ISO 8601 date and time: {value[:64]!r}") from None
    return check_instant(instant)


def check_instant(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InstantError("a DateTime needs an offset (e.g. Z or +02:00)")
    if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        raise InstantError(f"a DateTime must lie between the years {EARLIEST_YEAR} and "
                           f"{LATEST_YEAR}")
    return instant
