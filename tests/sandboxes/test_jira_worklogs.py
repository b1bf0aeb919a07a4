"""How the JIRA sandbox reads and writes a duration of logged work (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.jira.sandbox.worklogs import (
    BAD_TIME,
    NO_TIME,
    Refused,
    seconds_of,
    spent,
    started_at,
)

HOUR = 3600


@pytest.mark.parametrize(("text", "seconds"), [
    ("3h 30m", 3 * HOUR + 30 * 60), ("2d", 16 * HOUR), ("1w", 40 * HOUR),
    ("1.5h", 90 * 60), ("18w 2d", (18 * 5 + 2) * 8 * HOUR), ("45M", 45 * 60),
])
def test_a_duration_in_jiras_notation_is_read_with_8_hour_days_and_5_day_weeks(
        text: str, seconds: int) -> None:
    assert seconds_of(text, None) == seconds


@pytest.mark.parametrize("seconds", [60, 90 * 60, 8 * HOUR, 40 * HOUR + 2 * HOUR,
                                     (18 * 5 + 2) * 8 * HOUR])
def test_a_duration_written_back_reads_as_the_same_seconds(seconds: int) -> None:
    assert seconds_of(spent(seconds), None) == seconds


def test_a_duration_is_written_largest_unit_first_without_the_zero_ones() -> None:
    assert spent((18 * 5 + 2) * 8 * HOUR) == "18w 2d"
    assert spent(HOUR + 60) == "1h 1m"


@pytest.mark.parametrize("text", ["", "  ", "3x", "h", "0m", "three hours", "2h and 3m", 7])
def test_what_is_not_a_duration_is_refused(text: object) -> None:
    with pytest.raises(Refused) as refused:
        seconds_of(text, None)
    assert (refused.value.field, str(refused.value)) == ("timeLogged", BAD_TIME)


def test_a_worklog_needs_some_time_and_seconds_win_over_the_notation() -> None:
    with pytest.raises(Refused, match=NO_TIME):
        seconds_of(None, None)
    assert seconds_of("1h", 60) == 60
    for bad in (0, -60, True, "60"):
        with pytest.raises(Refused):
            seconds_of(None, bad)


def test_started_is_jiras_timestamp_or_now() -> None:
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert started_at(None, now) == now
    assert started_at("2026-10-30T14:05:00.000+0000", now) == datetime(2026, 10, 30, 14, 5,
                                                                        tzinfo=UTC)
    with pytest.raises(Refused) as refused:
        started_at("yesterday", now)
    assert refused.value.field == "started"
