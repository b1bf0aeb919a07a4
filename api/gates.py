"""A plain HTTP gate for any CI: may this release deploy to that environment now?

`GET /api/gates/{release}?environment=production[&wait=SECONDS]` answers 200
with `"decision": "pass"` or 412 with `"decision": "fail"`, and the gates'
reasons, so `curl --fail` stops a job that must not deploy. The gates are the
graph's own (`Release.gates`, evaluated live); they guard production tiers, so
another environment passes with that said. With `wait`, a failing answer is
held until a write concerning the release (a CAB decision flowing back, an
override) makes the gates pass, or until `wait` runs out; nothing upstream is
asked while it waits. Every answer is audited with who asked and what was
answered. A token created with scope GATES may call this and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from strawberry import Schema

from api.db import models as m
from api.db.audit import record
from api.domain.enums import EnvironmentTier
from api.events import LocalBus, SubscriberLimit
from api.security import GATES_PREFIX, principal_of, refusal
from api.services.pipeline_gates import Verdict
from api.settings import Settings

GATES = """query Gates($key: String!) { release(key: $key) {
  id key status gates { name passed reason } changeRequests { state approval } } }"""
#: The longest a caller may ask to wait, in seconds.
MAX_WAIT_SECONDS = 300


def _wait_seconds(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 <= value <= MAX_WAIT_SECONDS else None


async def read_gates(schema: Schema, context: Any, key: str) -> dict[str, Any] | None:
    """The release's status, gates and change requests, as the graph answers them."""
    result = await schema.execute(GATES, variable_values={"key": key}, context_value=context)
    if result.errors or not result.data or result.data["release"] is None:
        return None
    release: dict[str, Any] = result.data["release"]
    return release


def verdict(release: dict[str, Any]) -> Verdict:
    """Pass, never (cancelled, or every change request rejected or cancelled), or not yet."""
    gates = release["gates"]
    passed = all(g["passed"] for g in gates)
    changes = release["changeRequests"]
    hopeless = release["status"] == "CANCELLED" or (bool(changes) and all(
        c["approval"] == "REJECTED" or c["state"] in ("REJECTED", "CANCELED") for c in changes))
    shown = gates if passed else [g for g in gates if not g["passed"]]
    return Verdict(passed=passed, hopeless=hopeless and not passed,
                   reasons="; ".join(f"{g['name']}: {g['reason']}" for g in shown))


def gate_routes(settings: Settings, schema: Schema, sessions: async_sessionmaker[AsyncSession],
                bus: LocalBus, make_context: Callable[[Any, Any], Any]) -> list[BaseRoute]:
    async def evaluate(request: Request, key: str) -> dict[str, Any] | None:
        return await read_gates(schema, make_context(request, Response()), key)

    async def answer(request: Request) -> Response:
        key = request.path_params["release"]
        for name in ("environment", "wait"):
            # Which one would be judged is a guess (a template that appends
            # `&environment=$ENV` to a URL that has one); a gate does not guess.
            if len(request.query_params.getlist(name)) > 1:
                return refusal(400, "BAD_USER_INPUT", f"{name} is given more than once")
        environment = request.query_params.get("environment", "").strip()
        if not environment:
            return refusal(400, "BAD_USER_INPUT", "name the environment: ?environment=...")
        wait = _wait_seconds(request.query_params.get("wait"))
        if wait is None:
            return refusal(400, "BAD_USER_INPUT",
                           f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}")
        async with sessions() as session:
            # The hub's name for it, or the name deployments report it by ("production"),
            # which several environments may share (a region each).
            targets = (await session.scalars(select(m.Environment).where(or_(
                func.lower(m.Environment.name) == environment.lower(),
                func.lower(m.Environment.deploy_target) == environment.lower())))).all()
            release_row = await session.scalar(select(m.Release).where(m.Release.key == key))
        if not targets:
            return refusal(404, "NOT_FOUND", f"environment {environment!r} does not exist")
        # When the name could mean a production environment, the gates guard it.
        production = any(t.tier is EnvironmentTier.PRODUCTION for t in targets)
        if release_row is None:
            return refusal(404, "NOT_FOUND", f"release {key!r} does not exist")
        principal = principal_of(request.scope)
        assert principal is not None  # the security middleware let only callers in

        deadline = time.monotonic() + wait
        try:
            waiting = bus.subscribe(principal.subject, lambda e: e.release_id == release_row.id)
        except SubscriberLimit as exc:
            return refusal(429, "RATE_LIMITED", str(exc))
        try:
            while True:
                release = await evaluate(request, key)
                if release is None:
                    return refusal(404, "NOT_FOUND", f"release {key!r} does not exist")
                gates = release["gates"]
                if not production:
                    gates = [{"name": "environment", "passed": True,
                              "reason": f"{environment} is not a production environment; "
                                        "the gates guard production"}]
                passed = all(g["passed"] for g in gates)
                left = deadline - time.monotonic()
                if passed or left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiting.queue.get(), timeout=left)
        finally:
            waiting.close()

        decision = "pass" if passed else "fail"
        async with sessions() as session, session.begin():
            record(session, actor=principal.actor, action="gate.check", entity_type="Release",
                   entity_id=release_row.id, entity_key=key, release_id=release_row.id,
                   after={"environment": environment, "decision": decision,
                          "gates": {g["name"]: g["passed"] for g in gates}})
        return JSONResponse({"release": key, "status": release["status"],
                             "environment": environment, "decision": decision,
                             "gates": gates}, status_code=200 if passed else 412)

    return [Route(GATES_PREFIX + "{release}", answer, methods=["GET"])]
