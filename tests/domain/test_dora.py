"""DORA's four keys, against examples computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.domain.dora import (
    Band,
    Bucket,
    EmergencyChange,
    Facts,
    FourKeys,
    Incident,
    Key,
    Period,
    ProductionDeployment,
    Work,
    band,
    buckets,
    failures,
    four_keys,
    shipped,
    trend,
)

MON = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # a Monday
FOUR_WEEKS = Period(MON, MON + timedelta(weeks=4))


def deploy(id: str, at: datetime, app: str = "PAY", change: str | None = None,
           commit: datetime | None = None, **kw: bool) -> ProductionDeployment:
    return ProductionDeployment(id, app, at, change=change, committed_at=commit, **kw)


def test_deployment_frequency_is_deployments_per_week_of_the_period() -> None:
    facts = Facts([deploy(f"d{n}", MON + timedelta(days=3 * n)) for n in range(8)])

    keys = four_keys(facts, FOUR_WEEKS)

    assert keys.deployment_frequency.value == 2.0  # 8 in 4 weeks
    assert keys.deployment_frequency.sample_size == 8
    assert keys.deployment_frequency.band is Band.HIGH


def test_failed_attempts_and_deployments_outside_the_period_do_not_count() -> None:
    facts = Facts([deploy("in", MON + timedelta(days=1)),
                   deploy("failed", MON + timedelta(days=2), succeeded=False),
                   deploy("before", MON - timedelta(seconds=1)),
                   deploy("at-end", FOUR_WEEKS.end)])

    keys = four_keys(facts, FOUR_WEEKS)

    assert keys.deployment_frequency.records == ("in",)


def test_a_period_without_deployments_has_no_rate_lead_time_or_restore_time() -> None:
    keys = four_keys(Facts([]), FOUR_WEEKS)

    assert keys.deployment_frequency.value == 0.0
    assert keys.deployment_frequency.band is Band.LOW
    for figure in (keys.lead_time, keys.change_failure_rate, keys.time_to_restore):
        assert figure.value is None and figure.band is None and figure.sample_size == 0


def test_lead_time_is_the_median_hours_from_each_pieces_first_commit_to_production() -> None:
    # a ships work merged up to its commit (Mon 08:00); b the work merged after that.
    facts = Facts([deploy("a", MON + timedelta(hours=10), commit=MON - timedelta(hours=1)),
                   deploy("b", MON + timedelta(days=2), commit=MON + timedelta(days=1))],
                  work=[Work("pr1", "PAY", MON - timedelta(hours=2),
                             first_commit_at=MON - timedelta(hours=6)),  # a: 10 + 6 = 16 h
                        Work("pr2", "PAY", MON - timedelta(hours=1)),  # a, no commits: 11 h
                        # merged before a was deployed, but after a's commit: b, 48 - 1 = 47 h
                        Work("pr3", "PAY", MON + timedelta(hours=1),
                             first_commit_at=MON + timedelta(hours=1)),
                        Work("pr4", "PAY", MON + timedelta(days=3))])  # shipped by nothing yet

    lead = four_keys(facts, FOUR_WEEKS).lead_time

    assert lead.value == 16.0  # median of 11, 16, 47
    assert lead.sample_size == 3
    assert lead.work == ("pr1", "pr2", "pr3")
    assert lead.records == ("a", "b")
    assert lead.band is Band.ELITE  # under a day


def test_a_redeployment_or_a_rollback_ships_no_work_of_its_own() -> None:
    facts = Facts([deploy("d1", MON, commit=MON - timedelta(hours=3)),
                   deploy("back", MON + timedelta(hours=5), commit=MON - timedelta(days=9),
                          rollback=True),
                   deploy("again", MON + timedelta(hours=8), commit=MON - timedelta(hours=3)),
                   deploy("d2", MON + timedelta(days=1), commit=MON + timedelta(hours=20))],
                  work=[Work("old", "PAY", MON - timedelta(days=10)),
                        Work("new", "PAY", MON + timedelta(hours=4))])

    assert shipped(facts) == {"d1": [Work("old", "PAY", MON - timedelta(days=10))],
                              "d2": [Work("new", "PAY", MON + timedelta(hours=4))]}
    lead = four_keys(facts, FOUR_WEEKS).lead_time
    assert lead.value == (24 * 10 + 20) / 2  # 240 h and 20 h
    assert lead.records == ("d1", "d2")


def test_a_failed_deployment_ships_nothing_and_other_applications_work_is_not_theirs() -> None:
    facts = Facts([deploy("broken", MON, commit=MON, succeeded=False),
                   deploy("fixed", MON + timedelta(hours=3), commit=MON),
                   deploy("inv", MON + timedelta(hours=1), app="INV", commit=MON)],
                  work=[Work("pay-1", "PAY", MON - timedelta(hours=1))])

    assert list(shipped(facts)) == ["fixed"]
    assert four_keys(facts, FOUR_WEEKS).lead_time.value == 4.0
    assert four_keys(facts.only({"INV"}), FOUR_WEEKS).lead_time.value is None


def test_work_is_measured_in_the_bucket_of_its_deployment_in_the_readers_zone() -> None:
    sunday_evening_in_new_york = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # Monday in UTC
    facts = Facts([deploy("late", sunday_evening_in_new_york)],
                  work=[Work("pr", "PAY", sunday_evening_in_new_york - timedelta(hours=30))])
    period = Period(datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 19, tzinfo=UTC))

    weeks = trend(facts, period, Bucket.WEEK, ZoneInfo("America/New_York"))

    assert [k.lead_time.value for k in weeks] == [None, 30.0, None]  # Oct 5-11 local holds it
    assert [k.lead_time.value for k in trend(facts, period, Bucket.WEEK, UTC)] == [None, 30.0]


def test_an_incident_traced_to_the_change_fails_its_deployment() -> None:
    facts = Facts([deploy("d1", MON, change="CHG1"), deploy("d2", MON + timedelta(days=1)),
                   deploy("d3", MON + timedelta(days=2)), deploy("d4", MON + timedelta(days=3))],
                  incidents=[Incident("INC1", "PAY", MON + timedelta(hours=2),
                                      MON + timedelta(hours=5), caused_by=("CHG1",))])

    keys = four_keys(facts, FOUR_WEEKS)

    assert keys.change_failure_rate.value == 0.25
    assert keys.change_failure_rate.band is Band.LOW
    assert [(f.deployment, f.reasons) for f in keys.failures] == [("d1", ("incident INC1",))]
    assert keys.time_to_restore.value == 3.0  # opened 11:00, resolved 14:00
    assert keys.time_to_restore.band is Band.HIGH


def test_an_incident_after_the_failure_window_does_not_count() -> None:
    facts = Facts([deploy("d1", MON, change="CHG1")],
                  incidents=[Incident("INC1", "PAY", MON + timedelta(days=8),
                                      caused_by=("CHG1",))])

    assert four_keys(facts, FOUR_WEEKS).change_failure_rate.value == 0.0
    assert four_keys(facts, FOUR_WEEKS, window=timedelta(days=9)
                     ).change_failure_rate.value == 1.0


def test_an_incident_linked_to_two_changes_fails_both_deployments_and_is_restored_once() -> None:
    incident = Incident("INC1", "PAY", MON + timedelta(days=1),
                        MON + timedelta(days=1, hours=4), caused_by=("CHG1", "CHG2", "CHG1"))
    facts = Facts([deploy("d1", MON, change="CHG1"),
                   deploy("d2", MON + timedelta(hours=12), change="CHG2")],
                  incidents=[incident])

    found = failures(facts)

    assert [f.deployment for f in found] == ["d1", "d2"]
    assert all(f.reasons == ("incident INC1",) for f in found)  # the duplicate link is one
    keys = four_keys(facts, FOUR_WEEKS)
    assert keys.change_failure_rate.value == 1.0
    assert keys.time_to_restore.value == 4.0


def test_a_rollback_without_an_incident_fails_the_deployment_before_it() -> None:
    facts = Facts([deploy("d1", MON), deploy("d2", MON + timedelta(days=1)),
                   deploy("back", MON + timedelta(days=1, hours=2), rollback=True)])

    keys = four_keys(facts, FOUR_WEEKS)

    assert [(f.deployment, f.reasons) for f in keys.failures] == [
        ("d2", ("rolled back by back",))]
    assert keys.time_to_restore.value == 2.0  # restored by the rollback itself
    assert keys.change_failure_rate.value == pytest.approx(1 / 3)


def test_an_emergency_change_on_the_application_fails_the_deployment_before_it() -> None:
    facts = Facts([deploy("d1", MON, change="CHG1"),
                   deploy("fix", MON + timedelta(hours=6), change="CHG9")],
                  emergency_changes=[EmergencyChange("CHG9", "PAY", MON + timedelta(hours=5))])

    found = failures(facts)

    assert [(f.deployment, f.reasons, f.restored_at) for f in found] == [
        ("d1", ("emergency change CHG9",), MON + timedelta(hours=6))]


def test_an_unresolved_incident_fails_the_deployment_but_has_no_restore_time_yet() -> None:
    facts = Facts([deploy("d1", MON, change="CHG1")],
                  incidents=[Incident("INC1", "PAY", MON + timedelta(hours=1),
                                      caused_by=("CHG1",))])

    keys = four_keys(facts, FOUR_WEEKS)

    assert keys.change_failure_rate.value == 1.0
    assert keys.time_to_restore.value is None and keys.time_to_restore.sample_size == 0


def test_other_applications_incidents_and_emergencies_do_not_count() -> None:
    facts = Facts([deploy("d1", MON, change="CHG1")],
                  incidents=[Incident("INC1", "INV", MON + timedelta(hours=1),
                                      caused_by=("CHG7",))],
                  emergency_changes=[EmergencyChange("CHG8", "INV", MON + timedelta(hours=2))])

    assert failures(facts) == []


def test_facts_narrow_to_a_team_of_applications() -> None:
    facts = Facts([deploy("p", MON), deploy("i", MON, app="INV"), deploy("n", MON, app="NTF")])

    keys = four_keys(facts.only({"PAY", "NTF"}), FOUR_WEEKS)

    assert keys.deployment_frequency.records == ("n", "p")


@pytest.mark.parametrize(("key", "value", "expected"), [
    (Key.DEPLOYMENT_FREQUENCY, 10.0, Band.ELITE), (Key.DEPLOYMENT_FREQUENCY, 7.0, Band.ELITE),
    (Key.DEPLOYMENT_FREQUENCY, 1.0, Band.HIGH), (Key.DEPLOYMENT_FREQUENCY, 0.5, Band.MEDIUM),
    (Key.DEPLOYMENT_FREQUENCY, 0.1, Band.LOW),
    (Key.LEAD_TIME, 2.0, Band.ELITE), (Key.LEAD_TIME, 24.0, Band.HIGH),
    (Key.LEAD_TIME, 100.0, Band.HIGH), (Key.LEAD_TIME, 400.0, Band.MEDIUM),
    (Key.LEAD_TIME, 2000.0, Band.LOW),
    (Key.CHANGE_FAILURE_RATE, 0.0, Band.ELITE), (Key.CHANGE_FAILURE_RATE, 0.05, Band.ELITE),
    (Key.CHANGE_FAILURE_RATE, 0.08, Band.HIGH), (Key.CHANGE_FAILURE_RATE, 0.15, Band.MEDIUM),
    (Key.CHANGE_FAILURE_RATE, 0.4, Band.LOW),
    (Key.TIME_TO_RESTORE, 0.5, Band.ELITE), (Key.TIME_TO_RESTORE, 1.0, Band.HIGH),
    (Key.TIME_TO_RESTORE, 5.0, Band.HIGH),
    (Key.TIME_TO_RESTORE, 48.0, Band.MEDIUM), (Key.TIME_TO_RESTORE, 24.0 * 30, Band.LOW),
])
def test_each_key_falls_in_exactly_one_band(key: Key, value: float, expected: Band) -> None:
    assert band(key, value) is expected


def test_weekly_buckets_start_on_local_mondays() -> None:
    zone = ZoneInfo("America/New_York")
    period = Period(datetime(2026, 10, 7, tzinfo=UTC), datetime(2026, 10, 21, tzinfo=UTC))

    edges = [(b.start, b.end) for b in buckets(period, Bucket.WEEK, zone)]

    assert edges == [
        (period.start, datetime(2026, 10, 12, 4, 0, tzinfo=UTC)),  # Monday 00:00 EDT
        (datetime(2026, 10, 12, 4, 0, tzinfo=UTC), datetime(2026, 10, 19, 4, 0, tzinfo=UTC)),
        (datetime(2026, 10, 19, 4, 0, tzinfo=UTC), period.end),
    ]


def test_a_deployment_late_on_sunday_counts_in_that_week_in_the_readers_zone() -> None:
    sunday_evening_in_new_york = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # Monday in UTC
    facts = Facts([deploy("late", sunday_evening_in_new_york)])
    period = Period(datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 19, tzinfo=UTC))

    in_new_york = trend(facts, period, Bucket.WEEK, ZoneInfo("America/New_York"))
    in_utc = trend(facts, period, Bucket.WEEK, UTC)

    def week_of(keys: list[FourKeys]) -> datetime:
        return next(k.period.start for k in keys if k.deployment_frequency.sample_size)

    assert week_of(in_new_york) == datetime(2026, 10, 5, 4, 0, tzinfo=UTC)  # Monday, EDT
    assert week_of(in_utc) == datetime(2026, 10, 12, tzinfo=UTC)


def test_monthly_buckets_follow_calendar_months_across_a_clock_change() -> None:
    zone = ZoneInfo("Europe/Berlin")
    period = Period(datetime(2026, 9, 15, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC))

    starts = [b.start for b in buckets(period, Bucket.MONTH, zone)]

    assert starts == [period.start, datetime(2026, 9, 30, 22, 0, tzinfo=UTC),
                      datetime(2026, 10, 31, 23, 0, tzinfo=UTC)]  # CEST, then CET


def test_a_period_needs_time_zones_and_a_positive_length() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Period(datetime(2026, 1, 1), datetime(2026, 2, 1))
    with pytest.raises(ValueError, match="end after"):
        Period(MON, MON)
