"""pycontribs `jira`, the client teams script JIRA with, against the JIRA sandbox.

Each test drives `jira.JIRA` over a real socket against both flavours: Cloud
(e-mail and API token, `search/jql` token paging) and Data Center (a personal
access token, `startAt` paging). Every call goes through the library; the
sandbox's own request log is read only to check what the library was served.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from jira import JIRA, JIRAError
from jira.resources import Issue

from connectors.jira.sandbox.app import JiraSite, create_app
from connectors.sandbox.kit import DEMO_TOKEN, DEMO_USER, RequestLog
from connectors.sandbox.world import WORKFLOW, World, build_world
from tests.support.server import serve_asgi

FLAVOURS = ["cloud", "datacenter"]
ALL_PROJECTS = "project in (PAY, CHK, INV, IDN, NTF, RPT) ORDER BY key"
NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."


def library_client(flavour: str, url: str, **options: Any) -> JIRA:
    """The library as a script signs in to each flavour."""
    if flavour == "cloud":
        return JIRA(url, basic_auth=(DEMO_USER, DEMO_TOKEN), options=options)
    return JIRA(url, token_auth=DEMO_TOKEN, options=options)


@dataclass
class Site:
    """One flavour's sandbox as a client library meets it."""

    flavour: str
    url: str
    world: World
    state: JiraSite
    log: RequestLog
    refusals_expected: bool = False

    def client(self, **options: Any) -> JIRA:
        return library_client(self.flavour, self.url, **options)

    def refused_since(self, started: str) -> list[tuple[str, str, int]]:
        """Calls received since `started` (the log's ISO form) and answered with an error."""
        return [(e.method, e.path, e.status) for e in self.log.entries
                if e.at >= started and e.status >= 400]


@pytest.fixture(scope="module", params=FLAVOURS)
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    world = build_world(7)
    app = create_app(world, mode=request.param)
    with serve_asgi(app) as url:
        yield Site(request.param, url, world, app.state.jira, app.state.kit.request_log)


@pytest.fixture
def jira(site: Site) -> Iterator[JIRA]:
    started = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    site.refusals_expected = False  # until a test asks for `expect_refusals`
    client = site.client()
    yield client
    client.close()
    if not site.refusals_expected:
        assert site.refused_since(started) == [], "the library met an error not expected"


def world_keys(world: World, *apps: str) -> list[str]:
    """Issue keys of the applications in JQL's `ORDER BY key` order."""
    keys = [w.key for w in world.work_items if w.app_key in apps]
    return sorted(keys, key=lambda k: (k.split("-")[0], int(k.split("-")[1])))


def refusal(call: Any, *args: Any, **kwargs: Any) -> JIRAError:
    with pytest.raises(JIRAError) as caught:
        call(*args, **kwargs)
    return caught.value


def error_body(error: JIRAError) -> Any:
    assert error.response is not None
    return error.response.json()


# --- the site ------------------------------------------------------------------------------

def test_the_client_learns_the_flavour_from_server_info(site: Site, jira: JIRA) -> None:
    info = jira.server_info()
    assert info["deploymentType"] == ("Cloud" if site.flavour == "cloud" else "Server")
    assert jira._is_cloud is (site.flavour == "cloud")
    assert info["baseUrl"] == site.url


def test_myself_is_the_signed_in_account(site: Site, jira: JIRA) -> None:
    me = jira.myself()
    assert me["emailAddress"] == DEMO_USER
    if site.flavour == "cloud":
        assert me["accountId"] and "name" not in me
    else:
        assert me["name"] == DEMO_USER and "accountId" not in me


def test_projects_are_the_applications_with_their_versions_and_leads(
        site: Site, jira: JIRA) -> None:
    assert [p.key for p in jira.projects()] == [a.key for a in site.world.applications]
    payments = jira.project("PAY")
    assert payments.name == site.world.app("PAY").name
    assert payments.lead.displayName == site.world.app("PAY").lead.display_name
    releases = [r for r in site.world.releases if r.app_key == "PAY"]
    versions = jira.project_versions("PAY")
    assert [v.name for v in versions] == [r.version_name for r in releases]
    assert [v.released for v in versions] == [r.released for r in releases]


def test_a_created_version_is_listed_read_back_and_released(site: Site, jira: JIRA) -> None:
    created = jira.create_version("2027.06", "CHK", description="Summer release",
                                  releaseDate="2027-06-15")
    assert (created.name, created.released, created.releaseDate) == (
        "2027.06", False, "2027-06-15")
    assert jira.version(created.id).description == "Summer release"
    assert "2027.06" in [v.name for v in jira.project_versions("CHK")]
    created.update(released=True)
    assert jira.version(created.id).released is True


def test_a_versions_issue_counts_are_those_of_the_world(site: Site, jira: JIRA) -> None:
    release = next(r for r in site.world.releases if r.app_key == "INV"
                   and any(w.release_key == r.key for w in site.world.work_items))
    fixed = [w for w in site.world.work_items if w.release_key == release.key]
    version = next(v for v in jira.project_versions("INV") if v.name == release.version_name)
    assert jira.version_count_related_issues(version.id)["issuesFixedCount"] == len(fixed)
    assert jira.version_count_unresolved_issues(version.id) == sum(
        w.status_category != "done" for w in fixed)


@pytest.fixture(params=FLAVOURS)
def own_jira(request: pytest.FixtureRequest) -> Iterator[JIRA]:
    """A site of its own for a test that reorders and deletes, so others read the world."""
    with serve_asgi(create_app(build_world(7), mode=request.param)) as url:
        client = library_client(request.param, url)
        yield client
        client.close()


def test_versions_are_reordered_and_a_deleted_ones_issues_move_to_another(
        own_jira: JIRA) -> None:
    jira = own_jira
    first = jira.create_version("2028.01", "NTF")
    second = jira.create_version("2028.02", "NTF")
    names = lambda: [v.name for v in jira.project_versions("NTF")]  # noqa: E731
    assert names()[-2:] == ["2028.01", "2028.02"]
    jira.move_version(second.id, position="Earlier")
    assert names()[-2:] == ["2028.02", "2028.01"]
    jira.move_version(second.id, after=first.self)
    assert names()[-2:] == ["2028.01", "2028.02"]
    jira.move_version(second.id, position="First")
    assert names()[0] == "2028.02"

    issue = jira.create_issue(project="NTF", summary="Moves with its version",
                              issuetype={"name": "Task"}, fixVersions=[{"id": first.id}])
    jira.version(first.id).delete(moveFixIssuesTo=second.id)  # JIRA takes the id
    assert "2028.01" not in names()
    assert [v.name for v in jira.issue(issue.key).fields.fixVersions] == ["2028.02"]
    assert jira.version_count_related_issues(second.id)["issuesFixedCount"] == 1


def test_a_version_name_is_unique_within_its_project(site: Site, jira: JIRA,
                                                    expect_refusals: None) -> None:
    taken = next(r.version_name for r in site.world.releases if r.app_key == "IDN")
    error = refusal(jira.create_version, taken, "IDN")
    assert error.status_code == 400
    assert error_body(error) == {"errorMessages": [], "errors": {
        "name": "A version with this name already exists in this project."}}


# --- metadata the library reads first ------------------------------------------------------

def test_fields_give_the_library_its_clause_names(jira: JIRA) -> None:
    fields = {f["id"]: f for f in jira.fields()}
    assert fields["summary"]["clauseNames"] == ["summary"]
    assert fields["fixVersions"]["schema"] == {"type": "array", "items": "version",
                                               "system": "fixVersions"}
    assert fields["customfield_10016"]["custom"] is True
    assert jira._fields_cache["fixVersion"] == "fixVersions"


def test_statuses_priorities_and_issue_types_are_the_sites(jira: JIRA) -> None:
    assert [s.name for s in jira.statuses()] == [name for name, _ in WORKFLOW]
    assert {s.name: s.statusCategory.key for s in jira.statuses()} == dict(WORKFLOW)
    assert [p.name for p in jira.priorities()] == ["Highest", "High", "Medium", "Low", "Lowest"]
    assert sorted(t.name for t in jira.issue_types()) == ["Bug", "Story", "Task"]
    assert jira.issue_type_by_name("Bug", project="PAY").name == "Bug"


def test_components_list_and_create(site: Site, jira: JIRA) -> None:
    repo = site.world.app("NTF").repo_name
    assert [c.name for c in jira.project_components("NTF")] == [repo]
    made = jira.create_component("sms-gateway", "NTF", description="Outbound SMS")
    assert jira.component(made.id).description == "Outbound SMS"
    assert [c.name for c in jira.project_components("NTF")] == [repo, "sms-gateway"]


# --- search ---------------------------------------------------------------------------------

def test_search_pages_through_every_issue_of_a_project(site: Site, jira: JIRA) -> None:
    jql = "project = INV ORDER BY key"
    keys: list[str] = []
    if site.flavour == "cloud":
        page = jira.search_issues(jql, maxResults=10)
        keys += [i.key for i in page]
        while page.nextPageToken:
            page = jira.enhanced_search_issues(jql, nextPageToken=page.nextPageToken,
                                               maxResults=10)
            keys += [i.key for i in page]
    else:
        start = 0
        while True:
            page = jira.search_issues(jql, startAt=start, maxResults=10)
            keys += [i.key for i in page]
            start += len(page)
            if start >= page.total:
                break
    expected = world_keys(site.world, "INV")
    assert len(expected) > 30  # more than three pages of ten
    assert keys == expected


def test_search_without_a_page_size_fetches_every_page(site: Site, jira: JIRA) -> None:
    found = jira.search_issues(ALL_PROJECTS, maxResults=False, fields="summary")
    assert [i.key for i in found] == world_keys(site.world, *(
        a.key for a in site.world.applications))[:len(found)]
    assert len(found) == len(site.state.issues)


def test_search_translates_clause_names_in_fields(site: Site, jira: JIRA) -> None:
    (found,) = jira.search_issues("key = INV-1", fields=["summary", "fixVersion"])
    item = next(w for w in site.world.work_items if w.key == "INV-1")
    assert found.fields.summary == item.summary
    release = site.world.release(item.release_key) if item.release_key else None
    names = [v["name"] for v in found.raw["fields"]["fixVersion"]]
    assert names == ([release.version_name] if release else [])


def test_an_issue_reads_as_the_world_has_it(site: Site, jira: JIRA) -> None:
    item = next(w for w in site.world.work_items if w.key == "INV-2")
    issue = jira.issue("INV-2")
    assert issue.fields.summary == item.summary
    assert issue.fields.status.name == item.status
    assert issue.fields.priority.name == item.priority
    assert issue.fields.issuetype.name == item.issue_type
    assert issue.fields.reporter.displayName == item.reporter.display_name
    assert issue.fields.project.key == "INV"


# --- writes ---------------------------------------------------------------------------------

def new_issue(jira: JIRA, summary: str) -> Issue:
    return jira.create_issue(project="PAY", summary=summary, issuetype={"name": "Bug"},
                             description="Steps: pay twice.", labels=["regression"],
                             priority={"name": "High"})


def test_a_created_issue_starts_in_to_do_reported_by_the_caller(site: Site,
                                                                jira: JIRA) -> None:
    issue = new_issue(jira, "Double charge on retry")
    highest = max(int(k.split("-")[1]) for k in world_keys(site.world, "PAY"))
    assert int(issue.key.split("-")[1]) > highest
    assert issue.fields.status.name == "To Do"
    assert issue.fields.issuetype.name == "Bug"
    assert issue.fields.priority.name == "High"
    assert issue.fields.labels == ["regression"]
    assert issue.fields.description == "Steps: pay twice."
    assert issue.fields.reporter.emailAddress == DEMO_USER
    assert issue.fields.created >= site.world.now.strftime("%Y-%m-%d")
    assert [i.key for i in jira.search_issues(f"key = {issue.key}")] == [issue.key]


def test_edits_change_ordinary_fields(site: Site, jira: JIRA) -> None:
    issue = new_issue(jira, "Refund rounding")
    target = next(r for r in site.world.releases if r.app_key == "PAY" and not r.released)
    component = site.world.app("PAY").repo_name
    issue.update(fields={
        "summary": "Refund rounding loses a cent", "description": "Seen on EUR refunds.",
        "labels": ["money", "regression"], "priority": {"name": "Highest"},
        "fixVersions": [{"name": target.version_name}], "components": [{"name": component}],
        "duedate": "2026-12-01"})
    again = jira.issue(issue.key)
    assert again.fields.summary == "Refund rounding loses a cent"
    assert again.fields.description == "Seen on EUR refunds."
    assert again.fields.labels == ["money", "regression"]
    assert again.fields.priority.name == "Highest"
    assert [v.name for v in again.fields.fixVersions] == [target.version_name]
    assert [c.name for c in again.fields.components] == [component]
    assert again.fields.duedate == "2026-12-01"
    jira.issue(issue.key).add_field_value("labels", "hotfix")
    assert jira.issue(issue.key).fields.labels == ["money", "regression", "hotfix"]
    found = jira.search_issues(f'fixVersion = "{target.version_name}" AND project = PAY '
                               f'AND labels = hotfix')
    assert [i.key for i in found] == [issue.key]


def test_the_edit_screen_lists_what_edits_accept(site: Site, jira: JIRA) -> None:
    meta = jira.editmeta("PAY-6")["fields"]
    assert {"summary", "labels", "fixVersions", "assignee", "comment"} <= set(meta)
    assert "status" not in meta and "customfield_10016" not in meta
    assert meta["labels"]["operations"] == ["add", "set", "remove"]
    assert [p["name"] for p in meta["priority"]["allowedValues"]] == [
        p.name for p in jira.priorities()]
    assert [v["name"] for v in meta["fixVersions"]["allowedValues"]] == [
        v.name for v in jira.project_versions("PAY")]


def test_assignment_finds_the_user_and_names_them_by_the_flavours_identifier(
        site: Site, jira: JIRA) -> None:
    issue = new_issue(jira, "Assign me")
    person = site.world.people[3]
    jira.assign_issue(issue, person.email)
    assignee = jira.issue(issue.key).fields.assignee
    assert assignee.displayName == person.display_name
    if site.flavour == "cloud":
        assert assignee.accountId == person.account_id
    else:
        assert assignee.name == person.username
    jira.assign_issue(issue, None)
    assert jira.issue(issue.key).fields.assignee is None
    assert any(e.path == f"/rest/api/latest/issue/{issue.key}/assignee"
               for e in site.log.entries)


def test_my_open_issues_and_a_text_search_are_the_usual_jql(site: Site, jira: JIRA) -> None:
    issue = new_issue(jira, "Refund lands twice after a gateway timeout")
    jira.assign_issue(issue, DEMO_USER)
    mine = jira.search_issues("assignee = currentUser() AND resolution = Unresolved "
                              "ORDER BY key", maxResults=False)
    assert issue.key in [i.key for i in mine]
    assert all(i.fields.assignee is not None and i.fields.resolution is None for i in mine)
    found = jira.search_issues('project = PAY AND summary ~ "gateway timeout" '
                               'AND labels is not EMPTY AND fixVersion is EMPTY')
    assert [i.key for i in found] == [issue.key]


def test_a_new_component_is_searchable_once_an_issue_has_it(
        site: Site, jira: JIRA, expect_refusals: None) -> None:
    unknown = refusal(jira.search_issues, 'component = "ledger-export"')
    assert error_body(unknown)["errorMessages"] == [
        "The value 'ledger-export' does not exist for the field 'component'."]
    jira.create_component("ledger-export", "PAY")
    assert jira.search_issues('component = "ledger-export"') == []
    issue = new_issue(jira, "Ledger export drops cents")
    issue.update(fields={"components": [{"name": "ledger-export"}]})
    assert [i.key for i in jira.search_issues("component = ledger-export")] == [issue.key]
    assert issue.key not in [i.key for i in jira.search_issues(
        "project = PAY AND component is EMPTY", maxResults=False)]


# --- boards and sprints ----------------------------------------------------------------------

def test_each_project_has_a_scrum_board_of_two_week_sprints(site: Site, jira: JIRA) -> None:
    boards = jira.boards()
    assert [(b.name, b.type) for b in boards] == [
        (f"{a.key} board", "scrum") for a in site.world.applications]
    assert [b.name for b in jira.boards(projectKeyOrID="INV")] == ["INV board"]
    sprints = jira.sprints(boards[0].id)
    assert [s.state for s in sprints] == ["closed"] * 6 + ["active"] + ["future"] * 2
    (active,) = jira.sprints(boards[0].id, state="active")
    now = site.world.now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert active.startDate <= now < active.endDate
    assert jira.sprint(active.id).name == active.name == "PAY Sprint 7"


def test_sprints_hold_work_started_and_done_and_the_backlog_the_rest(
        site: Site, jira: JIRA) -> None:
    pay = [w for w in site.world.work_items if w.app_key == "PAY"]
    started = {w.key for w in pay if w.status_category == "indeterminate"}
    in_open = {i.key for i in jira.search_issues("project = PAY AND sprint in openSprints()",
                                                 maxResults=False)}
    assert started <= in_open
    backlog = {i.key for i in jira.search_issues("project = PAY AND sprint is EMPTY",
                                                 maxResults=False)}
    assert {w.key for w in pay if w.status_category == "new"} <= backlog
    assert not started & backlog
    done_in_closed = {i.key for i in jira.search_issues(
        "project = PAY AND sprint in closedSprints()", maxResults=False)}
    assert done_in_closed and all(
        w.status_category == "done" for w in pay if w.key in done_in_closed)
    (active,) = jira.sprints(jira.boards(projectKeyOrID="PAY")[0].id, state="active")
    by_name = {i.key for i in jira.search_issues(f'sprint = "{active.name}"',
                                                 maxResults=False)}
    assert by_name == {i.key for i in jira.search_issues(f"sprint = {active.id}",
                                                         maxResults=False)}
    listed = jira._get_json(f"sprint/{active.id}/issue", params={"maxResults": 100},
                            base=jira.AGILE_BASE_URL)
    assert {i["key"] for i in listed["issues"]} == by_name == {
        k for k in in_open if k.startswith("PAY-")}
    # The sprint's `jql` narrows it and may order it, as a search's does.
    narrowed = jira._get_json(f"sprint/{active.id}/issue", base=jira.AGILE_BASE_URL, params={
        "maxResults": 100, "jql": "status != Done ORDER BY key DESC"})
    assert [i["key"] for i in narrowed["issues"]] == [i.key for i in jira.search_issues(
        f"sprint = {active.id} AND status != Done ORDER BY key DESC", maxResults=False)]
    assert narrowed["issues"]


def test_an_unknown_board_or_sprint_is_404_with_jiras_message(
        jira: JIRA, expect_refusals: None) -> None:
    board = refusal(jira._get_json, "board/999", base=jira.AGILE_BASE_URL)
    assert error_body(board)["errorMessages"] == [
        "Board does not exist or you do not have permission to see it."]
    sprint = refusal(jira.sprint, 999999)
    assert sprint.status_code == 404
    bad = refusal(jira.sprints, 1, state="running")
    assert bad.status_code == 400


def test_comments_are_added_and_listed_in_order(site: Site, jira: JIRA) -> None:
    issue = new_issue(jira, "Comment thread")
    first = jira.add_comment(issue, "Reproduced on staging.")
    jira.add_comment(issue.key, "Fix is in review.")
    assert first.body == "Reproduced on staging."
    assert first.author.emailAddress == DEMO_USER
    assert [c.body for c in jira.comments(issue.key)] == [
        "Reproduced on staging.", "Fix is in review."]
    assert jira.comment(issue.key, first.id).body == "Reproduced on staging."
    assert len(jira.issue(issue.key).fields.comment.comments) == 2


def test_work_is_logged_on_an_issue_and_listed_with_its_duration(site: Site,
                                                                 jira: JIRA) -> None:
    issue = new_issue(jira, "Rehearse the rollback")
    first = jira.add_worklog(issue.key, timeSpent="1h 30m", comment="Dry run on staging.",
                             started=datetime(2026, 10, 30, 14, 0, tzinfo=UTC))
    jira.add_worklog(issue.key, timeSpentSeconds=2 * 8 * 3600)
    assert (first.timeSpent, first.timeSpentSeconds) == ("1h 30m", 5400)
    assert first.started.startswith("2026-10-30T14:00:00.000")
    logged = jira.worklogs(issue.key)
    assert [(w.timeSpent, w.id) for w in logged] == [("1h 30m", first.id), ("2d", logged[1].id)]
    assert jira.worklog(issue.key, first.id).comment == "Dry run on staging."
    assert jira.issue(issue.key).fields.worklog.total == 2  # the issue's own field agrees


def test_a_blocking_link_reads_from_both_issues_and_is_deleted(site: Site, jira: JIRA) -> None:
    assert [t.name for t in jira.issue_link_types()] == ["Blocks", "Cloners", "Duplicate",
                                                         "Relates"]
    schema, rollout = new_issue(jira, "Migrate the schema"), new_issue(jira, "Roll out")
    jira.create_issue_link("Blocks", schema.key, rollout.key)
    jira.create_issue_link("blocks", schema.key, rollout.key)  # made again: kept once
    [from_schema] = jira.issue(schema.key).fields.issuelinks
    [from_rollout] = jira.issue(rollout.key).fields.issuelinks
    # The schema blocks the rollout; the rollout is blocked by the schema.
    assert (from_schema.type.outward, from_schema.outwardIssue.key) == ("blocks", rollout.key)
    assert (from_rollout.type.inward, from_rollout.inwardIssue.key) == ("is blocked by",
                                                                        schema.key)
    assert not hasattr(from_schema, "inwardIssue") and from_schema.id == from_rollout.id
    link = jira.issue_link(from_schema.id)
    assert (link.inwardIssue.key, link.outwardIssue.key) == (schema.key, rollout.key)
    jira.delete_issue_link(from_schema.id)
    assert jira.issue(rollout.key).fields.issuelinks == []


def test_watchers_and_votes_are_added_removed_and_counted_on_the_issue(site: Site,
                                                                     jira: JIRA) -> None:
    issue = new_issue(jira, "Watch the rollout")
    assert [w.emailAddress for w in jira.watchers(issue.key).watchers] == [DEMO_USER]
    lead = site.world.app("PAY").lead
    # The library finds the user by a search term first: an e-mail on Cloud, a name on DC.
    named = lead.email if site.flavour == "cloud" else lead.username
    jira.add_watcher(issue.key, named)
    jira.add_watcher(issue.key, named)  # a second add changes nothing
    assert jira.watchers(issue.key).watchCount == 2
    assert jira.issue(issue.key).fields.watches.watchCount == 2
    jira.remove_watcher(issue.key, named)
    assert jira.watchers(issue.key).watchCount == 1
    jira.add_vote(issue.key)
    assert (jira.votes(issue.key).votes, jira.issue(issue.key).fields.votes.hasVoted) == (1, True)
    jira.remove_vote(issue.key)
    assert jira.votes(issue.key).votes == 0


def test_an_issue_is_linked_to_its_change_and_the_link_updated_by_its_global_id(
        site: Site, jira: JIRA) -> None:
    issue = new_issue(jira, "Ship the refund fix")
    change = {"url": "https://itsm.example.test/change/CHG0031337", "title": "CHG0031337",
              "summary": "Refund fix, Saturday window"}
    linked = jira.add_remote_link(issue.key, change, globalId="change=CHG0031337",
                                  relationship="is shipped by")
    assert linked.id
    again = jira.add_remote_link(issue.key, {**change, "summary": "Moved to Sunday"},
                                 globalId="change=CHG0031337", relationship="is shipped by")
    assert again.id == linked.id  # the same global id updates, it does not duplicate
    jira.add_remote_link(issue.key, {"url": "https://ci.example.test/run/88", "title": "Build 88"})
    links = jira.remote_links(issue.key)
    assert [(link.object.title, getattr(link, "globalId", None)) for link in links] == [
        ("CHG0031337", "change=CHG0031337"), ("Build 88", None)]
    read = jira.remote_link(issue.key, linked.id)
    assert (read.object.summary, read.relationship) == ("Moved to Sunday", "is shipped by")
    assert jira.remote_links(new_issue(jira, "Unlinked")) == []


def test_transitions_move_the_issue_through_the_workflow(site: Site, jira: JIRA) -> None:
    issue = new_issue(jira, "Ship it")
    offered = {t["name"] for t in jira.transitions(issue)}
    assert offered == {name for name, _ in WORKFLOW} - {"To Do"}
    jira.transition_issue(issue, "In Progress")
    assert jira.issue(issue.key).fields.status.name == "In Progress"
    done = jira.find_transitionid_by_name(issue, "Done")
    jira.transition_issue(issue.key, str(done), comment="Released in 2026.11")
    after = jira.issue(issue.key)
    assert after.fields.status.statusCategory.key == "done"
    assert after.fields.resolution.name == "Done"
    assert [c.body for c in jira.comments(issue.key)] == ["Released in 2026.11"]
    assert [i.key for i in jira.search_issues(
        f"key = {issue.key} AND statusCategory = Done")] == [issue.key]


def test_bulk_create_makes_the_good_issues_and_reports_the_bad_one(site: Site,
                                                                  jira: JIRA) -> None:
    made = jira.create_issues([
        {"project": "PAY", "summary": "Bulk one", "issuetype": {"name": "Task"}},
        {"project": "PAY", "summary": "Bulk two", "issuetype": {"name": "Story"},
         "priority": {"name": "Urgent!"}},
        {"project": "PAY", "summary": "Bulk three", "issuetype": {"name": "Bug"}}])
    assert [m["status"] for m in made] == ["Success", "Error", "Success"]
    assert made[1]["error"] == {"priority": "The priority selected is invalid."}
    assert [m["issue"].fields.summary for m in made if m["issue"]] == ["Bulk one",
                                                                       "Bulk three"]


def test_users_are_searched_by_name_and_read_by_the_flavours_identifier(
        site: Site, jira: JIRA) -> None:
    person = site.world.people[5]
    if site.flavour == "cloud":
        (found,) = jira.search_users(query=person.email)
        assert jira.user(person.account_id).displayName == person.display_name
    else:
        (found,) = jira.search_users(user=person.username)
        assert jira.user(person.username).emailAddress == person.email
    assert found.displayName == person.display_name


# --- refusals -------------------------------------------------------------------------------

@pytest.fixture
def expect_refusals(site: Site) -> Iterator[None]:
    """The calls of these tests are meant to fail: keep them out of the error check."""
    site.refusals_expected = True
    yield


def test_bad_credentials_are_refused_with_401(site: Site, expect_refusals: None) -> None:
    with pytest.raises(JIRAError) as caught:
        if site.flavour == "cloud":
            JIRA(site.url, basic_auth=(DEMO_USER, "not-the-token"))
        else:
            JIRA(site.url, token_auth="not-the-pat")
    assert caught.value.status_code == 401
    assert "You are not authenticated" in caught.value.text


def test_an_unknown_issue_is_404_with_jiras_message(jira: JIRA,
                                                    expect_refusals: None) -> None:
    error = refusal(jira.issue, "PAY-99999")
    assert error.status_code == 404
    assert error_body(error) == {"errorMessages": [
        "Issue does not exist or you do not have permission to see it."], "errors": {}}


def test_an_unknown_field_is_refused_as_not_on_the_screen(jira: JIRA,
                                                          expect_refusals: None) -> None:
    issue = jira.issue("PAY-3")
    error = refusal(issue.update, fields={"customfield_99999": "x", "status": "Done"})
    assert error.status_code == 400
    assert error_body(error) == {"errorMessages": [], "errors": {
        "customfield_99999": NOT_ON_SCREEN.format("customfield_99999"),
        "status": NOT_ON_SCREEN.format("status")}}
    assert jira.issue("PAY-3").fields.summary == issue.fields.summary


def test_a_create_without_a_summary_names_every_missing_field(
        jira: JIRA, expect_refusals: None) -> None:
    error = refusal(jira.create_issue, fields={"project": {"key": "PAY"},
                                               "issuetype": {"name": "Task"},
                                               "labels": ["has space"]})
    assert error.status_code == 400
    assert error_body(error)["errors"] == {
        "summary": "You must specify a summary of the issue.",
        "labels": "The label 'has space' contains spaces which is invalid."}


def test_a_bad_edit_changes_nothing(site: Site, jira: JIRA, expect_refusals: None) -> None:
    before = jira.issue("PAY-4")
    error = refusal(before.update, fields={"summary": "Renamed",
                                           "fixVersions": [{"name": "1999.01"}]})
    assert error_body(error)["errors"] == {"fixVersions": "Version name '1999.01' is not valid"}
    assert jira.issue("PAY-4").fields.summary == before.fields.summary


def test_a_transition_the_issue_does_not_offer_is_refused(jira: JIRA,
                                                          expect_refusals: None) -> None:
    error = refusal(jira.transition_issue, "PAY-5", "999")
    assert error.status_code == 400
    assert error_body(error)["errorMessages"] == [
        "Transition id '999' is not valid for this issue."]
