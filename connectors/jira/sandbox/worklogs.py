"""Work logged on an issue (`/rest/api/{v}/issue/{key}/worklog`): durations in JIRA's
own notation, read and written. Pure: no I/O.

JIRA counts a day as 8 hours and a week as 5 days (its default time-tracking
settings), reads `3h 30m`, `2d`, `1.5h`, and writes a duration back largest unit
first (`18w 2d`), leaving out the units that are zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from connectors.sandbox.world import Person

#: Seconds in each unit, largest first, as JIRA's default settings count them.
UNITS = (("w", 5 * 8 * 3600), ("d", 8 * 3600), ("h", 3600), ("m", 60))
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhm])", re.IGNORECASE)
_STARTED = "%Y-%m-%dT%H:%M:%S.%f%z"

NO_TIME = "You must indicate the time spent working."
BAD_TIME = "Invalid time duration entered."


class Refused(ValueError):
    """A worklog JIRA would refuse; `field` names where its ErrorCollection puts it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True)
class Worklog:
    id: int
    issue_id: int
    author: Person
    comment: str
    started: datetime
    seconds: int
    created: datetime
    updated: datetime


def seconds_of(time_spent: object, time_spent_seconds: object) -> int:
    """The duration a worklog body gives, in seconds; `timeSpentSeconds` wins."""
    if time_spent_seconds is not None:
        if isinstance(time_spent_seconds, bool) or not isinstance(time_spent_seconds, int) \
                or time_spent_seconds <= 0:
            raise Refused("timeLogged", BAD_TIME)
        return time_spent_seconds
    if time_spent is None:
        raise Refused("timeLogged", NO_TIME)
    if not isinstance(time_spent, str) or not time_spent.strip():
        raise Refused("timeLogged", BAD_TIME)
    text = time_spent.strip()
    parts = _PART.findall(text)
    if not parts or _PART.sub("", text).strip():
        raise Refused("timeLogged", BAD_TIME)
    size = dict(UNITS)
    total = round(sum(float(amount) * size[unit.lower()] for amount, unit in parts))
    if total <= 0:
        raise Refused("timeLogged", BAD_TIME)
    return total


def spent(seconds: int) -> str:
    """Seconds as JIRA writes a duration: `18w 2d`, `4d`, `1h 30m`."""
    words = []
    for unit, size in UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            words.append(f"{amount}{unit}")
    return " ".join(words) or "0m"


def started_at(value: object, default: datetime) -> datetime:
    """`started` as JIRA sends it (`2026-11-02T09:00:00.000+0000`); absent means now."""
    if value is None:
        return default
    if isinstance(value, str):
        try:
            return datetime.strptime(value, _STARTED)
        except ValueError:
            pass
    raise Refused("started", "The date the work started is not a date and time in "
                             "JIRA's format (2026-11-02T09:00:00.000+0000).")
