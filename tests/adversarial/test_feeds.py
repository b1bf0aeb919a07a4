"""The calendar feed and the CSV exports, over HTTP on SQLite and PostgreSQL.

The feed is read by a second, independent iCalendar parser (vobject), as a
subscribed calendar would, besides a hand check of RFC 5545's line rules; the
CSV exports are read back with the csv module and compared with the graph's
answer to the same list and filters.
"""

from __future__ import annotations

import base64
import csv
import io
import uuid
from typing import Any

import httpx
import vobject

from api.db.models import Role
from tests.adversarial.conftest import Hub
from tests.support.graphql import GraphQLClient

CREATE_FEED = "mutation { createCalendarFeed { url prefix createdAt } }"
REVOKE_FEED = "mutation { revokeCalendarFeed }"
CREATE_RELEASE = """mutation($input: CreateReleaseInput!) {
  createRelease(input: $input) { id key } }"""
MOVE_RELEASE = """mutation($id: ID!, $input: UpdateReleaseInput!) {
  updateRelease(id: $id, input: $input) { version } }"""


def events(body: str) -> list[Any]:
    calendar = vobject.readOne(body)
    return list(getattr(calendar, "vevent_list", []))


def by_uid(body: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for event in events(body):
        found.setdefault(event.uid.value, []).append(event)
    return found


def pk(global_id: str) -> str:
    return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(
        ":")[1]


def new_release(rm: GraphQLClient, name: str, start: str, end: str,
                apps: list[str] | None = None) -> tuple[str, str]:
    key = f"FEED-{uuid.uuid4().hex[:8]}"
    made = rm.data(CREATE_RELEASE, {"input": {
        "key": key, "name": name, "type": "PROJECT", "windowStart": start, "windowEnd": end,
        "applicationKeys": apps or []}})["createRelease"]
    return made["id"], key


def test_the_feed_is_valid_icalendar_and_a_moved_release_updates_its_event(hub: Hub) -> None:
    rm, viewer = hub.client(Role.RELEASE_MANAGER), hub.client(Role.VIEWER)
    feed = viewer.data(CREATE_FEED)["createCalendarFeed"]
    assert feed["url"].startswith(f"{hub.url}/feeds/calendar/hsf_")
    release_id, key = new_release(rm, "Feed check", "2026-12-01T20:00:00Z",
                                  "2026-12-01T22:00:00Z")
    query = "?from=2026-10-01&to=2027-02-01"

    response = httpx.get(feed["url"] + query, timeout=30)  # no session, no token
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    lines = response.content.split(b"\r\n")
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-2] == b"END:VCALENDAR"
    assert all(len(line) <= 75 for line in lines)  # RFC 5545 3.1: folded at 75 octets
    uid = f"release-{pk(release_id)}@heatshield"
    first = by_uid(response.text)
    [event] = first[uid]
    assert event.summary.value == f"Release {key}: Feed check"
    assert event.dtstart.value.isoformat() == "2026-12-01T20:00:00+00:00"
    kinds = {e.categories.value[0] for found in first.values() for e in found}
    assert {"Release", "Blackout", "Change"} <= kinds
    assert any(u.startswith("change-servicenow-") for u in first)
    assert any(u.startswith("change-remedy-") for u in first)

    rm.data(MOVE_RELEASE, {"id": release_id, "input": {
        "windowStart": "2026-12-03T20:00:00Z", "windowEnd": "2026-12-03T23:00:00Z"}})
    second = by_uid(httpx.get(feed["url"] + query, timeout=30).text)
    [moved] = second[uid]
    assert moved.dtstart.value.isoformat() == "2026-12-03T20:00:00+00:00"
    assert int(moved.sequence.value) > int(event.sequence.value)
    assert set(second) == set(first)  # same events: updated, not duplicated


def test_the_feed_filters_by_type_and_application(hub: Hub) -> None:
    rm, viewer = hub.client(Role.RELEASE_MANAGER), hub.client(Role.VIEWER)
    url = viewer.data(CREATE_FEED)["createCalendarFeed"]["url"]
    app = rm.data("{ applications { key } }")["applications"][0]["key"]
    mine, _ = new_release(rm, "Filtered in", "2026-11-20T20:00:00Z", "2026-11-20T21:00:00Z",
                          [app])
    other, _ = new_release(rm, "Filtered out", "2026-11-20T20:00:00Z", "2026-11-20T21:00:00Z")
    body = httpx.get(url, params={"types": "release", "application": app,
                                  "from": "2026-11-01", "to": "2026-12-01"}, timeout=30).text
    found = by_uid(body)
    assert f"release-{pk(mine)}@heatshield" in found
    assert f"release-{pk(other)}@heatshield" not in found
    assert all(u.startswith("release-") for u in found)
    bad = httpx.get(url, params={"types": "meetings"}, timeout=30)
    assert bad.status_code == 400 and "meetings" in bad.text


def test_a_feed_address_stops_working_when_revoked_or_replaced(hub: Hub) -> None:
    viewer = hub.client(Role.VIEWER)
    old = viewer.data(CREATE_FEED)["createCalendarFeed"]
    new = viewer.data(CREATE_FEED)["createCalendarFeed"]
    assert httpx.get(old["url"], timeout=30).status_code == 404
    assert httpx.get(new["url"], timeout=30).status_code == 200
    assert viewer.data("{ calendarFeed { prefix url } }")["calendarFeed"] == {
        "prefix": new["prefix"], "url": None}
    assert viewer.data(REVOKE_FEED)["revokeCalendarFeed"] is True
    assert httpx.get(new["url"], timeout=30).status_code == 404
    assert viewer.data("{ calendarFeed { prefix } }")["calendarFeed"] is None
    guessed = new["url"].rsplit("/", 1)[0] + "/hsf_" + "A" * 43 + ".ics"
    assert httpx.get(guessed, timeout=30).status_code == 404


# --- CSV -------------------------------------------------------------------------------------

def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def export(hub: Hub, name: str, **params: Any) -> httpx.Response:
    """The export as a viewer asks for it."""
    return httpx.get(f"{hub.url}/export/{name}.csv", params=params, timeout=60,
                     headers={"Authorization": f"Bearer {hub.tokens[Role.VIEWER]}"})


def test_the_releases_csv_has_the_rows_of_the_page_with_its_filters(hub: Hub) -> None:
    viewer = hub.client(Role.VIEWER)
    filters = {"status": ["PLANNED", "IN_PROGRESS"], "windowFrom": "2026-01-01T00:00:00Z"}
    page = viewer.data("""query($f: ReleaseFilter) { releases(filter: $f, first: 100) {
        totalCount nodes { key status } } }""", {"f": filters})["releases"]
    rows = csv_rows(export(hub, "releases", **filters))
    assert len(rows) == page["totalCount"] > 0
    assert [r["Key"] for r in rows][:len(page["nodes"])] == [n["key"] for n in page["nodes"]]
    assert {r["Status"] for r in rows} <= {"PLANNED", "IN_PROGRESS"}


def test_a_cell_that_looks_like_a_formula_is_exported_as_text(hub: Hub) -> None:
    rm = hub.client(Role.RELEASE_MANAGER)
    names = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2", "@SUM(A1)"]
    keys = [new_release(rm, name, "2031-05-01T00:00:00Z", "2031-05-02T00:00:00Z")[1]
            for name in names]
    rows = {r["Key"]: r for r in csv_rows(export(hub, "releases",
                                                 windowFrom="2031-04-30T00:00:00Z",
                                                 windowTo="2031-05-03T00:00:00Z"))}
    assert [rows[k]["Name"] for k in keys] == ["'" + n for n in names]


def test_change_request_bookings_work_item_and_conflict_csvs_follow_the_graph(hub: Hub) -> None:
    viewer = hub.client(Role.VIEWER)
    total = viewer.data("{ changeRequests(first: 1) { totalCount } }")["changeRequests"][
        "totalCount"]
    changes = csv_rows(export(hub, "change-requests"))
    assert len(changes) == total > 0
    assert {r["Source"] for r in changes} == {"servicenow", "remedy"}

    release = viewer.data("{ releases(first: 1) { nodes { key workItems { totalCount } } } }")[
        "releases"]["nodes"][0]
    items = csv_rows(export(hub, "work-items", release=release["key"]))
    assert len(items) == release["workItems"]["totalCount"]

    conflicts = viewer.data("""{ conflicts(from: "2026-10-01T00:00:00Z",
        to: "2027-01-01T00:00:00Z") { reason } }""")["conflicts"]
    exported = csv_rows(export(hub, "conflicts", **{"from": "2026-10-01T00:00:00Z",
                                                    "to": "2027-01-01T00:00:00Z"}))
    assert [r["Reason"] for r in exported] == [c["reason"] for c in conflicts]

    bookings = csv_rows(export(hub, "bookings", status="APPROVED"))
    assert all(r["Status"] == "APPROVED" for r in bookings)


def test_exports_need_a_signed_in_caller_and_say_what_was_wrong(hub: Hub) -> None:
    anonymous = httpx.get(f"{hub.url}/export/releases.csv", timeout=30)
    assert anonymous.status_code == 401
    assert export(hub, "payroll").status_code == 404
    missing = export(hub, "conflicts")  # from and to are required
    assert missing.status_code == 400 and "from" in missing.text
