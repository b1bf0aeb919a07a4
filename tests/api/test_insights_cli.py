"""`heatshield insights` against a configured hub database and the demo world's sandboxes."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner

from api.cli import app
from api.db.engine import create_engine, session_factory
from api.db.migrate import upgrade
from api.demo import build_sandboxes, demo_connectors, demo_environ, seed
from connectors.sandbox.world import World, build_world
from tests.support.server import serve_asgi

ROW = re.compile(r"^(?P<app>[A-Z]{2,6}) +(?P<rest>[-\d].*)$")


def toml_value(value: Any) -> str:
    """Enough TOML for a connector's settings: strings, numbers, lists, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(seed=7)


@pytest.fixture(scope="module")
def config(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A configuration file naming a seeded hub database and the sandboxes' connectors."""
    tmp = tmp_path_factory.mktemp("insights-cli")
    url = f"sqlite+aiosqlite:///{tmp / 'hub.db'}"

    async def prepare() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        await seed(session_factory(engine), world, releases=[])
        await engine.dispose()

    asyncio.run(prepare())
    with serve_asgi(Starlette(routes=build_sandboxes(world).mounts())) as base:
        lines = [f"[database]\nurl = {toml_value(url)}\n"]
        for connector in demo_connectors(base):
            lines.append("[[connectors]]")
            dumped = connector.model_dump(mode="json", exclude_none=True)
            lines += [f"{key} = {toml_value(value)}" for key, value in dumped.items()]
            lines.append("")
        path = tmp / "heatshield.toml"
        path.write_text("\n".join(lines), encoding="utf-8")
        yield path


def test_the_four_keys_of_each_application_are_printed_with_bands_and_differ(
        config: Path, world: World) -> None:
    result = CliRunner().invoke(app, ["insights", "--config", str(config), "--period", "90d",
                                      "--until", world.now.isoformat()], env=demo_environ())
    assert result.exit_code == 0, result.output
    rows = {m["app"]: m["rest"] for line in result.output.splitlines()
            if (m := ROW.match(line))}
    assert set(rows) == {a.key for a in world.applications}
    assert all(re.search(r"\b(elite|high|medium|low)\b", rest) for rest in rows.values())
    assert len(set(rows.values())) == len(rows), "each application has figures of its own"
    assert "overall" in result.output and "partial:" not in result.output


def test_a_period_that_is_not_one_is_refused_by_name(config: Path) -> None:
    result = CliRunner().invoke(app, ["insights", "--config", str(config), "--period", "ninety"])
    assert result.exit_code == 2
    assert "not a period such as 90d" in result.output


def test_an_unknown_application_is_refused_by_name(config: Path, world: World) -> None:
    result = CliRunner().invoke(app, ["insights", "--config", str(config), "-a", "NOPE",
                                      "--until", world.now.isoformat()], env=demo_environ())
    assert result.exit_code == 1
    assert "no application NOPE" in result.output
