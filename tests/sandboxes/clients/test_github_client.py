"""Scripts written with PyGithub and gql run unchanged against the GitHub sandbox.

A team points its own scripts at `heatshield sandbox github`; these scenarios
do what such scripts do, every call through the library, against the sandbox
on a real socket, and compare what comes back with the world it serves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.Repository import Repository
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport
from graphql import GraphQLError

from connectors.github.sandbox.app import create_app
from connectors.sandbox.kit import DEMO_TOKEN
from connectors.sandbox.world import Application, World, build_world
from tests.support.server import serve_asgi

FULL_NAME = "acme-retail/payments-service"


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7)


@pytest.fixture(scope="module")
def pay(world: World) -> Application:
    return world.app("PAY")


@pytest.fixture(scope="module")
def url(world: World) -> Iterator[str]:
    with serve_asgi(create_app(world)) as base:
        yield base


def client(url: str, token: str = DEMO_TOKEN, per_page: int = 30) -> Github:
    """PyGithub as a script builds it for GitHub Enterprise: base URL and a token."""
    return Github(base_url=url, auth=Auth.Token(token), per_page=per_page, retry=None)


@pytest.fixture(scope="module")
def github(url: str) -> Iterator[Github]:
    g = client(url)
    yield g
    g.close()


@pytest.fixture(scope="module")
def repo(github: Github) -> Repository:
    return github.get_repo(FULL_NAME)


@pytest.fixture()
def own_repo(world: World) -> Iterator[Repository]:
    """A sandbox of its own for a test that writes, so reads elsewhere see the seeded world."""
    with serve_asgi(create_app(world)) as base, client(base) as g:
        yield g.get_repo(FULL_NAME)


# -- who am I, the organization, its people ------------------------------------------

def test_the_token_owner_a_member_and_the_organization_read_as_on_github(
        github: Github, world: World) -> None:
    assert github.get_user().login == "demo"
    member = world.people[0]
    named = github.get_user(member.github_login)
    assert (named.login, named.name, named.id) == (member.github_login, member.display_name,
                                                   member.github_id)
    org = github.get_organization(world.org)
    assert (org.login, org.name) == (world.org, world.company)
    assert {r.name for r in org.get_repos()} == {a.repo_name for a in world.applications}


def test_a_wrong_token_raises_bad_credentials_and_an_unknown_repository_unknown_object(
        url: str, github: Github) -> None:
    with client(url, token="not-the-token") as stranger, \
            pytest.raises(BadCredentialsException) as denied:
        stranger.get_repo(FULL_NAME)
    assert denied.value.status == 401
    assert denied.value.data["message"] == "Bad credentials"
    with pytest.raises(UnknownObjectException) as missing:
        github.get_repo("acme-retail/no-such-repository")
    assert missing.value.status == 404
    assert missing.value.data["message"] == "Not Found"
    assert "documentation_url" in missing.value.data
    with pytest.raises(UnknownObjectException):
        github.get_user("nobody-at-acme")


# -- commits, branches, tags, compare -----------------------------------------------

def test_commits_list_newest_first_over_several_pages(
        url: str, world: World, pay: Application) -> None:
    expected = [c.sha for c in reversed(world.commits["PAY"])]
    with client(url, per_page=4) as g:
        commits = g.get_repo(FULL_NAME).get_commits()
        assert len(commits.get_page(0)) == 4 < len(expected)
        assert [c.sha for c in commits] == expected
        assert commits.totalCount == len(expected)


def test_commits_filter_by_tag_date_range_path_and_author(
        repo: Repository, world: World) -> None:
    history = world.commits["PAY"]
    tag = next(t for t in world.tags if t.app_key == "PAY" and t.name == "v1.2.0")
    upto = history[:[c.sha for c in history].index(tag.sha) + 1]
    assert [c.sha for c in repo.get_commits(sha="v1.2.0")] == [c.sha for c in reversed(upto)]

    since, until = history[2].date, history[5].date
    window = [c.sha for c in repo.get_commits(since=since, until=until)]
    assert window == [c.sha for c in reversed(history) if since <= c.date <= until]

    one = history[3]
    path = repo.get_commit(one.sha).files[0].filename
    assert [c.sha for c in repo.get_commits(path=path)] == [one.sha]
    assert repo.get_commits(path="docs/nothing-here.md").totalCount == 0

    author = history[0].author
    by_author = {c.sha for c in repo.get_commits(author=author.github_login)}
    assert by_author == {c.sha for c in history if c.author.github_login == author.github_login}


def test_one_commit_by_sha_by_short_sha_and_by_tag_with_its_files(
        repo: Repository, world: World) -> None:
    history = world.commits["PAY"]
    item = history[4]
    commit = repo.get_commit(item.sha)
    assert commit.sha == item.sha
    assert commit.commit.message == item.message
    assert commit.commit.author.email == item.author.email
    assert commit.parents[0].sha == history[3].sha
    assert commit.stats.total == sum(f.changes for f in commit.files) > 0
    assert repo.get_commit(item.sha[:10]).sha == item.sha
    tag = next(t for t in world.tags if t.app_key == "PAY" and t.name == "v1.3.0")
    assert repo.get_commit("v1.3.0").sha == tag.sha
    with pytest.raises(GithubException) as unknown:
        repo.get_commit("0" * 40)
    assert unknown.value.status == 422
    assert unknown.value.data["message"] == f"No commit found for SHA: {'0' * 40}"


def test_branches_are_main_and_the_open_pull_requests_heads(
        repo: Repository, world: World) -> None:
    heads = {p.head_ref: p.head_sha for p in world.pull_requests
             if p.app_key == "PAY" and p.state == "open"}
    branches = {b.name: b for b in repo.get_branches()}
    assert set(branches) == {"main", *heads}
    assert branches["main"].protected and not any(branches[h].protected for h in heads)
    main = repo.get_branch("main")
    assert main.commit.sha == world.commits["PAY"][-1].sha == repo.get_commits()[0].sha
    name, sha = next(iter(heads.items()))
    assert repo.get_branch(name).commit.sha == sha
    assert repo.get_commits(sha=name)[0].sha == sha
    with pytest.raises(UnknownObjectException) as missing:
        repo.get_branch("no-such-branch")
    assert missing.value.data["message"] == "Branch not found"


def test_a_commit_reports_its_ci_through_checks_and_no_statuses(
        repo: Repository, url: str, world: World) -> None:
    # A release script asking "is main green?" reads GitHub Actions' check runs; the
    # older statuses API has nothing, so the combined status is GitHub's pending of none.
    head = world.commits["PAY"][-1].sha
    commit = repo.get_commit("main")
    combined = commit.get_combined_status()
    assert (combined.state, combined.total_count, combined.statuses) == ("pending", 0, [])
    assert combined.sha == head and combined.repository.full_name == FULL_NAME
    assert list(commit.get_statuses()) == []
    runs = list(commit.get_check_runs())
    assert [(r.name, r.status, r.app.slug) for r in runs] == [
        ("build", "completed", "github-actions"), ("test", "completed", "github-actions"),
        ("lint", "completed", "github-actions")]
    assert all(r.head_sha == head and r.started_at <= r.completed_at for r in runs)
    assert [r.name for r in commit.get_check_runs(check_name="test")] == ["test"]
    (suite,) = commit.get_check_suites()
    assert suite.conclusion == ("success" if all(r.conclusion == "success" for r in runs)
                                else "failure")
    assert [r.id for r in suite.get_check_runs()] == [r.id for r in runs]
    assert repo.get_check_suite(suite.id).head_sha == head
    assert repo.get_check_run(runs[1].id).name == "test"
    # A branch whose name holds a slash is still one ref, and an unknown ref is refused.
    branch = next(p.head_ref for p in world.pull_requests
                  if p.app_key == "PAY" and p.state == "open" and "/" in p.head_ref)
    status = repo._requester.requestJsonAndCheck(
        "GET", f"{repo.url}/commits/{branch}/status")[1]
    assert status["sha"] == repo.get_branch(branch).commit.sha
    with pytest.raises(GithubException) as unknown:
        repo._requester.requestJsonAndCheck("GET", f"{repo.url}/commits/no-such-ref/check-runs")
    assert (unknown.value.status, unknown.value.data["message"]) == (
        422, "No commit found for SHA: no-such-ref")
    with pytest.raises(GithubException) as gone:
        repo.get_check_run(1)
    assert gone.value.status == 404


def test_released_commits_passed_ci_and_some_others_failed_their_tests(
        repo: Repository, world: World) -> None:
    outcomes = {}
    for commit in world.commits["PAY"]:
        runs = {r.name: r.conclusion for r in repo.get_commit(commit.sha).get_check_runs()}
        outcomes[commit.sha] = runs
        if commit.message.startswith("Release "):
            assert set(runs.values()) == {"success"}, commit.message
    failed = [sha for sha, runs in outcomes.items() if "failure" in runs.values()]
    assert failed and len(failed) < len(outcomes) / 2
    assert all(outcomes[sha] == {"build": "success", "test": "failure", "lint": "success"}
               for sha in failed)
    protection = repo.get_branch("main").get_protection()
    assert protection.required_status_checks.contexts == ["build", "test"]


def test_tags_and_a_comparison_between_two_of_them(repo: Repository, world: World) -> None:
    tags = sorted((t for t in world.tags if t.app_key == "PAY"), key=lambda t: t.date,
                  reverse=True)
    assert [(t.name, t.commit.sha) for t in repo.get_tags()] == [(t.name, t.sha) for t in tags]
    history = [c.sha for c in world.commits["PAY"]]
    low = history.index(next(t.sha for t in tags if t.name == "v1.1.0"))
    high = history.index(next(t.sha for t in tags if t.name == "v1.3.0"))
    comparison = repo.compare("v1.1.0", "v1.3.0")
    assert (comparison.status, comparison.ahead_by, comparison.behind_by) == (
        "ahead", high - low, 0)
    assert [c.sha for c in comparison.commits] == history[low + 1: high + 1]
    assert repo.compare("v1.3.0", "v1.1.0").status == "behind"


# -- labels, milestones -------------------------------------------------------------

def test_labels_list_read_and_create_and_a_duplicate_is_refused(own_repo: Repository) -> None:
    repo = own_repo
    names = {label.name for label in repo.get_labels()}
    assert {"bug", "blocker", "breaking-change"} <= names
    assert repo.get_label("bug").color == "d73a4a"
    created = repo.create_label("needs-cab", "5319E7", "Waits for the change advisory board")
    assert (created.name, created.color) == ("needs-cab", "5319e7")
    again = repo.get_label("needs-cab")
    assert (again.color, again.description) == ("5319e7", "Waits for the change advisory board")
    assert "needs-cab" in {label.name for label in repo.get_labels()}
    with pytest.raises(GithubException) as duplicate:
        repo.create_label("Bug", "000000")
    assert duplicate.value.status == 422
    assert duplicate.value.data["errors"][0]["code"] == "already_exists"
    with pytest.raises(UnknownObjectException):
        repo.get_label("never-made")


def test_milestones_are_the_releases_of_the_application(repo: Repository, world: World) -> None:
    releases = sorted((r for r in world.releases if r.app_key == "PAY"),
                      key=lambda r: r.window_start)
    assert [m.title for m in repo.get_milestones(state="all")] == [
        r.version_name for r in releases]
    one = repo.get_milestone(releases[1].milestone_number)
    assert one.title == releases[1].version_name
    assert one.open_issues + one.closed_issues > 0


MILESTONE_QUERY = """query($n: Int!) { repository(owner: "acme-retail", name: "payments-service") {
  milestone(number: $n) { title state closed dueOn } } }"""


def test_a_milestone_is_created_dated_closed_and_reopened(own_repo: Repository) -> None:
    made = own_repo.create_milestone("2027.03 hotfixes", description="Spring fixes",
                                     due_on=date(2027, 3, 16))
    assert (made.title, made.state, made.description, made.open_issues) == (
        "2027.03 hotfixes", "open", "Spring fixes", 0)
    assert made.due_on == datetime(2027, 3, 16, tzinfo=UTC)
    assert own_repo.get_milestone(made.number).title == "2027.03 hotfixes"
    assert "2027.03 hotfixes" in [m.title for m in own_repo.get_milestones()]
    issue = own_repo.create_issue("Fix the spring fix", milestone=made)
    assert [i.number for i in own_repo.get_issues(milestone=made)] == [issue.number]
    made.edit("2027.03 hotfixes", state="closed")
    closed = own_repo.get_milestone(made.number)
    assert closed.state == "closed" and closed.closed_at is not None
    assert "2027.03 hotfixes" not in [m.title for m in own_repo.get_milestones()]
    made.edit("2027.03 hotfixes", state="open")
    assert own_repo.get_milestone(made.number).closed_at is None


def test_a_world_milestone_edited_over_rest_reads_the_same_over_graphql(
        own_repo: Repository, world: World) -> None:
    """The hub reads milestones over GraphQL: a REST edit must show there too."""
    release = next(r for r in world.releases if r.app_key == "PAY" and r.status == "PLANNED")
    planned = release.version_name
    milestone = own_repo.get_milestone(release.milestone_number)
    assert milestone.state == "open"
    milestone.edit(f"{release.version_name} (moved)", state="closed", due_on=date(2027, 9, 1))
    _, answer = own_repo._requester.graphql_query(MILESTONE_QUERY,
                                                  {"n": release.milestone_number})
    assert answer["data"]["repository"]["milestone"] == {
        "title": f"{release.version_name} (moved)", "state": "CLOSED", "closed": True,
        "dueOn": "2027-09-01T00:00:00Z"}
    assert release.version_name == planned  # the world's plan is not the sandbox's to edit


def test_a_milestone_without_a_title_or_with_a_taken_one_is_refused_and_not_made(
        own_repo: Repository) -> None:
    before = own_repo.get_milestones(state="all").totalCount
    taken = own_repo.get_milestones(state="all")[0].title
    for title, code in ((taken, "already_exists"), ("  ", "missing_field")):
        with pytest.raises(GithubException) as refused:
            own_repo.create_milestone(title)
        assert refused.value.status == 422
        assert refused.value.data["errors"][0] == {"resource": "Milestone", "code": code,
                                                   "field": "title"}
    with pytest.raises(GithubException) as bad_state:
        own_repo.get_milestones(state="all")[0].edit(taken, state="finished")
    assert bad_state.value.status == 422
    assert own_repo.get_milestones(state="all").totalCount == before


# -- pull requests ------------------------------------------------------------------

def test_a_merged_pull_request_reads_merged_with_files_and_an_approval(
        repo: Repository, world: World) -> None:
    merged = next(p for p in world.pull_requests if p.app_key == "PAY" and p.merged_at)
    pull = repo.get_pull(merged.number)
    assert pull.is_merged() is True
    assert pull.merged
    files = list(pull.get_files())
    assert len(files) == pull.changed_files
    assert sum(f.additions for f in files) == pull.additions
    assert sum(f.deletions for f in files) == pull.deletions
    reviews = list(pull.get_reviews())
    assert [r.state for r in reviews] == ["APPROVED"]
    assert reviews[0].user.login != merged.author.github_login
    assert reviews[0].submitted_at < pull.merged_at
    commits = [c.sha for c in pull.get_commits()]
    assert commits == [merged.head_sha] and pull.commits == len(commits)


def test_an_open_pull_request_reads_not_merged(repo: Repository, world: World) -> None:
    opened = next(p for p in world.pull_requests if p.app_key == "PAY" and p.state == "open")
    pull = repo.get_pull(opened.number)
    assert pull.is_merged() is False
    assert not pull.merged and pull.merged_at is None
    assert all(r.state != "APPROVED" for r in pull.get_reviews())
    listed = {p.number for p in repo.get_pulls(state="open")}
    assert opened.number in listed
    assert listed == {p.number for p in world.pull_requests
                      if p.app_key == "PAY" and p.state == "open"}


# -- issues: create, comment, close ---------------------------------------------------

def test_an_issue_is_created_commented_on_and_closed(own_repo: Repository, world: World) -> None:
    repo = own_repo
    release = next(r for r in world.releases if r.app_key == "PAY" and r.status == "PLANNED")
    milestone = repo.get_milestone(release.milestone_number)
    assignee = world.people[1].github_login
    newest = max(i.number for i in repo.get_issues(state="all"))  # pulls share the numbers
    issue = repo.create_issue("Refund retries stop after one attempt",
                              body="Seen in staging.", labels=["bug", "triage"],
                              milestone=milestone, assignees=[assignee])
    assert issue.number == newest + 1
    assert (issue.state, issue.user.login, issue.milestone.title) == (
        "open", "demo", release.version_name)
    assert [label.name for label in issue.labels] == ["bug", "triage"]
    assert [who.login for who in issue.assignees] == [assignee]
    assert issue.created_at >= world.now

    first = issue.create_comment("Reproduced with the nightly build.")
    issue.create_comment("Fix is in review.")
    assert first.user.login == "demo"
    assert [c.body for c in issue.get_comments()] == [
        "Reproduced with the nightly build.", "Fix is in review."]
    assert repo.get_issue(issue.number).comments == 2
    assert [c.id for c in repo.get_issues_comments()] == [c.id for c in issue.get_comments()]

    issue.edit(state="closed", state_reason="completed")
    reread = repo.get_issue(issue.number)
    assert (reread.state, reread.state_reason) == ("closed", "completed")
    assert issue.number in {i.number for i in repo.get_issues(state="closed", milestone=milestone)}
    assert "triage" in {label.name for label in repo.get_labels()}

    # Who did what, as a release script asks before it writes the release notes.
    events = list(issue.get_events())
    assert [(e.event, e.actor.login) for e in events] == [
        ("milestoned", "demo"), ("labeled", "demo"), ("labeled", "demo"),
        ("assigned", "demo"), ("closed", "demo")]
    assert events[3].assignee.login == assignee and events[1].label.name == "bug"
    assert events[0].milestone.title == release.version_name
    in_repository = [e.id for e in repo.get_issues_events() if e.issue.number == issue.number]
    assert in_repository == [e.id for e in reversed(events)]  # newest first
    assert repo.get_issues_event(events[-1].id).event == "closed"


def test_labels_are_added_to_and_removed_from_an_issue_and_a_pull(
        own_repo: Repository, world: World) -> None:
    seeded = next(i for i in world.github_issues if i.app_key == "PAY" and i.state == "open")
    issue = own_repo.get_issue(seeded.number)
    issue.add_to_labels("needs-retest")
    issue.remove_from_labels("bug")
    assert [label.name for label in own_repo.get_issue(seeded.number).labels] == [
        n for n in [*seeded.labels, "needs-retest"] if n != "bug"]
    opened = next(p for p in world.pull_requests if p.app_key == "PAY" and p.state == "open")
    pull = own_repo.get_pull(opened.number)
    pull.set_labels("release-notes")
    assert [label.name for label in own_repo.get_pull(opened.number).labels] == [
        "release-notes"]
    with pytest.raises(GithubException) as absent:
        pull.remove_from_labels("never-on-it")
    assert (absent.value.status, absent.value.data["message"]) == (404, "Label does not exist")


def test_a_pull_request_is_retitled_and_closed_but_a_merged_one_stays_merged(
        own_repo: Repository, world: World) -> None:
    opened = next(p for p in world.pull_requests if p.app_key == "PAY" and p.state == "open")
    pull = own_repo.get_pull(opened.number)
    pull.edit(title=f"{opened.title} (superseded)", state="closed")
    reread = own_repo.get_pull(opened.number)
    assert (reread.title, reread.state, reread.merged) == (
        f"{opened.title} (superseded)", "closed", False)
    assert reread.is_merged() is False
    merged = own_repo.get_pull(next(p.number for p in world.pull_requests
                                    if p.app_key == "PAY" and p.merged_at))
    with pytest.raises(GithubException) as refused:
        merged.edit(state="open")
    assert refused.value.status == 422


def test_a_refused_issue_edit_changes_nothing(own_repo: Repository, world: World) -> None:
    seeded = next(i for i in world.github_issues if i.app_key == "PAY")
    issue = own_repo.get_issue(seeded.number)
    with pytest.raises(GithubException) as refused:
        issue.edit(title="Renamed", milestone=own_repo.get_milestone(1), assignees=["nobody-x"])
    assert refused.value.status == 422
    assert own_repo.get_issue(seeded.number).title == seeded.title


def test_an_issue_without_a_title_is_refused_with_githubs_validation_error(
        repo: Repository) -> None:
    with pytest.raises(GithubException) as refused:
        repo.create_issue("")
    assert refused.value.status == 422
    assert refused.value.data["message"] == "Validation Failed"
    assert refused.value.data["errors"][0]["field"] == "title"


# -- search ---------------------------------------------------------------------------

def test_search_finds_the_merged_pull_requests_of_a_release(
        github: Github, world: World) -> None:
    release = next(r for r in world.releases if r.app_key == "PAY" and r.status == "DEPLOYED")
    expected = {p.number for p in world.pull_requests
                if p.release_key == release.key and p.merged_at is not None}
    found = github.search_issues("is:pr is:merged", repo=FULL_NAME,
                                 milestone=release.version_name)
    assert found.totalCount == len(expected) > 0
    assert {i.number for i in found} == expected
    assert all(i.pull_request is not None for i in found)


def test_search_pages_issues_by_state_and_label(url: str, world: World) -> None:
    expected = {i.number for i in world.github_issues
                if i.app_key == "PAY" and i.state == "closed" and "bug" in i.labels}
    with client(url, per_page=2) as g:
        found = g.search_issues(f"repo:{FULL_NAME} is:issue state:closed label:bug")
        assert len(found.get_page(0)) == 2 < len(expected)
        assert {i.number for i in found} == expected
        assert all(i.pull_request is None for i in found)



def test_search_matches_words_in_the_title(github: Github, world: World) -> None:
    item = next(i for i in world.github_issues if i.app_key == "PAY")
    expected = {i.number for i in world.github_issues + world.pull_requests
                if i.app_key == "PAY" and item.title.lower() in f"{i.title} {i.body}".lower()}
    found = github.search_issues(f'"{item.title}"', repo=FULL_NAME)
    assert {i.number for i in found} == expected
    assert item.number in expected


def test_search_has_its_own_budget_and_pygithub_sees_it_spent(world: World) -> None:
    with serve_asgi(create_app(world, search_rate_limit=2)) as base, client(base) as g:
        for _ in range(2):
            g.search_issues("is:pr", repo=FULL_NAME).get_page(0)
        with pytest.raises(RateLimitExceededException) as limited:
            g.search_issues("is:pr", repo=FULL_NAME).get_page(0)
        assert limited.value.status == 403
        limits = g.get_rate_limit().resources
        assert (limits.search.limit, limits.search.remaining) == (2, 0)
        assert limits.core.remaining > 0


# -- releases -------------------------------------------------------------------------

def test_releases_latest_and_one_by_tag(repo: Repository, world: World) -> None:
    ours = [r for r in world.github_releases if r.app_key == "PAY"]
    assert {r.tag_name for r in repo.get_releases()} == {r.tag_name for r in ours}
    published = max((r for r in ours if not r.draft), key=lambda r: r.created)
    assert repo.get_latest_release().tag_name == published.tag_name
    assert repo.get_release(published.tag_name).name == published.name
    draft = next(r for r in ours if r.draft)
    with pytest.raises(UnknownObjectException):  # a draft is no published release
        repo.get_release(draft.tag_name)


def test_a_draft_release_is_published_and_its_tag_made_from_main(
        own_repo: Repository, world: World) -> None:
    head = world.commits["PAY"][-1].sha
    draft = own_repo.create_git_release("v2.0.0", "Payments 2.0", "The big one.", draft=True)
    assert draft.draft and "v2.0.0" not in [t.name for t in own_repo.get_tags()]
    with pytest.raises(UnknownObjectException):
        own_repo.get_git_ref("tags/v2.0.0")
    published = draft.update_release("Payments 2.0", "The big one.", draft=False)
    assert (published.draft, published.tag_name, published.target_commitish) == (
        False, "v2.0.0", "main")
    assert published.published_at is not None
    assert own_repo.get_git_ref("tags/v2.0.0").object.sha == head
    assert own_repo.get_release("v2.0.0").id == draft.id
    assert own_repo.get_latest_release().tag_name == "v2.0.0"
    assert own_repo.compare("v1.4.0", "v2.0.0").status in ("ahead", "identical")


def test_a_release_from_a_target_that_names_nothing_is_refused_and_not_made(
        own_repo: Repository) -> None:
    before = own_repo.get_releases().totalCount
    with pytest.raises(GithubException) as refused:
        own_repo.create_git_release("v3.0.0", "Nowhere", "", target_commitish="no-such-branch")
    assert refused.value.status == 422
    assert refused.value.data["errors"][0]["field"] == "target_commitish"
    assert own_repo.get_releases().totalCount == before
    assert "v3.0.0" not in [t.name for t in own_repo.get_tags()]


def test_release_notes_list_the_pull_requests_merged_since_the_previous_release(
        repo: Repository, world: World) -> None:
    history = [c.sha for c in world.commits["PAY"]]
    tags = {t.name: t.sha for t in world.tags if t.app_key == "PAY"}
    since, until = history.index(tags["v1.3.0"]), history.index(tags["v1.4.0"])
    merged = sorted((p for p in world.pull_requests if p.app_key == "PAY"
                     and p.merge_commit_sha in history[since + 1: until + 1]),
                    key=lambda p: p.merged_at or p.created)
    assert merged, "the range holds merged pull requests"
    notes = repo.generate_release_notes("v1.4.0", previous_tag_name="v1.3.0")
    assert notes.name == "v1.4.0"
    listed = [line for line in notes.body.splitlines() if line.startswith("* ")]
    assert listed == [f"* {p.title} by @{p.author.github_login} in "
                      f"{repo.html_url}/pull/{p.number}" for p in merged]
    assert notes.body.endswith(f"**Full Changelog**: {repo.html_url}/compare/v1.3.0...v1.4.0")
    # Without a previous tag, the newest published release below is the start.
    assert repo.generate_release_notes("v1.4.0").body == notes.body
    with pytest.raises(GithubException) as unknown:
        repo.generate_release_notes("v1.4.0", previous_tag_name="v0.0.1")
    assert unknown.value.status == 422


def test_refs_name_the_branches_and_tags(repo: Repository, world: World) -> None:
    assert repo.get_git_ref("heads/main").object.sha == world.commits["PAY"][-1].sha
    tags = sorted(t.name for t in world.tags if t.app_key == "PAY")
    assert [r.ref for r in repo.get_git_matching_refs("tags/v1.")] == [
        f"refs/tags/{name}" for name in tags if name.startswith("v1.")]
    assert list(repo.get_git_matching_refs("tags/no-such")) == []
    with pytest.raises(UnknownObjectException):
        repo.get_git_ref("heads/no-such-branch")


def test_a_release_branch_and_a_tag_are_made_at_a_commit_and_read_like_any_other(
        own_repo: Repository, world: World) -> None:
    history = [c.sha for c in world.commits["PAY"]]
    cut = history[-3]  # a release branch cut two commits behind main
    branch = own_repo.create_git_ref("refs/heads/release/2026.12", cut)
    assert (branch.ref, branch.object.sha) == ("refs/heads/release/2026.12", cut)
    assert own_repo.get_branch("release/2026.12").commit.sha == cut
    assert [c.sha for c in own_repo.get_commits(sha="release/2026.12")][:2] == [
        cut, history[-4]]
    assert own_repo.compare("release/2026.12", "main").ahead_by == 2
    own_repo.create_git_ref("refs/tags/v1.4.1", cut)
    assert own_repo.get_git_ref("tags/v1.4.1").object.sha == cut
    assert "v1.4.1" in [t.name for t in own_repo.get_tags()]
    assert own_repo.compare("v1.4.1", "release/2026.12").status == "identical"


@pytest.mark.parametrize(("ref", "sha", "message"), [
    ("refs/tags/v1.4.0", "head", "Reference already exists"),
    ("refs/heads/main", "head", "Reference already exists"),
    ("tags/v9.9.9", "head", "Reference update failed"),  # no refs/ prefix
    ("refs/heads/a..b", "head", "Reference update failed"),
    ("refs/notes/x", "head", "Reference update failed"),
    ("refs/heads/nowhere", "0" * 40, "Object does not exist"),
    ("refs/heads/short", "short", "Object does not exist"),  # an abbreviated sha
])
def test_a_ref_that_is_taken_malformed_or_at_no_commit_is_refused_and_not_made(
        own_repo: Repository, world: World, ref: str, sha: str, message: str) -> None:
    head = world.commits["PAY"][-1].sha
    sha = {"head": head, "short": head[:7]}.get(sha, sha)
    before = [r.ref for r in own_repo.get_git_refs()]
    with pytest.raises(GithubException) as refused:
        own_repo.create_git_ref(ref, sha)
    assert (refused.value.status, refused.value.data["message"]) == (422, message)
    assert [r.ref for r in own_repo.get_git_refs()] == before


def test_the_protection_a_branch_links_to_is_there_for_main_only(repo: Repository) -> None:
    main = repo.get_branch("main")
    assert main.protected
    protection = main.get_protection()  # follows the branch's protection_url
    assert protection.required_pull_request_reviews.required_approving_review_count == 1
    assert protection.required_status_checks.contexts == ["build", "test"]
    feature = next(b for b in repo.get_branches() if b.name != "main")
    assert not feature.protected
    with pytest.raises(GithubException) as unprotected:
        feature.get_protection()
    assert (unprotected.value.status, unprotected.value.data["message"]) == (
        404, "Branch not protected")


def test_the_links_a_release_script_follows_answer_from_the_world(
        github: Github, repo: Repository, world: World) -> None:
    commits = world.commits["PAY"]
    contributors = [(c.login, c.contributions) for c in repo.get_contributors()]
    assert sum(n for _login, n in contributors) == len(commits)
    by_author = Counter(c.author.github_login for c in commits)
    assert sorted(contributors) == sorted(by_author.items())
    assert [n for _login, n in contributors] == sorted(by_author.values(), reverse=True)
    members = [m.login for m in github.get_organization("acme-retail").get_members()]
    assert set(members) == {p.github_login for p in world.people} | {"demo"}
    milestone = next(m for m in repo.get_milestones(state="all") if m.title == "2026.11")
    labelled = {n for i in repo.get_issues(milestone=milestone, state="all") for n in
                (label.name for label in i.labels)}
    assert {label.name for label in milestone.get_labels()} == labelled
    release = repo.get_releases()[0]
    assert list(release.get_assets()) == []  # as its `assets` says
    pull = repo.get_pulls(state="all")[0]
    assert list(pull.get_review_comments()) == []


def test_what_a_repository_says_of_itself_reads_through_the_library(
        github: Github, repo: Repository, pay: Application) -> None:
    assert repo.get_topics() == repo.topics
    assert repo.get_languages()[repo.language] == repo.size * 1024  # size is in KB
    readme = repo.get_readme()
    assert readme.decoded_content.decode().startswith(f"# {repo.name}")
    lead = pay.lead.github_login
    assert repo.has_in_collaborators(lead) and not repo.has_in_collaborators("nobody-here")
    assert repo.get_collaborator_permission(lead) == "admin"
    assert repo.get_collaborator_permission("demo") == "write"
    assert {c.login for c in repo.get_collaborators()} >= {lead, "demo"}
    # The world runs no CI: a release script finds no run, and one workflow.
    assert repo.get_workflow_runs().totalCount == 0
    assert [w.name for w in repo.get_workflows()] == ["Deploy"]


def test_world_time_stamps_what_pygithub_writes(own_repo: Repository, world: World) -> None:
    before = world.clock.now().replace(microsecond=0)
    issue = own_repo.create_issue("Clock check")
    comment = issue.create_comment("Stamped by the world clock.")
    assert before <= issue.created_at <= comment.created_at <= world.clock.now()


# -- GraphQL through gql ----------------------------------------------------------------

@pytest.fixture(scope="module")
def gql_client(url: str) -> Iterator[Any]:
    transport = HTTPXTransport(url=f"{url}/graphql",
                               headers={"Authorization": f"bearer {DEMO_TOKEN}"})
    with Client(transport=transport, fetch_schema_from_transport=True) as session:
        yield session


def run(session: Any, query: str, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = session.execute(GraphQLRequest(query, variable_values=variables))
    return result


def every_page(session: Any, query: str, path: list[str], **variables: Any
               ) -> tuple[list[dict[str, Any]], int]:
    """Nodes of a connection, following `pageInfo.endCursor` as scripts do; and the pages."""
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    for pages in range(1, 100):
        data: Any = run(session, query, after=after, **variables)
        for key in path:
            data = data[key]
        nodes += data["nodes"]
        if not data["pageInfo"]["hasNextPage"]:
            return nodes, pages
        after = data["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


PULLS = """
query($after: String, $states: [PullRequestState!]) {
  repository(owner: "acme-retail", name: "payments-service") {
    pullRequests(first: 3, after: $after, states: $states,
                 orderBy: {field: CREATED_AT, direction: DESC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        number state merged createdAt reviewDecision
        mergeCommit { oid }
        reviews(first: 5) { nodes { state author { login } } }
      }
    }
  }
}"""


def test_gql_pages_pull_requests_by_state_newest_first(gql_client: Any, world: World) -> None:
    merged = sorted((p for p in world.pull_requests if p.app_key == "PAY" and p.merged_at),
                    key=lambda p: (p.created, p.number), reverse=True)
    nodes, pages = every_page(gql_client, PULLS, ["repository", "pullRequests"],
                              states=["MERGED"])
    assert [n["number"] for n in nodes] == [p.number for p in merged]
    assert pages > 1
    assert all(n["state"] == "MERGED" and n["merged"] for n in nodes)
    assert [n["mergeCommit"]["oid"] for n in nodes] == [p.merge_commit_sha for p in merged]
    assert {n["reviewDecision"] for n in nodes} == {"APPROVED"}
    assert all([r["state"] for r in n["reviews"]["nodes"]] == ["APPROVED"] for n in nodes)


def test_gql_and_pygithub_tell_the_same_story_about_a_pull_request(
        gql_client: Any, repo: Repository, world: World) -> None:
    number = next(p.number for p in world.pull_requests if p.app_key == "PAY" and p.merged_at)
    graph = run(gql_client, """
        query($n: Int!) { repository(owner: "acme-retail", name: "payments-service") {
          pullRequest(number: $n) {
            additions deletions changedFiles mergedAt headRefOid
            reviews(first: 5) { nodes { author { login } submittedAt } }
          } } }""", n=number)["repository"]["pullRequest"]
    rest = repo.get_pull(number)
    review = next(iter(rest.get_reviews()))
    assert (graph["additions"], graph["deletions"], graph["changedFiles"]) == (
        rest.additions, rest.deletions, rest.changed_files)
    assert graph["mergedAt"] == rest.merged_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert graph["headRefOid"] == rest.head.sha
    assert graph["reviews"]["nodes"] == [{
        "author": {"login": review.user.login},
        "submittedAt": review.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ")}]


ISSUES = """
query($after: String) {
  repository(owner: "acme-retail", name: "payments-service") {
    issues(first: 2, after: $after, states: [OPEN], labels: ["bug"]) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { number title state labels(first: 5) { nodes { name } } }
    }
  }
}"""


def test_gql_pages_open_issues_with_a_label(gql_client: Any, world: World) -> None:
    expected = {i.number for i in world.github_issues
                if i.app_key == "PAY" and i.state == "open" and "bug" in i.labels}
    nodes, _ = every_page(gql_client, ISSUES, ["repository", "issues"])
    assert {n["number"] for n in nodes} == expected
    assert all(n["state"] == "OPEN" for n in nodes)
    assert all("bug" in {label["name"] for label in n["labels"]["nodes"]} for n in nodes)


REFS = """
query($after: String) {
  repository(owner: "acme-retail", name: "payments-service") {
    defaultBranchRef { name prefix target { oid ... on Commit { messageHeadline } } }
    tag: ref(qualifiedName: "refs/tags/v1.2.0") { name target { oid } }
    refs(refPrefix: "refs/tags/", first: 2, after: $after,
         orderBy: {field: TAG_COMMIT_DATE, direction: ASC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { name target { oid } }
    }
  }
}"""


def test_gql_reads_the_default_branch_and_pages_tags(gql_client: Any, world: World) -> None:
    first = run(gql_client, REFS, after=None)["repository"]
    head = first["defaultBranchRef"]
    newest = world.commits["PAY"][-1]
    assert (head["name"], head["prefix"], head["target"]["oid"]) == (
        "main", "refs/heads/", newest.sha)
    assert head["target"]["messageHeadline"] == newest.message
    tags = sorted((t for t in world.tags if t.app_key == "PAY"), key=lambda t: t.date)
    assert first["tag"]["target"]["oid"] == next(t.sha for t in tags if t.name == "v1.2.0")
    nodes, pages = every_page(gql_client, REFS, ["repository", "refs"])
    assert [(n["name"], n["target"]["oid"]) for n in nodes] == [(t.name, t.sha) for t in tags]
    assert pages == -(-len(tags) // 2)


SEARCH = """
query($q: String!, $after: String) {
  search(query: $q, type: ISSUE, first: 5, after: $after) {
    issueCount
    pageInfo { hasNextPage endCursor }
    nodes { __typename ... on PullRequest { number merged } ... on Issue { number } }
  }
}"""


def test_gql_search_pages_merged_pull_requests(gql_client: Any, world: World) -> None:
    expected = {p.number for p in world.pull_requests if p.app_key == "PAY" and p.merged_at}
    query = f"repo:{FULL_NAME} is:pr is:merged"
    first = run(gql_client, SEARCH, q=query, after=None)["search"]
    assert first["issueCount"] == len(expected)
    nodes, pages = every_page(gql_client, SEARCH, ["search"], q=query)
    assert {n["number"] for n in nodes} == expected and pages > 1
    assert {n["__typename"] for n in nodes} == {"PullRequest"}


def test_gql_reports_a_field_the_schema_lacks_as_github_does(url: str) -> None:
    transport = HTTPXTransport(url=f"{url}/graphql",
                               headers={"Authorization": f"bearer {DEMO_TOKEN}"})
    # Without the fetched schema, the query reaches the sandbox, which refuses it.
    with Client(transport=transport) as session, pytest.raises(TransportQueryError) as refused:
        run(session, 'query Probe { repository(owner: "acme-retail", '
                     'name: "payments-service") { stargazerCount } }')
    error = refused.value.errors[0] if refused.value.errors else {}
    assert error["message"] == "Field 'stargazerCount' doesn't exist on type 'Repository'"
    assert error["extensions"] == {"code": "undefinedField", "typeName": "Repository",
                                   "fieldName": "stargazerCount"}
    assert error["path"] == ["query Probe", "repository", "stargazerCount"]


def test_gql_with_the_fetched_schema_refuses_the_same_field_before_sending(
        gql_client: Any) -> None:
    with pytest.raises(GraphQLError, match="stargazerCount"):
        run(gql_client, '{ repository(owner: "acme-retail", name: "payments-service") '
                        '{ stargazerCount } }')
