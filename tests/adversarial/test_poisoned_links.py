"""Links and upstream data cannot poison a source.

A link key is validated by its connector kind when it is linked; a key that
slipped in before validation existed (an old row) costs only its own release
its data; a request the hub builds from a key never leaves the upstream's API;
and one malformed upstream record is left out with an error naming it while
the rest of its source stays.
"""

from __future__ import annotations

import asyncio
import json
import math
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.types import Receive, Scope, Send

from api.demo import demo_connectors
from tests.adversarial.conftest import Hub, Upstreams, start_hub
from tests.support.databases import fresh_database
from tests.support.graphql import GraphQLClient
from tests.support.server import serve_asgi

LINK = """
mutation($release: ID!, $source: String!, $kind: LinkKind!, $key: String!) {
  linkSource(releaseId: $release, link: {source: $source, kind: $kind, externalKey: $key}) {
    id externalKey
  }
}"""

RELEASE_LINKS = "query($id: ID!) { node(id: $id) { ... on Release { links { externalKey } } } }"

WORK = """
query {
  releases(first: 50) {
    nodes { id key workItems(first: 100) { nodes { source { name } key } } }
  }
}"""


def _releases(client: GraphQLClient) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = client.data("{ releases(first: 100) { nodes { id key } } }")[
        "releases"]["nodes"]
    return nodes


def _repository(upstreams: Upstreams, release_key: str) -> str:
    release = upstreams.world.release(release_key)
    app = upstreams.world.app(release.app_key)
    return f"{app.repo_owner}/{app.repo_name}"


def _items_by_release(body: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    return {node["key"]: {(i["source"]["name"], i["key"]) for i in node["workItems"]["nodes"]}
            for node in body["data"]["releases"]["nodes"]}


def _insert_link(hub: Hub, release_key: str, source: str, kind: str, key: str) -> None:
    """Store a link as an old row would be: straight into the table, unvalidated."""
    async def run() -> None:
        engine = create_async_engine(hub.database_url)
        try:
            async with engine.begin() as connection:
                release_id = (await connection.execute(
                    text("SELECT id FROM releases WHERE key = :key"),
                    {"key": release_key})).scalar_one()
                await connection.execute(text(
                    "INSERT INTO source_links (release_id, source, kind, external_key, "
                    "created_at) VALUES (:r, :s, :k, :e, CURRENT_TIMESTAMP)"),
                    {"r": release_id, "s": source, "k": kind, "e": key})
        finally:
            await engine.dispose()

    asyncio.run(run())


def _delete_link(hub: Hub, key: str) -> None:
    async def run() -> None:
        engine = create_async_engine(hub.database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text("DELETE FROM source_links WHERE external_key = :e"), {"e": key})
        finally:
            await engine.dispose()

    asyncio.run(run())


# --------------------------------------------------------------------------- (a) linking


def _bad_keys(repo: str) -> list[tuple[str, str, str]]:
    return [
        ("github", "CODE_RANGE", f"{repo}@v1.0.0/../../../../../../../user...main"),
        ("github", "CODE_RANGE", f"{repo}@%2e%2e/%2e%2e/%2E%2E/user...main"),
        ("github", "CODE_RANGE", f"{repo}@v1.0.0\x07...main"),
        ("github", "MILESTONE", "../..#1"),
        ("jira", "PLANNED_VERSION", "PAY:1.0\nproject = OPS"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_keys(""))),
                         ids=["compare-dotdot", "compare-encoded-dotdot", "compare-control",
                              "milestone-dotdot", "jira-newline"])
def test_link_source_refuses_a_key_its_kind_cannot_name_and_links_nothing(
        hub: Hub, rm: GraphQLClient, upstreams: Upstreams, case: int) -> None:
    release = _releases(rm)[0]
    source, kind, key = _bad_keys(_repository(upstreams, release["key"]))[case]
    before = rm.data(RELEASE_LINKS, {"id": release["id"]})["node"]["links"]

    error = rm.error(LINK, {"release": release["id"], "source": source, "kind": kind,
                            "key": key})

    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"].get("field") == "link.externalKey", error
    # Named either as the key (the kind's parser) or by the character at fault (the
    # generic text rule, which runs first for control characters).
    control = [f"U+{ord(ch):04X}" for ch in key if not ch.isprintable()]
    assert (repr(key) in error["message"] or key in error["message"]
            or any(c in error["message"] for c in control)), error["message"]
    assert rm.data(RELEASE_LINKS, {"id": release["id"]})["node"]["links"] == before


def test_link_source_still_accepts_the_keys_each_kind_names(
        hub: Hub, rm: GraphQLClient, upstreams: Upstreams) -> None:
    release = _releases(rm)[1]
    repo = _repository(upstreams, release["key"])
    key = f"{repo}@v1.0.0...release/2.4"
    linked = rm.data(LINK, {"release": release["id"], "source": "github",
                            "kind": "CODE_RANGE", "key": key})["linkSource"]
    assert linked["externalKey"] == key
    rm.data("mutation($id: ID!) { unlinkSource(id: $id) { id } }", {"id": linked["id"]})


# --------------------------------------------------------------------------- (b) old rows


@pytest.mark.parametrize(("source", "kind", "key"), [
    ("jira", "PLANNED_VERSION", 'PAY:1.0\n" OR project = OPS'),
    ("jira", "PLANNED_VERSION", "20003) OR (1"),
    ("github", "MILESTONE", "acme-retail/payments-service#99999999999"),
], ids=["jira-newline", "jira-jql", "github-milestone-overflow"])
def test_an_old_bad_link_costs_only_its_own_release_its_data(
        hub: Hub, viewer: GraphQLClient, source: str, kind: str, key: str) -> None:
    baseline = viewer.post(WORK)
    assert not baseline.get("errors"), baseline["errors"]
    expected = _items_by_release(baseline)
    assert sum(1 for items in expected.values() if any(s == source for s, _ in items)) > 3
    victim = next(k for k, items in expected.items() if any(s == source for s, _ in items))

    _insert_link(hub, victim, source, kind, key)
    try:
        body = viewer.post(WORK)
    finally:
        _delete_link(hub, key)

    assert _items_by_release(body) == expected
    errors = body.get("errors") or []
    assert errors, "the bad link must be reported"
    named = [e for e in errors if (e.get("extensions") or {}).get("key") == key]
    assert named, errors
    assert all(e["extensions"]["source"] == source for e in named)
    victim_index = next(i for i, n in enumerate(body["data"]["releases"]["nodes"])
                        if n["key"] == victim)
    assert all(e["path"][:3] == ["releases", "nodes", victim_index] for e in errors), errors


# --------------------------------------------------------------------------- (c) bad records


def test_a_jira_issue_without_a_summary_is_left_out_and_named_while_the_rest_stay(
        hub: Hub, viewer: GraphQLClient, upstreams: Upstreams) -> None:
    baseline = viewer.post(WORK)
    assert not baseline.get("errors"), baseline["errors"]
    expected = _items_by_release(baseline)

    with _summaryless(upstreams, expected) as (bad_key, _release_key):
        body = viewer.post(WORK)

    got = _items_by_release(body)
    assert got == {release: items - {("jira", bad_key)} for release, items in expected.items()}
    errors = body.get("errors") or []
    named = [e for e in errors if (e.get("extensions") or {}).get("key") == bad_key]
    assert named, errors
    assert all(e["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE" for e in named)
    assert all(e["extensions"]["source"] == "jira" for e in named)
    assert len(errors) == len(named), errors


class _summaryless:
    """Empty one linked JIRA issue's summary, then restore it. JIRA's REST API refuses an
    empty summary, so the sandbox's record is changed in place, as a hidden field or a
    damaged record would leave it."""

    def __init__(self, upstreams: Upstreams, expected: dict[str, set[tuple[str, str]]]) -> None:
        self.release_key, self.key = next(
            (release, key) for release, items in sorted(expected.items())
            for source, key in sorted(items) if source == "jira")
        self.issue = upstreams.apps["jira"].state.jira.issues[self.key]
        self.original = self.issue.summary

    def __enter__(self) -> tuple[str, str]:
        self.issue.summary = ""
        return self.key, self.release_key

    def __exit__(self, *exc: object) -> None:
        self.issue.summary = self.original


# --------------------------------------------------------------------------- (d) paths


@dataclass
class Capture:
    """An HTTP server standing in for GitHub Enterprise at `/api/v3`: it records every path."""

    prefix: str = "/api/v3/"
    graphql: str = "/api/graphql"
    raw_paths: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        self.raw_paths.append(raw.decode("latin-1"))
        # GraphQL answers "nothing found"; every REST path is unknown.
        graphql = scope["path"] == self.graphql
        body = b'{"data": {}}' if graphql else b'{"message": "Not Found"}'
        await send({"type": "http.response.start", "status": 200 if graphql else 404,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def escaped(self) -> list[str]:
        """Paths that leave the API root, however a server would normalise them."""
        outside: list[str] = []
        for raw in self.raw_paths:
            path = raw.partition("?")[0]
            decoded = unquote(unquote(path))
            segments = decoded.split("/")
            if decoded == self.graphql:
                continue
            if (".." in segments or "." in segments
                    or not posixpath.normpath(decoded).startswith(self.prefix.rstrip("/"))
                    or any(ord(c) < 32 for c in decoded)):
                outside.append(raw)
        return outside


def test_a_crafted_key_never_makes_the_hub_request_a_path_outside_the_api(
        upstreams: Upstreams, tmp_path: Path) -> None:
    capture = Capture()
    with serve_asgi(capture) as github_url, \
            fresh_database("sqlite", tmp_path) as database_url:
        connectors = [c.model_dump() | {"timeout_seconds": 3, "max_retries": 0}
                      for c in demo_connectors(upstreams.url)]
        for connector in connectors:
            if connector["kind"] == "github":
                connector["base_url"] = f"{github_url}/api/v3"
                connector["options"] = {**connector.get("options", {}),
                                        "graphql_url": f"{github_url}/api/graphql"}
        with start_hub(upstreams, database_url, "sqlite", connectors=connectors) as hub:
            client = hub.client()
            release = _releases(client)[0]["key"]
            # Another repository than the release's milestone, so its ranges are read.
            repo = _repository(upstreams, release).partition("/")[0] + "/elsewhere"
            crafted = [
                ("CODE_RANGE", f"{repo}@v1.0.0/../../../../../../../../user...main"),
                ("CODE_RANGE", f"{repo}@main...v1/../../../../../../../../admin"),
                ("CODE_RANGE", f"{repo}@%2e%2e/%2e%2e/%2e%2e/%2e%2e/user...main"),
                ("CODE_RANGE", "../..@v1...main"),
                ("CODE_RANGE", f"{repo}@v1\x00...main"),
            ]
            for kind, key in crafted:
                _insert_link(hub, release, "github", kind, key)
            capture.raw_paths.clear()
            body = client.post(WORK)
            assert body.get("data"), body
            assert capture.raw_paths, "the hub asked GitHub nothing"
            assert capture.escaped() == [], capture.raw_paths


# --------------------------------------------------------------------------- (b) refused batch


@dataclass
class RefusingJira:
    """JIRA as the sandbox serves it, except that any search naming `poison` is answered
    400 the way JIRA refuses a JQL it cannot run: one key spoils the whole query."""

    upstream: str
    poison: str
    searches: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, headers, content = await self._answer(scope, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _answer(self, scope: Scope, body: bytes
                      ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        path: str = scope["path"]
        if path.endswith("/search/jql"):
            self.searches += 1
            jql = str(json.loads(body or b"{}").get("jql", ""))
            if re.search(rf"\b{self.poison}\b", jql):
                refusal = json.dumps({"errorMessages": [
                    "Error in the JQL Query: the query could not be run."], "errors": {}})
                return 400, [(b"content-type", b"application/json")], refusal.encode()
        forwarded = {k.decode(): v.decode() for k, v in scope["headers"]
                     if k.lower() not in (b"host", b"content-length")}
        async with httpx.AsyncClient() as client:
            response = await client.request(
                scope["method"], f"{self.upstream}{path}",
                params=scope["query_string"].decode(), content=body, headers=forwarded)
        return response.status_code, [(b"content-type", b"application/json")], response.content


def test_a_key_jira_refuses_costs_only_its_own_release_and_is_named(
        upstreams: Upstreams, tmp_path: Path) -> None:
    release = next(r for r in upstreams.world.releases if r.jira_version_id)
    poison = str(release.jira_version_id)
    refusing = RefusingJira(f"{upstreams.url}/sandbox/jira", poison)
    with serve_asgi(refusing) as jira_url, \
            fresh_database("sqlite", tmp_path) as database_url:
        connectors = [c.model_dump() | {"timeout_seconds": 3, "max_retries": 0}
                      for c in demo_connectors(upstreams.url)]
        for connector in connectors:
            if connector["kind"] == "jira":
                connector["base_url"] = jira_url
        # No stale copies, so what the refused key costs shows.
        with start_hub(upstreams, database_url, "sqlite", connectors=connectors,
                       federation={"cache_max_stale_seconds": 0}) as hub:
            client = hub.client()
            refusing.poison = "no-such-version"  # the baseline: nothing refused
            refusing.searches = 0
            baseline = client.post(WORK)
            assert not baseline.get("errors"), baseline["errors"]
            expected = _items_by_release(baseline)
            plain_searches = refusing.searches
            refusing.poison, refusing.searches = poison, 0

            body = client.post(WORK)

    linked = sum(1 for items in expected.values() if any(s == "jira" for s, _ in items))
    got = _items_by_release(body)
    assert got == {key: items if key != release.key else
                   {(s, k) for s, k in items if s != "jira"}
                   for key, items in expected.items()}
    errors = body.get("errors") or []
    assert [(e["extensions"]["source"], e["extensions"]["key"]) for e in errors] == [
        ("jira", poison)], errors
    # Halving finds the key in about 2 log2(n) searches beyond what the query costs when
    # nothing is refused (JIRA Cloud: the keys beside a first page, then pages side by
    # side), not one per release.
    assert refusing.searches <= plain_searches + 2 * math.ceil(math.log2(linked)) + 1, (
        refusing.searches, plain_searches)
