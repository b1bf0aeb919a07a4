"""The one-command demo: Heatshield plus every registered sandbox, over one seeded world.

The sandboxes are mounted under `/sandbox/<kind>/` of the same server and the
connectors reach them over loopback HTTP, so the demo exercises the real
federation path (HTTP layer, batching, caching) and not a shortcut.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rich.progress import Progress
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import BaseRoute, Mount

from api.db import models as m
from api.db.audit import record
from connectors.config import ConnectorConfig
from connectors.sandbox.kit import Credentials, FaultRule
from connectors.sandbox.registry import DemoWiring, SandboxRegistry, default_registry
from connectors.sandbox.world import World

TOKEN_ENV = "HEATSHIELD_DEMO_TOKEN"
PASSWORD_ENV = "HEATSHIELD_DEMO_PASSWORD"
WEBHOOK_SECRET_ENV = "HEATSHIELD_DEMO_WEBHOOK_SECRET"
# Shared by the demo's GitHub and JIRA sandboxes and the hub's webhook receivers.
WEBHOOK_SECRET = "demo-webhook-secret"
CREDENTIALS = Credentials()

ENVIRONMENTS = [("Development", m.EnvironmentTier.DEV, "dev"),
                ("Staging", m.EnvironmentTier.STAGING, "staging"),
                ("Production", m.EnvironmentTier.PRODUCTION, "production")]


def demo_environ() -> dict[str, str]:
    """The secrets the demo connectors read, kept out of the process environment."""
    return {TOKEN_ENV: CREDENTIALS.token, PASSWORD_ENV: CREDENTIALS.password,
            WEBHOOK_SECRET_ENV: WEBHOOK_SECRET}


def demo_connectors(base_url: str, *, registry: SandboxRegistry = default_registry
                    ) -> list[ConnectorConfig]:
    """Connector instances pointed at the mounted sandboxes of `base_url`, one per
    registered kind whose sandbox says how the demo connects to it."""
    root = base_url.rstrip("/") + "/sandbox"
    configs: list[ConnectorConfig] = []
    for kind in registry.kinds():
        connect = registry.get(kind).demo_connector
        if connect is not None:
            configs.append(connect(DemoWiring(
                name=kind, base_url=f"{root}/{kind}", username=CREDENTIALS.username,
                token_env=TOKEN_ENV, password_env=PASSWORD_ENV,
                webhook_secret_env=WEBHOOK_SECRET_ENV)))
    return configs


@dataclass
class Sandboxes:
    apps: dict[str, Any]

    def mounts(self) -> list[BaseRoute]:
        return [Mount(f"/sandbox/{kind}", app=app) for kind, app in self.apps.items()]

    def add_latency(self, latency_ms: float) -> None:
        """Every sandbox answers `latency_ms` later, as a distant upstream would."""
        for app in self.apps.values():
            app.state.kit.faults.append(FaultRule(latency_ms=latency_ms))


def build_sandboxes(world: World, *, webhook_base: str | None = None,
                    registry: SandboxRegistry = default_registry) -> Sandboxes:
    """One sandbox per registered kind; given `webhook_base` (the hub's URL), those whose
    webhooks the hub receives send them, signed, to its generic receiver
    (`/webhooks/{source}`) for the demo connectors."""
    hooks = webhook_base.rstrip("/") + "/webhooks" if webhook_base else None
    apps: dict[str, Any] = {}
    for kind in registry.kinds():
        sandbox = registry.get(kind)
        if sandbox.webhooks_to_hub:
            apps[kind] = sandbox.create_app(
                world, credentials=CREDENTIALS,
                webhook_url=f"{hooks}/{kind}" if hooks else None,
                webhook_secret=WEBHOOK_SECRET)
        else:
            apps[kind] = sandbox.create_app(world, credentials=CREDENTIALS)
    return Sandboxes(apps)


def release_links(world: World, release_key: str, *,
                  registry: SandboxRegistry = default_registry
                  ) -> list[tuple[str, m.LinkKind, str]]:
    """How a demo release is tied to the sandboxes' records: (source, kind, key).

    Each registered kind says which of its records a release links to; an ITSM's
    change requests are linked by the number its sandbox gives them.
    """
    release = world.release(release_key)
    links: list[tuple[str, m.LinkKind, str]] = []
    for kind in registry.kinds():
        link = registry.get(kind).demo_links
        if link is not None:
            links += [(kind, link_kind, key) for link_kind, key in link(world, release)]
    for change in world.change_requests:
        if change.release_key == release_key:
            change_number = registry.get(change.itsm).change_number
            if change_number is None:
                raise ValueError(f"the {change.itsm} sandbox numbers no change requests")
            links.append((change.itsm, m.LinkKind.CHANGE_REQUEST, change_number(change)))
    return links


def freeze_window(now: datetime) -> tuple[datetime, datetime]:
    """The demo's production freeze: from midnight 46 days after `now`, for 17 days.

    Relative to the world's day, so a demo started on any date has its freeze ahead of it
    (a fixed calendar date would slip into the past as the demo ages). From the default
    epoch (2 November) it is the holiday freeze, 18 December to 4 January.
    """
    start = (now + timedelta(days=46)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=17)


def demo_epoch(day: date | None = None) -> datetime:
    """The demo world's "now": 09:00 UTC of `day` (default today, UTC)."""
    day = day or datetime.now(UTC).date()
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


async def seed(sessions: async_sessionmaker[AsyncSession], world: World, *,
               progress: Callable[[int, int], None] | None = None,
               releases: Sequence[str] | None = None) -> int:
    """Write the world's applications, environments and releases, linked upstream.

    Does nothing when the database already holds releases (a restart keeps
    what people did in the demo). Returns the number of releases written.
    """
    async with sessions() as session, session.begin():
        if (await session.scalar(select(func.count()).select_from(m.Release))) or 0:
            return 0
        app_ids: dict[str, int] = {}
        for app in world.applications:
            app_row = m.Application(key=app.key, name=app.name,
                                description=f"{app.name} ({app.support_group})",
                                repositories=[f"{app.repo_owner}/{app.repo_name}"],
                                jira_projects=[app.key], cmdb_items=[app.ci_name])
            session.add(app_row)
            await session.flush()
            app_ids[app.key] = app_row.id
        for name, tier, target in ENVIRONMENTS:
            env = m.Environment(name=name, tier=tier, deploy_target=target)
            session.add(env)
            await session.flush()
            await session.execute(insert(m.environment_applications), [
                {"environment_id": env.id, "application_id": a} for a in app_ids.values()])
        wanted = [r for r in world.releases if releases is None or r.key in releases]
        for done, release in enumerate(wanted, start=1):
            row = m.Release(key=release.key, name=release.description, type=m.ReleaseType[
                release.type], status=m.ReleaseStatus[release.status],
                window_start=release.window_start, window_end=release.window_end,
                description=f"{release.description}, version {release.version_name}")
            session.add(row)
            await session.flush()
            await session.execute(insert(m.release_applications),
                                  [m.link_row(row, app_ids[release.app_key])])
            await session.execute(insert(m.SourceLink), [
                {"release_id": row.id, "source": source, "kind": kind, "external_key": key}
                for source, kind, key in release_links(world, release.key)])
            if progress and (done % 50 == 0 or done == len(wanted)):
                progress(done, len(wanted))
        freeze_start, freeze_end = freeze_window(world.now)
        session.add(m.BlackoutWindow(name="Holiday trading freeze", start=freeze_start,
                                     end=freeze_end, tiers=["PRODUCTION"],
                                     reason="Peak season: no production changes without CAB "
                                     "exception"))
        record(session, actor="demo", action="demo.seed", entity_type="Demo", entity_id=None,
               after={"releases": len(wanted), "applications": len(app_ids),
                      "seed": world.seed, "scale": world.scale})
        return len(wanted)


def progress_printer(progress: Progress) -> Callable[[int, int], None]:
    task = progress.add_task("Seeding releases", total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update


DEMO_USERS = (("viewer", m.Role.VIEWER), ("manager", m.Role.RELEASE_MANAGER),
              ("admin", m.Role.ADMIN))


async def seed_users(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    """One user per role, each with a fresh random password: (user, role, password).

    Only the demo does this; `serve` never creates credentials.
    """
    from api import auth
    from api.services import access

    passwords = [secrets.token_urlsafe(12) for _ in DEMO_USERS]
    hashes = [await auth.hash_password_off_loop(p) for p in passwords]  # before the transaction
    created: list[tuple[str, str, str]] = []
    async with sessions() as session, session.begin():
        for (username, role), password, password_hash in zip(DEMO_USERS, passwords, hashes,
                                                             strict=True):
            user = await session.scalar(select(m.User).where(m.User.username == username))
            if user is None:
                await access.create_user(session, username=username,
                                         password_hash=password_hash, role=role, actor="demo",
                                         display_name=f"Demo {username}")
            else:
                user.role, user.disabled = role, False
                await access.set_password(session, user, password_hash, actor="demo")
            created.append((username, role.name, password))
    return created
