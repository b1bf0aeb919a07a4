"""A team's pysnow scripts run unchanged against the ServiceNow sandbox.

Every call goes through pysnow (Basic auth, and OAuth with a token), over a
real socket; what comes back is checked against the seeded world the
sandbox serves, so a filter the sandbox ignored or a page it got wrong fails.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

with warnings.catch_warnings():
    # Without the libmagic system library pysnow warns and sends text/plain, which
    # the scenarios below accept too.
    warnings.filterwarnings("ignore", "Missing the python-magic library", UserWarning)
    import pysnow
    from pysnow.exceptions import NoResults, TokenCreateError

from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_USER
from connectors.sandbox.world import World, build_world
from connectors.servicenow.sandbox.app import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    change_number,
    create_app,
    incident_number,
)
from tests.support.server import serve_asgi

STAMP = "%Y-%m-%d %H:%M:%S"
WORLD = build_world(seed=11)
SN_INCIDENTS = [i for i in WORLD.incidents if i.itsm == "servicenow"]
SN_CHANGES = [c for c in WORLD.change_requests if c.itsm == "servicenow"]


@pytest.fixture(scope="module")
def world() -> World:
    """A world of its own: the scenarios write, and other modules count records."""
    return build_world(seed=11)


@pytest.fixture(scope="module")
def host(world: World) -> Iterator[str]:
    with serve_asgi(create_app(world)) as url:
        yield url.removeprefix("http://")


@pytest.fixture(scope="module")
def client(host: str) -> pysnow.Client:
    return pysnow.Client(host=host, user=DEMO_USER, password=DEMO_PASSWORD, use_ssl=False)


def records(response: Any) -> list[dict[str, Any]]:
    return list(response.all())


def numbers(response: Any) -> list[str]:
    return [row["number"] for row in records(response)]


def incidents_opened(start: datetime, end: datetime) -> set[str]:
    return {incident_number(i) for i in SN_INCIDENTS if start <= i.opened <= end}


# -- a CAB member's approvals -----------------------------------------------------------


def test_a_cab_member_approves_what_waits_for_them_and_the_change_is_scheduled(
        client: pysnow.Client) -> None:
    waiting = next(c for c in SN_CHANGES if c.stage == "authorize" and c.approval == "requested")
    approvals = client.resource(api_path="/table/sysapproval_approver")
    changes = client.resource(api_path="/table/change_request")

    mine = records(approvals.get(query={"sysapproval.number": change_number(waiting),
                                        "state": "requested"}))
    assert len(mine) == 2
    for approval in mine:
        approvals.update(query={"sys_id": approval["sys_id"]},
                         payload={"state": "approved", "comments": "Fine by the CAB"})

    change = changes.get(query={"number": change_number(waiting)}).one()
    assert (change["state"], change["approval"]) == ("-2", "approved")
    assert records(approvals.get(query={"sysapproval.number": change_number(waiting),
                                        "state": "requested"})) == []


# -- reading with Basic auth -----------------------------------------------------------


def test_every_servicenow_change_of_the_world_comes_back(client: pysnow.Client) -> None:
    changes = client.resource(api_path="/table/change_request")

    assert sorted(numbers(changes.get(query={}))) == sorted(map(change_number, SN_CHANGES))


def test_every_servicenow_incident_comes_back_with_its_state_and_priority(
        client: pysnow.Client) -> None:
    rows = records(client.resource(api_path="/table/incident").get(
        query={}, fields=["number", "state", "priority", "active"]))

    by_number = {row["number"]: row for row in rows}
    assert set(by_number) == {incident_number(i) for i in SN_INCIDENTS}
    states = {"new": "1", "in_progress": "2", "on_hold": "3", "resolved": "6", "closed": "7",
              "canceled": "8"}
    for incident in SN_INCIDENTS:
        row = by_number[incident_number(incident)]
        assert row["state"] == states[incident.state]
        assert row["priority"] == str(incident.priority)
        assert row["active"] == ("true" if incident.resolved is None
                                 and incident.state != "canceled" else "false")


def test_an_incident_names_the_change_it_was_caused_by(client: pysnow.Client) -> None:
    caused = next(i for i in SN_INCIDENTS if i.caused_by is not None)
    incidents = client.resource(api_path="/table/incident")
    changes = client.resource(api_path="/table/change_request")

    incident = incidents.get(query={"number": incident_number(caused)}).one()
    change = changes.get(query={"sys_id": incident["caused_by"]["value"]}).one()

    assert change["number"] == f"CHG{caused.caused_by:07d}"
    assert incident["caused_by"]["link"].endswith(
        f"/api/now/table/change_request/{change['sys_id']}")


def test_the_business_services_are_the_applications(client: pysnow.Client) -> None:
    services = records(client.resource(api_path="/table/cmdb_ci_service").get(
        query={}, display_value=True))

    assert sorted(s["name"] for s in services) == sorted(a.ci_name for a in WORLD.applications)
    assert {s["sys_class_name"] for s in services} == {"cmdb_ci_service"}
    assert {s["service_classification"] for s in services} == {"Business Service"}


def test_incidents_point_at_their_service_through_cmdb_ci(client: pysnow.Client) -> None:
    app = next(a for a in WORLD.applications
               if any(i.app_key == a.key for i in SN_INCIDENTS))
    service = client.resource(api_path="/table/cmdb_ci_service").get(
        query={"name": app.ci_name}).one()
    base_view = client.resource(api_path="/table/cmdb_ci").get(
        query={"sys_id": service["sys_id"]}).one()

    found = numbers(client.resource(api_path="/table/incident").get(
        query={"cmdb_ci": service["sys_id"]}))

    assert base_view["name"] == app.ci_name
    assert sorted(found) == sorted(incident_number(i) for i in SN_INCIDENTS
                                   if i.app_key == app.key)


# -- date ranges, as QueryBuilder and the list UI write them ---------------------------


def test_a_querybuilder_date_range_returns_the_incidents_opened_in_it(
        client: pysnow.Client) -> None:
    start, end = WORLD.now - timedelta(days=90), WORLD.now - timedelta(days=30)
    query = pysnow.QueryBuilder().field("opened_at").between(start, end)

    found = numbers(client.resource(api_path="/table/incident").get(query=query))

    assert set(found) == incidents_opened(start, end)
    assert found  # the range holds incidents, so an ignored filter could not pass


def test_querybuilder_comparisons_with_datetimes_narrow_too(client: pysnow.Client) -> None:
    since = WORLD.now - timedelta(days=45)
    query = (pysnow.QueryBuilder().field("opened_at").greater_than(since)
             .AND().field("priority").less_than_or_equal(3))

    found = numbers(client.resource(api_path="/table/incident").get(query=query))

    assert set(found) == {incident_number(i) for i in SN_INCIDENTS
                          if i.opened > since and i.priority <= 3}


def test_relative_dates_are_read_against_the_world_clock(client: pysnow.Client) -> None:
    start_of_day = (WORLD.now - timedelta(days=30)).replace(hour=0, minute=0, second=0)

    found = numbers(client.resource(api_path="/table/incident").get(
        query="opened_at>=javascript:gs.daysAgoStart(30)"))
    on_query = numbers(client.resource(api_path="/table/incident").get(
        query="opened_atONLast 30 days@javascript:gs.daysAgoStart(30)"
              "@javascript:gs.endOfToday()"))

    expected = incidents_opened(start_of_day, WORLD.now + timedelta(days=1))
    assert set(found) == set(on_query) == expected
    assert found


def test_a_date_generated_with_separate_date_and_time_is_a_bound(client: pysnow.Client) -> None:
    day = (WORLD.now - timedelta(days=60)).strftime("%Y-%m-%d")

    found = numbers(client.resource(api_path="/table/incident").get(
        query=f"opened_at<javascript:gs.dateGenerate('{day}','00:00:00')"))

    bound = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    assert set(found) == {incident_number(i) for i in SN_INCIDENTS if i.opened < bound}


def test_an_unknown_script_function_is_refused_by_name(client: pysnow.Client) -> None:
    with pytest.raises(requests.HTTPError) as refused:
        records(client.resource(api_path="/table/incident").get(
            query="opened_at>javascript:gs.eraseEverything()"))

    assert refused.value.response.status_code == 400
    assert "eraseEverything" in refused.value.response.json()["error"]["detail"]


# -- paging ----------------------------------------------------------------------------


def test_limit_and_offset_page_through_every_incident_once(client: pysnow.Client) -> None:
    incidents = client.resource(api_path="/table/incident")
    ordered = "ORDERBYnumber"
    pages = [numbers(incidents.get(query=ordered, limit=7, offset=offset))
             for offset in range(0, len(SN_INCIDENTS) + 7, 7)]

    flat = [number for page in pages for number in page]
    assert flat == sorted(incident_number(i) for i in SN_INCIDENTS)
    assert all(len(page) == 7 for page in pages[:-2])


def test_a_streamed_read_yields_every_record(client: pysnow.Client) -> None:
    response = client.resource(api_path="/table/incident").get(query={}, stream=True)

    streamed = [row["number"] for row in response.all()]

    assert sorted(streamed) == sorted(incident_number(i) for i in SN_INCIDENTS)
    assert response.count == len(SN_INCIDENTS)


def test_first_of_a_stream_is_the_first_in_order(client: pysnow.Client) -> None:
    response = client.resource(api_path="/table/incident").get(
        query="ORDERBYDESCopened_at", stream=True)

    newest = max(SN_INCIDENTS, key=lambda i: i.opened)
    assert response.first()["number"] == incident_number(newest)


# -- writing ---------------------------------------------------------------------------


def test_an_incident_is_created_updated_and_deleted(client: pysnow.Client,
                                                    world: World) -> None:
    incidents = client.resource(api_path="/table/incident")
    service = client.resource(api_path="/table/cmdb_ci_service").get(
        query={"name": WORLD.applications[0].ci_name}).one()

    created = incidents.create(payload={
        "short_description": "Card payments declined", "impact": "1", "urgency": "1",
        "cmdb_ci": service["sys_id"]}).one()
    resolved = incidents.update(query={"number": created["number"]},
                                payload={"state": "6", "close_notes": "Rolled back"}).one()
    deleted = incidents.delete(query={"number": created["number"]})

    assert created["number"] > max(incident_number(i) for i in SN_INCIDENTS)
    assert (created["state"], created["priority"]) == ("1", "1")
    assert created["opened_at"] >= world.now.strftime(STAMP)
    assert (resolved["state"], resolved["incident_state"], resolved["active"]) == (
        "6", "6", "false")
    assert resolved["resolved_at"] >= created["opened_at"]
    assert deleted == {"status": "record deleted"}
    with pytest.raises(NoResults):
        incidents.get(query={"number": created["number"]}).one()


def test_a_fetched_record_updates_itself(client: pysnow.Client) -> None:
    incidents = client.resource(api_path="/table/incident")
    created = incidents.create(payload={"short_description": "Slow search"}).one()

    response = incidents.get(query={"sys_id": created["sys_id"]})
    updated = response.update({"urgency": "2", "short_description": "Very slow search"}).one()

    assert updated["short_description"] == "Very slow search"
    assert int(updated["sys_mod_count"]) == int(created["sys_mod_count"]) + 1


# -- attachments -----------------------------------------------------------------------

#: pysnow reads the file to upload without closing it; the warning is the library's.
LEAKS_THE_FILE = pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*FileIO:pytest.PytestUnraisableExceptionWarning")


@LEAKS_THE_FILE

def test_a_file_attached_to_an_incident_is_listed_and_downloads_unchanged(
        client: pysnow.Client, tmp_path: Path) -> None:
    incidents = client.resource(api_path="/table/incident")
    record = incidents.get(query={"number": incident_number(SN_INCIDENTS[0])}).one()
    log = tmp_path / "payments-errors.log"
    log.write_text("12:00:01 ERROR settlement batch timed out\n")

    uploaded = incidents.attachments.upload(record["sys_id"], str(log)).one()
    listed = list(incidents.attachments.get(record["sys_id"]))
    content = client.session.get(uploaded["download_link"])

    assert [a["file_name"] for a in listed] == ["payments-errors.log"]
    assert (uploaded["table_name"], uploaded["table_sys_id"]) == ("incident", record["sys_id"])
    assert uploaded["size_bytes"] == str(log.stat().st_size)
    assert content.status_code == 200
    assert content.content == log.read_bytes()
    assert content.headers["content-type"].startswith("text/plain")


def test_a_multipart_upload_attaches_the_file_part(client: pysnow.Client, host: str) -> None:
    """pysnow's own multipart mode sends no boundary; scripts post the form with its session
    (dropping the session's JSON content type, so requests writes the multipart one)."""
    incidents = client.resource(api_path="/table/incident")
    record = incidents.get(query={"number": incident_number(SN_INCIDENTS[1])}).one()

    answer = client.session.post(
        f"http://{host}/api/now/attachment/upload",
        data={"table_name": "incident", "table_sys_id": record["sys_id"]},
        files={"uploadFile": ("trace.json", b'{"span": 1}', "application/json")},
        headers={"Content-Type": None})

    assert answer.status_code == 201
    assert answer.json()["result"]["content_type"] == "application/json"
    assert [a["file_name"] for a in incidents.attachments.get(record["sys_id"])] == [
        "trace.json"]


@LEAKS_THE_FILE
def test_an_attachment_is_deleted_through_the_attachment_api(client: pysnow.Client,
                                                             tmp_path: Path) -> None:
    incidents = client.resource(api_path="/table/incident")
    record = incidents.create(payload={"short_description": "Screenshot attached"}).one()
    picture = tmp_path / "screen.txt"
    picture.write_text("not really a picture")
    uploaded = incidents.attachments.upload(record["sys_id"], str(picture)).one()

    incidents.attachments.delete(uploaded["sys_id"])

    assert list(incidents.attachments.get(record["sys_id"])) == []


@LEAKS_THE_FILE
def test_an_attachment_for_a_record_that_does_not_exist_is_refused(client: pysnow.Client,
                                                                   tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("orphan")
    incidents = client.resource(api_path="/table/incident")

    with pytest.raises(requests.HTTPError) as refused:
        incidents.attachments.upload("0" * 32, str(note)).one()

    assert refused.value.response.status_code == 400


# -- the Aggregate API (pysnow has no helper: a resource on /stats) ----------------------


def test_stats_count_incidents_per_priority(client: pysnow.Client) -> None:
    stats = client.resource(api_path="/stats/incident")
    stats.parameters.add_custom({"sysparm_count": "true", "sysparm_group_by": "priority"})

    groups = records(stats.get(query="active=false"))

    counted = {g["groupby_fields"][0]["value"]: int(g["stats"]["count"]) for g in groups}
    expected = Counter(str(i.priority) for i in SN_INCIDENTS
                       if i.resolved is not None or i.state == "canceled")
    assert counted == dict(expected)


def test_stats_count_a_date_range_without_grouping(client: pysnow.Client) -> None:
    stats = client.resource(api_path="/stats/incident")
    stats.parameters.add_custom({"sysparm_count": "true"})
    start, end = WORLD.now - timedelta(days=120), WORLD.now
    # Only the seeded incidents: other scenarios of this module create some as they run.
    query = (pysnow.QueryBuilder().field("opened_at").between(start, end)
             .AND().field("sys_created_by").not_equals(DEMO_USER))

    [answer] = records(stats.get(query=query))

    assert answer == {"stats": {"count": str(len(incidents_opened(start, end)))}}


def test_stats_group_by_service_keep_groups_having_enough_and_give_min_and_max(
        client: pysnow.Client) -> None:
    stats = client.resource(api_path="/stats/incident")
    stats.parameters.add_custom({
        "sysparm_count": "true", "sysparm_group_by": "cmdb_ci", "sysparm_display_value": "true",
        "sysparm_min_fields": "priority", "sysparm_max_fields": "priority",
        "sysparm_having": "count^cmdb_ci^>^5"})

    groups = records(stats.get(query={}))

    by_service = {g["groupby_fields"][0]["display_value"]: g["stats"] for g in groups}
    per_app: dict[str, list[int]] = {}
    for incident in SN_INCIDENTS:
        per_app.setdefault(WORLD.app(incident.app_key).ci_name, []).append(incident.priority)
    assert by_service == {name: {"count": str(len(p)), "min": {"priority": str(min(p))},
                                 "max": {"priority": str(max(p))}}
                          for name, p in per_app.items() if len(p) > 5}
    assert by_service  # the busy services pass the bar


def test_stats_refuse_a_group_by_field_the_table_lacks(client: pysnow.Client) -> None:
    stats = client.resource(api_path="/stats/incident")
    stats.parameters.add_custom({"sysparm_count": "true", "sysparm_group_by": "u_nothing"})

    with pytest.raises(requests.HTTPError) as refused:
        records(stats.get(query={}))

    assert refused.value.response.status_code == 400


# -- OAuth -----------------------------------------------------------------------------


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox listens on plain HTTP; oauthlib refuses that unless told it is local."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.mark.usefixtures("insecure_transport")
def test_an_oauth_client_gets_a_token_and_reads_with_it(host: str) -> None:
    oauth = pysnow.OAuthClient(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                               host=host, use_ssl=False)

    token = oauth.generate_token(DEMO_USER, DEMO_PASSWORD)
    oauth.set_token(token)
    services = records(oauth.resource(api_path="/table/cmdb_ci_service").get(query={}))

    assert token["token_type"] == "Bearer" and token["refresh_token"]
    assert len(services) == len(WORLD.applications)


@pytest.mark.usefixtures("insecure_transport")
@pytest.mark.parametrize(("client_id", "client_secret"), [
    (DEMO_CLIENT_ID, "not-the-secret"), ("someone-elses-app", DEMO_CLIENT_SECRET)])
def test_an_unknown_oauth_client_gets_no_token(host: str, client_id: str,
                                               client_secret: str) -> None:
    oauth = pysnow.OAuthClient(client_id=client_id, client_secret=client_secret, host=host,
                               use_ssl=False)

    with pytest.raises(TokenCreateError):
        oauth.generate_token(DEMO_USER, DEMO_PASSWORD)


# -- errors ----------------------------------------------------------------------------


def test_a_wrong_password_is_refused_with_401(host: str) -> None:
    intruder = pysnow.Client(host=host, user=DEMO_USER, password="guess", use_ssl=False)

    with pytest.raises(requests.HTTPError) as refused:
        records(intruder.resource(api_path="/table/incident").get(query={}))

    assert refused.value.response.status_code == 401
    assert refused.value.response.json()["error"]["message"] == "User Not Authenticated"


def test_an_unknown_record_is_no_result(client: pysnow.Client) -> None:
    incidents = client.resource(api_path="/table/incident")

    with pytest.raises(NoResults):
        incidents.get(query={"number": "INC9999999"}).one()
    with pytest.raises(NoResults):
        incidents.update(query={"number": "INC9999999"}, payload={"state": "2"})


def test_an_unknown_table_answers_404_with_the_instance_error(client: pysnow.Client) -> None:
    with pytest.raises(requests.HTTPError) as refused:
        records(client.resource(api_path="/table/u_no_such_table").get(query={}))

    assert refused.value.response.status_code == 404
    assert refused.value.response.json()["status"] == "failure"
