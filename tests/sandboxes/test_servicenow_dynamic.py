"""GlideSystem date functions in encoded queries, evaluated at the instance's time in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.servicenow.sandbox import dynamic, encoded_query
from connectors.servicenow.sandbox.encoded_query import QueryError

# A Wednesday afternoon in February of a leap year.
NOW = datetime(2028, 2, 16, 15, 42, 7, 123456, tzinfo=UTC)


@pytest.mark.parametrize(("script", "expected"), [
    ("gs.nowDateTime()", "2028-02-16 15:42:07"),
    ("gs.daysAgo(2)", "2028-02-14 15:42:07"),
    ("gs.daysAgoStart(7)", "2028-02-09 00:00:00"),
    ("gs.daysAgoEnd(0)", "2028-02-16 23:59:59"),
    ("gs.daysAgoStart(-1)", "2028-02-17 00:00:00"),
    ("gs.hoursAgoStart(3)", "2028-02-16 12:00:00"),
    ("gs.minutesAgo(42)", "2028-02-16 15:00:07"),
    ("gs.beginningOfToday()", "2028-02-16 00:00:00"),
    ("gs.endOfYesterday()", "2028-02-15 23:59:59"),
    ("gs.beginningOfThisWeek()", "2028-02-14 00:00:00"),
    ("gs.endOfLastWeek()", "2028-02-13 23:59:59"),
    ("gs.beginningOfThisMonth()", "2028-02-01 00:00:00"),
    ("gs.endOfThisMonth()", "2028-02-29 23:59:59"),
    ("gs.beginningOfLastMonth()", "2028-01-01 00:00:00"),
    ("gs.monthsAgoStart(2)", "2027-12-01 00:00:00"),
    ("gs.beginningOfThisQuarter()", "2028-01-01 00:00:00"),
    ("gs.endOfLastYear()", "2027-12-31 23:59:59"),
    ("gs.dateGenerate('2028-01-05','09:30:00')", "2028-01-05 09:30:00"),
    ("gs.dateGenerate('2028-01-05','end')", "2028-01-05 23:59:59"),
    ('gs.dateGenerate("2028-01-05 10:11:12")', "2028-01-05 10:11:12"),
])
def test_each_function_answers_a_utc_stamp(script: str, expected: str) -> None:
    assert dynamic.evaluate("javascript:" + script, NOW) == expected


def test_a_between_of_two_scripts_is_a_range_of_two_stamps() -> None:
    query = encoded_query.parse(
        'opened_atBETWEENjavascript:gs.dateGenerate("2028-02-01 00:00:00")'
        "@javascript:gs.endOfToday()", now=NOW)

    [[[condition]]] = query.queries
    assert condition.value == "2028-02-01 00:00:00@2028-02-16 23:59:59"


def test_on_reads_the_range_after_its_label() -> None:
    rows = [{"opened_at": "2028-02-16 08:00:00"}, {"opened_at": "2028-02-15 23:00:00"}]
    query = encoded_query.parse(
        "opened_atONToday@javascript:gs.beginningOfToday()@javascript:gs.endOfToday()", now=NOW)

    assert encoded_query.apply(query, rows, lambda row, name: row.get(name)) == rows[:1]


@pytest.mark.parametrize("value", ["javascript:gs.getUserID()", "javascript:new GlideRecord()",
                                   "javascript:gs.daysAgo('many')"])
def test_a_script_the_sandbox_cannot_run_is_an_invalid_query_naming_it(value: str) -> None:
    with pytest.raises(QueryError, match=r"unsupported|takes a number"):
        encoded_query.parse(f"opened_at>{value}", now=NOW)


def test_a_dynamic_value_is_never_compared_as_text() -> None:
    with pytest.raises(QueryError, match="clock"):
        encoded_query.parse("opened_at>javascript:gs.daysAgo(1)")
