"""Each kind parses its own link keys; paths built from keys stay in the API; one bad
key or record is reported alone (no sockets: an httpx mock transport stands upstream)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from api.hub import Hub
from connectors.base import Answer, Connector, LinkKind, LinkRef, Records
from connectors.config import ConnectorConfig
from connectors.errors import BadLinkKey, UnsafeRequest, UpstreamBadResponse
from connectors.github.client import GitHubConnector
from connectors.http import UpstreamClient, api_path, segment
from connectors.jira.client import JiraConnector
from connectors.remedy.client import RemedyConnector
from connectors.servicenow.client import ServiceNowConnector

Handler = Callable[[httpx.Request], httpx.Response]
C = TypeVar("C", bound=Connector)


def build(cls: type[C], kind: str, handler: Handler | None = None, **options: Any) -> C:
    config = ConnectorConfig(name=kind, kind=kind, base_url="https://upstream.test/api/v3",
                             options=options, max_retries=0)
    transport = httpx.MockTransport(handler or (lambda request: httpx.Response(404)))
    return cls(config, UpstreamClient.from_config(config, environ={}, transport=transport))


KINDS: dict[str, type[Connector]] = {"jira": JiraConnector, "github": GitHubConnector,
                                     "servicenow": ServiceNowConnector,
                                     "remedy": RemedyConnector}


@pytest.mark.parametrize(("kind", "link", "key", "canonical"), [
    ("jira", LinkKind.PLANNED_VERSION, " 20003 ", "20003"),
    ("jira", LinkKind.PLANNED_VERSION, "pay: 2.4 rc", "PAY:2.4 rc"),
    ("github", LinkKind.MILESTONE, "acme/shop#12", "acme/shop#12"),
    ("github", LinkKind.CODE_RANGE, "acme/shop@v2.3.0...release/2.4",
     "acme/shop@v2.3.0...release/2.4"),
    ("github", LinkKind.CODE_RANGE, "acme/shop@main...fork:feature/x",
     "acme/shop@main...fork:feature/x"),
    ("servicenow", LinkKind.CHANGE_REQUEST, "CHG0030001", "CHG0030001"),
    ("remedy", LinkKind.CHANGE_REQUEST, "CRQ000000001234", "CRQ000000001234"),
])
def test_a_kind_gives_the_canonical_form_of_its_own_keys(
        kind: str, link: LinkKind, key: str, canonical: str) -> None:
    assert build(KINDS[kind], kind).parse_link(link, key) == canonical


@pytest.mark.parametrize(("kind", "link", "key", "why"), [
    ("jira", LinkKind.PLANNED_VERSION, "PAY:1.0\nproject = OPS", "control character"),
    ("jira", LinkKind.PLANNED_VERSION, "20003) OR (1", "neither a JIRA version id"),
    ("jira", LinkKind.MILESTONE, "acme/shop#1", "cannot be a MILESTONE"),
    ("github", LinkKind.CODE_RANGE, "acme/shop@v1/../../../user...main", "'..'"),
    ("github", LinkKind.CODE_RANGE, "acme/shop@%2e%2e/user...main", "%"),
    ("github", LinkKind.CODE_RANGE, "acme/shop@v1\x07...main", "control character"),
    ("github", LinkKind.CODE_RANGE, "acme/shop@v1\u202e...main", "control character"),
    ("github", LinkKind.CODE_RANGE, "../..@v1...main", "'.' and '..'"),
    ("github", LinkKind.MILESTONE, "acme/shop#99999999999", "number from 1"),
    ("github", LinkKind.MILESTONE, "../..#1", "'.' and '..'"),
    ("servicenow", LinkKind.CHANGE_REQUEST, "CHG1^ORnumber!=x", "ServiceNow change number"),
    ("remedy", LinkKind.CHANGE_REQUEST, "CRQ1' OR 'a", "Remedy change ID"),
])
def test_a_kind_refuses_a_key_it_cannot_name_and_says_why(
        kind: str, link: LinkKind, key: str, why: str) -> None:
    with pytest.raises(BadLinkKey) as refused:
        build(KINDS[kind], kind).parse_link(link, key)
    assert refused.value.key == key
    assert repr(key) in refused.value.message and why in refused.value.message
    assert refused.value.extensions()["code"] == "BAD_LINK_KEY"


def test_a_path_segment_is_encoded_whole_and_dot_segments_are_refused() -> None:
    assert segment("release/2.4...v1") == "release%2F2.4...v1"
    for bad in ("", ".", "..", "a\nb"):
        with pytest.raises(ValueError):
            segment(bad)
    with pytest.raises(ValueError):
        api_path("repos", "%2e%2e", "x")


async def test_the_http_layer_never_sends_a_relative_path_that_walks_out_of_the_api() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(404)

    connector = build(GitHubConnector, "github", record)
    for path in ("repos/a/b/compare/v1/../../../../../user", "repos/%2E%2E/x", "repos/a\tb"):
        with pytest.raises(UnsafeRequest):
            await connector.http.request("GET", path)
    assert sent == []
    await connector.aclose()


def _issue(key: str, summary: str | None, version: str = "20003") -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": {"name": "Open", "statusCategory": {"key": "new"}},
        "issuetype": {"name": "Story"}, "updated": "2026-01-01T00:00:00.000+0000",
        "fixVersions": [{"id": version, "name": "2.4"}]}
    if summary is not None:
        fields["summary"] = summary
    return {"key": key, "fields": fields}


async def test_a_jira_issue_that_cannot_be_read_is_left_out_and_named() -> None:
    def search(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"issues": [_issue("PAY-1", "Fine"),
                                                    _issue("PAY-2", None),
                                                    _issue("PAY-3", "Also fine")],
                                         "isLast": True})

    jira = build(JiraConnector, "jira", search)
    link = LinkRef("jira", LinkKind.PLANNED_VERSION, "20003")
    old = LinkRef("jira", LinkKind.PLANNED_VERSION, "PAY:1\nx")
    answer = await jira.work_items([link, old])
    assert isinstance(answer, Answer)
    assert [item.key for item in answer[link]] == ["PAY-1", "PAY-3"]
    [dropped] = answer.dropped[link]
    assert (dropped.key, dropped.code.value) == ("PAY-2", "UPSTREAM_BAD_RESPONSE")
    assert "summary" in dropped.message
    assert isinstance(answer.failed[old], BadLinkKey)
    await jira.aclose()


async def test_a_github_pull_request_missing_a_field_is_left_out_and_named() -> None:
    good = {"number": 1, "title": "ok", "url": "u", "state": "OPEN", "isDraft": False,
            "merged": False, "updatedAt": "2026-01-01T00:00:00Z"}
    bad = {k: v for k, v in good.items() if k != "title"} | {"number": 2}
    page = {"pageInfo": {"hasNextPage": False, "endCursor": None}}

    def graphql(request: httpx.Request) -> httpx.Response:
        milestone = {"title": "2.4", "issues": {**page, "nodes": []},
                     "pullRequests": {**page, "nodes": [good, bad]}}
        return httpx.Response(200, json={"data": {"m0": {"milestone": milestone}}})

    github = build(GitHubConnector, "github", graphql)
    link = LinkRef("github", LinkKind.MILESTONE, "acme/shop#3")
    answer = await github.work_items([link])
    assert isinstance(answer, Answer)
    assert [item.key for item in answer[link]] == ["acme/shop#1"]
    assert [e.key for e in answer.dropped[link]] == ["acme/shop#2"]
    await github.aclose()


async def test_a_servicenow_row_that_cannot_be_read_costs_only_its_own_number() -> None:
    def table(request: httpx.Request) -> httpx.Response:
        rows = [{"sys_id": "1", "number": "CHG1", "state": "-5"},
                {"sys_id": "", "number": "CHG2"}]
        return httpx.Response(200, json={"result": rows})

    servicenow = build(ServiceNowConnector, "servicenow", table)
    answer = await servicenow.changes(["CHG1", "CHG2", "CHG^3"])
    assert isinstance(answer, Answer)
    assert set(answer) == {"CHG1"}
    assert set(answer.failed) == {"CHG2", "CHG^3"}
    assert answer.failed["CHG2"].key == "CHG2"
    await servicenow.aclose()


async def test_the_hub_halves_a_refused_batch_until_the_key_at_fault_is_alone() -> None:
    calls: list[list[str]] = []

    async def call(source: str, keys: list[str]) -> dict[str, str]:
        calls.append(keys)
        if "bad" in keys:
            raise UpstreamBadResponse(source, "POST /search: unexpected status 400", status=400)
        return {key: key.upper() for key in keys}

    hub = Hub({"jira": build(JiraConnector, "jira")})
    keys = [f"k{i}" for i in range(15)] + ["bad"]
    fetched = await hub.fetch_many("op", [("jira", k) for k in keys], call)
    assert [f.value for f in fetched[:-1]] == [k.upper() for k in keys[:-1]]
    assert fetched[-1].value is None and fetched[-1].error is not None
    assert fetched[-1].error.key == "bad" and "'bad'" in fetched[-1].error.message
    assert len(calls) <= 2 * 4 + 1  # log2(16) levels, two calls each, plus the first
    await hub.aclose()


async def test_records_left_out_are_kept_with_their_value_in_the_cache() -> None:
    async def call(source: str, keys: list[str]) -> dict[str, Records[str]]:
        return {key: Records(["x"], [UpstreamBadResponse(source, "odd", key="r1")])
                for key in keys}

    hub = Hub({"jira": build(JiraConnector, "jira")})
    first = await hub.fetch_many("op", [("jira", "a")], call)
    again = await hub.fetch_many("op", [("jira", "a")], call)  # a fresh cache hit
    assert [e.key for e in first[0].dropped] == [e.key for e in again[0].dropped] == ["r1"]
    await hub.aclose()


async def test_a_source_that_refuses_every_batch_is_not_asked_again_and_again() -> None:
    calls: list[list[str]] = []

    async def call(source: str, keys: list[str]) -> dict[str, str]:
        calls.append(keys)
        raise UpstreamBadResponse(source, "POST /search: unexpected status 400", status=400)

    hub = Hub({"jira": build(JiraConnector, "jira")})
    keys = [f"k{i}" for i in range(100)]
    fetched = await hub.fetch_many("op", [("jira", k) for k in keys], call)
    assert all(f.error is not None and f.value is None for f in fetched)
    assert len(calls) <= 2 * 2 * (100).bit_length() + 1, len(calls)  # not 2n - 1 = 199
    await hub.aclose()
