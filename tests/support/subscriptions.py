"""A graphql-transport-ws client for tests, speaking the protocol as browsers' clients do."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import ClientConnection, connect

PROTOCOL = "graphql-transport-ws"


class SubscriptionClient:
    """One WebSocket to `/graphql`, acknowledged; `subscribe` then `next` messages."""

    def __init__(self, base_url: str, *, token: str | None = None,
                 cookie: str | None = None, origin: str | None = None) -> None:
        headers: dict[str, str] = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = cookie
        self._opened = connect(
            base_url.replace("http://", "ws://", 1) + "/graphql", subprotocols=[PROTOCOL],
            additional_headers=headers, origin=origin, open_timeout=10)  # type: ignore[arg-type]
        self.socket: ClientConnection = self._opened.__enter__()
        self.send({"type": "connection_init", "payload": {}})
        ack = self.receive(10)
        assert ack["type"] == "connection_ack", ack

    def send(self, message: dict[str, Any]) -> None:
        self.socket.send(json.dumps(message))

    def receive(self, timeout: float = 5) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(self.socket.recv(timeout=timeout))
            if message["type"] == "ping":
                self.send({"type": "pong"})
                continue
            return message

    def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        self.send({"id": id, "type": "subscribe",
                   "payload": {"query": query, "variables": variables or {}}})

    def close(self) -> None:
        self._opened.__exit__(None, None, None)

    def __enter__(self) -> SubscriptionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
