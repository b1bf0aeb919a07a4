"""Published reports in the graph: save a query, publish it, issue and revoke its tokens.

The query is checked when saved (api/report_query.py: it parses, only reads, fits
the graph and its limits; api/domain/reports.py: its rows' path and columns name
its own selections), so a published URL fails later only for reasons of the day
(an upstream down, a role lost). A token's secret crosses the graph once, in the
answer to `publishReport`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from api.db import models as m
from api.domain.reports import check_slug, parse_path, resolve_columns, selection_tree, slug_of
from api.errors import bad_input
from api.permissions import IsViewer, require_role
from api.report_query import check_report_query, not_on_the_allow_list, on_the_allow_list
from api.schema.context import Info
from api.schema.ids import expect_id, to_global_id
from api.services.common import Ref
from api.services.reports import ReportDraft, ReportService


@strawberry.type(description="One column of a report: a dotted path into each row.")
class ReportColumn:
    path: str
    header: str


@strawberry.type(description="A read-only token of one report (its secret is never shown "
                             "again after `publishReport`).")
class ReportToken:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The first characters, to recognise a token.")
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: m.ReportToken) -> ReportToken:
        return cls(id=strawberry.ID(to_global_id("ReportToken", row.id)), name=row.name,
                   prefix=row.prefix, created_by=row.created_by, created_at=row.created_at,
                   last_used_at=row.last_used_at, revoked_at=row.revoked_at)


@strawberry.type(description=(
    "A saved GraphQL query published as CSV or JSON at a stable URL, for tools that do not "
    "speak GraphQL (docs/reports.md). It runs as its owner."))
class Report:
    id: strawberry.ID
    slug: str
    name: str
    description: str
    query: str
    variables: JSON
    rows_path: str = strawberry.field(description="Dotted path to the list whose items are "
                                                  "the rows (\"\": the answer is one row).")
    columns: list[ReportColumn]
    owner: str
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    csv_url: str = strawberry.field(description="Where the report answers CSV (with a token).")
    json_url: str = strawberry.field(description="Where the report answers JSON (with a "
                                                 "token).")
    pk: strawberry.Private[int]

    @strawberry.field(description="Its tokens, revoked ones included, oldest first.")
    async def tokens(self, info: Info) -> list[ReportToken]:
        async def load(report_ids: list[int]) -> list[list[m.ReportToken]]:
            found = await _reports(info).tokens(report_ids)
            return [found[pk] for pk in report_ids]

        # One read for the tokens of every report in the answer.
        rows = await info.context.scoped_loader("report_tokens", load).load(self.pk)
        return [ReportToken.from_row(r) for r in rows]


@strawberry.type(description="A published report and the token just issued for it.")
class PublishedReport:
    report: Report
    token: ReportToken
    secret: str = strawberry.field(description=(
        "The token, shown only now: send it as `Authorization: Bearer <secret>` (or "
        "`?token=<secret>` for tools that cannot set headers; proxies log query strings)."))


@strawberry.input(description="A report to save. Columns may be left out: then every value "
                              "the query selects under the rows' path is a column.")
class ReportColumnInput:
    path: str
    header: str | None = None


@strawberry.input
class ReportInput:
    name: str
    query: str
    slug: str | None = strawberry.field(default=None, description=(
        "The report's name in its URL; made from its name when left out."))
    description: str = ""
    variables: JSON | None = None
    rows_path: str = ""
    columns: list[ReportColumnInput] | None = None


def _reports(info: Info) -> ReportService:
    return ReportService(info.context.sessions, require_role(info, m.Role.VIEWER))


def _base_url(info: Info) -> str:
    public = info.context.settings.server.public_url
    if public:
        return str(public).rstrip("/")
    request = info.context.request
    return str(request.base_url).rstrip("/") if request is not None else ""


def _ref(global_id: str, type_name: str) -> Ref:
    return Ref(expect_id(global_id, type_name), global_id)


async def _draft(info: Info, given: ReportInput) -> ReportDraft:
    """The input checked against the graph, its limits, its own selections and, in
    allow-list mode, the registered operations."""
    name = given.name.strip()
    if not name or len(name) > 200:
        raise bad_input("a report's name has 1 to 200 characters", "input.name")
    if len(given.description) > 2000:
        raise bad_input("a description has at most 2000 characters", "input.description")
    variables: object = given.variables if given.variables is not None else {}
    if not isinstance(variables, dict):
        raise bad_input("variables are a JSON object of the query's variables",
                        "input.variables")
    document = check_report_query(info.schema._schema, info.context.settings.limits,
                                  given.query, cast(dict[str, Any], variables))
    rows_path = parse_path(given.rows_path, "input.rowsPath", empty=True)
    columns = resolve_columns(selection_tree(document), rows_path,
                              [(c.path, c.header) for c in given.columns or ()])
    slug = check_slug(given.slug) if given.slug is not None else slug_of(name)
    if not await on_the_allow_list(info.context.settings, info.context.sessions,
                                   given.query):
        raise not_on_the_allow_list()
    return ReportDraft(name=name, slug=slug, description=given.description,
                       query=given.query, variables=cast(dict[str, Any], variables),
                       rows_path=".".join(rows_path), columns=columns)


async def _shape(info: Info, rows: list[m.Report]) -> list[Report]:
    owners = await _reports(info).owners(sorted({r.owner_id for r in rows}))
    base = _base_url(info)
    return [Report(id=strawberry.ID(to_global_id("Report", r.id)), slug=r.slug, name=r.name,
                   description=r.description, query=r.query,
                   variables=cast(JSON, r.variables), rows_path=r.rows_path,
                   columns=[ReportColumn(path=c["path"], header=c["header"])
                            for c in r.columns],
                   owner=owners.get(r.owner_id, ""), published_at=r.published_at,
                   created_at=r.created_at, updated_at=r.updated_at,
                   csv_url=f"{base}/reports/{r.slug}.csv",
                   json_url=f"{base}/reports/{r.slug}.json", pk=r.id) for r in rows]


@strawberry.type
class ReportQuery:
    @strawberry.field(description="Your saved reports (an admin sees everyone's).",
                      permission_classes=[IsViewer])
    async def reports(self, info: Info) -> list[Report]:
        return await _shape(info, await _reports(info).all_visible())

    @strawberry.field(description="One report by id, if you may see it.",
                      permission_classes=[IsViewer])
    async def report(self, info: Info, id: strawberry.ID) -> Report:
        row = await _reports(info).get(_ref(id, "Report"))
        return (await _shape(info, [row]))[0]


@strawberry.type
class ReportMutation:
    @strawberry.mutation(description="Save a query as a report of yours (not yet published).",
                         permission_classes=[IsViewer])
    async def create_report(self, info: Info, input: ReportInput) -> Report:
        row = await _reports(info).create(await _draft(info, input))
        return (await _shape(info, [row]))[0]

    @strawberry.mutation(description="Replace one of your reports; its tokens keep working.",
                         permission_classes=[IsViewer])
    async def update_report(self, info: Info, id: strawberry.ID, input: ReportInput
                            ) -> Report:
        row = await _reports(info).update(_ref(id, "Report"), await _draft(info, input))
        return (await _shape(info, [row]))[0]

    @strawberry.mutation(description="Delete a report and its tokens. Its id.",
                         permission_classes=[IsViewer])
    async def delete_report(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        await _reports(info).delete(_ref(id, "Report"))
        return id

    @strawberry.mutation(description=(
        "Publish one of your reports and issue a read-only token for it (call again for "
        "another token, e.g. one per tool). The secret is in this answer only."),
        permission_classes=[IsViewer])
    async def publish_report(self, info: Info, id: strawberry.ID,
                             token_name: str = "default") -> PublishedReport:
        secret, token, row = await _reports(info).publish(_ref(id, "Report"), token_name)
        return PublishedReport(report=(await _shape(info, [row]))[0],
                               token=ReportToken.from_row(token), secret=secret)

    @strawberry.mutation(description="Take a report off its URL: every token of it stops "
                                     "working.", permission_classes=[IsViewer])
    async def unpublish_report(self, info: Info, id: strawberry.ID) -> Report:
        row = await _reports(info).unpublish(_ref(id, "Report"))
        return (await _shape(info, [row]))[0]

    @strawberry.mutation(description="Revoke one token of a report.",
                         permission_classes=[IsViewer])
    async def revoke_report_token(self, info: Info, id: strawberry.ID) -> ReportToken:
        return ReportToken.from_row(await _reports(info).revoke_token(_ref(id, "ReportToken")))
