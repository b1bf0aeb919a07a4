"""Releases over HTTP: create, read, page, filter, move through the status machine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.graphql import GraphQLClient

CREATE = """
mutation($input: CreateReleaseInput!) {
  createRelease(input: $input) { id key name status type windowStart windowEnd
    applications { key } parent { key } }
}"""
TRANSITION = """
mutation($id: ID!, $to: ReleaseStatus!, $override: GateOverrideInput) {
  transitionRelease(id: $id, to: $to, override: $override) { status } }"""
# These releases link no change request: entering DEPLOYING needs a gate override.
OVERRIDE = {"reason": "Status-machine test without upstream links"}


def move(gql: GraphQLClient, release_id: str, status: str) -> str:
    variables = {"id": release_id, "to": status,
                 "override": OVERRIDE if status == "DEPLOYING" else None}
    result: str = gql.data(TRANSITION, variables)["transitionRelease"]["status"]
    return result
HISTORY = """
query($key: String!) { release(key: $key) { history { action actor before after reason } } }"""


def make_app(gql: GraphQLClient, key: str) -> None:
    gql.data("mutation($i: ApplicationInput!) { createApplication(input: $i) { id } }",
             {"i": {"key": key, "name": f"App {key}"}})


def make_release(gql: GraphQLClient, key: str, **fields: Any) -> dict[str, Any]:
    data = gql.data(CREATE, {"input": {"key": key, "name": f"Release {key}", "type": "PROJECT",
                                       **fields}})
    release: dict[str, Any] = data["createRelease"]
    return release


def count_releases(gql: GraphQLClient, key: str) -> int:
    return 1 if gql.data("query($k: String!) { release(key: $k) { id } }",
                         {"k": key})["release"] else 0


def test_a_created_release_starts_planned_with_its_window_and_applications(
        gql: GraphQLClient, unique: str) -> None:
    make_app(gql, f"A{unique}")
    release = make_release(gql, f"R-{unique}", applicationKeys=[f"A{unique}"],
                           windowStart="2027-01-10T20:00:00Z", windowEnd="2027-01-10T23:00:00Z")
    assert release["status"] == "PLANNED"
    assert release["applications"] == [{"key": f"A{unique}"}]
    assert release["windowStart"] == "2027-01-10T20:00:00+00:00"
    fetched = gql.data("query($id: ID!) { node(id: $id) { ... on Release { key } } }",
                       {"id": release["id"]})
    assert fetched["node"] == {"key": f"R-{unique}"}


def test_a_duplicate_key_is_a_conflict_and_writes_nothing(gql: GraphQLClient,
                                                          unique: str) -> None:
    make_release(gql, f"DUP-{unique}")
    error = gql.error(CREATE, {"input": {"key": f"DUP-{unique}", "name": "again",
                                         "type": "PROJECT"}})
    assert error["extensions"] == {"code": "CONFLICT", "field": "key"}
    history = gql.data(HISTORY, {"key": f"DUP-{unique}"})["release"]["history"]
    assert [e["action"] for e in history] == ["release.create"]


def test_a_window_that_ends_before_it_starts_is_refused_and_nothing_is_written(
        gql: GraphQLClient, unique: str) -> None:
    error = gql.error(CREATE, {"input": {"key": f"W-{unique}", "name": "w", "type": "PROJECT",
                                         "windowStart": "2027-02-01T10:00:00Z",
                                         "windowEnd": "2027-02-01T09:00:00Z"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "windowEnd"
    assert count_releases(gql, f"W-{unique}") == 0


def test_an_unknown_application_rolls_back_the_whole_release(gql: GraphQLClient,
                                                            unique: str) -> None:
    error = gql.error(CREATE, {"input": {"key": f"U-{unique}", "name": "u", "type": "PROJECT",
                                         "applicationKeys": ["NOPE"]}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "applicationKeys"}
    assert "NOPE" in error["message"]
    assert count_releases(gql, f"U-{unique}") == 0


def test_an_unknown_enum_value_is_bad_user_input(gql: GraphQLClient, unique: str) -> None:
    error = gql.error(CREATE, {"input": {"key": f"E-{unique}", "name": "e", "type": "MAJOR"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "MAJOR" in error["message"]
    assert count_releases(gql, f"E-{unique}") == 0


def test_a_parent_that_would_make_a_cycle_is_refused(gql: GraphQLClient, unique: str) -> None:
    top = make_release(gql, f"TOP-{unique}", type="ENTERPRISE")
    child = make_release(gql, f"CH-{unique}", parentId=top["id"])
    grandchild = make_release(gql, f"GC-{unique}", parentId=child["id"])
    assert grandchild["parent"] == {"key": f"CH-{unique}"}
    update = "mutation($id: ID!, $p: ID) { updateRelease(id: $id, input: {parentId: $p}) { key } }"
    error = gql.error(update, {"id": top["id"], "p": grandchild["id"]})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "parentId"}
    assert "cycle" in error["message"]
    error = gql.error(update, {"id": top["id"], "p": top["id"]})
    assert error["extensions"]["field"] == "parentId"
    children = gql.data("query($k: String!) { release(key: $k) { parent { key } "
                        "children { key } } }", {"k": f"TOP-{unique}"})["release"]
    assert children == {"parent": None, "children": [{"key": f"CH-{unique}"}]}


def test_the_status_machine_walks_forward_and_refuses_skips(gql: GraphQLClient,
                                                           unique: str) -> None:
    release = make_release(gql, f"SM-{unique}")
    error = gql.error(TRANSITION, {"id": release["id"], "to": "DEPLOYED"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "to"
    assert "from planned to deployed" in error["message"]
    for status in ("IN_PROGRESS", "READY", "DEPLOYING", "DEPLOYED"):
        assert move(gql, release["id"], status) == status
    error = gql.error(TRANSITION, {"id": release["id"], "to": "CANCELLED"})
    assert "final" in error["message"]
    actions = [e["after"] for e in gql.data(HISTORY, {"key": f"SM-{unique}"})[
        "release"]["history"] if e["action"] == "release.transition"]
    assert [a["status"] for a in actions] == ["DEPLOYED", "DEPLOYING", "READY", "IN_PROGRESS"]


@pytest.mark.parametrize("start", ["PLANNED", "IN_PROGRESS", "READY", "DEPLOYING"])
def test_an_open_release_can_be_cancelled(gql: GraphQLClient, unique: str, start: str) -> None:
    release = make_release(gql, f"C-{start}-{unique}")
    path = ["IN_PROGRESS", "READY", "DEPLOYING"]
    for status in path[:path.index(start) + 1] if start != "PLANNED" else []:
        move(gql, release["id"], status)
    assert gql.data(TRANSITION, {"id": release["id"], "to": "CANCELLED"})[
        "transitionRelease"]["status"] == "CANCELLED"


def test_every_write_is_audited_with_before_and_after(gql: GraphQLClient, unique: str) -> None:
    release = make_release(gql, f"AU-{unique}", windowStart="2027-03-01T10:00:00Z",
                           windowEnd="2027-03-01T12:00:00Z")
    gql.data("mutation($id: ID!) { updateRelease(id: $id, input: {name: \"Renamed\"}) { name } }",
             {"id": release["id"]})
    gql.data("mutation($id: ID!) { addReleasePhase(releaseId: $id, input: {name: \"UAT\"}) "
             "{ id } }", {"id": release["id"]})
    history = gql.data(HISTORY, {"key": f"AU-{unique}"})["release"]["history"]
    assert [e["action"] for e in history] == ["phase.create", "release.update", "release.create"]
    update = history[1]
    assert update["before"]["name"] == f"Release AU-{unique}"
    assert update["after"]["name"] == "Renamed"
    assert update["actor"]
    assert history[2]["before"] is None


def test_unknown_ids_are_not_found(gql: GraphQLClient) -> None:
    from api.schema.ids import to_global_id

    error = gql.error(TRANSITION, {"id": to_global_id("Release", 999_999), "to": "READY"})
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    error = gql.error(TRANSITION, {"id": to_global_id("Application", 1), "to": "READY"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_releases_page_with_keyset_cursors_in_window_order(gql: GraphQLClient,
                                                         unique: str) -> None:
    app = f"P{unique}"
    make_app(gql, app)
    keys = []
    for day in (5, 3, 9, 1, 7):
        key = f"PG-{unique}-{day}"
        keys.append(key)
        make_release(gql, key, applicationKeys=[app], windowStart=f"2028-01-0{day}T10:00:00Z",
                     windowEnd=f"2028-01-0{day}T11:00:00Z")
    make_release(gql, f"PG-{unique}-unscheduled", applicationKeys=[app])
    query = """query($f: ReleaseFilter, $after: String) {
      releases(filter: $f, first: 2, after: $after) {
        totalCount nodes { key } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = gql.data(query, {"f": {"application": app}, "after": after})["releases"]
        assert page["totalCount"] == 6
        seen += [n["key"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"PG-{unique}-{d}" for d in (1, 3, 5, 7, 9)] + [f"PG-{unique}-unscheduled"]


def test_releases_filter_by_status_type_and_window(gql: GraphQLClient, unique: str) -> None:
    app = f"F{unique}"
    make_app(gql, app)
    make_release(gql, f"FA-{unique}", applicationKeys=[app], type="EMERGENCY",
                 windowStart="2029-05-01T10:00:00Z", windowEnd="2029-05-01T11:00:00Z")
    b = make_release(gql, f"FB-{unique}", applicationKeys=[app],
                     windowStart="2029-06-01T10:00:00Z", windowEnd="2029-06-01T11:00:00Z")
    gql.data(TRANSITION, {"id": b["id"], "to": "IN_PROGRESS"})
    query = "query($f: ReleaseFilter) { releases(filter: $f) { totalCount nodes { key } } }"

    def keys(**f: Any) -> list[str]:
        return [n["key"] for n in gql.data(query, {"f": {"application": app, **f}})[
            "releases"]["nodes"]]

    assert keys(type=["EMERGENCY"]) == [f"FA-{unique}"]
    assert keys(status=["IN_PROGRESS"]) == [f"FB-{unique}"]
    assert keys(windowFrom="2029-05-15T00:00:00Z") == [f"FB-{unique}"]
    assert keys(windowTo="2029-05-15T00:00:00Z") == [f"FA-{unique}"]


def test_a_page_larger_than_the_cap_is_refused(gql: GraphQLClient) -> None:
    error = gql.error("{ releases(first: 101) { totalCount } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "first"


def test_source_links_are_added_listed_and_refused_twice(gql: GraphQLClient,
                                                        unique: str) -> None:
    release = make_release(gql, f"L-{unique}")
    link = "mutation($id: ID!, $l: SourceLinkInput!) { linkSource(releaseId: $id, link: $l) " \
           "{ id source kind externalKey } }"
    value = {"source": "jira", "kind": "PLANNED_VERSION", "externalKey": "20001"}
    created = gql.data(link, {"id": release["id"], "l": value})["linkSource"]
    assert created["kind"] == "PLANNED_VERSION"
    error = gql.error(link, {"id": release["id"], "l": value})
    assert error["extensions"]["code"] == "CONFLICT"
    links = gql.data("query($k: String!) { release(key: $k) { links { externalKey } } }",
                     {"k": f"L-{unique}"})["release"]["links"]
    assert links == [{"externalKey": "20001"}]
    gql.data("mutation($id: ID!) { unlinkSource(id: $id) { id } }", {"id": created["id"]})
    assert gql.data("query($k: String!) { release(key: $k) { links { id } } }",
                    {"k": f"L-{unique}"})["release"]["links"] == []


@pytest.mark.parametrize(("old", "new", "source", "key"), [
    ("JIRA_VERSION", "PLANNED_VERSION", "jira", "20002"),
    ("GITHUB_MILESTONE", "MILESTONE", "github", "acme-retail/payments-service#1"),
    ("GITHUB_COMPARE", "CODE_RANGE", "github", "acme-retail/payments-service@v1...v2"),
])
def test_a_deprecated_link_kind_is_accepted_and_stored_as_its_neutral_word(
        gql: GraphQLClient, unique: str, old: str, new: str, source: str, key: str) -> None:
    release = make_release(gql, f"LD-{old[:4]}-{unique}")
    link = "mutation($id: ID!, $l: SourceLinkInput!) { linkSource(releaseId: $id, link: $l) " \
           "{ kind externalKey } }"
    created = gql.data(link, {"id": release["id"], "l": {
        "source": source, "kind": old, "externalKey": key}})["linkSource"]
    assert created == {"kind": new, "externalKey": key}
    again = gql.error(link, {"id": release["id"], "l": {
        "source": source, "kind": new, "externalKey": key}})
    assert again["extensions"]["code"] == "CONFLICT"  # one stored row, in the neutral word


def test_deleting_a_phase_and_an_environment_is_audited_and_leaves_no_row(
        gql: GraphQLClient, unique: str) -> None:
    release = make_release(gql, f"DEL-{unique}")
    phase = gql.data("mutation($id: ID!) { addReleasePhase(releaseId: $id, input: "
                     "{name: \"Rollout\"}) { id } }", {"id": release["id"]})["addReleasePhase"]
    gql.data("mutation($id: ID!) { deleteReleasePhase(id: $id) { id } }", {"id": phase["id"]})
    after = gql.data("query($k: String!) { release(key: $k) { phases { id } history { action "
                     "before } } }", {"k": f"DEL-{unique}"})["release"]
    assert after["phases"] == []
    assert after["history"][0]["action"] == "phase.delete"
    assert after["history"][0]["before"]["name"] == "Rollout"
    env = gql.data("mutation($i: EnvironmentInput!) { createEnvironment(input: $i) { id } }",
                   {"i": {"name": f"UAT-{unique}", "tier": "TEST"}})["createEnvironment"]
    gql.data("mutation($id: ID!) { deleteEnvironment(id: $id) { id } }", {"id": env["id"]})
    assert gql.data("query($id: ID!) { node(id: $id) { id } }", {"id": env["id"]})["node"] is None
    error = gql.error("mutation($id: ID!) { deleteEnvironment(id: $id) { id } }",
                      {"id": env["id"]})
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "id"}
