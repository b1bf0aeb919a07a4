"""Release notes for both audiences and both formats, checked for what they say:
the right items, the window, the risk and why, the backout plan, the approvals."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from api.domain.compose import ChangeOverrides, ComposedChange, compose_change
from api.domain.facts import OverrideFacts, ReleaseFacts
from api.domain.gates import GateResult, evaluate_gates
from api.domain.notes import Audience, NotesFormat, Vocabulary, people, render_notes
from connectors.base import ChangeRecord, ChangeType, PullRequest, WorkItem, WorkStatus
from tests.domain import (
    all_items,
    change_records,
    pull_requests,
    release_facts,
    repository_issues,
    tracker_issues,
)

KEY = "PAY-2026.11"
WINDOW = "2026-11-16 05:00 UTC to 2026-11-16 09:00 UTC (4h)"


@dataclasses.dataclass
class Seeded:
    release: ReleaseFacts
    items: list[WorkItem]
    changes: list[ChangeRecord]
    composed: ComposedChange
    gates: list[GateResult]

    def render(self, audience: Audience, fmt: NotesFormat = NotesFormat.MARKDOWN,
               vocabulary: Vocabulary = Vocabulary()) -> str:
        return render_notes(audience, fmt, self.release, items=self.items,
                            changes=self.changes, composed=self.composed, gates=self.gates,
                            vocabulary=vocabulary)


def seeded(items: list[WorkItem] | None = None,
           overrides: ChangeOverrides = ChangeOverrides()) -> Seeded:
    release = release_facts(KEY)
    items = all_items(KEY) if items is None else items
    changes = change_records(KEY)
    gates = evaluate_gates(release, changes=changes, changes_known=True, items=items,
                           items_known=True, blackouts=[], change_type=ChangeType.NORMAL,
                           pre_approved_standard=False)
    return Seeded(release, items, changes, compose_change(release, items, overrides=overrides),
                  gates)


@pytest.fixture
def notes() -> Seeded:
    return seeded()


def replacing(changed: WorkItem) -> list[WorkItem]:
    """The seeded items with one of them changed."""
    return [changed if i.key == changed.key else i for i in all_items(KEY)]


def section(markdown: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#|\Z)", markdown, re.M | re.S)
    assert match, f"no section {heading!r}"
    return match.group(1)


def md_key(key: str) -> str:
    return key.replace("#", "\\#")


def html_text(document: str) -> str:
    """All text of the HTML, which must parse as well-formed markup."""
    root = ET.fromstring(f"<div>{document}</div>")
    return " ".join("".join(root.itertext()).split())


# --------------------------------------------------------------------------- developers


def test_developers_see_merged_and_open_pull_requests_apart() -> None:
    # The seeded release is ready, so all its pull requests are merged: one is reopened.
    last = pull_requests(KEY)[-1]
    notes = seeded(replacing(dataclasses.replace(
        last, merged=False, merged_at=None, status=WorkStatus.IN_PROGRESS, status_label="open")))
    text = notes.render(Audience.DEVELOPMENT)
    pulls = [i for i in notes.items if isinstance(i, PullRequest)]
    merged = [p for p in pulls if p.merged]
    opened = [p for p in pulls if not p.merged]
    assert merged and opened
    merged_part = section(text, f"Merged ({len(merged)})")
    open_part = section(text, f"Open ({len(opened)})")
    for pull in merged:
        assert f"[{md_key(pull.key)}](<{pull.url}>) {pull.title}" in merged_part
        assert md_key(pull.key) not in open_part
    for pull in opened:
        assert f"[{md_key(pull.key)}](<{pull.url}>) {pull.title}" in open_part


def test_developers_see_issues_grouped_by_status(notes: Seeded) -> None:
    text = notes.render(Audience.DEVELOPMENT)
    issues: list[WorkItem] = [*tracker_issues(KEY), *repository_issues(KEY)]
    for status, title in ((WorkStatus.DONE, "Done"), (WorkStatus.IN_PROGRESS, "In progress"),
                          (WorkStatus.TODO, "To do")):
        group = [i for i in issues if i.status is status]
        part = section(text, f"{title} ({len(group)})")
        assert len([line for line in part.splitlines() if line.startswith("- ")]) == len(group)
        for item in group:
            assert f"{md_key(item.key)}](<{item.url}>) {item.title} " \
                   f"({item.kind}, {item.status_label})" in part


def test_developers_see_every_contributor_once(notes: Seeded) -> None:
    names = people(i.assignee for i in notes.items if i.assignee)
    part = section(notes.render(Audience.DEVELOPMENT), f"Contributors ({len(names)})")
    assert sorted(line[2:] for line in part.split("\n") if line.startswith("- ")) == names


def test_a_person_known_by_name_and_by_login_is_listed_once_by_name() -> None:
    assert people(["lena-haddad", "Lena Haddad", "goran.mensah", "Omar Wei", "omar_wei"]) == [
        "goran.mensah", "Lena Haddad", "Omar Wei"]


def test_breaking_changes_are_found_by_title_and_the_notes_say_how() -> None:
    pull = pull_requests(KEY)[0]
    breaking = dataclasses.replace(pull, title="BREAKING: drop the v1 refund API")
    plain = seeded()
    marked = seeded(items=replacing(breaking))
    assert "None marked as breaking." in section(plain.render(Audience.DEVELOPMENT),
                                                 "Breaking changes")
    part = section(marked.render(Audience.DEVELOPMENT), "Breaking changes")
    assert "Found by the word \"breaking\" in titles" in part
    assert f"{md_key(pull.key)}](<{pull.url}>) BREAKING: drop the v1 refund API" in part


# --------------------------------------------------------------------------- change board


def test_the_cab_summary_gives_window_services_and_configuration_items(notes: Seeded) -> None:
    text = notes.render(Audience.OPERATIONS)
    assert section(text, "Implementation window").strip() == WINDOW
    services = section(text, "Affected services and configuration items")
    assert "- Payments (PAY): Payments Service" in services
    assert "Configuration items: Payments Service" in services


def test_the_cab_summary_gives_the_risk_and_why(notes: Seeded) -> None:
    part = section(notes.render(Audience.OPERATIONS), "Risk: high")
    assert f"- sizeable scope: {len(notes.items)} work items (at least 10)" in part
    assert "- deploys to the production tier" in part


def test_the_cab_summary_gives_the_backout_plan_the_requester_set() -> None:
    notes = seeded(overrides=ChangeOverrides(backout_plan="Restore snapshot SNAP-7."))
    part = section(notes.render(Audience.OPERATIONS), "Backout plan")
    assert part.strip() == "Restore snapshot SNAP-7."


def test_the_cab_summary_lists_each_change_with_state_and_approval(notes: Seeded) -> None:
    change = notes.changes[0]
    part = section(notes.render(Audience.OPERATIONS), "Approvals")
    assert f"[{change.number}](<{change.url}>) {change.title}: normal change, state " \
           f"awaiting authorization (Authorize), awaiting approval, planned {WINDOW}" in part


def test_the_cab_summary_without_a_change_says_none_was_raised(notes: Seeded) -> None:
    text = dataclasses.replace(notes, changes=[]).render(Audience.OPERATIONS)
    assert section(text, "Approvals").strip() == "No change request raised yet."


def test_the_cab_summary_gives_gates_evidence_and_linked_tickets(notes: Seeded) -> None:
    text = notes.render(Audience.OPERATIONS)
    gates = section(text, "Deployment gates")
    assert "- Change approved: not passed: no approved or scheduled change request" in gates
    assert "- No open blockers: passed: no open blockers" in gates
    evidence = section(text, "Test evidence")
    done = sum(1 for i in notes.items if i.status is WorkStatus.DONE)
    merged = sum(1 for i in notes.items if isinstance(i, PullRequest) and i.merged)
    assert f"{done} of {len(notes.items)} work items done; {merged} merged pull requests" \
        in evidence
    tickets = section(text, "Linked tickets")
    for item in notes.items:  # tickets, yes; pull requests are counted in the evidence only
        assert (md_key(item.key) in tickets) is not isinstance(item, PullRequest)


def test_words_an_organisation_calls_differently_come_from_the_vocabulary(
        notes: Seeded) -> None:
    words = Vocabulary(release="deployment", change="RFC", work_item="requirement",
                       version="build")
    ops = notes.render(Audience.OPERATIONS, vocabulary=words)
    dev = notes.render(Audience.DEVELOPMENT, vocabulary=words)
    assert ops.startswith("# CAB summary: RFC for deployment Payments 2026.11\n")
    assert "Deployment PAY-2026.11 (enterprise), build Payments 2026.11" in ops
    assert "No RFC request raised yet." in dataclasses.replace(notes, changes=[]).render(
        Audience.OPERATIONS, vocabulary=words)
    assert "requirements done" in section(ops, "Test evidence")
    assert dev.startswith("# Deployment notes: Payments 2026.11\n")
    assert "## Requirements and issues" in dev
    assert "Release notes" not in dev


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("audience", list(Audience), ids=lambda a: a.name)
def test_html_says_what_markdown_says(notes: Seeded, audience: Audience) -> None:
    markdown = notes.render(audience)
    text = html_text(notes.render(audience, NotesFormat.HTML))
    headings = re.findall(r"^#+ (.*)$", markdown, re.M)
    assert len(headings) > 5
    for heading in headings:
        assert heading.replace("\\", "") in text
    for item in notes.items:
        if audience is Audience.DEVELOPMENT or not isinstance(item, PullRequest):
            assert item.key in text


def test_the_html_cab_summary_has_window_risk_backout_and_approval(notes: Seeded) -> None:
    text = html_text(notes.render(Audience.OPERATIONS, NotesFormat.HTML))
    assert f"Implementation window {WINDOW}" in text
    assert "Risk: high Why: sizeable scope" in text
    assert "Backout plan Redeploy the previous release of each affected application." in text
    assert f"{notes.changes[0].number} Deploy Payments 2026.11 to production" in text


HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


@pytest.mark.parametrize("audience", list(Audience), ids=lambda a: a.name)
def test_html_escapes_what_upstream_systems_wrote(audience: Audience) -> None:
    pull = dataclasses.replace(pull_requests(KEY)[0], title=HOSTILE,
                               url='javascript:alert("x")')
    notes = seeded(items=replacing(pull),
                   overrides=ChangeOverrides(title=HOSTILE, backout_plan=HOSTILE))
    document = notes.render(audience, NotesFormat.HTML)
    assert "<script>" not in document and "<b>" not in document
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in document
    assert "javascript:" not in document
    assert HOSTILE in html_text(document)  # escaped, so it reads back as the same text


def test_markdown_escapes_markup_in_titles() -> None:
    pull = dataclasses.replace(pull_requests(KEY)[0], title=HOSTILE)
    notes = seeded(items=replacing(pull))
    text = notes.render(Audience.DEVELOPMENT)
    assert "<script>" not in text
    assert '\\<script\\>alert("x")\\</script\\> & \\<b\\>bold\\</b\\>' in text


def test_a_release_moved_past_failing_gates_is_marked_in_the_cab_summary(notes: Seeded) -> None:
    override = OverrideFacts("ana", datetime(2026, 11, 16, 5, 2, tzinfo=UTC),
                             "CAB chair approved by phone", ("change_approved", "blockers"))
    mark = ("Deploying under override: ana moved it on at 2026-11-16 05:02 UTC although "
            "these gates failed: change approved, no open blockers. Reason given: CAB chair "
            "approved by phone")
    for status, marked in (("DEPLOYING", True), ("DEPLOYED", True), ("READY", False)):
        release = dataclasses.replace(notes.release, status=status, override=override)
        text = dataclasses.replace(notes, release=release).render(Audience.OPERATIONS)
        assert (mark in text) is marked, status
    assert "under override" not in notes.render(Audience.OPERATIONS)  # none recorded
