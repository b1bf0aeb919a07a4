"""Conflict engine benchmark: its cost over a quarter, small world against one ten times larger.

Builds two synthetic quarters (91 days) of facts: 200 releases, 500 change windows
and 200 bookings, then 2,000 / 5,000 / 2,000. An organisation ten times larger
has more applications, environments and configuration items too, so the keys
grow with the records (one application per 25 releases, one configuration item
per 10 changes, one environment per 10 bookings): each key holds about as many
records in both worlds. Runs `api.domain.conflicts.find_conflicts` (every rule)
on each, prints the best CPU time of `--repeat` runs, the conflicts found and the ratio
of the two times. Near-linear means a ratio near 10; comparing every pair would
make it near 100. The goal is a ratio under 15.

Run: `.venv/bin/python -m bench.conflicts [--repeat 5] [--seed 3]`.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from datetime import UTC, datetime, timedelta

from api.domain.conflicts import (
    BlackoutFact,
    BookingFact,
    ChangeFact,
    EnvironmentFact,
    ReleaseFact,
    Span,
    World,
    find_conflicts,
)
from api.domain.enums import BookingStatus, EnvironmentTier, ReleaseStatus
from connectors.records import ApprovalState, ChangeState, ChangeType

QUARTER_START = datetime(2027, 1, 1, tzinfo=UTC)
QUARTER = timedelta(days=91)


def _window(rng: random.Random, shortest_hours: float, longest_hours: float) -> Span:
    start = QUARTER_START + timedelta(hours=rng.uniform(0, QUARTER.total_seconds() / 3600))
    start = start.replace(minute=0, second=0, microsecond=0)
    return Span(start, start + timedelta(hours=rng.uniform(shortest_hours, longest_hours)))


def build(releases: int, changes: int, bookings: int, seed: int) -> World:
    rng = random.Random(seed)
    apps = [f"APP{i}" for i in range(max(1, releases // 25))]
    cis = [f"ci-{i}" for i in range(max(1, changes // 10))]
    tiers = list(EnvironmentTier)
    environments = [EnvironmentFact(i, f"env-{i}", tiers[i % len(tiers)],
                                    frozenset(rng.sample(apps, min(len(apps), 3))))
                    for i in range(max(4, bookings // 10))]
    release_facts = [ReleaseFact(i, f"REL-{i}", rng.choice(list(ReleaseStatus)),
                                 _window(rng, 2, 72), frozenset({rng.choice(apps)}))
                     for i in range(releases)]
    change_facts = [ChangeFact(rng.choice(("servicenow", "remedy")), f"CHG{i:07d}",
                               rng.choice(list(ChangeState)), rng.choice(list(ApprovalState)),
                               rng.choice(list(ChangeType)),
                               _window(rng, 0, 6) if rng.random() > 0.05 else None,
                               frozenset(rng.sample(cis, min(len(cis), 2))),
                               frozenset({rng.choice(apps)}))
                    for i in range(changes)]
    booking_facts = [BookingFact(i, rng.choice(environments).id,
                                 rng.choice(list(BookingStatus)), _window(rng, 4, 120),
                                 release_id=rng.choice([None, rng.randrange(releases)]))
                     for i in range(bookings)]
    blackouts = [BlackoutFact(i, f"freeze-{i}", _window(rng, 24, 24 * 10),
                              frozenset(rng.sample(tiers, rng.randint(0, 2))),
                              frozenset(rng.sample(apps, rng.randint(0, min(3, len(apps))))))
                 for i in range(6)]
    return World(releases=release_facts, blackouts=blackouts, environments=environments,
                 bookings=booking_facts, changes=change_facts)


def best_time(world: World, repeat: int) -> tuple[float, int]:
    """The best CPU time of `repeat` runs: the engine is pure computation, and CPU time
    (unlike wall time) does not count other processes sharing the machine."""
    times = []
    found = 0
    for _ in range(repeat):
        gc.collect()  # garbage of the previous run is not this run's cost
        started = time.process_time()
        found = len(find_conflicts(world))
        times.append(time.process_time() - started)
    return min(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    sizes = [(200, 500, 200), (2000, 5000, 2000)]
    results = []
    for releases, changes, bookings in sizes:
        world = build(releases, changes, bookings, args.seed)
        seconds, found = best_time(world, args.repeat)
        results.append(seconds)
        print(f"{releases:>5} releases, {changes:>5} change windows, {bookings:>5} bookings: "
              f"{seconds * 1000:8.1f} ms CPU, {found} conflicts (best of {args.repeat})")
    ratio = results[1] / results[0]
    print(f"ratio (10x the records): {ratio:.1f} (goal: under 15; every pair would be ~100)")


if __name__ == "__main__":
    main()
