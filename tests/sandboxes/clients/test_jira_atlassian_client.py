"""atlassian-python-api, the other client teams script JIRA with, against the JIRA sandbox.

Its `Jira` class sends some calls differently from pycontribs `jira`: `update_version`
sends every field of a version, those not given as null, and JIRA leaves those as they
are. Both flavours, over a real socket, every call through the library.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from atlassian import Jira

from connectors.jira.sandbox.app import create_app
from connectors.sandbox.kit import DEMO_TOKEN, DEMO_USER
from connectors.sandbox.world import World, build_world
from tests.support.server import serve_asgi


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(7)


@pytest.fixture(scope="module", params=["cloud", "datacenter"])
def jira(request: pytest.FixtureRequest, world: World) -> Iterator[Jira]:
    with serve_asgi(create_app(world, mode=request.param)) as url:
        if request.param == "cloud":
            yield Jira(url=url, username=DEMO_USER, password=DEMO_TOKEN, cloud=True)
        else:
            yield Jira(url=url, token=DEMO_TOKEN)


def test_releasing_a_version_keeps_its_name_description_and_dates(jira: Jira) -> None:
    project = jira.project("CHK")
    created = jira.add_version("CHK", project["id"], "2027.07")
    jira.update_version(created["id"], description="Summer release",
                        release_date="2027-07-15")
    jira.update_version(created["id"], is_released=True)
    version = jira.get_version(created["id"])
    assert (version["name"], version["description"], version["releaseDate"],
            version["released"]) == ("2027.07", "Summer release", "2027-07-15", True)
    jira.update_version(created["id"], name="2027.07.1")
    assert jira.get_version(created["id"])["name"] == "2027.07.1"


def test_a_projects_issues_are_read_whole_in_pages_of_ten(jira: Jira, world: World) -> None:
    """Cloud pages by `nextPageToken` (`enhanced_jql`), Data Center by `startAt` (`jql`)."""
    jql = "project = PAY ORDER BY key"
    keys: list[str] = []
    if jira.cloud:
        token = None
        while True:
            page = jira.enhanced_jql(jql, fields="key", limit=10, nextPageToken=token)
            keys += [issue["key"] for issue in page["issues"]]
            token = page.get("nextPageToken")
            if page.get("isLast", token is None):
                break
    else:
        total = None
        while total is None or len(keys) < total:
            page = jira.jql(jql, fields="key", start=len(keys), limit=10)
            total = page["total"]
            keys += [issue["key"] for issue in page["issues"]]
    expected = sorted((w.key for w in world.work_items if w.app_key == "PAY"),
                      key=lambda key: int(key.split("-")[1]))
    assert len(expected) > 20 and keys == expected
