"""ServiceNow as a change source, over the Table API (`/api/now/table/change_request`).

Reads ask for both raw values and labels (`sysparm_display_value=all`) so the
canonical state comes from the number while `state_label` keeps the word the
instance shows. Every list is paged to the end with `sysparm_limit` and
`sysparm_offset`, ordered by a unique key so rows neither repeat nor vanish.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from connectors.base import (
    Answer,
    ApprovalState,
    Capability,
    ChangeDraft,
    ChangePatch,
    ChangeRecord,
    ChangeState,
    Connector,
    IncidentRecord,
    LinkKind,
    Records,
    TimeWindow,
)
from connectors.config import ConnectorConfig
from connectors.errors import (
    BadLinkKey,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import UpstreamClient
from connectors.servicenow import mapping
from connectors.servicenow.webhook import ServiceNowWebhooks

TABLE_PATH = "/api/now/table/change_request"
INCIDENT_PATH = "/api/now/table/incident"
DEFAULT_PAGE_SIZE = 1000
#: Numbers per `numberIN` query, which keeps URLs well under common limits.
DEFAULT_CHUNK_SIZE = 100
#: A change number as ServiceNow makes them (`CHG0030001`); nothing an encoded query
#: would read as an operator, and short.
_SAFE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def _query_value(text: str, what: str) -> str:
    """Encoded queries have no escaping: a caret or comma would change the query's meaning."""
    if not text or any(c in text for c in "^,\n\r"):
        raise ValueError(f"{what} {text!r} cannot be used in a ServiceNow query")
    return text


class ServiceNowConnector(Connector, ServiceNowWebhooks):
    """A ServiceNow instance; options: `page_size`, `chunk_size`."""

    kind: ClassVar[str] = "servicenow"
    product: ClassVar[str] = "ServiceNow"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CHANGE_REQUESTS})
    graph_types: ClassVar[Mapping[str, str]] = {"ChangeRequest": "ServiceNowChange"}

    def __init__(self, settings: ConnectorConfig, http: UpstreamClient) -> None:
        super().__init__(settings, http)
        self.page_size = int(settings.options.get("page_size", DEFAULT_PAGE_SIZE))
        self.chunk_size = int(settings.options.get("chunk_size", DEFAULT_CHUNK_SIZE))

    # ------------------------------------------------------------------ reads

    def parse_link(self, kind: LinkKind, key: str) -> str:
        """Change request links only, by number (`CHG0030001`)."""
        if kind is not LinkKind.CHANGE_REQUEST:
            raise self.wrong_kind(kind, key)
        number = self.plain_key(key)
        if not _SAFE_NUMBER.match(number):
            raise BadLinkKey(self.name, key, "is not a ServiceNow change number (letters, "
                             "digits, '_', '.', '-'; at most 40)")
        return number

    async def changes(self, numbers: Sequence[str]) -> Mapping[str, ChangeRecord]:
        """By number, one `numberIN` query per chunk; a number that cannot be one, or
        whose row cannot be read, gets its own error and the others stand."""
        found: Answer[str, ChangeRecord] = Answer()
        wanted: list[str] = []
        for number in sorted(set(numbers)):
            try:
                wanted.append(self.parse_link(LinkKind.CHANGE_REQUEST, number))
            except BadLinkKey as error:
                found.fail(number, error)
        chunks = [wanted[i:i + self.chunk_size] for i in range(0, len(wanted), self.chunk_size)]
        results = await asyncio.gather(
            *(self._rows("numberIN" + ",".join(chunk) + "^ORDERBYnumber") for chunk in chunks),
            return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
            for row in result:
                number = mapping.value_of(row, "number")
                try:
                    record = self._record(row, count=False)
                except UpstreamBadResponse as error:
                    if number in wanted:
                        found.fail(number, error.for_key(number))
                    continue
                if record.number in wanted:
                    found[record.number] = record
        return found

    async def search_changes(self, state: ChangeState | None = None,
                             window: TimeWindow | None = None) -> list[ChangeRecord]:
        """The query narrows upstream; the mapping decides, so `status_map` is honoured."""
        parts: list[str] = []
        if state is ChangeState.ON_HOLD:
            parts.append("on_hold=true")
        elif state is not None:
            values = mapping.raw_states_for(state, self.settings.status_map)
            if not values:
                return []
            parts += ["stateIN" + ",".join(values), "on_hold!=true"]
            if state is ChangeState.REJECTED:
                parts.append("approval=rejected")
        if window is not None:
            parts += [f"start_date<={mapping.format_time(window.end)}",
                      f"end_date>={mapping.format_time(window.start)}"]
        parts += ["ORDERBYstart_date", "ORDERBYsys_id"]
        records: Records[ChangeRecord] = Records()
        for row in await self._rows("^".join(parts)):
            try:
                record = self._record(row, count=False)
            except UpstreamBadResponse as error:
                number = mapping.value_of(row, "number") or mapping.value_of(row, "sys_id")
                records.dropped.append(error.for_key(number) if number else error)
                continue
            if state is None or record.state is state:
                records.append(record)
        return records

    async def incidents(self, services: Sequence[str], since: datetime) -> list[IncidentRecord]:
        """One `incident` query per chunk of service names, chunks run concurrently; the
        causing change comes as its number through the display values."""
        records: Records[IncidentRecord] = Records()
        names: list[str] = []
        for name in sorted(set(services)):
            try:
                names.append(mapping.query_name(name))
            except ValueError:  # the others still stand; this one is named
                records.dropped.append(BadLinkKey(
                    self.name, name, "cannot be used in a ServiceNow query (a caret, a comma "
                    "or a line break)"))
        chunks = [names[i:i + self.chunk_size] for i in range(0, len(names), self.chunk_size)]
        queries = [mapping.incident_query(chunk, since) for chunk in chunks]
        pages = await asyncio.gather(*(
            self._rows(query, INCIDENT_PATH, mapping.INCIDENT_FIELDS) for query in queries))
        seen: set[str] = set()
        for row in (row for page in pages for row in page):
            try:
                record = mapping.incident_from_row(row, source=self.name,
                                                   instance_url=self.settings.base_url)
            except ValueError as exc:
                number = mapping.value_of(row, "number") or None
                records.dropped.append(UpstreamBadResponse(
                    self.name, f"unreadable incident: {exc}"[:300], key=number))
                continue
            if record.number not in seen:
                seen.add(record.number)
                records.append(record)
        return records

    async def find_by_correlation_id(self, correlation_id: str) -> ChangeRecord | None:
        value = _query_value(correlation_id, "correlation id")
        rows = await self._rows(f"correlation_id={value}^ORDERBYsys_created_on^ORDERBYsys_id")
        return self._record(rows[0]) if rows else None

    # ------------------------------------------------------------------ writes

    async def create_change(self, draft: ChangeDraft) -> ChangeRecord:
        """Never a duplicate: look up the correlation id before, and after a lost answer."""
        existing = await self.find_by_correlation_id(draft.correlation_id)
        if existing is not None:
            return existing
        try:
            # A business rule aborting the insert answers 403 "Operation Failed".
            response = await self.http.request("POST", TABLE_PATH, params=self._read_params(),
                                               json=mapping.draft_to_body(draft),
                                               accept=(403,))
        except (UpstreamTimeout, UpstreamUnavailable) as lost:
            # The instance may have committed the record before the answer was lost.
            try:
                committed = await self.find_by_correlation_id(draft.correlation_id)
            except (UpstreamTimeout, UpstreamUnavailable):
                raise lost from None
            if committed is not None:
                return committed
            raise
        if response.status_code == 403 and not self._aborted(response):
            raise self._denied(response)
        if response.status_code not in (200, 201):
            raise self._refused(response, f"creating a change for {draft.correlation_id}")
        return self._record(self._result_object(response))

    async def update_change(self, number: str, patch: ChangePatch) -> ChangeRecord:
        """Fields and the first state step go in one PATCH, each further step in its own."""
        value = _query_value(number, "change number")
        rows = await self._rows(f"number={value}^ORDERBYsys_id")
        if not rows:
            raise UpstreamRefused(self.name, f"no change request {number}", status=404)
        row = rows[0]
        current = self._record(row)
        state_value = mapping.choice_of(row, "state")
        on_hold = current.state is ChangeState.ON_HOLD
        fields = mapping.patch_to_body(patch)
        steps: list[str] = []
        if patch.state is ChangeState.ON_HOLD:
            if state_value in mapping.CLOSED_VALUES:
                raise UpstreamRefused(
                    self.name, f"{number} is {current.state_label}; it cannot be put on hold")
            if not on_hold:
                fields |= {"on_hold": "true",
                           "on_hold_reason": patch.note or "Put on hold from Heatshield"}
        elif patch.state is not None:
            try:
                steps = mapping.state_steps(
                    current.type, state_value, patch.state,
                    approved=current.approval is ApprovalState.APPROVED)
            except mapping.IllegalTransition as exc:
                raise UpstreamRefused(self.name, f"{number}: {exc}") from None
            if on_hold:
                fields["on_hold"] = "false"
        bodies = [{**fields, "state": steps[0]}, *({"state": s} for s in steps[1:])] \
            if steps else ([fields] if fields else [])
        for body in bodies:
            row = await self._patch(number, current.upstream_id, mapping.choice_of(row, "state"),
                                    body)
        return self._record(row)

    # ------------------------------------------------------------------ wire helpers

    @staticmethod
    def _read_params(fields: Sequence[str] = mapping.FIELDS) -> dict[str, str]:
        return {"sysparm_fields": ",".join(fields), "sysparm_display_value": "all",
                "sysparm_exclude_reference_link": "true"}

    async def _rows(self, query: str, path: str = TABLE_PATH,
                    fields: Sequence[str] = mapping.FIELDS) -> list[dict[str, Any]]:
        """Every row matching `query`, page after page until the instance says done."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            params = {**self._read_params(fields), "sysparm_query": query,
                      "sysparm_limit": str(self.page_size), "sysparm_offset": str(offset)}
            response = await self.http.request("GET", path, params=params)
            if not response.is_success:
                raise self.http.unexpected(response)
            page = self._result_list(response)
            rows += page
            offset += len(page)
            if not page:
                return rows
            total = response.headers.get("x-total-count")
            if total is not None and total.isdigit():
                if offset >= int(total):
                    return rows
            elif "link" in response.headers:
                if 'rel="next"' not in response.headers["link"]:
                    return rows
            elif len(page) < self.page_size:
                return rows

    async def _patch(self, number: str, sys_id: str, before: str,
                     body: dict[str, str]) -> dict[str, Any]:
        target = body.get("state")
        move = (f"from {mapping.STATE_LABELS.get(before, before)} to "
                f"{mapping.STATE_LABELS.get(target, target)}") if target else ""
        # The id comes from the instance: encoded whole; the HTTP layer refuses a dot segment.
        response = await self.http.request("PATCH", f"{TABLE_PATH}/{quote(sys_id, safe='')}",
                                           params=self._read_params(), json=body, accept=(403,))
        if response.status_code == 403:
            # A business rule aborting a state change answers 403, like a missing role would;
            # during a move along the change model it is the model saying no.
            if not (target or self._aborted(response)):
                raise self._denied(response)
            what = f"moving it {move}" if target else "the update"
            raise UpstreamRefused(self.name, f"{number}: ServiceNow refused {what} "
                                  f"({self._reason(response)})"[:400], status=403)
        if response.status_code != 200:
            raise self._refused(response, f"updating {number}" + (f" {move}" if move else ""))
        row = self._result_object(response)
        if target and mapping.choice_of(row, "state") != target:
            raise UpstreamRefused(self.name, f"{number}: ServiceNow ignored moving it {move}")
        return row

    def _record(self, row: Mapping[str, Any], *, count: bool = True) -> ChangeRecord:
        """`count=False` for a row among others: it is left out, the breaker not told."""
        try:
            return mapping.change_from_row(row, source=self.name,
                                           instance_url=self.settings.base_url,
                                           overrides=self.settings.status_map)
        except ValueError as exc:
            error = UpstreamBadResponse(self.name, f"unreadable change_request: {exc}")
            raise (self.http.note_error(error) if count else error) from None

    def _body(self, response: httpx.Response) -> Any:
        body = self.http.json(response)
        if not isinstance(body, dict) or "result" not in body:
            raise self._bad(f"{response.request.method} {response.request.url.path}: "
                            "no result in the response", status=response.status_code)
        return body["result"]

    def _result_list(self, response: httpx.Response) -> list[dict[str, Any]]:
        result = self._body(response)
        if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
            raise self._bad("a list response whose result is not a list")
        return result

    def _result_object(self, response: httpx.Response) -> dict[str, Any]:
        result = self._body(response)
        if not isinstance(result, dict):
            raise self._bad("a record response whose result is not a record")
        return result

    def _bad(self, message: str, status: int | None = None) -> UpstreamBadResponse:
        """A bad answer, counted in health and the breaker."""
        return self.http.note_error(UpstreamBadResponse(self.name, message, status=status))

    def _refused(self, response: httpx.Response, doing: str) -> UpstreamRefused:
        return UpstreamRefused(self.name, f"ServiceNow refused {doing} "
                               f"({self._reason(response)})"[:400], status=response.status_code)

    def _denied(self, response: httpx.Response) -> UpstreamAuthFailed:
        """A 403 that is not a business rule: the account lacks a role or an ACL."""
        return self.http.note_error(UpstreamAuthFailed(
            self.name, f"{response.request.method} {response.request.url.path}: permission "
            f"denied (403: {self._reason(response)})"[:400], status=403))

    @staticmethod
    def _error(response: httpx.Response) -> Mapping[str, Any]:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            return {}
        return error if isinstance(error, Mapping) else {}

    def _reason(self, response: httpx.Response) -> str:
        """The instance's own `error.message`/`detail` (user-facing text, no secrets)."""
        error = self._error(response)
        words = [str(error[k]) for k in ("message", "detail") if error.get(k)]
        return ": ".join(words) or f"status {response.status_code}"

    def _aborted(self, response: httpx.Response) -> bool:
        """Whether a 403 is a business rule aborting the write, not a missing permission."""
        return self._error(response).get("message") == "Operation Failed"
