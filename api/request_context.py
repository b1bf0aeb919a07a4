"""What is known about the request in flight, for log lines, metrics and traces.

`api.envelope` gives every HTTP request an id, kept in a context variable for
as long as the request runs (and in the tasks it starts), and sent back as
`X-Request-Id`. A caller (or the proxy in front) may bring its own id; it is
kept only when it is short and made of safe characters, so it can go into a log
line as it is. The graph names the operations it runs (`OperationName`), so the
request's metrics and trace can say which operation it was.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

from opentelemetry import trace
from strawberry.extensions import SchemaExtension

HEADER = b"x-request-id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass(slots=True)
class RequestInfo:
    request_id: str
    #: The GraphQL operations the request ran, by name ("" for an unnamed one).
    operations: list[str] = field(default_factory=list)
    #: Whether the client accepts a gzipped answer (read once, by `api.envelope`).
    gzip: bool = False


_current: ContextVar[RequestInfo | None] = ContextVar("heatshield_request", default=None)


def current_request() -> RequestInfo | None:
    return _current.get()


def current_request_id() -> str | None:
    info = _current.get()
    return info.request_id if info is not None else None


def accepted_id(value: str | None) -> str:
    """The caller's id when it is safe to log as it is, else a fresh one."""
    if value is not None and _SAFE_ID.fullmatch(value):
        return value
    # Unique, not secret: 128 random bits without uuid4's system call on every request
    # (`random` reseeds itself in a forked worker).
    return f"{random.getrandbits(128):032x}"


def enter(info: RequestInfo) -> Token[RequestInfo | None]:
    """`info` is the current request's until `leave` (`api.envelope` enters each request)."""
    return _current.set(info)


def leave(token: Token[RequestInfo | None]) -> None:
    _current.reset(token)


class OperationName(SchemaExtension):
    """Records each operation's name once the document is parsed, so an unnamed request
    whose document holds one named operation is known by that name."""

    def on_operation(self) -> Iterator[None]:
        yield
        try:
            name = self.execution_context.operation_name or ""
        except Exception:  # a document that did not parse has no operation to name
            name = ""
        info = _current.get()
        if info is not None:
            info.operations.append(name)
        span = trace.get_current_span()
        if name and span.is_recording():
            span.set_attribute("graphql.operation.name", name[:128])
