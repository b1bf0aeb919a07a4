"""Log redaction is part of start-up: importing the HTTP layer changes no logger.

Importing a module must not change process-wide logging (a library, a test or
a tool that only imports `connectors.http` keeps its loggers as they were);
the app factory and the CLI attach the secret scrubber when the process starts.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import load_settings
from tests.support.server import serve_asgi

#: The loggers that may format request data; literal, so the test does not trust the code.
LOGGERS = ("heatshield", "heatshield.connectors.http", "httpx", "httpcore",
           "httpcore.http11", "stamina")
SECRET = "tok-51c0de-redact-me-after-start-up"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter, so no earlier test's start-up has touched its loggers."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, check=False)


def test_importing_the_http_layer_or_the_app_installs_no_log_filter() -> None:
    result = run_python(f"""
        import logging
        import connectors.http, connectors.registry, api.app, api.cli
        for name in {LOGGERS!r}:
            assert not logging.getLogger(name).filters, (name, logging.getLogger(name).filters)
        print("clean")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_every_cli_command_starts_with_log_redaction() -> None:
    result = run_python(f"""
        import logging
        from typer.testing import CliRunner
        from api.cli import app
        assert CliRunner().invoke(app, ["schema"]).exit_code == 0
        missing = [n for n in {LOGGERS!r} if not logging.getLogger(n).filters]
        print("missing:", missing)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "missing: []"


@pytest.fixture
def bare_loggers() -> Iterator[None]:
    """The watched loggers without any filter, as in a process that has not started yet."""
    saved = {name: list(logging.getLogger(name).filters) for name in LOGGERS}
    for name, filters in saved.items():
        for f in filters:
            logging.getLogger(name).removeFilter(f)
    yield
    for name, filters in saved.items():
        logger = logging.getLogger(name)
        for f in list(logger.filters):
            logger.removeFilter(f)
        for f in filters:
            logger.addFilter(f)


def test_after_start_up_a_connector_secret_is_scrubbed_from_every_request_logger(
        bare_loggers: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(
        None, database={"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
        connectors=[{"name": "jira", "kind": "jira", "base_url": "http://127.0.0.1:9",
                     "auth": {"type": "bearer", "token_env": "JIRA_TOKEN"}}])
    caplog.set_level(logging.DEBUG)
    with serve_asgi(create_app(settings, environ={"JIRA_TOKEN": SECRET})):
        for name in LOGGERS:
            logging.getLogger(name).warning("careless: Authorization: Bearer %s", SECRET)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("careless")]
    assert len(lines) == len(LOGGERS)
    assert lines == ["careless: Authorization: Bearer ***"] * len(LOGGERS)
