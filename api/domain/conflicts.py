"""One conflict engine: what clashes in a period, across Heatshield's data and every ITSM.

Plain rules over plain facts the service gathers (releases, blackouts, bookings,
environments, change requests from any ITSM); no I/O. Each rule groups its
records by a key (an application, an environment, a configuration item) and
finds overlaps with a sort and a sweep, so the cost grows with the records and
the conflicts found, not with every pair.

Windows are half-open, [start, end): a window ending when another starts does
not overlap it. A zero-length window (a change planned for one instant) is a
point: it overlaps a window that holds that instant, and another point at the
same instant.
"""

from __future__ import annotations

import enum
import heapq
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from api.domain.change_flow import is_open
from api.domain.enums import BookingStatus, EnvironmentTier, ReleaseStatus
from api.domain.releases import holds
from api.domain.words import plain
from connectors.records import ApprovalState, ChangeState, ChangeType

T = TypeVar("T")
U = TypeVar("U")


class ConflictKind(enum.Enum):
    RELEASE_OVERLAP = "RELEASE_OVERLAP"
    RELEASE_IN_BLACKOUT = "RELEASE_IN_BLACKOUT"
    CHANGE_IN_BLACKOUT = "CHANGE_IN_BLACKOUT"
    CHANGE_NOT_APPROVED = "CHANGE_NOT_APPROVED"
    BOOKING_OVERLAP = "BOOKING_OVERLAP"
    NO_PRODUCTION_BOOKING = "NO_PRODUCTION_BOOKING"
    CONFIGURATION_ITEM_OVERLAP = "CONFIGURATION_ITEM_OVERLAP"
    RELEASE_OUTSIDE_CHANGE_WINDOW = "RELEASE_OUTSIDE_CHANGE_WINDOW"


class Severity(enum.Enum):
    WARNING = "WARNING"  # worth a look; may be intended
    BLOCKING = "BLOCKING"  # a gate or a rule will refuse it as it stands


# Releases that are over take no part in planning conflicts.
CLOSED_RELEASES = frozenset({ReleaseStatus.DEPLOYED, ReleaseStatus.CANCELLED})
# Bookings that hold (or may soon hold) their environment.
LIVE_BOOKINGS = frozenset({BookingStatus.REQUESTED, BookingStatus.APPROVED})


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("conflict rules compare aware datetimes only")
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open window [start, end); start == end is a point in time."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))
        if self.end < self.start:
            raise ValueError("a window cannot end before it starts")

    @property
    def is_point(self) -> bool:
        return self.start == self.end

    def overlaps(self, other: Span) -> bool:
        if self.is_point and other.is_point:
            return self.start == other.start
        if self.is_point:
            return other.start <= self.start < other.end
        if other.is_point:
            return self.start <= other.start < self.end
        return self.start < other.end and other.start < self.end

    def shared(self, other: Span) -> Span:
        """Where two overlapping windows meet (a point when either is one)."""
        start = max(self.start, other.start)
        return Span(start, max(start, min(self.end, other.end)))


# --- facts ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Involved:
    """A record a conflict is about, enough for a client to link to it."""

    type: str  # Release | ChangeRequest | BlackoutWindow | EnvironmentBooking | Environment
    id: str  # the row id for Heatshield's records, "<source>:<number>" for a change
    label: str  # what people call it: a release key, a change number, a name


@dataclass(frozen=True, slots=True)
class ReleaseFact:
    id: int
    key: str
    status: ReleaseStatus
    span: Span | None
    applications: frozenset[str] = frozenset()
    # Its linked change requests, as (source, number casefolded).
    changes: frozenset[tuple[str, str]] = frozenset()

    @property
    def involved(self) -> Involved:
        return Involved("Release", str(self.id), self.key)


@dataclass(frozen=True, slots=True)
class BlackoutFact:
    id: int
    name: str
    span: Span
    tiers: frozenset[EnvironmentTier] = frozenset()  # empty: every tier
    applications: frozenset[str] = frozenset()  # empty: every application

    @property
    def involved(self) -> Involved:
        return Involved("BlackoutWindow", str(self.id), self.name)

    def covers(self, tier: EnvironmentTier, applications: frozenset[str]) -> bool:
        """Whether it freezes `tier` for (any of) `applications`."""
        tier_hit = not self.tiers or tier in self.tiers
        app_hit = not self.applications or bool(self.applications & applications)
        return tier_hit and app_hit


@dataclass(frozen=True, slots=True)
class EnvironmentFact:
    id: int
    name: str
    tier: EnvironmentTier
    applications: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class BookingFact:
    id: int
    environment_id: int
    status: BookingStatus
    span: Span
    release_id: int | None = None
    team: str = ""
    purpose: str = ""
    release_key: str = ""  # what people call the release it is for; its id only without

    @property
    def involved(self) -> Involved:
        return Involved("EnvironmentBooking", str(self.id), self.label)

    @property
    def label(self) -> str:
        who = self.team or self.release_key or (
            f"release #{self.release_id}" if self.release_id else "")
        return f"booking #{self.id}" + (f" ({who})" if who else "")


@dataclass(frozen=True, slots=True)
class ChangeFact:
    source: str
    number: str
    state: ChangeState
    approval: ApprovalState
    type: ChangeType
    span: Span | None
    configuration_items: frozenset[str] = frozenset()
    applications: frozenset[str] = frozenset()  # the applications its CIs belong to
    product: str = ""  # what people call its source (the product name); the source name without

    @property
    def involved(self) -> Involved:
        return Involved("ChangeRequest", f"{self.source}:{self.number}", self.number)

    @property
    def label(self) -> str:
        """A change by its number "in" its product, the system people know it from."""
        return f"{self.number} in {self.product or self.source}"

    @property
    def approved(self) -> bool:
        """Approved by its board, or a standard change (pre-approved by its model)."""
        return self.approval is ApprovalState.APPROVED or self.type is ChangeType.STANDARD


@dataclass(frozen=True, slots=True)
class Conflict:
    kind: ConflictKind
    severity: Severity
    span: Span  # where the clash is
    reason: str
    involved: tuple[Involved, ...]
    key: str = field(default="")  # what the records were grouped by, if anything

    @property
    def identity(self) -> tuple[str, ...]:
        """Stable across runs: the kind and the records involved."""
        return (self.kind.value, *(f"{i.type}:{i.id}" for i in self.involved))


@dataclass(frozen=True, slots=True)
class World:
    """Everything the engine looks at for one period."""

    releases: Sequence[ReleaseFact] = ()
    blackouts: Sequence[BlackoutFact] = ()
    environments: Sequence[EnvironmentFact] = ()
    bookings: Sequence[BookingFact] = ()
    changes: Sequence[ChangeFact] = ()


# --- the sweep -----------------------------------------------------------------------------

def _end_key(span: Span) -> tuple[datetime, int]:
    # At the same end, a window leaves the active set before a point does: a point at t
    # still meets a window starting at t, a window ending at t does not.
    return (span.end, 1 if span.is_point else 0)


def overlapping_pairs(items: Sequence[T], span: Callable[[T], Span]
                      ) -> Iterator[tuple[T, T]]:
    """Every pair of `items` whose spans overlap, earlier-starting first.

    Sort by start, then keep the windows still open at each start in a heap by end:
    O(n log n + pairs found).
    """
    order = sorted(range(len(items)), key=lambda i: (span(items[i]).start, i))
    active: list[tuple[datetime, int, int]] = []
    for i in order:
        here = span(items[i])
        while active and ((active[0][0], active[0][1]) < (here.start, 1)):
            heapq.heappop(active)
        for _, _, j in active:
            yield items[j], items[i]
        end, point = _end_key(here)
        heapq.heappush(active, (end, point, i))


def overlapping_between(left: Sequence[T], right: Sequence[U], left_span: Callable[[T], Span],
                        right_span: Callable[[U], Span]) -> Iterator[tuple[T, U]]:
    """Every (left, right) pair whose spans overlap, in one sweep over both sets."""
    spans = ([left_span(x) for x in left], [right_span(y) for y in right])
    events = sorted([(s.start, 0, i) for i, s in enumerate(spans[0])]
                    + [(s.start, 1, i) for i, s in enumerate(spans[1])])
    active: tuple[list[tuple[datetime, int, int]], list[tuple[datetime, int, int]]] = ([], [])
    for start, side, i in events:
        here = spans[side][i]
        for heap in active:
            while heap and (heap[0][0], heap[0][1]) < (start, 1):
                heapq.heappop(heap)
        for _, _, j in active[1 - side]:
            if side == 0:
                yield left[i], right[j]
            else:
                yield left[j], right[i]
        end, point = _end_key(here)
        heapq.heappush(active[side], (end, point, i))


def _known(span: Span | None) -> Span:
    assert span is not None  # the rules keep only records with a window
    return span


def _grouped(items: Iterable[T], keys: Callable[[T], Iterable[Hashable]]
             ) -> dict[Hashable, list[T]]:
    groups: dict[Hashable, list[T]] = defaultdict(list)
    for item in items:
        for key in keys(item):
            groups[key].append(item)
    return groups


def _when(span: Span) -> str:
    def at(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"at {at(span.start)}" if span.is_point else f"from {at(span.start)} to {at(span.end)}"


# --- the rules -----------------------------------------------------------------------------

def release_overlaps(releases: Sequence[ReleaseFact]) -> Iterator[Conflict]:
    """Two open releases of one application whose windows overlap."""
    planned = [r for r in releases if r.span is not None and r.status not in CLOSED_RELEASES]
    seen: set[tuple[int, int]] = set()
    by_app = _grouped(planned, lambda r: sorted(r.applications))
    for app in sorted(by_app, key=str):
        for a, b in overlapping_pairs(by_app[app], lambda r: _known(r.span)):
            pair = (min(a.id, b.id), max(a.id, b.id))
            if pair in seen:
                continue
            seen.add(pair)
            assert a.span is not None and b.span is not None
            where = a.span.shared(b.span)
            yield Conflict(ConflictKind.RELEASE_OVERLAP, Severity.WARNING, where,
                           f"Releases {a.key} and {b.key} both change {app} {_when(where)}.",
                           (a.involved, b.involved), key=str(app))


def releases_in_blackouts(releases: Sequence[ReleaseFact], blackouts: Sequence[BlackoutFact]
                          ) -> Iterator[Conflict]:
    """An open release whose window falls in a blackout over production for its applications.

    Releases ship to production, so a blackout counts when it covers the PRODUCTION tier
    (or every tier) and one of the release's applications (or every application).
    """
    planned = [r for r in releases if r.span is not None and r.status not in CLOSED_RELEASES]
    for release, blackout in overlapping_between(
            planned, blackouts, lambda r: _known(r.span), lambda b: b.span):
        if not blackout.covers(EnvironmentTier.PRODUCTION, release.applications):
            continue
        assert release.span is not None
        where = release.span.shared(blackout.span)
        yield Conflict(ConflictKind.RELEASE_IN_BLACKOUT, Severity.BLOCKING, where,
                       f"Release {release.key} is planned inside the blackout "
                       f"\"{blackout.name}\" {_when(where)}.",
                       (release.involved, blackout.involved))


def _open_windows(changes: Sequence[ChangeFact]) -> list[ChangeFact]:
    return [c for c in changes if c.span is not None and is_open(c.state)]


def changes_in_blackouts(changes: Sequence[ChangeFact], blackouts: Sequence[BlackoutFact]
                         ) -> Iterator[Conflict]:
    """An open change whose window falls in a blackout over production for its applications.

    A blackout scoped to applications covers a change whose configuration items belong to
    one of them; a change whose items belong to no known application meets only blackouts
    over every application.
    """
    for change, blackout in overlapping_between(
            _open_windows(changes), blackouts, lambda c: _known(c.span), lambda b: b.span):
        if not blackout.covers(EnvironmentTier.PRODUCTION, change.applications):
            continue
        assert change.span is not None
        where = change.span.shared(blackout.span)
        yield Conflict(ConflictKind.CHANGE_IN_BLACKOUT, Severity.BLOCKING, where,
                       f"Change {change.label} is scheduled inside the "
                       f"blackout \"{blackout.name}\" {_when(where)}.",
                       (change.involved, blackout.involved))


def unapproved_changes(changes: Sequence[ChangeFact]) -> Iterator[Conflict]:
    """An open change with a planned window that its board has not approved (yet)."""
    for change in _open_windows(changes):
        if change.approved:
            continue
        assert change.span is not None
        waiting = {ApprovalState.REJECTED: "was rejected by its approvers",
                   ApprovalState.REQUESTED: "is still waiting for approval",
                   ApprovalState.NOT_REQUESTED: "has not been sent for approval"}
        yield Conflict(ConflictKind.CHANGE_NOT_APPROVED, Severity.BLOCKING, change.span,
                       f"Change {change.label} has a window "
                       f"{_when(change.span)} but {waiting[change.approval]}.",
                       (change.involved,))


def releases_outside_change_windows(releases: Sequence[ReleaseFact],
                                    changes: Sequence[ChangeFact]) -> Iterator[Conflict]:
    """An open release whose window leaves the window its linked change was approved for:
    it would deploy when nobody approved (the change gate refuses it too)."""
    approved = {(c.source, c.number.casefold()): c for c in _open_windows(changes)
                if c.approval is ApprovalState.APPROVED}
    for release in releases:
        if release.span is None or release.status in CLOSED_RELEASES:
            continue
        for ident in sorted(release.changes):
            change = approved.get(ident)
            if change is None or change.span is None:
                continue
            if holds(change.span.start, change.span.end, release.span.start, release.span.end):
                continue
            yield Conflict(ConflictKind.RELEASE_OUTSIDE_CHANGE_WINDOW, Severity.BLOCKING,
                           release.span,
                           f"Release {release.key} is planned {_when(release.span)}, outside "
                           f"the window {_when(change.span)} its change {change.label} was "
                           f"approved for.", (release.involved, change.involved))


def booking_overlaps(bookings: Sequence[BookingFact],
                     environments: Sequence[EnvironmentFact]) -> Iterator[Conflict]:
    """Two requested or approved bookings of one environment whose windows overlap."""
    names = {e.id: e.name for e in environments}
    live = [b for b in bookings if b.status in LIVE_BOOKINGS]
    by_env = _grouped(live, lambda b: (b.environment_id,))
    for env_id in sorted(by_env, key=str):
        for a, b in overlapping_pairs(by_env[env_id], lambda b: b.span):
            where = a.span.shared(b.span)
            both_approved = (a.status is BookingStatus.APPROVED
                             and b.status is BookingStatus.APPROVED)
            env = names.get(int(str(env_id)), f"environment #{env_id}")
            yield Conflict(
                ConflictKind.BOOKING_OVERLAP,
                Severity.BLOCKING if both_approved else Severity.WARNING, where,
                f"{a.label[:1].upper() + a.label[1:]} ({plain(a.status.name)}) and {b.label} "
                f"({plain(b.status.name)}) both want {env} {_when(where)}.",
                (a.involved, b.involved, Involved("Environment", str(env_id), env)),
                key=env)


def production_environments(release: ReleaseFact, environments: Sequence[EnvironmentFact]
                            ) -> list[EnvironmentFact]:
    """The production environments the release deploys to: those running its applications."""
    return [e for e in environments if e.tier is EnvironmentTier.PRODUCTION
            and e.applications & release.applications]


def unbooked_releases(releases: Sequence[ReleaseFact], environments: Sequence[EnvironmentFact],
                      bookings: Sequence[BookingFact]) -> Iterator[Conflict]:
    """An open release whose window is not covered by an approved booking, for that
    release, of each production environment it deploys to."""
    approved = _grouped((b for b in bookings if b.status is BookingStatus.APPROVED
                         and b.release_id is not None),
                        lambda b: ((b.release_id, b.environment_id),))
    prod = [e for e in environments if e.tier is EnvironmentTier.PRODUCTION]
    by_app = _grouped(prod, lambda e: sorted(e.applications))
    for release in releases:
        if release.span is None or release.status in CLOSED_RELEASES:
            continue
        span = release.span
        targets = {e.id: e for app in release.applications for e in by_app.get(app, [])}
        for env in sorted(targets.values(), key=lambda e: e.name):
            held = approved.get((release.id, env.id), [])
            if any(b.span.start <= span.start and span.end <= b.span.end for b in held):
                continue
            how = ("its approved booking does not cover the whole window" if held
                   else "it has no approved booking of it")
            yield Conflict(ConflictKind.NO_PRODUCTION_BOOKING, Severity.WARNING, span,
                           f"Release {release.key} deploys to {env.name} {_when(span)}, but "
                           f"{how}.",
                           (release.involved, Involved("Environment", str(env.id), env.name)),
                           key=env.name)


def configuration_item_overlaps(changes: Sequence[ChangeFact]) -> Iterator[Conflict]:
    """Two open changes (from any ITSM) on one configuration item at overlapping times."""
    by_ci = _grouped(_open_windows(changes),
                     lambda c: sorted({ci.strip().lower() for ci in c.configuration_items
                                       if ci.strip()}))
    seen: set[tuple[str, str]] = set()
    for ci in sorted(by_ci, key=str):
        for a, b in overlapping_pairs(by_ci[ci], lambda c: _known(c.span)):
            pair = tuple(sorted((a.involved.id, b.involved.id)))
            if pair in seen or a.involved.id == b.involved.id:
                continue
            seen.add((pair[0], pair[1]))
            assert a.span is not None and b.span is not None
            where = a.span.shared(b.span)
            yield Conflict(ConflictKind.CONFIGURATION_ITEM_OVERLAP, Severity.WARNING, where,
                           f"Changes {a.label} and {b.label} both "
                           f"touch {ci} {_when(where)}.",
                           (a.involved, b.involved), key=str(ci))


def find_conflicts(world: World, kinds: Iterable[ConflictKind] | None = None
                   ) -> list[Conflict]:
    """Every conflict in `world` (of `kinds`, default all), by start then kind."""
    wanted = set(kinds) if kinds is not None else set(ConflictKind)
    rules: list[tuple[ConflictKind, Callable[[], Iterable[Conflict]]]] = [
        (ConflictKind.RELEASE_OVERLAP, lambda: release_overlaps(world.releases)),
        (ConflictKind.RELEASE_IN_BLACKOUT,
         lambda: releases_in_blackouts(world.releases, world.blackouts)),
        (ConflictKind.CHANGE_IN_BLACKOUT,
         lambda: changes_in_blackouts(world.changes, world.blackouts)),
        (ConflictKind.CHANGE_NOT_APPROVED, lambda: unapproved_changes(world.changes)),
        (ConflictKind.BOOKING_OVERLAP,
         lambda: booking_overlaps(world.bookings, world.environments)),
        (ConflictKind.NO_PRODUCTION_BOOKING,
         lambda: unbooked_releases(world.releases, world.environments, world.bookings)),
        (ConflictKind.CONFIGURATION_ITEM_OVERLAP,
         lambda: configuration_item_overlaps(world.changes)),
        (ConflictKind.RELEASE_OUTSIDE_CHANGE_WINDOW,
         lambda: releases_outside_change_windows(world.releases, world.changes)),
    ]
    found = [c for kind, rule in rules if kind in wanted for c in rule()]
    found.sort(key=lambda c: (c.span.start, c.kind.value, c.identity))
    return found
