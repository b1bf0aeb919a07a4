"""The BMC Remedy / Helix connector: change requests over the AR System REST API.

Reads search `CHG:Infrastructure Change` with qualifications joined by `OR`
(chunked to keep URLs short) and follow `_links.next` to the end; creates go
through `CHG:ChangeInterface_Create` after a look-up of the correlation field,
so a retried create never makes a second change; updates walk the process
flow one status at a time. Auth is AR-JWT: a login token, cached, renewed
before it expires or when refused, with one login in flight at a time.

Options (`ConnectorConfig.options`): `company` (required to create),
`first_name`/`last_name` (the requester on create; default from the login),
`impact`/`urgency` (labels overriding the ones derived from the draft),
`page_size` (default 100), `token_ttl_seconds` (default 3600),
`status_reasons` (status -> Status Reason sent when walking to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from connectors.base import (
    Answer,
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
    ConnectorConfigError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import (
    LoginFailed,
    LoginTokenAuth,
    UpstreamClient,
    retry_after_seconds,
)
from connectors.remedy import mapping as m

API = "api/arsys/v1/entry/"
LOGIN = "api/jwt/login"
LOGOUT = "api/jwt/logout"
#: Longest qualification text per call (about 60 change numbers); URL-encoded, the
#: whole request line stays near 5 kB, under the 8 kB that servers and proxies accept.
MAX_QUALIFICATION_CHARS = 3000
#: A paging loop that runs longer than this is a server bug, not data.
MAX_PAGES = 10_000
#: A change ID as Remedy makes them (`CRQ000000001234`), and short.
_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


R = TypeVar("R")


def form_path(form: str) -> str:
    return API + quote(form, safe=":")


class ArJwtAuth(LoginTokenAuth):
    """`Authorization: AR-JWT <token>` from `POST /api/jwt/login`.

    The base class shares one login among concurrent callers and renews once on
    a 401; here a token is also renewed shortly before its lifetime ends.
    """

    def __init__(self, source: str, base_url: httpx.URL, username: str, password: SecretStr,
                 ttl_seconds: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._source = source
        self._base_url = base_url
        self._username = username
        self._password = password
        self._ttl = ttl_seconds
        self._issued_at = 0.0

    # --- the hooks of LoginTokenAuth --------------------------------------

    def login_request(self) -> httpx.Request:
        return httpx.Request(
            "POST", self._base_url.join(LOGIN),
            data={"username": self._username, "password": self._password.get_secret_value()},
            headers={"Accept": "text/plain, application/json"})

    def token_from(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in (401, 403):
            raise LoginFailed(m.error_text(_json_or_none(response)) or f"HTTP {status}")
        if status == 429 or status >= 500:
            error_type = UpstreamRateLimited if status == 429 else UpstreamUnavailable
            raise error_type(self._source, f"POST /api/jwt/login: upstream answered {status}",
                             status=status, retry_after=retry_after_seconds(response.headers))
        token = response.text.strip()
        if status != 200 or not token or " " in token:
            raise LoginFailed(f"unexpected login answer (HTTP {status})")
        return token

    def apply(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"AR-JWT {token}"

    # --- the flow ----------------------------------------------------------

    def current_token(self) -> str | None:
        """The cached token while it has some life left; renewal starts a minute early."""
        token = super().current_token()
        if token is None:
            return None
        margin = min(60.0, self._ttl * 0.1)
        if self._clock() - self._issued_at >= self._ttl - margin:
            return None
        return token

    def remember(self, token: str) -> None:
        super().remember(token)
        self._issued_at = self._clock()


def _json_or_none(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


class RemedyConnector(Connector):
    """A `ChangeSource` over one Remedy / Helix server."""

    kind = "remedy"
    product = "BMC Remedy"
    capabilities = frozenset({Capability.CHANGE_REQUESTS})
    graph_types = {"ChangeRequest": "RemedyChange"}

    def __init__(self, settings: ConnectorConfig, http: UpstreamClient) -> None:
        super().__init__(settings, http)
        options = settings.options
        self.page_size = int(options.get("page_size", 100))
        self.jwt: ArJwtAuth | None = None
        secrets = http.secrets
        if secrets is not None and secrets.type == "ar-jwt":
            assert secrets.username is not None and secrets.password is not None  # validated
            self.jwt = ArJwtAuth(settings.name, http.base_url, secrets.username, secrets.password,
                                 float(options.get("token_ttl_seconds", 3600)), http.clock)
            http.auth = self.jwt

    # --- reads ------------------------------------------------------------------

    def parse_link(self, kind: LinkKind, key: str) -> str:
        """Change request links only, by Infrastructure Change ID (`CRQ000000001234`)."""
        if kind is not LinkKind.CHANGE_REQUEST:
            raise self.wrong_kind(kind, key)
        number = self.plain_key(key)
        if not _NUMBER.match(number):
            raise BadLinkKey(self.name, key, "is not a Remedy change ID (letters, digits, "
                             "'_', '.', '-'; at most 40)")
        return number

    async def changes(self, numbers: Sequence[str]) -> Mapping[str, ChangeRecord]:
        """One search per chunk of numbers (usually one), chunks run concurrently; a
        number that cannot be one, or whose entry cannot be read, gets its own error."""
        result: Answer[str, ChangeRecord] = Answer()
        wanted: list[str] = []
        for number in dict.fromkeys(numbers):
            try:
                wanted.append(self.parse_link(LinkKind.CHANGE_REQUEST, number))
            except BadLinkKey as error:
                result.fail(number, error)
        chunks = m.any_of(m.NUMBER, wanted, MAX_QUALIFICATION_CHARS)
        pages = await asyncio.gather(*(self._search(q) for q in chunks))
        found = {record.number: record for page in pages for record in page}
        unreadable = {error.key: error for page in pages for error in page.dropped}
        for number in wanted:
            if number in found:
                result[number] = found[number]
            elif number in unreadable:
                result.fail(number, unreadable[number])
        return result

    async def search_changes(self, state: ChangeState | None = None,
                             window: TimeWindow | None = None) -> list[ChangeRecord]:
        """Server-side status and window filter; the canonical state is checked again
        here, because a reason-specific override can split one status across states."""
        statuses = None
        if state is not None:
            statuses = m.statuses_for(state, self.settings.status_map)
            if not statuses:
                return []
        records = await self._search(m.search_qualification(statuses, window),
                                     sort=f"{m.START}.asc")
        return Records([r for r in records if state is None or r.state is state],
                       records.dropped)

    async def changes_modified_since(self, since: datetime | None,
                                     numbers: Sequence[str]) -> list[ChangeRecord]:
        """Remedy has no outbound webhooks worth relying on, so the hub polls this: one
        search per chunk of numbers (usually one), run concurrently."""
        wanted = [n for n in dict.fromkeys(numbers) if _NUMBER.match(n)]
        if not wanted:
            return []
        clause = m.modified_since(since) if since is not None else ""
        chunks = m.any_of(m.NUMBER, wanted, MAX_QUALIFICATION_CHARS - len(clause) - 5)
        pages = await asyncio.gather(*(
            self._search(f"{chunk} AND {clause}" if clause else chunk) for chunk in chunks))
        return Records([record for page in pages for record in page],
                       [error for page in pages for error in page.dropped])

    async def find_by_correlation_id(self, correlation_id: str) -> ChangeRecord | None:
        records = await self._search(m.equals(m.CORRELATION, correlation_id))
        if not records and records.dropped:
            # A change we cannot read is still a change: never answer "none" and
            # let the caller create a second one.
            raise self.http.note_error(records.dropped[0])
        return records[0] if records else None

    async def incidents(self, services: Sequence[str], since: datetime) -> list[IncidentRecord]:
        """One `HPD:Help Desk` search per chunk of services (usually one), run concurrently."""
        names = sorted(set(services))
        if not names:
            return []
        pages = await asyncio.gather(*(
            self._search(q, sort=f"{m.SUBMITTED}.asc", form=m.INCIDENT_FORM,
                         fields=m.INCIDENT_FIELDS, read=self._incident)
            for q in m.incident_qualification(names, since, MAX_QUALIFICATION_CHARS)))
        return Records([record for page in pages for record in page],
                       [error for page in pages for error in page.dropped])

    def _incident(self, entry: Mapping[str, Any]) -> IncidentRecord:
        return m.incident_record(entry, source=self.name)

    @overload
    async def _search(self, qualification: str, sort: str | None = None) -> Records[ChangeRecord]:
        ...

    @overload
    async def _search(self, qualification: str, sort: str | None = None, *, form: str,
                      fields: Sequence[str], read: Callable[[Mapping[str, Any]], R]
                      ) -> Records[R]:
        ...

    async def _search(self, qualification: str, sort: str | None = None, *,
                      form: str = m.CHANGE_FORM, fields: Sequence[str] = m.READ_FIELDS,
                      read: Callable[[Mapping[str, Any]], Any] | None = None
                      ) -> Records[Any]:
        """Every matching entry, mapped one by one; one that cannot be read is left
        out of the records and named in their `dropped`."""
        reader = read or self._record
        params: dict[str, Any] = {"q": qualification,
                                  "fields": m.fields_param(fields),
                                  "offset": 0, "limit": self.page_size}
        if sort:
            params["sort"] = sort
        if not qualification:
            del params["q"]
        records: Records[Any] = Records()
        url: str | None = form_path(form)
        query: dict[str, Any] | None = params
        for _ in range(MAX_PAGES):
            if url is None:
                return records
            body = await self._read(url, query)
            try:
                entries, url = m.entries_page(body)
            except m.RemedyPayloadError as exc:
                raise self._bad(str(exc)) from None
            for entry in entries:
                try:
                    records.append(reader(entry))
                except ValueError as exc:  # RemedyPayloadError, or a value it cannot read
                    values = entry.get("values")
                    number = (values.get(m.NUMBER) or values.get(m.INCIDENT_NUMBER)
                              if isinstance(values, Mapping) else None)
                    key = number if isinstance(number, str) and number else None
                    what = "incident" if form == m.INCIDENT_FORM else "change"
                    records.dropped.append(UpstreamBadResponse(
                        self.name, f"unreadable {what} entry{f' {key}' if key else ''}: "
                        f"{exc}"[:300], key=key))
            query = None
        raise self._bad(f"paging did not end after {MAX_PAGES} pages")

    async def _read(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        response = await self.http.request("GET", url, params=params)
        if response.is_success:
            return self.http.json(response)
        raise self._bad(f"GET {response.request.url.path}: HTTP {response.status_code} "
                        f"{m.error_text(_json_or_none(response))}".rstrip(),
                        status=response.status_code)

    def _record(self, entry: Mapping[str, Any]) -> ChangeRecord:
        return m.change_record(entry, source=self.name, overrides=self.settings.status_map)

    def _bad(self, message: str, status: int | None = None) -> UpstreamBadResponse:
        return self.http.note_error(UpstreamBadResponse(self.name, message, status=status))

    # --- writes ------------------------------------------------------------------

    async def create_change(self, draft: ChangeDraft) -> ChangeRecord:
        existing = await self.find_by_correlation_id(draft.correlation_id)
        if existing is not None:
            return existing
        values = m.create_values(draft, **self._requester())
        try:
            # AR answers a create its workflow rejects with 500 and its error array.
            response = await self.http.request(
                "POST", form_path(m.CREATE_FORM),
                params={"fields": m.fields_param(["Infrastructure Change Id"])},
                json={"values": values}, idempotent=False, accept=(500,))
        except (UpstreamTimeout, UpstreamUnavailable) as error:
            if error.status is not None:  # the server answered: nothing was created
                raise self._refused(f"Remedy refused to create the change "
                                    f"(HTTP {error.status})", error.status) from None
            # The answer was lost, not necessarily the change: look before failing.
            made = await self.find_by_correlation_id(draft.correlation_id)
            if made is not None:
                return made
            raise
        if response.status_code != 201:
            raise self._refused(f"Remedy refused to create the change: HTTP "
                                f"{response.status_code} "
                                f"{m.error_text(_json_or_none(response))}".rstrip(),
                                response.status_code)
        number = m.created_change_number(_json_or_none(response))
        if number is None and response.headers.get("location"):
            number = m.created_change_number(await self._read(response.headers["location"]))
        record = (await self.changes([number])).get(number) if number else None
        if record is None:
            record = await self.find_by_correlation_id(draft.correlation_id)
        if record is None:
            raise self._bad("Remedy accepted the change but it cannot be read back")
        return record

    def _requester(self) -> dict[str, str]:
        options = self.settings.options
        company = options.get("company")
        if not company:
            raise ConnectorConfigError(
                f"connector {self.name!r}: options.company is needed to create changes")
        login = self.settings.auth.username or "heatshield"
        first, _, last = login.partition("@")[0].replace(".", " ").partition(" ")
        requester = {"company": str(company),
                     "first_name": str(options.get("first_name") or first or "Heatshield"),
                     "last_name": str(options.get("last_name") or last or first or "Heatshield")}
        for key in ("impact", "urgency"):
            if options.get(key):
                requester[key] = str(options[key])
        return requester

    async def update_change(self, number: str, patch: ChangePatch) -> ChangeRecord:
        """Field changes ride on the first PUT; each further status is its own PUT.

        `note` is not written: the sandbox serves no work-info form
        (`CHG:WorkLog`) to add it to.
        """
        record = (await self.changes([number])).get(number)
        if record is None:
            raise self._refused(f"change {number} does not exist", 404)
        status, reason = m.split_state_label(record.state_label)
        steps: list[tuple[str, str | None]] = []
        if patch.state is not None:
            try:
                steps = m.status_walk(status, reason, patch.state, self.settings.status_map,
                                      self.settings.options.get("status_reasons"))
            except m.IllegalTransition as exc:
                raise self._refused(f"cannot move {number} to {patch.state.value}: {exc}",
                                    None) from None
        fields = m.patch_values(patch)
        puts: list[dict[str, object]] = []
        for step_status, step_reason in steps:
            put: dict[str, object] = {m.STATUS: step_status}
            if step_reason:
                put[m.REASON] = step_reason
            puts.append(put)
        if fields:
            puts = [{**fields, **puts[0]}, *puts[1:]] if puts else [fields]
        path = f"{form_path(m.CHANGE_FORM)}/{quote(record.upstream_id, safe='|')}"
        for put in puts:
            await self._put(path, number, put)
        updated = (await self.changes([number])).get(number)
        if updated is None:
            raise self._bad(f"change {number} vanished during the update")
        return updated

    async def _put(self, path: str, number: str, values: Mapping[str, object]) -> None:
        target = values.get(m.STATUS)
        doing = f"move {number} to {target!r}" if target else f"update {number}"
        # Remedy answers workflow refusals (process flow, required fields) with 500
        # and its error array, which says why.
        response = await self.http.request("PUT", path, json={"values": dict(values)},
                                           accept=(500,))
        if not response.is_success:
            raise self._refused(f"Remedy refused to {doing}: HTTP {response.status_code} "
                                f"{m.error_text(_json_or_none(response))}".rstrip(),
                                response.status_code)

    def _refused(self, message: str, status: int | None) -> UpstreamRefused:
        """Quotes AR's own message text (never credentials); long arrays are cut short."""
        return UpstreamRefused(self.name, message[:400], status=status)

    # --- lifecycle ---------------------------------------------------------------

    async def aclose(self) -> None:
        """Log out (best effort) so the server can drop the session, then close."""
        if self.jwt is not None and self.jwt.current_token() is not None:
            with contextlib.suppress(UpstreamError):
                await self.http.request("POST", LOGOUT, idempotent=False)
            self.jwt.drop()
        await super().aclose()
