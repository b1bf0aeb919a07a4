"""Access rules without I/O: audit visibility, client addresses, login delays."""

from __future__ import annotations

import pytest

from api.domain.access import audit_visible, client_key, login_delay
from api.domain.enums import Role


@pytest.mark.parametrize(("action", "entity_type", "release_id", "visible_to"), [
    ("auth.login_failed", "User", None, {Role.ADMIN}),
    ("token.create", "ApiToken", None, {Role.ADMIN}),
    ("user.role", "User", None, {Role.ADMIN}),
    ("release.update", "Release", 7, {Role.VIEWER, Role.RELEASE_MANAGER, Role.ADMIN}),
    ("application.create", "Application", None, {Role.RELEASE_MANAGER, Role.ADMIN}),
])
def test_who_reads_which_audit_event(action: str, entity_type: str, release_id: int | None,
                                     visible_to: set[Role]) -> None:
    assert {role for role in Role if audit_visible(
        role, action=action, entity_type=entity_type, release_id=release_id)} == visible_to


def test_ipv6_clients_count_by_their_64_and_ipv4_as_they_are() -> None:
    assert client_key("2001:db8:1:2::a") == client_key("2001:db8:1:2:ffff::1") \
        == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::a") != client_key("2001:db8:1:2::a")
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key(None) == "?"


def test_the_login_delay_doubles_after_the_free_failures_up_to_the_cap() -> None:
    delays = [login_delay(n, free=5, base_seconds=1, max_seconds=300) for n in range(4, 16)]
    assert delays == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert login_delay(10_000, free=5, base_seconds=1, max_seconds=300) == 300
