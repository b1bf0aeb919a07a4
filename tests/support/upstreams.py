"""The sandboxes on a real socket, as tests drive them: faults, request counts, ITSM records."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from api.demo import CREDENTIALS
from connectors.sandbox.registry import default_registry
from connectors.sandbox.world import World


@dataclass
class Upstreams:
    """Every registered sandbox over one seeded world, mounted under `url`/sandbox/<kind>."""

    url: str
    world: World
    #: The sandboxes' apps by kind, for data no client may write (an issue without a summary).
    apps: dict[str, Any] = field(default_factory=dict)
    #: When `reset` last emptied the logs, in milliseconds (the logs stamp arrivals so).
    _reset_at: int | None = field(default=None, repr=False)

    @staticmethod
    def kinds() -> list[str]:
        return default_registry.kinds()

    def fault(self, kind: str, **rule: Any) -> None:
        httpx.post(f"{self.url}/sandbox/{kind}/_sandbox/faults", json=rule).raise_for_status()

    def clear_faults(self) -> None:
        for kind in self.kinds():
            httpx.delete(f"{self.url}/sandbox/{kind}/_sandbox/faults")

    def calls(self, kind: str) -> int:
        """Requests that reached the sandbox since the last `reset`, once answered.

        A sandbox logs a request when it has answered it, so one an earlier test left
        hanging is logged when its hang ends, perhaps after this test's `reset`: counted
        by arrival, it is not this test's."""
        body = httpx.get(f"{self.url}/sandbox/{kind}/_sandbox/requests").json()
        count: int = body["count"]
        if self._reset_at is None:
            return count
        return count - sum(round(_millis(e["at"])) < self._reset_at for e in body["requests"])

    def reset(self) -> None:
        for kind in self.kinds():
            httpx.delete(f"{self.url}/sandbox/{kind}/_sandbox/requests")
        self._reset_at = int(time.time() * 1000)

    def change_records(self, kind: str, correlation_id: str) -> list[dict[str, Any]]:
        """The change records the ITSM holds for a correlation id, read from its own API."""
        if kind == "servicenow":
            response = httpx.get(
                f"{self.url}/sandbox/servicenow/api/now/table/change_request",
                params={"sysparm_query": f"correlation_id={correlation_id}"},
                auth=(CREDENTIALS.username, CREDENTIALS.password))
            rows: list[dict[str, Any]] = response.json()["result"]
            return rows
        base = f"{self.url}/sandbox/remedy"
        token = httpx.post(f"{base}/api/jwt/login", data={
            "username": CREDENTIALS.username, "password": CREDENTIALS.password}).text
        response = httpx.get(f"{base}/api/arsys/v1/entry/CHG:Infrastructure Change",
                             params={"q": f"'Vendor Ticket Number' = \"{correlation_id}\""},
                             headers={"Authorization": f"AR-JWT {token}"})
        return [entry["values"] for entry in response.json()["entries"]]


def serial_rounds(requests: list[dict[str, Any]], latency_ms: float) -> int:
    """How many calls of a sandbox's request log ran one after another at most.

    Run with `latency_ms` injected into every answer: calls made side by side
    overlap by about that much, so a call counts as following another only when
    it started after that one had (nearly) finished. The answer is the longest
    such chain: 1 when every call ran at once, N for a chain of N pages.
    """
    spans = sorted((start, start + entry["duration_ms"]) for entry in requests
                   for start in [_millis(entry["at"])])
    slack = latency_ms / 2
    longest: list[int] = []
    for i, (start, _) in enumerate(spans):
        before = [longest[j] for j, (_, end) in enumerate(spans[:i]) if start >= end - slack]
        longest.append(1 + max(before, default=0))
    return max(longest, default=0)


def _millis(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000
