"""Who is calling: passwords, login sessions and API tokens.

Secrets never rest in clear: passwords are argon2id hashes; session secrets and
API tokens are 256-bit random values of which only a SHA-256 digest is stored
(a fast digest is enough for values nobody can guess, and keeps per-request
lookups cheap). The cookie additionally carries a signature, so a forged or
truncated cookie is refused before the database is asked.

Local users are one source of principals; single sign-on would be another
(see README, "Security"): it would end in `start_session` like a password login.

Finding the caller costs no database write, and on most requests no read: a
principal found is kept for a few seconds (`PrincipalCache`, keyed by the
secret's digest), and last-used times are noted in memory and written in
batches (`flush`, periodically and at shutdown). A committed revocation,
logout, role change or disabled user (an access event in the audit trail)
empties the cache at once in this process (`watch_access_writes`) and, through
the event bus, in every other (`forget_on`).

Argon2 takes a core for a noticeable moment by design, so hashing and
verifying run on a small dedicated thread pool, never on the event loop, and
never while a write transaction is open: a storm of logins neither stalls
other requests nor holds the database's write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from api.db import models as m
from api.db.audit import record
from api.domain.access import UNKNOWN_USER, client_key, is_access_event
from api.events import Subscription
from api.permissions import RANK, Principal
from api.settings import SecuritySettings
from api.shared_state import LoginThrottle

log = logging.getLogger("heatshield.auth")

TOKEN_PREFIX = "hs_"
_hasher = PasswordHasher()


def _yield_to_serving() -> None:
    """Run this hashing thread (and the lane threads argon2 starts from it) at a lower
    priority, so a storm of logins takes spare CPU, not the event loop's share."""
    # Linux sets priorities per thread; elsewhere the pool's small size is the only bound.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)


# Each hash already runs `parallelism` lanes on threads of its own, so a pool of one
# worker per that many cores keeps argon2 within the machine. Threads start on first
# use, and argon2 releases the GIL while it works.
_HASHING = ThreadPoolExecutor(
    max_workers=max(1, min(4, (os.cpu_count() or 1) // max(1, _hasher.parallelism))),
    thread_name_prefix="argon2", initializer=_yield_to_serving)
_T = TypeVar("_T")
_ACCESS_WRITE = "heatshield.auth.access_write"


def _changes_access(action: str, entity_type: str) -> bool:
    """An access event that may take access away (a login, failed or not, takes none)."""
    return is_access_event(action, entity_type) and not action.startswith("auth.login")


class PasswordPolicyError(ValueError):
    """A password the policy refuses; the message says why, never the password."""


def now() -> datetime:
    return datetime.now(UTC)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password_policy(password: str, min_length: int = 12) -> None:
    if len(password) < min_length:
        raise PasswordPolicyError(f"a password needs at least {min_length} characters")
    if len(password) > 1024:
        raise PasswordPolicyError("a password may have at most 1024 characters")


def hash_password(password: str, min_length: int = 12) -> str:
    """Blocking; async code uses `hash_password_off_loop`."""
    check_password_policy(password, min_length)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Blocking; async code uses `verify_password_off_loop`."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash nobody knows the password of, made on first need (not at import)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify_unknown(password: str) -> bool:
    verify_password(_dummy_hash(), password)  # as slow as a real check, and always False
    return False


async def _off_loop(work: Callable[[], _T]) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, work)


async def hash_password_off_loop(password: str, min_length: int = 12) -> str:
    check_password_policy(password, min_length)  # refuse before queueing any work
    return await _off_loop(functools.partial(_hasher.hash, password))


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """Check a password on the hashing pool; None (no such user) costs the same and fails."""
    if password_hash is None:
        return await _off_loop(functools.partial(_verify_unknown, password))
    return await _off_loop(functools.partial(verify_password, password_hash, password))


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> tuple[str, str, str]:
    """A fresh API token: (the secret shown once, its display prefix, its digest)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[:10], digest(secret)


def lower_role(a: m.Role, b: m.Role) -> m.Role:
    return a if RANK[a] <= RANK[b] else b


# Creating users, setting passwords and roles, issuing and revoking tokens (the writes
# with their audit events) are use cases: see `api.services.access`.


# --- the request-time side --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SessionCookie:
    """A cookie value to set on the response (login or rotation)."""

    value: str
    max_age: int


class LoginDelayed(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("too many failed logins")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Kept:
    principal: Principal
    until: float  # monotonic seconds
    rotate_at: datetime | None = None  # a session: when its cookie is due for a new secret


class PrincipalCache:
    """Principals found recently, by the digest of the secret presented; bounded, short.

    An entry never outlives its token's or session's expiry, nor a session's next
    rotation; `clear` (any access change) drops them all."""

    def __init__(self, *, ttl: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._kept: dict[str, _Kept] = {}
        #: Bumped by `clear`: a lookup that began before a clear keeps nothing.
        self.generation = 0

    def get(self, key: str) -> _Kept | None:
        kept = self._kept.get(key)
        if kept is not None and kept.until <= self.clock():
            del self._kept[key]
            return None
        return kept

    def put(self, key: str, principal: Principal, *, generation: int,
            expires_at: datetime | None, rotate_at: datetime | None = None) -> None:
        if self.ttl <= 0 or generation != self.generation:
            return
        until = self.clock() + self.ttl
        if expires_at is not None:
            until = min(until, self.clock() + (expires_at - now()).total_seconds())
        if len(self._kept) >= self.max_entries:
            self._kept.clear()  # a flood of distinct secrets: start over, never grow
        self._kept[key] = _Kept(principal, until, rotate_at)

    def clear(self, *_: object) -> None:
        self._kept.clear()
        self.generation += 1

    def __len__(self) -> int:
        return len(self._kept)


class Authenticator:
    """Turns a bearer token or a session cookie into a principal, and logs people in."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: SecuritySettings,
                 secret_key: str, clock: Callable[[], float] = time.monotonic,
                 throttle: LoginThrottle | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.principals = PrincipalCache(ttl=settings.principal_cache_seconds, clock=clock)
        # Last uses not yet written: token id / session id -> when.
        self._token_uses: dict[int, datetime] = {}
        self._session_uses: dict[int, datetime] = {}
        #: Told after a flush wrote rows (the response cache: `lastUsedAt` moved).
        self.flushed: list[Callable[[], None]] = []
        self._signer = URLSafeTimedSerializer(secret_key, salt="heatshield.session")
        # In this process, or shared by every replica (api/shared_state.py).
        self.throttle = throttle or LoginThrottle.from_settings(settings)

    @property
    def max_age(self) -> int:
        return self.settings.session_max_hours * 3600

    def _cookie(self, secret: str) -> SessionCookie:
        return SessionCookie(self._signer.dumps(secret), self.max_age)

    async def from_token(self, secret: str) -> Principal | None:
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        moment = now()
        key = digest(secret)
        kept = self.principals.get(key)
        if kept is not None:
            self._used(kept.principal, moment)
            return kept.principal
        generation = self.principals.generation
        async with self.sessions() as session:
            token = await session.scalar(select(m.ApiToken).where(m.ApiToken.token_hash == key))
            if token is None or token.revoked_at is not None or (
                    token.expires_at is not None and token.expires_at <= moment):
                return None
            user = await session.get(m.User, token.user_id) if token.user_id else None
            if token.user_id is not None and (user is None or user.disabled):
                return None
            role = lower_role(token.role, user.role) if user else token.role
            principal = Principal(subject=user.username if user else f"token:{token.name}",
                                  role=role, via="token", user_id=token.user_id,
                                  token_id=token.id, token_name=token.name, scope=token.scope)
            expires_at = token.expires_at
        self.principals.put(key, principal, generation=generation, expires_at=expires_at)
        self._used(principal, moment)
        return principal

    def _used(self, principal: Principal, moment: datetime) -> None:
        """Note a use, written with the next `flush` (no write on the request's path)."""
        if principal.via == "token" and principal.token_id is not None:
            self._token_uses[principal.token_id] = moment
        elif principal.session_id is not None:
            self._session_uses[principal.session_id] = moment

    async def flush(self) -> int:
        """Write the last-used times noted since the previous flush, one statement per table;
        the rows written. A time never moves back (another replica may have written later)."""
        tokens, self._token_uses = self._token_uses, {}
        seen, self._session_uses = self._session_uses, {}
        if not tokens and not seen:
            return 0
        written = 0
        async with self.sessions() as session, session.begin():
            tables: tuple[tuple[type[m.ApiToken] | type[m.LoginSession], str,
                                dict[int, datetime]], ...] = (
                (m.ApiToken, "last_used_at", tokens), (m.LoginSession, "last_seen_at", seen))
            for model, name, uses in tables:
                # Grouped by time: one UPDATE per distinct instant, naming its rows; a
                # NULL or older time is moved forward only.
                by_moment: dict[datetime, list[int]] = {}
                for ident, moment in uses.items():
                    by_moment.setdefault(moment, []).append(ident)
                column = getattr(model, name)
                for moment, idents in by_moment.items():
                    result = await session.execute(
                        update(model).where(model.id.in_(idents), or_(
                            column.is_(None), column < moment)).values({name: moment})
                        .execution_options(synchronize_session=False))
                    written += int(getattr(result, "rowcount", 0) or 0)
        if written:
            for listener in self.flushed:
                listener()
        return written

    async def flush_every(self, seconds: float) -> None:
        """The periodic flush, until cancelled (the app's shutdown flushes once more)."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.flush()
            except Exception:  # the database went away: the next flush tries again
                log.warning("could not write last-used times; will retry", exc_info=True)

    def watch_access_writes(self, session_class: type[Session]) -> None:
        """Forget every kept principal when a transaction that changed access commits
        (a revoked token, a logout, a role changed, a user disabled), before its answer."""

        @event.listens_for(session_class, "after_flush")
        def noted(session: Session, _context: Any) -> None:
            if any(isinstance(a, m.AuditEvent) and _changes_access(a.action, a.entity_type)
                   for a in session.new):
                session.info[_ACCESS_WRITE] = True

        @event.listens_for(session_class, "after_commit")
        def committed(session: Session) -> None:
            if session.info.pop(_ACCESS_WRITE, False):
                self.principals.clear()

        @event.listens_for(session_class, "after_soft_rollback")
        def rolled_back(session: Session, _previous: Any) -> None:
            session.info.pop(_ACCESS_WRITE, None)

    async def forget_on(self, events: Subscription) -> None:
        """Forget kept principals on each access change heard on the bus (other replicas')."""
        async for item in events:
            if _changes_access(item.action, item.entity):
                self.principals.clear()

    async def still_allowed(self, principal: Principal) -> bool:
        """Whether a principal found earlier still holds: its session open, its token not
        revoked or expired, its user not disabled. Long-lived connections ask this."""
        moment = now()
        async with self.sessions() as session:
            user = (await session.get(m.User, principal.user_id)
                    if principal.user_id is not None else None)
            if principal.user_id is not None and (user is None or user.disabled):
                return False
            if principal.via == "session":
                row = (await session.get(m.LoginSession, principal.session_id)
                       if principal.session_id is not None else None)
                idle = timedelta(minutes=self.settings.session_idle_minutes)
                return row is not None and row.ended_at is None and row.expires_at > moment \
                    and row.last_seen_at + idle > moment
            token = (await session.get(m.ApiToken, principal.token_id)
                     if principal.token_id is not None else None)
            return token is not None and token.revoked_at is None and (
                token.expires_at is None or token.expires_at > moment)

    async def from_cookie(self, value: str) -> tuple[Principal | None, SessionCookie | None]:
        """The session's principal, and a new cookie when the session was rotated.

        After a rotation the previous cookie stays valid for a short grace, so
        the browser's other requests already in flight are not logged out. The
        rotation itself is a compare-and-set on the secret it read: of two
        requests rotating at once, one wins and the other keeps its (now
        previous) cookie.
        """
        try:
            secret = self._signer.loads(value, max_age=self.max_age)
        except BadSignature:
            return None, None
        if not isinstance(secret, str):
            return None, None
        moment = now()
        presented = digest(secret)
        kept = self.principals.get(presented)
        if kept is not None and kept.rotate_at is not None and moment < kept.rotate_at:
            self._used(kept.principal, moment)
            return kept.principal, None
        generation = self.principals.generation
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        async with self.sessions() as session, session.begin():
            row = await session.scalar(select(m.LoginSession).where(or_(
                m.LoginSession.secret_hash == presented,
                m.LoginSession.previous_secret_hash == presented)))
            if row is None or row.ended_at is not None:
                return None, None
            current = row.secret_hash == presented
            if not current and (row.previous_valid_until is None
                                or row.previous_valid_until <= moment):
                return None, None
            last_seen = max(row.last_seen_at, self._session_uses.get(row.id, row.last_seen_at))
            if row.expires_at <= moment or last_seen + idle <= moment:
                row.ended_at = moment
                return None, None
            user = await session.get(m.User, row.user_id)
            if user is None or user.disabled:
                row.ended_at = moment
                return None, None
            cookie = None
            rotate = timedelta(minutes=self.settings.session_rotate_minutes)
            if current and moment - row.rotated_at >= rotate:
                cookie = await self._rotate(session, row.id, presented, moment)
            principal = Principal(subject=user.username, role=user.role, via="session",
                                  user_id=user.id, session_id=row.id)
            if current and cookie is None:
                self.principals.put(presented, principal, generation=generation,
                                    expires_at=row.expires_at,
                                    rotate_at=row.rotated_at + rotate)
        self._used(principal, moment)
        return principal, cookie

    async def _rotate(self, session: AsyncSession, session_id: int, presented: str,
                      moment: datetime) -> SessionCookie | None:
        """A fresh secret for the session, if it still has the one presented (else None)."""
        fresh = secrets.token_urlsafe(32)
        grace = timedelta(seconds=self.settings.session_rotate_grace_seconds)
        result = await session.execute(
            update(m.LoginSession)
            .where(m.LoginSession.id == session_id, m.LoginSession.secret_hash == presented)
            .values(secret_hash=digest(fresh), rotated_at=moment,
                    previous_secret_hash=presented, previous_valid_until=moment + grace)
            .execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) != 1:
            return None  # a parallel request rotated first; this cookie is in its grace
        return self._cookie(fresh)

    async def login(self, username: str, password: str, client: str | None = None
                    ) -> tuple[Principal, SessionCookie] | None:
        """Check the password and open a session; None for any failure, all alike.

        Unknown users cost as much as known ones, so timing does not tell them
        apart; the name typed for an unknown user is not recorded (it may be a
        password typed into the wrong field). The password is checked on the
        hashing pool with no transaction open; only then is the session written.
        Raises `LoginDelayed` while this name is slowed down for this client.
        """
        name = username.strip()[:100]
        address = client_key(client)
        wait = await self.throttle.wait(name, address)
        if wait:
            log.info("slowed a login from %s after repeated failures", address)
            raise LoginDelayed(wait)
        async with self.sessions() as session:
            user = await session.scalar(select(m.User).where(
                func.lower(m.User.username) == name.lower()))
        read_hash = user.password_hash if user else None
        ok = await verify_password_off_loop(read_hash, password)
        if user is None or not ok or user.disabled:
            await self.throttle.failed(name, address)
            await self._failed(user, "unknown user" if user is None else
                               "wrong password" if not ok else "user disabled")
            return None
        rehashed = (await _off_loop(functools.partial(_hasher.hash, password))
                    if needs_rehash(user.password_hash) else None)
        async with self.sessions() as session, session.begin():
            fresh = await session.get(m.User, user.id)
            if fresh is None or fresh.disabled or fresh.password_hash != read_hash:
                # Changed while the password was being checked: this proof is stale.
                await self.throttle.failed(name, address)
                record(session, actor=user.username, action="auth.login_failed",
                       entity_type="User", entity_id=user.id, entity_key=user.username,
                       reason="user changed during login")
                return None
            await self.throttle.succeeded(name, address)
            if rehashed is not None:
                fresh.password_hash = rehashed
            principal, cookie = await self.start_session(session, fresh)
            record(session, actor=fresh.username, action="auth.login", entity_type="User",
                   entity_id=fresh.id, entity_key=fresh.username)
            return principal, cookie

    async def _failed(self, user: m.User | None, reason: str) -> None:
        async with self.sessions() as session, session.begin():
            record(session, actor=user.username if user else UNKNOWN_USER,
                   action="auth.login_failed", entity_type="User",
                   entity_id=user.id if user else None,
                   entity_key=user.username if user else "", reason=reason)

    async def start_session(self, session: AsyncSession, user: m.User
                            ) -> tuple[Principal, SessionCookie]:
        """Open a session for a user whose identity was proven (password, or later SSO)."""
        secret = secrets.token_urlsafe(32)
        moment = now()
        row = m.LoginSession(user_id=user.id, secret_hash=digest(secret), created_at=moment,
                             last_seen_at=moment, rotated_at=moment,
                             expires_at=moment + timedelta(seconds=self.max_age))
        session.add(row)
        await session.flush()
        return (Principal(subject=user.username, role=user.role, via="session",
                          user_id=user.id, session_id=row.id), self._cookie(secret))

    async def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            return
        async with self.sessions() as session, session.begin():
            row = await session.get(m.LoginSession, principal.session_id)
            if row is not None and row.ended_at is None:
                row.ended_at = now()
            record(session, actor=principal.actor, action="auth.logout", entity_type="User",
                   entity_id=principal.user_id, entity_key=principal.subject)

