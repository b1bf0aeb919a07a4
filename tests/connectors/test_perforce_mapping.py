"""Perforce through Swarm: link keys, changelists and jobs in the hub's words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import PullRequest, TrackerIssue, WorkItem, WorkStatus
from connectors.perforce import mapping
from tests.support import contracts

WEB = "https://swarm.example"


def items(*, mirrored: bool = False, status_map: dict[str, str] | None = None
          ) -> list[WorkItem]:
    changes = contracts.sample("perforce", "changes")["data"]["changes"]
    return mapping.items_of(changes, source="p4", path="//ledger/main", web_url=WEB,
                            status_map=status_map or {}, mirrored_jobs=mirrored)


@pytest.mark.parametrize(("key", "canonical"), [
    ("//depot/payments/main@41002,@41013", "//depot/payments/main@41002,@41013"),
    ("//depot/payments/main/...@41002,41013", "//depot/payments/main@41002,@41013"),
    (" //depot/payments/main@release-2026.10,@release-2026.11 ",
     "//depot/payments/main@release-2026.10,@release-2026.11"),
    ("//payments/main@41002,#HEAD", "//payments/main@41002,#head"),
    ("//depot/payments/main@007,@9", "//depot/payments/main@7,@9"),
    ("swarm:payments/main@41002,@41013", "swarm:payments/main@41002,@41013"),
])
def test_a_range_key_takes_numbers_labels_and_head_and_reads_canonically(key: str,
                                                                         canonical: str) -> None:
    assert str(mapping.parse_range_key(key)) == canonical


@pytest.mark.parametrize(("key", "says"), [
    ("depot/payments/main@1,@2", "is not a depot path"),
    ("//depot/payments/main", "two bounds after '@'"),
    ("//depot/payments/main@41002", "two bounds separated by a comma"),
    ("//depot/pay ments/main@1,@2", "is not a depot path"),
    ("//depot/payments/main@9,@3", "backwards"),
    ("//depot/payments/main@0,@3", "must be 1 or more"),
    ("//depot/payments/main@1,@$bad", "neither a changelist number nor a label"),
    ("swarm:Payments/main@1,@2", "is not a Swarm branch"),
    ("swarm:payments@1,@2", "is not a Swarm branch"),
])
def test_a_bad_range_key_is_refused_naming_what_is_wrong(key: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        mapping.parse_range_key(key)


def test_a_submitted_changelist_is_a_merged_code_change_titled_by_its_first_line() -> None:
    change = next(i for i in items() if i.key == "change 7012")
    assert isinstance(change, PullRequest)
    assert (change.title, change.merged, change.status, change.status_label) == (
        "LDG-88 Round ledger totals half-even", True, WorkStatus.DONE, "submitted")
    assert change.merged_at == datetime(2026, 10, 30, 17, 5, 41, tzinfo=UTC)
    assert (change.assignee, change.repository, change.number) == ("kofi", "//ledger/main", 7012)
    assert change.url == f"{WEB}/changes/7012"


def test_a_pending_changelist_is_an_unmerged_change_in_progress() -> None:
    raw = contracts.sample("perforce", "changes")["data"]["changes"][1] | {"status": "pending"}
    change = mapping.change_from_swarm(raw, source="p4", path="//ledger/main", web_url=WEB)
    assert (change.merged, change.status, change.status_label) == (
        False, WorkStatus.IN_PROGRESS, "pending")


def test_a_job_mirroring_the_jira_issue_its_changelist_names_is_left_to_jira() -> None:
    keys = [i.key for i in items()]
    assert "LDG-88" not in keys
    assert keys == ["change 7009", "change 7012", "job004402", "job004410"]
    assert "LDG-88" in [i.key for i in items(mirrored=True)]


def test_a_fixed_job_takes_the_status_its_fix_gives_it_and_keeps_the_word() -> None:
    jobs = {i.key: i for i in items() if isinstance(i, TrackerIssue)}
    assert (jobs["job004410"].status, jobs["job004410"].status_label) == (WorkStatus.DONE,
                                                                          "closed")
    assert (jobs["job004402"].status, jobs["job004402"].status_label) == (
        WorkStatus.IN_PROGRESS, "inprogress")
    assert jobs["job004402"].title.startswith("job004402, fixed in change 7009: Nightly export")


@pytest.mark.parametrize(("word", "expected"), [
    ("open", WorkStatus.TODO), ("suspended", WorkStatus.TODO), ("new", WorkStatus.TODO),
    ("inprogress", WorkStatus.IN_PROGRESS), ("in_progress", WorkStatus.IN_PROGRESS),
    ("review", WorkStatus.IN_PROGRESS), ("closed", WorkStatus.DONE),
    ("fixed", WorkStatus.DONE), ("verified", WorkStatus.DONE), ("Closed", WorkStatus.DONE),
    ("triaged", WorkStatus.TODO),
])
def test_every_job_status_maps_to_a_canonical_state(word: str, expected: WorkStatus) -> None:
    raw = {"id": 5, "date": "2026/01/02 03:04:05", "description": "x", "jobs": ["job000001"],
           "jobStatus": word, "status": "submitted", "user": "u"}
    [job] = mapping.jobs_from_swarm(raw, source="p4", web_url=WEB, status_map={},
                                    mirrored_jobs=False)
    assert (job.status, job.status_label) == (expected, word)


def test_every_job_status_of_the_contract_is_mapped_explicitly() -> None:
    assert set(contracts.values("perforce", "job statuses")) <= set(mapping.JOB_STATUS)


def test_an_instance_status_map_renames_a_site_word() -> None:
    [job] = [i for i in items(status_map={"inprogress": "DONE"}) if i.key == "job004402"]
    assert job.status is WorkStatus.DONE


@pytest.mark.parametrize("broken", [{"id": "7012"}, {"date": "30 Oct 2026"}, {"jobs": "job1"},
                                    {"jobs": [None]}])
def test_a_malformed_change_is_refused_not_guessed(broken: dict[str, object]) -> None:
    raw = contracts.sample("perforce", "changes")["data"]["changes"][0] | broken
    with pytest.raises((TypeError, ValueError)):
        mapping.items_of([raw], source="p4", path="//ledger/main", web_url=WEB, status_map={},
                         mirrored_jobs=False)


def test_numeric_ranges_hold_their_ends() -> None:
    key = mapping.parse_range_key("//d/x@10,@12")
    assert [n for n in range(8, 15) if key.holds(n)] == [10, 11, 12]
    assert mapping.parse_range_key("//d/x@10,#head").holds(10**6)


def test_a_reviewed_changelist_links_its_review_and_says_its_state() -> None:
    reviews = mapping.reviews_by_change(contracts.sample("perforce", "reviews")["reviews"])
    found = {i.key: i for i in mapping.items_of(
        contracts.sample("perforce", "changes")["data"]["changes"], source="p4",
        path="//ledger/main", web_url=WEB, status_map={}, mirrored_jobs=False, reviews=reviews)}
    assert (found["change 7012"].status_label, found["change 7012"].url) == (
        "submitted, review approved", f"{WEB}/reviews/7013")
    assert (found["change 7009"].status_label, found["change 7009"].url) == (
        "submitted", f"{WEB}/changes/7009")


def test_the_review_that_committed_a_change_wins_over_a_later_one_naming_it() -> None:
    older = {"id": 10, "state": "approved", "changes": [5], "commits": [5]}
    newer = {"id": 11, "state": "needsReview", "changes": [5], "commits": []}
    assert mapping.reviews_by_change([newer, older])[5]["id"] == 10
    with pytest.raises(TypeError):
        mapping.reviews_by_change([{"id": 12, "state": None, "changes": [5]}])


def test_a_swarm_branch_names_its_first_depot_path() -> None:
    projects = [{"id": "ledger", "branches": [
        {"id": "main", "paths": ["//ledger/main/..."]},
        {"id": "odd", "paths": []}]}]
    assert mapping.branch_paths(projects) == {("ledger", "main"): "//ledger/main"}
    key = mapping.parse_range_key("swarm:ledger/main@3,@9")
    assert key.swarm_branch == ("ledger", "main")
    assert str(key.on("//ledger/main")) == "//ledger/main@3,@9"
