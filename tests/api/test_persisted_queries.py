"""Persisted queries over HTTP: Apollo's automatic protocol, shared by replicas, and an allow-list.

An Apollo client sends the SHA-256 of its document first; when the hub does not
know it, the answer is `PersistedQueryNotFound` and the client sends the hash with
the whole document, which the hub remembers in its database. In allow-list mode
only operations registered from a manifest run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.persisted_queries import canonical_sha256
from api.settings import SettingsError, load_settings
from tests.support.databases import BACKENDS, fresh_database, query_db
from tests.support.graphql import new_secret, principal_step
from tests.support.paths import REPO
from tests.support.server import serve_asgi

RESPONSE_JSON = {"Accept": "application/graphql-response+json"}
APPLICATIONS = "query Applications { applications { key name } }"
ENVIRONMENTS = "query Environments { environments { name tier } }"
VIEWER = "query Me { viewer { username } }"
DASHBOARD_MANIFEST = REPO / "frontend" / "src" / "gql" / "persisted-documents.json"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


@contextmanager
def hub(database: str, token: str, **graphql: Any) -> Iterator[httpx.Client]:
    settings = load_settings(None, database={"url": database}, graphql=graphql,
                             limits={"rate_limit_burst": 1000, "rate_limit_per_minute": 60000})
    with serve_asgi(create_app(settings, startup=[principal_step(token)])) as url, \
            httpx.Client(base_url=url, timeout=30,
                         headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def send(client: httpx.Client, *, query: str | None = None, digest: str | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {}
    if query is not None:
        body["query"] = query
    if digest is not None:
        body["extensions"] = apq(digest)
    return client.post("/graphql", json=body, headers=headers or {})


def code_of(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


@pytest.fixture(scope="module")
def automatic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    database = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('apq') / 'hub.db'}"
    with hub(database, new_secret()) as client:
        yield client, database


# --- the automatic protocol ------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, RESPONSE_JSON])
def test_an_unknown_hash_answers_persisted_query_not_found_as_apollo_clients_expect(
        automatic: tuple[httpx.Client, str], headers: dict[str, str]) -> None:
    client, _ = automatic
    response = send(client, digest=sha("query Unknown { __typename }"), headers=headers)
    assert response.status_code == 200
    answer = response.json()
    assert answer["errors"] == [{"message": "PersistedQueryNotFound",
                                 "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    assert answer.get("data") is None
    assert response.headers["cache-control"] == "private, no-cache, must-revalidate"


def test_the_client_retries_with_the_document_and_the_hash_alone_works_after(
        automatic: tuple[httpx.Client, str]) -> None:
    client, database = automatic
    digest = sha(APPLICATIONS)
    assert code_of(send(client, digest=digest)) == "PERSISTED_QUERY_NOT_FOUND"
    taught = send(client, query=APPLICATIONS, digest=digest)
    assert taught.status_code == 200 and taught.json()["data"] == {"applications": []}
    again = send(client, digest=digest)
    assert again.status_code == 200 and again.json()["data"] == {"applications": []}
    assert query_db(database, "SELECT document, registered FROM persisted_queries "
                              f"WHERE sha256 = '{digest}'") == [(APPLICATIONS, False)]


def test_a_hash_alone_works_with_get_as_well(automatic: tuple[httpx.Client, str]) -> None:
    client, _ = automatic
    send(client, query=VIEWER, digest=sha(VIEWER))
    response = client.get("/graphql", params={"extensions": json.dumps(apq(sha(VIEWER)))},
                          headers={"Accept": "*/*"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["username"] == "test-release-manager"


def test_a_hash_that_is_not_the_documents_is_refused_and_nothing_is_stored(
        automatic: tuple[httpx.Client, str]) -> None:
    client, _ = automatic
    wrong = sha("query Something { __typename }")
    response = send(client, query=ENVIRONMENTS, digest=wrong, headers=RESPONSE_JSON)
    assert response.status_code == 400
    assert code_of(response) == "BAD_REQUEST"
    assert "SHA-256" in response.json()["errors"][0]["message"]
    assert code_of(send(client, digest=wrong)) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(("extensions", "field"), [
    ({"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
     "extensions.persistedQuery.version"),
    ({"persistedQuery": {"version": 1, "sha256Hash": "ABC"}},
     "extensions.persistedQuery.sha256Hash"),
    ({"persistedQuery": "yes"}, "extensions.persistedQuery"),
])
def test_a_malformed_persisted_query_extension_is_400_naming_the_field(
        automatic: tuple[httpx.Client, str], extensions: dict[str, Any], field: str) -> None:
    client, _ = automatic
    response = client.post("/graphql", json={"extensions": extensions})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST", "field": field}


def test_a_document_that_does_not_validate_is_not_remembered(
        automatic: tuple[httpx.Client, str]) -> None:
    client, _ = automatic
    broken = "query Broken { noSuchField }"
    response = send(client, query=broken, digest=sha(broken), headers=RESPONSE_JSON)
    assert response.status_code == 400
    assert code_of(send(client, digest=sha(broken))) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize("backend", BACKENDS)
def test_replicas_share_what_one_of_them_was_taught(backend: str, tmp_path: Path) -> None:
    token = new_secret()
    with fresh_database(backend, tmp_path) as database, hub(database, token) as first, \
            hub(database, token) as second:
        digest = sha(ENVIRONMENTS)
        assert send(first, query=ENVIRONMENTS, digest=digest).json()["data"] == {
            "environments": []}
        assert send(second, digest=digest).json()["data"] == {"environments": []}


@pytest.mark.parametrize("backend", BACKENDS)
def test_remembered_documents_are_bounded_and_the_oldest_go_first(
        backend: str, tmp_path: Path) -> None:
    documents = [f"query Q{n} {{ __typename }}" for n in range(4)]
    with fresh_database(backend, tmp_path) as database, \
            hub(database, new_secret(), persisted_queries_max_entries=2) as client:
        for document in documents:
            assert send(client, query=document, digest=sha(document)).status_code == 200
        assert query_db(database, "SELECT count(*) FROM persisted_queries") == [(2,)]
        assert code_of(send(client, digest=sha(documents[0]))) == "PERSISTED_QUERY_NOT_FOUND"
        assert send(client, digest=sha(documents[3])).json()["data"] == {"__typename": "Query"}


def test_with_persisted_queries_off_a_hash_is_not_supported(tmp_path: Path) -> None:
    with hub(f"sqlite+aiosqlite:///{tmp_path / 'off.db'}", new_secret(),
             persisted_queries="off") as client:
        for headers in ({}, RESPONSE_JSON):  # 200 either way: the client stops sending hashes
            response = send(client, query=VIEWER, digest=sha(VIEWER), headers=headers)
            assert response.status_code == 200
            assert response.json()["errors"] == [{
                "message": "PersistedQueryNotSupported",
                "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}}]
        assert send(client, query=VIEWER).json()["data"]["viewer"]


# --- the allow-list --------------------------------------------------------------------------

def manifest(path: Path, *documents: str, prefix: str = "sha256:") -> Path:
    path.write_text(json.dumps({f"{prefix}{sha(d)}": d for d in documents}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def allowlist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("allowlist")
    registered = manifest(tmp / "manifest.json", APPLICATIONS, VIEWER)
    with hub(f"sqlite+aiosqlite:///{tmp / 'hub.db'}", new_secret(),
             persisted_queries="allowlist", persisted_queries_manifest=str(registered)) as client:
        yield client


def test_a_registered_operation_runs_by_its_hash(allowlist: httpx.Client) -> None:
    assert send(allowlist, digest=sha(APPLICATIONS)).json()["data"] == {"applications": []}


def test_a_registered_operation_runs_as_a_whole_document_however_the_client_formats_it(
        allowlist: httpx.Client) -> None:
    """urql's cache adds __typename and reprints the document; it is still the same operation."""
    reformatted = ("query Applications {\n  applications {\n    name\n    key\n"
                   "    __typename\n  }\n}")
    response = send(allowlist, query=reformatted, headers=RESPONSE_JSON)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"applications": []}


@pytest.mark.parametrize(("headers", "status"), [(RESPONSE_JSON, 403), ({}, 200)])
def test_an_unregistered_operation_is_refused_in_allowlist_mode(
        allowlist: httpx.Client, headers: dict[str, str], status: int) -> None:
    response = send(allowlist, query=ENVIRONMENTS, headers=headers)
    assert response.status_code == status
    assert code_of(response) == "PERSISTED_QUERY_NOT_IN_LIST"
    sneaky = "query Applications { applications { key name } environments { name } }"
    assert code_of(send(allowlist, query=sneaky, digest=sha(sneaky))) == \
        "PERSISTED_QUERY_NOT_IN_LIST"


def test_in_allowlist_mode_clients_teach_nothing(allowlist: httpx.Client) -> None:
    assert code_of(send(allowlist, digest=sha(ENVIRONMENTS))) == "PERSISTED_QUERY_NOT_FOUND"
    assert code_of(send(allowlist, query=ENVIRONMENTS, digest=sha(ENVIRONMENTS))) == \
        "PERSISTED_QUERY_NOT_IN_LIST"
    assert code_of(send(allowlist, digest=sha(ENVIRONMENTS))) == "PERSISTED_QUERY_NOT_FOUND"


def test_a_manifest_that_does_not_hold_stops_start_up_naming_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({f"sha256:{sha(APPLICATIONS)}": VIEWER}), encoding="utf-8")
    settings = load_settings(None, database={"url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"},
                             graphql={"persisted_queries_manifest": str(bad)})
    with pytest.raises(SettingsError, match=r"graphql\.persisted_queries_manifest: .*bad\.json: "
                                            r"entry 'sha256:"):
        create_app(settings)


# --- registering with the command ------------------------------------------------------------

def register(path: Path, database: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", "persisted", "register", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "HEATSHIELD_DATABASE__URL": database})


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_register_command_puts_operations_on_a_running_hubs_allow_list(
        backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as database, \
            hub(database, new_secret(), persisted_queries="allowlist") as client:
        assert code_of(send(client, query=ENVIRONMENTS)) == "PERSISTED_QUERY_NOT_IN_LIST"
        done = register(manifest(tmp_path / "m.json", ENVIRONMENTS, prefix=""), database)
        assert done.returncode == 0, done.stderr
        assert "1 operations registered: 1 new" in done.stdout
        assert send(client, query=ENVIRONMENTS).json()["data"] == {"environments": []}


def test_a_manifest_with_one_bad_entry_registers_nothing(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    path = tmp_path / "m.json"
    path.write_text(json.dumps({sha(APPLICATIONS): APPLICATIONS,
                                sha("query X { nothing }"): "query X { nothing }"}))
    done = register(path, database)
    assert done.returncode == 1
    said = " ".join(done.stderr.split())
    assert f"entry '{sha('query X { nothing }')}': does not validate" in said
    assert not (tmp_path / "hub.db").exists() or query_db(
        database, "SELECT count(*) FROM persisted_queries") == [(0,)]


def _needs(*paths: Path) -> None:
    """The dashboard's build output (`make frontend`), or skip; CI requires it."""
    missing = [str(p) for p in paths if not p.exists()]
    if not missing:
        return
    reason = f"{', '.join(missing)} missing (cd frontend && npm ci && npm run codegen)"
    if os.environ.get("HEATSHIELD_REQUIRE_NODE"):
        pytest.fail(f"{reason}; HEATSHIELD_REQUIRE_NODE is set", pytrace=False)
    pytest.skip(reason)


def test_the_dashboards_manifest_registers_every_operation(tmp_path: Path) -> None:
    """graphql-codegen writes it at build time (`npm run build`, `make frontend`)."""
    _needs(DASHBOARD_MANIFEST)
    operations = json.loads(DASHBOARD_MANIFEST.read_text(encoding="utf-8"))
    done = register(DASHBOARD_MANIFEST, f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    assert done.returncode == 0, done.stderr
    assert f"{len(operations)} operations registered: {len(operations)} new" in done.stdout


# --- the canonical form ----------------------------------------------------------------------

def test_the_canonical_form_ignores_spacing_order_and_typename_but_not_fields() -> None:
    one = "query A { applications { key name } }"
    assert canonical_sha256(one) == canonical_sha256(
        "query A {applications{__typename name key}}")
    assert canonical_sha256(one) != canonical_sha256("query A { applications { key } }")
    assert canonical_sha256(one) != canonical_sha256(
        "query A { applications { key t: __typename name } }")
    assert canonical_sha256("query A {") is None


def test_allowlist_mode_admits_what_the_unchanged_dashboard_sends(tmp_path: Path) -> None:
    """Each operation as urql and its cache put it on the wire, against the built manifest."""
    node = shutil.which("node")
    script = REPO / "frontend" / "scripts" / "dashboard-requests.mjs"
    _needs(DASHBOARD_MANIFEST, REPO / "frontend" / "node_modules" / "@urql" / "core",
           *([] if node else [Path("node")]))
    assert node is not None
    printed = subprocess.run([node, str(script), str(DASHBOARD_MANIFEST)], capture_output=True,
                             text=True, cwd=REPO / "frontend", timeout=60, check=True)
    sent: list[str] = json.loads(printed.stdout)
    assert len(sent) == len(json.loads(DASHBOARD_MANIFEST.read_text(encoding="utf-8")))
    with hub(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", new_secret(),
             persisted_queries="allowlist",
             persisted_queries_manifest=str(DASHBOARD_MANIFEST)) as client:
        for document in sent:
            assert "__typename" in document  # as the cache adds it
            answer = send(client, query=document).json()
            codes = {e["extensions"]["code"] for e in answer.get("errors", [])}
            assert "PERSISTED_QUERY_NOT_IN_LIST" not in codes, document
        assert code_of(send(client, query=ENVIRONMENTS)) == "PERSISTED_QUERY_NOT_IN_LIST"
