"""Credentials on requests: Basic, a bearer token, and the session-token hook.

Every secret a scheme holds is registered with log redaction and kept in a
`SecretStr`, so neither a log line nor a repr shows it.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator, Generator

import httpx
from pydantic import SecretStr

from connectors.config import AuthSecrets
from connectors.http.redaction import forget_secret, register_secret


class BasicAuth(httpx.Auth):
    """HTTP Basic; the encoded header is kept in a `SecretStr` so reprs stay clean."""

    def __init__(self, username: str, password: SecretStr) -> None:
        raw = f"{username}:{password.get_secret_value()}".encode()
        encoded = base64.b64encode(raw).decode("ascii")
        self._header = SecretStr(f"Basic {encoded}")
        register_secret(encoded)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header.get_secret_value()
        yield request


class BearerAuth(httpx.Auth):
    """`Authorization: <scheme> <token>` (Bearer by default)."""

    def __init__(self, token: SecretStr, scheme: str = "Bearer") -> None:
        self._header = SecretStr(f"{scheme} {token.get_secret_value()}")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header.get_secret_value()
        yield request


class LoginFailed(Exception):
    """A `LoginTokenAuth` login was refused; the message must be safe to show."""


class LoginTokenAuth(httpx.Auth):
    """Hook for session-token schemes: log in, send the token, log in again on a 401.

    A kind subclasses it with its login request, how to read the token from the
    login response, and how to put the token on a request; it may override
    `current_token` to expire a token early and `remember` to note when it got one.
    In async clients one login is in flight at a time: concurrent first calls
    wait for it and share its token, and a 401 renews the token once, unless
    another caller already renewed it.
    """

    requires_response_body = True

    def __init__(self) -> None:
        self._token: SecretStr | None = None
        self._lock = asyncio.Lock()
        #: Logins made so far (renewals included).
        self.logins = 0

    def login_request(self) -> httpx.Request:
        raise NotImplementedError

    def token_from(self, response: httpx.Response) -> str:
        """Extract the token; raise `LoginFailed` when the login was refused."""
        raise NotImplementedError

    def apply(self, request: httpx.Request, token: str) -> None:
        raise NotImplementedError

    def current_token(self) -> str | None:
        """The token to send, or None when a login is needed first."""
        return None if self._token is None else self._token.get_secret_value()

    def remember(self, token: str) -> None:
        """Keep a fresh token, replacing (and un-registering) the old one."""
        self.drop()
        register_secret(token)
        self._token = SecretStr(token)
        self.logins += 1

    def drop(self) -> None:
        """Forget the token (after a logout, or before a new one replaces it)."""
        if self._token is not None:
            forget_secret(self._token.get_secret_value())
        self._token = None

    def _login(self) -> Generator[httpx.Request, httpx.Response, str]:
        response = yield self.login_request()
        token = self.token_from(response)
        self.remember(token)
        return token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The synchronous flow (sync clients have no concurrent first calls to share)."""
        token = self.current_token() or (yield from self._login())
        self.apply(request, token)
        response = yield request
        if response.status_code == 401:
            token = yield from self._login()
            self.apply(request, token)
            yield request

    async def async_auth_flow(self, request: httpx.Request
                              ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = self.current_token()
        if token is None:
            async with self._lock:
                token = self.current_token()
                if token is None:
                    login = yield self.login_request()
                    token = await self._stored(login)
        self.apply(request, token)
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            fresh = self.current_token()
            if fresh is None or fresh == token:
                login = yield self.login_request()
                fresh = await self._stored(login)
        self.apply(request, fresh)
        yield request

    async def _stored(self, response: httpx.Response) -> str:
        await response.aread()
        token = self.token_from(response)
        self.remember(token)
        return token


def auth_from_secrets(secrets: AuthSecrets) -> httpx.Auth | None:
    """The standard schemes; `None` for none, and for kinds that install their own (ar-jwt)."""
    if secrets.type == "basic":
        password = secrets.password or secrets.token
        assert secrets.username is not None and password is not None  # config validated
        return BasicAuth(secrets.username, password)
    if secrets.type in ("token", "bearer"):
        assert secrets.token is not None  # config validated
        return BearerAuth(secrets.token)
    return None
