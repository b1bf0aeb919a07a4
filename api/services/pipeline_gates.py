"""Pipelines that wait for the hub's word: a code host's deployment protection rule.

A code host asks (its deployment protection rule) before a deployment to a protected
environment proceeds. The hub finds the releases the deployed ref belongs to
(by code range or milestone, as deployment reports are matched), stores
the question, and answers the callback as soon as their gates decide: at once
when every one passes, at once when one never can (every change request
rejected or cancelled, the release cancelled), otherwise later, when a write
concerning them (a CAB decision flowing back) makes them decide. No
runner waits on the hub: the pipeline is parked upstream until the answer.
Every answer is audited with what was answered and why; the answer is claimed
in the database first, so two replicas never answer one pipeline twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import models as m
from api.db.audit import record
from api.hub import Hub
from api.services.deployments import releases_of_code
from connectors.errors import UpstreamError
from connectors.records import DeploymentGate
from connectors.webhooks import GateRequested

log = logging.getLogger("heatshield.pipeline_gates")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a release's gates say now: pass, never (hopeless), or not yet."""

    passed: bool
    hopeless: bool
    reasons: str


Evaluate = Callable[[str], Awaitable[Verdict | None]]


class PipelineGates:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                 evaluate: Evaluate) -> None:
        self.sessions = sessions
        self.hub = hub
        self.evaluate = evaluate

    async def requested(self, source: str, event: GateRequested) -> dict[str, object]:
        """Store the question and answer it now if the gates decide; the sender's answer."""
        releases = await releases_of_code(self.sessions, self.hub, source, event.repository,
                                          event.ref)
        release_id = releases[0][0] if releases else None
        try:
            async with self.sessions() as session, session.begin():
                row = m.PipelineGate(source=source, callback=event.callback,
                                     repository=event.repository, ref=event.ref,
                                     environment=event.environment, release_id=release_id)
                session.add(row)
                await session.flush()
                gate_id = row.id
        except IntegrityError:  # asked before (a redelivery): decide it again
            async with self.sessions() as session:
                gate_id = int(await session.scalar(select(m.PipelineGate.id).where(
                    m.PipelineGate.callback == event.callback)) or 0)
        decision = await self.decide(gate_id)
        return {"status": "processed", "releases": [key for _id, key in releases],
                "decision": decision or "pending"}

    async def decide(self, gate_id: int) -> str:
        """Answer the gate if the gates of every release the deployed code belongs to
        decide; the decision ('' while pending).

        Several releases can cover one ref (two applications in one repository, released
        from one tag): the deployment carries all their code, so it goes only when every
        one of them passes, and is refused as soon as one never can. The releases are
        found again each time, as a deployment report's are."""
        async with self.sessions() as session:
            gate = await session.get(m.PipelineGate, gate_id)
            if gate is None or gate.answered_at is not None:
                return gate.decision if gate is not None else ""
            source, repository, ref = gate.source, gate.repository, gate.ref
        releases = await releases_of_code(self.sessions, self.hub, source, repository, ref)
        if not releases:
            return await self._answer(gate_id, False, f"no release in Heatshield covers "
                                      f"{repository}@{ref}", [])
        verdicts: list[tuple[str, Verdict]] = []
        for _release_id, key in releases:
            verdict = await self.evaluate(key)
            if verdict is None:
                return ""
            verdicts.append((key, verdict))
        decided_for = [release_id for release_id, _key in releases]
        never = [(key, v) for key, v in verdicts if v.hopeless]
        if never:
            return await self._answer(gate_id, False, _reasons(never), decided_for)
        if all(v.passed for _key, v in verdicts):
            return await self._answer(gate_id, True, _reasons(verdicts), decided_for)
        return ""

    async def _answer(self, gate_id: int, approved: bool, comment: str,
                      release_ids: list[int]) -> str:
        """Claim the gate, answer the code host, and file the answer in the history of
        every release it was decided for: each one's code went, or was held, with it."""
        decision = "approved" if approved else "rejected"
        async with self.sessions() as session, session.begin():
            claimed = await session.execute(
                update(m.PipelineGate)
                .where(m.PipelineGate.id == gate_id, m.PipelineGate.answered_at.is_(None))
                .values(answered_at=m.utcnow(), decision=decision, comment=comment[:2000]))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return ""  # another replica answered
            gate = await session.get(m.PipelineGate, gate_id)
            assert gate is not None
            source, callback, environment = gate.source, gate.callback, gate.environment
        connector = self.hub.connectors.get(source)
        try:
            if not isinstance(connector, DeploymentGate):
                raise RuntimeError(f"{source} cannot answer deployment gates")
            await connector.answer_deployment_gate(callback, environment, approved, comment)
        except (UpstreamError, RuntimeError) as error:
            log.warning("could not answer pipeline gate %d: %s", gate_id, error)
            async with self.sessions() as session, session.begin():  # try again later
                await session.execute(update(m.PipelineGate).where(
                    m.PipelineGate.id == gate_id).values(answered_at=None, decision=""))
            return ""
        async with self.sessions() as session, session.begin():
            for release_id in release_ids or [None]:
                record(session, actor=f"{source} (deployment protection rule)",
                       action="gate.answer", entity_type="Release", entity_id=release_id,
                       entity_key=environment, release_id=release_id,
                       after={"decision": decision, "environment": environment,
                              "comment": comment[:500]})
        return decision

    async def pending(self) -> list[int]:
        async with self.sessions() as session:
            return list(await session.scalars(select(m.PipelineGate.id).where(
                m.PipelineGate.answered_at.is_(None)).order_by(m.PipelineGate.id)))

    async def run(self, woken: asyncio.Queue[object], sweep_seconds: float = 30.0) -> None:
        """Decide pending gates whenever something is written, and every `sweep_seconds`."""
        while True:
            try:
                await asyncio.wait_for(woken.get(), timeout=sweep_seconds)
                while not woken.empty():
                    woken.get_nowait()
            except TimeoutError:
                pass
            try:
                for gate_id in await self.pending():
                    await self.decide(gate_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # never stop deciding because one gate failed; say so
                log.exception("deciding pipeline gates failed")


def _reasons(verdicts: list[tuple[str, Verdict]]) -> str:
    return "; ".join(f"{key}: {verdict.reasons}" for key, verdict in verdicts)
