"""An ASGI fake of the BMC Remedy / Helix AR System REST API, over the demo world.

It speaks the real wire format (JWT login with `AR-JWT` tokens that expire,
`/api/arsys/v1/entry/{form}` with qualifications, `fields`, `sort`,
`offset`/`limit` and `_links.next`, 201 + `Location` on create, AR error
arrays) so that the Remedy connector is tested against Remedy's behaviour,
including the change process flow that refuses illegal status jumps.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connectors.config import ConnectorConfig
from connectors.remedy.sandbox.forms import (
    CHANGE_CREATE_FORM,
    CHANGE_FORM,
    CHANGE_ID_OFFSET,
    CORRELATION_FIELD,
    HELD_AT_FIELD,
    INCIDENT_CREATE_FORM,
    INCIDENT_FORM,
    NEEDS_REASON,
    Form,
    allowed_next,
    ar_date,
    build_forms,
    change_number,
    instance_id,
    normalise,
    priority_for,
)
from connectors.remedy.sandbox.qualification import (
    FieldSpec,
    QualificationError,
    UnknownFieldError,
    compile_qualification,
    parse_date,
)
from connectors.sandbox.kit import Credentials, SandboxKit, route_path
from connectors.sandbox.registry import DemoWiring, Sandbox
from connectors.sandbox.world import World, build_world

API_VERSIONS = ("v1", "v1.0")
DEFAULT_LIMIT = 100
MAX_ENTRY_ID = 15


class ARError(Exception):
    """An AR System message, answered as Remedy's one-element error array."""

    def __init__(self, status: int, number: int, text: str, appended: str | None = None) -> None:
        super().__init__(f"{number}: {text}")
        self.status = status
        self.number = number
        self.text = text
        self.appended = appended

    def response(self) -> Response:
        return ar_error_response(self.status, self.number, self.text, self.appended)


def ar_error_response(status: int, number: int, text: str, appended: str | None = None) -> Response:
    body = [{"messageType": "ERROR", "messageText": text, "messageAppendedText": appended,
             "messageNumber": number}]
    return JSONResponse(body, status_code=status)


def kit_error(status: int, message: str) -> Response:
    """Errors the kit raises (faults, unknown routes) come from the gateway, not from AR:
    they keep the array shape a client parses, with message number 0."""
    return ar_error_response(status, 0, message)


# Messages (number, text). Numbers below 10000 are the AR server's own.
AUTH_FAILED = (623, "Authentication failed")
ENTRY_MISSING = (302, "Entry does not exist in database")
FORM_MISSING = (303, "Form does not exist on server")
NO_SUCH_FIELD = (314, "Field does not exist on current form")
REQUIRED_BLANK = (326, "Required field cannot be blank.")
OUT_OF_LIMITS = (306, "Value does not fall within the limits specified for the field")
ID_TOO_LONG = (101, "Entry ID parameter length is longer than the maximum allowed length.")
BAD_QUALIFICATION = (1588, "Failure during the parsing of the qualification")
BAD_PARAMETER = (8754, "Invalid parameter value")
# Change Management workflow messages live above the AR range.
FLOW_REFUSED = (10000, "The status transition is not allowed by the change process flow.")

# HTTP status per failure class; Remedy answers workflow and data validation
# errors from the server with 500 and request-syntax problems with 400.
HTTP_SYNTAX = 400
HTTP_WORKFLOW = 500


class RemedySandbox:
    """Per-app state: the forms, the issued tokens and the clock that expires them."""

    def __init__(self, world: World, credentials: Credentials, token_ttl_seconds: float,
                 clock: Callable[[], float]) -> None:
        self.world = world
        self.credentials = credentials
        self.token_ttl_seconds = token_ttl_seconds
        self.clock = clock
        self.forms = build_forms(world)
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (user, expires at)

    # --- auth -------------------------------------------------------------

    def issue_token(self, username: str) -> str:
        expires = self.clock() + self.token_ttl_seconds
        header = _b64({"alg": "HS256", "typ": "JWT"})
        payload = _b64({"sub": username, "exp": int(expires), "jti": secrets.token_hex(8)})
        token = f"{header}.{payload}.{secrets.token_urlsafe(32)}"
        self.tokens[token] = (username, expires)
        return token

    def user_for(self, token: str) -> str | None:
        if token == self.credentials.token:
            return self.credentials.username
        issued = self.tokens.get(token)
        if issued is None:
            return None
        if issued[1] <= self.clock():
            del self.tokens[token]
            return None
        return issued[0]

    def check_auth(self, request: Request) -> Response | None:
        """Every call but login needs a live `AR-JWT` token."""
        if route_path(request.scope) == "/api/jwt/login":
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "AR-JWT" or self.user_for(token.strip()) is None:
            return ar_error_response(401, *AUTH_FAILED)
        return None

    async def login(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        username = form.get("username", [""])[0]
        password = form.get("password", [""])[0]
        if username != self.credentials.username or password != self.credentials.password:
            return ar_error_response(401, *AUTH_FAILED, appended=username or None)
        return PlainTextResponse(self.issue_token(username))

    async def logout(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        self.tokens.pop(token, None)
        return Response(status_code=204)

    def _user(self, request: Request) -> str:
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        return self.user_for(token) or self.credentials.username

    # --- entry routes -----------------------------------------------------

    async def list_entries(self, request: Request) -> Response:
        try:
            form = self._form(request)
            predicate = _qualification(request.query_params.get("q", ""), form)
            wanted = _wanted_fields(request.query_params.get("fields"), form)
            sort_keys = _sort_keys(request.query_params.get("sort"), form)
            offset = _int_param(request, "offset", 0)
            limit = _int_param(request, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
        except ARError as exc:
            return exc.response()
        matches = [values for values in form.entries.values() if predicate(values)]
        for name, descending in reversed(sort_keys):
            matches.sort(key=_sort_key(form.fields[name], name), reverse=descending)
        page = matches[offset:offset + limit]
        params = dict(request.query_params)
        links = {"self": [{"href": self._form_url(request, form, params)}]}
        if offset + limit < len(matches):
            next_page = {**params, "offset": str(offset + limit), "limit": str(limit)}
            links["next"] = [{"href": self._form_url(request, form, next_page)}]
        if offset > 0:
            prev_page = {**params, "offset": str(max(0, offset - limit)), "limit": str(limit)}
            links["prev"] = [{"href": self._form_url(request, form, prev_page)}]
        entries = [{"values": _select(values, wanted),
                    "_links": {"self": [{"href": self._entry_url(request, form, values)}]}}
                   for values in page]
        return JSONResponse({"entries": entries, "_links": links})

    async def get_entry(self, request: Request) -> Response:
        try:
            form = self._form(request)
            values = self._entry(request, form)
            wanted = _wanted_fields(request.query_params.get("fields"), form)
        except ARError as exc:
            return exc.response()
        self_link = [{"href": self._entry_url(request, form, values)}]
        return JSONResponse({"values": _select(values, wanted), "_links": {"self": self_link}})

    async def create_entry(self, request: Request) -> Response:
        try:
            form = self._form(request)
            wanted = _wanted_fields(request.query_params.get("fields"), form)
            values = _typed_values(form, await _body_values(request))
            created = self._create(request, form, values)
        except ARError as exc:
            return exc.response()
        location = self._entry_url(request, form, created)
        headers = {"Location": location}
        if request.query_params.get("fields") is None:
            return Response(status_code=201, headers=headers)
        form_url = self._form_url(request, form, {})
        return JSONResponse({"values": _select(created, wanted),
                             "_links": {"self": [{"href": form_url}]}},
                            status_code=201, headers=headers)

    async def update_entry(self, request: Request) -> Response:
        try:
            form = self._form(request)
            values = self._entry(request, form)
            changes = _typed_values(form, await _body_values(request))
            if form.name == CHANGE_FORM:
                _apply_process_flow(values, changes, self.world.clock.now())
            if form.name == INCIDENT_FORM:
                _stamp_incident(values, changes, self.world.clock.now())
        except ARError as exc:
            return exc.response()
        changes.pop("Request ID", None)
        values.update(changes)
        values["Last Modified By"] = self._user(request)
        values["Last Modified Date"] = ar_date(self.world.clock.now())
        return Response(status_code=204)

    async def delete_entry(self, request: Request) -> Response:
        try:
            form = self._form(request)
            values = self._entry(request, form)
        except ARError as exc:
            return exc.response()
        del form.entries[str(values["Request ID"])]
        return Response(status_code=204)

    # --- helpers ------------------------------------------------------------

    def _form(self, request: Request) -> Form:
        if request.path_params["version"] not in API_VERSIONS:
            raise ARError(404, 0, "Not Found", request.path_params["version"])
        name = request.path_params["form"]
        form = self.forms.get(name)
        if form is None:
            raise ARError(404, *FORM_MISSING, appended=name)
        return form

    def _entry(self, request: Request, form: Form) -> dict[str, object]:
        entry_id = request.path_params["entry_id"]
        if len(entry_id) > MAX_ENTRY_ID and "|" not in entry_id:
            raise ARError(HTTP_SYNTAX, *ID_TOO_LONG, appended=entry_id)
        values = form.entries.get(entry_id)
        if values is None:
            raise ARError(404, *ENTRY_MISSING, appended=entry_id)
        return values

    def _form_url(self, request: Request, form: Form, params: Mapping[str, str]) -> str:
        """Absolute, from the request's base URL, so links work under a mount prefix."""
        version = request.path_params["version"]
        url = f"{_base_url(request)}api/arsys/{version}/entry/{quote(form.name, safe=':')}"
        return f"{url}?{urlencode(params, quote_via=quote)}" if params else url

    def _entry_url(self, request: Request, form: Form, values: Mapping[str, object]) -> str:
        entry_id = quote(str(values["Request ID"]), safe="|")
        return f"{self._form_url(request, form, {})}/{entry_id}"

    def _create(self, request: Request, form: Form, values: dict[str, object]
                ) -> dict[str, object]:
        """Submit an entry; the interface forms run the workflow that creates the record."""
        if not form.writable:
            raise ARError(HTTP_WORKFLOW, 0, "The sandbox serves this form read-only", form.name)
        now = ar_date(self.world.clock.now())
        user = self._user(request)
        core: dict[str, object] = {"Submitter": user, "Submit Date": now,
                                   "Last Modified By": user, "Last Modified Date": now}
        if form.name == CHANGE_CREATE_FORM:
            _require_action(values)
            change = self._submit_change(values, core)
            values = {**values, "Infrastructure Change Id": change["Infrastructure Change ID"],
                      "Change_Entry_ID": change["Infrastructure Change ID"], "Create Date": now}
        elif form.name == CHANGE_FORM:
            interface_view = {**values, "Status": values.pop("Change Request Status", None)}
            return self._submit_change(interface_view, core)
        elif form.name == INCIDENT_CREATE_FORM:
            _require_action(values)
            incident = self._submit_incident(values, core)
            values = {**values, "Incident Number": incident["Incident Number"],
                      "Incident_Entry_ID": incident["Request ID"], "Create Date": now}
        elif form.name == INCIDENT_FORM:
            # Submitted straight to the help desk form: its workflow numbers the incident.
            _require(values, ("Description", "Impact", "Urgency"))
            return self._submit_incident({**values, "First_Name": values.get("First_Name")
                                          or user, "Last_Name": values.get("Last_Name") or user,
                                          "Detailed_Decription": values.get(
                                              "Detailed Decription")}, core)
        record = {name: None for name in form.fields} | values | core
        record["Request ID"] = form.allocate_id()
        form.entries[str(record["Request ID"])] = record
        return record

    def _submit_change(self, given: Mapping[str, object], core: Mapping[str, object]
                       ) -> dict[str, object]:
        _require(given, ("Description", "Company", "First Name", "Last Name", "Impact", "Urgency"))
        status = str(given.get("Status") or "Draft")
        if status not in ("Draft", "Request For Authorization"):
            raise ARError(HTTP_WORKFLOW, *FLOW_REFUSED, appended=f"(new) -> {status}")
        form = self.forms[CHANGE_FORM]
        request_id = form.allocate_id()
        impact, urgency = str(given["Impact"]), str(given["Urgency"])
        copied = ("Description", "Detailed Description", "Status Reason", "Scheduled Start Date",
                  "Scheduled End Date", "Company", "ASGRP", "ServiceCI", "Reason For Change",
                  "First Name", "Last Name", CORRELATION_FIELD, "Vendor Name")
        record: dict[str, object] = {name: None for name in form.fields}
        record.update({name: given.get(name) for name in copied})
        record.update(core)
        record.update({
            "Request ID": request_id,
            "Infrastructure Change ID": f"CRQ{int(request_id) + CHANGE_ID_OFFSET:012d}",
            "Change Request Status": status,
            "Change Type": given.get("Change Type") or "Change",
            "Class": given.get("Class") or "Normal",
            "Risk Level": given.get("Risk Level") or "Risk Level 1",
            "Impact": impact, "Urgency": urgency, "Priority": priority_for(impact, urgency),
            "Location Company": given.get("Location Company") or given["Company"],
            "ASCPY": given["Company"], "InstanceId": instance_id(),
        })
        form.entries[request_id] = record
        return record

    def _submit_incident(self, given: Mapping[str, object], core: Mapping[str, object]
                         ) -> dict[str, object]:
        _require(given, ("First_Name", "Last_Name", "Description", "Impact", "Urgency"))
        form = self.forms[INCIDENT_FORM]
        request_id = form.allocate_id()
        impact, urgency = str(given["Impact"]), str(given["Urgency"])
        record: dict[str, object] = {name: None for name in form.fields}
        record.update(core)
        record.update({
            "Request ID": request_id, "Incident Number": f"INC{int(request_id) + 1000:012d}",
            "Description": given["Description"],
            "Detailed Decription": given.get("Detailed_Decription"),
            "Status": given.get("Status") or "New", "Impact": impact, "Urgency": urgency,
            "Priority": priority_for(impact, urgency), "First_Name": given["First_Name"],
            "Last_Name": given["Last_Name"], "Company": given.get("Company"),
            "Reported Source": given.get("Reported Source"),
            "Service_Type": given.get("Service_Type"),
            "Assigned Group": given.get("Assigned Group"),
        })
        record.update({name: value for name, value in given.items()
                       if name in form.fields and record.get(name) is None})
        form.entries[request_id] = record
        return record


# --- pure request helpers -------------------------------------------------------

def _base_url(request: Request) -> str:
    """The sandbox's own root, mount prefix included.

    Starlette's `request.base_url` is the outermost app's root (it uses
    `app_root_path`), so under a `Mount` it would drop the prefix.
    """
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return str(request.url.replace(path=f"{root}/", query="", fragment=""))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _qualification(text: str, form: Form) -> Callable[[Mapping[str, object]], bool]:
    try:
        return compile_qualification(text, form.fields)
    except UnknownFieldError as exc:
        raise ARError(HTTP_SYNTAX, *NO_SUCH_FIELD, appended=f"{form.name} : {exc.name}") from exc
    except QualificationError as exc:
        raise ARError(HTTP_SYNTAX, *BAD_QUALIFICATION, appended=exc.detail) from exc


_VALUES = re.compile(r"^\s*values\((?P<names>.*)\)\s*$", re.DOTALL)


def _wanted_fields(param: str | None, form: Form) -> list[str] | None:
    """`fields=values(A,B)` -> ["A", "B"]; None means every field."""
    if param is None:
        return None
    match = _VALUES.match(param)
    if match is None:
        raise ARError(HTTP_SYNTAX, *BAD_PARAMETER, appended=f"fields={param}")
    names = [name.strip() for name in match.group("names").split(",") if name.strip()]
    for name in names:
        if name not in form.fields:
            raise ARError(HTTP_SYNTAX, *NO_SUCH_FIELD, appended=f"{form.name} : {name}")
    return names


def _sort_keys(param: str | None, form: Form) -> list[tuple[str, bool]]:
    """`sort=A.asc,B.desc` -> [("A", False), ("B", True)]."""
    keys: list[tuple[str, bool]] = []
    for part in (param or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, direction = part.rpartition(".")
        if direction.lower() not in ("asc", "desc"):
            name, direction = part, "asc"
        if name not in form.fields:
            raise ARError(HTTP_SYNTAX, *NO_SUCH_FIELD, appended=f"{form.name} : {name}")
        keys.append((name, direction.lower() == "desc"))
    return keys


def _sort_key(spec: FieldSpec, name: str) -> Callable[[Mapping[str, object]], tuple[int, Any]]:
    return lambda values: _sort_value(spec, values.get(name))


def _sort_value(spec: FieldSpec, raw: object) -> tuple[int, Any]:
    """Empty values sort first; enums by number, dates by time."""
    if raw is None:
        return (0, 0)
    if spec.kind == "enum":
        return (1, spec.number_of(str(raw)) or 0)
    if spec.kind == "date":
        return (1, parse_date(str(raw)) or datetime.min.replace(tzinfo=UTC))
    return (1, raw)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ARError(HTTP_SYNTAX, *BAD_PARAMETER, appended=f"{name}={raw}")
    return int(raw)


def _select(values: Mapping[str, object], wanted: list[str] | None) -> dict[str, object]:
    if wanted is None:
        return {k: v for k, v in values.items() if not k.startswith("_")}
    return {name: values.get(name) for name in wanted}


async def _body_values(request: Request) -> dict[str, object]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise ARError(HTTP_SYNTAX, *BAD_PARAMETER, appended="request body is not JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("values"), dict):
        raise ARError(HTTP_SYNTAX, *BAD_PARAMETER, appended='body must be {"values": {...}}')
    return dict(body["values"])


def _typed_values(form: Form, given: Mapping[str, object]) -> dict[str, object]:
    """Reject unknown fields and out-of-range values; store labels and AR dates."""
    out: dict[str, object] = {}
    for name, value in given.items():
        spec = form.fields.get(name)
        if spec is None:
            raise ARError(HTTP_SYNTAX, *NO_SUCH_FIELD, appended=f"{form.name} : {name}")
        try:
            out[name] = normalise(spec, value)
        except ValueError as exc:
            raise ARError(HTTP_WORKFLOW, *OUT_OF_LIMITS, appended=f"{name} : {value}") from exc
    return out


def _require(given: Mapping[str, object], names: tuple[str, ...]) -> None:
    for name in names:
        if given.get(name) in (None, ""):
            raise ARError(HTTP_WORKFLOW, *REQUIRED_BLANK, appended=name)


def _require_action(values: Mapping[str, object]) -> None:
    """Interface forms only submit when told to; without the keyword nothing is created."""
    if values.get("z1D_Action") != "CREATE":
        raise ARError(HTTP_WORKFLOW, *REQUIRED_BLANK, appended="z1D_Action")


def _stamp_incident(current: Mapping[str, object], changes: dict[str, object],
                    at: datetime) -> None:
    """The incident workflow's stamps: resolving sets Last Resolved Date, closing Closed Date."""
    target = changes.get("Status")
    if target is None or target == current.get("Status"):
        return
    now = ar_date(at)
    if target in ("Resolved", "Closed") and not current.get("Last Resolved Date"):
        changes.setdefault("Last Resolved Date", now)
    if target == "Closed" and not current.get("Closed Date"):
        changes.setdefault("Closed Date", now)


def _apply_process_flow(current: dict[str, object], changes: dict[str, object],
                        at: datetime) -> None:
    """Refuse status jumps the process flow does not allow; remember where Pending came from."""
    target = changes.get("Change Request Status")
    status = str(current["Change Request Status"])
    if target is None or target == status:
        return
    held_at = current.get(HELD_AT_FIELD)
    if target not in allowed_next(status, str(held_at) if held_at else None):
        raise ARError(HTTP_WORKFLOW, *FLOW_REFUSED, appended=f"{status} -> {target}")
    if target in NEEDS_REASON and not changes.get("Status Reason"):
        raise ARError(HTTP_WORKFLOW, *REQUIRED_BLANK, appended="Status Reason")
    if target == "Pending":
        changes[HELD_AT_FIELD] = status
    elif status == "Pending":
        changes[HELD_AT_FIELD] = None
        changes.setdefault("Status Reason", None)
    elif "Status Reason" not in changes:
        changes["Status Reason"] = None
    now = ar_date(at)
    if target == "Implementation In Progress":
        changes.setdefault("Actual Start Date", now)
    if target == "Completed":
        changes.setdefault("Actual End Date", now)


def create_app(world: World | None = None, *, credentials: Credentials | None = None,
               webhook_url: str | None = None, webhook_secret: str | None = None,
               seed: int = 7, scale: int = 1, token_ttl_seconds: float = 3600,
               clock: Callable[[], float] = time.monotonic) -> Starlette:
    """The Remedy sandbox app; `clock` lets tests expire tokens without waiting.

    Remedy has no outbound webhooks for changes, so `webhook_url` is accepted
    for symmetry with the other sandboxes and never called.
    """
    sandbox = RemedySandbox(world or build_world(seed, scale), credentials or Credentials(),
                            token_ttl_seconds, clock)
    kit = SandboxKit("remedy", error_response=kit_error, webhook_url=webhook_url,
                     webhook_secret=webhook_secret, seed=seed)
    entry = "/api/arsys/{version}/entry/{form}"
    routes = [
        Route("/api/jwt/login", sandbox.login, methods=["POST"]),
        Route("/api/jwt/logout", sandbox.logout, methods=["POST"]),
        Route(entry, sandbox.list_entries, methods=["GET"]),
        Route(entry, sandbox.create_entry, methods=["POST"]),
        Route(entry + "/{entry_id}", sandbox.get_entry, methods=["GET"]),
        Route(entry + "/{entry_id}", sandbox.update_entry, methods=["PUT"]),
        Route(entry + "/{entry_id}", sandbox.delete_entry, methods=["DELETE"]),
    ]
    app = kit.app(routes, auth=sandbox.check_auth)
    app.state.remedy = sandbox
    return app


#: This kind's entry in the `heatshield.sandboxes` registry (pyproject.toml).
def demo_connector(wiring: DemoWiring) -> ConnectorConfig:
    return ConnectorConfig(name=wiring.name, kind="remedy", base_url=wiring.base_url,
                           auth={"type": "ar-jwt", "username": wiring.username,
                                 "password_env": wiring.password_env},
                           options={"company": "Acme Retail"})


SANDBOX = Sandbox(create_app, change_number=change_number, demo_connector=demo_connector)
