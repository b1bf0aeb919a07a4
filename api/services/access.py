"""Access use cases: users, API tokens, passwords and roles, each with its audit event.

`api.auth` keeps what turns a request into a principal (sessions, tokens,
login throttling) and the password primitives; the writes that change who
may do what live here, for the graph, the CLI and the demo alike.

Passwords are hashed (and checked) on the hashing pool before a transaction
opens, never while one holds the database's write lock. The functions that
take an open session are the building blocks the CLI and the demo run inside
their own transaction; `AccessService` is the graph's use cases on top of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import auth
from api.db import models as m
from api.db.audit import record
from api.domain.text import normalise_key
from api.errors import ErrorCode, ServiceError, bad_input, conflict
from api.permissions import RANK, Principal
from api.services.common import Ref, Service
from api.services.reports import revoke_report_tokens
from api.settings import SecuritySettings


def forbidden(message: str) -> ServiceError:
    return ServiceError(ErrorCode.FORBIDDEN, message)


def _policy(password: str, minimum: int, field: str) -> None:
    try:
        auth.check_password_policy(password, minimum)
    except auth.PasswordPolicyError as exc:
        raise bad_input(str(exc), field) from None


# --- building blocks, inside the caller's transaction ----------------------------------

async def create_user(session: AsyncSession, *, username: str, password_hash: str,
                      role: m.Role, actor: str, display_name: str = "",
                      field: str = "input.username") -> m.User:
    """Add a user whose password was hashed beforehand; a taken name is refused."""
    username = normalise_key(username, field, max_length=100)
    if any(c.isspace() for c in username):
        raise bad_input("a user name needs 1 to 100 characters and no spaces", field)
    taken = await session.scalar(select(m.User.id).where(
        func.lower(m.User.username) == username.lower()))
    if taken is not None:
        raise bad_input(f"user {username!r} already exists", field)
    user = m.User(username=username, display_name=display_name, password_hash=password_hash,
                  role=role, disabled=False)
    session.add(user)
    await session.flush()
    record(session, actor=actor, action="user.create", entity_type="User", entity_id=user.id,
           entity_key=username, after={"role": role.name, "disabled": False})
    return user


async def set_password(session: AsyncSession, user: m.User, password_hash: str, *,
                       actor: str) -> None:
    """A new password ends every session of the user and revokes their tokens.

    Whoever learnt the old password may have minted tokens with it; they must
    not outlive the change.
    """
    user.password_hash = password_hash
    await end_sessions(session, user.id)
    await revoke_user_tokens(session, user, actor=actor, reason="password changed")
    record(session, actor=actor, action="user.password", entity_type="User",
           entity_id=user.id, entity_key=user.username)


async def set_role(session: AsyncSession, user: m.User, role: m.Role, *, actor: str) -> None:
    before = user.role
    user.role = role
    record(session, actor=actor, action="user.role", entity_type="User", entity_id=user.id,
           entity_key=user.username, before={"role": before.name}, after={"role": role.name})


async def set_disabled(session: AsyncSession, user: m.User, disabled: bool, *,
                       actor: str) -> None:
    """Disabling ends the user's sessions and revokes their tokens for good.

    Re-enabling does not bring the tokens back: the user mints new ones.
    """
    before = user.disabled
    user.disabled = disabled
    if disabled:
        await end_sessions(session, user.id)
        await revoke_user_tokens(session, user, actor=actor, reason="user disabled")
    record(session, actor=actor, action="user.disable" if disabled else "user.enable",
           entity_type="User", entity_id=user.id, entity_key=user.username,
           before={"disabled": before}, after={"disabled": disabled})


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    rows = await session.scalars(select(m.LoginSession).where(
        m.LoginSession.user_id == user_id, m.LoginSession.ended_at.is_(None)))
    for row in rows:
        row.ended_at = auth.now()


async def issue_token(session: AsyncSession, *, user: m.User, name: str, role: m.Role,
                      expires_at: datetime | None, actor: str, scope: str = ""
                      ) -> tuple[str, m.ApiToken]:
    secret, prefix, token_hash = auth.new_token()
    row = m.ApiToken(user_id=user.id, name=name, token_hash=token_hash, prefix=prefix,
                     role=role, expires_at=expires_at, scope=scope)
    session.add(row)
    await session.flush()
    record(session, actor=actor, action="token.create", entity_type="ApiToken",
           entity_id=row.id, entity_key=name,
           after={"role": role.name, "scope": scope or "all", "prefix": prefix,
                  "user": user.username,
                  "expiresAt": expires_at.isoformat() if expires_at else None})
    return secret, row


async def revoke_token(session: AsyncSession, row: m.ApiToken, *, actor: str,
                       reason: str = "") -> None:
    if row.revoked_at is None:
        row.revoked_at = auth.now()
    record(session, actor=actor, action="token.revoke", entity_type="ApiToken",
           entity_id=row.id, entity_key=row.name, after={"prefix": row.prefix},
           reason=reason)


async def revoke_user_tokens(session: AsyncSession, user: m.User, *, actor: str,
                             reason: str) -> int:
    """Revoke every live token of a user, each audited, their reports' tokens too (they
    read as the user); how many there were."""
    rows = list(await session.scalars(select(m.ApiToken).where(
        m.ApiToken.user_id == user.id, m.ApiToken.revoked_at.is_(None))))
    for row in rows:
        await revoke_token(session, row, actor=actor, reason=reason)
    return len(rows) + await revoke_report_tokens(session, user.id, actor=actor, reason=reason)


async def _keeps_an_admin(session: AsyncSession, user: m.User) -> None:
    """Refuse to demote or disable the last enabled admin: nobody could manage users."""
    if user.role is not m.Role.ADMIN or user.disabled:
        return
    admins = await session.scalar(select(func.count()).select_from(m.User).where(
        m.User.role == m.Role.ADMIN, m.User.disabled.is_(False)))
    if (admins or 0) <= 1:
        raise conflict("this is the last enabled admin", "id")


# --- the graph's use cases --------------------------------------------------------------

class AccessService(Service):
    """Access use cases on behalf of `principal`, under the security settings."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], principal: Principal,
                 security: SecuritySettings) -> None:
        super().__init__(sessions, principal.actor)
        self.principal = principal
        self.security = security

    def _user_id(self) -> int:
        if self.principal.user_id is None:
            raise forbidden("this needs a user, not a stand-alone token")
        return self.principal.user_id

    async def _user(self, session: AsyncSession, user: Ref) -> m.User:
        row = await session.get(m.User, user.pk)
        if row is None:
            raise user.missing("User")
        return row

    async def create_token(self, name: str, role: m.Role, expires_in_days: int,
                           scope: str = "") -> tuple[str, m.ApiToken, str]:
        """A token bound to a role no higher than the owner's, from a signed-in session:
        a token cannot mint tokens. Returns the secret (shown once), the row and the owner."""
        user_id = self._user_id()
        if self.principal.via != "session":
            raise forbidden("API tokens are created from a signed-in session")
        name = name.strip()
        if not name or len(name) > 100:
            raise bad_input("name needs 1 to 100 characters", "input.name")
        if RANK[role] > RANK[self.principal.role]:
            raise forbidden("a token cannot have a higher role than its owner")
        days = self.security.token_max_days
        if not 1 <= expires_in_days <= days:
            raise bad_input(f"expiresInDays must be between 1 and {days}",
                            "input.expiresInDays")
        async with self.transaction() as session:
            user = await session.get(m.User, user_id)
            if user is None:
                raise forbidden("this needs a user")
            secret, row = await issue_token(
                session, user=user, name=name, role=role,
                expires_at=auth.now() + timedelta(days=expires_in_days), actor=self.actor,
                scope=scope)
        return secret, row, user.username

    async def revoke_token(self, token: Ref) -> tuple[m.ApiToken, str]:
        """Revoke one of the caller's tokens (admins: anyone's); returns it and its owner."""
        user_id = self._user_id()
        async with self.transaction() as session:
            row = await session.get(m.ApiToken, token.pk)
            if row is None or (row.user_id != user_id
                               and not self.principal.allows(m.Role.ADMIN)):
                raise token.missing("ApiToken")  # others' tokens are not confirmed to exist
            await revoke_token(session, row, actor=self.actor)
            owner = await session.get(m.User, row.user_id) if row.user_id else None
        return row, owner.username if owner else ""

    async def change_password(self, current_password: str, new_password: str) -> None:
        """The caller's own password; their other sessions end and their tokens are revoked.

        The current password is checked, and the new one hashed, off the event loop
        and with no transaction open; the write then applies only if the stored
        hash is still the one checked.
        """
        user_id = self._user_id()
        async with self.sessions() as session:
            read_hash = await session.scalar(select(m.User.password_hash).where(
                m.User.id == user_id))
        if read_hash is None or not await auth.verify_password_off_loop(read_hash,
                                                                        current_password):
            raise bad_input("the current password is wrong", "currentPassword")
        _policy(new_password, self.security.password_min_length, "newPassword")
        new_hash = await auth.hash_password_off_loop(new_password,
                                                     self.security.password_min_length)
        async with self.transaction() as session:
            user = await session.get(m.User, user_id)
            if user is None or user.password_hash != read_hash:
                raise conflict("the password changed meanwhile; sign in again",
                               "currentPassword")
            await set_password(session, user, new_hash, actor=self.actor)
            if self.principal.session_id is not None:  # keep the caller's own session
                own = await session.get(m.LoginSession, self.principal.session_id)
                if own is not None:
                    own.ended_at = None

    async def create_user(self, username: str, password: str, role: m.Role,
                          display_name: str = "") -> m.User:
        """A local user, from a signed-in admin session: a leaked admin token must not be
        able to make itself a lasting account."""
        self._from_session("users are created")
        _policy(password, self.security.password_min_length, "input.password")
        password_hash = await auth.hash_password_off_loop(password,
                                                          self.security.password_min_length)
        async with self.transaction() as session:
            return await create_user(session, username=username, password_hash=password_hash,
                                     role=role, display_name=display_name.strip()[:200],
                                     actor=self.actor)

    def _from_session(self, what: str) -> None:
        """Account-changing acts (a new user, a role, a password) need a person signed in:
        a leaked admin token must not mint accounts, promote one, or take one over."""
        if self.principal.via != "session":
            raise forbidden(f"{what} from a signed-in admin session, not a token")

    async def set_role(self, user: Ref, role: m.Role) -> m.User:
        self._from_session("roles are changed")
        async with self.transaction() as session:
            row = await self._user(session, user)
            if role is not m.Role.ADMIN:
                await _keeps_an_admin(session, row)
            await set_role(session, row, role, actor=self.actor)
        return row

    async def set_disabled(self, user: Ref, disabled: bool) -> m.User:
        async with self.transaction() as session:
            row = await self._user(session, user)
            if disabled:
                await _keeps_an_admin(session, row)
            await set_disabled(session, row, disabled, actor=self.actor)
        return row

    async def reset_password(self, user: Ref, password: str) -> m.User:
        self._from_session("passwords are reset")
        _policy(password, self.security.password_min_length, "password")
        password_hash = await auth.hash_password_off_loop(password,
                                                          self.security.password_min_length)
        async with self.transaction() as session:
            row = await self._user(session, user)
            await set_password(session, row, password_hash, actor=self.actor)
        return row
