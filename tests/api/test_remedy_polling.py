"""Remedy decisions flow back by polling: batched, from a stored watermark, across restarts.

Remedy pushes nothing, so the hub asks it every `events.poll_seconds` which of
the changes linked to releases still in play were modified since its
watermark. A change moved in Remedy reaches a subscribed client within the
poll interval plus a second; one moved while the hub was down is heard once
the hub is back, and only once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.demo import (
    CREDENTIALS,
    build_sandboxes,
    release_links,
)
from connectors.sandbox.world import World, build_world
from tests.support.demo_hub import demo_hub
from tests.support.graphql import GraphQLClient, new_secret, principal_step
from tests.support.server import serve_asgi
from tests.support.subscriptions import SubscriptionClient

TOKEN = new_secret()
POLL_SECONDS = 0.5
CHANGES = "/sandbox/remedy/api/arsys/v1/entry/CHG:Infrastructure Change"
ON_CHANGES = """subscription($k: String!) { changeRequestChanged(release: $k) {
  action key release { changeRequests { number state } } } }"""
HISTORY = """query($k: String!) { release(key: $k) { history(first: 200) { action } } }"""


class Remedy:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        token = self.http.post("/sandbox/remedy/api/jwt/login", data={
            "username": CREDENTIALS.username, "password": CREDENTIALS.password}).text
        self.auth = {"Authorization": f"AR-JWT {token}"}

    def move(self, number: str, status: str, reason: str | None = None) -> None:
        found = self.http.get(CHANGES, headers=self.auth, params={
            "q": f"'Infrastructure Change ID' = \"{number}\""}).json()["entries"]
        [entry] = found
        moved = self.http.put(f"{CHANGES}/{entry['values']['Request ID']}", headers=self.auth,
                              json={"values": {"Change Request Status": status,
                                               **({"Status Reason": reason} if reason else {})}})
        self.http.close()
        assert moved.status_code == 204, moved.text


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def sandboxes_url(world: World) -> Iterator[str]:
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as url:
        yield url


@contextmanager
def hub(world: World, sandboxes_url: str, database: Path) -> Iterator[str]:
    with demo_hub(world, sandboxes_url, f"sqlite+aiosqlite:///{database}",
                  startup=[principal_step(TOKEN)],
                  events={"poll_seconds": POLL_SECONDS}) as url:
        time.sleep(2 * POLL_SECONDS)  # the first poll sets the watermark
        yield url


def remedy_change(world: World, release_key: str) -> str:
    [number] = [key for source, kind, key in release_links(world, release_key)
                if source == "remedy" and kind.name == "CHANGE_REQUEST"]
    return number


def heard(url: str, release_key: str) -> int:
    gql = GraphQLClient(url, token=TOKEN)
    history = gql.data(HISTORY, {"k": release_key})["release"]["history"]
    gql.close()
    return sum(1 for event in history if event["action"] == "change.upstream")


def test_a_change_moved_in_remedy_reaches_a_subscriber_within_the_poll_interval(
        world: World, sandboxes_url: str, tmp_path: Path) -> None:
    release_key = "CHK-2026.11"  # its Remedy change is Scheduled
    number = remedy_change(world, release_key)
    with hub(world, sandboxes_url, tmp_path / "hub.db") as url, \
            SubscriptionClient(url, token=TOKEN) as socket:
        socket.subscribe("1", ON_CHANGES, {"k": release_key})
        time.sleep(0.3)
        started = time.monotonic()
        Remedy(sandboxes_url).move(number, "Implementation In Progress")
        message = socket.receive(timeout=POLL_SECONDS + 5)
        elapsed = time.monotonic() - started

        assert message["type"] == "next", message
        event = message["payload"]["data"]["changeRequestChanged"]
        assert event["action"] == "change.upstream" and event["key"] == number
        assert {c["number"]: c["state"] for c in event["release"]["changeRequests"]}[
            number] == "IMPLEMENT"
        assert elapsed < POLL_SECONDS + 1.5, f"heard after {elapsed:.2f} s"
        assert heard(url, release_key) == 1


def test_a_change_moved_while_the_hub_was_down_is_heard_once_after_the_restart(
        world: World, sandboxes_url: str, tmp_path: Path) -> None:
    release_key = "IDN-2026.11"  # its Remedy change is being implemented
    number = remedy_change(world, release_key)
    database = tmp_path / "hub.db"
    with hub(world, sandboxes_url, database) as url:
        assert heard(url, release_key) == 0  # the first poll tells no old news

    Remedy(sandboxes_url).move(number, "Completed", reason="Successful")
    with hub(world, sandboxes_url, database) as url:
        time.sleep(3 * POLL_SECONDS)
        assert heard(url, release_key) == 1
        time.sleep(3 * POLL_SECONDS)  # more polls, over the inclusive watermark
        assert heard(url, release_key) == 1
