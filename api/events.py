"""What changed, told to whoever listens: in this process, and across replicas.

Every write in Heatshield records an audit event in its transaction, so the
audit trail is where change notifications come from: when a transaction that
recorded audit events commits, one `Event` per audit event goes out. Nothing
is told of a write that rolled back.

On SQLite the events stay in the process (`LocalBus`). On PostgreSQL each
transaction also sends them with `pg_notify` before it commits, so PostgreSQL
delivers them with the commit, to every replica's `PostgresRelay` listening on
the same database; no broker beyond the database is needed. A replica hears
its own notifications too, so on PostgreSQL events reach local subscribers
through the relay only (never twice).

Events are small (what kind of thing changed, its key, its release); a
subscriber reads the current state itself, so a missed event costs freshness,
never correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.db.models import AuditEvent

log = logging.getLogger("heatshield.events")

CHANNEL = "heatshield_events"
# Audited reads, not writes: telling of them would wake every gate waiter for nothing.
QUIET_ACTIONS = frozenset({"gate.check"})
_PENDING = "heatshield.events"
# PostgreSQL refuses a notification payload of 8,000 bytes or more.
_MAX_PAYLOAD = 7_900


@dataclass(frozen=True, slots=True)
class Event:
    """One committed write: the audit entity it touched and the release it concerns."""

    entity: str  # the audit entity type: "Release", "SourceLink", "ChangeRequest", ...
    key: str  # the entity's key as the audit trail names it
    action: str  # "release.update", "change.raise", ...
    release_id: int | None = None
    entity_id: int | None = None

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))[:_MAX_PAYLOAD]

    @classmethod
    def decode(cls, payload: str) -> Event | None:
        try:
            data = json.loads(payload)
            return cls(entity=str(data["entity"]), key=str(data["key"]),
                       action=str(data["action"]),
                       release_id=_int_or_none(data.get("release_id")),
                       entity_id=_int_or_none(data.get("entity_id")))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed event notification")
            return None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class SubscriberLimit(Exception):
    """A caller holds as many subscriptions as one caller may."""


class Subscription:
    """One listener's queue; when it falls `size` events behind, the oldest are dropped."""

    def __init__(self, bus: LocalBus, owner: str, wanted: Callable[[Event], bool],
                 size: int) -> None:
        self._bus = bus
        self.owner = owner
        self.wanted = wanted
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, item: Event) -> None:
        if not self.wanted(item):
            return
        if self.queue.full():  # a slow reader loses the oldest news, not the newest
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class LocalBus:
    """Fans events out to this process's subscribers, at most `per_owner` each."""

    def __init__(self, *, per_owner: int = 20, queue_size: int = 100) -> None:
        self.per_owner = per_owner
        self.queue_size = queue_size
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, owner: str, wanted: Callable[[Event], bool] = lambda _: True
                  ) -> Subscription:
        held = sum(1 for s in self._subscriptions if s.owner == owner)
        if held >= self.per_owner:
            raise SubscriberLimit(f"at most {self.per_owner} live subscriptions per caller")
        subscription = Subscription(self, owner, wanted, self.queue_size)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    @contextlib.contextmanager
    def subscription(self, owner: str, wanted: Callable[[Event], bool] = lambda _: True
                     ) -> Any:
        held = self.subscribe(owner, wanted)
        try:
            yield held
        finally:
            held.close()

    def publish(self, events: Iterable[Event]) -> None:
        for item in events:
            for subscription in list(self._subscriptions):
                subscription.offer(item)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def install(session_class: type[Session], bus: LocalBus, *, postgres: bool) -> None:
    """Turn each committed transaction's audit events into events on `bus`.

    On PostgreSQL the events are sent with `pg_notify` in the transaction
    (delivered at commit, dropped on rollback) and reach `bus` through the
    relay; elsewhere they are published to `bus` after the commit.
    """

    @event.listens_for(session_class, "after_flush")
    def collect(session: Session, _context: Any) -> None:
        found = [Event(entity=a.entity_type, key=a.entity_key or "", action=a.action,
                       release_id=a.release_id, entity_id=a.entity_id)
                 for a in session.new
                 if isinstance(a, AuditEvent) and a.action not in QUIET_ACTIONS]
        if not found:
            return
        if postgres:
            connection = session.connection()
            for item in found:
                connection.execute(text("SELECT pg_notify(:channel, :payload)"),
                                   {"channel": CHANNEL, "payload": item.encode()})
        else:
            session.info.setdefault(_PENDING, []).extend(found)

    if postgres:
        return

    @event.listens_for(session_class, "after_commit")
    def publish(session: Session) -> None:
        pending = session.info.pop(_PENDING, None)
        if pending:
            bus.publish(pending)

    @event.listens_for(session_class, "after_soft_rollback")
    def forget(session: Session, _previous: Any) -> None:
        session.info.pop(_PENDING, None)


class PostgresRelay:
    """Listens on the database's event channel and hands what it hears to the local bus.

    One connection per process, reopened with a growing pause when it drops;
    what was notified while it was down is lost (subscribers read the state
    afresh on their next event).
    """

    def __init__(self, dsn: str, bus: LocalBus, *, max_pause: float = 5.0) -> None:
        self.dsn = dsn
        self.bus = bus
        self.max_pause = max_pause
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="heatshield-event-relay")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), timeout=5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _heard(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        item = Event.decode(payload)
        if item is not None:
            self.bus.publish([item])

    async def _run(self) -> None:
        import asyncpg  # the PostgreSQL driver the engine already uses

        pause = 0.2
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self.dsn)
                lost = asyncio.Event()
                connection.add_termination_listener(
                    lambda _connection, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._heard)
                self.listening.set()
                pause = 0.2
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away; say so and try again
                log.warning("event relay lost its connection (%s); retrying",
                            type(exc).__name__)
            finally:
                self.listening.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(pause)
            pause = min(self.max_pause, pause * 2)


def asyncpg_dsn(url: str) -> str:
    """The engine's SQLAlchemy URL as a DSN asyncpg accepts."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)
