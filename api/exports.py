"""CSV exports of the list pages, with the pages' filters, through the graph itself.

`GET /export/<list>.csv` runs the same GraphQL query the list page runs, as the
signed-in caller (session cookie or API token, like `/graphql`), walking every
page, and writes its rows with the csv module. So an export holds exactly the
rows the page shows, with the same permissions and filters, and a failing
upstream source is left out as it is on the page (its error goes in the
`X-Heatshield-Partial` header).

Lists and their query parameters (repeat a parameter for several values):
- releases: status, type, application, windowFrom, windowTo
- change-requests: state, source, windowFrom, windowTo
- work-items: release (a key, required), status
- bookings: from, to, environmentId, status
- conflicts: from, to (required), kind, severity, application

A cell starting with = + - @ (or a tab or carriage return) is prefixed with a
single quote, so a spreadsheet shows it as text and never runs it as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.hub import Hub
from api.permissions import Role
from api.schema.context import Context
from api.security import principal_of
from api.settings import Settings

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 20_000


def safe_cell(value: Any) -> str:
    """A value as spreadsheet text that can never be read as a formula."""
    if value is None:
        return ""
    if isinstance(value, list):
        text = "; ".join(safe_cell(v) for v in value)
    elif isinstance(value, dict):
        text = str(value.get("key") or value.get("name") or "")
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@dataclass(frozen=True, slots=True)
class Export:
    """One list page: its query, how its variables come from the URL, and its columns."""

    query: str
    variables: Callable[[Mapping[str, list[str]]], dict[str, Any]]
    rows: Callable[[dict[str, Any]], tuple[list[dict[str, Any]], str | None]]
    columns: Sequence[tuple[str, str]]  # (header, field of a row)
    paged: bool = True


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    return values[-1] if values else None


def _many(params: Mapping[str, list[str]], name: str) -> list[str] | None:
    return params.get(name) or None


def _page(path: Sequence[str]) -> Callable[[dict[str, Any]], tuple[list[dict[str, Any]],
                                                                  str | None]]:
    def rows(data: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        found: Any = data
        for key in path:
            found = found[key] if found is not None else None
        if found is None:
            return [], None
        info = found["pageInfo"]
        return list(found["nodes"]), info["endCursor"] if info["hasNextPage"] else None
    return rows


def _list(name: str) -> Callable[[dict[str, Any]], tuple[list[dict[str, Any]], str | None]]:
    def rows(data: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        return list(data[name]), None
    return rows


EXPORTS: dict[str, Export] = {
    "releases": Export(
        query="""query($filter: ReleaseFilter, $after: String) {
          releases(filter: $filter, first: 100, after: $after) {
            pageInfo { hasNextPage endCursor }
            nodes { key name type status windowStart windowEnd version
                    applications { key } parent { key } } } }""",
        variables=lambda p: {"filter": {
            "status": _many(p, "status"), "type": _many(p, "type"),
            "application": _one(p, "application"), "windowFrom": _one(p, "windowFrom"),
            "windowTo": _one(p, "windowTo")}},
        rows=_page(["releases"]),
        columns=[("Key", "key"), ("Name", "name"), ("Type", "type"), ("Status", "status"),
                 ("Window start", "windowStart"), ("Window end", "windowEnd"),
                 ("Applications", "applications"), ("Parent", "parent"),
                 ("Version", "version")]),
    "change-requests": Export(
        query="""query($filter: ChangeRequestFilter, $after: String) {
          changeRequests(filter: $filter, first: 100, after: $after) {
            pageInfo { hasNextPage endCursor }
            nodes { number title state stateLabel type risk approval plannedStart plannedEnd
                    url source { name } releases { key } } } }""",
        variables=lambda p: {"filter": {
            "state": _one(p, "state"), "source": _one(p, "source"),
            "windowFrom": _one(p, "windowFrom"), "windowTo": _one(p, "windowTo")}},
        rows=_page(["changeRequests"]),
        columns=[("Source", "source"), ("Number", "number"), ("Title", "title"),
                 ("State", "state"), ("State in the ITSM", "stateLabel"), ("Type", "type"),
                 ("Risk", "risk"), ("Approval", "approval"),
                 ("Planned start", "plannedStart"), ("Planned end", "plannedEnd"),
                 ("Releases", "releases"), ("Link", "url")]),
    "work-items": Export(
        query="""query($release: String!, $status: WorkStatus, $after: String) {
          release(key: $release) { workItems(status: $status, first: 100, after: $after) {
            pageInfo { hasNextPage endCursor }
            nodes { key title kind status statusLabel assignee updatedAt url
                    source { name } } } } }""",
        variables=lambda p: {"release": _one(p, "release"), "status": _one(p, "status")},
        rows=_page(["release", "workItems"]),
        columns=[("Source", "source"), ("Key", "key"), ("Title", "title"), ("Kind", "kind"),
                 ("Status", "status"), ("Status upstream", "statusLabel"),
                 ("Assignee", "assignee"), ("Updated", "updatedAt"), ("Link", "url")]),
    "bookings": Export(
        query="""query($from: DateTime, $to: DateTime, $env: ID, $status: [BookingStatus!]) {
          bookings(from: $from, to: $to, environmentId: $env, status: $status, first: 500) {
            id environment { name } release { key } team status start end purpose
            requestedBy decidedBy decisionReason overrideReason } }""",
        variables=lambda p: {"from": _one(p, "from"), "to": _one(p, "to"),
                             "env": _one(p, "environmentId"), "status": _many(p, "status")},
        rows=_list("bookings"), paged=False,
        columns=[("Environment", "environment"), ("Release", "release"), ("Team", "team"),
                 ("Status", "status"), ("Start", "start"), ("End", "end"),
                 ("Purpose", "purpose"), ("Requested by", "requestedBy"),
                 ("Decided by", "decidedBy"), ("Reason", "decisionReason"),
                 ("Override reason", "overrideReason")]),
    "conflicts": Export(
        query="""query($from: DateTime!, $to: DateTime!, $filter: ConflictFilter) {
          conflicts(from: $from, to: $to, filter: $filter) {
            kind severity start end reason records { label } } }""",
        variables=lambda p: {"from": _one(p, "from"), "to": _one(p, "to"), "filter": {
            "kinds": _many(p, "kind"), "severity": _one(p, "severity"),
            "application": _one(p, "application")}},
        rows=_list("conflicts"), paged=False,
        columns=[("Kind", "kind"), ("Severity", "severity"), ("Start", "start"),
                 ("End", "end"), ("Reason", "reason"), ("Involved", "records")]),
}


def _flatten(row: dict[str, Any], field: str) -> Any:
    value = row.get(field)
    if field == "records" and isinstance(value, list):
        return [r["label"] for r in value]
    return value


def to_csv(export: Export, rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([header for header, _ in export.columns])
    for row in rows:
        writer.writerow([safe_cell(_flatten(row, field)) for _, field in export.columns])
    return out.getvalue()


def export_routes(settings: Settings, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                  schema: strawberry.Schema) -> list[BaseRoute]:
    async def export(request: Request) -> Response:
        name = str(request.path_params["name"])
        spec = EXPORTS.get(name)
        if spec is None:
            return JSONResponse({"error": f"no export named {name!r}; exports: "
                                          f"{', '.join(sorted(EXPORTS))}"}, status_code=404)
        principal = principal_of(request.scope)
        if principal is None or not principal.allows(Role.VIEWER):
            return JSONResponse({"error": "authentication required"}, status_code=401)
        params: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            params.setdefault(key, []).append(value)
        variables = spec.variables(params)
        rows: list[dict[str, Any]] = []
        partial: list[str] = []
        after: str | None = None
        while True:
            context = Context(settings=settings, sessions=sessions, hub=hub,
                              request=request, principal=principal)
            result = await schema.execute(
                spec.query, variable_values=variables | ({"after": after} if spec.paged
                                                         else {}),
                context_value=context)
            if result.data is None:
                errors = result.errors or []
                return JSONResponse({"errors": [e.formatted for e in errors]}, status_code=400)
            partial += [e.message for e in result.errors or []]
            found, after = spec.rows(result.data)
            rows += found
            if after is None or len(rows) >= MAX_ROWS:
                break
        headers = {"Content-Disposition": f'attachment; filename="{name}.csv"',
                   "Cache-Control": "no-store"}
        if partial:
            headers["X-Heatshield-Partial"] = "; ".join(dict.fromkeys(partial))[:1000]
        return Response(to_csv(spec, rows[:MAX_ROWS]), media_type="text/csv; charset=utf-8",
                        headers=headers)

    return [Route("/export/{name}.csv", export, methods=["GET"])]
