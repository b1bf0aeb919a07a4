"""Sandboxes are registered per connector kind; the demo and the CLI loop over the registry."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.demo import CREDENTIALS, WEBHOOK_SECRET, build_sandboxes
from connectors import registry as connector_registry
from connectors.sandbox.kit import Credentials, SandboxKit
from connectors.sandbox.registry import Sandbox, SandboxRegistry, default_registry
from connectors.sandbox.world import World, build_world
from tests.support.server import serve_asgi


def test_every_connector_kind_has_a_sandbox_registered_under_its_name() -> None:
    kinds = connector_registry.default_registry.kinds()
    assert default_registry.kinds() == kinds
    assert all(isinstance(default_registry.get(kind), Sandbox) for kind in kinds)


def tiny_app(world: World | None = None, *, credentials: Credentials | None = None,
             webhook_url: str | None = None, webhook_secret: str | None = None) -> Starlette:
    """A fifth kind's fake, built only from the shared kit."""
    assert world is not None and credentials is not None

    async def releases(request: Request) -> JSONResponse:
        return JSONResponse([r.key for r in world.releases[:2]])

    kit = SandboxKit("tiny", webhook_url=webhook_url, webhook_secret=webhook_secret,
                     error_response=lambda status, message: JSONResponse(
                         {"error": message}, status_code=status))
    return kit.app([Route("/releases", releases)])


def test_the_demo_mounts_a_kind_registered_from_outside_beside_the_shipped_ones() -> None:
    registry = SandboxRegistry()
    registry.register("tiny", Sandbox(tiny_app))
    world = build_world(seed=7)
    sandboxes = build_sandboxes(world, registry=registry)
    assert sorted(sandboxes.apps) == sorted([*default_registry.kinds(), "tiny"])
    with serve_asgi(Starlette(routes=sandboxes.mounts())) as url:
        answer = httpx.get(f"{url}/sandbox/tiny/releases")
        assert answer.json() == [r.key for r in world.releases[:2]]
        servicenow = httpx.get(f"{url}/sandbox/servicenow/api/now/table/change_request",
                               params={"sysparm_limit": 1},
                               auth=(CREDENTIALS.username, CREDENTIALS.password))
        assert servicenow.status_code == 200


def test_the_demo_points_at_the_hub_only_the_webhooks_it_receives() -> None:
    sandboxes = build_sandboxes(build_world(seed=7), webhook_base="http://hub.example/")
    targets = {kind: (app.state.kit.webhook_url, app.state.kit.webhook_secret)
               for kind, app in sandboxes.apps.items()}
    assert targets == {
        "github": ("http://hub.example/webhooks/github", WEBHOOK_SECRET),
        "jira": ("http://hub.example/webhooks/jira", WEBHOOK_SECRET),
        "servicenow": ("http://hub.example/webhooks/servicenow", WEBHOOK_SECRET),
        "perforce": (None, None), "remedy": (None, None)}
