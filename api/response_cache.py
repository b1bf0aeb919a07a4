"""A bounded cache of whole read answers, so many callers of one query cost one execution.

An answer is shared by callers who send the same document, variables and
operation name with the same role and token scope: nothing else decides what
the graph shows them, except who they are, and a read that asks who is calling
(`viewer`, the caller's own feeds or bookings) is seen doing so (`watch`) and is
then kept for that caller alone. Only queries are kept, only answers without
errors, and never longer than the upstream answers they were built from
(`ttl`), so a cached answer is no staler than an uncached one could be.

Freshness is one `generation`: every change that could alter an answer
(a committed write, an upstream event, an upstream cache refresh) calls
`bump`, which drops every entry. An execution that started before a bump
stores nothing (its snapshot may predate the write), the guard
`api.cache.UpstreamCache.put` uses for the same race. Identical misses in
flight at once run once (single flight): the others wait for the first and take
its answer, unless it turns out to belong to one caller or fails.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from graphql import GraphQLError, OperationDefinitionNode, parse
from sqlalchemy import event
from sqlalchemy.orm import Session

from api.db.models import AuditEvent
from api.events import QUIET_ACTIONS
from api.permissions import Principal

#: Who is asking, as far as an answer can depend on it: role and token scope.
Key = tuple[str, str, str | None, str, str]
#: A read's key without its caller: document, canonical variables, operation name.
Read = tuple[str, str, str | None]
#: Bodies longer than this are not remembered by their bytes (they are parsed each time).
BODY_MEMO_MAX_BYTES = 16_384
Status = Literal["hit", "shared", "miss", "bypass"]
_WROTE = "heatshield.response_cache.wrote"
# The principal's attributes that say who is calling, beyond what they may see.
_IDENTITY = frozenset(f.name for f in fields(Principal)) - {"role", "scope"} | {"actor"}


class _Watched(Principal):
    """A principal that notes when a resolver reads who it is (not just its role)."""

    __slots__ = ("identity_read",)

    def __getattribute__(self, name: str) -> Any:
        if name in _IDENTITY:
            object.__setattr__(self, "identity_read", True)
        return super().__getattribute__(name)


def watch(principal: Principal) -> Principal:
    """A copy of `principal` for one execution; `identity_read(copy)` tells if it was asked."""
    copy = _Watched(**{f.name: getattr(principal, f.name) for f in fields(Principal)})
    object.__setattr__(copy, "identity_read", False)
    return copy


def identity_read(principal: Principal | None) -> bool:
    return bool(getattr(principal, "identity_read", False))


def identity(principal: Principal) -> tuple[object, ...]:
    """Everything that names the caller: the key of an answer kept for one caller."""
    return tuple(object.__getattribute__(principal, f.name) for f in fields(Principal))


@dataclass(frozen=True, slots=True)
class Entry:
    data: dict[str, Any]
    stored_at: float
    body: bytes  # `data` as JSON: served as it is on a hit, counted against `max_bytes`

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass(frozen=True, slots=True)
class Served:
    """What a caller gets: the execution's result (a miss) or a kept answer's data."""

    status: Status
    data: dict[str, Any] | None = None  # for hit and shared
    age: float = 0.0  # seconds since the answer was computed


Run = Callable[[], Awaitable[tuple[Any, bool]]]


class ResponseCache:
    def __init__(self, *, ttl: float, max_entries: int, max_bytes: int, max_tokens: int = 2000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens
        self.clock = clock
        self.generation = 0
        self.bytes = 0
        self.counts: dict[Status, int] = {"hit": 0, "shared": 0, "miss": 0, "bypass": 0}
        self._entries: OrderedDict[object, Entry] = OrderedDict()
        # Shared keys whose document turned out to read who is calling.
        self._personal: OrderedDict[Key, None] = OrderedDict()
        self._flights: dict[tuple[object, int], asyncio.Future[Entry | None]] = {}
        self._kinds: OrderedDict[tuple[str, str | None], tuple[str, str] | None] = OrderedDict()
        # Request bodies already parsed into a cacheable read (or found not to be one).
        self._bodies: OrderedDict[bytes, Read | None] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    # --- invalidation -------------------------------------------------------------------------

    def bump(self, *_: object) -> None:
        """Something changed: drop every answer, and refuse those being computed now.

        Takes and ignores any arguments, so it can listen to any notifier."""
        self.generation += 1
        self._entries.clear()
        self.bytes = 0

    invalidate_all = bump

    def watch_writes(self, session_class: type[Session]) -> None:
        """Bump when a transaction of this process that recorded audit events commits.

        At once, in this process: on PostgreSQL the same events come back through the
        relay (and reach the other replicas that way) only after the commit."""

        @event.listens_for(session_class, "after_flush")
        def noted(session: Session, _context: Any) -> None:
            if any(isinstance(a, AuditEvent) and a.action not in QUIET_ACTIONS
                   for a in session.new):
                session.info[_WROTE] = True

        @event.listens_for(session_class, "after_commit")
        def committed(session: Session) -> None:
            if session.info.pop(_WROTE, False):
                self.bump()

        @event.listens_for(session_class, "after_soft_rollback")
        def rolled_back(session: Session, _previous: Any) -> None:
            session.info.pop(_WROTE, None)

    # --- what may be kept ---------------------------------------------------------------------

    def key(self, document: str | None, variables: Mapping[str, Any] | None,
            operation_name: str | None, principal: Principal | None) -> Key | None:
        """The shared key of a read, or None when it must run uncached."""
        if not self.enabled or not isinstance(document, str) or principal is None \
                or not isinstance(operation_name, str | None) \
                or not isinstance(variables, Mapping | None):
            return None  # malformed: the execution says what is wrong, uncached
        read = self.read(document, variables, operation_name)
        return None if read is None else self.read_key(read, principal)

    def read(self, document: str, variables: Mapping[str, Any] | None,
             operation_name: str | None) -> Read | None:
        """A query's identity apart from its caller, or None when it is no query."""
        chosen = self.operation(document, operation_name)
        if chosen is None or chosen[0] != "query":
            return None
        try:
            canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):  # an upload, or anything JSON cannot say
            return None
        return (document, canonical, operation_name)

    def read_of_body(self, body: bytes, parse: Callable[[bytes], Read | None]) -> Read | None:
        """The read a POSTed body asks for, remembered by its bytes: the same dashboard body
        sent by a hundred screens is parsed and checked once, not a hundred times.

        `parse` turns a body into its read (None: not a plain cacheable read); it is
        called only for bodies not seen lately, and raises for bodies it refuses (those
        are not remembered)."""
        if len(body) > BODY_MEMO_MAX_BYTES:
            return parse(body)
        if body in self._bodies:
            self._bodies.move_to_end(body)
            return self._bodies[body]
        read = parse(body)
        self._bodies[body] = read
        if len(self._bodies) > 256:
            self._bodies.popitem(last=False)
        return read

    def read_key(self, read: Read, principal: Principal) -> Key:
        return (*read, principal.role.value, principal.scope)

    def operation(self, document: str, operation_name: str | None) -> tuple[str, str] | None:
        """The chosen operation's type and name ("" unnamed); None when the document does not
        parse or names no single operation (the execution reports that, uncached)."""
        memo = (document, operation_name)
        if memo in self._kinds:
            self._kinds.move_to_end(memo)
            return self._kinds[memo]
        try:
            tree = parse(document, no_location=True, max_tokens=self.max_tokens)
        except GraphQLError:
            kind = None
        else:
            operations = [d for d in tree.definitions if isinstance(d, OperationDefinitionNode)]
            chosen = [o for o in operations if operation_name is None
                      or (o.name is not None and o.name.value == operation_name)]
            kind = ((chosen[0].operation.value, chosen[0].name.value if chosen[0].name else "")
                    if len(chosen) == 1 else None)
        self._kinds[memo] = kind
        if len(self._kinds) > 256:
            self._kinds.popitem(last=False)
        return kind

    # --- serving ------------------------------------------------------------------------------

    def kept(self, key: Key, principal: Principal) -> Entry | None:
        """The fresh answer kept for this read and caller, counted as a hit; else None."""
        lookup: object = (key, identity(principal)) if key in self._personal else key
        entry = self._entries.get(lookup)
        if entry is None or self.clock() - entry.stored_at > self.ttl:
            return None
        self._entries.move_to_end(lookup)
        self.counts["hit"] += 1
        return entry

    async def serve(self, key: Key, principal: Principal, run: Run) -> tuple[Served, Any]:
        """A kept answer, another caller's answer in flight, or `run()`'s own.

        `run` executes the operation and says whether it read who is calling; it
        returns (result, personal). The second value returned here is that result on a
        miss (None otherwise)."""
        own = (key, identity(principal))
        lookup: object = own if key in self._personal else key
        now = self.clock()
        entry = self.kept(key, principal)
        if entry is not None:
            return Served("hit", entry.data, now - entry.stored_at), None
        flight = self._flights.get((lookup, self.generation))
        if flight is not None:
            shared = await asyncio.shield(flight)
            if shared is not None:
                self.counts["shared"] += 1
                return Served("shared", shared.data, self.clock() - shared.stored_at), None
            self.counts["bypass"] += 1  # its answer was not for us: compute our own
            result, _personal = await run()
            return Served("bypass"), result
        self.counts["miss"] += 1
        generation = self.generation
        ident = (lookup, generation)
        future: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._flights[ident] = future
        kept: Entry | None = None
        try:
            result, personal = await run()
            data = getattr(result, "data", None)
            if not getattr(result, "errors", None) and isinstance(data, dict):
                kept = Entry(data, now, _encode(data))
                if personal:
                    self._personal[key] = None
                    if len(self._personal) > self.max_entries:
                        self._personal.popitem(last=False)
                if generation == self.generation:
                    self._store(own if personal else key, kept)
            # Waiters share the answer only when it is everyone's (or theirs alone).
            if personal and lookup != own:
                kept = None
        finally:
            del self._flights[ident]
            future.set_result(kept)
        return Served("miss"), result

    def _store(self, key: object, entry: Entry) -> None:
        if entry.size > self.max_bytes // 4:
            return  # one answer may not crowd out the rest
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.bytes -= previous.size
        self._entries[key] = entry
        self.bytes += entry.size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.bytes -= dropped.size

    @property
    def hit_ratio(self) -> float:
        """Answers served without executing, of all lookups (0 before any)."""
        served = self.counts["hit"] + self.counts["shared"]
        total = served + self.counts["miss"] + self.counts["bypass"]
        return served / total if total else 0.0


def _encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()
