"""The change board's side: approve a change through the ITSM sandbox's own API.

Heatshield never approves a change; tests that need an approved change get
the approval the way a CAB member's decision reaches the ITSM, by writing
the change record through the vendor's REST API, never through the hub.
"""

from __future__ import annotations

from typing import Any

import httpx

from api.demo import CREDENTIALS

SN_TABLE = "/sandbox/servicenow/api/now/table/change_request"
REMEDY = "/sandbox/remedy"
REMEDY_CHANGES = f"{REMEDY}/api/arsys/v1/entry/CHG:Infrastructure Change"
# Remedy statuses that wait on approvers, and where their approval takes the change.
REMEDY_APPROVALS = {"Request For Authorization": "Request For Change",
                    "Scheduled For Approval": "Scheduled"}


def servicenow_change(base_url: str, number: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}{SN_TABLE}", params={"sysparm_query": f"number={number}"},
                         auth=(CREDENTIALS.username, CREDENTIALS.password))
    response.raise_for_status()
    row: dict[str, Any] = response.json()["result"][0]
    return row


def _remedy_token(base_url: str) -> str:
    return httpx.post(f"{base_url}{REMEDY}/api/jwt/login", data={
        "username": CREDENTIALS.username, "password": CREDENTIALS.password}).text


def remedy_change(base_url: str, number: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}{REMEDY_CHANGES}",
                         params={"q": f"'Infrastructure Change ID' = \"{number}\""},
                         headers={"Authorization": f"AR-JWT {_remedy_token(base_url)}"})
    response.raise_for_status()
    values: dict[str, Any] = response.json()["entries"][0]["values"]
    return values


def cab_approves(base_url: str, kind: str, number: str) -> str:
    """Grant the approval the change waits for, as the ITSM's approvers would; returns
    the state it leaves the change in (ServiceNow's numeric state, Remedy's status)."""
    if kind == "servicenow":
        row = servicenow_change(base_url, number)
        assert row["state"] == "-3", f"{number} is not waiting for approval: {row['state']}"
        # The approval rules record the decision and move the change on to Scheduled.
        response = httpx.patch(f"{base_url}{SN_TABLE}/{row['sys_id']}",
                               json={"approval": "approved", "state": "-2"},
                               auth=(CREDENTIALS.username, CREDENTIALS.password))
        response.raise_for_status()
        return str(response.json()["result"]["state"])
    values = remedy_change(base_url, number)
    status = values["Change Request Status"]
    assert status in REMEDY_APPROVALS, f"{number} is not waiting for approval: {status}"
    response = httpx.put(
        f"{base_url}{REMEDY_CHANGES}/{values['Request ID']}",
        json={"values": {"Change Request Status": REMEDY_APPROVALS[status]}},
        headers={"Authorization": f"AR-JWT {_remedy_token(base_url)}"})
    response.raise_for_status()
    return REMEDY_APPROVALS[status]


def upstream_state(base_url: str, kind: str, number: str) -> tuple[str, str]:
    """(state, approval) as the ITSM itself holds them, for "nothing changed" checks."""
    if kind == "servicenow":
        row = servicenow_change(base_url, number)
        return str(row["state"]), str(row["approval"])
    values = remedy_change(base_url, number)
    return str(values["Change Request Status"]), str(values.get("Status Reason"))
