"""No caller can stall the hub: fragment fan-out, heavy federated fields, slow clients,
unsigned webhooks.

Each property is tried over HTTP against a real uvicorn hub started with the CLI's
server configuration (`api.server.server_config`, through `serve_asgi`), here with
short header and body deadlines so a slow client is cut off within seconds. None of
these properties touches storage, so the hub runs on SQLite only.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from graphql import parse

from api.db.models import Role
from api.limits import DocumentShape, estimate
from api.schema import build_schema
from api.settings import LimitSettings
from tests.adversarial.conftest import Hub, Upstreams, start_hub
from tests.support.databases import fresh_database

HEADER_SECONDS = 2.0
BODY_SECONDS = 2.0
MAX_CONNECTIONS = 20
QUICK = 2.0  # generous: the refusals take milliseconds; the bugs took seconds to hours
OPERATIONS = Path(__file__).resolve().parents[2] / "frontend" / "src" / "operations.ts"


@pytest.fixture(scope="module")
def tight(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub whose slow-client deadlines are short enough to watch them act."""
    tmp = tmp_path_factory.mktemp("stall")
    with fresh_database("sqlite", tmp) as url, start_hub(
            upstreams, url, "sqlite",
            server={"header_timeout_seconds": HEADER_SECONDS,
                    "body_timeout_seconds": BODY_SECONDS,
                    "max_connections": MAX_CONNECTIONS}) as running:
        yield running


def _post(hub: Hub, query: str, timeout: float = 10.0) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    response = httpx.post(f"{hub.url}/graphql", json={"query": query}, timeout=timeout,
                          headers={"Authorization": f"Bearer {hub.tokens[Role.VIEWER]}"})
    return response.json(), time.monotonic() - started


def _codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def fan_out(fragments: int) -> str:
    """About 1 KB: each fragment spreads the next twice, so the last is reached 2^n times."""
    parts = ["{ releases(first: 1) { nodes { ...F0 } } }"]
    for i in range(fragments):
        below = f"...F{i + 1} ...F{i + 1}" if i + 1 < fragments else "name"
        parts.append(f"fragment F{i} on Release {{ key {below} }}")
    return "\n".join(parts)


# --- fragment fan-out ---------------------------------------------------------------------

@pytest.mark.parametrize("fragments", [18, 24, 30])
def test_a_fragment_fan_out_is_refused_quickly_and_stalls_no_one(tight: Hub,
                                                                  fragments: int) -> None:
    outcome: dict[str, Any] = {}

    def attack() -> None:
        try:
            outcome["body"], outcome["seconds"] = _post(tight, fan_out(fragments), timeout=5)
        except httpx.TimeoutException:
            outcome["seconds"] = float("inf")

    thread = threading.Thread(target=attack)
    thread.start()
    health: list[float] = []
    while thread.is_alive() or not health:
        started = time.monotonic()
        try:
            assert httpx.get(f"{tight.url}/healthz", timeout=5).status_code == 200
            health.append(time.monotonic() - started)
        except httpx.TimeoutException:
            health.append(float("inf"))
    thread.join()
    assert outcome["seconds"] < QUICK, f"the fan-out took {outcome['seconds']:.1f} s"
    assert _codes(outcome["body"]) == ["QUERY_TOO_COMPLEX"]
    assert outcome["body"].get("data") is None
    assert max(health) < QUICK, f"/healthz waited {max(health):.1f} s behind the fan-out"


def test_a_fragment_used_a_few_times_is_still_accepted(tight: Hub) -> None:
    body, _ = _post(tight, """
        { a: releases(first: 2) { nodes { ...R } } b: releases(first: 3) { nodes { ...R } } }
        fragment R on Release { key ...N applications { key } }
        fragment N on Release { name status }""")
    assert not body.get("errors"), body
    assert len(body["data"]["b"]["nodes"]) == 3
    assert body["extensions"]["cost"]["requested"] == 1 + 2 * (1 + 5) + 1 + 3 * (1 + 5)


# --- the price of federated fields ---------------------------------------------------------

HEAVY = """{ releases(first: %d) { nodes { key
    gates { name passed } changePreview { title } releaseNotes(audience: OPERATIONS)
    workItems(first: 10) { nodes { key } } } } }"""


def test_heavy_federated_fields_are_priced_per_release(tight: Hub) -> None:
    refused, seconds = _post(tight, HEAVY % 100)
    assert _codes(refused) == ["QUERY_TOO_COMPLEX"], refused.get("errors")
    assert refused.get("data") is None and seconds < QUICK
    accepted, _ = _post(tight, HEAVY % 3, timeout=60)
    assert "QUERY_TOO_COMPLEX" not in _codes(accepted)
    assert len(accepted["data"]["releases"]["nodes"]) == 3
    # The three composites and the work items' read are each priced above a plain field.
    assert accepted["extensions"]["cost"]["requested"] > 3 * 3 * 1000


def test_every_dashboard_operation_is_within_the_default_limits() -> None:
    limits = LimitSettings()
    schema = build_schema(limits)._schema
    operations = re.findall(r"graphql\(`(.*?)`\)", OPERATIONS.read_text(), re.S)
    assert len(operations) >= 10
    for text in operations:
        document = parse(text)
        assert DocumentShape(document).refusal(
            max_selections=limits.max_selections, max_depth=limits.max_depth,
            max_aliases=limits.max_aliases) is None, text
        cost = estimate(schema, document, None, {}, budget=limits.max_cost)
        assert cost <= limits.max_cost // 4, (cost, text)  # room to spare


# --- slow clients ------------------------------------------------------------------------

@dataclass
class Raw:
    """A client on a bare socket, to send a request as slowly as an attacker would."""

    sock: socket.socket

    @classmethod
    def open(cls, url: str) -> Raw:
        parts = urlsplit(url)
        sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80),
                                        timeout=10)
        return cls(sock)

    def send(self, data: bytes) -> bool:
        """False when the server has closed the connection."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def answer(self, within: float) -> bytes:
        """What the server says within `within` seconds (b'' if closed without a word)."""
        self.sock.settimeout(within)
        received = b""
        try:
            while chunk := self.sock.recv(65536):
                received += chunk
        except OSError:  # a timeout, or a reset
            pass
        return received

    def close(self) -> None:
        self.sock.close()


def _trickle(raw: Raw, hub: Hub, limit: float) -> tuple[bytes, float, list[float]]:
    """One byte a second until the server answers or closes; /healthz timed between bytes."""
    started = time.monotonic()
    health: list[float] = []
    while time.monotonic() - started < limit:
        if not raw.send(b"x"):
            break
        said = raw.answer(within=1.0)
        if said:
            return said, time.monotonic() - started, health
        asked = time.monotonic()
        assert httpx.get(f"{hub.url}/healthz", timeout=5).status_code == 200
        health.append(time.monotonic() - asked)
    return b"", time.monotonic() - started, health


def test_a_trickled_body_is_cut_off_at_the_deadline_while_others_are_served(tight: Hub) -> None:
    raw = Raw.open(tight.url)
    try:
        host = urlsplit(tight.url).netloc
        raw.send((f"POST /graphql HTTP/1.1\r\nHost: {host}\r\n"
                  f"Authorization: Bearer {tight.tokens[Role.VIEWER]}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n").encode())
        said, seconds, health = _trickle(raw, tight, limit=4 * BODY_SECONDS + 4)
    finally:
        raw.close()
    assert said.startswith(b"HTTP/1.1 408"), said[:200]
    assert b"REQUEST_TIMEOUT" in said
    assert seconds < BODY_SECONDS + 3
    assert health and max(health) < QUICK


def _partial_create(hub: Hub, key: str) -> bytes:
    """A request whose first bytes are a whole JSON mutation creating `key`, under a
    Content-Length that promises 40 bytes more: a part of a body that parses alone."""
    body = json.dumps({"query": f'mutation {{ createRelease(input: {{key: "{key}", '
                                f'name: "part", type: PROJECT}}) {{ id }} }}'}).encode()
    return (f"POST /graphql HTTP/1.1\r\nHost: {urlsplit(hub.url).netloc}\r\n"
            f"Authorization: Bearer {hub.tokens[Role.RELEASE_MANAGER]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body) + 40}\r\n"
            "Connection: close\r\n\r\n"
            ).encode() + body


def _release_exists(hub: Hub, key: str) -> bool:
    found = hub.client(Role.VIEWER).data("query($k: String!) { release(key: $k) { id } }",
                                         {"k": key})
    return found["release"] is not None


def test_a_body_that_stops_arriving_is_refused_at_the_deadline_and_its_part_never_runs(
        tight: Hub) -> None:
    raw = Raw.open(tight.url)
    started = time.monotonic()
    try:
        raw.send(_partial_create(tight, "STALL-PART-1"))
        said = raw.answer(within=BODY_SECONDS + 5)
    finally:
        raw.close()
    assert said.startswith(b"HTTP/1.1 408"), said[:200]
    assert b"REQUEST_TIMEOUT" in said and b"x-request-id" in said.lower()
    assert time.monotonic() - started < BODY_SECONDS + 3
    assert not _release_exists(tight, "STALL-PART-1")


def test_a_client_that_leaves_before_its_body_is_whole_has_nothing_run(tight: Hub) -> None:
    raw = Raw.open(tight.url)
    try:
        raw.send(_partial_create(tight, "STALL-PART-2"))
        time.sleep(0.5)  # the part is read and waited on before the client goes
    finally:
        raw.close()
    time.sleep(0.5)
    assert not _release_exists(tight, "STALL-PART-2")
    # The same request, whole, does run: the key and the mutation are good.
    raw = Raw.open(tight.url)
    try:
        raw.send(_partial_create(tight, "STALL-PART-2") + b" " * 40)
        assert raw.answer(within=5).startswith(b"HTTP/1.1 200")
    finally:
        raw.close()
    assert _release_exists(tight, "STALL-PART-2")


def test_trickled_headers_are_cut_off_at_the_deadline(tight: Hub) -> None:
    raw = Raw.open(tight.url)
    try:
        raw.send(f"GET /healthz HTTP/1.1\r\nHost: {urlsplit(tight.url).netloc}\r\nX-Slow: "
                 .encode())
        said, seconds, health = _trickle(raw, tight, limit=4 * HEADER_SECONDS + 4)
    finally:
        raw.close()
    assert said.startswith(b"HTTP/1.1 408"), said[:200]
    assert seconds < HEADER_SECONDS + 3
    assert health and max(health) < QUICK


def test_a_connection_that_never_sends_a_request_is_closed(tight: Hub) -> None:
    raw = Raw.open(tight.url)
    started = time.monotonic()
    try:
        said = raw.answer(within=HEADER_SECONDS + 5)  # returns early once the server closes
    finally:
        raw.close()
    assert said == b""
    assert time.monotonic() - started < HEADER_SECONDS + 2


def test_connections_past_the_maximum_are_answered_503_at_once(tight: Hub) -> None:
    idle = [Raw.open(tight.url) for _ in range(MAX_CONNECTIONS)]
    try:
        started = time.monotonic()
        crowded = httpx.get(f"{tight.url}/healthz", timeout=5)
        seconds = time.monotonic() - started
    finally:
        for raw in idle:
            raw.close()
    assert crowded.status_code == 503 and seconds < QUICK
    # Once the idle connections are gone (the server notices each close), all is served.
    deadline = time.monotonic() + 5
    while httpx.get(f"{tight.url}/healthz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "still refused after the crowd left"


# --- webhooks ------------------------------------------------------------------------------

def _webhook_head(hub: Hub, length: int, extra: str = "") -> bytes:
    return (f"POST /webhooks/github/github HTTP/1.1\r\nHost: {urlsplit(hub.url).netloc}\r\n"
            f"Content-Type: application/json\r\nX-GitHub-Event: deployment_status\r\n"
            f"X-GitHub-Delivery: stall-{time.monotonic_ns()}\r\n{extra}"
            f"Content-Length: {length}\r\n\r\n").encode()


def test_an_unsigned_webhook_is_refused_before_its_body_is_read(tight: Hub) -> None:
    raw = Raw.open(tight.url)
    try:
        raw.send(_webhook_head(tight, 200_000))  # declared, never sent
        said = raw.answer(within=QUICK)
    finally:
        raw.close()
    assert said.startswith(b"HTTP/1.1 401"), said[:200]
    assert b"UNAUTHENTICATED" in said


def test_a_webhook_declaring_a_large_body_is_refused_before_it_is_read(tight: Hub) -> None:
    raw = Raw.open(tight.url)
    try:
        raw.send(_webhook_head(tight, 900_000, "X-Hub-Signature-256: sha256=00\r\n"))
        said = raw.answer(within=QUICK)
    finally:
        raw.close()
    assert said.startswith(b"HTTP/1.1 413"), said[:200]
    assert b"PAYLOAD_TOO_LARGE" in said
