"""Who am I, API tokens, and (for admins) users: the access side of the graph.

Secrets cross the graph once: a token's secret only in the answer to
`createApiToken`, a password only as mutation input. Neither is ever a field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

import strawberry
from graphql import GraphQLError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import auth
from api.db import models as m
from api.permissions import (
    FORBIDDEN,
    RANK,
    IsAdmin,
    IsViewer,
    Principal,
    require_role,
)
from api.schema import types as _types  # noqa: F401  (registers Role as a GraphQL enum)
from api.schema.context import Info
from api.schema.errors import bad_input, conflict, not_found
from api.schema.ids import expect_id, to_global_id

Role = m.Role  # registered as a GraphQL enum in api.schema.types


@strawberry.enum
class AuthMethod(Enum):
    SESSION = "session"
    TOKEN = "token"


@strawberry.type
class ApiToken:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The first characters, to recognise a token.")
    role: Role
    owner: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: m.ApiToken, owner: str) -> ApiToken:
        return cls(id=strawberry.ID(to_global_id("ApiToken", row.id)), name=row.name,
                   prefix=row.prefix, role=row.role, owner=owner, created_at=row.created_at,
                   last_used_at=row.last_used_at, expires_at=row.expires_at,
                   revoked_at=row.revoked_at)


@strawberry.type
class User:
    id: strawberry.ID
    username: str
    display_name: str
    role: Role
    disabled: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: m.User) -> User:
        return cls(id=strawberry.ID(to_global_id("User", row.id)), username=row.username,
                   display_name=row.display_name, role=row.role, disabled=row.disabled,
                   created_at=row.created_at)


@strawberry.type(description="The caller: who they are, how they signed in, what they may do.")
class Viewer:
    username: str
    role: Role
    auth_method: AuthMethod
    token_name: str | None

    @strawberry.field(description="This user's API tokens, newest first.")
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        principal = require_role(info, m.Role.VIEWER)
        if principal.user_id is None:
            return []
        async with info.context.sessions() as session:
            rows = await session.scalars(select(m.ApiToken).where(
                m.ApiToken.user_id == principal.user_id).order_by(m.ApiToken.id.desc()))
            return [ApiToken.from_row(r, principal.subject) for r in rows]


@strawberry.type
class CreatedApiToken:
    token: ApiToken
    secret: str = strawberry.field(
        description="Send as `Authorization: Bearer <secret>`. Shown only this once.")


@strawberry.input
class CreateApiTokenInput:
    name: str
    role: Role
    expires_in_days: int = strawberry.field(default=90, description="1 to the configured max.")


@strawberry.input
class CreateUserInput:
    username: str
    password: str
    role: Role
    display_name: str = ""


def _forbidden(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": FORBIDDEN})


def _user_principal(info: Info) -> Principal:
    principal = require_role(info, m.Role.VIEWER)
    if principal.user_id is None:
        raise _forbidden("this needs a user, not a stand-alone token")
    return principal


async def _user(session: AsyncSession, global_id: str) -> m.User:
    row = await session.get(m.User, expect_id(global_id, "User"))
    if row is None:
        raise not_found("User", global_id)
    return row


async def _keeps_an_admin(session: AsyncSession, user: m.User) -> None:
    """Refuse to demote or disable the last enabled admin: nobody could manage users."""
    if user.role is not m.Role.ADMIN or user.disabled:
        return
    admins = await session.scalar(select(func.count()).select_from(m.User).where(
        m.User.role == m.Role.ADMIN, m.User.disabled.is_(False)))
    if (admins or 0) <= 1:
        raise conflict("this is the last enabled admin", "id")


@strawberry.type
class AccessQuery:
    @strawberry.field(description="The caller.", permission_classes=[IsViewer])
    def viewer(self, info: Info) -> Viewer:
        principal = require_role(info, m.Role.VIEWER)
        return Viewer(username=principal.subject, role=principal.role,
                      auth_method=AuthMethod(principal.via), token_name=principal.token_name)

    @strawberry.field(description="Every user (admins only).", permission_classes=[IsAdmin])
    async def users(self, info: Info) -> list[User]:
        async with info.context.sessions() as session:
            rows = await session.scalars(select(m.User).order_by(m.User.username))
            return [User.from_row(r) for r in rows]

    @strawberry.field(description="Every API token of every user (admins only).",
                      permission_classes=[IsAdmin])
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        async with info.context.sessions() as session:
            rows = await session.execute(select(m.ApiToken, m.User.username).outerjoin(
                m.User, m.User.id == m.ApiToken.user_id).order_by(m.ApiToken.id.desc()))
            return [ApiToken.from_row(t, name or "") for t, name in rows.all()]


@strawberry.type
class AccessMutation:
    @strawberry.mutation(description="A token for a machine, bound to a role no higher than "
                                     "yours. Needs a signed-in session: a token cannot mint "
                                     "tokens.", permission_classes=[IsViewer])
    async def create_api_token(self, info: Info, input: CreateApiTokenInput
                               ) -> CreatedApiToken:
        principal = _user_principal(info)
        if principal.via != "session":
            raise _forbidden("API tokens are created from a signed-in session")
        name = input.name.strip()
        if not name or len(name) > 100:
            raise bad_input("name needs 1 to 100 characters", "input.name")
        role: m.Role = input.role
        if RANK[role] > RANK[principal.role]:
            raise _forbidden("a token cannot have a higher role than its owner")
        days = info.context.settings.security.token_max_days
        if not 1 <= input.expires_in_days <= days:
            raise bad_input(f"expiresInDays must be between 1 and {days}",
                            "input.expiresInDays")
        async with info.context.transaction() as session:
            user = await session.get(m.User, principal.user_id)
            if user is None:
                raise _forbidden("this needs a user")
            secret, row = await auth.issue_token(
                session, user=user, name=name, role=role,
                expires_at=auth.now() + timedelta(days=input.expires_in_days),
                actor=principal.actor)
            token = ApiToken.from_row(row, user.username)
        return CreatedApiToken(token=token, secret=secret)

    @strawberry.mutation(description="Revoke one of your tokens (admins: anyone's).",
                         permission_classes=[IsViewer])
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> ApiToken:
        principal = _user_principal(info)
        async with info.context.transaction() as session:
            row = await session.get(m.ApiToken, expect_id(id, "ApiToken"))
            if row is None or (row.user_id != principal.user_id
                               and not principal.allows(m.Role.ADMIN)):
                raise not_found("ApiToken", id)  # others' tokens are not confirmed to exist
            await auth.revoke_token(session, row, actor=principal.actor)
            owner = await session.get(m.User, row.user_id) if row.user_id else None
            return ApiToken.from_row(row, owner.username if owner else "")

    @strawberry.mutation(description="Change your own password; ends your other sessions "
                                     "and revokes your API tokens.",
                         permission_classes=[IsViewer])
    async def change_password(self, info: Info, current_password: str, new_password: str
                              ) -> bool:
        principal = _user_principal(info)
        minimum = info.context.settings.security.password_min_length
        # The current password is checked off the event loop and with no transaction open.
        async with info.context.sessions() as session:
            read_hash = await session.scalar(select(m.User.password_hash).where(
                m.User.id == principal.user_id))
        if read_hash is None or not await auth.verify_password_off_loop(read_hash,
                                                                        current_password):
            raise bad_input("the current password is wrong", "currentPassword")
        try:
            auth.check_password_policy(new_password, minimum)
        except auth.PasswordPolicyError as exc:
            raise bad_input(str(exc), "newPassword") from None
        async with info.context.transaction() as session:
            user = await session.get(m.User, principal.user_id)
            if user is None or user.password_hash != read_hash:
                raise conflict("the password changed meanwhile; sign in again", "currentPassword")
            await auth.set_password(session, user, new_password, actor=principal.actor,
                                    min_length=minimum)
            if principal.session_id is not None:  # keep the caller's own session
                own = await session.get(m.LoginSession, principal.session_id)
                if own is not None:
                    own.ended_at = None
        return True

    @strawberry.mutation(description="Add a local user. Needs a signed-in admin: an API "
                                     "token cannot create users.",
                         permission_classes=[IsAdmin])
    async def create_user(self, info: Info, input: CreateUserInput) -> User:
        principal = require_role(info, m.Role.ADMIN)
        if principal.via != "session":
            # A leaked admin token must not be able to make itself a lasting account.
            raise _forbidden("users are created from a signed-in admin session, not a token")
        minimum = info.context.settings.security.password_min_length
        try:
            auth.check_password_policy(input.password, minimum)
        except auth.PasswordPolicyError as exc:
            raise bad_input(str(exc), "input.password") from None
        async with info.context.transaction() as session:
            try:
                row = await auth.create_user(
                    session, username=input.username, password=input.password,
                    role=input.role, display_name=input.display_name.strip()[:200],
                    actor=info.context.actor, min_length=minimum)
            except auth.PasswordPolicyError as exc:
                raise bad_input(str(exc), "input.password") from None
            except ValueError as exc:
                raise bad_input(str(exc), "input.username") from None
            return User.from_row(row)

    @strawberry.mutation(description="Change a user's role.", permission_classes=[IsAdmin])
    async def set_user_role(self, info: Info, id: strawberry.ID,
                            role: Role) -> User:
        async with info.context.transaction() as session:
            user = await _user(session, id)
            if role is not m.Role.ADMIN:
                await _keeps_an_admin(session, user)
            await auth.set_role(session, user, role, actor=info.context.actor)
            return User.from_row(user)

    @strawberry.mutation(description="Disable (or re-enable) a user; disabling ends their "
                                     "sessions and revokes their API tokens for good.",
                         permission_classes=[IsAdmin])
    async def set_user_disabled(self, info: Info, id: strawberry.ID, disabled: bool) -> User:
        async with info.context.transaction() as session:
            user = await _user(session, id)
            if disabled:
                await _keeps_an_admin(session, user)
            await auth.set_disabled(session, user, disabled, actor=info.context.actor)
            return User.from_row(user)

    @strawberry.mutation(description="Set a user's password; ends their sessions and revokes "
                                     "their API tokens.",
                         permission_classes=[IsAdmin])
    async def reset_user_password(self, info: Info, id: strawberry.ID, password: str) -> User:
        minimum = info.context.settings.security.password_min_length
        async with info.context.transaction() as session:
            user = await _user(session, id)
            try:
                await auth.set_password(session, user, password, actor=info.context.actor,
                                        min_length=minimum)
            except auth.PasswordPolicyError as exc:
                raise bad_input(str(exc), "password") from None
            return User.from_row(user)
