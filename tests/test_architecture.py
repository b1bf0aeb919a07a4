"""Architecture: the rules in `api/domain` and the canonical records do no I/O, and the
connectors' product modules never reach for a sandbox.

They are imported in a fresh interpreter, which must not load any library
that talks to a database, the network or the web, nor any `sandbox` module.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import api.domain
import connectors
from tests.support.paths import REPO

IO_LIBRARIES = ("sqlalchemy", "httpx", "httpcore", "strawberry", "starlette", "uvicorn",
                "aiosqlite", "asyncpg")


def test_domain_rules_and_records_import_no_io_library() -> None:
    modules = ["connectors.records", *(f"api.domain.{m.name}"
                                       for m in pkgutil.iter_modules(api.domain.__path__))]
    assert len(modules) > 5
    script = "\n".join([*(f"import {m}" for m in modules), "import sys",
                        f"print(sorted(m for m in {IO_LIBRARIES!r} if m in sys.modules))"])
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, check=True).stdout.strip()
    assert loaded == "[]", f"the domain pulls in {loaded}"


def test_product_modules_import_no_sandbox() -> None:
    """Clients and mappings stand alone: no fake, JQL evaluator or demo world behind them."""
    modules = [m.name for m in pkgutil.walk_packages(connectors.__path__, "connectors.")
               if "sandbox" not in m.name.split(".")]
    assert {"connectors.jira.client", "connectors.remedy.mapping"} <= set(modules)
    script = "\n".join([
        "import importlib, json, sys",
        "def sandboxes(): return {m for m in sys.modules if 'sandbox' in m.split('.')}",
        "pulled = {}",
        f"for name in {modules!r}:",
        "    before = sandboxes()",
        "    importlib.import_module(name)",
        "    if sandboxes() - before: pulled[name] = sorted(sandboxes() - before)",
        "print(json.dumps(pulled))"])
    pulled = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True,
                                       text=True, cwd=REPO, check=True).stdout)
    assert pulled == {}, f"product modules import sandboxes: {pulled}"
