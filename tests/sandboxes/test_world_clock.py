"""One clock per world: every sandbox stamps writes in the same world time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.sandbox.world import EPOCH, WorldClock, build_world


def test_world_time_starts_at_the_epoch_and_advances_with_wall_time() -> None:
    wall = [100.0]
    clock = WorldClock(EPOCH, wall=lambda: wall[0])
    assert clock.now() == EPOCH
    wall[0] += 90.5
    assert clock.now() == EPOCH + timedelta(seconds=90.5)


def test_a_world_built_on_another_day_has_the_same_shape_shifted() -> None:
    later = EPOCH + timedelta(days=40)
    base, moved = build_world(seed=3), build_world(seed=3, epoch=later)
    assert moved.now == later and moved.clock.epoch == later
    assert len(moved.releases) == len(base.releases)
    assert len(moved.work_items) == len(base.work_items)
    # Release keys and windows follow calendar months, so they move by about a month.
    assert moved.releases[0].key != base.releases[0].key
    assert all(abs((m.window_start - later) - (b.window_start - EPOCH)) <= timedelta(days=31)
               for b, m in zip(base.releases, moved.releases, strict=True))


def test_an_epoch_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        build_world(epoch=datetime(2026, 12, 2, 9, 0))


def test_the_world_clock_is_never_behind_the_seeded_data() -> None:
    world = build_world()
    assert world.clock.now() >= world.now
    assert world.clock.now() < datetime.now(UTC) + timedelta(days=3650)


@pytest.mark.parametrize(("seed", "scale"), [(7, 1), (7, 10), (3, 1)])
def test_no_change_is_approved_before_it_is_past_authorization(seed: int, scale: int) -> None:
    """A CAB member reads a change in assessment or authorization as awaiting approval:
    the world never has one approved there (a standard change skips both stages)."""
    world = build_world(seed, scale)
    early = [(c.itsm, c.seq, c.stage, c.approval) for c in world.change_requests
             if c.stage in ("new", "assess", "authorize") and c.approval == "approved"]
    assert early == []


@pytest.mark.parametrize(("seed", "epoch"), [
    (3, EPOCH), (7, EPOCH + timedelta(days=32)), (11, EPOCH + timedelta(days=20, hours=7))])
def test_what_is_deploying_or_being_implemented_is_in_its_window_now(
        seed: int, epoch: datetime) -> None:
    world = build_world(seed=seed, epoch=epoch)
    deploying = [r for r in world.releases if r.status == "DEPLOYING"]
    implementing = [c for c in world.change_requests if c.stage == "implement"]
    assert implementing
    for release in deploying:
        assert release.window_start <= world.now < release.window_end, release.key
    for change in implementing:
        assert change.planned_start <= world.now < change.planned_end, change.seq
