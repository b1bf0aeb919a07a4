"""The HTTP layer, against a small upstream served on a real loopback socket."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connectors.config import AuthConfig, ConnectorConfig
from connectors.errors import (
    ErrorCode,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import (
    BasicAuth,
    BearerAuth,
    BreakerState,
    CircuitBreaker,
    LoginFailed,
    LoginTokenAuth,
    RetryPolicy,
    Timeouts,
    UpstreamClient,
    from_etag_cache,
    install_log_redaction,
    retry_after_seconds,
)
from tests.support.clock import FakeClock
from tests.support.server import serve_asgi

TOKEN = "tok-7f3a9c1e-never-log-me"
PASSWORD = "pw-b81d44-never-log-me"
FAST_RETRIES = RetryPolicy(max_retries=2, wait_initial=0.01, wait_max=0.05, wait_jitter=0.0)


@dataclass
class FakeUpstream:
    """A made-up API whose endpoints each misbehave in one way, counting what it serves."""

    hits: Counter[str] = field(default_factory=Counter)
    busy_left: int = 0  # /busy answers 503 + Retry-After this many times, then 200
    failing: bool = True  # /fail answers 500 while true
    retry_after: str = "1"
    busy_status: int = 503
    session: str | None = None  # the token /session-only accepts

    def app(self) -> Starlette:
        async def busy(request: Request) -> Response:
            self.hits["busy"] += 1
            if self.busy_left > 0:
                self.busy_left -= 1
                return JSONResponse({"error": "busy"}, self.busy_status,
                                    headers={"Retry-After": self.retry_after})
            return JSONResponse({"ok": True})

        async def reset(request: Request) -> Response:
            self.hits["reset"] += 1
            if self.hits["reset"] == 1:
                epoch = int(time.time()) + 2
                return JSONResponse({"message": "API rate limit exceeded"}, 403,
                                    headers={"x-ratelimit-remaining": "0",
                                             "x-ratelimit-reset": str(epoch)})
            return JSONResponse({"ok": True})

        async def always_busy(request: Request) -> Response:
            self.hits[f"always-busy {request.method}"] += 1
            return JSONResponse({"error": "busy"}, 503)

        async def etag(request: Request) -> Response:
            tag = '"v1"'
            if request.headers.get("if-none-match") == tag:
                self.hits["etag 304"] += 1
                return Response(status_code=304, headers={"ETag": tag})
            self.hits["etag 200"] += 1
            return JSONResponse({"items": [1, 2, 3], "q": request.query_params.get("q")},
                                headers={"ETag": tag})

        async def fail(request: Request) -> Response:
            self.hits["fail"] += 1
            if self.failing:
                return JSONResponse({"error": "boom"}, 500)
            return JSONResponse({"ok": True})

        async def slow(request: Request) -> Response:
            self.hits["slow"] += 1
            await asyncio.sleep(0.3)
            return JSONResponse({"n": self.hits["slow"]})

        async def hang(request: Request) -> Response:
            self.hits["hang"] += 1
            await asyncio.sleep(1)
            return JSONResponse({"late": True})

        async def private(request: Request) -> Response:
            self.hits["private"] += 1
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"message": "Bad credentials"}, 401)
            return JSONResponse({"me": "demo"})

        async def malformed(request: Request) -> Response:
            self.hits["malformed"] += 1
            return Response('{"items": [1, 2', media_type="application/json")

        async def refuse(request: Request) -> Response:
            self.hits[f"refuse {request.method}"] += 1
            return JSONResponse({"error": {"message": "Operation Failed",
                                           "detail": "Rejected by a business rule"}}, 403)

        async def login(request: Request) -> Response:
            self.hits["login"] += 1
            await asyncio.sleep(0.05)  # long enough for concurrent first calls to overlap
            form = await request.form()
            if form.get("password") != PASSWORD:
                return JSONResponse([{"messageText": "bad login"}], 401)
            self.session = f"session-{self.hits['login']}"
            return PlainTextResponse(self.session)

        async def session_only(request: Request) -> Response:
            self.hits["session-only"] += 1
            if self.session is None or request.headers.get("authorization") != (
                    f"Session {self.session}"):
                return JSONResponse([{"messageText": "expired"}], 401)
            return JSONResponse({"session": self.session})

        return Starlette(routes=[
            Route("/busy", busy), Route("/reset", reset),
            Route("/always-busy", always_busy, methods=["GET", "POST"]),
            Route("/etag", etag), Route("/fail", fail, methods=["GET", "PUT"]),
            Route("/slow", slow), Route("/refuse", refuse, methods=["GET", "POST"]),
            Route("/hang", hang), Route("/private", private), Route("/malformed", malformed),
            Route("/login", login, methods=["POST"]), Route("/session-only", session_only),
        ])


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream()


@pytest.fixture
def base_url(upstream: FakeUpstream) -> Iterator[str]:
    with serve_asgi(upstream.app()) as url:
        yield url


@pytest.fixture
def log_redaction() -> None:
    """What the app factory and the CLI do at start-up (importing installs nothing)."""
    install_log_redaction()


def client(base_url: str, **kwargs: object) -> UpstreamClient:
    kwargs.setdefault("retry", FAST_RETRIES)
    return UpstreamClient("fake", base_url, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- retries


async def test_idempotent_get_waits_as_long_as_retry_after_asks_then_succeeds(
        base_url: str, upstream: FakeUpstream) -> None:
    upstream.busy_left = 1
    async with client(base_url) as http:
        started = time.monotonic()
        response = await http.request("GET", "/busy")
        waited = time.monotonic() - started
    assert response.json() == {"ok": True}
    assert upstream.hits["busy"] == 2
    assert 1.0 <= waited < 3.0


async def test_github_style_403_with_no_budget_waits_until_the_epoch_reset(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        started = time.monotonic()
        response = await http.request("GET", "/reset")
        waited = time.monotonic() - started
    assert response.status_code == 200
    assert upstream.hits["reset"] == 2
    assert waited >= 0.9  # reset is a whole second 1-2 s ahead


async def test_a_wait_longer_than_the_cap_fails_fast_as_rate_limited(
        base_url: str, upstream: FakeUpstream) -> None:
    upstream.busy_left, upstream.busy_status, upstream.retry_after = 5, 429, "3600"
    async with client(base_url) as http:
        started = time.monotonic()
        with pytest.raises(UpstreamRateLimited) as caught:
            await http.request("GET", "/busy")
    assert time.monotonic() - started < 1.0
    assert upstream.hits["busy"] == 1
    assert caught.value.retry_after == pytest.approx(3600)
    assert caught.value.extensions()["code"] == "UPSTREAM_RATE_LIMITED"


async def test_rate_limits_that_outlast_the_retries_are_upstream_rate_limited(
        base_url: str, upstream: FakeUpstream) -> None:
    upstream.busy_left, upstream.busy_status, upstream.retry_after = 5, 429, "0"
    async with client(base_url) as http:
        with pytest.raises(UpstreamRateLimited) as caught:
            await http.request("GET", "/busy")
    assert upstream.hits["busy"] == FAST_RETRIES.max_retries + 1
    assert caught.value.code is ErrorCode.UPSTREAM_RATE_LIMITED
    assert caught.value.status == 429


async def test_transient_failures_on_get_are_retried_up_to_the_policy(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        with pytest.raises(UpstreamUnavailable) as caught:
            await http.request("GET", "/always-busy")
    assert upstream.hits["always-busy GET"] == FAST_RETRIES.max_retries + 1
    assert caught.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert caught.value.status == 503


async def test_a_retry_is_logged_naming_the_upstream_the_failure_and_the_wait(
        base_url: str, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        async with client(base_url) as http:
            with pytest.raises(UpstreamUnavailable):
                await http.request("GET", "/always-busy")
    retries = [r.getMessage() for r in caplog.records if "; retry " in r.getMessage()]
    assert len(retries) == FAST_RETRIES.max_retries
    assert all(m.startswith("fake: GET /always-busy") for m in retries), retries
    assert "; retry 1 in " in retries[0]
    # stamina's own line, which names neither, is not written beside ours.
    assert not [r for r in caplog.records if r.name == "stamina"]
    assert {r.levelno for r in caplog.records if "; retry " in r.getMessage()} == {logging.INFO}


async def test_post_is_never_retried_automatically(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        with pytest.raises(UpstreamUnavailable):
            await http.request("POST", "/always-busy", json={"short_description": "x"})
    assert upstream.hits["always-busy POST"] == 1


async def test_a_post_declared_idempotent_is_retried(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        with pytest.raises(UpstreamUnavailable):
            await http.request("POST", "/always-busy", json={"query": "{ viewer }"},
                               idempotent=True)
    assert upstream.hits["always-busy POST"] == FAST_RETRIES.max_retries + 1


# --------------------------------------------------------------------------- ETags


async def test_revalidated_get_serves_the_cached_body_on_304(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        first = await http.request("GET", "/etag", params={"q": "a"})
        second = await http.request("GET", "/etag", params={"q": "a"})
    assert upstream.hits["etag 200"] == 1 and upstream.hits["etag 304"] == 1
    assert second.status_code == 200
    assert second.json() == first.json() == {"items": [1, 2, 3], "q": "a"}
    assert from_etag_cache(second) and not from_etag_cache(first)


async def test_etag_cache_is_keyed_by_query_parameters(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        await http.request("GET", "/etag", params={"q": "a"})
        other = await http.request("GET", "/etag", params={"q": "b"})
    assert upstream.hits["etag 200"] == 2 and upstream.hits["etag 304"] == 0
    assert other.json()["q"] == "b"


async def test_etag_cache_can_be_bypassed(base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        await http.request("GET", "/etag")
        await http.request("GET", "/etag", etag_cache=False)
    assert upstream.hits["etag 200"] == 2


# --------------------------------------------------------------------------- breaker


async def test_breaker_opens_after_consecutive_failures_and_stops_calling(
        base_url: str, upstream: FakeUpstream) -> None:
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30)
    async with client(base_url, breaker=breaker, retry=RetryPolicy(max_retries=0)) as http:
        for _ in range(3):
            with pytest.raises(UpstreamUnavailable):
                await http.request("GET", "/fail")
        with pytest.raises(UpstreamUnavailable, match="circuit open"):
            await http.request("GET", "/fail")
        assert http.health().breaker is BreakerState.OPEN
    assert upstream.hits["fail"] == 3


async def test_breaker_half_opens_after_cool_down_and_closes_on_success(
        base_url: str, upstream: FakeUpstream) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=30, clock=clock)
    async with client(base_url, breaker=breaker, retry=RetryPolicy(max_retries=0)) as http:
        for _ in range(2):
            with pytest.raises(UpstreamUnavailable):
                await http.request("GET", "/fail")
        assert http.health().breaker is BreakerState.OPEN
        clock.advance(29.9)
        assert breaker.state is BreakerState.OPEN
        clock.advance(0.1)
        assert breaker.state is BreakerState.HALF_OPEN
        upstream.failing = False
        response = await http.request("GET", "/fail")
    assert response.json() == {"ok": True}
    assert http.health().breaker is BreakerState.CLOSED


async def test_a_failed_trial_call_reopens_the_breaker(
        base_url: str, upstream: FakeUpstream) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30, clock=clock)
    async with client(base_url, breaker=breaker, retry=RetryPolicy(max_retries=0)) as http:
        with pytest.raises(UpstreamUnavailable):
            await http.request("GET", "/fail")
        clock.advance(30)
        with pytest.raises(UpstreamUnavailable, match="answered 500"):
            await http.request("GET", "/fail")
        assert breaker.state is BreakerState.OPEN
        assert breaker.retry_in() == 30  # a full cool-down again, from the failed trial
    assert upstream.hits["fail"] == 2


async def test_a_bad_payload_the_connector_notes_counts_in_health_and_the_breaker(
        base_url: str, upstream: FakeUpstream) -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=30)
    async with client(base_url, breaker=breaker) as http:
        for _ in range(2):
            await http.request("GET", "/etag")  # a 200 the layer is happy with...
            error = UpstreamBadResponse("fake", "items is not a list")
            assert http.note_error(error) is error  # ...whose shape the connector rejects
            http.note_error(error)  # noting it again does not count it twice
        health = http.health()
        with pytest.raises(UpstreamUnavailable, match="circuit open"):
            await http.request("GET", "/etag", etag_cache=False)
    assert (health.failures, health.breaker) == (2, BreakerState.OPEN)
    assert health.last_error_message == "items is not a list"
    assert health.last_error_code is ErrorCode.UPSTREAM_BAD_RESPONSE
    assert upstream.hits["etag 200"] == 1 and upstream.hits["etag 304"] == 1


@pytest.mark.parametrize("error", [
    UpstreamRateLimited("fake", "GraphQL budget spent", retry_after=60),
    UpstreamAuthFailed("fake", "GraphQL: resource not accessible"),
    UpstreamRefused("fake", "the change cannot move there"),
], ids=["rate-limited", "auth-failed", "refused"])
async def test_a_deliberate_refusal_the_connector_notes_shows_in_health_but_keeps_calls_flowing(
        base_url: str, error: UpstreamError) -> None:
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30)
    async with client(base_url, breaker=breaker) as http:
        http.note_error(error)
        assert http.health().last_error_code is error.code
        assert http.health().failures == 1
        assert (await http.request("GET", "/etag")).status_code == 200
    assert breaker.state is BreakerState.CLOSED


async def test_malformed_json_counts_towards_opening_the_breaker(
        base_url: str, upstream: FakeUpstream) -> None:
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30)
    async with client(base_url, breaker=breaker) as http:
        for _ in range(3):
            with pytest.raises(UpstreamBadResponse):
                await http.get_json("/malformed")
        with pytest.raises(UpstreamUnavailable, match="circuit open"):
            await http.get_json("/malformed")
    assert upstream.hits["malformed"] == 3
    assert http.health().failures == 4


# --------------------------------------------------------------------------- accepted statuses


async def test_an_accepted_403_comes_back_for_the_caller_to_read(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        with pytest.raises(UpstreamAuthFailed):
            await http.request("POST", "/refuse", json={})
        response = await http.request("POST", "/refuse", json={}, accept=(403,))
        health = http.health()
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Operation Failed"
    assert health.failures == 1  # only the call that did not accept it


async def test_an_accepted_500_is_neither_retried_nor_a_failure(
        base_url: str, upstream: FakeUpstream) -> None:
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30)
    async with client(base_url, breaker=breaker) as http:
        response = await http.request("PUT", "/fail", json={}, accept=(500,))
        assert response.status_code == 500 and response.json() == {"error": "boom"}
        assert upstream.hits["fail"] == 1  # a PUT is idempotent, yet was not repeated
        assert (http.health().failures, breaker.state) == (0, BreakerState.CLOSED)
        with pytest.raises(UpstreamUnavailable):
            await http.request("PUT", "/fail", json={})
    assert upstream.hits["fail"] == 2
    assert breaker.state is BreakerState.OPEN


async def test_identical_gets_accepting_different_statuses_do_not_share_an_answer(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        plain, accepting = await asyncio.gather(
            http.request("GET", "/refuse"), http.request("GET", "/refuse", accept=(403,)),
            return_exceptions=True)
    assert isinstance(plain, UpstreamAuthFailed)
    assert isinstance(accepting, httpx.Response) and accepting.status_code == 403
    assert upstream.hits["refuse GET"] == 2


def test_a_bad_answer_to_a_half_open_trial_reopens_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()  # the one trial call
    breaker.record_success()  # it answered 200...
    closed = breaker.state
    breaker.record_bad_answer()  # ...with a body the connector could not use
    assert (closed, breaker.state) == (BreakerState.CLOSED, BreakerState.OPEN)
    assert breaker.retry_in() == 10


# --------------------------------------------------------------------------- de-duplication


async def test_ten_concurrent_identical_gets_make_one_upstream_call(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url) as http:
        responses = await asyncio.gather(*(http.request("GET", "/slow") for _ in range(10)))
        later = await http.request("GET", "/slow")
    assert upstream.hits["slow"] == 2
    assert {r.json()["n"] for r in responses} == {1}
    assert later.json() == {"n": 2}


# --------------------------------------------------------------------------- error mapping


async def test_a_hung_upstream_is_an_upstream_timeout(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url, timeouts=Timeouts(read=0.2),
                      retry=RetryPolicy(max_retries=0)) as http:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout) as caught:
            await http.request("GET", "/hang")
    assert time.monotonic() - started < 2.0
    assert caught.value.code is ErrorCode.UPSTREAM_TIMEOUT
    assert caught.value.source == "fake"
    assert caught.value.extensions() == {"code": "UPSTREAM_TIMEOUT", "source": "fake"}


async def test_refused_credentials_are_upstream_auth_failed(base_url: str) -> None:
    async with client(base_url, auth=BearerAuth(SecretStr("wrong"))) as http:
        with pytest.raises(UpstreamAuthFailed) as caught:
            await http.request("GET", "/private")
    assert caught.value.code is ErrorCode.UPSTREAM_AUTH_FAILED
    assert caught.value.status == 401


async def test_the_configured_token_is_sent(base_url: str) -> None:
    async with client(base_url, auth=BearerAuth(SecretStr(TOKEN))) as http:
        assert await http.get_json("/private") == {"me": "demo"}


async def test_malformed_json_is_upstream_bad_response(base_url: str) -> None:
    async with client(base_url) as http:
        with pytest.raises(UpstreamBadResponse) as caught:
            await http.get_json("/malformed")
        assert http.health().last_error_code is ErrorCode.UPSTREAM_BAD_RESPONSE
    assert caught.value.code is ErrorCode.UPSTREAM_BAD_RESPONSE


async def test_a_refused_connection_is_upstream_unavailable() -> None:
    async with UpstreamClient("gone", "http://127.0.0.1:9", retry=RetryPolicy(max_retries=0)
                              ) as http:
        with pytest.raises(UpstreamUnavailable, match="ConnectError"):
            await http.request("GET", "/anything")


async def test_credentials_are_not_sent_to_another_host(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url, auth=BearerAuth(SecretStr(TOKEN))) as http:
        with pytest.raises(UpstreamBadResponse, match="another host"):
            await http.request("GET", "http://example.invalid/private")
    assert upstream.hits["private"] == 0


# --------------------------------------------------------------------------- login tokens


class FormLoginAuth(LoginTokenAuth):
    """A made-up session scheme exercising the login-and-renew hook."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def login_request(self) -> httpx.Request:
        return httpx.Request("POST", f"{self.base_url}/login",
                             data={"username": "demo", "password": PASSWORD})

    def token_from(self, response: httpx.Response) -> str:
        if response.status_code != 200:
            raise LoginFailed(f"status {response.status_code}")
        return response.text

    def apply(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"Session {token}"


async def test_login_token_auth_logs_in_once_and_renews_after_a_401(
        base_url: str, upstream: FakeUpstream) -> None:
    async with client(base_url, auth=FormLoginAuth(base_url)) as http:
        assert await http.get_json("/session-only") == {"session": "session-1"}
        assert await http.get_json("/session-only") == {"session": "session-1"}
        upstream.session = "expired-on-the-server"
        assert await http.get_json("/session-only") == {"session": "session-2"}
    assert upstream.hits["login"] == 2


async def test_concurrent_first_calls_share_one_login(
        base_url: str, upstream: FakeUpstream) -> None:
    auth = FormLoginAuth(base_url)
    async with client(base_url, auth=auth) as http:
        answers = await asyncio.gather(
            *(http.get_json("/session-only", params={"n": n}) for n in range(10)))
    assert answers == [{"session": "session-1"}] * 10
    assert (upstream.hits["login"], auth.logins) == (1, 1)
    assert upstream.hits["session-only"] == 10


async def test_concurrent_calls_refused_with_one_expired_token_renew_it_once(
        base_url: str, upstream: FakeUpstream) -> None:
    auth = FormLoginAuth(base_url)
    async with client(base_url, auth=auth) as http:
        await http.get_json("/session-only")
        upstream.session = "expired-on-the-server"
        answers = await asyncio.gather(
            *(http.get_json("/session-only", params={"n": n}) for n in range(10)))
    assert answers == [{"session": "session-2"}] * 10
    assert (upstream.hits["login"], auth.logins) == (2, 2)


async def test_a_refused_login_is_an_auth_failure_and_the_next_call_tries_again(
        base_url: str, upstream: FakeUpstream) -> None:
    class WrongPassword(FormLoginAuth):
        def login_request(self) -> httpx.Request:
            return httpx.Request("POST", f"{self.base_url}/login",
                                 data={"username": "demo", "password": "nope"})

    async with client(base_url, auth=WrongPassword(base_url)) as http:
        for _ in range(2):
            with pytest.raises(UpstreamAuthFailed, match="login refused"):
                await http.get_json("/session-only")
    assert upstream.hits["login"] == 2
    assert upstream.hits["session-only"] == 0


# --------------------------------------------------------------------------- secrets


async def test_secrets_never_reach_logs_or_error_text_even_when_calls_fail(
        base_url: str, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture,
        log_redaction: None) -> None:
    config = ConnectorConfig(
        name="jira", kind="jira", base_url=base_url, max_retries=1, timeout_seconds=0.2,
        auth=AuthConfig(type="basic", username="demo@acme-retail.example",
                        password_env="FAKE_PASSWORD"))
    basic = UpstreamClient.from_config(config, environ={"FAKE_PASSWORD": PASSWORD})
    bearer = client(base_url, auth=BearerAuth(SecretStr(TOKEN)), timeouts=Timeouts(read=0.2))
    upstream.busy_left, upstream.retry_after = 1, "0"
    texts: list[str] = [repr(config), repr(basic), repr(basic.secrets), repr(bearer.auth)]
    with caplog.at_level(logging.DEBUG):
        async with basic, bearer:
            for http in (basic, bearer):
                await http.request("GET", "/busy")
                for path in ("/private", "/always-busy", "/hang", "/malformed", "/fail"):
                    try:
                        await http.get_json(path, params={"jql": "project = PAY"})
                    except UpstreamError as exc:
                        texts += [str(exc), repr(exc), str(exc.extensions())]
    encoded = base64.b64encode(f"demo@acme-retail.example:{PASSWORD}".encode()).decode()
    texts += [record.getMessage() for record in caplog.records]
    assert len(texts) > 20
    assert len(caplog.records) > 5
    for secret in (TOKEN, PASSWORD, encoded):
        assert not [t for t in texts if secret in t]


def test_basic_auth_object_does_not_reveal_the_password() -> None:
    auth = BasicAuth("me", SecretStr(PASSWORD))
    assert PASSWORD not in repr(auth) and PASSWORD not in repr(vars(auth))


def test_even_a_careless_log_line_is_scrubbed(caplog: pytest.LogCaptureFixture,
                                             log_redaction: None) -> None:
    http = UpstreamClient("x", "http://127.0.0.1:9", auth=BearerAuth(SecretStr(TOKEN)),
                          secrets=ConnectorConfig(
                              name="x", kind="k", base_url="http://127.0.0.1:9",
                              auth=AuthConfig(type="bearer", token_env="T"),
                          ).auth.resolve({"T": TOKEN}))
    with caplog.at_level(logging.DEBUG, logger="heatshield.connectors.http"):
        logging.getLogger("heatshield.connectors.http").debug("token is %s", TOKEN)
    assert caplog.records and TOKEN not in caplog.records[0].getMessage()
    del http


# --------------------------------------------------------------------------- header rules


NOW = 1_000_020.0  # an instant that is a whole minute: 1970-01-12T13:47:00Z


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)},
         30.0),
        ({"X-RateLimit-Reset": str(int(NOW) + 12)}, 12.0),  # epoch seconds
        ({"X-RateLimit-Reset": (datetime.fromtimestamp(NOW, UTC) + timedelta(minutes=2))
          .strftime("%Y-%m-%dT%H:%MZ")}, 120.0),  # ISO instant to the minute
        ({"Retry-After": "3", "X-RateLimit-Reset": str(int(NOW) + 60)}, 3.0),
        ({"X-RateLimit-Reset": str(int(NOW) - 5)}, 0.0),
        ({}, None),
    ],
)
def test_retry_after_seconds_reads_every_vendor_form(
        headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers), now=NOW) == expected
