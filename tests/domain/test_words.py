"""Everything people read from the rules is in words: no enum value, snake_case kind,
dotted action or "(s)" plural reaches the notes, the change description, a gate's
reason or a conflict's reason, whatever state the records are in."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from api.domain.compose import ChangeOverrides, compose_change
from api.domain.conflicts import (
    BlackoutFact,
    BookingFact,
    ChangeFact,
    ConflictKind,
    EnvironmentFact,
    ReleaseFact,
    Span,
    World,
    find_conflicts,
)
from api.domain.enums import BookingStatus, EnvironmentTier, ReleaseStatus
from api.domain.gates import evaluate_gates
from api.domain.notes import Audience, NotesFormat, render_notes
from api.domain.words import count, plain
from connectors.records import ApprovalState, ChangeRecord, ChangeState, ChangeType, RiskLevel
from tests.domain import all_items, change_records, release_facts

KEY = "PAY-2026.11"
CODE = re.compile(r"\b[A-Z]{2,}_[A-Z_]+\b|\b[a-z]+_[a-z_]+\b|\(s\)")


def codes(text: str) -> list[str]:
    return CODE.findall(text)


def readable(markdown: str) -> str:
    """What a person reads of Markdown: link targets and escapes left out."""
    return re.sub(r"\(<[^>]*>\)", "", markdown).replace("\\", "")


def html_text(document: str) -> str:
    root = ET.fromstring(f"<div>{document}</div>")
    return " ".join("".join(root.itertext()).split())


def changes_in(state: ChangeState, approval: ApprovalState) -> list[ChangeRecord]:
    return [dataclasses.replace(c, state=state, approval=approval, risk=RiskLevel.VERY_HIGH)
            for c in change_records(KEY)]


STATES = [(ChangeState.ON_HOLD, ApprovalState.NOT_REQUESTED),
          (ChangeState.AUTHORIZE, ApprovalState.REQUESTED),
          (ChangeState.CANCELED, ApprovalState.REJECTED),
          (ChangeState.IMPLEMENT, ApprovalState.APPROVED)]


@pytest.mark.parametrize(("state", "approval"), STATES, ids=lambda v: v.name)
@pytest.mark.parametrize("audience", list(Audience), ids=lambda a: a.name)
def test_the_notes_in_both_formats_show_no_code(audience: Audience, state: ChangeState,
                                                approval: ApprovalState) -> None:
    release = release_facts(KEY)
    items = all_items(KEY)
    assert any(i.kind == "pull_request" for i in items)  # the kind the notes must say in words
    changes = changes_in(state, approval)
    composed = compose_change(release, items, recent_failed_deployments=2,
                              overrides=ChangeOverrides(risk=RiskLevel.VERY_HIGH))
    gates = evaluate_gates(release, changes=changes, changes_known=True, items=items,
                           items_known=False, blackouts=[], change_type=ChangeType.NORMAL,
                           pre_approved_standard=False)
    for fmt in NotesFormat:
        text = render_notes(audience, fmt, release, items=items, changes=changes,
                            composed=composed, gates=gates)
        shown = readable(text) if fmt is NotesFormat.MARKDOWN else html_text(text)
        assert codes(shown) == [], f"{audience.name} {fmt.name}"


@pytest.mark.parametrize(("state", "approval"), STATES, ids=lambda v: v.name)
def test_the_change_description_and_gate_reasons_show_no_code(state: ChangeState,
                                                              approval: ApprovalState) -> None:
    release = release_facts(KEY)
    items = all_items(KEY)
    composed = compose_change(release, items, recent_failed_deployments=1,
                              overrides=ChangeOverrides(risk=RiskLevel.VERY_HIGH))
    assert "pull requests" in composed.description  # counted by kind, in words
    assert codes(composed.description) == []
    assert codes(" ".join(composed.risk_reasons)) == []
    for known in (True, False):
        for gate in evaluate_gates(release, changes=changes_in(state, approval),
                                   changes_known=known, items=items, items_known=known,
                                   blackouts=[], change_type=ChangeType.NORMAL,
                                   pre_approved_standard=False):
            assert codes(gate.reason) == [], gate.name


def _span(hours: float, length: float) -> Span:
    start = datetime(2027, 3, 1, tzinfo=UTC) + timedelta(hours=hours)
    return Span(start, start + timedelta(hours=length))


def test_every_kind_of_conflict_gives_its_reason_in_words() -> None:
    world = World(
        releases=[ReleaseFact(1, "PAY-1", ReleaseStatus.PLANNED, _span(0, 4), frozenset({"PAY"})),
                  ReleaseFact(2, "PAY-2", ReleaseStatus.IN_PROGRESS, _span(2, 4),
                              frozenset({"PAY"}), frozenset({("service_now", "chg3")}))],
        blackouts=[BlackoutFact(1, "Quarter close", _span(3, 10))],
        environments=[EnvironmentFact(1, "pay-prod", EnvironmentTier.PRODUCTION,
                                      frozenset({"PAY"}))],
        bookings=[BookingFact(1, 1, BookingStatus.REQUESTED, _span(0, 2), release_id=1),
                  BookingFact(2, 1, BookingStatus.APPROVED, _span(1, 3), team="qa_team")],
        changes=[ChangeFact("service_now", "CHG1", ChangeState.ON_HOLD,
                            ApprovalState.NOT_REQUESTED, ChangeType.NORMAL, _span(3, 1),
                            frozenset({"pay-db"}), frozenset({"PAY"}), "ServiceNow"),
                 ChangeFact("jira_sm", "ITSM-2", ChangeState.NEW, ApprovalState.REQUESTED,
                            ChangeType.NORMAL, _span(3.5, 1), frozenset({"pay-db"}),
                            frozenset(), "Jira Service Management"),
                 # Approved for a window PAY-2 has left.
                 ChangeFact("service_now", "CHG3", ChangeState.SCHEDULED,
                            ApprovalState.APPROVED, ChangeType.NORMAL, _span(20, 1),
                            frozenset(), frozenset(), "ServiceNow")])
    found = find_conflicts(world)
    assert {c.kind for c in found} == set(ConflictKind)
    for conflict in found:
        # The team name is the requester's own word; everything else must be words.
        assert codes(conflict.reason.replace("qa_team", "qa team")) == [], conflict.kind


def test_words_for_codes_and_counts() -> None:
    assert plain("VERY_HIGH") == "very high"
    assert plain("release.transition") == "release transition"
    assert [count(n, w) for n, w in ((1, "blocker"), (3, "blocker"), (2, "story"),
                                     (2, "pull request"), (0, "day"))] == [
        "1 blocker", "3 blockers", "2 stories", "2 pull requests", "0 days"]
