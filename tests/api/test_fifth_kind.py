"""Adding a connector kind touches only its own package: shown, not claimed.

The "ledger" kind (`tests/support/ledger_kind.py`) is installed the way a plug-in
package is: a distribution's metadata on the path, declaring an entry point in
the `heatshield.connectors` group. A hub in a process of its own finds it there,
a release is linked to a ledger version through the graph, and its work items
and readiness come back through the graph. No file under `api/` names the kind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.graphql import GraphQLClient, new_secret
from tests.support.hub_process import free_port
from tests.support.ledger_kind import KIND, VERSIONS
from tests.support.paths import REPO

CREATE = """mutation($input: CreateReleaseInput!) { createRelease(input: $input) { id } }"""
LINK = """mutation($id: ID!, $link: SourceLinkInput!) {
  linkSource(releaseId: $id, link: $link) { id } }"""
RELEASE = """query($k: String!) { release(key: $k) {
  workItems { nodes { key title status statusLabel source { name } } }
  readiness { total done complete perSource { source total done } } } }"""
SOURCES = "{ sources { name } }"
PLANNED_VERSION = "PLANNED_VERSION"


def install_plugin(site: Path) -> None:
    """What `pip install` of a package declaring the kind leaves on the path."""
    info = site / "heatshield_ledger-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: heatshield-ledger\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[heatshield.connectors]\n{KIND} = tests.support.ledger_kind:LedgerConnector\n")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphQLClient]:
    tmp = tmp_path_factory.mktemp("ledger")
    install_plugin(tmp / "site")
    token, port = new_secret(), free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp / "site"), str(REPO)])}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.ledger_kind", "--database",
         f"sqlite+aiosqlite:///{tmp / 'hub.db'}", "--port", str(port), "--token", token],
        cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the hub with the ledger kind did not start")
            time.sleep(0.1)
        client = GraphQLClient(url, token=token)
        yield client
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_kind_is_found_through_its_entry_point(hub: GraphQLClient) -> None:
    assert [s["name"] for s in hub.data(SOURCES)["sources"]] == ["books"]


def test_a_release_linked_to_the_kind_reads_its_work_items_through_the_graph(
        hub: GraphQLClient) -> None:
    release = hub.data(CREATE, {"input": {"key": "FIN-2.0", "name": "Finance 2.0",
                                          "type": "PROJECT"}})["createRelease"]
    hub.data(LINK, {"id": release["id"], "link": {
        "source": "books", "kind": PLANNED_VERSION, "externalKey": "2.0"}})

    found = hub.data(RELEASE, {"k": "FIN-2.0"})["release"]

    expected = VERSIONS["2.0"]
    assert sorted((i["key"], i["title"], i["statusLabel"]) for i in found["workItems"]["nodes"]) \
        == sorted(expected)
    assert {i["source"]["name"] for i in found["workItems"]["nodes"]} == {"books"}
    readiness = found["readiness"]
    assert (readiness["total"], readiness["done"], readiness["complete"]) == (3, 2, True)
    assert readiness["perSource"] == [{"source": "books", "total": 3, "done": 2}]


def test_no_file_under_api_names_the_kind() -> None:
    named = [path for path in (REPO / "api").rglob("*.py")
             if KIND in path.read_text(encoding="utf-8").lower()]
    assert named == []
