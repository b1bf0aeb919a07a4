"""Access rules that need no I/O: who reads which audit events, how logins are slowed.

Kept apart from storage so the graph, the CLI and tests apply the same rules.
"""

from __future__ import annotations

import ipaddress

from api.domain.enums import Role

# Audit events about who may use the hub: sign-ins, users, tokens and calendar feed
# secrets. They name accounts, roles and token owners, so only admins read them.
ACCESS_ACTION_PREFIXES = ("auth.", "user.", "token.", "feed.")
ACCESS_ENTITY_TYPES = frozenset({"User", "ApiToken", "LoginSession", "CalendarFeed"})
# The actor recorded for a failed login under a name no user has: what was typed
# there may be a password typed into the wrong field, so it is never stored.
UNKNOWN_USER = "(unknown user)"

_RANK = {Role.VIEWER: 1, Role.RELEASE_MANAGER: 2, Role.ADMIN: 3}


def is_access_event(action: str, entity_type: str) -> bool:
    return action.startswith(ACCESS_ACTION_PREFIXES) or entity_type in ACCESS_ENTITY_TYPES


def audit_visible(role: Role, *, action: str, entity_type: str, release_id: int | None
                  ) -> bool:
    """Whether `role` may read an audit event.

    Access events are for admins; viewers read the history of releases only;
    release managers read everything else (applications, environments, windows).
    """
    if is_access_event(action, entity_type):
        return role is Role.ADMIN
    if _RANK[role] >= _RANK[Role.RELEASE_MANAGER]:
        return True
    return release_id is not None


def client_key(host: str | None) -> str:
    """The address a client is counted under: IPv4 as is, IPv6 by its /64.

    One IPv6 host usually holds a whole /64, so counting single addresses
    would let it take a fresh one per attempt.
    """
    if not host:
        return "?"
    try:
        address = ipaddress.ip_address(host.strip())
    except ValueError:
        return host.strip()[:100]  # e.g. a unix socket path: count it as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def login_delay(failures: int, *, free: int, base_seconds: float, max_seconds: float
                ) -> float:
    """Seconds to wait after the last of `failures` recent failed logins.

    The first `free` failures cost nothing (typos); each further one doubles the
    wait, up to `max_seconds`. A delay, never a lock: it only slows guessing.
    """
    if failures < free:
        return 0.0
    exponent = min(failures - free, 32)  # 2**32 s is far past any cap
    return float(min(max_seconds, base_seconds * 2 ** exponent))
