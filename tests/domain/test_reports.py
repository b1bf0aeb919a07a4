"""How a report's answer becomes rows, and which format a caller asked for."""

from __future__ import annotations

import pytest
from graphql import parse

from api.domain.reports import (
    Column,
    negotiate,
    next_cursor,
    resolve_columns,
    rows_of,
    selection_tree,
    slug_of,
    table,
    takes_cursor,
)
from api.errors import ServiceError

ANSWER = {"applications": [
    {"key": "PAY", "releases": [{"key": "PAY-1", "phases": [{"name": "test"},
                                                           {"name": "prod"}]},
                                {"key": "PAY-2", "phases": []}]},
    {"key": "WEB", "releases": [{"key": "WEB-7", "phases": None}]},
    {"key": "OPS", "releases": []}]}


def test_lists_on_the_rows_path_are_flattened_in_order() -> None:
    assert [r["key"] for r in rows_of(ANSWER, ("applications", "releases"))] \
        == ["PAY-1", "PAY-2", "WEB-7"]
    assert rows_of(None, ("applications",)) == []
    assert rows_of(ANSWER, ()) == [ANSWER]


def test_a_column_through_a_list_is_a_list_and_a_missing_value_is_none() -> None:
    columns = [Column(("key",), "Key"), Column(("phases", "name"), "Phases"),
               Column(("missing",), "Missing")]
    assert table(ANSWER, ("applications", "releases"), columns) == [
        ["PAY-1", ["test", "prod"], None], ["PAY-2", [], None],
        ["WEB-7", None, None]]  # a null list is a missing value, an empty one is empty


def test_columns_follow_aliases_and_fragments_of_the_query() -> None:
    document = parse("""query { apps: applications { ...App } }
        fragment App on Application { key releases { ... on Release { id: key } } }""")
    tree = selection_tree(document)
    assert tree == {"apps": {"key": {}, "releases": {"id": {}}}}
    assert [c.dotted for c in resolve_columns(tree, ("apps",), [])] == ["key", "releases.id"]
    with pytest.raises(ServiceError, match="selects no 'key'"):
        resolve_columns(tree, ("apps",), [("releases.key", None)])


@pytest.mark.parametrize(("accept", "chosen"), [
    ("", "json"), ("*/*", "json"), ("text/csv", "csv"), ("application/json", "json"),
    ("text/csv;q=0.4, application/json;q=0.9", "json"), ("text/*", "csv"),
    ("text/html, text/csv", "csv"), ("image/png", None), ("text/csv;q=0", None),
    ("text/csv;q=oops, application/json;q=0.1", "json")])
def test_accept_picks_the_format_it_prefers(accept: str, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


def test_a_slug_is_made_from_the_name_and_is_never_a_number() -> None:
    assert slug_of("Q3: changes & incidents!") == "q3-changes-incidents"
    assert slug_of("2026") == "report-2026"
    assert slug_of("¿¿") == "report-x"


def test_a_report_pages_only_through_the_connection_that_holds_its_rows() -> None:
    assert takes_cursor(parse("query($after: String) { releases(after: $after) { totalCount } }"))
    assert not takes_cursor(parse("query($from: String) { releases { totalCount } }"))
    page = {"releases": {"pageInfo": {"hasNextPage": True, "endCursor": "abc"}, "nodes": []}}
    assert next_cursor(page, ("releases", "nodes")) == "abc"
    last = {"releases": {"pageInfo": {"hasNextPage": False, "endCursor": "abc"}, "nodes": []}}
    assert next_cursor(last, ("releases", "nodes")) is None
    assert next_cursor({"releases": {"nodes": []}}, ("releases", "nodes")) is None
