"""Who is calling: passwords, login sessions and API tokens.

Secrets never rest in clear: passwords are argon2id hashes; session secrets and
API tokens are 256-bit random values of which only a SHA-256 digest is stored
(a fast digest is enough for values nobody can guess, and keeps per-request
lookups cheap). The cookie additionally carries a signature, so a forged or
truncated cookie is refused before the database is asked.

Local users are one source of principals; single sign-on would be another
(see README, "Security"): it would end in `start_session` like a password login.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.db.audit import record
from api.domain.text import normalise_key
from api.permissions import RANK, Principal
from api.settings import SecuritySettings

log = logging.getLogger("heatshield.auth")

TOKEN_PREFIX = "hs_"
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
# How stale last-used times may get: one write a minute per caller, not one per request.
_TOUCH_EVERY = timedelta(seconds=60)


class PasswordPolicyError(ValueError):
    """A password the policy refuses; the message says why, never the password."""


def now() -> datetime:
    return datetime.now(UTC)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str, min_length: int = 12) -> str:
    if len(password) < min_length:
        raise PasswordPolicyError(f"a password needs at least {min_length} characters")
    if len(password) > 1024:
        raise PasswordPolicyError("a password may have at most 1024 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str, str]:
    """A fresh API token: (the secret shown once, its display prefix, its digest)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[:10], digest(secret)


def lower_role(a: m.Role, b: m.Role) -> m.Role:
    return a if RANK[a] <= RANK[b] else b


# --- users ------------------------------------------------------------------------------

async def create_user(session: AsyncSession, *, username: str, password: str, role: m.Role,
                      actor: str, display_name: str = "", min_length: int = 12) -> m.User:
    username = normalise_key(username, "input.username", max_length=100)
    if any(c.isspace() for c in username):
        raise ValueError("a user name needs 1 to 100 characters and no spaces")
    taken = await session.scalar(select(m.User.id).where(
        func.lower(m.User.username) == username.lower()))
    if taken is not None:
        raise ValueError(f"user {username!r} already exists")
    user = m.User(username=username, display_name=display_name,
                  password_hash=hash_password(password, min_length), role=role, disabled=False)
    session.add(user)
    await session.flush()
    record(session, actor=actor, action="user.create", entity_type="User", entity_id=user.id,
           entity_key=username, after={"role": role.name, "disabled": False})
    return user


async def set_password(session: AsyncSession, user: m.User, password: str, *, actor: str,
                       min_length: int = 12) -> None:
    """A new password also ends every session of the user."""
    user.password_hash = hash_password(password, min_length)
    await end_sessions(session, user.id)
    record(session, actor=actor, action="user.password", entity_type="User",
           entity_id=user.id, entity_key=user.username)


async def set_role(session: AsyncSession, user: m.User, role: m.Role, *, actor: str) -> None:
    before = user.role
    user.role = role
    record(session, actor=actor, action="user.role", entity_type="User", entity_id=user.id,
           entity_key=user.username, before={"role": before.name}, after={"role": role.name})


async def set_disabled(session: AsyncSession, user: m.User, disabled: bool, *,
                       actor: str) -> None:
    """Disabling also ends the user's sessions; their tokens stop working with them."""
    before = user.disabled
    user.disabled = disabled
    if disabled:
        await end_sessions(session, user.id)
    record(session, actor=actor, action="user.disable" if disabled else "user.enable",
           entity_type="User", entity_id=user.id, entity_key=user.username,
           before={"disabled": before}, after={"disabled": disabled})


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    rows = await session.scalars(select(m.LoginSession).where(
        m.LoginSession.user_id == user_id, m.LoginSession.ended_at.is_(None)))
    for row in rows:
        row.ended_at = now()


# --- tokens -----------------------------------------------------------------------------

async def issue_token(session: AsyncSession, *, user: m.User, name: str, role: m.Role,
                      expires_at: datetime | None, actor: str) -> tuple[str, m.ApiToken]:
    secret, prefix, token_hash = new_token()
    row = m.ApiToken(user_id=user.id, name=name, token_hash=token_hash, prefix=prefix,
                     role=role, expires_at=expires_at)
    session.add(row)
    await session.flush()
    record(session, actor=actor, action="token.create", entity_type="ApiToken",
           entity_id=row.id, entity_key=name,
           after={"role": role.name, "prefix": prefix, "user": user.username,
                  "expiresAt": expires_at.isoformat() if expires_at else None})
    return secret, row


async def revoke_token(session: AsyncSession, row: m.ApiToken, *, actor: str) -> None:
    if row.revoked_at is None:
        row.revoked_at = now()
    record(session, actor=actor, action="token.revoke", entity_type="ApiToken",
           entity_id=row.id, entity_key=row.name, after={"prefix": row.prefix})


# --- the request-time side --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SessionCookie:
    """A cookie value to set on the response (login or rotation)."""

    value: str
    max_age: int


class LoginThrottle:
    """Counts recent failed logins per user name; too many locks the name for a while."""

    def __init__(self, max_failures: int, lockout_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.clock = clock
        self._failures: dict[str, list[float]] = {}

    def _recent(self, name: str) -> list[float]:
        cutoff = self.clock() - self.lockout_seconds
        recent = [t for t in self._failures.get(name, []) if t > cutoff]
        if recent:
            self._failures[name] = recent
        else:
            self._failures.pop(name, None)
        return recent

    def locked_for(self, name: str) -> float:
        """Seconds until `name` may try again (0: now)."""
        recent = self._recent(name.lower())
        if len(recent) < self.max_failures:
            return 0.0
        return max(0.0, recent[-self.max_failures] + self.lockout_seconds - self.clock())

    def failed(self, name: str) -> None:
        if len(self._failures) > 100_000:  # a flood of invented names must not grow memory
            self._failures.clear()
        self._failures.setdefault(name.lower(), []).append(self.clock())

    def succeeded(self, name: str) -> None:
        self._failures.pop(name.lower(), None)


class LoginLocked(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("too many failed logins")
        self.retry_after = retry_after


class Authenticator:
    """Turns a bearer token or a session cookie into a principal, and logs people in."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: SecuritySettings,
                 secret_key: str) -> None:
        self.sessions = sessions
        self.settings = settings
        self._signer = URLSafeTimedSerializer(secret_key, salt="heatshield.session")
        self.throttle = LoginThrottle(settings.login_max_failures,
                                      settings.login_lockout_minutes * 60)

    @property
    def max_age(self) -> int:
        return self.settings.session_max_hours * 3600

    def _cookie(self, secret: str) -> SessionCookie:
        return SessionCookie(self._signer.dumps(secret), self.max_age)

    async def from_token(self, secret: str) -> Principal | None:
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        moment = now()
        async with self.sessions() as session, session.begin():
            token = await session.scalar(select(m.ApiToken).where(
                m.ApiToken.token_hash == digest(secret)))
            if token is None or token.revoked_at is not None or (
                    token.expires_at is not None and token.expires_at <= moment):
                return None
            user = await session.get(m.User, token.user_id) if token.user_id else None
            if token.user_id is not None and (user is None or user.disabled):
                return None
            role = lower_role(token.role, user.role) if user else token.role
            if token.last_used_at is None or moment - token.last_used_at > _TOUCH_EVERY:
                token.last_used_at = moment
            return Principal(subject=user.username if user else f"token:{token.name}",
                             role=role, via="token", user_id=token.user_id,
                             token_id=token.id, token_name=token.name)

    async def from_cookie(self, value: str) -> tuple[Principal | None, SessionCookie | None]:
        """The session's principal, and a new cookie when the session was rotated."""
        try:
            secret = self._signer.loads(value, max_age=self.max_age)
        except BadSignature:
            return None, None
        if not isinstance(secret, str):
            return None, None
        moment = now()
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        async with self.sessions() as session, session.begin():
            row = await session.scalar(select(m.LoginSession).where(
                m.LoginSession.secret_hash == digest(secret)))
            if row is None or row.ended_at is not None:
                return None, None
            if row.expires_at <= moment or row.last_seen_at + idle <= moment:
                row.ended_at = moment
                return None, None
            user = await session.get(m.User, row.user_id)
            if user is None or user.disabled:
                row.ended_at = moment
                return None, None
            cookie = None
            if moment - row.rotated_at >= timedelta(minutes=self.settings.session_rotate_minutes):
                fresh = secrets.token_urlsafe(32)
                row.secret_hash, row.rotated_at = digest(fresh), moment
                cookie = self._cookie(fresh)
            if moment - row.last_seen_at > _TOUCH_EVERY:
                row.last_seen_at = moment
            return Principal(subject=user.username, role=user.role, via="session",
                             user_id=user.id, session_id=row.id), cookie

    async def login(self, username: str, password: str) -> tuple[Principal, SessionCookie] | None:
        """Check the password and open a session; None for any failure, all alike.

        Unknown users cost as much as known ones, so timing does not tell them apart.
        """
        name = username.strip()[:100]
        locked = self.throttle.locked_for(name)
        if locked:
            async with self.sessions() as session, session.begin():
                record(session, actor=name or "(empty)", action="auth.login_failed",
                       entity_type="User", entity_id=None, entity_key=name,
                       reason="locked after repeated failures")
            raise LoginLocked(locked)
        async with self.sessions() as session, session.begin():
            user = await session.scalar(select(m.User).where(
                func.lower(m.User.username) == name.lower()))
            ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
            if user is None or not ok or user.disabled:
                self.throttle.failed(name)
                reason = ("unknown user" if user is None else
                          "wrong password" if not ok else "user disabled")
                record(session, actor=name or "(empty)", action="auth.login_failed",
                       entity_type="User", entity_id=user.id if user else None,
                       entity_key=name, reason=reason)
                return None
            self.throttle.succeeded(name)
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            principal, cookie = await self.start_session(session, user)
            record(session, actor=user.username, action="auth.login", entity_type="User",
                   entity_id=user.id, entity_key=user.username)
            return principal, cookie

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

