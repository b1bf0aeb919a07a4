"""Connector kinds describe themselves: product name, capabilities and graph types.

The graph reads all three from the kind, so a kind that brings no graph type of
its own is still shown (under a neutral type, with ids the mutations accept)
and the dashboard needs no list of kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.jira.client import JiraConnector
from connectors.registry import default_registry
from connectors.servicenow.client import ServiceNowConnector
from tests.adversarial.conftest import Hub, Upstreams, start_hub
from tests.support.databases import fresh_database


class PlainTracker(JiraConnector):
    """A tracker kind that declares no product name and registers no graph type."""

    kind = "plain-tracker"
    product = ""
    graph_types = {}


class PlainChanges(ServiceNowConnector):
    """An ITSM kind that declares no product name and registers no graph type."""

    kind = "plain-changes"
    product = ""
    graph_types = {}


@pytest.fixture(scope="module")
def plain_hub(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The demo hub, but its tracker and one ITSM are kinds that register no graph types."""
    from api.demo import demo_connectors

    default_registry.register(PlainTracker.kind, PlainTracker)
    default_registry.register(PlainChanges.kind, PlainChanges)
    plain = {"jira": PlainTracker.kind, "servicenow": PlainChanges.kind}
    configs = [c.model_dump() | {"timeout_seconds": 3, "max_retries": 1,
                                 "kind": plain.get(c.name, c.kind)}
               for c in demo_connectors(upstreams.url)]
    tmp: Path = tmp_path_factory.mktemp("plain")
    try:
        with fresh_database("sqlite", tmp) as url, \
                start_hub(upstreams, url, "sqlite", connectors=configs) as running:
            yield running
    finally:
        default_registry.unregister(PlainTracker.kind)
        default_registry.unregister(PlainChanges.kind)


def test_each_source_says_its_product_and_what_it_can_do(hub: Hub) -> None:
    sources = hub.client().data("{ sources { name kind product capabilities } }")["sources"]
    got = {s["name"]: (s["product"], set(s["capabilities"])) for s in sources}
    assert got == {
        "jira": ("JIRA", {"WORK_ITEMS", "WEBHOOKS"}),
        "github": ("GitHub", {"WORK_ITEMS", "CODE_CHANGES", "DEPLOYMENTS", "WEBHOOKS"}),
        "servicenow": ("ServiceNow", {"CHANGE_REQUESTS"}),
        "remedy": ("BMC Remedy", {"CHANGE_REQUESTS"}),
        "perforce": ("Perforce", {"WORK_ITEMS", "CODE_CHANGES"}),
    }


def test_a_kind_naming_no_product_is_shown_under_its_kind(plain_hub: Hub) -> None:
    sources = plain_hub.client().data("{ sources { name kind product } }")["sources"]
    assert {"name": "servicenow", "kind": "plain-changes", "product": "plain-changes"} \
        in sources


def test_work_items_of_a_kind_without_graph_types_come_as_the_neutral_type(
        plain_hub: Hub, upstreams: Upstreams) -> None:
    key = upstreams.world.releases[0].key
    items = plain_hub.client().data(
        """query($k: String!) { release(key: $k) { workItems(first: 100) { nodes {
             __typename source { name }
             ... on GenericIssue { issueType fixVersions } } } } }""",
        {"k": key})["release"]["workItems"]["nodes"]
    tracker = [i for i in items if i["source"]["name"] == "jira"]
    assert tracker, "the release has tracker issues"
    assert {i["__typename"] for i in tracker} == {"GenericIssue"}
    assert all(i["issueType"] for i in tracker)
    # The code host's kind still registers its own types.
    assert {i["__typename"] for i in items if i["source"]["name"] == "github"} \
        <= {"GitHubIssue", "GitHubPullRequest"}


def test_a_change_of_a_kind_without_graph_types_is_a_generic_change_whose_id_works(
        plain_hub: Hub) -> None:
    rm = plain_hub.client()
    nodes = rm.data("""{ changeRequests(first: 50) { nodes {
                          __typename id number source { name }
                          ... on GenericChange { upstreamId } } } }""")["changeRequests"]["nodes"]
    plain = [n for n in nodes if n["source"]["name"] == "servicenow"]
    assert plain and {n["__typename"] for n in plain} == {"GenericChange"}
    assert all(n["upstreamId"] for n in plain)
    assert {n["__typename"] for n in nodes if n["source"]["name"] == "remedy"} \
        == {"RemedyChange"}
    synced = rm.data("mutation($id: ID!) { syncChangeRequest(id: $id) { __typename number } }",
                     {"id": plain[0]["id"]})["syncChangeRequest"]
    assert synced == {"__typename": "GenericChange", "number": plain[0]["number"]}


def test_a_failing_source_is_named_by_its_product_in_the_partial_error(
        hub: Hub, upstreams: Upstreams) -> None:
    upstreams.fault("servicenow", error_rate=1.0)
    body = hub.client().post("""{ changeRequests(first: 50, filter: {
                                    windowFrom: "2031-01-01T00:00:00Z" }) { totalCount } }""")
    failed = [e["extensions"] for e in body.get("errors", [])
              if e.get("extensions", {}).get("source") == "servicenow"]
    assert failed and all(ext["product"] == "ServiceNow" for ext in failed)
