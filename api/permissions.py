"""Who may do what: the principal behind a request and the role checks on fields.

Roles are ordered (VIEWER < RELEASE_MANAGER < ADMIN); a field states the lowest
role it needs. A refusal is a `ServiceError` with code UNAUTHENTICATED (nobody
signed in) or FORBIDDEN (signed in, role too low), made fresh for each check so
concurrent requests never share a mutable message; the graph codes it where it
codes every other refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from strawberry.permission import BasePermission

from api.db.models import Role
from api.errors import ErrorCode, ServiceError

UNAUTHENTICATED = str(ErrorCode.UNAUTHENTICATED)
FORBIDDEN = str(ErrorCode.FORBIDDEN)

RANK: dict[Role, int] = {Role.VIEWER: 1, Role.RELEASE_MANAGER: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user through a session, or an API token.

    `subject` is what single sign-on would fill from an identity provider's
    claims; `via` says how the caller proved who they are.
    """

    subject: str
    role: Role
    via: Literal["session", "token"]
    user_id: int | None = None
    token_id: int | None = None
    token_name: str | None = None
    session_id: int | None = None
    #: "" for all its role allows; "gates": a CI token that reads release gates only.
    scope: str = ""

    def allows(self, needed: Role) -> bool:
        return RANK[self.role] >= RANK[needed]

    @property
    def actor(self) -> str:
        """The name audit events carry: the user, and the token when one was used."""
        if self.via == "token" and self.token_name is not None:
            return f"{self.subject} (token {self.token_name})"
        return self.subject


def unauthenticated() -> ServiceError:
    return ServiceError(ErrorCode.UNAUTHENTICATED, "authentication required")


def forbidden(needed: Role) -> ServiceError:
    return ServiceError(ErrorCode.FORBIDDEN, f"this needs the {needed.name} role",
                        requiredRole=needed.name)


def check(principal: Principal | None, needed: Role) -> Principal:
    """Return the principal when it holds `needed`, else raise the coded refusal."""
    if principal is None:
        raise unauthenticated()
    if not principal.allows(needed):
        raise forbidden(needed)
    return principal


def require_role(info: Any, needed: Role) -> Principal:
    """For checks inside a resolver (e.g. an override that needs a higher role)."""
    return check(getattr(info.context, "principal", None), needed)


class _RolePermission(BasePermission):
    needed: ClassVar[Role]

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        require_role(info, self.needed)
        return True


class IsViewer(_RolePermission):
    needed = Role.VIEWER


class IsReleaseManager(_RolePermission):
    needed = Role.RELEASE_MANAGER


class IsAdmin(_RolePermission):
    needed = Role.ADMIN


def manages_report(principal: Principal, owner_id: int | None) -> bool:
    """Whether `principal` may see, unpublish, revoke or delete a report of `owner_id`.

    Its owner may; an admin may too, to close a leak. Editing a report or issuing
    its tokens stays with the owner alone: a report reads as its owner.
    """
    return (owner_id is not None and principal.user_id == owner_id) \
        or principal.allows(Role.ADMIN)


__all__ = ["FORBIDDEN", "UNAUTHENTICATED", "IsAdmin", "IsReleaseManager", "IsViewer",
           "Principal", "Role", "check", "manages_report",
           "require_role"]
