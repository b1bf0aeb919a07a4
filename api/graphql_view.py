"""The HTTP endpoint for the graph: context per request and coded errors."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from graphql.execution.executor import SELECTIONS_NESTED_TOO_DEEPLY
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from api.errors import ErrorCode, ServiceError
from api.json_body import parse_json
from api.schema.context import Context
from api.schema.errors import shape_error

# Strawberry refuses these requests with an HTTPException that has a status and a
# reason, nothing more; several share status 400, so the reason is all there is.
_REQUEST_CODES = (("Too many operations", "TOO_MANY_OPERATIONS"),
                  ("Batching is not enabled", "BATCHING_DISABLED"),
                  ("not allowed when using GET", "OPERATION_NOT_ALLOWED"),
                  ("only supports GET and POST", "METHOD_NOT_ALLOWED"))
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


class HeatshieldGraphQL(GraphQL[Context, None]):
    def __init__(self, *args: Any, make_context: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._make_context = make_context

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our own bundled GraphiQL: Strawberry's page loads its scripts from a CDN."""
        return RedirectResponse("/graphiql", status_code=307)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket
                          ) -> Context:
        context: Context = self._make_context(request, response)
        return context

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Requests the view refuses before any operation runs get a coded JSON answer too."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive=receive))
        except HTTPException as exc:
            reason = str(exc.reason)
            code = next((c for hint, c in _REQUEST_CODES if hint in reason), "BAD_REQUEST")
            response = JSONResponse({"errors": [{"message": reason,
                                                 "extensions": {"code": code}}]},
                                    status_code=exc.status_code)
        except ServiceError as exc:  # the body refused by `decode_json`
            response = JSONResponse({"errors": [{"message": exc.message,
                                                 "extensions": exc.as_extensions()}]},
                                    status_code=400)
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
        return process_result(result)
