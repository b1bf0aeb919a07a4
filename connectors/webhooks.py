"""What a connector kind implements to take webhooks, and the events it reports, in neutral words.

A kind that receives webhooks implements `WebhookReceiver` on its connector
class: it knows its vendor's headers, signature scheme and payloads, and turns
a verified delivery into one of the events below. The hub's generic route
(`/webhooks/{source}`) does everything else (limits, claims against replay,
the rules, the writes), so it never needs a vendor's words.

The route calls, in this order: `signature_headers` (before reading the body,
so an unsigned delivery costs nothing), `verify`, `delivery_id`, `parse`.
Headers are a case-insensitive mapping (Starlette's), looked up in lower case.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from connectors.records import DeploymentState

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "ChangeChanged",
    "DeploymentEvent",
    "GateRequested",
    "Ignored",
    "Ping",
    "WebhookEvent",
    "WebhookReceiver",
    "WebhookRefusal",
    "WebhookRefused",
    "WorkChanged",
    "fresh_enough",
    "json_object",
    "sha256_signature_valid",
    "tolerance_option",
]

#: How far a signed timestamp may be from the hub's clock, either way, by default.
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookRefusal(enum.Enum):
    """Why a delivery is refused; the route answers each with its own status and code."""

    BAD_SIGNATURE = "BAD_SIGNATURE"  # not provably from the sender: 401
    STALE_DELIVERY = "STALE_DELIVERY"  # no signed timestamp, or too old: 400
    BAD_REQUEST = "BAD_REQUEST"  # signed, but not something the kind can read: 400


class WebhookRefused(Exception):
    """A delivery the kind will not take; the message goes to the sender (never a secret)."""

    def __init__(self, reason: WebhookRefusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# --- events ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DeploymentEvent:
    """A deployment of `ref` of `repository` to `environment` reached `state`.

    `reporter` is the product that says so (for notes written upstream);
    `detail` is the sender's own words for the state, if any.
    """

    reporter: str
    repository: str
    ref: str
    environment: str
    state: DeploymentState
    state_label: str
    deployment_id: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WorkChanged:
    """Work items changed upstream (created, updated, deleted): cached reads are stale."""

    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeChanged:
    """A change request moved in its ITSM (state, approval, window): cached reads are stale.

    `state` and `approval` are the ITSM's own words, for the record; the hub
    reads the change afresh rather than trusting a pushed copy.
    """

    number: str
    state: str = ""
    approval: str = ""


@dataclass(frozen=True, slots=True)
class GateRequested:
    """A pipeline waits for the hub's word before deploying `ref` of `repository` to
    `environment`; the answer goes to `callback` (a URL of the same upstream)."""

    repository: str
    ref: str
    environment: str
    callback: str
    deployment_id: str = ""


@dataclass(frozen=True, slots=True)
class Ping:
    """The sender checks the endpoint is there; nothing to do."""


@dataclass(frozen=True, slots=True)
class Ignored:
    """A genuine delivery of something the hub does not act on."""

    reason: str = field(default="")


WebhookEvent = DeploymentEvent | WorkChanged | ChangeChanged | GateRequested | Ping | Ignored


# --- the protocol ------------------------------------------------------------------------

@runtime_checkable
class WebhookReceiver(Protocol):
    """A connector kind's webhook knowledge; the instance's config gives its options."""

    #: Headers one of which carries the signature, lower case; a delivery with none of
    #: them is refused before its body is read.
    signature_headers: ClassVar[tuple[str, ...]]

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str,
               now: float) -> None:
        """Raise `WebhookRefused` unless `body` is signed with `secret` (and, where the
        vendor signs a timestamp, recent as of `now`, epoch seconds)."""
        ...

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """The sender's id of this delivery (None when it sent none)."""
        ...

    def event_type(self, headers: Mapping[str, str], body: bytes) -> str:
        """The vendor's name of the event, as recorded with the delivery."""
        ...

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """The verified delivery as a neutral event; `WebhookRefused` when unreadable."""
        ...


# --- helpers kinds share -----------------------------------------------------------------

def sha256_signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is `sha256=<hex HMAC-SHA256(secret, body)>`, compared in constant time."""
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def fresh_enough(timestamp_ms: object, now: float, tolerance_seconds: float,
                 required: bool = False) -> bool:
    """A payload timestamp (epoch milliseconds) within the tolerance either way.

    A missing one is fine only where the kind never sends one (`required=False`).
    """
    if timestamp_ms is None:
        return not required
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int | float):
        return False
    return abs(now - timestamp_ms / 1000) <= tolerance_seconds


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or `WebhookRefused(BAD_REQUEST)`."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookRefused(WebhookRefusal.BAD_REQUEST, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRefused(WebhookRefusal.BAD_REQUEST, "the body is not a JSON object")
    return payload


def tolerance_option(options: Mapping[str, object]) -> float:
    """`webhook_tolerance_seconds` from a connector's options, else the default."""
    value = options.get("webhook_tolerance_seconds", DEFAULT_TOLERANCE_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DEFAULT_TOLERANCE_SECONDS
    return float(value)
