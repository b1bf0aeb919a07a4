"""A team's remedy-py scripts run unchanged against the Remedy sandbox.

remedy-py logs in, reads, creates, updates and deletes entries and logs out;
it has no search call, so qualification searches use its token and base URL
with `requests`, as its users do. Everything is checked against the seeded
world the sandbox serves, over a real socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from remedy_py.RemedyAPIClient import RemedyClient

from connectors.remedy.sandbox.app import create_app
from connectors.remedy.sandbox.forms import (
    CAUSED_BY_FIELD,
    CHANGE_ID_OFFSET,
    ar_date,
    change_number,
    entry_id,
    incident_number,
)
from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_USER
from connectors.sandbox.world import World, build_world
from tests.support.server import serve_asgi

HELP_DESK = "HPD:Help Desk"
CHANGES = "CHG:Infrastructure Change"
WORLD = build_world(seed=11)
REMEDY_INCIDENTS = [i for i in WORLD.incidents if i.itsm == "remedy"]
REMEDY_CHANGES = [c for c in WORLD.change_requests if c.itsm == "remedy"]
STATUSES = {"new": "New", "in_progress": "In Progress", "on_hold": "Pending",
            "resolved": "Resolved", "closed": "Closed", "canceled": "Cancelled"}
PRIORITIES = {1: "Critical", 2: "High", 3: "Medium", 4: "Low"}


@pytest.fixture(scope="module")
def world() -> World:
    """A world of its own: the scenarios write, and other modules count records."""
    return build_world(seed=11)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[tuple[str, int]]:
    with serve_asgi(create_app(world)) as url:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        yield parts.hostname, parts.port


def login(server: tuple[str, int], password: str = DEMO_PASSWORD) -> RemedyClient:
    host, port = server
    return RemedyClient(host=host, port=port, username=DEMO_USER, password=password,
                        verify=False)


@pytest.fixture(scope="module")
def remedy(server: tuple[str, int]) -> RemedyClient:
    return login(server)


def search(remedy: RemedyClient, form: str, qualification: str, **params: str
           ) -> list[dict[str, Any]]:
    """Every entry matching, page after page, with the library's own token."""
    url: str | None = f"{remedy.base_url}/arsys/v1/entry/{form}"
    query: dict[str, str] | None = {"q": qualification, "limit": "10", **params}
    found: list[dict[str, Any]] = []
    while url:
        response = requests.get(url, params=query, headers=remedy.reqHeaders, timeout=10)
        response.raise_for_status()
        body = response.json()
        found += [entry["values"] for entry in body["entries"]]
        url = body["_links"].get("next", [{}])[0].get("href")
        query = None  # the next link carries the query
    return found


def incident_id(index: int) -> str:
    """Seeded incidents take Request IDs in the order they were opened."""
    return entry_id(index + 1)


# -- login and reading -----------------------------------------------------------------


def test_login_gives_an_ar_jwt_token(remedy: RemedyClient) -> None:
    assert remedy.reqHeaders["Authorization"].startswith("AR-JWT ")
    assert remedy.reqHeaders["Authorization"].count(".") == 2


def test_an_incident_reads_with_its_number_status_priority_and_dates(
        remedy: RemedyClient) -> None:
    incident = REMEDY_INCIDENTS[0]

    body, status = remedy.get_form_entry(HELP_DESK, incident_id(0))

    values = body["values"]
    assert status == 200
    assert values["Incident Number"] == incident_number(incident)
    assert values["Incident Number"].startswith("INC00000000")
    assert values["Status"] == STATUSES[incident.state]
    assert values["Priority"] == PRIORITIES[incident.priority]
    assert values["Submit Date"] == ar_date(incident.opened)
    assert values["Last Resolved Date"] == (ar_date(incident.resolved)
                                            if incident.resolved else None)
    assert values["Description"] == incident.title
    assert values["ServiceCI"] == WORLD.app(incident.app_key).ci_name


def test_an_incident_caused_by_a_change_names_it(remedy: RemedyClient) -> None:
    index, caused = next((n, i) for n, i in enumerate(REMEDY_INCIDENTS)
                         if i.caused_by is not None)
    change = next(c for c in REMEDY_CHANGES if c.seq == caused.caused_by)

    incident, _ = remedy.get_form_entry(HELP_DESK, incident_id(index))
    request_id = entry_id(change.seq - CHANGE_ID_OFFSET)
    cause, _ = remedy.get_form_entry(CHANGES, request_id)

    assert incident["values"][CAUSED_BY_FIELD] == change_number(change)
    assert cause["values"]["Infrastructure Change ID"] == change_number(change)
    assert caused.opened >= change.planned_end


def test_a_change_reads_by_its_request_id(remedy: RemedyClient) -> None:
    change = REMEDY_CHANGES[0]

    body, _ = remedy.get_form_entry(CHANGES, entry_id(change.seq - CHANGE_ID_OFFSET))

    assert body["values"]["Infrastructure Change ID"] == change_number(change)
    assert body["values"]["Description"] == change.title


# -- qualifications with the library's token ---------------------------------------------


def test_a_qualification_finds_the_incidents_of_one_service_in_a_date_range(
        remedy: RemedyClient) -> None:
    app = WORLD.app(REMEDY_INCIDENTS[0].app_key)
    since = WORLD.now - timedelta(days=90)

    found = search(remedy, HELP_DESK, f"'ServiceCI' = \"{app.ci_name}\" AND "
                                      f"'Submit Date' >= \"{ar_date(since)}\"")

    expected = {incident_number(i) for i in REMEDY_INCIDENTS
                if i.app_key == app.key and i.opened >= since}
    assert {v["Incident Number"] for v in found} == expected
    assert expected


def test_open_incidents_are_those_without_a_resolved_date(remedy: RemedyClient) -> None:
    found = search(remedy, HELP_DESK, "'Last Resolved Date' = $NULL$ AND "
                                      "'Status' != \"Cancelled\"")

    assert {v["Incident Number"] for v in found} == {
        incident_number(i) for i in REMEDY_INCIDENTS
        if i.resolved is None and i.state != "canceled"}


def test_incidents_caused_by_changes_are_found_by_their_change(remedy: RemedyClient) -> None:
    found = search(remedy, HELP_DESK, f"'{CAUSED_BY_FIELD}' != $NULL$",
                   fields=f"values(Incident Number,{CAUSED_BY_FIELD})")

    assert sorted((v["Incident Number"], v[CAUSED_BY_FIELD]) for v in found) == sorted(
        (incident_number(i), f"CRQ{i.caused_by:012d}") for i in REMEDY_INCIDENTS
        if i.caused_by is not None)


def test_changes_are_searched_by_status(remedy: RemedyClient) -> None:
    found = search(remedy, CHANGES, "'Change Request Status' = \"Closed\"")

    assert {v["Infrastructure Change ID"] for v in found} == {
        change_number(c) for c in REMEDY_CHANGES if c.stage == "closed"}


# -- writing ---------------------------------------------------------------------------


def test_an_incident_submitted_through_the_interface_form_lands_in_the_help_desk(
        remedy: RemedyClient, world: World) -> None:
    body, status = remedy.create_form_entry("HPD:IncidentInterface_Create", {
        "z1D_Action": "CREATE", "First_Name": "Ada", "Last_Name": "Lovelace",
        "Description": "Checkout returns 502", "Impact": "2-Significant/Large",
        "Urgency": "2-High", "Reported Source": "Direct Input",
        "Service_Type": "User Service Restoration"}, return_values=["Incident Number"])

    number = body["values"]["Incident Number"]
    [landed] = search(remedy, HELP_DESK, f"'Incident Number' = \"{number}\"")
    assert status == 201
    assert number > max(incident_number(i) for i in REMEDY_INCIDENTS)
    assert (landed["Status"], landed["Priority"]) == ("New", "High")
    assert landed["Submit Date"] >= ar_date(world.now)


def test_an_incident_submitted_to_the_help_desk_form_is_numbered_and_keeps_its_cause(
        remedy: RemedyClient) -> None:
    change = next(c for c in REMEDY_CHANGES if c.stage == "closed")

    body, status = remedy.create_form_entry(HELP_DESK, {
        "Description": "Stock counts off by one", "Impact": "3-Moderate/Limited",
        "Urgency": "3-Medium", "ServiceCI": WORLD.app(change.app_key).ci_name,
        CAUSED_BY_FIELD: change_number(change)},
        return_values=["Incident Number", "Status", "Priority", CAUSED_BY_FIELD])

    assert status == 201
    assert body["values"]["Incident Number"].startswith("INC")
    assert (body["values"]["Status"], body["values"]["Priority"]) == ("New", "Medium")
    found = search(remedy, HELP_DESK, f"'{CAUSED_BY_FIELD}' = \"{change_number(change)}\"")
    assert body["values"]["Incident Number"] in {v["Incident Number"] for v in found}


def test_resolving_an_incident_stamps_its_resolved_date(remedy: RemedyClient,
                                                        world: World) -> None:
    index = next(n for n, i in enumerate(REMEDY_INCIDENTS) if i.resolved is None)

    body, status = remedy.update_form_entry(HELP_DESK, incident_id(index),
                                            {"Status": "Resolved"})

    assert status == 204
    assert body["values"]["Status"] == "Resolved"
    assert body["values"]["Last Resolved Date"] >= ar_date(world.now)


def test_a_change_is_created_moved_along_the_flow_and_deleted(remedy: RemedyClient) -> None:
    body, status = remedy.create_form_entry("CHG:ChangeInterface_Create", {
        "z1D_Action": "CREATE", "First Name": "Ada", "Last Name": "Lovelace",
        "Description": "Deploy Checkout hotfix", "Impact": "3-Moderate/Limited",
        "Urgency": "3-Medium", "Company": WORLD.company, "Class": "Normal"},
        return_values=["Infrastructure Change Id"])
    number = body["values"]["Infrastructure Change Id"]
    [change] = search(remedy, CHANGES, f"'Infrastructure Change ID' = \"{number}\"")

    moved, _ = remedy.update_form_entry(CHANGES, change["Request ID"],
                                        {"Change Request Status": "Request For Authorization"})
    deleted = remedy.delete_form_entry(CHANGES, change["Request ID"])

    assert status == 201 and change["Change Request Status"] == "Draft"
    assert moved["values"]["Change Request Status"] == "Request For Authorization"
    assert deleted == ({}, 204)
    with pytest.raises(requests.HTTPError) as gone:
        remedy.get_form_entry(CHANGES, change["Request ID"])
    assert gone.value.response.status_code == 404


def test_a_jump_the_process_flow_forbids_is_refused(remedy: RemedyClient) -> None:
    draft = next(c for c in REMEDY_CHANGES if c.stage == "new")

    with pytest.raises(requests.HTTPError) as refused:
        remedy.update_form_entry(CHANGES, entry_id(draft.seq - CHANGE_ID_OFFSET),
                                 {"Change Request Status": "Closed"})

    assert refused.value.response.status_code == 500
    assert refused.value.response.json()[0]["messageNumber"] == 10000


# -- errors and logout -------------------------------------------------------------------


def test_a_wrong_password_fails_the_login(server: tuple[str, int]) -> None:
    with pytest.raises(requests.HTTPError) as refused:
        login(server, password="guess")

    assert refused.value.response.status_code == 401
    assert refused.value.response.json()[0]["messageNumber"] == 623


def test_an_unknown_entry_answers_404_with_the_ar_message(remedy: RemedyClient) -> None:
    with pytest.raises(requests.HTTPError) as missing:
        remedy.get_form_entry(HELP_DESK, "000000000099999")

    assert missing.value.response.status_code == 404
    assert missing.value.response.json()[0]["messageNumber"] == 302


def test_after_logout_the_token_is_refused(server: tuple[str, int]) -> None:
    session = login(server)

    answer, status = session.release_token()

    assert (answer, status) == ({}, 204)
    with pytest.raises(requests.HTTPError) as refused:
        session.get_form_entry(HELP_DESK, incident_id(0))
    assert refused.value.response.status_code == 401
