"""Dynamic values in encoded queries (`javascript:gs.daysAgoStart(7)`), read against a clock.

An instance runs the script and compares with its answer; date-range filters
from the list UI and from client libraries (pysnow's `between` sends
`javascript:gs.dateGenerate("...")`) rely on it. The sandbox knows the
GlideSystem date functions those send, evaluated in UTC (the sandbox user's
time zone) at the world's time. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

PREFIX = "javascript:"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_CALL = re.compile(r"^\s*gs\.(?P<name>[A-Za-z]+)\s*\((?P<args>.*)\)\s*;?\s*$", re.DOTALL)
_ARG = re.compile(
    r"""\s*(?:'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<bare>[^,'"]*?))\s*(?:,|$)""")


class DynamicValueError(ValueError):
    """A script the sandbox cannot evaluate (an unknown function or bad arguments)."""


def is_dynamic(value: str) -> bool:
    return value.startswith(PREFIX)


def evaluate(value: str, now: datetime) -> str:
    """`javascript:gs.<function>(...)` -> `yyyy-MM-dd HH:mm:ss` (UTC) at `now`."""
    script = value[len(PREFIX):]
    match = _CALL.match(script)
    if match is None:
        raise DynamicValueError(f"unsupported script in query: {script}")
    name, args = match["name"], _arguments(match["args"])
    now = now.astimezone(UTC).replace(microsecond=0)
    if name == "dateGenerate":
        return _date_generate(args)
    function = _FUNCTIONS.get(name)
    if function is None:
        raise DynamicValueError(f"unsupported GlideSystem function in query: gs.{name}()")
    count = _count(name, args)
    return function(now, count).strftime(TIME_FORMAT)


def _arguments(text: str) -> list[str]:
    if not text.strip():
        return []
    out: list[str] = []
    position = 0
    while position < len(text):
        match = _ARG.match(text, position)
        if match is None or match.end() == position:
            raise DynamicValueError(f"unreadable arguments: {text}")
        out.append(next(g for g in (match["single"], match["double"], match["bare"])
                        if g is not None))
        position = match.end()
    return out


def _count(name: str, args: list[str]) -> int:
    if not args:
        return 0
    try:
        return int(float(args[0]))
    except ValueError as exc:
        raise DynamicValueError(f"gs.{name}() takes a number, not {args[0]!r}") from exc


def _date_generate(args: list[str]) -> str:
    """`('2026-01-01','00:00:00')`, `('2026-01-01','start'|'end')` or `("2026-01-01 10:00:00")`."""
    if not args:
        raise DynamicValueError("gs.dateGenerate() needs a date")
    date, _, time = args[0].strip().partition(" ")
    if len(args) > 1:
        time = {"start": "00:00:00", "end": "23:59:59"}.get(args[1].strip(), args[1].strip())
    try:
        moment = datetime.strptime(f"{date} {time or '00:00:00'}", TIME_FORMAT)
    except ValueError as exc:
        raise DynamicValueError(f"gs.dateGenerate() cannot read {', '.join(args)}") from exc
    return moment.strftime(TIME_FORMAT)


def _day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0)


def _day_end(moment: datetime) -> datetime:
    return moment.replace(hour=23, minute=59, second=59)


def _month_start(moment: datetime, months_ago: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 - months_ago
    return _day_start(moment.replace(year=index // 12, month=index % 12 + 1, day=1))


def _month_end(moment: datetime, months_ago: int) -> datetime:
    return _month_start(moment, months_ago - 1) - timedelta(seconds=1)


def _week_start(moment: datetime, weeks_ago: int) -> datetime:
    """Weeks start on Monday, as an instance's default."""
    return _day_start(moment - timedelta(days=moment.weekday() + 7 * weeks_ago))


def _quarter_start(moment: datetime, quarters_ago: int) -> datetime:
    index = moment.year * 4 + (moment.month - 1) // 3 - quarters_ago
    return _day_start(moment.replace(year=index // 4, month=index % 4 * 3 + 1, day=1))


def _year_start(moment: datetime, years_ago: int) -> datetime:
    return _day_start(moment.replace(year=moment.year - years_ago, month=1, day=1))


Function = Callable[[datetime, int], datetime]

_FUNCTIONS: dict[str, Function] = {
    "nowDateTime": lambda now, _: now,
    "nowNoTZ": lambda now, _: now,
    "now": lambda now, _: now,
    "daysAgo": lambda now, n: now - timedelta(days=n),
    "daysAgoStart": lambda now, n: _day_start(now - timedelta(days=n)),
    "daysAgoEnd": lambda now, n: _day_end(now - timedelta(days=n)),
    "hoursAgo": lambda now, n: now - timedelta(hours=n),
    "hoursAgoStart": lambda now, n: (now - timedelta(hours=n)).replace(minute=0, second=0),
    "hoursAgoEnd": lambda now, n: (now - timedelta(hours=n)).replace(minute=59, second=59),
    "minutesAgo": lambda now, n: now - timedelta(minutes=n),
    "minutesAgoStart": lambda now, n: (now - timedelta(minutes=n)).replace(second=0),
    "minutesAgoEnd": lambda now, n: (now - timedelta(minutes=n)).replace(second=59),
    "monthsAgo": lambda now, n: _month_start(now, n).replace(
        day=min(now.day, (_month_end(now, n)).day), hour=now.hour, minute=now.minute,
        second=now.second),
    "monthsAgoStart": _month_start,
    "monthsAgoEnd": _month_end,
    "quartersAgoStart": _quarter_start,
    "quartersAgoEnd": lambda now, n: _quarter_start(now, n - 1) - timedelta(seconds=1),
    "yearsAgo": lambda now, n: now.replace(year=now.year - n,
                                           day=min(now.day, 28) if now.month == 2 else now.day),
    "beginningOfToday": lambda now, _: _day_start(now),
    "endOfToday": lambda now, _: _day_end(now),
    "beginningOfYesterday": lambda now, _: _day_start(now - timedelta(days=1)),
    "endOfYesterday": lambda now, _: _day_end(now - timedelta(days=1)),
    "beginningOfTomorrow": lambda now, _: _day_start(now + timedelta(days=1)),
    "endOfTomorrow": lambda now, _: _day_end(now + timedelta(days=1)),
    "beginningOfThisWeek": lambda now, _: _week_start(now, 0),
    "endOfThisWeek": lambda now, _: _week_start(now, -1) - timedelta(seconds=1),
    "beginningOfLastWeek": lambda now, _: _week_start(now, 1),
    "endOfLastWeek": lambda now, _: _week_start(now, 0) - timedelta(seconds=1),
    "beginningOfNextWeek": lambda now, _: _week_start(now, -1),
    "endOfNextWeek": lambda now, _: _week_start(now, -2) - timedelta(seconds=1),
    "beginningOfThisMonth": lambda now, _: _month_start(now, 0),
    "endOfThisMonth": lambda now, _: _month_end(now, 0),
    "beginningOfLastMonth": lambda now, _: _month_start(now, 1),
    "endOfLastMonth": lambda now, _: _month_end(now, 1),
    "beginningOfNextMonth": lambda now, _: _month_start(now, -1),
    "endOfNextMonth": lambda now, _: _month_end(now, -1),
    "beginningOfThisQuarter": lambda now, _: _quarter_start(now, 0),
    "endOfThisQuarter": lambda now, _: _quarter_start(now, -1) - timedelta(seconds=1),
    "beginningOfLastQuarter": lambda now, _: _quarter_start(now, 1),
    "endOfLastQuarter": lambda now, _: _quarter_start(now, 0) - timedelta(seconds=1),
    "beginningOfThisYear": lambda now, _: _year_start(now, 0),
    "endOfThisYear": lambda now, _: _year_start(now, -1) - timedelta(seconds=1),
    "beginningOfLastYear": lambda now, _: _year_start(now, 1),
    "endOfLastYear": lambda now, _: _year_start(now, 0) - timedelta(seconds=1),
}
