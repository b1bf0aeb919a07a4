"""JIRA payloads -> canonical records, on every status JIRA reports and on sample answers.

The sample answers are the project's own (tests/contracts/samples/jira.json);
the tests marked `reference` read real recordings from `../shared` and skip
without it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from connectors.base import LinkKind, WorkStatus
from connectors.jira import mapping
from connectors.jira.mapping import JiraShapeError
from connectors.sandbox.world import WORKFLOW
from tests.support.contracts import sample
from tests.support.paths import FIXTURES

JIRA = FIXTURES / "jira"
SITE = "https://jira.northwind.example"  # the samples' invented site
RUBY_SITE = "http://localhost:2990/jira"  # the dev instance jira-ruby recorded
OCEAN_SITE = "http://localhost:8080"  # the Data Center 9 instance port-ocean recorded


def fixture(path: str) -> Any:
    return json.loads((JIRA / path).read_text())


def issue(**fields: Any) -> dict[str, Any]:
    """A minimal search-result issue with the fields the connector asks for."""
    base: dict[str, Any] = {
        "summary": "Fix checkout timeout",
        "status": {"name": "Done", "id": "10001",
                   "statusCategory": {"id": 3, "key": "done", "name": "Done"}},
        "issuetype": {"id": "10002", "name": "Task"},
        "priority": {"id": "3", "name": "Medium"},
        "assignee": {"accountId": "5b10", "displayName": "Ada Lovelace"},
        "updated": "2025-06-30T20:00:00.000+0000",
        "fixVersions": [{"id": "10040", "name": "2.4.0"}],
    }
    base.update(fields)
    return {"id": "10231", "key": "REL-101", "fields": base}


# --- the project's sample answers (tests/contracts/samples/jira.json) --------------------

def test_a_status_list_maps_the_same_with_or_without_categories() -> None:
    statuses = sample("jira", "statuses")
    mapped = {s["name"]: mapping.status_of(s) for s in statuses}
    assert mapped == {
        "Open": (WorkStatus.TODO, "Open"),
        "In Progress": (WorkStatus.IN_PROGRESS, "In Progress"),
        "Reopened": (WorkStatus.TODO, "Reopened"),
        "Resolved": (WorkStatus.DONE, "Resolved"),
        "Closed": (WorkStatus.DONE, "Closed"),
    }
    for status in statuses:
        bare = {k: v for k, v in status.items() if k != "statusCategory"}
        assert mapping.status_of(bare) == mapped[status["name"]]


def test_a_data_center_issue_maps_with_its_category() -> None:
    record = mapping.tracker_issue(sample("jira", "data center issue"), source="dc",
                                   site_url=SITE)
    assert record.key == "LED-7" and record.title == "Split the ledger service"
    assert record.url == "https://jira.northwind.example/browse/LED-7"
    assert (record.status, record.status_label) == (WorkStatus.TODO, "To Do")
    assert record.kind == "story" and record.issue_type == "Story"
    assert record.priority == "Medium" and record.assignee is None
    assert record.updated_at == datetime(2026, 4, 10, 17, 14, 56, 120000, tzinfo=UTC)
    assert record.versions == ()


def test_an_issue_keeps_its_site_offset_and_milliseconds() -> None:
    record = mapping.tracker_issue(sample("jira", "old server issue"), source="dc",
                                   site_url="http://jira.northwind.example:8080/jira/")
    assert record.key == "OPS-1" and record.title == "Rotate the archive disks"
    assert record.url == "http://jira.northwind.example:8080/jira/browse/OPS-1"
    assert record.updated_at == datetime(2025, 12, 14, 10, 26, 6, 30000,
                                         tzinfo=timezone(timedelta(hours=13)))
    # An old server sends "Open" with no category: the stock name decides.
    assert (record.status, record.status_label) == (WorkStatus.TODO, "Open")
    assert record.assignee == "tlind" and record.priority == "Major"


def test_an_offset_search_page_reads_whole() -> None:
    page = mapping.offset_page(sample("jira", "offset page"))
    assert (page.start_at, page.total, len(page.issues)) == (0, 3, 3)
    records = [mapping.tracker_issue(raw, source="dc", site_url=SITE) for raw in page.issues]
    assert [r.key for r in records] == ["LED-30", "LED-29", "LED-28"]
    assert {r.status for r in records} == {WorkStatus.TODO}
    assert records[0].versions == ("3.1",) and records[2].priority is None


def test_the_page_past_the_end_has_no_issues() -> None:
    page = mapping.offset_page(sample("jira", "page past the end"))
    assert (page.start_at, page.total, page.issues) == (40, 3, [])


def test_a_version_becomes_a_version_ref() -> None:
    ref = mapping.version_ref(sample("jira", "version"), source="dc", site_url=SITE,
                              project="LED")
    assert (ref.id, ref.name, ref.container) == ("10205", "3.1", "LED")
    assert ref.kind is LinkKind.PLANNED_VERSION and ref.released is False
    assert ref.release_date == datetime(2026, 12, 15, tzinfo=UTC)
    assert ref.description == "Winter train"
    assert ref.url == "https://jira.northwind.example/projects/LED/versions/10205"


def test_a_version_without_dates_or_description_leaves_them_unset() -> None:
    ref = mapping.version_ref(sample("jira", "bare version"), source="dc", site_url=SITE,
                              project="LED")
    assert (ref.id, ref.name) == ("10206", "3.2")
    assert ref.release_date is None and ref.description is None
    assert mapping.version_refs(sample("jira", "no versions"), source="dc", site_url=SITE,
                                project="LED") == []


# --- statuses ----------------------------------------------------------------------------

@pytest.mark.parametrize(("category", "expected"), [
    ("new", WorkStatus.TODO), ("indeterminate", WorkStatus.IN_PROGRESS),
    ("done", WorkStatus.DONE)])
def test_each_status_category_has_a_canonical_status(category: str,
                                                     expected: WorkStatus) -> None:
    assert mapping.work_status("Some Custom Status", category) is expected


@pytest.mark.parametrize(("name", "category"), WORKFLOW)
def test_every_status_of_the_demo_workflow_follows_its_category(name: str,
                                                                category: str) -> None:
    assert mapping.work_status(name, category) is mapping.CATEGORY_STATUS[category]


@pytest.mark.parametrize(("name", "expected"), [
    ("Open", WorkStatus.TODO), ("Reopened", WorkStatus.TODO), ("Backlog", WorkStatus.TODO),
    ("In Progress", WorkStatus.IN_PROGRESS), ("in review", WorkStatus.IN_PROGRESS),
    ("Resolved", WorkStatus.DONE), ("Closed", WorkStatus.DONE),
    ("Waiting for Godot", WorkStatus.TODO)])
def test_without_a_category_the_stock_status_names_decide(name: str,
                                                         expected: WorkStatus) -> None:
    assert mapping.work_status(name, None) is expected
    # "undefined" (No Category) carries no meaning either, so the name decides.
    assert mapping.work_status(name, "undefined") is expected


def test_status_map_overrides_the_category_by_status_name_ignoring_case() -> None:
    overrides = {"in review": "DONE", "Blocked": "NOT_A_STATUS"}
    assert mapping.work_status("In Review", "indeterminate", overrides) is WorkStatus.DONE
    assert mapping.work_status("In Progress", "indeterminate", overrides) \
        is WorkStatus.IN_PROGRESS
    # An override naming no canonical status is ignored rather than breaking a query.
    assert mapping.work_status("Blocked", "indeterminate", overrides) is WorkStatus.IN_PROGRESS


@pytest.mark.reference
def test_the_recorded_status_list_maps_the_same_with_or_without_categories() -> None:
    statuses = fixture("jira-ruby/status.json")
    mapped = {s["name"]: mapping.status_of(s) for s in statuses}
    assert mapped == {
        "Open": (WorkStatus.TODO, "Open"),
        "In Progress": (WorkStatus.IN_PROGRESS, "In Progress"),
        "Reopened": (WorkStatus.TODO, "Reopened"),
        "Resolved": (WorkStatus.DONE, "Resolved"),
        "Closed": (WorkStatus.DONE, "Closed"),
    }
    for status in statuses:
        bare = {k: v for k, v in status.items() if k != "statusCategory"}
        assert mapping.status_of(bare) == mapped[status["name"]]


# --- issues ------------------------------------------------------------------------------

def test_a_search_result_issue_becomes_a_tracker_issue() -> None:
    record = mapping.tracker_issue(issue(), source="jira", site_url="https://acme.example/")
    assert record.key == "REL-101" and record.title == "Fix checkout timeout"
    assert record.url == "https://acme.example/browse/REL-101"
    assert record.kind == "task" and record.issue_type == "Task"
    assert (record.status, record.status_label) == (WorkStatus.DONE, "Done")
    assert record.assignee == "Ada Lovelace" and record.priority == "Medium"
    assert record.updated_at == datetime(2025, 6, 30, 20, 0, tzinfo=UTC)
    assert record.versions == ("2.4.0",)
    assert record.source == "jira"


def test_unassigned_unprioritised_issues_without_versions_map_to_empty_values() -> None:
    record = mapping.tracker_issue(issue(assignee=None, priority=None, fixVersions=None),
                                   source="jira", site_url="https://acme.example")
    assert record.assignee is None and record.priority is None and record.versions == ()


@pytest.mark.parametrize(("field", "value", "complaint"), [
    ("summary", None, "fields.summary"),
    ("status", None, "fields.status"),
    ("issuetype", {"id": "1"}, "fields.issuetype.name"),
    ("updated", "last tuesday", "fields.updated"),
    ("fixVersions", [{"name": "2.4.0"}], "fixVersions[].id"),
])
def test_an_issue_missing_what_the_graph_needs_is_refused_naming_the_field(
        field: str, value: Any, complaint: str) -> None:
    with pytest.raises(JiraShapeError, match=r"issue REL-101: .*" + complaint.replace(
            "[", r"\[").replace("]", r"\]")):
        mapping.tracker_issue(issue(**{field: value}), source="jira", site_url="x")


@pytest.mark.reference
def test_the_recorded_data_center_issue_maps_with_its_category() -> None:
    raw = fixture("port-ocean/raw_issue.json")
    record = mapping.tracker_issue(raw, source="dc", site_url=OCEAN_SITE)
    assert record.key == "MAT-1" and record.title == "Create a new service"
    assert record.url == "http://localhost:8080/browse/MAT-1"
    assert (record.status, record.status_label) == (WorkStatus.TODO, "To Do")
    assert record.kind == "story" and record.issue_type == "Story"
    assert record.priority == "Medium" and record.assignee is None
    assert record.updated_at == datetime(2025, 4, 10, 17, 14, 56, tzinfo=UTC)
    assert record.versions == ()


@pytest.mark.reference
def test_the_recorded_issue_keeps_its_site_offset_and_milliseconds() -> None:
    record = mapping.tracker_issue(fixture("jira-ruby/issue/10002.json"), source="dc",
                                   site_url=RUBY_SITE)
    assert record.key == "SAMPLEPROJECT-1" and record.title == "Sample Issue"
    assert record.url == "http://localhost:2990/jira/browse/SAMPLEPROJECT-1"
    assert record.updated_at == datetime(2011, 12, 14, 10, 26, 6, 30000,
                                         tzinfo=timezone(timedelta(hours=13)))
    # An old server sends "Open" with no category: the stock name decides.
    assert (record.status, record.status_label) == (WorkStatus.TODO, "Open")
    assert record.assignee == "admin" and record.priority == "Major"


# --- search pages ------------------------------------------------------------------------

@pytest.mark.reference
def test_a_recorded_offset_search_page_reads_whole() -> None:
    page = mapping.offset_page(fixture("jira-ruby/issue.json"))
    assert (page.start_at, page.total, len(page.issues)) == (0, 11, 11)
    records = [mapping.tracker_issue(raw, source="dc", site_url=RUBY_SITE)
               for raw in page.issues]
    assert [r.key for r in records][:3] == ["SAMPLEPROJECT-13", "SAMPLEPROJECT-12",
                                             "SAMPLEPROJECT-11"]
    assert records[-1].title == "MOOOOOOARRR NINJAAAA!"
    assert {r.status for r in records} == {WorkStatus.TODO}
    assert {r.issue_type for r in records} == {"Task"}


@pytest.mark.reference
def test_a_recorded_projects_issue_page_reads_whole_with_its_time_tracking_left_aside(
        ) -> None:
    """A project's page of issues as an older server sends it, with time-tracking fields
    (`timespent`, `progress`, ...) the connector does not ask for: every issue maps, to
    the same issues as the recorded search over that project."""
    page = mapping.offset_page(fixture("jira-ruby/project/SAMPLEPROJECT.issues.json"))
    assert (page.start_at, page.total, len(page.issues)) == (0, 11, 11)
    assert "timespent" in page.issues[0]["fields"]
    records = [mapping.tracker_issue(raw, source="dc", site_url=RUBY_SITE)
               for raw in page.issues]
    searched = mapping.offset_page(fixture("jira-ruby/issue.json")).issues
    assert sorted(r.key for r in records) == sorted(raw["key"] for raw in searched)
    assert all(r.url == f"{RUBY_SITE}/browse/{r.key}" for r in records)


@pytest.mark.reference
def test_the_recorded_empty_page_past_the_end_has_no_issues() -> None:
    page = mapping.offset_page(fixture("jira-ruby/empty_issues.json"))
    assert (page.start_at, page.total, page.issues) == (11, 0, [])


def test_a_cloud_page_gives_its_next_token_until_the_last_page() -> None:
    middle = mapping.cloud_page({"issues": [issue()], "nextPageToken": "CAEaAggD",
                                 "isLast": False})
    last = mapping.cloud_page({"issues": [], "isLast": True})
    assert middle.next_token == "CAEaAggD" and len(middle.issues) == 1
    assert last.next_token is None


@pytest.mark.parametrize("body", [
    {"issues": [], "isLast": False},
    {"isLast": True},
    {"issues": "none", "isLast": True},
    ["not", "an", "object"],
])
def test_a_cloud_page_that_cannot_be_followed_is_refused(body: Any) -> None:
    with pytest.raises(JiraShapeError):
        mapping.cloud_page(body)


def test_an_offset_page_without_a_total_is_refused() -> None:
    with pytest.raises(JiraShapeError, match="startAt/total"):
        mapping.offset_page({"startAt": 0, "issues": []})


def test_a_400_names_the_values_that_do_not_exist() -> None:
    body = {"errorMessages": ["The value '99999' does not exist for the field 'fixVersion'.",
                              "The value 'NOPE' does not exist for the field 'project'.",
                              "Something else went wrong."], "errors": {}}
    assert mapping.missing_values(body) == [("fixversion", "99999"), ("project", "NOPE")]
    assert mapping.missing_values("<html>Bad Request</html>") == []


# --- versions ----------------------------------------------------------------------------

@pytest.mark.reference
def test_the_recorded_version_becomes_a_version_ref() -> None:
    ref = mapping.version_ref(fixture("jira-ruby/version/10000.json"), source="dc",
                              site_url=RUBY_SITE, project="SAMPLEPROJECT")
    assert (ref.id, ref.name, ref.container) == ("10000", "1.0", "SAMPLEPROJECT")
    assert ref.kind is LinkKind.PLANNED_VERSION and ref.released is False
    assert ref.release_date == datetime(2012, 1, 12, tzinfo=UTC)
    assert ref.description == "Initial version"
    assert ref.url == "http://localhost:2990/jira/projects/SAMPLEPROJECT/versions/10000"


@pytest.mark.reference
def test_a_recorded_version_without_dates_or_description_leaves_them_unset() -> None:
    ref = mapping.version_ref(fixture("jira-ruby/version.post.json"), source="dc",
                              site_url=RUBY_SITE, project="SAMPLEPROJECT")
    assert (ref.id, ref.name) == ("10001", "2.0")
    assert ref.release_date is None and ref.description is None


@pytest.mark.reference
def test_the_recorded_project_lists_no_versions() -> None:
    project = fixture("jira-ruby/project/SAMPLEPROJECT.json")
    assert mapping.version_refs(project["versions"], source="dc", site_url=RUBY_SITE,
                                project=project["key"]) == []


def test_a_version_with_a_malformed_release_date_is_refused() -> None:
    with pytest.raises(JiraShapeError, match="releaseDate"):
        mapping.version_ref({"id": "1", "name": "x", "releaseDate": "30/Jun/25"},
                            source="j", site_url="x", project="P")
