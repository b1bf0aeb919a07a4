"""The HTTP endpoint for the graph: context per request and coded errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from graphql.execution.executor import SELECTIONS_NESTED_TOO_DEEPLY
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.base import BaseRequestProtocol
from strawberry.types import ExecutionResult

from api.compression import GZIP_MIN_BYTES, KeptGzip
from api.errors import ErrorCode, ServiceError
from api.graphql_http import (
    CONTENT_TYPES,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    is_request_error,
    negotiate,
    status_for,
)
from api.json_body import parse_json
from api.permissions import Principal
from api.persisted_queries import PersistedQueries, PersistedQueryError
from api.request_context import current_request
from api.response_cache import Read, ResponseCache, Served, identity_read, watch
from api.schema.context import Context
from api.schema.errors import shape_error

# Strawberry refuses these requests with an HTTPException that has a status and a
# reason, nothing more; several share status 400, so the reason is all there is.
_REQUEST_CODES = (("Too many operations", "TOO_MANY_OPERATIONS"),
                  ("Batching is not enabled", "BATCHING_DISABLED"),
                  ("not allowed when using GET", "OPERATION_NOT_ALLOWED"),
                  ("only supports GET and POST", "METHOD_NOT_ALLOWED"))
# GraphQL over HTTP: a mutation sent with GET is 405 (Method Not Allowed), whichever
# media type; so is any method but GET and POST. Strawberry says 400 for the first.
_METHOD_REFUSALS = {"OPERATION_NOT_ALLOWED": "POST", "METHOD_NOT_ALLOWED": "GET, POST"}
_EXCHANGE = "heatshield.graphql_http"
# graphql-core reports its parser's limits (tokens, comments, nesting) and the
# recursion limits of variable coercion with nothing but the words of the message:
# they are GraphQLSyntaxErrors like any typo, or bare GraphQLErrors. Only these are
# told apart by message, because graphql-core gives nothing else to tell them by.
_PARSER_LIMITS = ("Syntax Error: Document contains more than",
                  "Syntax Error: Document is nested too deeply")
_VARIABLE_LIMITS = ("Variable values are nested too deeply",)


def error_code(error: GraphQLError) -> str:
    """A code for errors graphql-core raises before any resolver runs, by their structure.

    Parse errors are `GraphQLSyntaxError`s. Validation errors already carry codes
    (`api.limits.GuardedValidation` codes every rule's, our own limits code
    themselves). What is left comes from graphql-core's execute before any
    resolver: variable coercion (`get_variable_values`) places its errors at the
    variable's definition, so they are the caller's input; an error without such
    a place is the operation's (an unknown operation name, say), unless it is one
    of the limits above.
    """
    if error.path is not None:
        return "INTERNAL_SERVER_ERROR"  # raised while executing, and not by us on purpose
    if isinstance(error, GraphQLSyntaxError):
        if error.message.startswith(_PARSER_LIMITS):
            return "QUERY_TOO_COMPLEX"
        return "GRAPHQL_PARSE_FAILED"
    if error.message == SELECTIONS_NESTED_TOO_DEEPLY or error.message.startswith(
            _VARIABLE_LIMITS):
        return "QUERY_TOO_COMPLEX"
    if error.nodes and isinstance(error.nodes[0], VariableDefinitionNode):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


@dataclass
class _Exchange:
    """One request's media type, and the status each of its operations' answers asks for."""

    media: str
    statuses: list[int] = field(default_factory=list)


def _error_response(media: str, status: int, message: str, extensions: dict[str, Any],
                    headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": extensions}]},
                        status_code=status, headers=headers, media_type=CONTENT_TYPES[media])


_MEDIA_HEADERS = {media: value.encode() for media, value in CONTENT_TYPES.items()}
_DATA = b'{"data":'


@dataclass(frozen=True, slots=True)
class _KeptAnswer:
    """A kept answer sent as it is: two ASGI messages, no Response object to build."""

    body: bytes
    headers: list[tuple[bytes, bytes]]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def _asks_for_ide(request: Request) -> bool:
    """A GET without a document (nor a persisted query's hash) is the way to GraphiQL."""
    return request.method == "GET" and "query" not in request.query_params \
        and "extensions" not in request.query_params


class HeatshieldGraphQL(GraphQL[Context, None]):
    def __init__(self, *args: Any, make_context: Any, persisted: PersistedQueries,
                 responses: ResponseCache | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._make_context = make_context
        self._persisted = persisted
        self._responses = responses
        self._gzipped = KeptGzip()

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """Not for a GET that names a persisted query's hash instead of a document."""
        return super().should_render_graphql_ide(request) \
            and request.query_params.get("extensions") is None

    async def execute_single(self, request: Request, request_adapter: Any, sub_response: Any,
                             context: Context, root_value: None,
                             request_data: GraphQLRequestData) -> ExecutionResult:
        """Persisted queries (api/persisted_queries.py): the document a hash names runs."""
        try:
            resolved = await self._persisted.resolve(request_data.query,
                                                     request_data.extensions)
        except PersistedQueryError as exc:
            # Never cached on the way (a GET names only the hash): the retry must reach us.
            sub_response.headers["Cache-Control"] = "private, no-cache, must-revalidate"
            return ExecutionResult(data=None, errors=[exc.as_graphql_error()])
        request_data.query = resolved.query
        result = await self._answer(request, request_adapter, sub_response, context,
                                    root_value, request_data)
        if resolved.remember and resolved.query is not None \
                and not is_request_error(result.data, result.errors):
            await self._persisted.remember(resolved.remember, resolved.query)
        return result

    async def _answer(self, request: Request, request_adapter: Any, sub_response: Any,
                      context: Context, root_value: None, request_data: GraphQLRequestData
                      ) -> ExecutionResult:
        """A read from the response cache when it may be (api/response_cache.py), else run.

        The answer says how fresh it is: `extensions.cache` (HIT, SHARED: computed for a
        caller asking at the same moment, or MISS) with its age in seconds, and `Age`."""
        execute = super().execute_single
        cache = self._responses
        principal = context.principal
        key = None if cache is None else cache.key(
            request_data.query, request_data.variables, request_data.operation_name, principal)
        if cache is None or key is None or principal is None:
            return await execute(request, request_adapter, sub_response, context, root_value,
                                 request_data)

        async def run() -> tuple[ExecutionResult, bool]:
            context.principal = watch(principal)
            try:
                executed = await execute(request, request_adapter, sub_response, context,
                                         root_value, request_data)
                return executed, identity_read(context.principal)
            finally:
                context.principal = principal

        served, executed = await cache.serve(key, principal, run)
        result = executed if served.data is None else self._kept(cache, served, request_data)
        result.extensions = {**(result.extensions or {}), "cache": {
            "status": served.status.upper(), "age": round(served.age, 3)}}
        sub_response.headers["Age"] = str(int(served.age))
        return result

    def kept_answer(self, scope: Any, body: bytes, principal: Principal, accept: str
                    ) -> _KeptAnswer | None:
        """A kept answer's bytes for a POSTed read, before any of the graph's machinery
        runs (the hot path of a dashboard many people keep open); None to run as usual.

        The gate (`api.security`) asks, with the JSON body it read and the caller it
        admitted. Only a plain operation (no persisted query's extensions, no batch)
        whose answer is kept for this caller; anything else, malformed included, goes
        the usual way (which says what is wrong)."""
        cache = self._responses
        media = negotiate(accept or None)
        if cache is None or not cache.enabled or media is None \
                or scope.get("path") != "/graphql" or scope.get("method") != "POST":
            return None
        try:
            read = cache.read_of_body(body, self._plain_read)
        except ServiceError:
            return None
        if read is None:
            return None
        key = cache.read_key(read, principal)
        entry = cache.kept(key, principal)
        if entry is None:
            return None
        info = current_request()
        if info is not None:
            info.operations.append((cache.operation(read[0], read[2]) or ("", ""))[1])
        age = cache.clock() - entry.stored_at
        tail = b',"extensions":{"cache":{"status":"HIT","age":%s}}}' % (
            str(round(age, 3)).encode())
        headers = [(b"content-type", _MEDIA_HEADERS[media]), (b"age", str(int(age)).encode())]
        if info is not None and info.gzip and len(entry.body) + len(tail) >= GZIP_MIN_BYTES:
            # Gzipped here, its kept part once (`api.compression`); the envelope, which
            # read the client's Accept-Encoding, passes an encoded answer through.
            answer = self._gzipped.gzip(key, _DATA, entry.body, tail)
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        else:
            answer = _DATA + entry.body + tail
        return _KeptAnswer(answer, [(b"content-length", str(len(answer)).encode()), *headers])

    def _plain_read(self, body: bytes) -> Read | None:
        """A body's read when it is one plain operation (no persisted query's extensions,
        no batch) that may be kept; None otherwise. Refuses what `parse_json` refuses."""
        operation = parse_json(body)
        if not isinstance(operation, dict) or "extensions" in operation:
            return None
        query, variables = operation.get("query"), operation.get("variables")
        name = operation.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None) \
                or not isinstance(name, str | None) or self._responses is None:
            return None
        return self._responses.read(query, variables, name)

    @staticmethod
    def _kept(cache: ResponseCache, served: Served, request_data: GraphQLRequestData
              ) -> ExecutionResult:
        """A kept answer as a result; its operation is named for metrics as a run one is."""
        info = current_request()
        chosen = cache.operation(request_data.query or "", request_data.operation_name)
        if info is not None and chosen is not None:
            info.operations.append(chosen[1])
        return ExecutionResult(data=served.data, errors=None)

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our own bundled GraphiQL: Strawberry's page loads its scripts from a CDN."""
        return RedirectResponse("/graphiql", status_code=307)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket
                          ) -> Context:
        context: Context = self._make_context(request, response)
        return context

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Every answer in the negotiated media type; refusals before any operation coded too."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        media = negotiate(request.headers.get("accept"))
        exchange = _Exchange(media or JSON)
        scope[_EXCHANGE] = exchange
        if media is None and not _asks_for_ide(request):
            response = _error_response(
                JSON, 406, f"this endpoint answers in {GRAPHQL_RESPONSE_JSON} or {JSON}; "
                "the Accept header allows neither", {"code": str(ErrorCode.NOT_ACCEPTABLE)})
            await response(scope, receive, send)
            return
        try:
            response = await self.run(request)
            if exchange.statuses:  # an operation's answer, not GraphiQL's redirect
                response.headers["content-type"] = CONTENT_TYPES[exchange.media]
                if len(exchange.statuses) == 1:  # a batch is 200: each entry says its own
                    response.status_code = exchange.statuses[0]
        except HTTPException as exc:
            reason = str(exc.reason)
            code = next((c for hint, c in _REQUEST_CODES if hint in reason), "BAD_REQUEST")
            allow = _METHOD_REFUSALS.get(code)
            response = _error_response(exchange.media, 405 if allow else exc.status_code,
                                       reason, {"code": code},
                                       {"Allow": allow} if allow else None)
        except ServiceError as exc:  # the body refused by `decode_json`, a bad persisted query
            response = _error_response(exchange.media, 400, exc.message, exc.as_extensions())
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        """A bounded parse: an operation is an object, a batch a list of objects."""
        value = parse_json(data)
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, dict) for item in items):
            raise ServiceError(ErrorCode.BAD_REQUEST, "send a JSON object (an operation) or a "
                               "list of objects (a batch of operations)", "body")
        return value

    async def process_result(self, request: Request, result: ExecutionResult
                             ) -> GraphQLHTTPResponse:
        hide_suggestions = bool(getattr(self.schema, "hide_suggestions", False))
        for error in result.errors or []:
            # The one place a service's refusal, a unique-key race or a failure of
            # ours becomes a coded GraphQL error (the schema's process_errors ran it
            # too, to log under the same reference); idempotent.
            shape_error(error, hide_suggestions=hide_suggestions)
            extensions = error.extensions if error.extensions is not None else {}
            if "code" not in extensions:
                extensions["code"] = error_code(error)
                error.extensions = extensions
        answer = process_result(result)
        exchange = request.scope.get(_EXCHANGE)
        if isinstance(exchange, _Exchange):
            status = status_for(exchange.media, result.data, result.errors)
            exchange.statuses.append(status)
            if exchange.media == GRAPHQL_RESPONSE_JSON and is_request_error(result.data,
                                                                             result.errors):
                answer.pop("data", None)  # the operation never ran: no data entry at all
        return answer
