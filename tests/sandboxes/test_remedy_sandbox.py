"""The Remedy sandbox speaks the AR System REST API as a Remedy connector meets it.

Every test talks to a real uvicorn server over loopback with a plain httpx
client. The reference tests at the end hold the sandbox's answers against
responses recorded from a real Remedy server (in `../shared`; they skip
without it); tests/sandboxes/test_contracts.py holds them to the project's
own contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from connectors.remedy.sandbox.app import create_app
from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_USER
from connectors.sandbox.world import build_world
from tests.support.paths import FIXTURES
from tests.support.server import serve_asgi

CHANGES = "/api/arsys/v1/entry/CHG:Infrastructure%20Change"
CREATE = "/api/arsys/v1/entry/CHG:ChangeInterface_Create"
REMEDY_FIXTURES = FIXTURES / "bmc-remedy" / "demisto-content"

Values = dict[str, Any]


class FakeClock:
    """Lets a test move time forward to expire tokens without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def base_url(clock: FakeClock) -> Iterator[str]:
    with serve_asgi(create_app(token_ttl_seconds=3600, clock=clock)) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def login(http: httpx.Client, username: str = DEMO_USER, password: str = DEMO_PASSWORD
          ) -> httpx.Response:
    return http.post("/api/jwt/login", data={"username": username, "password": password})


@pytest.fixture
def auth(http: httpx.Client) -> dict[str, str]:
    response = login(http)
    assert response.status_code == 200
    return {"Authorization": f"AR-JWT {response.text}"}


def search(http: httpx.Client, auth: dict[str, str], **params: str | int) -> httpx.Response:
    return http.get(CHANGES, params=params, headers=auth)


def all_changes(http: httpx.Client, auth: dict[str, str]) -> list[Values]:
    response = search(http, auth, limit=1000)
    assert response.status_code == 200
    return [entry["values"] for entry in response.json()["entries"]]


def assert_ar_error(response: httpx.Response, status: int, number: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    message = body[0]
    assert set(message) == {"messageType", "messageNumber", "messageText", "messageAppendedText"}
    assert message["messageType"] == "ERROR"
    assert message["messageNumber"] == number
    assert isinstance(message["messageText"], str)
    return dict(message)


NEW_CHANGE: Values = {
    "z1D_Action": "CREATE", "First Name": "Ada", "Last Name": "Lovelace",
    "Description": "Deploy Payments 2026.12 to production",
    "Detailed Description": "Release PAY-2026.12", "Impact": "3-Moderate/Limited",
    "Urgency": "3-Medium", "Status": "Draft", "Class": "Normal", "Change Type": "Change",
    "Risk Level": "Risk Level 2", "Company": "Acme Retail", "Location Company": "Acme Retail",
    "Scheduled Start Date": "2026-12-15T20:00:00.000+0000",
    "Scheduled End Date": "2026-12-15T22:00:00.000+0000",
}


def create_change(http: httpx.Client, auth: dict[str, str], **extra: object) -> Values:
    """Create through the interface form and return the change record it made."""
    created = http.post(CREATE, json={"values": {**NEW_CHANGE, **extra}}, headers=auth)
    assert created.status_code == 201, created.text
    interface = http.get(created.headers["Location"], headers=auth).json()["values"]
    number = interface["Infrastructure Change Id"]
    found = search(http, auth, q=f"'Infrastructure Change ID' = \"{number}\"").json()["entries"]
    assert len(found) == 1
    return dict(found[0]["values"])


def put_status(http: httpx.Client, auth: dict[str, str], request_id: str, status: str,
               reason: str | None = None) -> httpx.Response:
    values: Values = {"Change Request Status": status}
    if reason is not None:
        values["Status Reason"] = reason
    return http.put(f"{CHANGES}/{request_id}", json={"values": values}, headers=auth)


# --- login, logout, token expiry -----------------------------------------------

def test_login_with_form_encoded_credentials_returns_the_token_as_plain_text(
        http: httpx.Client) -> None:
    response = login(http)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.count(".") == 2  # a JWT, not JSON
    listed = search(http, {"Authorization": f"AR-JWT {response.text}"}, limit=1)
    assert listed.status_code == 200


def test_login_with_a_wrong_password_is_refused_with_error_623_naming_the_user(
        http: httpx.Client) -> None:
    message = assert_ar_error(login(http, password="nope"), 401, 623)
    assert message["messageText"] == "Authentication failed"
    assert message["messageAppendedText"] == DEMO_USER


@pytest.mark.parametrize("header", [None, "Bearer {token}", "AR-JWT not-a-token", "{token}"])
def test_entry_calls_need_a_valid_ar_jwt_authorization(
        http: httpx.Client, auth: dict[str, str], header: str | None) -> None:
    token = auth["Authorization"].split(" ", 1)[1]
    headers = {} if header is None else {"Authorization": header.format(token=token)}
    assert_ar_error(http.get(CHANGES, headers=headers), 401, 623)


def test_logout_answers_204_and_the_token_stops_working(
        http: httpx.Client, auth: dict[str, str]) -> None:
    assert http.post("/api/jwt/logout", headers=auth).status_code == 204
    assert_ar_error(search(http, auth), 401, 623)


def test_a_token_expires_after_its_ttl_and_a_new_login_renews_access(
        http: httpx.Client, auth: dict[str, str], clock: FakeClock) -> None:
    clock.now += 3599
    assert search(http, auth, limit=1).status_code == 200
    clock.now += 2
    assert_ar_error(search(http, auth, limit=1), 401, 623)
    renewed = {"Authorization": f"AR-JWT {login(http).text}"}
    assert search(http, renewed, limit=1).status_code == 200


# --- listing and pagination -------------------------------------------------------

def test_paging_follows_links_next_to_the_end_and_the_last_page_has_none(
        http: httpx.Client, auth: dict[str, str]) -> None:
    every = all_changes(http, auth)
    seen: list[str] = []
    url: str | None = f"{str(http.base_url).rstrip('/')}{CHANGES}?limit=5"
    pages = 0
    while url is not None:
        body = http.get(url, headers=auth).json()
        pages += 1
        seen += [entry["values"]["Request ID"] for entry in body["entries"]]
        assert isinstance(body["_links"]["self"][0]["href"], str)
        url = body["_links"]["next"][0]["href"] if "next" in body["_links"] else None
    assert seen == [values["Request ID"] for values in every]
    assert pages == -(-len(every) // 5)
    assert len(set(seen)) == len(seen)


def test_the_default_page_holds_100_entries() -> None:
    with serve_asgi(create_app(scale=8)) as url, httpx.Client(base_url=url) as client:
        headers = {"Authorization": f"AR-JWT {login(client).text}"}
        body = client.get(CHANGES, headers=headers).json()
    assert len(body["entries"]) == 100
    assert "offset=100" in body["_links"]["next"][0]["href"]


def test_entries_link_to_themselves_by_request_id_which_differs_from_the_change_number(
        http: httpx.Client, auth: dict[str, str]) -> None:
    for entry in search(http, auth).json()["entries"]:
        values = entry["values"]
        assert entry["_links"]["self"][0]["href"].endswith(
            f"/entry/CHG:Infrastructure%20Change/{values['Request ID']}")
        assert len(values["Request ID"]) == 15 and values["Request ID"].isdigit()
        assert values["Infrastructure Change ID"].startswith("CRQ")
        assert values["Request ID"] != values["Infrastructure Change ID"]


def test_get_one_entry_by_request_id(http: httpx.Client, auth: dict[str, str]) -> None:
    first = all_changes(http, auth)[0]
    response = http.get(f"{CHANGES}/{first['Request ID']}", headers=auth)
    assert response.status_code == 200
    assert response.json()["values"] == first


def test_an_unknown_entry_answers_404_with_error_302(
        http: httpx.Client, auth: dict[str, str]) -> None:
    message = assert_ar_error(http.get(f"{CHANGES}/000000000999999", headers=auth), 404, 302)
    assert message["messageAppendedText"] == "000000000999999"


# --- qualifications -----------------------------------------------------------

Check = Callable[[Values], bool]
QUALIFICATIONS: list[tuple[str, Check]] = [
    ("'Change Request Status' = \"Closed\"", lambda v: v["Change Request Status"] == "Closed"),
    ("'Change Request Status' = 11", lambda v: v["Change Request Status"] == "Closed"),
    ("'Change Request Status' != \"Closed\"", lambda v: v["Change Request Status"] != "Closed"),
    ("'Change Request Status' < \"Scheduled\"",
     lambda v: v["Change Request Status"] in ("Draft", "Request For Authorization",
                                              "Request For Change", "Planning In Progress",
                                              "Scheduled For Review", "Scheduled For Approval")),
    ("'Scheduled Start Date' > \"2026-11-01T00:00:00.000+0000\"",
     lambda v: v["Scheduled Start Date"] > "2026-11-01T00:00:00.000+0000"),
    ("'Scheduled Start Date' >= \"2026-11-15T20:00:00.000+0000\"",
     lambda v: v["Scheduled Start Date"] >= "2026-11-15T20:00:00.000+0000"),
    ("'Scheduled Start Date' <= \"2026-09-20T00:00:00.000+0000\"",
     lambda v: v["Scheduled Start Date"] <= "2026-09-20T00:00:00.000+0000"),
    ("'Description' LIKE \"Patch%\"", lambda v: v["Description"].startswith("Patch")),
    ("'Description' LIKE \"%Checkout%production\"",
     lambda v: "Checkout" in v["Description"] and v["Description"].endswith("production")),
    ("'Status Reason' = $NULL$", lambda v: v["Status Reason"] is None),
    ("'Status Reason' != $NULL$", lambda v: v["Status Reason"] is not None),
    ("'Change Request Status' = \"Closed\" AND 'Class' = \"Normal\"",
     lambda v: v["Change Request Status"] == "Closed" and v["Class"] == "Normal"),
    ("'Change Request Status' = \"Pending\" OR 'Change Request Status' = \"Rejected\"",
     lambda v: v["Change Request Status"] in ("Pending", "Rejected")),
    ("('Change Request Status' = \"Closed\" OR 'Change Request Status' = \"Cancelled\") "
     "AND 'Class' != \"Normal\"",
     lambda v: v["Change Request Status"] in ("Closed", "Cancelled") and v["Class"] != "Normal"),
    ("'Change Request Status' = \"Closed\" OR ('Change Request Status' = \"Cancelled\" "
     "AND 'Class' != \"Normal\")",
     lambda v: v["Change Request Status"] == "Closed"
     or (v["Change Request Status"] == "Cancelled" and v["Class"] != "Normal")),
    ("NOT 'Change Request Status' = \"Closed\"", lambda v: v["Change Request Status"] != "Closed"),
    ("'Change Request Status' >= 10",
     lambda v: v["Change Request Status"] in ("Completed", "Closed", "Cancelled")),
    ("'Actual Start Date' = 'Scheduled Start Date'",
     lambda v: v["Actual Start Date"] == v["Scheduled Start Date"]),
]


@pytest.mark.parametrize(("qualification", "expected"), QUALIFICATIONS,
                         ids=[q for q, _ in QUALIFICATIONS])
def test_qualification_selects_exactly_the_matching_changes(
        http: httpx.Client, auth: dict[str, str], qualification: str, expected: Check) -> None:
    every = all_changes(http, auth)
    wanted = [v["Request ID"] for v in every if expected(v)]
    assert 0 < len(wanted) < len(every)  # the case discriminates
    response = search(http, auth, q=qualification, limit=1000)
    assert response.status_code == 200, response.text
    assert [e["values"]["Request ID"] for e in response.json()["entries"]] == wanted


def test_like_matches_the_whole_value_not_a_part_of_it(
        http: httpx.Client, auth: dict[str, str]) -> None:
    assert search(http, auth, q="'Description' LIKE \"Deploy%\"").json()["entries"]
    assert search(http, auth, q="'Description' LIKE \"Deploy\"").json()["entries"] == []
    assert search(http, auth, q="'Description' LIKE \"%production_\"").json()["entries"] == []


def test_a_malformed_qualification_is_refused_with_error_1588(
        http: httpx.Client, auth: dict[str, str]) -> None:
    assert_ar_error(search(http, auth, q="'Description' = \"unterminated"), 400, 1588)
    assert_ar_error(search(http, auth, q="'Change Request Status' = \"Nonsense\""), 400, 1588)


def test_a_qualification_on_an_unknown_field_is_refused_with_error_314(
        http: httpx.Client, auth: dict[str, str]) -> None:
    message = assert_ar_error(search(http, auth, q="'Risk Levle' = \"Risk Level 1\""), 400, 314)
    assert "Risk Levle" in message["messageAppendedText"]


# --- fields and sort --------------------------------------------------------------

def test_fields_values_limits_each_entry_to_the_named_fields(
        http: httpx.Client, auth: dict[str, str]) -> None:
    wanted = "values(Infrastructure Change ID,Change Request Status)"
    body = search(http, auth, fields=wanted).json()
    assert body["entries"]
    for entry in body["entries"]:
        assert list(entry["values"]) == ["Infrastructure Change ID", "Change Request Status"]
    assert_ar_error(search(http, auth, fields="values(Nope)"), 400, 314)


def test_sort_orders_by_a_date_descending_and_by_enum_number(
        http: httpx.Client, auth: dict[str, str]) -> None:
    starts = [e["values"]["Scheduled Start Date"] for e in
              search(http, auth, sort="Scheduled Start Date.desc").json()["entries"]]
    assert starts == sorted(starts, reverse=True) and starts != sorted(starts)
    order = ["Draft", "Request For Authorization", "Request For Change", "Planning In Progress",
             "Scheduled For Review", "Scheduled For Approval", "Scheduled",
             "Implementation In Progress", "Pending", "Rejected", "Completed", "Closed",
             "Cancelled"]
    statuses = [e["values"]["Change Request Status"] for e in
                search(http, auth, sort="Change Request Status.asc").json()["entries"]]
    assert statuses == sorted(statuses, key=order.index)


# --- the demo world as Remedy records ------------------------------------------

def test_world_stages_map_to_remedy_status_and_status_reason(
        http: httpx.Client, auth: dict[str, str]) -> None:
    by_number = {v["Infrastructure Change ID"]: v for v in all_changes(http, auth)}
    world = [c for c in build_world(7).change_requests if c.itsm == "remedy"]
    assert len(by_number) == len(world)
    expected = {"on_hold": ("Pending", True), "rejected": ("Rejected", False),
                "closed": ("Closed", True), "canceled": ("Cancelled", True),
                "new": ("Draft", False), "scheduled": ("Scheduled", False),
                "implement": ("Implementation In Progress", False)}
    for change in world:
        values = by_number[f"CRQ{change.seq:012d}"]
        assert values["Scheduled Start Date"].endswith(".000+0000")
        if change.stage in expected:
            status, has_reason = expected[change.stage]
            assert values["Change Request Status"] == status
            assert (values["Status Reason"] is not None) == has_reason


# --- create through the interface form ---------------------------------------

def test_create_through_the_interface_form_then_read_back_the_change_id(
        http: httpx.Client, auth: dict[str, str]) -> None:
    created = http.post(CREATE, json={"values": NEW_CHANGE}, headers=auth)
    assert created.status_code == 201
    assert created.content == b""
    location = created.headers["Location"]
    assert location.startswith(f"{str(http.base_url).rstrip('/')}{CREATE}/")
    interface = http.get(location, headers=auth)
    number = interface.json()["values"]["Infrastructure Change Id"]
    assert number.startswith("CRQ")
    found = search(http, auth, q=f"'Infrastructure Change ID' = \"{number}\"").json()["entries"]
    assert len(found) == 1
    change = found[0]["values"]
    assert change["Change Request Status"] == "Draft"
    assert change["Description"] == NEW_CHANGE["Description"]
    assert change["Scheduled Start Date"] == "2026-12-15T20:00:00.000+0000"
    assert change["Request ID"] != number


def test_create_with_fields_returns_those_values_in_the_201_body(
        http: httpx.Client, auth: dict[str, str]) -> None:
    response = http.post(CREATE, params={"fields": "values(Infrastructure Change Id,Create Date)"},
                         json={"values": NEW_CHANGE}, headers=auth)
    assert response.status_code == 201
    values = response.json()["values"]
    assert set(values) == {"Infrastructure Change Id", "Create Date"}
    assert values["Create Date"].endswith(".000+0000")


def test_create_without_a_required_field_is_refused_with_error_326(
        http: httpx.Client, auth: dict[str, str]) -> None:
    values = {k: v for k, v in NEW_CHANGE.items() if k != "Company"}
    before = len(all_changes(http, auth))
    message = assert_ar_error(http.post(CREATE, json={"values": values}, headers=auth), 500, 326)
    assert message["messageAppendedText"] == "Company"
    assert len(all_changes(http, auth)) == before


def test_create_with_a_value_outside_the_selection_is_refused_with_error_306(
        http: httpx.Client, auth: dict[str, str]) -> None:
    values = {**NEW_CHANGE, "Impact": "9-Galactic"}
    assert_ar_error(http.post(CREATE, json={"values": values}, headers=auth), 500, 306)


def test_delete_removes_the_entry(http: httpx.Client, auth: dict[str, str]) -> None:
    change = create_change(http, auth)
    url = f"{CHANGES}/{change['Request ID']}"
    assert http.delete(url, headers=auth).status_code == 204
    assert_ar_error(http.get(url, headers=auth), 404, 302)


# --- status changes follow the process flow -------------------------------------

def test_status_moves_along_the_process_flow_to_closed(
        http: httpx.Client, auth: dict[str, str]) -> None:
    change = create_change(http, auth)
    path = [("Request For Authorization", None), ("Request For Change", None),
            ("Planning In Progress", None), ("Scheduled For Review", None),
            ("Scheduled For Approval", None), ("Scheduled", None),
            ("Implementation In Progress", None), ("Completed", "Successful"), ("Closed", None)]
    for status, reason in path:
        assert put_status(http, auth, change["Request ID"], status, reason).status_code == 204
        now = http.get(f"{CHANGES}/{change['Request ID']}", headers=auth).json()["values"]
        assert now["Change Request Status"] == status
    assert now["Actual Start Date"] is not None and now["Actual End Date"] is not None


def test_an_illegal_status_jump_is_refused_and_the_status_stays(
        http: httpx.Client, auth: dict[str, str]) -> None:
    change = create_change(http, auth)
    message = assert_ar_error(put_status(http, auth, change["Request ID"], "Scheduled"), 500,
                              10000)
    assert message["messageAppendedText"] == "Draft -> Scheduled"
    now = http.get(f"{CHANGES}/{change['Request ID']}", headers=auth).json()["values"]
    assert now["Change Request Status"] == "Draft"


def test_pending_needs_a_reason_and_resumes_where_it_was_held(
        http: httpx.Client, auth: dict[str, str]) -> None:
    change = create_change(http, auth, Status="Request For Authorization")
    entry = change["Request ID"]
    assert_ar_error(put_status(http, auth, entry, "Pending"), 500, 326)
    assert put_status(http, auth, entry, "Pending", "Manager Intervention").status_code == 204
    assert_ar_error(put_status(http, auth, entry, "Scheduled"), 500, 10000)
    assert put_status(http, auth, entry, "Request For Authorization").status_code == 204
    now = http.get(f"{CHANGES}/{entry}", headers=auth).json()["values"]
    assert now["Change Request Status"] == "Request For Authorization"
    assert now["Status Reason"] is None


def test_closed_and_cancelled_changes_cannot_be_reopened(
        http: httpx.Client, auth: dict[str, str]) -> None:
    change = create_change(http, auth)
    assert put_status(http, auth, change["Request ID"], "Cancelled").status_code == 204
    assert_ar_error(put_status(http, auth, change["Request ID"], "Draft"), 500, 10000)


# --- faults and the request log -----------------------------------------------------

def test_a_rate_limit_burst_answers_429_with_retry_after_then_recovers(
        http: httpx.Client, auth: dict[str, str]) -> None:
    fault = http.post("/_sandbox/faults", json={"rate_limit": {"count": 2, "retry_after": 7},
                                                "path": "/entry/"})
    assert fault.status_code == 201
    for _ in range(2):
        limited = search(http, auth, limit=1)
        assert limited.headers["Retry-After"] == "7"
        assert_ar_error(limited, 429, 0)
    assert search(http, auth, limit=1).status_code == 200


def test_a_dropped_create_response_still_leaves_the_change_findable_by_correlation_id(
        http: httpx.Client, auth: dict[str, str]) -> None:
    http.post("/_sandbox/faults", json={"drop_response": True, "path": "ChangeInterface_Create"})
    with pytest.raises(httpx.HTTPError):
        http.post(CREATE, json={"values": {**NEW_CHANGE, "Vendor Ticket Number": "HS-42"}},
                  headers=auth)
    http.delete("/_sandbox/faults")
    found = search(http, auth, q="'Vendor Ticket Number' = \"HS-42\"").json()["entries"]
    assert len(found) == 1
    assert found[0]["values"]["Description"] == NEW_CHANGE["Description"]


def test_the_request_log_counts_exactly_the_vendor_calls_served(
        http: httpx.Client, auth: dict[str, str]) -> None:
    assert http.delete("/_sandbox/requests").status_code == 200
    search(http, auth, limit=1)
    http.get(f"{CHANGES}/000000000999999", headers=auth)
    http.post(CREATE, json={"values": NEW_CHANGE}, headers=auth)
    log = http.get("/_sandbox/requests").json()
    assert log["count"] == 3
    assert [(r["method"], r["status"]) for r in log["requests"]] == [
        ("GET", 200), ("GET", 404), ("POST", 201)]


# --- mounted under a prefix ---------------------------------------------------------

def test_links_and_location_carry_the_mount_prefix() -> None:
    outer = Starlette(routes=[Mount("/sandbox/remedy", app=create_app())])
    with serve_asgi(outer) as url, httpx.Client(base_url=f"{url}/sandbox/remedy/") as client:
        headers = {"Authorization": f"AR-JWT {login(client).text}"}
        body = client.get(CHANGES.lstrip("/"), params={"limit": 2}, headers=headers).json()
        assert body["_links"]["next"][0]["href"].startswith(f"{url}/sandbox/remedy/api/")
        assert body["entries"][0]["_links"]["self"][0]["href"].startswith(
            f"{url}/sandbox/remedy/api/arsys/v1/entry/")
        second = client.get(body["_links"]["next"][0]["href"], headers=headers)
        assert second.status_code == 200
        created = client.post(CREATE.lstrip("/"), json={"values": NEW_CHANGE}, headers=headers)
        assert created.headers["Location"].startswith(f"{url}/sandbox/remedy/api/")


# --- reference: the sandbox answers like the recorded real server (../shared) -----

def shape(value: Any) -> Any:
    """Keys and JSON types at every level; null matches any type (fields are often empty)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None if value is None else type(value).__name__


def assert_same_shape(recorded: Any, ours: Any, where: str = "$") -> None:
    if recorded is None or ours is None:
        return
    if isinstance(recorded, dict):
        assert isinstance(ours, dict), where
        missing = set(recorded) - set(ours)
        assert not missing, f"{where}: sandbox lacks {sorted(missing)}"
        for key in recorded:
            assert_same_shape(recorded[key], ours[key], f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(ours, list) and ours, where
        assert_same_shape(recorded[0], ours[0], f"{where}[0]")
    else:
        assert recorded == ours, f"{where}: {recorded} != {ours}"


def fixture(name: str) -> Any:
    return json.loads((REMEDY_FIXTURES / name).read_text())


@pytest.mark.reference
def test_contract_change_create_through_the_interface_form(
        http: httpx.Client, auth: dict[str, str]) -> None:
    recorded = fixture("create_change_request.json")
    response = http.post(
        CREATE, params={"fields": "values(Change_Entry_ID,Infrastructure Change Id,Create Date)"},
        json={"values": NEW_CHANGE}, headers=auth)
    assert response.status_code == 201
    ours = response.json()
    assert_same_shape(shape(recorded), shape(ours))
    assert set(ours["values"]) == set(recorded["values"])
    assert ours["_links"]["self"][0]["href"].endswith("/entry/CHG:ChangeInterface_Create")


@pytest.mark.reference
def test_contract_incident_create_through_the_interface_form(
        http: httpx.Client, auth: dict[str, str]) -> None:
    recorded = fixture("incident_create.json")
    response = http.post(
        "/api/arsys/v1/entry/HPD:IncidentInterface_Create",
        params={"fields": "values(Incident Number,Create Date)"},
        json={"values": {"z1D_Action": "CREATE", "First_Name": "Ada", "Last_Name": "Lovelace",
                         "Description": "Checkout returns 502", "Impact": "2-Significant/Large",
                         "Urgency": "2-High", "Reported Source": "Direct Input",
                         "Service_Type": "User Service Restoration", "Status": "Assigned"}},
        headers=auth)
    assert response.status_code == 201, response.text
    ours = response.json()
    assert_same_shape(shape(recorded), shape(ours))
    assert ours["values"]["Incident Number"].startswith("INC")


# Fields of a change template that a connector reads when it pre-fills a change.
TEMPLATE_READ = ["CHG Template ID", "Template Name", "Description", "Status", "Change Type",
                 "Change Timing", "Risk Level", "Impact", "Urgency", "Priority",
                 "Reason For Change", "Location Company", "Categorization Tier 1",
                 "Categorization Tier 2", "Categorization Tier 3", "ASCPY", "ASORG", "ASGRP",
                 "Authoring Group", "Environment", "InstanceId", "Submit Date",
                 "Last Modified Date"]


@pytest.mark.reference
def test_contract_change_template_search(http: httpx.Client, auth: dict[str, str]) -> None:
    recorded = fixture("list_change_template_filter.json")
    response = http.get("/api/arsys/v1/entry/CHG:Template",
                        params={"q": "'Status' = \"Enabled\""}, headers=auth)
    assert response.status_code == 200
    ours = response.json()
    assert ours["entries"]
    pick = {"entries": [{"values": {k: e["values"][k] for k in TEMPLATE_READ},
                         "_links": e["_links"]} for e in recorded["entries"]]}
    assert_same_shape(shape(pick), shape(ours))
    for entry in ours["entries"]:
        template_id = entry["values"]["CHG Template ID"]
        assert entry["_links"]["self"][0]["href"].endswith(f"/entry/CHG:Template/{template_id}")
    recorded_values = recorded["entries"][0]["values"]
    assert recorded_values["Risk Level"].startswith("Risk Level ")
    assert ours["entries"][0]["values"]["Risk Level"].startswith("Risk Level ")
