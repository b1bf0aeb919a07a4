"""Every mutation, read from the schema itself, against every role and nobody.

The list of mutations comes from introspection, so a mutation added without a
permission check shows up here as one a viewer was not refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.db.models import Role
from tests.api.conftest import Guarded

# The only writes a viewer may make: their own tokens, password, calendar feed and
# reports (a report reads as its owner, so it shows no more than they may), and asking
# for an environment (a release manager decides; only the asker or a release manager
# cancels).
SELF_SERVICE = frozenset({"createApiToken", "revokeApiToken", "changePassword",
                          "createCalendarFeed", "revokeCalendarFeed", "requestBooking",
                          "cancelBooking", "createReport", "updateReport", "deleteReport",
                          "publishReport", "unpublishReport", "revokeReportToken"})
ADMIN_ONLY = frozenset({"createUser", "setUserRole", "setUserDisabled", "resetUserPassword"})
REFUSALS = frozenset({"FORBIDDEN", "UNAUTHENTICATED"})

TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { kind name } } }"
INTROSPECTION = f"""{{ __schema {{
  mutationType {{ fields {{ name type {{ {TYPE_REF} }}
    args {{ name defaultValue type {{ {TYPE_REF} }} }} }} }}
  types {{ name kind enumValues {{ name }}
    inputFields {{ name defaultValue type {{ {TYPE_REF} }} }} }} }} }}"""
SCALARS = {"String": '"matrix"', "ID": '"bm90LWFuLWlk"', "Int": "1", "Float": "1.0",
           "Boolean": "false", "DateTime": '"2031-01-01T00:00:00+00:00"',
           "Date": '"2031-01-01"', "JSON": "{}"}


def _unwrap(type_ref: dict[str, Any]) -> dict[str, Any]:
    while type_ref["kind"] in ("NON_NULL", "LIST"):
        type_ref = type_ref["ofType"]
    return type_ref


def _literal(type_ref: dict[str, Any], types: dict[str, Any], depth: int = 0) -> str:
    """A value of the type that passes validation: required input fields filled in."""
    if type_ref["kind"] == "NON_NULL":
        return _literal(type_ref["ofType"], types, depth)
    if type_ref["kind"] == "LIST":
        return "[]"
    named = types[type_ref["name"]]
    if named["kind"] == "ENUM":
        return str(named["enumValues"][0]["name"])
    if named["kind"] == "INPUT_OBJECT":
        fields = [f"{f['name']}: {_literal(f['type'], types, depth + 1)}"
                  for f in named["inputFields"]
                  if f["type"]["kind"] == "NON_NULL" and f["defaultValue"] is None]
        return "{" + ", ".join(fields) + "}"
    return SCALARS.get(named["name"], '"matrix"')


def _operations(schema: dict[str, Any]) -> dict[str, str]:
    types = {t["name"]: t for t in schema["types"]}
    operations = {}
    for field in schema["mutationType"]["fields"]:
        args = [f"{a['name']}: {_literal(a['type'], types)}" for a in field["args"]
                if a["type"]["kind"] == "NON_NULL" and a["defaultValue"] is None]
        call = field["name"] + (f"({', '.join(args)})" if args else "")
        kind = types[_unwrap(field["type"])["name"]]["kind"]
        selection = " { __typename }" if kind in ("OBJECT", "INTERFACE", "UNION") else ""
        operations[field["name"]] = f"mutation {{ {call}{selection} }}"
    return operations


@pytest.fixture(scope="module")
def mutations(guarded: Guarded) -> dict[str, str]:
    schema = guarded.bearer(Role.ADMIN).data(INTROSPECTION)["__schema"]
    return _operations(schema)


@pytest.fixture(scope="module")
def sessions(guarded: Guarded) -> Iterator[dict[Role, httpx.Client]]:
    clients = {role: guarded.login(role) for role in Role}
    yield clients
    for client in clients.values():
        client.close()


def _codes(response: httpx.Response) -> set[str]:
    body = response.json()
    return {(e.get("extensions") or {}).get("code", "") for e in body.get("errors") or []}


def test_the_schema_has_mutations_to_check(mutations: dict[str, str]) -> None:
    assert {"createRelease", "createApiToken", "createUser"} <= set(mutations)
    assert set(mutations) >= SELF_SERVICE | ADMIN_ONLY


def test_nobody_signed_in_runs_no_mutation(guarded: Guarded,
                                           mutations: dict[str, str]) -> None:
    for name, operation in mutations.items():
        response = httpx.post(f"{guarded.url}/graphql", json={"query": operation})
        assert response.status_code == 401, name
        assert _codes(response) == {"UNAUTHENTICATED"}, name


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name)
def test_each_mutation_is_allowed_exactly_to_the_roles_it_names(
        role: Role, sessions: dict[Role, httpx.Client], mutations: dict[str, str]) -> None:
    allowed = {Role.VIEWER: SELF_SERVICE,
               Role.RELEASE_MANAGER: set(mutations) - ADMIN_ONLY,
               Role.ADMIN: set(mutations)}[role]
    wrong = {}
    for name, operation in mutations.items():
        response = sessions[role].post("/graphql", json={"query": operation})
        assert response.status_code == 200, (name, response.text)
        codes = _codes(response)
        refused = codes == {"FORBIDDEN"}
        if refused == (name in allowed) or (codes & REFUSALS and not refused):
            wrong[name] = sorted(codes) or "ran"
    assert wrong == {}, f"{role.name}: {wrong}"


@pytest.mark.parametrize("field", ["users { username }", "apiTokens { prefix }"])
def test_users_and_everyones_tokens_are_for_admins_only(guarded: Guarded, field: str) -> None:
    for role in (Role.VIEWER, Role.RELEASE_MANAGER):
        error = guarded.bearer(role).error(f"{{ {field} }}")
        assert error["extensions"]["code"] == "FORBIDDEN"
    assert not guarded.bearer(Role.ADMIN).post(f"{{ {field} }}").get("errors")


def _run(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    body: dict[str, Any] = client.post("/graphql", json={"query": query,
                                                         "variables": variables}).json()
    return body


def _user_id(admin: httpx.Client, username: str) -> str:
    users = _run(admin, "{ users { id username } }")["data"]["users"]
    return str(next(u["id"] for u in users if u["username"] == username))


SET_ROLE = "mutation($id: ID!, $role: Role!) { setUserRole(id: $id, role: $role) { role } }"


def test_a_token_never_acts_above_its_owners_current_role(guarded: Guarded) -> None:
    manager, admin = guarded.login(Role.RELEASE_MANAGER), guarded.login(Role.ADMIN)
    secret = _run(manager, """mutation { createApiToken(input: {name: "ci", role:
        RELEASE_MANAGER}) { secret } }""")["data"]["createApiToken"]["secret"]
    token = httpx.Client(base_url=guarded.url, headers={"Authorization": f"Bearer {secret}"})
    guarded.opened.append(token)
    manager_id = _user_id(admin, guarded.username(Role.RELEASE_MANAGER))
    try:
        assert _run(admin, SET_ROLE, id=manager_id, role="VIEWER")["data"]
        assert _run(token, "{ viewer { role } }")["data"]["viewer"]["role"] == "VIEWER"
        refused = _run(token, 'mutation { createApplication(input: {key: "X", name: "X"}) '
                              "{ key } }")
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    finally:
        _run(admin, SET_ROLE, id=manager_id, role="RELEASE_MANAGER")
    assert _run(token, "{ viewer { role } }")["data"]["viewer"]["role"] == "RELEASE_MANAGER"


def test_a_token_cannot_mint_tokens(guarded: Guarded) -> None:
    body = guarded.bearer(Role.ADMIN).post(
        'mutation { createApiToken(input: {name: "child", role: VIEWER}) { secret } }')
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_nobody_can_mint_a_token_above_their_own_role(guarded: Guarded) -> None:
    body = _run(guarded.login(Role.VIEWER),
                'mutation { createApiToken(input: {name: "up", role: ADMIN}) { secret } }')
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_last_enabled_admin_cannot_be_demoted(guarded: Guarded) -> None:
    admin = guarded.login(Role.ADMIN)
    admin_id = _user_id(admin, guarded.username(Role.ADMIN))
    body = _run(admin, SET_ROLE, id=admin_id, role="VIEWER")
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
