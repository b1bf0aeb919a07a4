"""`GET /reports/<id or slug>.csv|.json`: a saved query as rows, for tools that speak no GraphQL.

The route sits outside the session check (like the calendar feed): a report's own
token is its credential, sent as `Authorization: Bearer <token>` or, for tools that
cannot set a header, as `?token=<token>`. Nothing here logs it, and the access log
writes paths without their query strings (api/envelope.py).

The saved query runs through the schema, with every guard of `/graphql`, as the
report's owner with the owner's current role, and as a query only: a token never
reads more than its owner may, and never writes. The bare URL picks CSV or JSON by
`Accept`. A query that declares `$after` and selects `pageInfo { hasNextPage
endCursor }` beside its rows' list is run page after page, like the list exports.
CSV cells are RFC 4180 (the csv module) and can never be read as a
formula (api/exports.py: `safe_cell`); `?bom=1` starts the file with a UTF-8 byte
order mark for spreadsheets that guess the encoding.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import parse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from strawberry.types.graphql import OperationType

from api.domain.reports import (
    Column,
    Format,
    negotiate,
    next_cursor,
    parse_path,
    table,
    takes_cursor,
)
from api.errors import ErrorCode
from api.exports import safe_cell
from api.hub import Hub
from api.permissions import Principal
from api.report_query import on_the_allow_list
from api.schema.context import Context
from api.security import refusal
from api.services.reports import Refused, open_report
from api.settings import Settings

MAX_ROWS = 20_000
# A report that pages (api/domain/reports.py: takes_cursor) reads at most this many.
MAX_PAGES = 200
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".json": "json"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    if isinstance(value, dict):  # a JSON scalar's value: written as JSON
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def report_cell(value: Any) -> str:
    """A CSV cell: numbers as they are (no formula can hide in one), the rest as text that
    a spreadsheet never runs (`safe_cell`); a list's values joined by "; "."""
    if isinstance(value, int | float) and not isinstance(value, bool) \
            and math.isfinite(value):
        return str(value)
    return safe_cell(_text(value))


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, bom: bool = False) -> str:
    out = io.StringIO()
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180's line ends
    writer.writerow([safe_cell(h) for h in headers])
    for row in rows:
        writer.writerow([report_cell(v) for v in row])
    return out.getvalue()


def _secret(request: Request) -> str:
    """The token from the Authorization header, else from ?token=; "" when neither."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if header and scheme.lower() == "bearer":
        return credential.strip()
    return request.query_params.get("token", "").strip()


def _split(name: str, accept: str) -> tuple[str, Format | None]:
    for suffix, chosen in _SUFFIXES.items():
        if name.endswith(suffix):
            return name[: -len(suffix)], chosen
    return name, negotiate(accept)


def _refused(why: Refused) -> Response:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if why.status == 401 else {}
    return refusal(why.status, str(why.code), why.message, headers)


def report_routes(settings: Settings, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                  schema: strawberry.Schema) -> list[BaseRoute]:
    async def report(request: Request) -> Response:
        ident, chosen = _split(str(request.path_params["name"]),
                               request.headers.get("accept", ""))
        if chosen is None:
            return refusal(406, str(ErrorCode.NOT_ACCEPTABLE),
                           "a report answers text/csv or application/json")
        secret = _secret(request)
        if not secret:
            return refusal(401, str(ErrorCode.UNAUTHENTICATED),
                           "send the report's token: Authorization: Bearer <token>",
                           {"WWW-Authenticate": "Bearer"})
        opened = await open_report(sessions, ident, secret)
        if isinstance(opened, Refused):
            return _refused(opened)
        # Outside the request gate, so each token takes the gate's per-caller budget here
        # (shared by every replica when Redis is configured: api/shared_state.py).
        wait = await request.app.state.shared.limiter.take(f"report-token:{opened.token_id}")
        if wait:
            seconds = max(1, math.ceil(wait))
            return refusal(429, str(ErrorCode.RATE_LIMITED),
                           f"too many requests; retry in {seconds} s",
                           {"Retry-After": str(seconds)})
        saved, owner = opened.report, opened.owner
        if not await on_the_allow_list(settings, sessions, saved.query):
            return refusal(403, str(ErrorCode.PERSISTED_QUERY_NOT_IN_LIST),
                           "this server runs only registered operations, and this "
                           "report's query is not one of them")
        # The owner as they are now: a lost role or a disabled account narrows the report.
        principal = Principal(subject=owner.username, role=owner.role, via="token",
                              user_id=owner.id, token_name=f"report {saved.slug}",
                              scope="report")
        columns = [Column(parse_path(c["path"], "columns"), c["header"])
                   for c in saved.columns]
        rows_path = parse_path(saved.rows_path, "rowsPath", empty=True)
        paged = takes_cursor(parse(saved.query))
        rows: list[list[Any]] = []
        errors: list[Any] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            context = Context(settings=settings, sessions=sessions, hub=hub, request=request,
                              principal=principal)
            variables = dict(saved.variables) | ({"after": after} if paged else {})
            result = await schema.execute(saved.query, variable_values=variables,
                                          context_value=context,
                                          allowed_operation_types={OperationType.QUERY})
            errors += [e.formatted for e in result.errors or []]
            if result.data is None:
                return JSONResponse({"errors": errors}, status_code=422)
            rows += table(result.data, rows_path, columns)
            after = next_cursor(result.data, rows_path) if paged else None
            if after is None or len(rows) >= MAX_ROWS:
                break
        rows = rows[:MAX_ROWS]
        headers = [c.header for c in columns]
        answer_headers = {"Cache-Control": "no-store", "Vary": "Accept, Authorization"}
        if errors:
            answer_headers["X-Heatshield-Partial"] = "; ".join(
                dict.fromkeys(str(e["message"]) for e in errors))[:1000]
        if chosen == "csv":
            answer_headers["Content-Disposition"] = f'inline; filename="{saved.slug}.csv"'
            bom = request.query_params.get("bom", "") in ("1", "true")
            return Response(to_csv(headers, rows, bom=bom), headers=answer_headers,
                            media_type="text/csv; charset=utf-8")
        return JSONResponse({"report": saved.slug, "name": saved.name, "columns": headers,
                             "rows": [dict(zip(headers, row, strict=True)) for row in rows],
                             "errors": errors}, headers=answer_headers)

    return [Route("/reports/{name}", report, methods=["GET"])]
