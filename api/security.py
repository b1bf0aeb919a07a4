"""The gate in front of every route: size, identity, forgery and rate checks.

A pure ASGI middleware, so a refusal costs no body parsing and no GraphQL work:
an oversized body, an unknown caller, a cross-site cookie write or a caller
over its rate gets a short JSON answer with a code straight away. Only what
passes reaches the graph, with the principal in the ASGI scope; a read whose
answer is kept for the caller is answered here, from the body the gate read to
count a batch's operations (`kept`, the view's `kept_answer`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Authenticator, LoginDelayed, SessionCookie
from api.domain.access import client_key
from api.errors import ServiceError
from api.json_body import parse_json, parse_json_object
from api.permissions import UNAUTHENTICATED, Principal
from api.settings import Settings
from api.shared_state import SharedState

log = logging.getLogger("heatshield.security")

SCOPE_KEY = "heatshield.principal"
# The route a request answered by the gate itself would have reached (for the metrics).
ROUTE_KEY = "heatshield.route"
# Where a gates-scoped token may go (api/gates.py), and nowhere else.
GATES_PREFIX = "/api/gates/"
PUBLIC_PATHS = frozenset({"/", "/login", "/healthz", "/readyz", "/favicon.ico", "/auth/login"})
# Webhooks carry no session: their signature is checked by the route (api/webhooks.py).
PUBLIC_PREFIXES: tuple[str, ...] = ("/assets/", "/webhooks/")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_JSON_TYPES = ("application/json", "application/graphql-response+json")


#: A kept answer for (scope, body, principal, Accept header), or None to run the request.
KeptAnswers = Callable[[Scope, bytes, Principal, str], ASGIApp | None]


def principal_of(scope: Any) -> Principal | None:
    """The principal the middleware put in a request's scope (None when anonymous)."""
    value = scope.get(SCOPE_KEY) if isinstance(scope, dict) else None
    return value if isinstance(value, Principal) else None


def refusal(status: int, code: str, message: str,
            headers: dict[str, str] | None = None) -> Response:
    """A GraphQL-shaped error body, so clients read every refusal the same way."""
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]},
                        status_code=status, headers=headers)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


@dataclass(slots=True)  # not frozen: a frozen __init__ cost each request 1.4 µs more
class _Headers:
    content_length: int | None
    content_type: str
    authorization: str
    cookie: str
    origin: str
    referer: str
    host: str
    accept: str


_READ = frozenset({b"content-length", b"content-type", b"authorization", b"cookie", b"origin",
                   b"referer", b"host", b"accept"})


def _headers(scope: Scope) -> _Headers:
    """The headers the gate reads (the first of each), decoded; the others are skipped."""
    raw: dict[bytes, str] = {}
    for name, value in scope.get("headers", []):
        key = name.lower()
        if key in _READ and key not in raw:
            raw[key] = value.decode("latin-1")
    length = raw.get(b"content-length")
    return _Headers(content_length=int(length) if length and length.isdigit() else None,
                    content_type=raw.get(b"content-type", "").split(";")[0].strip().lower(),
                    authorization=raw.get(b"authorization", ""), cookie=raw.get(b"cookie", ""),
                    origin=raw.get(b"origin", ""), referer=raw.get(b"referer", ""),
                    host=raw.get(b"host", ""), accept=raw.get(b"accept", ""))


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings, authenticator: Authenticator,
                 public_prefixes: Sequence[str] = (), shared: SharedState | None = None,
                 kept: KeptAnswers | None = None) -> None:
        self.app = app
        self.kept = kept
        self.settings = settings
        self.auth = authenticator
        self.public_prefixes = PUBLIC_PREFIXES + tuple(public_prefixes)
        self.max_body = settings.limits.max_body_bytes
        # Per caller, and anonymous login attempts per client address: in this process,
        # or in Redis for every replica (api/shared_state.py).
        shared = shared or SharedState(settings)
        self.limiter = shared.limiter
        self.login_limiter = shared.login_limiter
        extra = [origin_of(o) for o in settings.security.allowed_origins]
        public = origin_of(settings.server.public_url or "")
        self.origins = frozenset(o for o in [*extra, public] if o)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        method = scope.get("method", "GET")
        path: str = scope["path"]

        if headers.content_length is not None and headers.content_length > self.max_body:
            await self._refuse(scope, receive, send, refusal(
                413, "PAYLOAD_TOO_LARGE", f"request body over {self.max_body} bytes"))
            return
        public = path in PUBLIC_PATHS or path.startswith(self.public_prefixes)

        principal: Principal | None = None
        cookie: SessionCookie | None = None
        if public:
            pass  # no identity needed; sandboxes mounted here check their own
        elif headers.authorization:
            scheme, _, credential = headers.authorization.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                await self._refuse(scope, receive, send, refusal(
                    401, UNAUTHENTICATED, "use Authorization: Bearer <token>",
                    {"WWW-Authenticate": "Bearer"}))
                return
            principal = await self.auth.from_token(credential.strip())
            if principal is None:
                await self._refuse(scope, receive, send, refusal(
                    401, UNAUTHENTICATED, "invalid, expired or revoked token",
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'}))
                return
        elif headers.cookie:
            value = _cookie_value(headers.cookie, self.settings.security.cookie_name)
            if value:
                principal, cookie = await self.auth.from_cookie(value)

        if principal is None and not public:
            if method == "GET" and "text/html" in headers.accept:
                await self._refuse(scope, receive, send, Response(
                    status_code=303, headers={"Location": login_location(scope)}))
                return
            await self._refuse(scope, receive, send, refusal(
                401, UNAUTHENTICATED, "authentication required",
                {"WWW-Authenticate": "Bearer"}))
            return

        if principal is not None and principal.scope == "gates" \
                and not path.startswith(GATES_PREFIX):
            await self._refuse(scope, receive, send, refusal(
                403, "FORBIDDEN", "this token may only read release gates (/api/gates/...)"))
            return

        cookie_write = method not in _SAFE_METHODS and (
            path == "/auth/login" or (principal is not None and principal.via == "session"))
        if cookie_write:
            reason = self._forgery(scope, headers)
            if reason:
                log.warning("refused a cross-site write to %s: %s", path, reason)
                await self._refuse(scope, receive, send, refusal(403, "CSRF_REFUSED", reason))
                return

        if scope["type"] == "websocket" and principal is not None \
                and principal.via == "session":
            # Browsers send cookies on cross-site WebSocket handshakes; only our pages may.
            reason = self._foreign_origin(scope, headers)
            if reason:
                log.warning("refused a cross-site WebSocket to %s: %s", path, reason)
                await self._refuse(scope, receive, send, refusal(403, "CSRF_REFUSED", reason))
                return

        key = _rate_key(principal, scope, path)
        body: bytes | None = None
        if key is not None:
            limiter = self.login_limiter if principal is None else self.limiter
            cost = 1
            if principal is not None and path == "/graphql" and method == "POST" \
                    and headers.content_type in _JSON_TYPES:
                # A batch is as many requests as it has operations: read it to count them.
                # More than a batch may hold are refused by the graph before any runs.
                body = await _read_body(receive)
                cost = min(_operations(body), max(1, self.settings.limits.max_batch_operations))
                receive = _replay(body, receive)
            wait = await limiter.take(key, cost)
            if wait:
                seconds = max(1, math.ceil(wait))
                await self._refuse(scope, receive, send, refusal(
                    429, "RATE_LIMITED", f"too many requests; retry in {seconds} s",
                    {"Retry-After": str(seconds)}))
                return

        scope[SCOPE_KEY] = principal
        send = self._with_cookie(scope, send, cookie)
        if body is not None and self.kept is not None and principal is not None:
            # A read whose answer is kept for this caller is answered here, admitted
            # like any other: nothing behind the gate would change the bytes it sends.
            answer = self.kept(scope, body, principal, headers.accept)
            if answer is not None:
                scope[ROUTE_KEY] = path
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _forgery(self, scope: Scope, headers: _Headers) -> str:
        """Why a cookie-authenticated write looks forged ('' when it does not)."""
        if headers.content_type not in _JSON_TYPES:
            return "cookie-authenticated writes must send Content-Type: application/json"
        return self._foreign_origin(scope, headers)

    def _foreign_origin(self, scope: Scope, headers: _Headers) -> str:
        """Why the request's Origin is not ours or an allowed one ('' when it is)."""
        origin = origin_of(headers.origin) if headers.origin else origin_of(headers.referer)
        if not origin:
            return "cookie-authenticated writes must send an Origin header"
        scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"),
                                                    scope.get("scheme", "http"))
        own = f"{scheme}://{headers.host}".lower() if headers.host else ""
        if origin != own and origin not in self.origins:
            return "the request's Origin is not allowed"
        return ""

    def _with_cookie(self, scope: Scope, send: Send, cookie: SessionCookie | None) -> Send:
        if cookie is None:
            return send
        header = session_cookie_header(self.settings, scope, cookie)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", header.encode("latin-1"))]}
            await send(message)

        return wrapped

    async def _refuse(self, scope: Scope, receive: Receive, send: Send,
                      response: Response) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


# What the dashboard and its bundled GraphiQL need, and nothing from elsewhere.
# Styles may be inline: the editor injects its own <style> elements; scripts may not.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:", "font-src 'self' data:", "connect-src 'self'",
    "worker-src 'self' blob:", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'"])
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
# A JSON answer is data, never a document to render: nothing may load in it or frame it,
# nor may it be sniffed as anything else (OWASP's headers for API responses; the
# dashboard's policy is for its pages and scripts). A page's Referrer-Policy governs the
# requests the page makes, and an answer makes none, so it is not sent with one: every
# header costs a kept answer about 1.5 % of its serving (`bench.instructions`).
API_SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")


def _cookie_value(header: str, name: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is as good as none
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


def _rate_key(principal: Principal | None, scope: Scope, path: str) -> str | None:
    """One budget per user, whichever of their tokens or sessions they call with."""
    if principal is not None:
        if principal.user_id is not None:
            return f"user:{principal.user_id}"
        return f"token:{principal.token_id}"  # a token that belongs to no user
    if path == "/auth/login":
        return f"login:{client_key(client_host(scope))}"
    return None


def client_host(scope: Scope) -> str | None:
    """The caller's address: the peer, or what a trusted proxy said (ProxyHeadersMiddleware)."""
    client = scope.get("client")
    return str(client[0]) if client else None


async def _read_body(receive: Receive) -> bytes:
    """The whole body; a client that leaves before sending all of it gets nothing run
    (a part of a body can be whole JSON, and must not pass for the body)."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        return bytes(message.get("body", b""))
    chunks: list[bytes] = []
    while message["type"] == "http.request":
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()
    raise ClientDisconnect


def _replay(body: bytes, original: Receive) -> Receive:
    """A receive that hands the app the body already read, then what the client sends next."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()  # e.g. the disconnect

    return receive


def _operations(body: bytes) -> int:
    """Operations in a GraphQL POST body: a JSON list is a batch of that many, else one."""
    if not body.lstrip().startswith(b"["):
        return 1
    try:
        parsed = parse_json(body)
    except ServiceError:
        return 1  # the graph answers the malformed body itself
    return max(1, len(parsed)) if isinstance(parsed, list) else 1


def _secure(settings: Settings, scope: Scope) -> bool:
    configured = settings.security.cookie_secure
    if configured is not None:
        return configured
    public = settings.server.public_url or ""
    return scope.get("scheme") == "https" or public.startswith("https://")


def session_cookie_header(settings: Settings, scope: Scope, cookie: SessionCookie | None
                          ) -> str:
    """Set-Cookie for a new session value, or (None) for clearing it."""
    name = settings.security.cookie_name
    parts = [f"{name}={cookie.value if cookie else ''}", "Path=/", "HttpOnly",
             "SameSite=Strict", f"Max-Age={cookie.max_age if cookie else 0}"]
    if _secure(settings, scope):
        parts.append("Secure")
    return "; ".join(parts)


# --- the login endpoints ----------------------------------------------------------------

def auth_routes(settings: Settings, authenticator: Authenticator) -> list[BaseRoute]:
    """POST /auth/login, POST /auth/logout, GET /auth/session."""

    async def login(request: Request) -> Response:
        try:
            # Bounded parse: depth, shape, and text a store can keep (no NUL, no lone
            # surrogate: PostgreSQL and argon2 would fail on them with a server error).
            body = parse_json_object(await request.body())
            username, password = body["username"], body["password"]
            if not isinstance(username, str) or not isinstance(password, str):
                raise TypeError
        except ServiceError as exc:
            return refusal(400, str(exc.code), exc.message)
        except (KeyError, TypeError):
            return refusal(400, "BAD_USER_INPUT", "send JSON {\"username\", \"password\"}")
        try:
            result = await authenticator.login(username, password, client_host(request.scope))
        except LoginDelayed as exc:
            seconds = max(1, math.ceil(exc.retry_after))
            return refusal(429, "RATE_LIMITED",
                           f"too many failed logins; try again in {seconds} s",
                           {"Retry-After": str(seconds)})
        if result is None:
            return refusal(401, UNAUTHENTICATED, "invalid user name or password")
        _, cookie = result
        response = Response(status_code=204)
        response.headers["Set-Cookie"] = session_cookie_header(settings, request.scope, cookie)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def logout(request: Request) -> Response:
        principal = principal_of(request.scope)
        if principal is not None:
            await authenticator.logout(principal)
        response = Response(status_code=204)
        response.headers["Set-Cookie"] = session_cookie_header(settings, request.scope, None)
        return response

    async def whoami(request: Request) -> Response:
        principal = principal_of(request.scope)
        if principal is None:
            return refusal(401, UNAUTHENTICATED, "not signed in")
        return JSONResponse({"username": principal.subject, "role": principal.role.name,
                             "via": principal.via}, headers={"Cache-Control": "no-store"})

    return [Route("/auth/login", login, methods=["POST"]),
            Route("/auth/logout", logout, methods=["POST"]),
            Route("/auth/session", whoami, methods=["GET"])]


def login_location(scope: Scope) -> str:
    """The sign-in page, told where to return: a deep link opened while signed out
    comes back to the page asked for (the dashboard follows only same-site paths)."""
    path = scope.get("path", "/")
    query = scope.get("query_string", b"").decode("latin-1")
    wanted = path + (f"?{query}" if query else "")
    if not path.startswith("/") or path.startswith("//") or path in ("/", "/login"):
        return "/login"
    return "/login?next=" + quote(wanted, safe="")
