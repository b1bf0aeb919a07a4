"""The graph's lists read indexes, not tables; and releases page by keyset, exactly.

On PostgreSQL with 20,000 releases (and as many bookings and audit events), every
SQL statement the graph sends for a list is captured as it goes to the driver and
explained: no sequential scan of a large table, and no sort of more than a sliver of
it. Then, on SQLite and PostgreSQL, paging is checked against the order it promises:
ties in the sort key, unscheduled releases, rows written between pages, both ways.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from sqlalchemy import event, make_url
from sqlalchemy.engine import Engine

from api.app import create_app
from api.db.engine import create_engine, session_factory
from api.db.models import ReleaseStatus
from api.services import release_list
from api.services.release_list import ReleaseQuery
from api.settings import load_settings
from tests.api.conftest import Server
from tests.support.bulk_releases import (
    application_key,
    applications_of,
    seed_releases,
    status_of,
)
from tests.support.databases import fresh_database
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi

ROWS = 20_000
LARGE_TABLES = {"releases", "release_applications", "environment_bookings", "audit_events"}
# A sort may order what index ranges give (a page per status, one application's releases);
# never a tenth of a table.
SORT_BOUND = ROWS // 10
LARGE = re.compile(r"\b(" + "|".join(LARGE_TABLES) + r")\b")


class Statements:
    """Every statement the process's engines send, with its parameters, while listening."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
                 _context: Any, _many: bool) -> None:
        with self._lock:
            self.seen.append((statement, parameters))

    def take(self) -> list[tuple[str, Any]]:
        with self._lock:
            taken, self.seen = self.seen, []
        return taken


@contextmanager
def seeded_hub(backend: str, tmp: Path, rows: int) -> Iterator[tuple[GraphQLClient, str]]:
    """A server over a fresh `backend` database holding `rows` bulk-written releases."""
    with fresh_database(backend, tmp) as url:
        token = new_secret()
        app = create_app(load_settings(None, database={"url": url}),
                         startup=[principal_step(token)])
        with serve_asgi(app) as base_url:
            async def seed() -> None:
                engine = create_engine(url)
                try:
                    await seed_releases(engine, rows)
                finally:
                    await engine.dispose()
            asyncio.run(seed())
            client = GraphQLClient(base_url, token=token)
            try:
                yield client, url
            finally:
                client.close()


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphQLClient, str,
                                                                      Statements]]:
    with seeded_hub("postgres", tmp_path_factory.mktemp("plans"), ROWS) as (client, url):
        statements = Statements()
        event.listen(Engine, "before_cursor_execute", statements)
        try:
            yield client, url, statements
        finally:
            event.remove(Engine, "before_cursor_execute", statements)


def _explain(url: str, statements: list[tuple[str, Any]], analyze: bool = False
             ) -> list[tuple[str, dict[str, Any]]]:
    explain = "EXPLAIN (ANALYZE, FORMAT JSON) " if analyze else "EXPLAIN (FORMAT JSON) "

    async def run() -> list[tuple[str, dict[str, Any]]]:
        import asyncpg

        parsed = make_url(url)
        connection = await asyncpg.connect(host=parsed.host, port=parsed.port,
                                           user=parsed.username, password=parsed.password,
                                           database=parsed.database)
        try:
            plans = []
            for sql, parameters in statements:
                raw = await connection.fetchval(explain + sql, *(parameters or ()))
                plans.append((sql, json.loads(raw)[0]["Plan"]))
            return plans
        finally:
            await connection.close()
    return asyncio.run(run())


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _list_reads(statements: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(sql, p) for sql, p in statements if sql.lstrip().upper().startswith("SELECT")
            and LARGE.search(sql)]


def _problems(plan: dict[str, Any]) -> list[str]:
    found = []
    for node in _nodes(plan):
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in LARGE_TABLES:
            found.append(f"sequential scan of {node['Relation Name']}")
        if node["Node Type"] == "Sort":
            rows = max(child["Plan Rows"] for child in node.get("Plans", [node]))
            if rows > SORT_BOUND:
                found.append(f"sort of {rows} rows")
    return found


RELEASES = """query($filter: ReleaseFilter, $first: Int!, $after: String, $last: Int,
                    $before: String) {
  releases(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { key } } pageInfo { endCursor startCursor } %s } }"""
APP = application_key(3)
RELEASE_LISTS = {
    "plain": ({}, ""),
    "totalCount": ({}, "totalCount totalCountIsEstimate"),
    "one status": ({"status": ["READY"]}, "totalCount"),
    "two statuses": ({"status": ["READY", "PLANNED"]}, "totalCount"),
    "type": ({"type": ["EMERGENCY"]}, "totalCount"),
    "application": ({"application": APP}, "totalCount"),
    "status and application": ({"status": ["PLANNED"], "application": APP}, "totalCount"),
    "statuses, types and application": (
        {"status": ["READY", "DEPLOYED"], "type": ["PROJECT", "EMERGENCY"],
         "application": APP}, "totalCount"),
    "type and application": ({"type": ["PROJECT"], "application": APP}, "totalCount"),
    "window to": ({"windowTo": "2027-03-01T00:00:00Z"}, ""),
    "window and application": ({"windowFrom": "2027-02-01T00:00:00Z", "application": APP},
                               "totalCount"),
}


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(RELEASE_LISTS))
def test_each_releases_page_and_count_reads_index_ranges_on_postgresql(
        large: tuple[GraphQLClient, str, Statements], name: str) -> None:
    client, url, statements = large
    filter, extra = RELEASE_LISTS[name]
    statements.take()
    first = client.data(RELEASES % extra, {"filter": filter, "first": 50})["releases"]
    assert first["edges"], "the seeded rows match every filter"
    client.data(RELEASES % extra, {"filter": filter, "first": 50,
                                   "after": first["pageInfo"]["endCursor"]})
    client.data(RELEASES % extra, {"filter": filter, "first": 50, "last": 50,
                                   "before": first["pageInfo"]["endCursor"]})
    reads = _list_reads(statements.take())
    assert sum(bool(re.search(r"FROM releases\b", sql)) for sql, _ in reads) >= 3
    plans = _explain(url, reads)
    assert [(sql, _problems(plan)) for sql, plan in plans if _problems(plan)] == []


def test_total_count_is_read_only_when_asked_for_and_says_when_it_estimates(
        large: tuple[GraphQLClient, str, Statements]) -> None:
    client, _, statements = large
    statements.take()
    client.data(RELEASES % "", {"first": 5})
    assert not [sql for sql, _ in statements.take() if "count(" in sql.lower()]
    page = client.data(RELEASES % "totalCount totalCountIsEstimate",
                       {"first": 5})["releases"]
    assert page["totalCountIsEstimate"] is True  # 20,000 rows: past the exact bound
    assert abs(page["totalCount"] - ROWS) < ROWS * 0.1
    small = client.data(RELEASES % "totalCount totalCountIsEstimate",
                        {"first": 5, "filter": {"status": ["READY"], "application": APP}}
                        )["releases"]
    assert small["totalCountIsEstimate"] is False
    assert small["totalCount"] == sum(1 for i in range(1, ROWS + 1) if status_of(i) is
                                      ReleaseStatus.READY and 3 in applications_of(i))


# A page of releases read through an application's links (one range, or several merged).
APPLICATION_PAGE = re.compile(
    r'^SELECT releases\.id, releases\.("key"|key),.*\brelease_applications\b', re.DOTALL)
# Which index of the links each application filter's ranges read, and how many ranges.
LINK_INDEX = {
    "application": ("ix_release_applications_sort", 1),
    "status and application": ("ix_release_applications_status_sort", 1),
    "statuses, types and application": ("ix_release_applications_status_sort", 2),
    "type and application": ("ix_release_applications_type_sort", 1),
}


def _analyze(url: str, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """The statements' plans as run: EXPLAIN ANALYZE, so nodes say how many rows they read."""
    return [plan for _, plan in _explain(url, statements, analyze=True)]


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(LINK_INDEX))
def test_an_applications_page_is_a_range_of_its_own_index_on_postgresql(
        large: tuple[GraphQLClient, str, Statements], name: str) -> None:
    """Its links carry the list's sort key, status and type, so the page reads them in
    order, at most a page and one per status (or type) range, and then only the releases
    on the page: no sort, no walk of the application's other links."""
    client, url, statements = large
    filter, _ = RELEASE_LISTS[name]
    index, ranges = LINK_INDEX[name]
    statements.take()
    first = client.data(RELEASES % "", {"filter": filter, "first": 50})["releases"]
    client.data(RELEASES % "", {"filter": filter, "first": 50,
                                "after": first["pageInfo"]["endCursor"]})
    pages = [(sql, p) for sql, p in statements.take() if APPLICATION_PAGE.search(sql)]
    assert len(pages) == 2
    for plan in _analyze(url, pages):
        nodes = list(_nodes(plan))
        assert [n["Node Type"] for n in nodes if n["Node Type"] == "Sort"] == []
        links = [n for n in nodes if n.get("Relation Name") == "release_applications"]
        assert {n.get("Index Name") for n in links} == {index}
        assert len(links) == ranges
        assert all(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) <= 51
                   for n in links), [(n["Actual Rows"], n.get("Rows Removed by Filter"))
                                     for n in links]
        releases = [n for n in nodes if n.get("Relation Name") == "releases"]
        assert [(n["Node Type"], n.get("Index Name")) for n in releases] == [
            ("Index Scan", "releases_pkey")]
        assert releases[0]["Actual Rows"] * releases[0]["Actual Loops"] == 51


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(LINK_INDEX))
def test_an_applications_count_reads_its_links_index_alone_on_postgresql(
        large: tuple[GraphQLClient, str, Statements], name: str) -> None:
    """Exact (these filters match fewer than the exact bound), from index entries alone:
    no release is read to count."""
    client, url, statements = large
    filter, _ = RELEASE_LISTS[name]
    index, ranges = LINK_INDEX[name]
    statements.take()
    page = client.data(RELEASES % "totalCount totalCountIsEstimate",
                       {"filter": filter, "first": 1})["releases"]
    assert page["totalCountIsEstimate"] is False
    counts = [(sql, p) for sql, p in statements.take()
              if sql.startswith("SELECT") and "count(" in sql]
    assert len(counts) == 1
    nodes = list(_nodes(_analyze(url, counts)[0]))
    read = [n for n in nodes if n.get("Relation Name")]
    assert {(n["Node Type"], n["Relation Name"], n["Index Name"]) for n in read} == {
        ("Index Only Scan", "release_applications", index)}
    assert len(read) == ranges
    assert sum(n["Actual Rows"] for n in read) == page["totalCount"]


OTHER_LISTS = {
    "bookings": ("{ bookings(first: 100) { id } }", {}),
    "bookings by status": ("{ bookings(first: 100, status: [APPROVED]) { id } }", {}),
    "bookings from": ('{ bookings(first: 100, from: "2027-06-01T00:00:00Z", '
                      'to: "2027-07-01T00:00:00Z") { id } }', {}),
    "release history": ('{ release(key: "BULK-777") { history(first: 50) { id } '
                        "bookings { id } children { id } } }", {}),
}


@pytest.mark.postgres
@pytest.mark.parametrize("name", list(OTHER_LISTS))
def test_the_other_lists_read_index_ranges_on_postgresql(
        large: tuple[GraphQLClient, str, Statements], name: str) -> None:
    client, url, statements = large
    document, variables = OTHER_LISTS[name]
    statements.take()
    client.data(document, variables)
    reads = _list_reads(statements.take())
    assert reads
    assert [(sql, _problems(p)) for sql, p in _explain(url, reads) if _problems(p)] == []


# --- keyset paging, on SQLite and PostgreSQL --------------------------------------------------

CREATE = """mutation($input: CreateReleaseInput!) { createRelease(input: $input) { key } }"""
KEYS = """query($filter: ReleaseFilter, $first: Int!, $after: String, $last: Int,
                $before: String) {
  releases(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    edges { node { key windowStart } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } }"""


def _application(gql: GraphQLClient, key: str) -> dict[str, str]:
    gql.data("mutation($i: ApplicationInput!) { createApplication(input: $i) { id } }",
             {"i": {"key": key, "name": f"Paging {key}"}})
    return {"application": key}


def _release(gql: GraphQLClient, key: str, app: str, start: datetime | None) -> None:
    window = {} if start is None else {"windowStart": start.isoformat(),
                                       "windowEnd": (start + timedelta(hours=1)).isoformat()}
    gql.data(CREATE, {"input": {"key": key, "name": key, "type": "PROJECT",
                                "applicationKeys": [app], **window}})


def _walk(gql: GraphQLClient, filter: dict[str, Any], size: int, backward: bool = False,
          between: Any = None, starts: dict[str, str | None] | None = None) -> list[str]:
    """Every key, page by page, calling `between(page_number)` after each page."""
    keys: list[str] = []
    cursor: str | None = None
    for number in range(100):
        variables: dict[str, Any] = {"filter": filter, "first": size}
        if backward:
            variables.update(last=size, before=cursor)
        else:
            variables.update(after=cursor)
        page = gql.data(KEYS, variables)["releases"]
        got = [e["node"]["key"] for e in page["edges"]]
        if starts is not None:
            starts.update((e["node"]["key"], e["node"]["windowStart"]) for e in page["edges"])
        keys = got + keys if backward else keys + got
        if between is not None:
            between(number)
        info = page["pageInfo"]
        if not (info["hasPreviousPage"] if backward else info["hasNextPage"]):
            return keys
        cursor = info["startCursor"] if backward else info["endCursor"]
    raise AssertionError("paging did not end")


T0 = datetime(2031, 5, 1, 8, 0, tzinfo=UTC)


def test_pages_follow_window_start_then_id_with_unscheduled_last_both_ways(
        server: Server, unique: str) -> None:
    gql = server.client
    app = f"PG{unique}"
    filter = _application(gql, app)
    # Three share one start, two have none: the id breaks every tie.
    starts = [T0 + timedelta(days=2), T0, None, T0 + timedelta(days=1), T0, None, T0,
              T0 + timedelta(days=2)]
    for n, start in enumerate(starts):
        _release(gql, f"{app}-{n}", app, start)
    expected = [f"{app}-{n}" for n, _ in sorted(
        enumerate(starts), key=lambda p: (p[1] is None, p[1] or T0, p[0]))]
    for size in (1, 2, 3, 8, 50):
        assert _walk(gql, filter, size) == expected
        assert _walk(gql, filter, size, backward=True) == expected
    assert gql.data(KEYS, {"filter": filter, "first": 3})["releases"]["totalCount"] == 8


def test_releases_written_between_pages_are_neither_repeated_nor_skipped(
        server: Server, unique: str) -> None:
    gql = server.client
    app = f"PW{unique}"
    filter = _application(gql, app)
    for n in range(6):
        _release(gql, f"{app}-{n:02d}", app, T0 + timedelta(days=n))

    def write(number: int) -> None:
        # After the first page: one release sorting before the cursor, one among the
        # pages still to come, one tied with a row already read.
        if number == 0:
            _release(gql, f"{app}-early", app, T0 - timedelta(days=1))
            _release(gql, f"{app}-later", app, T0 + timedelta(days=4, hours=1))
            _release(gql, f"{app}-tied", app, T0)

    keys = _walk(gql, filter, 2, between=write)
    assert len(keys) == len(set(keys))
    # Everything that existed is there once; of the new rows, those past the cursor.
    assert keys == [f"{app}-00", f"{app}-01", f"{app}-02", f"{app}-03", f"{app}-04",
                    f"{app}-later", f"{app}-05"]


def test_a_release_moves_in_its_applications_list_when_its_window_or_applications_change(
        server: Server, unique: str) -> None:
    gql = server.client
    app, other = f"PM{unique}", f"PN{unique}"
    filter, other_filter = _application(gql, app), _application(gql, other)
    ids = {}
    for n in range(3):
        start = T0 + timedelta(days=n)
        ids[n] = gql.data(CREATE.replace("{ key }", "{ id }"), {"input": {
            "key": f"{app}-{n}", "name": "moving", "type": "PROJECT", "applicationKeys": [app],
            "windowStart": start.isoformat(),
            "windowEnd": (start + timedelta(hours=1)).isoformat()}})["createRelease"]["id"]
    update = """mutation($id: ID!, $input: UpdateReleaseInput!) {
      updateRelease(id: $id, input: $input) { key } }"""
    later = T0 + timedelta(days=5)
    gql.data(update, {"id": ids[0], "input": {"windowStart": later.isoformat(),
                                              "windowEnd": (later + timedelta(hours=1))
                                              .isoformat()}})
    assert _walk(gql, filter, 2) == [f"{app}-1", f"{app}-2", f"{app}-0"]
    gql.data(update, {"id": ids[2], "input": {"applicationKeys": [other, app]}})
    gql.data(update, {"id": ids[1], "input": {"windowStart": None, "windowEnd": None}})
    assert _walk(gql, filter, 2) == [f"{app}-2", f"{app}-0", f"{app}-1"]
    assert _walk(gql, filter, 1, backward=True) == [f"{app}-2", f"{app}-0", f"{app}-1"]
    assert _walk(gql, other_filter, 2) == [f"{app}-2"]


def test_a_release_moves_between_its_applications_status_and_type_lists_as_it_changes(
        server: Server, unique: str) -> None:
    """The links' copies of the status and type follow every transition and update."""
    gql = server.client
    app = f"PS{unique}"
    _application(gql, app)
    ids = [gql.data(CREATE.replace("{ key }", "{ id }"), {"input": {
        "key": f"{app}-{n}", "name": "moving", "type": "PROJECT", "applicationKeys": [app],
        "windowStart": (T0 + timedelta(days=n)).isoformat(),
        "windowEnd": (T0 + timedelta(days=n, hours=1)).isoformat()}})["createRelease"]["id"]
        for n in range(3)]

    def listed(**filter: Any) -> tuple[list[str], int]:
        page = gql.data(KEYS, {"filter": {"application": app, **filter}, "first": 2})
        return _walk(gql, {"application": app, **filter}, 2), page["releases"]["totalCount"]

    assert listed(status=["PLANNED"]) == ([f"{app}-0", f"{app}-1", f"{app}-2"], 3)
    gql.data("""mutation($id: ID!) { transitionRelease(id: $id, to: IN_PROGRESS) { status } }""",
             {"id": ids[1]})
    gql.data("""mutation($id: ID!) { updateRelease(id: $id, input: {type: EMERGENCY}) { key } }""",
             {"id": ids[2]})
    assert listed(status=["PLANNED"]) == ([f"{app}-0", f"{app}-2"], 2)
    assert listed(status=["IN_PROGRESS"]) == ([f"{app}-1"], 1)
    assert listed(type=["EMERGENCY"]) == ([f"{app}-2"], 1)
    assert listed(type=["PROJECT"]) == ([f"{app}-0", f"{app}-1"], 2)
    assert listed(status=["PLANNED", "IN_PROGRESS"], type=["PROJECT"]) == (
        [f"{app}-0", f"{app}-1"], 2)
    assert listed(status=["PLANNED"], type=["EMERGENCY"]) == ([f"{app}-2"], 1)


def test_a_cursor_from_elsewhere_is_refused_by_name(server: Server) -> None:
    error = server.client.error(KEYS, {"first": 5, "after": "bm90IGEgY3Vyc29y"})
    assert "after" in json.dumps(error)
    error = server.client.error(KEYS, {"first": 5, "last": 5, "before": "WzEsMiwzXQ"})
    assert "not a releases cursor" in error["message"]


def test_keyset_paging_on_a_large_sqlite_list_matches_the_full_order(
        tmp_path: Path) -> None:
    """Thousands of rows with many ties: every page size walks the exact order both ways."""
    with seeded_hub("sqlite", tmp_path, 3_000) as (gql, url):
        filter: dict[str, Any] = {"status": ["READY", "PLANNED"], "application": APP}
        _assert_sqlite_reads_the_application_index(gql, url, filter)
        starts: dict[str, str | None] = {}
        forward = _walk(gql, filter, 7, starts=starts)
        assert len(forward) > 50
        assert _walk(gql, filter, 7, backward=True) == forward
        assert _walk(gql, filter, 50) == forward
        instants = {key: datetime.fromisoformat(start) if start else None
                    for key, start in starts.items()}
        assert forward == sorted(starts, key=lambda key: (
            instants[key] is None, instants[key] or T0, int(key.split("-")[1])))
        # Past the bound of an exact count (here 100) SQLite counts a sample, and
        # says the count is an estimate.
        many = ReleaseQuery(statuses=(ReleaseStatus.READY, ReleaseStatus.PLANNED,
                                      ReleaseStatus.DEPLOYED), application=APP)
        truth = sum(1 for i in range(1, 3_001) if 3 in applications_of(i) and
                    status_of(i).name in ("READY", "PLANNED", "DEPLOYED"))

        async def estimate(query: ReleaseQuery) -> release_list.Count:
            engine = create_engine(url)
            try:
                async with session_factory(engine)() as session:
                    return await release_list.count(session, query, up_to=50)
            finally:
                await engine.dispose()
        counted = asyncio.run(estimate(many))
        assert truth > 50
        assert counted.exact is False
        assert abs(counted.value - truth) < truth * 0.5
        # The table's size comes from its ids' ends, not from counting every entry.
        assert asyncio.run(estimate(ReleaseQuery())) == release_list.Count(3_000, False)
        few = {"status": ["READY"], "application": APP}
        exact = sum(1 for i in range(1, 3_001) if status_of(i) is ReleaseStatus.READY
                    and 3 in applications_of(i))
        assert gql.data(RELEASES % "totalCount totalCountIsEstimate",
                        {"filter": few, "first": 1})["releases"] == {
            "edges": ANY, "pageInfo": ANY, "totalCount": exact,
            "totalCountIsEstimate": False}


def _assert_sqlite_reads_the_application_index(gql: GraphQLClient, url: str,
                                               filter: dict[str, Any]) -> None:
    """SQLite's plan of an application's page of two statuses: a range of the links'
    status index per status, each link's release found by id, and no sort but the merge
    of the ranges' rows; its count, the same index's entries alone (and the table's size
    from the ends of its ids)."""
    statements = Statements()
    event.listen(Engine, "before_cursor_execute", statements)
    try:
        first = gql.data(KEYS, {"filter": filter, "first": 7})["releases"]
        gql.data(KEYS, {"filter": filter, "first": 7, "after": first["pageInfo"]["endCursor"]})
    finally:
        event.remove(Engine, "before_cursor_execute", statements)
    seen = statements.take()
    pages = [(sql, p) for sql, p in seen if APPLICATION_PAGE.search(sql)]
    counts = [(sql, p) for sql, p in seen if sql.startswith("SELECT") and "count(" in sql]
    assert len(pages) == 2
    assert len(counts) == 2
    connection = sqlite3.connect(make_url(url).database or "")
    try:
        for sql, parameters in pages:
            plan = list(connection.execute("EXPLAIN QUERY PLAN " + sql, parameters))
            said = " / ".join(row[-1] for row in plan)
            assert said.count("USING INDEX ix_release_applications_status_sort") == 2, said
            assert "USING INTEGER PRIMARY KEY" in said, said
            # One sort: the outer query's, of the at most 2 x 8 rows the ranges give.
            assert [parent for _, parent, _, detail in plan if "TEMP B-TREE" in detail] == [
                0], said
        for sql, parameters in counts:
            said = " / ".join(row[-1] for row in connection.execute(
                "EXPLAIN QUERY PLAN " + sql, parameters))
            assert said.count("USING COVERING INDEX ix_release_applications_status_sort") == 2
            # The releases are touched only at their ids' ends (the table's size) and, past
            # the exact bound, for the newest rows an estimate samples: never scanned.
            assert not re.search(r"SCAN releases\b", said), said
    finally:
        connection.close()
