"""The world's incidents and business services: coherent with its changes, and telling.

Change-failure rate and time to restore are computed from these later, so
the seeded data must make them meaningful: a cause that really precedes the
incident, restore times that follow the opening, services that differ.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from statistics import median

from connectors.sandbox.world import EPOCH, INCIDENT_DAYS, INCIDENT_STATES, build_world

WORLD = build_world()
DEPLOYED = ("implement", "review", "closed")


def test_every_application_is_a_business_service_in_its_itsm() -> None:
    services = {s.app_key: s for s in WORLD.business_services}

    assert set(services) == {a.key for a in WORLD.applications}
    for change in WORLD.change_requests:
        assert services[change.app_key].itsm == change.itsm
    for app in WORLD.applications:
        assert services[app.key].name == app.ci_name
        assert services[app.key].support_group == app.support_group


def test_incidents_cover_the_last_six_months_and_sit_on_their_service_in_its_itsm() -> None:
    services = {s.app_key: s for s in WORLD.business_services}

    assert WORLD.incidents
    for incident in WORLD.incidents:
        assert WORLD.now - timedelta(days=INCIDENT_DAYS) <= incident.opened < WORLD.now
        assert incident.itsm == services[incident.app_key].itsm
        assert incident.state in INCIDENT_STATES
        assert 1 <= incident.priority <= 4


def test_a_causing_change_was_deployed_on_the_same_service_before_the_incident() -> None:
    changes = {(c.itsm, c.seq): c for c in WORLD.change_requests}
    caused = [i for i in WORLD.incidents if i.caused_by is not None]

    assert caused
    for incident in caused:
        change = changes[(incident.itsm, incident.caused_by)]
        assert change.app_key == incident.app_key
        assert change.stage in DEPLOYED
        assert change.planned_end <= incident.opened <= change.planned_end + timedelta(hours=6)


def test_restored_incidents_have_ordered_stamps_and_open_ones_none() -> None:
    states = {i.state for i in WORLD.incidents}

    assert {"closed", "new", "in_progress"} <= states  # some still open, most done
    for incident in WORLD.incidents:
        if incident.state in ("resolved", "closed"):
            assert incident.resolved is not None and incident.opened < incident.resolved
            assert incident.resolved <= WORLD.now
        else:
            assert incident.resolved is None
        if incident.state == "closed":
            assert incident.closed is not None and incident.resolved is not None
            assert incident.resolved < incident.closed <= WORLD.now
        assert incident.opened <= incident.updated <= WORLD.now


def test_services_differ_visibly_in_incident_rate_and_time_to_restore() -> None:
    by_app: dict[str, list[timedelta]] = defaultdict(list)
    for incident in WORLD.incidents:
        if incident.resolved is not None:
            by_app[incident.app_key].append(incident.resolved - incident.opened)
    counts = {app.key: sum(1 for i in WORLD.incidents if i.app_key == app.key)
              for app in WORLD.applications}
    restore = {key: median(spans) for key, spans in by_app.items()}

    assert max(counts.values()) >= 5 * max(1, min(counts.values()))
    assert max(restore.values()) >= 4 * min(restore.values())


def test_fragile_services_fail_a_larger_share_of_their_deployed_changes() -> None:
    def failure_rate(app_key: str) -> float:
        deployed = [c for c in WORLD.change_requests if c.app_key == app_key
                    and c.stage in DEPLOYED and c.planned_end < WORLD.now]
        failed = {i.caused_by for i in WORLD.incidents
                  if i.app_key == app_key and i.caused_by is not None}
        return len(failed) / len(deployed) if deployed else 0.0

    assert failure_rate("CHK") > failure_rate("PAY")
    assert failure_rate("CHK") > failure_rate("IDN")


def test_incidents_are_numbered_in_the_order_they_were_opened() -> None:
    for itsm in ("servicenow", "remedy"):
        mine = [i for i in WORLD.incidents if i.itsm == itsm]
        assert [i.seq for i in sorted(mine, key=lambda i: i.opened)] == sorted(
            i.seq for i in mine)


def test_the_same_seed_and_epoch_give_the_same_incidents_and_another_epoch_moves_them() -> None:
    again = build_world()
    later = build_world(epoch=EPOCH + timedelta(days=40))

    assert again.incidents == WORLD.incidents
    assert later.incidents
    assert all(later.now - timedelta(days=INCIDENT_DAYS) <= i.opened < later.now
               for i in later.incidents)
    assert min(i.opened for i in later.incidents) > min(i.opened for i in WORLD.incidents)
