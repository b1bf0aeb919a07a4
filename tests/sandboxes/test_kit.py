"""The sandbox kit, through a tiny vendor app served on a real socket."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from connectors.sandbox.kit import LoggedRequest, RequestLog, SandboxKit, mount_base_url
from tests.support.server import serve_asgi

SECRET = "tiny-secret"


def tiny_error(status: int, message: str) -> Response:
    return JSONResponse({"tiny_error": {"status": status, "message": message}},
                        status_code=status)


def tiny_sign(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Tiny-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def tiny_auth(request: Request) -> Response | None:
    if request.headers.get("authorization") == "Bearer ok":
        return None
    return tiny_error(401, "who are you")


def make_tiny_app(webhook_url: str | None = None, seed: int = 0) -> Starlette:
    """A vendor with one collection, a stream and a webhook on create."""
    kit = SandboxKit("tiny", error_response=tiny_error,
                     rate_limit_headers=lambda s: {"X-Tiny-Limit": "100", "X-Tiny-Wait": str(s)},
                     webhook_url=webhook_url, webhook_secret=SECRET, webhook_signer=tiny_sign,
                     seed=seed)
    items: list[dict[str, Any]] = []

    async def list_items(request: Request) -> Response:
        return JSONResponse({"items": items})

    async def create_item(request: Request) -> Response:
        item = await request.json()
        items.append(item)
        await kit.emit_webhook("item.created", {"item": item}, {"X-Tiny-Event": "item.created"})
        return JSONResponse({"item": item}, status_code=201)

    async def other(request: Request) -> Response:
        return JSONResponse({"other": True})

    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"chunk{n};".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    return kit.app([
        Route("/items", list_items, methods=["GET"]),
        Route("/items", create_item, methods=["POST"]),
        Route("/other", other),
        Route("/stream", stream),
    ], auth=tiny_auth)


@pytest.fixture
def base_url() -> Iterator[str]:
    with serve_asgi(make_tiny_app()) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer ok"},
                      timeout=10) as c:
        yield c


def add_fault(client: httpx.Client, **fault: Any) -> None:
    response = client.post("/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text


def test_every_served_vendor_request_is_logged_once_and_control_calls_are_not(
        client: httpx.Client) -> None:
    client.get("/items", params={"q": "1"})
    client.post("/items", json={"name": "a"})
    client.get("/nowhere")
    client.get("/_sandbox/faults")

    log = client.get("/_sandbox/requests").json()

    assert log["count"] == 3
    assert [(e["method"], e["path"], e["query"], e["status"]) for e in log["requests"]] == [
        ("GET", "/items", "q=1", 200), ("POST", "/items", "", 201), ("GET", "/nowhere", "", 404)]
    assert all(e["duration_ms"] >= 0 and e["at"].endswith("Z") for e in log["requests"])


def test_resetting_the_request_log_starts_the_count_again(client: httpx.Client) -> None:
    client.get("/items")
    assert client.delete("/_sandbox/requests").status_code == 200
    client.get("/items")

    assert client.get("/_sandbox/requests").json()["count"] == 1


def test_the_request_log_keeps_the_newest_calls_but_counts_them_all() -> None:
    log = RequestLog(limit=3)
    for n in range(5):
        log.add(LoggedRequest("GET", f"/items/{n}", "", 200, 0.1, "2026-11-02T09:00:00.000Z"))

    assert log.count == 5
    assert [e.path for e in log.entries] == ["/items/2", "/items/3", "/items/4"]


def test_unknown_paths_answer_in_the_vendor_error_shape(client: httpx.Client) -> None:
    response = client.get("/nowhere")

    assert response.status_code == 404
    assert response.json()["tiny_error"]["status"] == 404


def test_auth_check_answers_before_the_vendor_route_and_is_logged(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as anonymous:
        response = anonymous.post("/items", json={"name": "sneaky"})
        log = anonymous.get("/_sandbox/requests").json()

    assert response.status_code == 401
    assert response.json() == {"tiny_error": {"status": 401, "message": "who are you"}}
    assert [e["status"] for e in log["requests"]] == [401]


def test_latency_delays_answers(client: httpx.Client) -> None:
    add_fault(client, latency_ms=300)

    began = time.perf_counter()
    response = client.get("/items")

    assert response.status_code == 200
    assert time.perf_counter() - began >= 0.3


def test_error_rate_one_answers_every_request_with_the_error_status(client: httpx.Client) -> None:
    add_fault(client, error_rate=1.0, error_status=502)

    responses = [client.get("/items") for _ in range(3)]

    assert [r.status_code for r in responses] == [502, 502, 502]
    assert responses[0].json()["tiny_error"]["status"] == 502


def test_error_rate_is_reproducible_for_a_seed() -> None:
    def statuses() -> list[int]:
        with serve_asgi(make_tiny_app(seed=42)) as url, httpx.Client(
                base_url=url, headers={"Authorization": "Bearer ok"}) as c:
            add_fault(c, error_rate=0.5)
            return [c.get("/items").status_code for _ in range(20)]

    first = statuses()

    assert first == statuses()
    assert {200, 503} == set(first)


def test_rate_limit_answers_the_next_n_requests_with_429_and_retry_after(
        client: httpx.Client) -> None:
    add_fault(client, rate_limit={"count": 2, "retry_after": 7})

    responses = [client.get("/items") for _ in range(3)]

    assert [r.status_code for r in responses] == [429, 429, 200]
    limited = responses[0]
    assert limited.headers["Retry-After"] == "7"
    assert limited.headers["X-Tiny-Limit"] == "100"
    assert limited.headers["X-Tiny-Wait"] == "7"
    assert limited.json()["tiny_error"]["status"] == 429


def test_hang_outlasts_a_client_timeout(client: httpx.Client) -> None:
    add_fault(client, hang_seconds=1.5)

    with pytest.raises(httpx.ReadTimeout):
        client.get("/items", timeout=0.3)


def test_malformed_answers_200_with_a_body_that_is_not_json(client: httpx.Client) -> None:
    client.post("/items", json={"name": "a"})
    add_fault(client, malformed=True)

    response = client.get("/items")

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_drop_response_runs_the_route_but_the_client_gets_a_transport_error(
        client: httpx.Client) -> None:
    add_fault(client, drop_response=True)

    with pytest.raises(httpx.TransportError):
        client.post("/items", json={"name": "lost-answer"})

    client.delete("/_sandbox/faults")
    assert client.get("/items").json() == {"items": [{"name": "lost-answer"}]}
    log = client.get("/_sandbox/requests").json()["requests"]
    assert [(e["method"], e["status"], e["fault"]) for e in log] == [
        ("POST", 201, "drop_response"), ("GET", 200, None)]


def test_faults_limited_to_a_path_leave_other_paths_alone(client: httpx.Client) -> None:
    add_fault(client, path="^/items$", error_rate=1.0)

    assert client.get("/items").status_code == 503
    assert client.get("/other").status_code == 200


def test_clearing_faults_restores_normal_answers(client: httpx.Client) -> None:
    add_fault(client, error_rate=1.0)
    assert client.get("/_sandbox/faults").json()["faults"][0]["error_rate"] == 1.0

    client.delete("/_sandbox/faults")

    assert client.get("/_sandbox/faults").json() == {"faults": []}
    assert client.get("/items").status_code == 200


def test_faults_are_combinable_in_one_post(client: httpx.Client) -> None:
    add_fault(client, latency_ms=200, rate_limit={"count": 1, "retry_after": 1})

    began = time.perf_counter()
    response = client.get("/items")

    assert response.status_code == 429
    assert time.perf_counter() - began >= 0.2


def test_invalid_fault_is_refused(client: httpx.Client) -> None:
    assert client.post("/_sandbox/faults", json={"error_rate": 2}).status_code == 400
    assert client.post("/_sandbox/faults", json={"explode": True}).status_code == 400
    assert client.get("/_sandbox/faults").json() == {"faults": []}


def test_streamed_responses_pass_through_the_middleware(client: httpx.Client) -> None:
    response = client.get("/stream")

    assert response.text == "chunk0;chunk1;chunk2;"


def test_paths_are_logged_and_matched_relative_to_the_mount_point() -> None:
    outer = Starlette(routes=[Mount("/sandbox/tiny", app=make_tiny_app())])
    with serve_asgi(outer) as url, httpx.Client(
            base_url=f"{url}/sandbox/tiny", headers={"Authorization": "Bearer ok"}) as c:
        add_fault(c, path="^/other$", error_rate=1.0)
        assert c.get("/other").status_code == 503
        assert c.get("/items").status_code == 200
        log = c.get("/_sandbox/requests").json()

    assert [e["path"] for e in log["requests"]] == ["/other", "/items"]


def test_webhooks_reach_the_receiver_signed_with_the_shared_secret() -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve_asgi(receiver) as hook_url, serve_asgi(make_tiny_app(f"{hook_url}/hook")) as url, \
            httpx.Client(base_url=url, headers={"Authorization": "Bearer ok"}) as c:
        c.post("/items", json={"name": "hooked"})
        deliveries = c.get("/_sandbox/webhooks").json()["deliveries"]

    assert len(received) == 1
    headers, body = received[0]
    assert json.loads(body) == {"item": {"name": "hooked"}}
    assert headers["x-tiny-event"] == "item.created"
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-tiny-signature"] == expected
    assert [(d["event"], d["status"]) for d in deliveries] == [("item.created", 204)]


def test_a_dead_webhook_receiver_does_not_break_the_vendor_route() -> None:
    with serve_asgi(make_tiny_app("http://127.0.0.1:9/hook")) as url, httpx.Client(
            base_url=url, headers={"Authorization": "Bearer ok"}) as c:
        response = c.post("/items", json={"name": "still-created"})
        deliveries = c.get("/_sandbox/webhooks").json()["deliveries"]

    assert response.status_code == 201
    assert deliveries[0]["status"] is None
    assert deliveries[0]["error"]


def test_mount_base_url_keeps_the_mount_prefix() -> None:
    kit = SandboxKit("tiny", error_response=tiny_error)

    async def where(request: Request) -> Response:
        return JSONResponse({"base": mount_base_url(request)})

    outer = Starlette(routes=[Mount("/sandbox/tiny", app=kit.app([Route("/where", where)]))])
    with serve_asgi(outer) as url:
        got = httpx.get(f"{url}/sandbox/tiny/where?x=1").json()

    assert got == {"base": f"{url}/sandbox/tiny/"}


def test_a_fault_limited_to_a_method_leaves_other_methods_alone() -> None:
    kit = SandboxKit("demo", error_response=lambda status, message: JSONResponse(
        {"message": message}, status_code=status))

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"method": request.method})

    app = kit.app([Route("/things", echo, methods=["GET", "POST"])])
    with serve_asgi(app) as url:
        httpx.post(f"{url}/_sandbox/faults",
                   json={"method": "post", "error_rate": 1.0, "error_status": 503})
        assert httpx.get(f"{url}/things").status_code == 200
        assert httpx.post(f"{url}/things").status_code == 503
