"""Who am I, API tokens, and (for admins) users: the access side of the graph.

Secrets cross the graph once: a token's secret only in the answer to
`createApiToken`, a password only as mutation input. Neither is ever a field.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from sqlalchemy import select

from api.db import models as m
from api.permissions import IsAdmin, IsViewer, require_role
from api.schema import types as _types  # noqa: F401  (registers Role as a GraphQL enum)
from api.schema.context import Info
from api.schema.ids import expect_id, to_global_id
from api.services.access import AccessService
from api.services.common import Ref

Role = m.Role  # registered as a GraphQL enum in api.schema.types


@strawberry.enum
class AuthMethod(Enum):
    SESSION = "session"
    TOKEN = "token"



@strawberry.enum(description="What an API token may do within its role.")
class TokenScope(Enum):
    ALL = "ALL"
    GATES = "GATES"

@strawberry.type
class ApiToken:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The first characters, to recognise a token.")
    role: Role
    scope: TokenScope
    owner: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: m.ApiToken, owner: str) -> ApiToken:
        return cls(id=strawberry.ID(to_global_id("ApiToken", row.id)), name=row.name,
                   prefix=row.prefix, role=row.role,
                   scope=TokenScope.GATES if row.scope == "gates" else TokenScope.ALL,
                   owner=owner, created_at=row.created_at,
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
    scope: TokenScope = strawberry.field(
        default=TokenScope.ALL, description="GATES: the token reads release gates at "
        "`GET /api/gates/{release}` and nothing else, for a CI job.")


@strawberry.input
class CreateUserInput:
    username: str
    password: str
    role: Role
    display_name: str = ""


def _access(info: Info) -> AccessService:
    principal = require_role(info, m.Role.VIEWER)
    return AccessService(info.context.sessions, principal, info.context.settings.security)


def _ref(global_id: str, type_name: str) -> Ref:
    return Ref(expect_id(global_id, type_name), global_id)


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
        scope = "gates" if input.scope is TokenScope.GATES else ""
        secret, row, owner = await _access(info).create_token(input.name, input.role,
                                                              input.expires_in_days, scope)
        return CreatedApiToken(token=ApiToken.from_row(row, owner), secret=secret)

    @strawberry.mutation(description="Revoke one of your tokens (admins: anyone's).",
                         permission_classes=[IsViewer])
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> ApiToken:
        row, owner = await _access(info).revoke_token(_ref(id, "ApiToken"))
        return ApiToken.from_row(row, owner)

    @strawberry.mutation(description="Change your own password; ends your other sessions "
                                     "and revokes your API tokens.",
                         permission_classes=[IsViewer])
    async def change_password(self, info: Info, current_password: str, new_password: str
                              ) -> bool:
        await _access(info).change_password(current_password, new_password)
        return True

    @strawberry.mutation(description="Add a local user. Needs a signed-in admin: an API "
                                     "token cannot create users.",
                         permission_classes=[IsAdmin])
    async def create_user(self, info: Info, input: CreateUserInput) -> User:
        row = await _access(info).create_user(input.username, input.password, input.role,
                                              input.display_name)
        return User.from_row(row)

    @strawberry.mutation(description="Change a user's role. Needs a signed-in admin: an API "
                                     "token cannot change roles.",
                         permission_classes=[IsAdmin])
    async def set_user_role(self, info: Info, id: strawberry.ID,
                            role: Role) -> User:
        return User.from_row(await _access(info).set_role(_ref(id, "User"), role))

    @strawberry.mutation(description="Disable (or re-enable) a user; disabling ends their "
                                     "sessions and revokes their API tokens for good.",
                         permission_classes=[IsAdmin])
    async def set_user_disabled(self, info: Info, id: strawberry.ID, disabled: bool) -> User:
        return User.from_row(await _access(info).set_disabled(_ref(id, "User"), disabled))

    @strawberry.mutation(description="Set a user's password; ends their sessions and revokes "
                                     "their API tokens. Needs a signed-in admin, not a token.",
                         permission_classes=[IsAdmin])
    async def reset_user_password(self, info: Info, id: strawberry.ID, password: str) -> User:
        return User.from_row(await _access(info).reset_password(_ref(id, "User"), password))
