"""GitHub payloads become canonical records: every state, overrides, sample answers.

The sample answers are the project's own (tests/contracts/samples/github.json);
the tests marked `reference` read PyGithub's real recordings from `../shared`
and skip without it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import graphql
import pytest

from connectors.base import DeploymentState, LinkKind, PullRequest, RepositoryIssue, WorkStatus
from connectors.github import mapping
from connectors.github.sandbox.app import DEPLOYMENT_STATES
from connectors.sandbox.world import build_world
from tests.support.contracts import sample, values
from tests.support.paths import SPECS
from tests.support.replay import exchanges, response

GRAPHQL_SCHEMA = SPECS / "github-graphql.schema.octokit-graphql-schema-15.26.1.graphql"

SOURCE = "github"
REPO = "acme/shop"


def issue_node(state: str, *, assignee: str | None = None, reason: str | None = None
               ) -> dict[str, Any]:
    node: dict[str, Any] = {"number": 7, "title": "Checkout times out", "state": state,
                            "stateReason": reason, "url": "https://github.com/acme/shop/issues/7",
                            "updatedAt": "2025-06-20T09:00:00Z"}
    if assignee is not None:
        node["assignees"] = {"nodes": [{"login": assignee}]}
    return node


def pull_node(state: str, *, draft: bool = False) -> dict[str, Any]:
    merged = state == "MERGED"
    return {"number": 8, "title": "REL-1: fix timeout", "state": state, "isDraft": draft,
            "merged": merged, "mergedAt": "2025-06-21T10:00:00Z" if merged else None,
            "baseRefName": "main", "url": "https://github.com/acme/shop/pull/8",
            "updatedAt": "2025-06-21T10:00:00Z", "author": {"login": "mona"},
            "milestone": {"title": "2.4.0"}}


# -- keys ----------------------------------------------------------------------------


def test_milestone_and_compare_keys_parse_into_their_parts() -> None:
    assert mapping.parse_milestone_key("acme-retail/payments-service#12") == \
        mapping.MilestoneKey("acme-retail", "payments-service", 12)
    compare = mapping.parse_compare_key("acme/shop@v2.3.0...release/2.4")
    assert (compare.repository, compare.base, compare.head) == ("acme/shop", "v2.3.0",
                                                                "release/2.4")
    assert compare.basehead == "v2.3.0...release/2.4"


@pytest.mark.parametrize("key", ["acme/shop", "acme/shop#", "acme/shop#0", "acme#3",
                                 "acme/shop#x", "a b/shop#3"])
def test_a_malformed_milestone_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="owner/repo#number"):
        mapping.parse_milestone_key(key)


@pytest.mark.parametrize("key", ["acme/shop@v1..v2", "acme/shop@...v2", "acme/shop v1...v2"])
def test_a_malformed_compare_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match=r"owner/repo@base\.\.\.head"):
        mapping.parse_compare_key(key)


def test_pull_numbers_come_from_squash_titles_and_merge_commits_only() -> None:
    messages = ["PAY-3 Fix refund flow (#12)\n\nCo-authored-by: someone",
                "Merge pull request #15 from acme/feature/x\n\nFeature x",
                "Bump version, see (#3) in the notes",
                "Release v1.2.0",
                "Follow-up (#12)"]
    assert mapping.pull_numbers(messages) == [12, 15]


# -- every state GitHub reports ---------------------------------------------------------

ISSUE_CASES = [
    ("OPEN", None, None, "open", WorkStatus.TODO),
    ("OPEN", "mona", None, "open", WorkStatus.IN_PROGRESS),
    ("OPEN", None, "REOPENED", "open", WorkStatus.TODO),
    ("CLOSED", "mona", "COMPLETED", "closed", WorkStatus.DONE),
    ("CLOSED", None, "NOT_PLANNED", "closed", WorkStatus.DONE),
    ("CLOSED", None, "DUPLICATE", "closed", WorkStatus.DONE),
]


@pytest.mark.parametrize(("state", "assignee", "reason", "label", "status"), ISSUE_CASES)
def test_each_issue_state_maps_to_a_canonical_status(
        state: str, assignee: str | None, reason: str | None, label: str,
        status: WorkStatus) -> None:
    item = mapping.issue_from_graphql(issue_node(state, assignee=assignee, reason=reason),
                                      source=SOURCE, repository=REPO, milestone="2.4.0")
    assert (item.status, item.status_label, item.assignee) == (status, label, assignee)
    assert (item.key, item.kind, item.milestone) == ("acme/shop#7", "issue", "2.4.0")


PULL_CASES = [
    ("OPEN", False, "open", WorkStatus.IN_PROGRESS),
    ("OPEN", True, "draft", WorkStatus.IN_PROGRESS),
    ("MERGED", False, "merged", WorkStatus.DONE),
    ("CLOSED", False, "closed", WorkStatus.DONE),
]


@pytest.mark.parametrize(("state", "draft", "label", "status"), PULL_CASES)
def test_each_pull_request_state_maps_to_a_canonical_status(
        state: str, draft: bool, label: str, status: WorkStatus) -> None:
    item = mapping.pull_from_graphql(pull_node(state, draft=draft), source=SOURCE,
                                     repository=REPO)
    assert (item.status, item.status_label) == (status, label)
    assert item.merged is (state == "MERGED")
    assert (item.key, item.assignee, item.base_ref, item.milestone) == (
        "acme/shop#8", "mona", "main", "2.4.0")


EXPECTED_DEPLOYMENT = {
    "pending": DeploymentState.PENDING, "queued": DeploymentState.PENDING,
    "in_progress": DeploymentState.IN_PROGRESS, "success": DeploymentState.SUCCESS,
    "failure": DeploymentState.FAILURE, "error": DeploymentState.FAILURE,
    "inactive": DeploymentState.INACTIVE, "waiting": DeploymentState.PENDING,
}


def test_the_deployment_table_covers_every_state_the_contract_lists() -> None:
    # REST writes take the sandbox's list; GraphQL reads may also say WAITING.
    assert set(mapping.DEPLOYMENT_STATE) == set(EXPECTED_DEPLOYMENT)
    assert set(mapping.DEPLOYMENT_STATE) == set(values("github", "deployment states read"))
    assert set(DEPLOYMENT_STATES) == set(values("github", "deployment states written"))


@pytest.mark.reference
def test_the_deployment_table_covers_every_state_githubs_schema_lists() -> None:
    real = graphql.build_schema(GRAPHQL_SCHEMA.read_text(), assume_valid_sdl=True,
                                assume_valid=True).get_type("DeploymentStatusState")
    assert isinstance(real, graphql.GraphQLEnumType)
    assert set(mapping.DEPLOYMENT_STATE) == set(EXPECTED_DEPLOYMENT)
    assert set(mapping.DEPLOYMENT_STATE) == {v.lower() for v in real.values}
    assert set(DEPLOYMENT_STATES) == set(mapping.DEPLOYMENT_STATE) - {"waiting"}


def deployment_node(latest: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    return {"id": "DE_kwDOAbc", "databaseId": 42, "environment": "production",
            "ref": {"name": "v2.4.0"}, "commitOid": "a84d88e", "createdAt": "2025-06-30T20:00:00Z",
            "updatedAt": "2025-06-30T20:01:00Z", "creator": {"login": "release-bot"},
            "latestStatus": latest, **fields}


@pytest.mark.parametrize(("label", "state"), sorted(EXPECTED_DEPLOYMENT.items()))
def test_a_graphql_deployment_takes_the_state_of_its_latest_status(
        label: str, state: DeploymentState) -> None:
    latest = {"state": label.upper(), "logUrl": "https://ci.example.com/run/77",
              "createdAt": "2025-06-30T20:05:00Z", "updatedAt": "2025-06-30T20:06:00Z"}
    deployment = mapping.deployment_from_graphql(
        deployment_node(latest), source=SOURCE, repository=REPO,
        repository_url="https://github.com/acme/shop")
    assert (deployment.state, deployment.state_label) == (state, label)
    assert (deployment.id, deployment.ref, deployment.sha, deployment.creator) == (
        "42", "v2.4.0", "a84d88e", "release-bot")
    assert deployment.url == "https://ci.example.com/run/77"
    assert deployment.created_at == datetime(2025, 6, 30, 20, 0, tzinfo=UTC)
    assert deployment.updated_at == datetime(2025, 6, 30, 20, 6, tzinfo=UTC)


def test_a_graphql_deployment_without_status_ref_or_database_id_still_reads() -> None:
    deployment = mapping.deployment_from_graphql(
        deployment_node(None, ref=None, databaseId=None), source=SOURCE, repository=REPO,
        repository_url="https://github.com/acme/shop/")
    assert (deployment.state, deployment.state_label) == (DeploymentState.PENDING, "pending")
    assert deployment.id == "DE_kwDOAbc"
    assert deployment.ref == deployment.sha == "a84d88e"  # deployed from a bare commit
    assert deployment.url == "https://github.com/acme/shop/deployments"
    assert deployment.updated_at == datetime(2025, 6, 30, 20, 1, tzinfo=UTC)


@pytest.mark.parametrize(("label", "state"), sorted(EXPECTED_DEPLOYMENT.items()))
def test_each_deployment_state_maps_to_a_canonical_state(label: str,
                                                         state: DeploymentState) -> None:
    raw = {"id": 42, "url": "https://api.github.com/repos/acme/shop/deployments/42",
           "sha": "a84d88e", "ref": "v2.4.0", "environment": "production",
           "creator": {"login": "release-bot"}, "created_at": "2025-06-30T20:00:00Z",
           "updated_at": "2025-06-30T20:00:00Z",
           "repository_url": "https://api.github.com/repos/acme/shop"}
    status = {"state": label, "created_at": "2025-06-30T20:05:00Z",
              "updated_at": "2025-06-30T20:05:00Z", "log_url": "https://ci.example.com/run/77"}
    deployment = mapping.deployment_from_rest(raw, status, source=SOURCE)
    assert (deployment.state, deployment.state_label) == (state, label)
    assert deployment.repository == "acme/shop"
    assert deployment.url == "https://ci.example.com/run/77"
    assert deployment.updated_at == datetime(2025, 6, 30, 20, 5, tzinfo=UTC)


def test_every_state_in_the_demo_world_has_a_default() -> None:
    world = build_world(7)
    assert {i.state for i in world.github_issues} <= set(mapping.ISSUE_STATUS)
    assert {s.state for d in world.deployments for s in d.statuses} <= set(
        mapping.DEPLOYMENT_STATE)
    labels = {mapping.pull_label(p.state, merged=p.merged_at is not None, draft=p.draft)
              for p in world.pull_requests}
    assert labels == {"open", "draft", "merged"} and labels <= set(mapping.PULL_STATUS)


def test_status_map_overrides_the_default_for_that_word_only() -> None:
    overrides = {"draft": "TODO", "Closed": "IN_PROGRESS", "queued": "IN_PROGRESS",
                 "merged": "NOT_A_STATUS"}
    draft = mapping.pull_from_graphql(pull_node("OPEN", draft=True), source=SOURCE,
                                      repository=REPO, status_map=overrides)
    opened = mapping.pull_from_graphql(pull_node("OPEN"), source=SOURCE, repository=REPO,
                                       status_map=overrides)
    merged = mapping.pull_from_graphql(pull_node("MERGED"), source=SOURCE, repository=REPO,
                                       status_map=overrides)
    closed = mapping.issue_from_graphql(issue_node("CLOSED"), source=SOURCE, repository=REPO,
                                        milestone=None, status_map=overrides)
    assert (draft.status, draft.status_label) == (WorkStatus.TODO, "draft")
    assert opened.status is WorkStatus.IN_PROGRESS
    assert merged.status is WorkStatus.DONE  # an override naming no member is ignored
    assert closed.status is WorkStatus.IN_PROGRESS
    assert mapping.deployment_state("queued", overrides) is DeploymentState.IN_PROGRESS


# -- the project's sample answers (tests/contracts/samples/github.json) -------------------


def test_a_closed_milestone_is_a_released_version() -> None:
    raw = sample("github", "closed milestone")
    version = mapping.version_from_milestone(raw, source=SOURCE, repository="northwind/ledger")
    assert (version.id, version.name, version.kind) == ("northwind/ledger#3", "Ledger 3.0",
                                                        LinkKind.MILESTONE)
    assert version.released is True
    assert version.url == "https://github.com/northwind/ledger/milestone/3"
    assert version.release_date == datetime(2026, 10, 1, 7, 0, tzinfo=UTC)
    assert version.description == "Autumn train"
    assert version.link().key == "northwind/ledger#3"


def test_an_open_milestone_without_a_page_link_is_unreleased_and_links_to_the_api() -> None:
    version = mapping.version_from_milestone(sample("github", "open milestone"), source=SOURCE,
                                             repository="northwind/ledger")
    assert (version.id, version.name, version.released) == ("northwind/ledger#5", "Ledger 3.1",
                                                            False)
    assert version.url == "https://api.github.com/repos/northwind/ledger/milestones/5"
    assert version.release_date is None


def test_a_closed_issue_is_done_and_keeps_its_assignee_and_milestone() -> None:
    item = mapping.issue_from_rest(sample("github", "closed issue"), source=SOURCE)
    assert type(item) is RepositoryIssue
    assert (item.key, item.title, item.status, item.status_label) == (
        "northwind/ledger#41", "Totals drift after currency switch", WorkStatus.DONE, "closed")
    assert (item.assignee, item.milestone, item.repository) == ("tomas-lind", "Ledger 3.0",
                                                                "northwind/ledger")
    assert item.url == "https://github.com/northwind/ledger/issues/41"
    assert item.updated_at == datetime(2026, 9, 18, 14, 5, 9, tzinfo=UTC)


def test_listed_issues_with_an_empty_pull_request_marker_stay_issues() -> None:
    items = [mapping.issue_from_rest(raw, source=SOURCE) for raw in sample("github", "issues")]
    assert [type(i) for i in items] == [RepositoryIssue, RepositoryIssue]
    assigned, unassigned = items
    assert (assigned.key, assigned.status, assigned.assignee, assigned.milestone) == (
        "northwind/ledger#44", WorkStatus.IN_PROGRESS, "tomas-lind", "Ledger 3.1")
    assert (unassigned.status, unassigned.assignee, unassigned.milestone) == (
        WorkStatus.TODO, None, None)


def test_search_results_mix_pull_requests_and_issues_across_repositories() -> None:
    body = sample("github", "search results")
    items = {i.key: i for i in (mapping.issue_from_rest(raw, source=SOURCE)
                                for raw in body["items"])}
    pull = items["northwind/ledger#12"]
    assert isinstance(pull, PullRequest) and pull.kind == "pull_request"
    assert pull.url == "https://github.com/northwind/ledger/pull/12"
    assert (pull.status, pull.status_label) == (WorkStatus.DONE, "closed")
    assert items["northwind/audit#7"].status is WorkStatus.IN_PROGRESS
    retired = items["northwind/importer#128"]
    assert type(retired) is RepositoryIssue and retired.status is WorkStatus.DONE


def test_pull_requests_map_merged_closed_and_open() -> None:
    merged = mapping.pull_from_rest(sample("github", "merged pull request"), source=SOURCE)
    assert (merged.key, merged.title, merged.status_label, merged.status) == (
        "northwind/ledger#52", "LED-88: round half to even", "merged", WorkStatus.DONE)
    assert merged.merged and merged.merged_at == datetime(2026, 11, 5, 11, 58, 30, tzinfo=UTC)
    assert merged.base_ref == "release/3.1"
    abandoned = mapping.pull_from_rest(sample("github", "abandoned pull request"),
                                       source=SOURCE)
    assert (abandoned.key, abandoned.status_label, abandoned.merged) == (
        "ines-okafor/ledger#49", "closed", False)
    assert abandoned.assignee == "ines-okafor"  # no assignee: the author is doing the work
    [listed] = sample("github", "pull requests")
    opened = mapping.pull_from_rest(listed, source=SOURCE)
    assert (opened.number, opened.status_label, opened.status) == (55, "open",
                                                                   WorkStatus.IN_PROGRESS)
    assert (opened.assignee, opened.milestone) == ("tomas-lind", "Ledger 3.1")


def test_deployments_take_the_state_of_their_newest_status() -> None:
    staged, bare = sample("github", "deployments")
    [status] = sample("github", "deployment statuses")
    tested = mapping.deployment_from_rest(staged, status, source=SOURCE)
    assert (tested.id, tested.repository, tested.environment, tested.ref) == (
        "3301", "northwind/ledger", "staging", "v3.1.0")
    assert (tested.state, tested.state_label) == (DeploymentState.PENDING, "queued")
    assert tested.url == "https://ci.northwind.example/runs/12/log"
    assert tested.updated_at == datetime(2026, 11, 12, 8, 2, 30, tzinfo=UTC)
    assert tested.created_at == datetime(2026, 11, 12, 8, 0, tzinfo=UTC)
    assert tested.creator == "deploy-bot"
    untouched = mapping.deployment_from_rest(bare, None, source=SOURCE)
    assert (untouched.id, untouched.environment, untouched.creator) == ("3300", "production",
                                                                        None)
    assert (untouched.state, untouched.state_label) == (DeploymentState.PENDING, "pending")
    assert untouched.url == "https://api.github.com/repos/northwind/ledger/deployments/3300"


def test_a_compare_of_plain_merge_commits_names_no_pull_request() -> None:
    body = sample("github", "comparison")
    messages = [c["commit"]["message"] for c in body["commits"]]
    assert "Merge branch 'develop'" in messages
    assert mapping.pull_numbers(messages) == []


# -- real recordings (PyGithub against api.github.com) ------------------------------------


@pytest.mark.reference
def test_a_recorded_closed_milestone_is_a_released_version() -> None:
    raw = response("Milestone.setUp.txt", "GET", "/repos/PyGithub/PyGithub/milestones/1")
    version = mapping.version_from_milestone(raw, source=SOURCE, repository="PyGithub/PyGithub")
    assert (version.id, version.name, version.kind) == ("PyGithub/PyGithub#1", "Version 0.4",
                                                        LinkKind.MILESTONE)
    assert version.released is True
    assert version.url == "https://github.com/PyGithub/PyGithub/milestone/1"
    assert version.release_date == datetime(2012, 3, 13, 7, 0, tzinfo=UTC)
    assert version.link().key == "PyGithub/PyGithub#1"


@pytest.mark.reference
def test_a_recorded_open_milestone_is_not_released() -> None:
    [raw] = response("Repository.testGetMilestones.txt", "GET",
                     "/repos/PyGithub/PyGithub/milestones")
    version = mapping.version_from_milestone(raw, source=SOURCE, repository="PyGithub/PyGithub")
    assert (version.id, version.name, version.released) == (
        "PyGithub/PyGithub#2", "Version 1.0: coherent public interface", False)
    # recorded before milestones had an `html_url`: the API URL stands in
    assert version.url == "https://api.github.com/repos/PyGithub/PyGithub/milestones/2"


@pytest.mark.reference
def test_a_recorded_closed_issue_is_done_and_keeps_its_assignee_and_milestone() -> None:
    raw = response("Issue.setUp.txt", "GET", "/repos/PyGithub/PyGithub/issues/28")
    item = mapping.issue_from_rest(raw, source=SOURCE)
    assert type(item) is RepositoryIssue
    assert (item.key, item.title, item.status, item.status_label) == (
        "PyGithub/PyGithub#28", "Issue created by PyGithub", WorkStatus.DONE, "closed")
    assert (item.assignee, item.milestone, item.repository) == ("jacquev6", "Version 1.4",
                                                                "PyGithub/PyGithub")
    assert item.url == "https://github.com/PyGithub/PyGithub/issues/28"
    assert item.updated_at == datetime(2025, 8, 15, 19, 35, 40, tzinfo=UTC)


@pytest.mark.reference
def test_old_recorded_issues_with_a_null_pull_request_marker_stay_issues() -> None:
    raws = response("Repository.testGetIssues.txt", "GET", "/repos/PyGithub/PyGithub/issues")
    items = [mapping.issue_from_rest(raw, source=SOURCE) for raw in raws]
    assert len(items) == 16
    assert all(type(i) is RepositoryIssue for i in items)
    first = items[0]
    assert (first.key, first.title, first.status, first.assignee, first.milestone) == (
        "PyGithub/PyGithub#30", "Issue also created by PyGithub", WorkStatus.IN_PROGRESS,
        "jacquev6", "Version 1.0: coherent public interface")
    assert next(i for i in items if i.number == 20).milestone is None


@pytest.mark.reference
def test_recorded_search_results_mix_pull_requests_and_issues_across_repositories() -> None:
    [exchange] = exchanges("Search.testSearchIssues.txt")
    items = {i.key: i for i in (mapping.issue_from_rest(raw, source=SOURCE)
                                for raw in exchange.body["items"])}
    pull = items["hrydgard/ppsspp#997"]
    assert isinstance(pull, PullRequest) and pull.kind == "pull_request"
    assert pull.url == "https://github.com/hrydgard/ppsspp/pull/997"
    assert (pull.status, pull.status_label) == (WorkStatus.DONE, "closed")
    assert items["ufz/ogs#275"].status is WorkStatus.IN_PROGRESS
    issue = next(i for i in items.values() if i.number == 128)
    assert type(issue) is RepositoryIssue and issue.status_label == "closed"


@pytest.mark.reference
def test_recorded_pull_requests_map_merged_closed_and_open() -> None:
    merged = mapping.pull_from_rest(
        response("PullRequest.setUp.txt", "GET", "/repos/PyGithub/PyGithub/pulls/31"),
        source=SOURCE)
    assert (merged.key, merged.title, merged.status_label, merged.status) == (
        "PyGithub/PyGithub#31", "Title edited by PyGithub", "merged", WorkStatus.DONE)
    assert merged.merged and merged.merged_at == datetime(2012, 5, 27, 10, 29, 7, tzinfo=UTC)
    assert merged.base_ref == "topic/RewriteWithGeneratedCode"
    abandoned = mapping.pull_from_rest(
        response("PullRequest.setUp.txt", "GET", "/repos/MarcoFalke/PyGithub/pulls/1"),
        source=SOURCE)
    assert (abandoned.key, abandoned.status_label, abandoned.merged) == (
        "MarcoFalke/PyGithub#1", "closed", False)
    assert abandoned.assignee == "MarcoFalke"  # no assignee: the author is doing the work
    [listed] = response("Repository.testGetPulls.txt", "GET", "/repos/PyGithub/PyGithub/pulls")
    opened = mapping.pull_from_rest(listed, source=SOURCE)
    assert (opened.number, opened.status_label, opened.status) == (32, "open",
                                                                   WorkStatus.IN_PROGRESS)


@pytest.mark.reference
def test_recorded_deployments_take_the_state_of_their_newest_status() -> None:
    deployments = response("Repository.testGetDeployments.txt", "GET",
                           "/repos/PyGithub/PyGithub/deployments")
    statuses = response("DeploymentStatus.testGetStatuses.txt", "GET",
                        "/repos/jacquev6/PyGithub/deployments/263877258/statuses")
    tested = mapping.deployment_from_rest(deployments[0], statuses[0], source=SOURCE)
    assert (tested.id, tested.repository, tested.environment) == (
        "263877258", "PyGithub/PyGithub", "test")
    assert tested.sha == tested.ref == "743f5a58b0bce91c4eab744ff7e39dfca9e6e8a5"
    assert (tested.state, tested.state_label) == (DeploymentState.PENDING, "queued")
    assert tested.url == "https://example.com/deployment.log"
    assert tested.updated_at == datetime(2020, 8, 26, 14, 32, 51, tzinfo=UTC)
    assert tested.created_at == datetime(2020, 8, 26, 11, 44, 53, tzinfo=UTC)
    untouched = mapping.deployment_from_rest(deployments[1], None, source=SOURCE)
    assert (untouched.id, untouched.environment) == ("262350588", "production")
    assert (untouched.state, untouched.state_label) == (DeploymentState.PENDING, "pending")
    assert untouched.url == "https://api.github.com/repos/PyGithub/PyGithub/deployments/262350588"


@pytest.mark.reference
def test_a_recorded_single_deployment_reads_the_same_as_a_listed_one() -> None:
    raw = response("Deployment.setUp.txt", "GET",
                   "/repos/jacquev6/PyGithub/deployments/263877258")
    deployment = mapping.deployment_from_rest(raw, None, source=SOURCE)
    assert (deployment.repository, deployment.environment, deployment.creator) == (
        "jacquev6/PyGithub", "test", raw["creator"]["login"])


@pytest.mark.reference
def test_a_recorded_compare_with_plain_merge_commits_names_no_pull_request() -> None:
    body = response("Repository.testCompare.txt", "GET",
                    "/repos/PyGithub/PyGithub/compare/v0.6...v0.7")
    messages = [c["commit"]["message"] for c in body["commits"]]
    assert "Merge branch 'develop'" in messages
    assert mapping.pull_numbers(messages) == []
