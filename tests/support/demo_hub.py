"""A hub over the demo world's sandboxes, each on a real socket: what the event tests share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from api.app import Startup, create_app
from api.demo import demo_connectors, demo_environ, seed
from api.settings import load_settings
from connectors.sandbox.world import World
from tests.support.server import serve_asgi


@contextmanager
def demo_hub(world: World, upstream_url: str, database_url: str, *,
             startup: Sequence[Startup] = (), **settings: Any) -> Iterator[str]:
    """The hub's URL: seeded from `world`, its connectors on the sandboxes at `upstream_url`
    (short timeouts, one retry), then the `startup` steps; `settings` are sections."""
    overrides: dict[str, Any] = {
        "database": {"url": database_url},
        "connectors": [c.model_dump() | {"timeout_seconds": 3, "max_retries": 1}
                       for c in demo_connectors(upstream_url)],
        **settings}

    async def seed_step(sessions: Any) -> None:
        await seed(sessions, world)

    app = create_app(load_settings(None, **overrides), environ=demo_environ(),
                     startup=[seed_step, *startup])
    with serve_asgi(app) as url:
        yield url
