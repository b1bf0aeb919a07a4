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


@pytest.mark.parametrize(("seed", "epoch"), [
    (3, EPOCH), (7, EPOCH), (7, EPOCH + timedelta(days=32)), (11, EPOCH + timedelta(days=20))])
def test_what_is_ready_or_deploying_has_its_work_done(seed: int, epoch: datetime) -> None:
    """A release manager reads READY as "nothing left to build": every issue of a ready or
    deploying release is done by now, its pull requests merged into the history before
    its tag, and the bugs its testing found closed."""
    world = build_world(seed=seed, epoch=epoch)
    finished = {r.key: r for r in world.releases if r.status in ("READY", "DEPLOYING")}
    assert finished
    for item in (i for i in world.work_items if i.release_key in finished):
        assert item.status_category == "done", item.key
        assert item.changelog[-1][4] == item.status and item.updated <= world.now, item.key
        times = [when for when, *_ in item.changelog]
        assert times == sorted(times) and item.created <= times[0], item.key
    for pull in (p for p in world.pull_requests if p.release_key in finished):
        assert pull.state == "closed" and pull.merged_at is not None, pull.number
        shas = [c.sha for c in world.commits[pull.app_key]]
        tag = finished[pull.release_key or ""].to_tag
        tag_sha = next(t.sha for t in world.tags if t.app_key == pull.app_key and t.name == tag)
        assert shas.index(pull.merge_commit_sha) < shas.index(tag_sha), pull.number
    assert all(i.state == "closed" for i in world.github_issues if i.release_key in finished)


def test_work_in_progress_is_left_in_progress() -> None:
    world = build_world(seed=7)
    in_progress = {r.key for r in world.releases if r.status == "IN_PROGRESS"}
    assert any(i.status_category != "done" for i in world.work_items
               if i.release_key in in_progress)
    assert any(p.merged_at is None for p in world.pull_requests if p.release_key in in_progress)


@pytest.mark.parametrize(("seed", "scale", "epoch"), [
    (7, 1, EPOCH), (7, 10, EPOCH), (3, 1, EPOCH + timedelta(days=20, hours=5))])
def test_nothing_is_opened_after_now(seed: int, scale: int, epoch: datetime) -> None:
    """Planned work is filed before its release's window, but never in the future: a
    client asking JIRA, GitHub or ServiceNow for what was opened finds it all behind
    now, each step of an issue between its opening and its last update, and each pull
    request opened after the issue it implements."""
    world = build_world(seed=seed, scale=scale, epoch=epoch)
    opened = {i.key: i.created for i in world.work_items}
    for item in world.work_items:
        assert item.created <= item.updated <= world.now, item.key
        assert all(item.created <= when <= item.updated for when, *_ in item.changelog), item.key
    for pull in world.pull_requests:
        assert opened.get(pull.jira_key or "", pull.created) <= pull.created <= pull.updated, \
            pull.number
    for record in (*world.github_issues, *world.change_requests):
        assert record.created <= record.updated <= world.now
    # Next month's planned work is still there, filed in the last weeks.
    planned = [r.key for r in world.releases if r.window_start > world.now + timedelta(days=30)]
    assert any(i.created > world.now - timedelta(days=31)
               for i in world.work_items if i.release_key in planned)
