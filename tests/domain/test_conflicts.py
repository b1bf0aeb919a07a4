"""The conflict engine: each rule, its edges (touching windows, instants, time zones), and
that the sweep finds exactly what comparing every pair would."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.domain.conflicts import (
    BlackoutFact,
    BookingFact,
    ChangeFact,
    ConflictKind,
    EnvironmentFact,
    ReleaseFact,
    Severity,
    Span,
    World,
    find_conflicts,
    overlapping_between,
    overlapping_pairs,
)
from api.domain.enums import BookingStatus, EnvironmentTier, ReleaseStatus
from connectors.records import ApprovalState, ChangeState, ChangeType

MONDAY = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
PROD = EnvironmentTier.PRODUCTION


def at(hours: float) -> datetime:
    return MONDAY + timedelta(hours=hours)


def span(start: float, end: float) -> Span:
    return Span(at(start), at(end))


def release(pk: int, start: float, end: float, *apps: str,
            status: ReleaseStatus = ReleaseStatus.PLANNED) -> ReleaseFact:
    return ReleaseFact(pk, f"REL-{pk}", status, span(start, end), frozenset(apps))


def change(number: str, start: float | None, end: float | None, *cis: str,
           source: str = "servicenow", state: ChangeState = ChangeState.SCHEDULED,
           approval: ApprovalState = ApprovalState.APPROVED,
           type: ChangeType = ChangeType.NORMAL, apps: tuple[str, ...] = ()) -> ChangeFact:
    window = span(start, end) if start is not None and end is not None else None
    return ChangeFact(source, number, state, approval, type, window, frozenset(cis),
                      frozenset(apps), PRODUCTS.get(source, ""))


PRODUCTS = {"servicenow": "ServiceNow", "remedy": "BMC Remedy"}


def booking(pk: int, env: int, start: float, end: float,
            status: BookingStatus = BookingStatus.APPROVED, release_id: int | None = None
            ) -> BookingFact:
    return BookingFact(pk, env, status, span(start, end), release_id=release_id,
                       team="" if release_id else "qa team")


def kinds(world: World) -> list[ConflictKind]:
    return [c.kind for c in find_conflicts(world)]


# --- windows -----------------------------------------------------------------------------

def test_windows_that_only_touch_do_not_overlap() -> None:
    assert not span(0, 2).overlaps(span(2, 4))
    assert not span(2, 4).overlaps(span(0, 2))
    assert span(0, 2).overlaps(span(1, 4))


def test_an_instant_overlaps_the_window_that_holds_it_but_not_its_end() -> None:
    assert span(2, 2).overlaps(span(2, 4))  # at the start: inside
    assert span(3, 3).overlaps(span(2, 4))
    assert not span(4, 4).overlaps(span(2, 4))  # at the end: outside (half-open)
    assert span(3, 3).overlaps(span(3, 3))
    assert not span(3, 3).overlaps(span(5, 5))


def test_the_same_instant_written_in_two_time_zones_is_one_instant() -> None:
    paris = timezone(timedelta(hours=1))
    local = Span(datetime(2027, 3, 1, 10, 0, tzinfo=paris), datetime(2027, 3, 1, 11, 0,
                                                                     tzinfo=paris))
    assert local == span(1, 2)  # 10:00+01:00 is 09:00Z
    assert not local.overlaps(span(2, 3))


def test_a_naive_time_or_a_window_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        Span(datetime(2027, 3, 1), datetime(2027, 3, 2))
    with pytest.raises(ValueError, match="before it starts"):
        span(3, 2)


def brute_pairs(spans: list[Span]) -> set[tuple[int, int]]:
    return {(i, j) for i, j in itertools.combinations(range(len(spans)), 2)
            if spans[i].overlaps(spans[j])}


@pytest.mark.parametrize("seed", range(8))
def test_the_sweep_finds_exactly_the_pairs_that_comparing_every_pair_finds(seed: int) -> None:
    rng = random.Random(seed)
    spans = []
    for _ in range(60):
        start = rng.randint(0, 40)
        spans.append(span(start, start + rng.choice([0, 0, 1, 2, 5, 9])))
    found = {tuple(sorted((a, b))) for a, b in
             overlapping_pairs(list(range(len(spans))), lambda i: spans[i])}
    assert found == brute_pairs(spans)
    left, right = list(range(30)), list(range(30, 60))
    between = set(overlapping_between(left, right, lambda i: spans[i], lambda i: spans[i]))
    assert between == {(i, j) for i in left for j in right if spans[i].overlaps(spans[j])}


# --- releases ------------------------------------------------------------------------------

def test_two_open_releases_of_one_application_overlapping_conflict() -> None:
    found = find_conflicts(World(releases=[release(1, 0, 4, "PAY"), release(2, 3, 6, "PAY")]))
    assert [c.kind for c in found] == [ConflictKind.RELEASE_OVERLAP]
    assert found[0].span == span(3, 4)
    assert "REL-1 and REL-2 both change PAY" in found[0].reason
    assert [i.label for i in found[0].involved] == ["REL-1", "REL-2"]


def test_releases_of_different_applications_touching_or_closed_do_not_conflict() -> None:
    assert kinds(World(releases=[release(1, 0, 4, "PAY"), release(2, 0, 4, "INV")])) == []
    assert kinds(World(releases=[release(1, 0, 4, "PAY"), release(2, 4, 6, "PAY")])) == []
    assert kinds(World(releases=[release(1, 0, 4, "PAY"), release(
        2, 1, 3, "PAY", status=ReleaseStatus.CANCELLED)])) == []


def test_releases_sharing_two_applications_conflict_once() -> None:
    world = World(releases=[release(1, 0, 4, "PAY", "INV"), release(2, 1, 2, "PAY", "INV")])
    assert kinds(world) == [ConflictKind.RELEASE_OVERLAP]


def test_a_release_inside_a_production_blackout_over_its_application_conflicts() -> None:
    freeze = BlackoutFact(7, "Year-end freeze", span(10, 30), frozenset({PROD}),
                          frozenset({"PAY"}))
    found = find_conflicts(World(releases=[release(1, 20, 22, "PAY")], blackouts=[freeze]))
    assert [(c.kind, c.severity) for c in found] == [(ConflictKind.RELEASE_IN_BLACKOUT,
                                                      Severity.BLOCKING)]
    assert "Year-end freeze" in found[0].reason


def test_a_blackout_scoped_elsewhere_or_only_touching_leaves_a_release_alone() -> None:
    other_app = BlackoutFact(7, "INV freeze", span(10, 30), frozenset(), frozenset({"INV"}))
    test_only = BlackoutFact(8, "Test lab move", span(10, 30),
                             frozenset({EnvironmentTier.TEST}), frozenset())
    everything = BlackoutFact(9, "Data centre move", span(22, 40), frozenset(), frozenset())
    world = World(releases=[release(1, 20, 22, "PAY")],
                  blackouts=[other_app, test_only, everything])
    assert kinds(world) == []


# --- change requests ----------------------------------------------------------------------

def test_a_change_window_without_approval_conflicts_in_words_of_why() -> None:
    found = find_conflicts(World(changes=[
        change("CHG1", 0, 1, approval=ApprovalState.REQUESTED),
        change("CHG2", 2, 3, approval=ApprovalState.REJECTED, state=ChangeState.AUTHORIZE),
        change("CHG3", 4, 5),  # approved
        change("CHG4", 4, 5, approval=ApprovalState.NOT_REQUESTED, type=ChangeType.STANDARD),
        change("CHG5", 6, 7, approval=ApprovalState.REQUESTED, state=ChangeState.CANCELED),
        change("CHG6", None, None, approval=ApprovalState.REQUESTED),  # no window
    ]))
    assert [(c.kind, c.involved[0].label) for c in found] == [
        (ConflictKind.CHANGE_NOT_APPROVED, "CHG1"), (ConflictKind.CHANGE_NOT_APPROVED, "CHG2")]
    assert "still waiting for approval" in found[0].reason
    assert "rejected" in found[1].reason


def linked(fact: ReleaseFact, *numbers: str, source: str = "servicenow") -> ReleaseFact:
    return dataclasses.replace(fact, changes=frozenset((source, n.casefold()) for n in numbers))


def test_a_release_outside_its_approved_changes_window_is_blocking_and_names_both() -> None:
    found = find_conflicts(World(
        releases=[linked(release(1, 30, 33, "PAY"), "CHG1"),  # moved a day on
                  linked(release(2, 6, 9, "INV"), "CHG2"),  # inside: fine
                  linked(release(3, 6, 10, "IDN"), "CHG3")],  # ends an hour late
        changes=[change("CHG1", 6, 9), change("CHG2", 5, 9), change("CHG3", 6, 9)]),
        kinds=[ConflictKind.RELEASE_OUTSIDE_CHANGE_WINDOW])
    assert [(c.severity, [i.label for i in c.involved]) for c in found] == [
        (Severity.BLOCKING, ["REL-3", "CHG3"]), (Severity.BLOCKING, ["REL-1", "CHG1"])]
    assert found[1].reason == (
        "Release REL-1 is planned from 2027-03-02 14:00 UTC to 2027-03-02 17:00 UTC, outside "
        "the window from 2027-03-01 14:00 UTC to 2027-03-01 17:00 UTC its change CHG1 in "
        "ServiceNow was approved for.")


def test_only_an_open_approved_linked_change_holds_a_release_to_its_window() -> None:
    releases = [linked(release(1, 30, 33, "PAY"), "CHG1"),
                linked(release(2, 30, 33, "INV"), "CHG2"),
                linked(release(3, 30, 33, "IDN"), "CHG3"),
                release(4, 30, 33, "NTF"),  # links no change
                linked(release(5, 30, 33, "RPT", status=ReleaseStatus.DEPLOYED), "CHG5"),
                linked(release(6, 30, 33, "CHK"), "CHG6", source="remedy")]
    changes = [change("CHG1", 6, 9, approval=ApprovalState.REQUESTED),  # not approved yet
               change("CHG2", 6, 9, state=ChangeState.CANCELED),
               change("CHG3", None, None),  # no window
               change("CHG4", 6, 9),
               change("CHG5", 6, 9),
               change("CHG6", 6, 9)]  # same number, another ITSM
    assert find_conflicts(World(releases=releases, changes=changes),
                          kinds=[ConflictKind.RELEASE_OUTSIDE_CHANGE_WINDOW]) == []


def test_a_zero_length_change_window_is_an_instant_that_can_fall_in_a_blackout() -> None:
    freeze = BlackoutFact(7, "Freeze", span(10, 20), frozenset(), frozenset())
    inside = change("CHG1", 10, 10)
    at_end = change("CHG2", 20, 20)
    found = find_conflicts(World(changes=[inside, at_end], blackouts=[freeze]))
    assert [(c.kind, c.involved[0].label) for c in found] == [
        (ConflictKind.CHANGE_IN_BLACKOUT, "CHG1")]
    assert "at 2027-03-01 18:00 UTC" in found[0].reason


def test_a_blackout_over_applications_covers_changes_on_their_configuration_items() -> None:
    freeze = BlackoutFact(7, "PAY freeze", span(0, 10), frozenset({PROD}), frozenset({"PAY"}))
    world = World(blackouts=[freeze], changes=[
        change("CHG1", 1, 2, "pay-db", apps=("PAY",)),
        change("CHG2", 1, 2, "inv-db", apps=("INV",)),
        change("CHG3", 3, 4, "unknown-box")])
    assert [c.involved[0].label for c in find_conflicts(world)] == ["CHG1"]


def test_two_changes_from_either_itsm_on_one_configuration_item_at_once_conflict() -> None:
    found = find_conflicts(World(changes=[
        change("CHG1", 0, 4, "pay-db"),
        change("CRQ9", 3, 5, "PAY-DB ", source="remedy"),
        change("CHG2", 4, 6, "inv-db"),  # another item
        change("CHG3", 4.5, 6, "pay-db"),  # after CHG1 ends, while CRQ9 runs
        change("CHG4", 1, 2, "pay-db", state=ChangeState.CLOSED)]))  # over
    pairs = [(c.kind, tuple(i.label for i in c.involved)) for c in found]
    assert pairs == [(ConflictKind.CONFIGURATION_ITEM_OVERLAP, ("CHG1", "CRQ9")),
                     (ConflictKind.CONFIGURATION_ITEM_OVERLAP, ("CRQ9", "CHG3"))]
    assert found[0].reason == ("Changes CHG1 in ServiceNow and CRQ9 in BMC Remedy both touch "
                               "pay-db from 2027-03-01 11:00 UTC to 2027-03-01 12:00 UTC.")


def test_a_change_without_a_product_name_is_named_by_its_source() -> None:
    found = find_conflicts(World(changes=[change("CHG7", 0, 1, approval=ApprovalState.REQUESTED,
                                                 source="itsm-eu")]))
    assert "Change CHG7 in itsm-eu has a window" in found[0].reason


def test_two_instants_on_one_item_at_the_same_moment_conflict() -> None:
    world = World(changes=[change("CHG1", 2, 2, "ci"), change("CHG2", 2, 2, "ci")])
    assert kinds(world) == [ConflictKind.CONFIGURATION_ITEM_OVERLAP]


# --- bookings ------------------------------------------------------------------------------

ENVS = [EnvironmentFact(1, "staging", EnvironmentTier.STAGING, frozenset({"PAY"})),
        EnvironmentFact(2, "production", PROD, frozenset({"PAY", "INV"}))]


def test_overlapping_bookings_of_one_environment_conflict_blocking_when_both_approved() -> None:
    found = find_conflicts(World(environments=ENVS, bookings=[
        booking(1, 1, 0, 4), booking(2, 1, 2, 6), booking(3, 1, 5, 8,
                                                           status=BookingStatus.REQUESTED),
        booking(4, 2, 0, 8), booking(5, 1, 0, 8, status=BookingStatus.REJECTED)]))
    summary = [(c.kind, c.severity, tuple(i.id for i in c.involved[:2])) for c in found]
    assert summary == [
        (ConflictKind.BOOKING_OVERLAP, Severity.BLOCKING, ("1", "2")),
        (ConflictKind.BOOKING_OVERLAP, Severity.WARNING, ("2", "3"))]
    assert "staging" in found[0].reason


def test_a_booking_is_named_by_its_team_or_its_releases_key_never_its_row_alone() -> None:
    release_booking = BookingFact(1, 1, BookingStatus.APPROVED, span(0, 4), release_id=37,
                                  release_key="CHK-2027.02")
    team_booking = BookingFact(2, 1, BookingStatus.REQUESTED, span(2, 6), team="Performance")
    [found] = find_conflicts(World(environments=ENVS, bookings=[release_booking, team_booking]))
    assert [i.label for i in found.involved[:2]] == ["booking #1 (CHK-2027.02)",
                                                     "booking #2 (Performance)"]
    assert "CHK-2027.02" in found.reason and "release #37" not in found.reason


def test_bookings_back_to_back_do_not_conflict() -> None:
    world = World(environments=ENVS, bookings=[booking(1, 1, 0, 4), booking(2, 1, 4, 8)])
    assert kinds(world) == []


def test_a_release_needs_an_approved_booking_of_its_production_environment_over_its_window(
        ) -> None:
    rel = release(1, 10, 12, "PAY")
    unbooked = find_conflicts(World(releases=[rel], environments=ENVS))
    assert [c.kind for c in unbooked] == [ConflictKind.NO_PRODUCTION_BOOKING]
    assert "no approved booking" in unbooked[0].reason and "production" in unbooked[0].reason

    short = World(releases=[rel], environments=ENVS, bookings=[booking(1, 2, 10, 11,
                                                                       release_id=1)])
    assert "does not cover the whole window" in find_conflicts(short)[0].reason
    requested = World(releases=[rel], environments=ENVS, bookings=[
        booking(1, 2, 9, 13, status=BookingStatus.REQUESTED, release_id=1)])
    assert kinds(requested) == [ConflictKind.NO_PRODUCTION_BOOKING]
    someone_elses = World(releases=[rel], environments=ENVS,
                          bookings=[booking(1, 2, 9, 13, release_id=99)])
    assert kinds(someone_elses) == [ConflictKind.NO_PRODUCTION_BOOKING]
    covered = World(releases=[rel], environments=ENVS,
                    bookings=[booking(1, 2, 9, 13, release_id=1)])
    assert kinds(covered) == []


def test_a_release_whose_applications_run_in_no_production_environment_needs_no_booking(
        ) -> None:
    assert kinds(World(releases=[release(1, 10, 12, "CRM")], environments=ENVS)) == []


def test_conflicts_come_by_start_and_can_be_asked_for_by_kind() -> None:
    world = World(releases=[release(1, 5, 9, "PAY"), release(2, 6, 8, "PAY")],
                  changes=[change("CHG1", 0, 1, approval=ApprovalState.REQUESTED)])
    assert kinds(world) == [ConflictKind.CHANGE_NOT_APPROVED, ConflictKind.RELEASE_OVERLAP]
    only = find_conflicts(world, kinds=[ConflictKind.RELEASE_OVERLAP])
    assert [c.kind for c in only] == [ConflictKind.RELEASE_OVERLAP]
