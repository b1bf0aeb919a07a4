"""The ServiceNow sandbox answers the Table API as an instance does, over real sockets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_TOKEN, DEMO_USER
from connectors.sandbox.world import build_world
from connectors.servicenow.sandbox.app import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, create_app
from tests.support.server import serve_asgi

CHANGES = "/api/now/table/change_request"
WORLD = build_world(7, 1)
SN_CHANGES = [c for c in WORLD.change_requests if c.itsm == "servicenow"]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def base_url() -> Iterator[str]:
    with serve_asgi(create_app(WORLD)) as url:
        yield url


@pytest.fixture
def sn(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, auth=(DEMO_USER, DEMO_PASSWORD), timeout=10) as c:
        yield c


def changes(sn: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = sn.get(CHANGES, params=params)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["result"]
    return result


def numbers(sn: httpx.Client, query: str) -> list[str]:
    rows = changes(sn, sysparm_query=query, sysparm_fields="number")
    return [row["number"] for row in rows]


def new_change(sn: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"short_description": "Deploy Payments 2026.12", "type": "normal", **fields}
    response = sn.post(CHANGES, json=body)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()["result"]
    return record


def set_state(sn: httpx.Client, sys_id: str, state: str) -> httpx.Response:
    return sn.patch(f"{CHANGES}/{sys_id}", json={"state": state})


# -- seeded data and record shape ------------------------------------------------


def test_every_servicenow_change_of_the_world_is_a_change_request(sn: httpx.Client) -> None:
    rows = changes(sn)

    assert sorted(r["number"] for r in rows) == sorted(f"CHG{c.seq:07d}" for c in SN_CHANGES)


def test_records_hold_only_strings_utc_dates_and_reference_links(sn: httpx.Client) -> None:
    row = changes(sn, sysparm_limit=1)[0]

    assert re.fullmatch(r"[0-9a-f]{32}", row["sys_id"])
    scalars = {k: v for k, v in row.items() if not isinstance(v, dict)}
    assert all(isinstance(v, str) for v in scalars.values())
    assert DATE.match(row["start_date"]) and DATE.match(row["sys_updated_on"])
    group = row["assignment_group"]
    assert set(group) == {"link", "value"}
    assert group["link"].endswith(f"/api/now/table/sys_user_group/{group['value']}")


def test_rejected_changes_are_back_in_new_with_approval_rejected(sn: httpx.Client) -> None:
    rejected = [f"CHG{c.seq:07d}" for c in SN_CHANGES if c.stage == "rejected"]

    rows = changes(sn, sysparm_query="approval=rejected", sysparm_fields="number,state")

    assert sorted(r["number"] for r in rows) == sorted(rejected)
    assert {r["state"] for r in rows} == {"-5"}


def test_cis_and_groups_come_from_the_applications(sn: httpx.Client) -> None:
    cis = sn.get("/api/now/table/cmdb_ci", params={"sysparm_fields": "name"}).json()["result"]
    groups = sn.get("/api/now/table/sys_user_group").json()["result"]

    assert sorted(c["name"] for c in cis) == sorted(a.ci_name for a in WORLD.applications)
    assert sorted(g["name"] for g in groups) == sorted(a.support_group for a in WORLD.applications)


def test_change_tasks_point_at_their_change(sn: httpx.Client) -> None:
    change = changes(sn, sysparm_limit=1)[0]

    tasks = sn.get("/api/now/table/change_task", params={
        "sysparm_query": f"change_request.number={change['number']}"}).json()["result"]

    assert len(tasks) == 2
    assert {t["change_request"]["value"] for t in tasks} == {change["sys_id"]}
    assert all(t["number"].startswith("CTASK") for t in tasks)


# -- pagination -----------------------------------------------------------------------


def next_link(response: httpx.Response) -> str | None:
    for part in response.headers.get("link", "").split(","):
        match = re.fullmatch(r'<([^>]+)>;rel="next"', part)
        if match:
            return match[1]
    return None


def test_following_next_links_reads_every_record_once(sn: httpx.Client) -> None:
    url: str | None = f"{CHANGES}?sysparm_limit=4&sysparm_query=ORDERBYsys_id"
    seen: list[str] = []
    totals: set[str] = set()
    while url:
        response = sn.get(url)
        totals.add(response.headers["x-total-count"])
        seen += [r["sys_id"] for r in response.json()["result"]]
        url = next_link(response)

    assert totals == {str(len(SN_CHANGES))}
    assert len(seen) == len(SN_CHANGES) == len(set(seen))


def test_link_header_names_first_prev_next_and_last(sn: httpx.Client) -> None:
    response = sn.get(CHANGES, params={"sysparm_limit": 5, "sysparm_offset": 5})

    rels = re.findall(r'sysparm_offset=(\d+)[^>]*>;rel="(\w+)"', response.headers["link"])
    last = (len(SN_CHANGES) - 1) // 5 * 5
    assert rels == [("0", "first"), ("0", "prev"), ("10", "next"), (str(last), "last")]
    assert ", " not in response.headers["link"]


def test_a_single_page_has_no_link_header(sn: httpx.Client) -> None:
    response = sn.get(CHANGES, params={"sysparm_query": "number=CHG0030001"})

    assert "link" not in response.headers
    assert response.headers["x-total-count"] == "1"


# -- encoded queries ---------------------------------------------------------------


def test_equals_and_not_equals(sn: httpx.Client) -> None:
    assert numbers(sn, "number=CHG0030002") == ["CHG0030002"]
    assert "CHG0030002" not in numbers(sn, "number!=CHG0030002")
    assert len(numbers(sn, "number!=CHG0030002")) == len(SN_CHANGES) - 1


def test_in_and_not_in(sn: httpx.Client) -> None:
    assert sorted(numbers(sn, "numberINCHG0030001,CHG0030003")) == ["CHG0030001", "CHG0030003"]
    closed = numbers(sn, "stateIN3,4")
    still_open = numbers(sn, "stateNOT IN3,4")
    assert closed and still_open
    assert len(closed) + len(still_open) == len(SN_CHANGES)


def test_startswith_and_like_ignore_case(sn: httpx.Client) -> None:
    payments = [f"CHG{c.seq:07d}" for c in SN_CHANGES if "Payments" in c.title]

    assert sorted(numbers(sn, "short_descriptionLIKEpayments")) == sorted(payments)
    deploys = [f"CHG{c.seq:07d}" for c in SN_CHANGES if c.title.startswith("Deploy")]
    assert sorted(numbers(sn, "short_descriptionSTARTSWITHdeploy")) == sorted(deploys)


def test_date_comparisons(sn: httpx.Client) -> None:
    pivot = "2026-11-01 00:00:00"
    later = [c for c in SN_CHANGES if c.planned_start.strftime("%Y-%m-%d %H:%M:%S") >= pivot]

    assert len(numbers(sn, f"start_date>={pivot}")) == len(later)
    assert len(numbers(sn, f"start_date<{pivot}")) == len(SN_CHANGES) - len(later)


def test_numeric_comparisons_order_negative_states(sn: httpx.Client) -> None:
    rows = changes(sn, sysparm_query="state<=-3^state>-5", sysparm_fields="state")

    assert rows and {r["state"] for r in rows} <= {"-4", "-3"}


def test_and_binds_looser_than_or(sn: httpx.Client) -> None:
    got = numbers(sn, "number=CHG0030001^ORnumber=CHG0030002^state=3")
    first_two_closed = [n for n in ("CHG0030001", "CHG0030002")
                        if numbers(sn, f"number={n}^state=3")]

    assert sorted(got) == first_two_closed


def test_new_query_ors_whole_queries(sn: httpx.Client) -> None:
    assert sorted(numbers(sn, "number=CHG0030001^NQnumber=CHG0030004")) == [
        "CHG0030001", "CHG0030004"]


def test_order_by_and_order_by_desc(sn: httpx.Client) -> None:
    ascending = numbers(sn, "ORDERBYnumber")
    descending = numbers(sn, "ORDERBYDESCnumber")

    assert ascending == sorted(ascending)
    assert descending == list(reversed(ascending))


def test_unknown_fields_in_a_query_are_ignored(sn: httpx.Client) -> None:
    assert numbers(sn, "u_no_such_field=1^number=CHG0030001") == ["CHG0030001"]


def test_a_query_that_is_not_conditions_is_a_400_failure(sn: httpx.Client) -> None:
    response = sn.get(CHANGES, params={"sysparm_query": "this is nonsense"})

    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "failure" and body["error"]["message"]


# -- fields and display values --------------------------------------------------------


def test_fields_limit_the_columns(sn: httpx.Client) -> None:
    row = changes(sn, sysparm_fields="number,state", sysparm_limit=1)[0]

    assert set(row) == {"number", "state"}


def test_display_value_true_gives_labels(sn: httpx.Client) -> None:
    row = changes(sn, sysparm_query="state=-1", sysparm_display_value="true",
                  sysparm_fields="state,assignment_group", sysparm_limit=1)[0]

    assert row["state"] == "Implement"
    assert set(row["assignment_group"]) == {"display_value", "link"}
    assert row["assignment_group"]["display_value"].endswith(" Ops")


def test_display_value_all_gives_both(sn: httpx.Client) -> None:
    row = changes(sn, sysparm_query="state=-2", sysparm_display_value="all",
                  sysparm_fields="state,risk", sysparm_limit=1)[0]

    assert row["state"] == {"display_value": "Scheduled", "value": "-2"}
    assert set(row["risk"]) == {"display_value", "value"}


def test_excluding_reference_links_leaves_the_sys_id(sn: httpx.Client) -> None:
    row = changes(sn, sysparm_fields="cmdb_ci", sysparm_exclude_reference_link="true",
                  sysparm_limit=1)[0]

    assert re.fullmatch(r"[0-9a-f]{32}", row["cmdb_ci"])


# -- writes ---------------------------------------------------------------------------


def test_created_change_reads_back_with_server_defaults(sn: httpx.Client) -> None:
    created = new_change(sn, correlation_id="hs-release-42", correlation_display="Heatshield",
                         assignment_group="Payments Ops", u_unknown="ignored")

    read = sn.get(f"{CHANGES}/{created['sys_id']}").json()["result"]

    assert read == created
    assert re.fullmatch(r"CHG\d{7}", read["number"])
    assert read["number"] > f"CHG{max(c.seq for c in SN_CHANGES):07d}"
    assert (read["state"], read["approval"]) == ("-5", "not requested")
    assert read["correlation_id"] == "hs-release-42"
    assert read["assignment_group"]["value"]
    assert "u_unknown" not in read


def test_created_change_is_found_by_correlation_id(sn: httpx.Client) -> None:
    new_change(sn, correlation_id="hs-find-me")

    assert len(numbers(sn, "correlation_id=hs-find-me")) == 1


def test_patch_moves_a_normal_change_along_its_model(sn: httpx.Client) -> None:
    sys_id = new_change(sn)["sys_id"]
    path = ["-4", "-3", "-2", "-1", "0", "3"]

    states = [set_state(sn, sys_id, s).json()["result"]["state"] for s in path]

    assert states == path
    final = sn.get(f"{CHANGES}/{sys_id}").json()["result"]
    assert (final["active"], final["approval"]) == ("false", "approved")


def test_put_updates_like_patch(sn: httpx.Client) -> None:
    sys_id = new_change(sn)["sys_id"]

    response = sn.put(f"{CHANGES}/{sys_id}", json={"description": "now with notes"})

    assert response.json()["result"]["description"] == "now with notes"


def test_an_illegal_state_jump_is_refused_and_changes_nothing(sn: httpx.Client) -> None:
    created = new_change(sn)

    response = set_state(sn, created["sys_id"], "-1")

    assert response.status_code == 403
    assert response.json() == {"error": {
        "message": "Operation Failed",
        "detail": f"Error during update of change_request ({created['number']})"},
        "status": "failure"}
    assert sn.get(f"{CHANGES}/{created['sys_id']}").json()["result"]["state"] == "-5"


def test_any_open_change_can_be_canceled(sn: httpx.Client) -> None:
    sys_id = new_change(sn)["sys_id"]
    set_state(sn, sys_id, "-4")

    assert set_state(sn, sys_id, "4").json()["result"]["state"] == "4"


def test_delete_answers_204_and_the_record_is_gone(sn: httpx.Client) -> None:
    sys_id = new_change(sn)["sys_id"]

    response = sn.delete(f"{CHANGES}/{sys_id}")

    assert response.status_code == 204 and response.content == b""
    assert sn.get(f"{CHANGES}/{sys_id}").status_code == 404


# -- errors and auth ----------------------------------------------------------------


def test_unknown_record_is_404_no_record_found(sn: httpx.Client) -> None:
    response = sn.get(f"{CHANGES}/{'0' * 32}")

    assert response.status_code == 404
    assert response.json() == {"error": {
        "message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval"},
        "status": "failure"}


def test_unknown_table_is_404_failure(sn: httpx.Client) -> None:
    response = sn.get("/api/now/table/u_not_a_table")

    assert response.status_code == 404
    assert response.json()["status"] == "failure"


def test_missing_or_wrong_credentials_are_401(base_url: str) -> None:
    no_header = httpx.get(base_url + CHANGES)
    wrong = httpx.get(base_url + CHANGES, auth=(DEMO_USER, "not-the-password"))

    for response in (no_header, wrong):
        assert response.status_code == 401
        assert response.json() == {"error": {
            "message": "User Not Authenticated", "detail": "Required to provide Auth information"},
            "status": "failure"}


def test_bearer_token_is_accepted(base_url: str) -> None:
    response = httpx.get(base_url + CHANGES, params={"sysparm_limit": 1},
                         headers={"Authorization": f"Bearer {DEMO_TOKEN}"})

    assert response.status_code == 200


def test_oauth_token_takes_form_bodies_only(base_url: str) -> None:
    form = {"grant_type": "password", "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "username": DEMO_USER, "password": DEMO_PASSWORD}

    as_json = httpx.post(base_url + "/oauth_token.do", json=form)
    as_form = httpx.post(base_url + "/oauth_token.do", data=form)

    assert as_json.status_code == 400
    assert as_form.status_code == 200
    token = as_form.json()["access_token"]
    listed = httpx.get(base_url + CHANGES, params={"sysparm_limit": 1},
                       headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200


# -- faults and request log ----------------------------------------------------------


def test_rate_limit_fault_answers_429_with_servicenow_headers(sn: httpx.Client) -> None:
    sn.post("/_sandbox/faults", json={"rate_limit": {"count": 1, "retry_after": 30}})

    limited = sn.get(CHANGES)
    after = sn.get(CHANGES, params={"sysparm_limit": 1})

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "30"
    assert {"x-ratelimit-limit", "x-ratelimit-reset", "x-ratelimit-rule"} <= set(limited.headers)
    assert limited.json()["status"] == "failure"
    assert after.status_code == 200


def test_dropped_response_still_creates_exactly_one_change(sn: httpx.Client) -> None:
    sn.post("/_sandbox/faults", json={"drop_response": True, "path": "change_request$"})

    with pytest.raises(httpx.TransportError):
        sn.post(CHANGES, json={"short_description": "lost reply", "correlation_id": "hs-drop-1"})
    sn.delete("/_sandbox/faults")

    assert len(numbers(sn, "correlation_id=hs-drop-1")) == 1


def test_request_log_counts_exactly_the_table_calls(sn: httpx.Client) -> None:
    sn.delete("/_sandbox/requests")
    changes(sn, sysparm_limit=1)
    sn.get(f"{CHANGES}/{'0' * 32}")
    new_change(sn)

    log = sn.get("/_sandbox/requests").json()

    assert log["count"] == 3
    assert [(e["method"], e["status"]) for e in log["requests"]] == [
        ("GET", 200), ("GET", 404), ("POST", 201)]


def test_links_include_the_mount_prefix() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    outer = Starlette(routes=[Mount("/sandbox/servicenow", app=create_app(WORLD))])
    with serve_asgi(outer) as url:
        response = httpx.get(f"{url}/sandbox/servicenow{CHANGES}", params={"sysparm_limit": 2},
                             auth=(DEMO_USER, DEMO_PASSWORD))

    assert f"{url}/sandbox/servicenow{CHANGES}?" in response.headers["link"]
    ref = response.json()["result"][0]["assignment_group"]["link"]
    assert ref.startswith(f"{url}/sandbox/servicenow/api/now/table/sys_user_group/")


def test_creates_and_updates_push_a_webhook_with_the_shared_secret() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    received: list[tuple[str, dict[str, Any]]] = []

    async def hook(request: Request) -> Response:
        received.append((request.headers.get("x-webhook-secret", ""), await request.json()))
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve_asgi(receiver) as hook_url, serve_asgi(create_app(
            WORLD, webhook_url=f"{hook_url}/hook", webhook_secret="s3cret")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_PASSWORD)) as sn:
        created = new_change(sn, correlation_id="hs-hook")
        set_state(sn, created["sys_id"], "-4")

    assert [(secret, body["operation"], body["state"]) for secret, body in received] == [
        ("s3cret", "insert", "-5"), ("s3cret", "update", "-4")]
    assert received[0][1]["number"] == created["number"]


# -- approvals --------------------------------------------------------------------------

APPROVALS = "/api/now/table/sysapproval_approver"


def approvals(sn: httpx.Client, number: str) -> list[dict[str, Any]]:
    response = sn.get(APPROVALS, params={
        "sysparm_query": f"sysapproval.number={number}^ORDERBYsys_created_on",
        "sysparm_exclude_reference_link": "true"})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["result"]
    return rows


def in_authorize(sn: httpx.Client) -> dict[str, Any]:
    """A new Normal change of a support group, moved to Authorize, where it asks for
    approval."""
    group = sn.get("/api/now/table/sys_user_group", params={"sysparm_limit": 1}
                   ).json()["result"][0]
    created = new_change(sn, assignment_group=group["sys_id"])
    for state in ("-4", "-3"):
        assert set_state(sn, created["sys_id"], state).status_code == 200
    row: dict[str, Any] = sn.get(f"{CHANGES}/{created['sys_id']}").json()["result"]
    return row


def state_and_approval(sn: httpx.Client, change: dict[str, Any]) -> tuple[str, str]:
    row = sn.get(f"{CHANGES}/{change['sys_id']}").json()["result"]
    return row["state"], row["approval"]


def decide(sn: httpx.Client, approval: dict[str, Any], state: str) -> httpx.Response:
    return sn.patch(f"{APPROVALS}/{approval['sys_id']}",
                    json={"state": state, "comments": f"{state} at CAB"})


def test_seeded_changes_carry_their_approvers_decisions(sn: httpx.Client) -> None:
    for change in SN_CHANGES:
        number = f"CHG{change.seq:07d}"
        states = [row["state"] for row in approvals(sn, number)]
        expected = {"not_requested": [], "requested": ["requested", "requested"],
                    "approved": ["approved", "approved"],
                    "rejected": ["rejected", "not_required"]}[change.approval]
        assert states == expected, number


def test_authorize_asks_the_group_manager_and_a_change_manager(sn: httpx.Client) -> None:
    change = in_authorize(sn)
    assert change["approval"] == "requested"
    asked = approvals(sn, change["number"])
    assert [row["state"] for row in asked] == ["requested", "requested"]
    group = sn.get(f"/api/now/table/sys_user_group/{change['assignment_group']['value']}"
                   ).json()["result"]
    approvers = [row["approver"] for row in asked]
    assert approvers[0] == group["manager"]["value"]
    assert len(set(approvers)) == 2 and change["requested_by"] not in approvers


def test_the_change_is_scheduled_once_every_approver_has_approved(sn: httpx.Client) -> None:
    change = in_authorize(sn)
    first, second = approvals(sn, change["number"])

    assert decide(sn, first, "approved").status_code == 200
    assert state_and_approval(sn, change) == ("-3", "requested")

    assert decide(sn, second, "approved").json()["result"]["state"] == "approved"
    assert state_and_approval(sn, change) == ("-2", "approved")


def test_one_rejection_sends_the_change_back_to_new(sn: httpx.Client) -> None:
    change = in_authorize(sn)
    first, second = approvals(sn, change["number"])

    assert decide(sn, second, "rejected").status_code == 200

    assert state_and_approval(sn, change) == ("-5", "rejected")
    assert [row["state"] for row in approvals(sn, change["number"])] == [
        "not_required", "rejected"]
    late = decide(sn, first, "approved")
    assert late.status_code == 403
    assert late.json()["error"]["message"] == "Operation Failed"


def test_moving_the_state_by_hand_leaves_the_approvers_unneeded(sn: httpx.Client) -> None:
    change = in_authorize(sn)
    assert set_state(sn, change["sys_id"], "-2").json()["result"]["approval"] == "approved"
    assert [row["state"] for row in approvals(sn, change["number"])] == [
        "not_required", "not_required"]


def test_an_approval_deciding_its_change_pushes_the_changes_update() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve_asgi(receiver) as hook_url, serve_asgi(create_app(
            WORLD, webhook_url=f"{hook_url}/hook", webhook_secret="s3cret")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_PASSWORD)) as sn:
        change = in_authorize(sn)
        for approval in approvals(sn, change["number"]):
            decide(sn, approval, "approved")

    assert [(body["table"], body["state"], body["approval"]) for body in received][-1] == (
        "change_request", "-2", "approved")
    assert all(body["table"] == "change_request" for body in received)
