"""Live updates: GraphQL subscriptions over graphql-transport-ws, against a real hub.

A subscriber hears a committed write within a second, never a rolled-back
one; only signed-in callers from our own pages may subscribe, at most so many
at once; a subscription ends when its session does; and over PostgreSQL a
write on one replica reaches a subscriber on another.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from api.db.models import Role
from tests.adversarial.conftest import Hub, start_hub
from tests.support.databases import fresh_database
from tests.support.graphql import GraphQLClient
from tests.support.subscriptions import SubscriptionClient
from tests.support.upstreams import Upstreams

CREATE = """mutation($input: CreateReleaseInput!) { createRelease(input: $input) { id key } }"""
RENAME = """mutation($id: ID!, $name: String!, $v: Int) {
  updateRelease(id: $id, input: {name: $name}, expectedVersion: $v) { version } }"""
ON_RELEASE = """subscription($key: String) { releaseChanged(key: $key) {
  action entity key release { key name status } } }"""
ON_CHANGES = """subscription($key: String) { changeRequestChanged(release: $key) {
  action entity release { key } } }"""


def new_release(client: GraphQLClient) -> tuple[str, str]:
    key = f"LIVE-{uuid.uuid4().hex[:8]}"
    created = client.data(CREATE, {"input": {"key": key, "name": f"Live {key}",
                                             "type": "PROJECT"}})["createRelease"]
    return created["id"], key


def next_event(socket: SubscriptionClient, timeout: float = 5) -> dict[str, Any]:
    message = socket.receive(timeout)
    assert message["type"] == "next", message
    assert not message["payload"].get("errors"), message
    event: dict[str, Any] = next(iter(message["payload"]["data"].values()))
    return event


def error_code(message: dict[str, Any]) -> str:
    """The code of a subscription's error, sent as `error` (before it ran) or as a `next`
    carrying errors (when it failed while running)."""
    if message["type"] == "error":
        return str(message["payload"][0]["extensions"]["code"])
    assert message["type"] == "next" and message["payload"].get("errors"), message
    return str(message["payload"]["errors"][0]["extensions"]["code"])


def test_a_subscriber_hears_a_committed_write_within_a_second(hub: Hub) -> None:
    rm = hub.client()
    release_id, key = new_release(rm)
    with SubscriptionClient(hub.url, token=hub.tokens[Role.VIEWER]) as socket:
        socket.subscribe("1", ON_RELEASE, {"key": key})
        time.sleep(0.3)  # the subscription is registered once the server has read it
        started = time.monotonic()
        rm.data(RENAME, {"id": release_id, "name": "Renamed live"})

        event = next_event(socket)
        elapsed = time.monotonic() - started

    assert event["action"] == "release.update" and event["entity"] == "Release"
    assert event["release"] == {"key": key, "name": "Renamed live", "status": "PLANNED"}
    assert elapsed < 1.0, f"the event took {elapsed:.2f} s"


def test_a_subscriber_to_one_release_hears_nothing_of_another(hub: Hub) -> None:
    rm = hub.client()
    _, watched = new_release(rm)
    other_id, _ = new_release(rm)
    with SubscriptionClient(hub.url, token=hub.tokens[Role.VIEWER]) as socket:
        socket.subscribe("1", ON_RELEASE, {"key": watched})
        time.sleep(0.3)
        rm.data(RENAME, {"id": other_id, "name": "Not the watched one"})
        with pytest.raises(TimeoutError):
            socket.receive(timeout=1.0)


def test_a_refused_write_rolls_back_and_tells_no_one(hub: Hub) -> None:
    rm = hub.client()
    release_id, key = new_release(rm)
    with SubscriptionClient(hub.url, token=hub.tokens[Role.VIEWER]) as socket:
        socket.subscribe("1", ON_RELEASE, {"key": key})
        time.sleep(0.3)
        error = rm.error(RENAME, {"id": release_id, "name": "stale", "v": 999})
        assert error["extensions"]["code"] == "CONFLICT"
        with pytest.raises(TimeoutError):
            socket.receive(timeout=1.0)


def test_change_request_subscribers_ignore_plain_release_edits(hub: Hub) -> None:
    rm = hub.client()
    release_id, key = new_release(rm)
    with SubscriptionClient(hub.url, token=hub.tokens[Role.VIEWER]) as socket:
        socket.subscribe("1", ON_CHANGES, {"key": key})
        time.sleep(0.3)
        rm.data(RENAME, {"id": release_id, "name": "Only a rename"})
        with pytest.raises(TimeoutError):
            socket.receive(timeout=1.0)


def test_subscribing_to_a_release_that_does_not_exist_is_an_error(hub: Hub) -> None:
    with SubscriptionClient(hub.url, token=hub.tokens[Role.VIEWER]) as socket:
        socket.subscribe("1", ON_RELEASE, {"key": "NO-SUCH-RELEASE"})
        message = socket.receive()
    assert error_code(message) == "NOT_FOUND"


def test_an_anonymous_websocket_is_refused(hub: Hub) -> None:
    with pytest.raises(InvalidStatus) as refused:
        SubscriptionClient(hub.url)
    assert refused.value.response.status_code == 403


def test_a_revoked_token_cannot_open_a_websocket(hub: Hub) -> None:
    with pytest.raises(InvalidStatus):
        SubscriptionClient(hub.url, token="hs_not-a-real-token")


def _session_cookie(hub: Hub, role: Role) -> tuple[Any, str]:
    browser = hub.login(role)
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    return browser, cookie


def test_a_signed_in_page_of_our_own_may_subscribe(hub: Hub) -> None:
    _, cookie = _session_cookie(hub, Role.VIEWER)
    with SubscriptionClient(hub.url, cookie=cookie, origin=hub.url) as socket:
        socket.subscribe("1", ON_RELEASE, {"key": None})


def test_a_cross_site_page_cannot_ride_the_session_cookie(hub: Hub) -> None:
    _, cookie = _session_cookie(hub, Role.VIEWER)
    with pytest.raises(InvalidStatus):
        SubscriptionClient(hub.url, cookie=cookie, origin="https://evil.example")
    with pytest.raises(InvalidStatus):
        SubscriptionClient(hub.url, cookie=cookie)  # no Origin at all


@pytest.fixture(scope="module")
def strict_hub(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Hub]:
    """A hub that allows two subscriptions per caller and rechecks sessions quickly."""
    tmp: Path = tmp_path_factory.mktemp("strict")
    with fresh_database("sqlite", tmp) as url, start_hub(
            upstreams, url, "sqlite",
            events={"subscriptions_per_caller": 2, "recheck_seconds": 0.3}) as running:
        yield running


def test_a_caller_holds_at_most_the_configured_number_of_subscriptions(
        strict_hub: Hub) -> None:
    with SubscriptionClient(strict_hub.url, token=strict_hub.tokens[Role.VIEWER]) as socket:
        for n in (1, 2, 3):
            socket.subscribe(str(n), ON_RELEASE, {"key": None})
        message = socket.receive()
    assert message["id"] == "3", message
    assert error_code(message) == "RATE_LIMITED"


def test_a_subscription_ends_when_its_session_ends(strict_hub: Hub) -> None:
    browser, cookie = _session_cookie(strict_hub, Role.VIEWER)
    with SubscriptionClient(strict_hub.url, cookie=cookie, origin=strict_hub.url) as socket:
        socket.subscribe("1", ON_RELEASE, {"key": None})
        time.sleep(0.3)
        logout = browser.post("/auth/logout", headers={"Content-Type": "application/json"})
        assert logout.status_code in (200, 204), logout.text

        message = socket.receive(timeout=5)

    assert error_code(message) == "UNAUTHENTICATED"


def test_a_write_on_one_replica_reaches_a_subscriber_on_another(
        hub: Hub, upstreams: Upstreams) -> None:
    if hub.backend != "postgres":
        pytest.skip("replicas share events through PostgreSQL; SQLite has one process")
    with start_hub(upstreams, hub.database_url, hub.backend) as second:
        release_id, key = new_release(hub.client())
        with SubscriptionClient(second.url, token=second.tokens[Role.VIEWER]) as socket:
            socket.subscribe("1", ON_RELEASE, {"key": key})
            time.sleep(0.3)
            hub.client().data(RENAME, {"id": release_id, "name": "Told across replicas"})

            event = next_event(socket)

    assert event["release"]["name"] == "Told across replicas"


SOURCES = """subscription { sourcesChanged(everySeconds: 0.5) { name status breaker } }"""
TOUCHING_JIRA = """{ releases(first: 3) { nodes { workItems(first: 1) { totalCount } } } }"""


def test_a_source_going_down_is_told_to_its_subscribers(hub: Hub,
                                                         upstreams: Upstreams) -> None:
    with SubscriptionClient(hub.url, token=hub.tokens[Role.VIEWER]) as socket:
        socket.subscribe("1", SOURCES)
        first = {s["name"]: s["status"] for s in next_event(socket)}
        upstreams.fault("jira", error_rate=1.0, error_status=503)
        hub.client().post(TOUCHING_JIRA)

        deadline = time.monotonic() + 15
        while True:  # the other sources may come up first, each a message of its own
            changed = {s["name"]: s["status"] for s in next_event(socket, timeout=15)}
            if changed["jira"] not in ("UP", first["jira"]) or time.monotonic() > deadline:
                break

    assert set(first) == set(changed)
    assert changed["jira"] not in ("UP", first["jira"])


def test_a_silly_source_interval_is_refused_by_name(hub: Hub) -> None:
    with SubscriptionClient(hub.url, token=hub.tokens[Role.VIEWER]) as socket:
        socket.subscribe("1", "subscription { sourcesChanged(everySeconds: 0.01) { name } }")
        message = socket.receive()
    assert error_code(message) == "BAD_USER_INPUT"
