"""Architecture: the rules in `api/domain` and the canonical records do no I/O.

They are imported in a fresh interpreter, which must not load any library
that talks to a database, the network or the web.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import api.domain
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
