"""The JIRA sandbox behaves like JIRA Cloud and Data Center, over real sockets."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from connectors.jira.sandbox.app import create_app
from connectors.sandbox.kit import DEMO_PASSWORD, DEMO_TOKEN, DEMO_USER
from connectors.sandbox.world import World, build_world
from tests.support.server import serve_asgi

SEARCH_JQL = "/rest/api/3/search/jql"
CLASSIC_SEARCH = "/rest/api/2/search"


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7)


@pytest.fixture(scope="module")
def cloud(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(create_app(world, mode="cloud")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as client:
        yield client


@pytest.fixture(scope="module")
def datacenter(world: World) -> Iterator[httpx.Client]:
    with serve_asgi(create_app(world, mode="datacenter")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_PASSWORD)) as client:
        yield client


def cloud_keys(client: httpx.Client, jql: str, page_size: int = 7) -> list[str]:
    """Every key the query finds, following nextPageToken to the end."""
    keys: list[str] = []
    params: dict[str, Any] = {"jql": jql, "maxResults": page_size, "fields": "key"}
    for _ in range(100):
        page = client.get(SEARCH_JQL, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        keys += [issue["key"] for issue in body["issues"]]
        if body["isLast"]:
            assert "nextPageToken" not in body
            return keys
        params["nextPageToken"] = body["nextPageToken"]
    raise AssertionError("pagination did not end")


def dc_keys(client: httpx.Client, jql: str, page_size: int = 7) -> list[str]:
    keys: list[str] = []
    start = 0
    while True:
        body = client.get(CLASSIC_SEARCH, params={"jql": jql, "startAt": start,
                                                  "maxResults": page_size,
                                                  "fields": "summary"}).json()
        keys += [issue["key"] for issue in body["issues"]]
        start += len(body["issues"])
        if not body["issues"] or start >= body["total"]:
            assert len(keys) == body["total"]
            return keys


def release_keys(world: World, *versions: str, app: str | None = None) -> set[str]:
    rkeys = {r.key for r in world.releases if r.version_name in versions
             and (app is None or r.app_key == app)}
    return {w.key for w in world.work_items if w.release_key in rkeys}


# --- search and pagination ---------------------------------------------------------

def test_cloud_token_pagination_collects_every_issue_of_the_fix_versions(
        cloud: httpx.Client, world: World) -> None:
    keys = cloud_keys(cloud, 'fixVersion in ("2026.10", 2026.11)')
    assert len(keys) == len(set(keys))
    assert set(keys) == release_keys(world, "2026.10", "2026.11")


def test_datacenter_offset_pagination_collects_every_issue_of_the_fix_versions(
        datacenter: httpx.Client, world: World) -> None:
    keys = dc_keys(datacenter, 'fixVersion in ("2026.10", "2026.11")')
    assert len(keys) == len(set(keys))
    assert set(keys) == release_keys(world, "2026.10", "2026.11")


def test_post_search_takes_the_same_query_as_a_json_body(cloud: httpx.Client,
                                                         world: World) -> None:
    body = cloud.post(SEARCH_JQL, json={"jql": "project = PAY", "maxResults": 500,
                                        "fields": ["key"]}).json()
    assert {i["key"] for i in body["issues"]} == {w.key for w in world.work_items
                                                  if w.app_key == "PAY"}
    assert body["isLast"] is True


def test_cloud_search_returns_only_ids_without_a_fields_parameter(cloud: httpx.Client) -> None:
    body = cloud.get(SEARCH_JQL, params={"jql": "project = PAY", "maxResults": 2}).json()
    assert body["issues"] == [{"id": body["issues"][0]["id"]}, {"id": body["issues"][1]["id"]}]
    assert "total" not in body and "startAt" not in body


def test_cloud_search_caps_pages_of_full_issues_below_max_results(cloud: httpx.Client) -> None:
    body = cloud.get(SEARCH_JQL, params={"jql": "project in (PAY, CHK, INV, IDN, NTF, RPT)",
                                         "maxResults": 1000, "fields": "*navigable"}).json()
    assert len(body["issues"]) == 100
    assert body["isLast"] is False and body["nextPageToken"]


def test_cloud_search_serves_up_to_5000_issues_a_page_when_only_keys_are_asked(
        cloud: httpx.Client, world: World) -> None:
    """Cloud: "the greatest number of items returned per page is achieved when requesting
    id or key only. It returns max 5000 issues" (docs/upstream-limits.md)."""
    jql = "project in (PAY, CHK, INV, IDN, NTF, RPT) ORDER BY key ASC"
    keys_only = cloud.post(SEARCH_JQL, json={"jql": jql, "maxResults": 5000,
                                             "fields": ["key"]}).json()
    with_fields = cloud.post(SEARCH_JQL, json={"jql": jql, "maxResults": 5000,
                                               "fields": ["summary", "fixVersions"]}).json()
    assert len(keys_only["issues"]) == len(world.work_items) > 100
    assert keys_only["isLast"] is True
    assert len(with_fields["issues"]) == 100 and with_fields["isLast"] is False


def test_datacenter_search_caps_a_page_at_1000_issues() -> None:
    big = build_world(7, scale=5)
    assert len(big.work_items) > 1000
    with serve_asgi(create_app(big, mode="datacenter")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_PASSWORD)) as client:
        body = client.post("/rest/api/2/search", json={
            "jql": "project = PAY OR project != PAY", "maxResults": 5000,
            "fields": ["summary"]}).json()
    assert body["maxResults"] == 1000 and len(body["issues"]) == 1000
    assert body["total"] == len(big.work_items)


def test_a_page_token_from_another_query_is_refused(cloud: httpx.Client) -> None:
    first = cloud.get(SEARCH_JQL, params={"jql": "project = PAY", "maxResults": 1}).json()
    other = cloud.get(SEARCH_JQL, params={"jql": "project = CHK",
                                          "nextPageToken": first["nextPageToken"]})
    assert other.status_code == 400
    assert other.json()["errorMessages"]


def test_requested_fields_and_exclusions_are_honoured(cloud: httpx.Client) -> None:
    issue = cloud.get(SEARCH_JQL, params={"jql": "key = PAY-1", "fields": "summary,status"}
                      ).json()["issues"][0]
    assert set(issue["fields"]) == {"summary", "status"}
    issue = cloud.get(SEARCH_JQL, params={"jql": "key = PAY-1",
                                          "fields": "*navigable,-description"}).json()["issues"][0]
    assert "description" not in issue["fields"] and "fixVersions" in issue["fields"]


def test_cloud_v3_renders_adf_and_account_ids_while_datacenter_renders_strings_and_names(
        cloud: httpx.Client, datacenter: httpx.Client, world: World) -> None:
    item = next(w for w in world.work_items if w.key == "PAY-1")
    v3 = cloud.get("/rest/api/3/issue/PAY-1").json()["fields"]
    assert v3["description"]["type"] == "doc"
    assert v3["description"]["content"][0]["content"][0]["text"] == item.description
    assert v3["reporter"]["accountId"] == item.reporter.account_id
    assert "name" not in v3["reporter"]
    v2 = cloud.get("/rest/api/2/issue/PAY-1").json()["fields"]
    assert v2["description"] == item.description
    dc = datacenter.get("/rest/api/2/issue/PAY-1").json()["fields"]
    assert dc["description"] == item.description
    assert dc["reporter"]["name"] == item.reporter.username
    assert dc["reporter"]["key"].startswith("JIRAUSER")
    assert "accountId" not in dc["reporter"]
    assert dc["created"] == item.created.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def test_issue_fields_come_from_the_world(datacenter: httpx.Client, world: World) -> None:
    item = next(w for w in world.work_items if w.status == "Done")
    release = world.release(item.release_key or "")
    fields = datacenter.get(f"/rest/api/2/issue/{item.key}").json()["fields"]
    assert fields["status"]["name"] == "Done"
    assert fields["status"]["statusCategory"]["key"] == "done"
    assert fields["priority"]["name"] == item.priority
    assert fields["issuetype"]["name"] == item.issue_type
    assert fields["labels"] == item.labels
    assert [v["name"] for v in fields["fixVersions"]] == [release.version_name]
    assert fields["fixVersions"][0]["id"] == str(release.jira_version_id)
    assert fields["project"]["key"] == item.app_key
    assert fields["resolution"]["name"] == "Done"


# --- JQL operators -------------------------------------------------------------------

def expected(world: World, test: Any) -> set[str]:
    return {w.key for w in world.work_items if test(w)}


@pytest.mark.parametrize(("jql", "predicate"), [
    ("project = CHK", lambda w: w.app_key == "CHK"),
    ("PROJECT in (chk, INV)", lambda w: w.app_key in ("CHK", "INV")),
    ('status = "In Review"', lambda w: w.status == "In Review"),
    ("status in ('To Do', Done)", lambda w: w.status in ("To Do", "Done")),
    ("project = PAY and status != Done", lambda w: w.app_key == "PAY" and w.status != "Done"),
    ("statusCategory = indeterminate", lambda w: w.status_category == "indeterminate"),
    ('statusCategory in ("To Do", done)', lambda w: w.status_category in ("new", "done")),
    ("issuetype = Bug AND priority in (Highest, High)",
     lambda w: w.issue_type == "Bug" and w.priority in ("Highest", "High")),
    ("(project = PAY OR project = RPT) AND issuetype = Story",
     lambda w: w.app_key in ("PAY", "RPT") and w.issue_type == "Story"),
    ("project = PAY AND NOT status = Done", lambda w: w.app_key == "PAY" and w.status != "Done"),
    ('updated >= "2026-10-20"', lambda w: w.updated >= datetime(2026, 10, 20, tzinfo=UTC)),
    ('updated < "2026-09-01 12:30"',
     lambda w: w.updated < datetime(2026, 9, 1, 12, 30, tzinfo=UTC)),
    ("updated > -7d", lambda w: w.updated > datetime(2026, 11, 2, 9, tzinfo=UTC)
     - timedelta(days=7)),
    ("project = INV AND updated <= 2026/09/15",
     lambda w: w.app_key == "INV" and w.updated <= datetime(2026, 9, 15, tzinfo=UTC)),
])
def test_jql_operator_selects_what_it_says(cloud: httpx.Client, world: World, jql: str,
                                           predicate: Any) -> None:
    found = set(cloud_keys(cloud, jql, page_size=200))
    assert found == expected(world, predicate)
    assert found  # each case is chosen so that it selects something


def test_key_in_and_fix_version_by_id(cloud: httpx.Client, world: World) -> None:
    assert set(cloud_keys(cloud, "key in (PAY-1, chk-2)")) == {"PAY-1", "CHK-2"}
    release = world.releases[0]
    found = set(cloud_keys(cloud, f"fixVersion = {release.jira_version_id}"))
    assert found == {w.key for w in world.work_items if w.release_key == release.key}


def test_unreleased_versions_function_finds_work_still_to_ship(cloud: httpx.Client,
                                                               world: World) -> None:
    found = set(cloud_keys(cloud, "fixVersion in unreleasedVersions(PAY)", page_size=200))
    open_releases = {r.key for r in world.releases
                     if r.app_key == "PAY" and not r.released and r.status != "CANCELLED"}
    assert found == {w.key for w in world.work_items if w.release_key in open_releases}


def test_order_by_sorts_in_either_direction(cloud: httpx.Client, world: World) -> None:
    keys = cloud_keys(cloud, "project = NTF ORDER BY updated DESC, key ASC", page_size=200)
    by_key = {w.key: w for w in world.work_items}
    stamps = [by_key[k].updated for k in keys]
    assert stamps == sorted(stamps, reverse=True)
    numbers = [int(k.split("-")[1]) for k in
               cloud_keys(cloud, "project = NTF order by key asc", page_size=200)]
    assert numbers == sorted(numbers)


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def test_people_are_found_under_any_of_their_names(cloud: httpx.Client, world: World) -> None:
    person = next(w.assignee for w in world.work_items if w.assignee is not None)
    theirs = expected(world, lambda w: w.assignee == person)
    for name in (person.account_id, person.email, person.display_name, person.username):
        assert set(cloud_keys(cloud, f'assignee = "{name}"', page_size=200)) == theirs
    assert set(cloud_keys(cloud, f'project = PAY AND reporter in ("{person.email}")',
                          page_size=200)) == expected(
        world, lambda w: w.app_key == "PAY" and w.reporter == person)


@pytest.mark.parametrize(("jql", "predicate"), [
    ("project = PAY AND assignee is EMPTY", lambda w: w.app_key == "PAY" and w.assignee is None),
    ("project = PAY AND assignee IS NOT null",
     lambda w: w.app_key == "PAY" and w.assignee is not None),
    ("project = CHK AND resolution = Unresolved",
     lambda w: w.app_key == "CHK" and w.status_category != "done"),
    ("project = CHK AND resolution is EMPTY",
     lambda w: w.app_key == "CHK" and w.status_category != "done"),
    ("project = CHK AND resolution = Done",
     lambda w: w.app_key == "CHK" and w.status_category == "done"),
    ("project = CHK AND resolution != Unresolved",
     lambda w: w.app_key == "CHK" and w.status_category == "done"),
    ("project = INV AND labels is not EMPTY", lambda w: w.app_key == "INV" and bool(w.labels)),
    ("project = NTF AND fixVersion is not EMPTY", lambda w: w.app_key == "NTF"),
])
def test_emptiness_and_resolution_select_as_jira_does(cloud: httpx.Client, world: World,
                                                      jql: str, predicate: Any) -> None:
    found = set(cloud_keys(cloud, jql, page_size=200))
    assert found == expected(world, predicate)
    assert found


def test_a_negated_resolution_leaves_out_unresolved_issues(cloud: httpx.Client) -> None:
    # JIRA's negative operators never match an empty field: nothing is "not Done" but Done.
    assert cloud_keys(cloud, "project = CHK AND resolution != Done") == []


def test_text_search_finds_every_word_a_wildcard_and_a_phrase(cloud: httpx.Client,
                                                             world: World) -> None:
    summary = world.work_items[0].summary
    word = max(words(summary), key=len)
    assert set(cloud_keys(cloud, f'summary ~ "{word.upper()}"', page_size=200)) == expected(
        world, lambda w: word in words(w.summary))
    stem = word[:4]
    assert set(cloud_keys(cloud, f"summary ~ {stem}*", page_size=200)) == expected(
        world, lambda w: any(found.startswith(stem) for found in words(w.summary)))
    pair = summary.split()[:2]
    phrase = " ".join(pair).lower()
    assert set(cloud_keys(cloud, f'summary ~ "\\"{" ".join(pair)}\\""', page_size=200)
               ) == expected(world, lambda w: f" {phrase} " in f" {w.summary.lower()} ")
    assert set(cloud_keys(cloud, f'project = PAY AND summary !~ "{word}"', page_size=200)
               ) == expected(world, lambda w: w.app_key == "PAY" and word not in words(w.summary))
    described = max(words(world.work_items[0].description), key=len)
    assert set(cloud_keys(cloud, f'text ~ "{described}"', page_size=200)) == expected(
        world, lambda w: described in words(w.summary) | words(w.description))


def test_a_new_issue_without_labels_or_version_is_found_by_emptiness(world: World) -> None:
    # Every seeded issue has labels and a fix version: a site of its own gets one without.
    with serve_asgi(create_app(world, mode="cloud")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as client:
        assert cloud_keys(client, "project = INV AND (labels is EMPTY OR fixVersion = EMPTY)"
                          ) == []
        created = client.post("/rest/api/3/issue", json={"fields": {
            "project": {"key": "INV"}, "issuetype": {"name": "Bug"}, "summary": "Bare"}})
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        assert cloud_keys(client, "project = INV AND labels is EMPTY") == [key]
        assert cloud_keys(client, "project = INV AND fixVersion is EMPTY") == [key]
        assert key not in cloud_keys(client, "project = INV AND labels is not EMPTY",
                                     page_size=200)


def test_current_user_is_the_caller(world: World) -> None:
    with serve_asgi(create_app(world, mode="cloud")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as client:
        me = client.get("/rest/api/3/myself").json()["accountId"]
        mine = "assignee = currentUser() AND resolution = Unresolved"
        assert cloud_keys(client, mine) == []
        response = client.put("/rest/api/3/issue/PAY-1/assignee", json={"accountId": me})
        assert response.status_code == 204, response.text
        assert cloud_keys(client, mine) == (
            ["PAY-1"] if world.work_items[0].status_category != "done" else [])
        assert cloud_keys(client, "assignee = currentUser()") == ["PAY-1"]


# --- errors --------------------------------------------------------------------------

@pytest.mark.parametrize(("jql", "message"), [
    ("order by key desc", "Unbounded JQL queries are not allowed here. Please add a search "
                          "restriction to your query."),
    ("", "Unbounded JQL queries are not allowed here. Please add a search restriction to "
         "your query."),
    ("key in (PAY-1, PAY-999)", "An issue with key 'PAY-999' does not exist for the field 'key'."),
    ("fixVersion = 9.9.9", "The value '9.9.9' does not exist for the field 'fixVersion'."),
    ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
    ("sprint = 4", "The value '4' does not exist for the field 'sprint'."),
    ("sprint in openSprints(PAY)", "Unable to find JQL function 'openSprints(PAY)'."),
    ("cost = 4", "Field 'cost' does not exist or you do not have permission to view it."),
    ("assignee = nobody@example.com",
     "The value 'nobody@example.com' does not exist for the field 'assignee'."),
    ("resolution = Fixed", "The value 'Fixed' does not exist for the field 'resolution'."),
    ("project is EMPTY", "The operator 'IS' is not supported by the 'project' field."),
    ("summary = login", "The operator '=' is not supported by the 'summary' field."),
    ('summary ~ "*ogin"',
     "The text query '*ogin' for field 'summary' is not allowed to start with a wildcard."),
    ('summary ~ ""', "The field 'summary' does not support searching for an empty string."),
    ("reporter = currentUser(PAY)", "Unable to find JQL function 'currentUser(PAY)'."),
    ("fixVersion in earliestUnreleasedVersion(PAY)",
     "Unable to find JQL function 'earliestUnreleasedVersion(PAY)'."),
    ("project > PAY", "The operator '>' is not supported by the 'project' field."),
    ('updated >= "yesterday"', "Date value 'yesterday' for field 'updated' is invalid. Valid "
     "formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or "
     "a period format e.g. '-5d', '4w 2d'."),
])
def test_bad_jql_is_refused_with_jiras_own_message(cloud: httpx.Client, jql: str,
                                                   message: str) -> None:
    response = cloud.get(SEARCH_JQL, params={"jql": jql})
    assert response.status_code == 400
    assert response.json() == {"errorMessages": [message], "errors": {}}


def test_syntax_errors_name_the_position(datacenter: httpx.Client) -> None:
    response = datacenter.get(CLASSIC_SEARCH, params={"jql": "project = PAY AND"})
    assert response.status_code == 400
    (message,) = response.json()["errorMessages"]
    assert message.startswith("Error in the JQL Query: Expecting")
    assert "(line 1, character 18)" in message


@pytest.mark.parametrize("path", ["/rest/api/3/search", "/rest/api/2/search"])
def test_cloud_answers_the_retired_search_with_410_gone(cloud: httpx.Client, path: str) -> None:
    response = cloud.get(path, params={"jql": "project = PAY"})
    assert response.status_code == 410
    assert "/rest/api/3/search/jql" in response.json()["errorMessages"][0]
    assert cloud.post(path, json={"jql": "project = PAY"}).status_code == 410


def test_datacenter_has_no_cloud_only_resources(datacenter: httpx.Client) -> None:
    assert datacenter.get(SEARCH_JQL, params={"jql": "project = PAY"}).status_code == 404
    assert datacenter.get("/rest/api/2/search", params={"jql": ""}).status_code == 200


def test_unknown_issue_is_404_in_jiras_shape(cloud: httpx.Client) -> None:
    response = cloud.get("/rest/api/3/issue/PAY-9999")
    assert response.status_code == 404
    assert response.json() == {"errorMessages": [
        "Issue does not exist or you do not have permission to see it."], "errors": {}}


# --- auth ----------------------------------------------------------------------------

def test_cloud_accepts_only_basic_email_and_api_token(cloud: httpx.Client) -> None:
    url = str(cloud.base_url) + "/rest/api/3/myself"
    assert httpx.get(url, auth=(DEMO_USER, DEMO_TOKEN)).status_code == 200
    for auth in [(DEMO_USER, DEMO_PASSWORD), ("someone@example.com", DEMO_TOKEN)]:
        refused = httpx.get(url, auth=auth)
        assert refused.status_code == 401
        assert refused.json()["errorMessages"]
    assert httpx.get(url, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}).status_code == 401
    assert httpx.get(url).status_code == 401


def test_datacenter_accepts_a_bearer_pat_or_basic_password(datacenter: httpx.Client) -> None:
    url = str(datacenter.base_url) + "/rest/api/2/myself"
    assert httpx.get(url, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}).status_code == 200
    assert httpx.get(url, auth=(DEMO_USER, DEMO_PASSWORD)).status_code == 200
    assert httpx.get(url, auth=(DEMO_USER, DEMO_TOKEN)).status_code == 401  # PAT is no password
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url).status_code == 401


# --- issues, changelog, projects, versions ---------------------------------------------

def test_changelog_expand_shows_the_status_history(datacenter: httpx.Client,
                                                   world: World) -> None:
    item = next(w for w in world.work_items if len(w.changelog) == 3)
    issue = datacenter.get(f"/rest/api/2/issue/{item.key}", params={"expand": "changelog"}).json()
    changelog = issue["changelog"]
    assert changelog["total"] == len(changelog["histories"]) == 3
    moves = [(h["items"][0]["fromString"], h["items"][0]["toString"])
             for h in changelog["histories"]]
    assert moves == [("To Do", "In Progress"), ("In Progress", "In Review"),
                     ("In Review", "Done")]
    first = changelog["histories"][0]
    assert first["author"]["name"] == item.changelog[0][1].username
    assert first["items"][0]["field"] == "status"
    assert "changelog" not in datacenter.get(f"/rest/api/2/issue/{item.key}").json()


def test_cloud_pages_an_issue_changelog(cloud: httpx.Client, world: World) -> None:
    item = next(w for w in world.work_items if len(w.changelog) == 3)
    page = cloud.get(f"/rest/api/3/issue/{item.key}/changelog", params={"maxResults": 2}).json()
    assert (page["total"], page["isLast"], len(page["values"])) == (3, False, 2)
    rest = cloud.get(page["nextPage"]).json()
    assert rest["isLast"] is True and len(rest["values"]) == 1


def test_cloud_bulk_fetches_issues_in_the_order_asked_leaving_out_the_unknown(
        cloud: httpx.Client, world: World) -> None:
    first, second = world.work_items[1], world.work_items[0]
    answer = cloud.post("/rest/api/3/issue/bulkfetch", json={
        "issueIdsOrKeys": [first.key, "NOPE-1", second.key, first.key],
        "fields": ["summary", "status"], "expand": ["names"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [i["key"] for i in body["issues"]] == [first.key, second.key]
    assert body["issues"][0]["fields"]["summary"] == first.summary
    assert set(body["issues"][0]["fields"]) == {"summary", "status"}
    assert body["issues"][0]["names"] == {"summary": "Summary", "status": "Status"}
    assert body["issueErrors"] == []


@pytest.mark.parametrize(("path", "most"), [("/rest/api/3/issue/bulkfetch", 100),
                                            ("/rest/api/3/changelog/bulkfetch", 1000)])
def test_cloud_bulk_fetches_refuse_no_ids_or_more_than_their_limit(
        cloud: httpx.Client, path: str, most: int) -> None:
    for ids in ([], [f"PAY-{n}" for n in range(1, most + 2)]):
        refused = cloud.post(path, json={"issueIdsOrKeys": ids})
        assert refused.status_code == 400
        assert refused.json()["errorMessages"][0].startswith(("No issue", "You can request"))
    assert cloud.post(path, json={"issueIdsOrKeys": "PAY-1"}).status_code == 400


def test_cloud_bulk_fetches_changelogs_page_by_page_and_by_field(
        cloud: httpx.Client, world: World) -> None:
    items = [w for w in world.work_items if w.changelog][:4]
    keys = [w.key for w in items]
    whole = cloud.post("/rest/api/3/changelog/bulkfetch", json={"issueIdsOrKeys": keys})
    assert whole.status_code == 200, whole.text
    every = [(c["issueId"], h["id"]) for c in whole.json()["issueChangeLogs"]
             for h in c["changeHistories"]]
    assert len(every) == sum(len(w.changelog) for w in items)
    assert "nextPageToken" not in whole.json()
    paged: list[tuple[str, str]] = []
    request: dict[str, Any] = {"issueIdsOrKeys": keys, "maxResults": 2}
    for _ in range(20):
        page = cloud.post("/rest/api/3/changelog/bulkfetch", json=request).json()
        paged += [(c["issueId"], h["id"]) for c in page["issueChangeLogs"]
                  for h in c["changeHistories"]]
        if "nextPageToken" not in page:
            break
        request["nextPageToken"] = page["nextPageToken"]
    assert paged == every
    # A token from another request is refused, not read as an offset of this one.
    other = cloud.post("/rest/api/3/changelog/bulkfetch", json={
        "issueIdsOrKeys": keys[:1], "nextPageToken": request["nextPageToken"]})
    assert other.status_code == 400
    statuses = cloud.post("/rest/api/3/changelog/bulkfetch", json={
        "issueIdsOrKeys": keys, "fieldIds": ["status"]}).json()
    assert {i["fieldId"] for c in statuses["issueChangeLogs"] for h in c["changeHistories"]
            for i in h["items"]} == {"status"}


def test_cloud_dynamic_webhooks_are_refused_to_a_user_token(cloud: httpx.Client) -> None:
    for method in ("GET", "POST"):
        refused = cloud.request(method, "/rest/api/3/webhook",
                                json={"url": "https://hub.example.com/hook", "webhooks": []})
        assert refused.status_code == 403
        assert "apps" in refused.json()["errorMessages"][0]


def test_project_versions_list_every_release_of_the_application(
        cloud: httpx.Client, world: World) -> None:
    versions = cloud.get("/rest/api/3/project/PAY/versions").json()
    releases = [r for r in world.releases if r.app_key == "PAY"]
    assert [v["name"] for v in versions] == [r.version_name for r in releases]
    for version, release in zip(versions, releases, strict=True):
        assert version["id"] == str(release.jira_version_id)
        assert version["released"] is release.released
        assert version["releaseDate"] == f"{release.window_start:%Y-%m-%d}"
        assert version["projectId"] == world.app("PAY").jira_project_id


def test_project_version_page_filters_and_pages(cloud: httpx.Client, world: World) -> None:
    released = [r.version_name for r in world.releases if r.app_key == "PAY" and r.released]
    page = cloud.get("/rest/api/3/project/PAY/version",
                     params={"status": "released", "maxResults": 1, "orderBy": "-name"}).json()
    assert page["total"] == len(released)
    assert page["values"][0]["name"] == max(released)
    assert cloud.get("/rest/api/3/project/NOPE/versions").status_code == 404


def test_projects_one_per_application(datacenter: httpx.Client, world: World) -> None:
    projects = datacenter.get("/rest/api/2/project").json()
    assert [(p["key"], p["id"]) for p in projects] == [
        (a.key, str(a.jira_project_id)) for a in world.applications]


def test_server_info_tells_cloud_from_datacenter(cloud: httpx.Client,
                                                 datacenter: httpx.Client) -> None:
    assert cloud.get("/rest/api/3/serverInfo").json()["deploymentType"] == "Cloud"
    assert datacenter.get("/rest/api/2/serverInfo").json()["deploymentType"] == "Server"


def test_the_sandbox_works_under_a_mount_prefix(world: World) -> None:
    outer = Starlette(routes=[Mount("/sandbox/jira", app=create_app(world))])
    with serve_asgi(outer) as url:
        body = httpx.get(f"{url}/sandbox/jira{SEARCH_JQL}", auth=(DEMO_USER, DEMO_TOKEN),
                         params={"jql": "key = PAY-1", "fields": "summary"}).json()
    assert body["issues"][0]["self"] == f"{url}/sandbox/jira/rest/api/3/issue/10101"


# --- faults and the request log ------------------------------------------------------------

def test_rate_limit_fault_answers_429_with_retry_after_and_an_iso_reset(world: World) -> None:
    with serve_asgi(create_app(world)) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as client:
        client.post("/_sandbox/faults", json={"rate_limit": {"count": 2, "retry_after": 3}})
        params = {"jql": "project = PAY"}
        limited = [client.get(SEARCH_JQL, params=params) for _ in range(2)]
        assert client.get(SEARCH_JQL, params=params).status_code == 200
    for response in limited:
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        reset = datetime.strptime(response.headers["X-RateLimit-Reset"], "%Y-%m-%dT%H:%MZ")
        assert abs(reset.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=2)
        assert response.json()["errorMessages"] == ["Rate limit exceeded."]


def test_request_log_counts_exactly_the_calls_served(world: World) -> None:
    with serve_asgi(create_app(world, mode="datacenter")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_PASSWORD)) as client:
        client.delete("/_sandbox/requests")
        dc_keys(client, "project = PAY", page_size=10)
        client.get("/rest/api/2/issue/PAY-1")
        client.get("/rest/api/2/issue/PAY-1", auth=(DEMO_USER, "wrong"))
        log = client.get("/_sandbox/requests").json()
    pages = -(-len([w for w in world.work_items if w.app_key == "PAY"]) // 10)
    assert log["count"] == pages + 2
    assert [e["status"] for e in log["requests"]][-2:] == [200, 401]


# --- writes and webhooks ------------------------------------------------------------------

@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    deliveries: list[tuple[bytes, dict[str, str]]] = []

    async def hook(request: Request) -> Response:
        deliveries.append((await request.body(), dict(request.headers)))
        return Response(status_code=204)

    with serve_asgi(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        yield f"{url}/hook", deliveries


def test_a_transition_emits_a_signed_issue_updated_webhook(
        receiver: tuple[str, list[tuple[bytes, dict[str, str]]]]) -> None:
    hook_url, deliveries = receiver
    app = create_app(build_world(7), webhook_url=hook_url, webhook_secret="s3cret")
    with serve_asgi(app) as url, httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as c:
        key = "PAY-40"
        before = c.get(f"/rest/api/3/issue/{key}", params={"fields": "status"}).json()
        options = c.get(f"/rest/api/3/issue/{key}/transitions").json()["transitions"]
        done = next(t for t in options if t["to"]["name"] == "Done")
        assert before["fields"]["status"]["name"] != "Done"
        moved = c.post(f"/rest/api/3/issue/{key}/transitions",
                       json={"transition": {"id": done["id"]}})
        assert moved.status_code == 204
        after = c.get(f"/rest/api/3/issue/{key}", params={"fields": "status"}).json()
        assert after["fields"]["status"]["statusCategory"]["key"] == "done"
        found = cloud_keys(c, f"key = {key} AND status = Done")
        assert found == [key]
    (body, headers), = deliveries
    digest = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["x-hub-signature"] == f"sha256={digest}"
    assert headers["x-atlassian-webhook-identifier"]
    payload = json.loads(body)
    assert payload["webhookEvent"] == "jira:issue_updated"
    assert payload["issue"]["key"] == key
    assert payload["issue"]["self"].split("/rest/")[1].startswith("api/2/")
    (item,) = payload["changelog"]["items"]
    assert (item["field"], item["toString"]) == ("status", "Done")


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "", {"description": "Late edit"}),
    ("POST", "/move", {"position": "First"}),
])
def test_a_version_deleted_while_a_write_to_it_is_arriving_is_not_found_for_the_write(
        method: str, path: str, body: dict[str, Any]) -> None:
    async def race(url: str) -> tuple[int, int]:
        async with httpx.AsyncClient(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as c:
            made = (await c.post("/rest/api/3/version",
                                 json={"name": "2028.05", "project": "PAY"})).json()
            arrived = asyncio.Event()

            async def slow_body() -> AsyncIterator[bytes]:
                yield b"{"
                await arrived.wait()  # the rest of the body comes after the delete
                yield json.dumps(body).encode()[1:]

            write = asyncio.create_task(c.request(
                method, f"/rest/api/3/version/{made['id']}{path}", content=slow_body(),
                headers={"content-type": "application/json"}))
            await asyncio.sleep(0.2)
            deleted = await c.delete(f"/rest/api/3/version/{made['id']}")
            arrived.set()
            return deleted.status_code, (await write).status_code

    with serve_asgi(create_app(build_world(7))) as url:
        assert asyncio.run(race(url)) == (204, 404)


def test_version_writes_emit_the_version_webhooks_jira_sends(
        receiver: tuple[str, list[tuple[bytes, dict[str, str]]]]) -> None:
    hook_url, deliveries = receiver
    app = create_app(build_world(7), webhook_url=hook_url, webhook_secret="s")
    with serve_asgi(app) as url, httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as c:
        made = c.post("/rest/api/3/version", json={"name": "2028.03", "project": "PAY"}).json()
        c.put(f"/rest/api/3/version/{made['id']}", json={"description": "Spring"})
        c.put(f"/rest/api/3/version/{made['id']}", json={"released": True})
        c.post(f"/rest/api/3/version/{made['id']}/move", json={"position": "First"})
        assert c.delete(f"/rest/api/3/version/{made['id']}").status_code == 204
    payloads = [json.loads(body) for body, _headers in deliveries]
    assert [p["webhookEvent"] for p in payloads] == [
        "jira:version_created", "jira:version_updated", "jira:version_released",
        "jira:version_moved", "jira:version_deleted"]
    assert {p["version"]["id"] for p in payloads} == {made["id"]}
    assert payloads[0]["version"]["self"].split("/rest/")[1].startswith("api/2/")
    assert all(h["x-hub-signature"].startswith("sha256=") for _b, h in deliveries)


def test_editing_fix_versions_moves_the_issue_between_releases(
        receiver: tuple[str, list[tuple[bytes, dict[str, str]]]]) -> None:
    hook_url, deliveries = receiver
    world = build_world(7)
    target = next(r for r in world.releases if r.app_key == "PAY" and r.status == "PLANNED")
    app = create_app(world, mode="datacenter", webhook_url=hook_url, webhook_secret="k")
    with serve_asgi(app) as url, httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_PASSWORD)) as c:
        edited = c.put("/rest/api/2/issue/PAY-1",
                       json={"fields": {"fixVersions": [{"name": target.version_name}]}})
        assert edited.status_code == 204
        assert "PAY-1" in dc_keys(c, f'fixVersion = "{target.version_name}" AND project = PAY')
        refused = c.put("/rest/api/2/issue/PAY-1", json={"fields": {"invalid": 1}})
        assert refused.status_code == 400
        assert set(refused.json()["errors"]) == {"invalid"}
    assert len(deliveries) == 1
    items = json.loads(deliveries[0][0])["changelog"]["items"]
    assert {i["field"] for i in items} == {"Fix Version"}
    assert any(i["toString"] == target.version_name for i in items)


# --- resources client libraries call -------------------------------------------------------

def test_an_unknown_path_is_jiras_rest_404_naming_the_uri(cloud: httpx.Client) -> None:
    response = cloud.get("/rest/api/2/dashboardz", params={"x": "1"})
    assert response.status_code == 404
    assert response.json() == {
        "message": f"null for uri: {cloud.base_url}/rest/api/2/dashboardz?x=1",
        "status-code": 404}


def test_latest_is_an_alias_of_version_2_on_both_flavours(cloud: httpx.Client,
                                                          datacenter: httpx.Client) -> None:
    for client in (cloud, datacenter):
        latest = client.get("/rest/api/latest/issue/PAY-1", params={"fields": "summary"})
        assert latest.json()["fields"] == client.get(
            "/rest/api/2/issue/PAY-1", params={"fields": "summary"}).json()["fields"]


def test_server_info_answers_anonymous_callers_but_not_bad_credentials(
        cloud: httpx.Client) -> None:
    url = str(cloud.base_url) + "/rest/api/2/serverInfo"
    assert httpx.get(url).json()["deploymentType"] == "Cloud"
    assert httpx.get(url, auth=(DEMO_USER, "wrong")).status_code == 401


def test_field_list_differs_by_flavour_like_the_issues_do(cloud: httpx.Client,
                                                          datacenter: httpx.Client) -> None:
    cloud_fields = {f["id"]: f for f in cloud.get("/rest/api/3/field").json()}
    dc_fields = {f["id"]: f for f in datacenter.get("/rest/api/2/field").json()}
    assert "statuscategorychangedate" in cloud_fields
    assert "statuscategorychangedate" not in dc_fields
    assert cloud_fields["summary"]["key"] == "summary" and "key" not in dc_fields["summary"]
    issue = cloud.get("/rest/api/3/issue/PAY-1").json()
    assert set(issue["fields"]) <= set(cloud_fields)


def test_v3_writes_take_atlassian_documents_and_refuse_plain_strings(
        receiver: tuple[str, list[tuple[bytes, dict[str, str]]]]) -> None:
    hook_url, deliveries = receiver
    app = create_app(build_world(7), webhook_url=hook_url, webhook_secret="s")
    doc = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Line one"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Line two"}]}]}
    fields = {"project": {"key": "PAY"}, "issuetype": {"id": "10002"}, "summary": "ADF"}
    with serve_asgi(app) as url, httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as c:
        refused = c.post("/rest/api/3/issue", json={"fields": {**fields, "description": "x"}})
        assert refused.status_code == 400
        assert set(refused.json()["errors"]) == {"description"}
        created = c.post("/rest/api/3/issue", json={"fields": {**fields, "description": doc}})
        assert created.status_code == 201
        key = created.json()["key"]
        assert c.get(f"/rest/api/3/issue/{key}").json()["fields"]["description"] == doc
        v2 = c.get(f"/rest/api/2/issue/{key}").json()["fields"]["description"]
        assert v2 == "Line one\nLine two"
    (body, _), = deliveries
    assert json.loads(body)["webhookEvent"] == "jira:issue_created"
    assert json.loads(body)["issue"]["key"] == key


def test_a_search_after_a_write_sees_the_write(world: World) -> None:
    """Searches look issues up by version; a move or a rename made between two identical
    searches shows in the second."""
    source, target = [r for r in world.releases if r.app_key == "NTF"][:2]
    moved = next(w.key for w in world.work_items if w.release_key == source.key)
    with serve_asgi(create_app(world, mode="cloud")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_TOKEN)) as cloud:
        by_source = f"fixVersion = {source.jira_version_id}"
        by_target = f"fixVersion = {target.jira_version_id}"
        assert moved in cloud_keys(cloud, by_source) and moved not in cloud_keys(cloud, by_target)
        edited = cloud.put(f"/rest/api/3/issue/{moved}",
                           json={"fields": {"fixVersions": [{"id": str(target.jira_version_id)}]}})
        assert edited.status_code == 204
        assert moved not in cloud_keys(cloud, by_source) and moved in cloud_keys(cloud, by_target)

        by_name = f'project = NTF AND fixVersion = "{target.version_name}"'
        assert moved in cloud_keys(cloud, by_name)
        renamed = cloud.put(f"/rest/api/3/version/{target.jira_version_id}",
                            json={"name": "2099.01"})
        assert renamed.status_code == 200
        assert moved in cloud_keys(cloud, 'project = NTF AND fixVersion = "2099.01"')
        assert moved not in cloud_keys(cloud, by_name)


def test_a_new_version_is_searchable_as_a_fix_version(world: World) -> None:
    with serve_asgi(create_app(world, mode="datacenter")) as url, \
            httpx.Client(base_url=url, auth=(DEMO_USER, DEMO_PASSWORD)) as datacenter:
        new_version_takes_issues(datacenter)


def new_version_takes_issues(datacenter: httpx.Client) -> None:
    made = datacenter.post("/rest/api/2/version", json={"name": "2030.01", "project": "RPT"})
    assert made.status_code == 201
    assert made.json()["projectId"] == int(datacenter.get(
        "/rest/api/2/project/RPT").json()["id"])
    moved = datacenter.put("/rest/api/2/issue/RPT-1",
                           json={"update": {"fixVersions": [
                               {"set": [{"id": made.json()["id"]}]}]}})
    assert moved.status_code == 204
    assert dc_keys(datacenter, 'fixVersion = "2030.01"') == ["RPT-1"]
    missing = datacenter.post("/rest/api/2/version", json={"name": "x"})
    assert missing.status_code == 400 and set(missing.json()["errors"]) == {"project"}


# -- remote issue links ---------------------------------------------------------------


def test_a_remote_link_is_refused_without_its_url_and_title_and_nothing_is_made(
        cloud: httpx.Client) -> None:
    path = "/rest/api/3/issue/PAY-1/remotelink"
    before = cloud.get(path).json()
    refused = cloud.post(path, json={"globalId": "x", "object": {"summary": "no title"}})
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"url", "title"}
    assert cloud.post(path, json=["not", "an", "object"]).status_code == 400
    assert cloud.get(path).json() == before


def test_a_remote_link_is_replaced_read_by_global_id_and_deleted(cloud: httpx.Client) -> None:
    path = "/rest/api/2/issue/PAY-2/remotelink"
    made = cloud.post(path, json={"globalId": "release=PAY-2026.12",
                                  "object": {"url": "https://hub.example.test/r/1",
                                             "title": "PAY 2026.12"}})
    assert made.status_code == 201
    ident = made.json()["id"]
    assert made.json()["self"].endswith(f"/rest/api/2/issue/PAY-2/remotelink/{ident}")
    assert cloud.put(f"{path}/{ident}", json={"object": {"url": "https://hub.example.test/r/2",
                                                         "title": "PAY 2026.12.1"}}
                     ).status_code == 204
    replaced = cloud.get(f"{path}/{ident}").json()
    assert replaced["object"]["title"] == "PAY 2026.12.1" and "globalId" not in replaced
    assert cloud.post(path, json={"globalId": "release=PAY-2026.12.1", "object": {
        "url": "https://hub.example.test/r/2", "title": "PAY 2026.12.1"}}).status_code == 201
    by_global = cloud.get(path, params={"globalId": "release=PAY-2026.12.1"})
    assert by_global.status_code == 200 and by_global.json()["object"]["title"] == "PAY 2026.12.1"
    assert cloud.delete(path, params={"globalId": "release=PAY-2026.12.1"}).status_code == 204
    assert cloud.delete(f"{path}/{ident}").status_code == 204
    assert cloud.get(path).json() == []
    assert cloud.get(f"{path}/{ident}").status_code == 404
    assert cloud.get(path, params={"globalId": "release=PAY-2026.12.1"}).status_code == 404
    assert cloud.get("/rest/api/2/issue/NOPE-1/remotelink").status_code == 404


def test_two_posts_of_one_global_id_at_once_make_one_link(cloud: httpx.Client) -> None:
    path = "/rest/api/3/issue/PAY-3/remotelink"
    body = {"globalId": "change=CHG0040001",
            "object": {"url": "https://itsm.example.test/c/1", "title": "CHG0040001"}}

    async def both() -> list[int]:
        async with httpx.AsyncClient(base_url=str(cloud.base_url),
                                     auth=(DEMO_USER, DEMO_TOKEN)) as client:
            answers = await asyncio.gather(client.post(path, json=body),
                                           client.post(path, json=body))
        return sorted(a.status_code for a in answers)

    assert asyncio.run(both()) == [200, 201]
    assert len(cloud.get(path).json()) == 1


def test_a_watcher_that_names_nobody_or_no_string_is_refused_and_nothing_changes(
        cloud: httpx.Client, datacenter: httpx.Client) -> None:
    path = "/rest/api/3/issue/PAY-5/watchers"
    before = cloud.get(path).json()["watchCount"]
    assert cloud.post(path, content=b'{"accountId": "x"}').status_code == 400
    assert cloud.post(path, content=b"not json").status_code == 400
    assert cloud.post(path, json="no-such-account").status_code == 404
    assert cloud.delete(path).status_code == 400  # whom to remove is required
    assert cloud.get(path).json()["watchCount"] == before
    # Data Center names users by user name, in the body and in the query alike.
    dc_path = "/rest/api/2/issue/PAY-5/watchers"
    lead = datacenter.get("/rest/api/2/project/PAY").json()["lead"]["name"]
    assert datacenter.post(dc_path, json=lead).status_code == 204
    assert lead in {w["name"] for w in datacenter.get(dc_path).json()["watchers"]}
    assert datacenter.delete(dc_path, params={"username": lead}).status_code == 204
    assert lead not in {w["name"] for w in datacenter.get(dc_path).json()["watchers"]}


def test_an_issue_link_with_an_unknown_type_or_issue_is_refused_and_nothing_is_made(
        cloud: httpx.Client) -> None:
    path = "/rest/api/3/issueLink"

    def body(kind: Any = None, inward: Any = "PAY-6", outward: Any = "PAY-7") -> Any:
        return {"type": {"name": "Blocks"} if kind is None else kind,
                "inwardIssue": {"key": inward}, "outwardIssue": {"key": outward}}

    assert cloud.post(path, json=body({"name": "Supersedes"})).status_code == 404
    assert cloud.post(path, json=body({})).status_code == 400
    assert cloud.post(path, json=body(outward=None)).status_code == 400
    assert cloud.post(path, json=body(inward="NOPE-1")).status_code == 404
    assert cloud.post(path, json=[]).status_code == 400
    fields = cloud.get("/rest/api/3/issue/PAY-6", params={"fields": "issuelinks"}).json()
    assert fields["fields"]["issuelinks"] == []
    assert cloud.get(f"{path}/424242").status_code == 404
    assert cloud.get("/rest/api/3/issueLinkType/10000").json()["outward"] == "blocks"
    assert cloud.get("/rest/api/3/issueLinkType/99").status_code == 404
