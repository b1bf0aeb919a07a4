"""The `heatshield` command: serve, migrate, schema, sandbox."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn
from rich.console import Console

from api.settings import CONFIG_ENV, Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

app = typer.Typer(help="Heatshield: the release-management hub.", no_args_is_help=True,
                  add_completion=False)
err = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option(
    "--config", "-c", help="TOML configuration file (default: $HEATSHIELD_CONFIG, then "
                           "./heatshield.toml).")]


@app.callback()
def _start() -> None:
    """Every command starts with secrets scrubbed from logs (the app factory does it too)."""
    from connectors.http import install_log_redaction

    install_log_redaction()


def _settings(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def serve(config: ConfigOption = None,
          host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
          port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
          workers: Annotated[int, typer.Option(
              min=1, max=64, help="Processes sharing the port. Migrations run once, here, "
                                  "before they start; set [redis] url so they share rate "
                                  "limits, login throttling, breakers and cache "
                                  "invalidation.")] = 1) -> None:
    """Run the server (migrations run on start)."""
    settings = _settings(config)
    bind_host = host or settings.server.host
    bind_port = port if port is not None else settings.server.port
    if workers == 1:
        with _built_for_good():
            from api.app import create_app

            asgi = create_app(settings)
        typer.echo(f"Heatshield on http://{bind_host}:{bind_port}/  (GraphQL at /graphql)")
        _run(asgi, settings, host=bind_host, port=bind_port, log_level="info")
        return
    # Workers start from this module's factory and read the same file and environment.
    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())
    _upgrade(settings)
    if not settings.redis.url:
        err.print("[yellow]warning:[/yellow] no \\[redis] url: each worker keeps its own rate "
                  "limits, login throttling, breakers and upstream cache", highlight=False)
    typer.echo(f"Heatshield on http://{bind_host}:{bind_port}/  (GraphQL at /graphql), "
               f"{workers} workers")
    # A worker answers the supervisor's health checks only once its imports are done.
    _run("api.cli:worker_app", settings, host=bind_host, port=bind_port, log_level="info",
         workers=workers, factory=True, timeout_worker_healthcheck=60)


def worker_app() -> Any:
    """One worker of `serve --workers N`: the parent has migrated the database already."""
    from connectors.http import install_log_redaction

    install_log_redaction()
    with _built_for_good():
        from api.app import create_app

        return create_app(load_settings(), migrate=False)


@contextmanager
def _built_for_good() -> Iterator[None]:
    """Import and build the app without the cyclic garbage collector, then freeze what was
    built. The app's modules, schema and mappings are some 150,000 objects that live as
    long as the process; collected as they pile up, they were walked in some 350 passes,
    about a tenth of a start. Frozen (`gc.freeze`), later collections, those during
    requests too, skip them. The few cycles left over from imports (about 900 objects,
    measured) stay with them: a one-off, not a leak that grows."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _upgrade(settings: Settings) -> None:
    from api.db.engine import create_engine
    from api.db.migrate import upgrade

    async def run() -> None:
        engine = create_engine(settings.database.url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Bring the database schema up to date."""
    _upgrade(_settings(config))
    typer.echo("database is up to date")


user_app = typer.Typer(help="Local users: add, passwd, disable, enable, list.",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")


def _password(given_on_stdin: bool) -> str:
    if given_on_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _with_session(config: Path | None, work: Callable[[AsyncSession], Awaitable[str]]) -> None:
    """Run `work` in one transaction on an up-to-date database; print what it says."""
    from api.db.engine import create_engine, session_factory
    from api.db.migrate import upgrade

    settings = _settings(config)

    async def run() -> str:
        engine = create_engine(settings.database.url)
        try:
            await upgrade(engine)
            async with session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    from api.errors import ServiceError

    try:
        typer.echo(asyncio.run(run()))
    except (ValueError, ServiceError) as exc:  # refusals and unknown users, said plainly
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


async def _find_user(session: AsyncSession, username: str) -> Any:
    from sqlalchemy import select

    from api.db.models import User

    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ValueError(f"no user {username!r}")
    return user


PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from standard input (for scripts).")]


@user_app.command("add")
def user_add(username: str,
             role: Annotated[str, typer.Option(help="VIEWER | RELEASE_MANAGER | ADMIN")] =
             "VIEWER",
             display_name: Annotated[str, typer.Option(help="Shown in the dashboard.")] = "",
             password_stdin: PasswordStdin = False, config: ConfigOption = None) -> None:
    """Add a local user (the password is asked for, never taken as an argument)."""
    from api import auth
    from api.db.models import Role
    from api.services import access

    if role.upper() not in Role.__members__:
        err.print(f"[red]error:[/red] unknown role {role!r}", highlight=False)
        raise typer.Exit(2)
    password = _password(password_stdin)
    minimum = _settings(config).security.password_min_length

    async def work(session: AsyncSession) -> str:
        await access.create_user(session, username=username,
                                 password_hash=await auth.hash_password_off_loop(password,
                                                                                 minimum),
                                 role=Role[role.upper()], display_name=display_name,
                                 actor="cli", field="username")
        return f"user {username} added ({role.upper()})"

    _with_session(config, work)


@user_app.command("passwd")
def user_passwd(username: str, password_stdin: PasswordStdin = False,
                config: ConfigOption = None) -> None:
    """Set a user's password; their sessions end and their API tokens are revoked."""
    from api import auth
    from api.services import access

    password = _password(password_stdin)
    minimum = _settings(config).security.password_min_length

    async def work(session: AsyncSession) -> str:
        user = await _find_user(session, username)
        await access.set_password(session, user,
                                  await auth.hash_password_off_loop(password, minimum),
                                  actor="cli")
        return f"password of {username} changed"

    _with_session(config, work)


@user_app.command("disable")
def user_disable(username: str, config: ConfigOption = None) -> None:
    """Disable a user: sessions end, API tokens are revoked (for good)."""
    from api.services import access

    async def work(session: AsyncSession) -> str:
        await access.set_disabled(session, await _find_user(session, username), True,
                                actor="cli")
        return f"user {username} disabled"

    _with_session(config, work)


@user_app.command("enable")
def user_enable(username: str, config: ConfigOption = None) -> None:
    """Enable a disabled user again."""
    from api.services import access

    async def work(session: AsyncSession) -> str:
        await access.set_disabled(session, await _find_user(session, username), False,
                                actor="cli")
        return f"user {username} enabled"

    _with_session(config, work)


@user_app.command("list")
def user_list(config: ConfigOption = None) -> None:
    """Every user with role and state."""
    from sqlalchemy import select

    from api.db.models import User

    async def work(session: AsyncSession) -> str:
        users = await session.scalars(select(User).order_by(User.username))
        return "\n".join(f"{u.username}\t{u.role.name}\t{'disabled' if u.disabled else 'active'}"
                         for u in users) or "(no users)"

    _with_session(config, work)


@app.command()
def schema() -> None:
    """Print the GraphQL schema (SDL)."""
    from api.schema import export_sdl

    typer.echo(export_sdl(), nl=False)


persisted_app = typer.Typer(help="Persisted queries: register a manifest of operations.",
                            no_args_is_help=True)
app.add_typer(persisted_app, name="persisted")


@persisted_app.command("register")
def persisted_register(
    manifest: Annotated[Path, typer.Argument(help="JSON object of hash -> document, e.g. "
                                             "frontend/src/gql/persisted-documents.json.")],
    config: ConfigOption = None,
) -> None:
    """Register operations for the allow-list (and automatic persisted queries): all or none."""
    from rich.markup import escape

    from api.db.engine import create_engine, session_factory
    from api.db.migrate import upgrade
    from api.persisted_queries import read_manifest
    from api.persisted_store import PersistedQueryStore, Registration
    from api.schema import build_schema

    settings = _settings(config)
    try:
        entries = read_manifest(manifest, build_schema(settings.limits)._schema)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None

    async def run() -> Registration:
        engine = create_engine(settings.database.url)
        try:
            await upgrade(engine)
            store = PersistedQueryStore(
                session_factory(engine),
                max_entries=settings.graphql.persisted_queries_max_entries)
            return await store.register(entries)
        finally:
            await engine.dispose()

    done = asyncio.run(run())
    typer.echo(f"{len(entries)} operations registered: {done.added} new, {done.promoted} "
               f"known from clients before, {done.known} registered already")


@app.command("schema-contract")
def schema_contract(
    released: Annotated[Path, typer.Option(help="The last released schema.")] =
        Path("schema/released.graphql"),
    current: Annotated[Path, typer.Option(help="The schema to check.")] = Path("schema.graphql"),
    changes: Annotated[Path, typer.Option(help="Breaking changes allowed, with their "
                                               "deprecation periods.")] =
        Path("schema/changes.toml"),
) -> None:
    """Check the schema against the last released one: unlisted breaking changes fail (1)."""
    from rich.markup import escape

    from api.schema_contract import ContractError, check_files

    try:
        report = check_files(released, current, changes)
    except ContractError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    for line in report.lines():
        typer.echo(line)
    if not report.passed:
        raise typer.Exit(1)


@app.command()
def sandbox(
    kind: Annotated[str, typer.Argument(
        help="Connector kind whose sandbox to run (any registered one, e.g. jira).")],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the demo world.")] = 7,
    scale: Annotated[int, typer.Option(min=1, help="Multiplies the demo world.")] = 1,
    user: Annotated[str, typer.Option(help="Accepted user name / email.")] =
        "demo@acme-retail.example",
    password: Annotated[str, typer.Option(help="Accepted password.")] = "demo-password",
    token: Annotated[str, typer.Option(help="Accepted API token / PAT.")] = "demo-token",
    flavor: Annotated[str | None, typer.Option(
        help="Variant of the upstream to play, for kinds that have them "
             "(jira: cloud or datacenter).")] = None,
) -> None:
    """Run one upstream sandbox on its own port, over the seeded demo world.

    Demo credentials (the defaults): user demo@acme-retail.example, password
    demo-password, token demo-token; ServiceNow's OAuth client is
    heatshield-sandbox-client with secret heatshield-sandbox-secret.
    """
    from connectors.sandbox.kit import Credentials
    from connectors.sandbox.registry import UnknownFlavor, UnknownSandboxKind, default_registry
    from connectors.sandbox.world import build_world

    try:
        factory = default_registry.get(kind).factory(flavor)
    except (UnknownSandboxKind, UnknownFlavor) as exc:
        err.print(f"[red]error:[/red] {kind}: {exc}", highlight=False)
        raise typer.Exit(2) from None
    world = build_world(seed=seed, scale=scale)
    asgi = factory(world, credentials=Credentials(
        username=user, password=password, token=token))
    typer.echo(f"{kind} sandbox{f' ({flavor})' if flavor else ''} on http://{host}:{port}/")
    uvicorn.run(asgi, host=host, port=port, log_level="warning")


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not a date in the form YYYY-MM-DD: {text!r}",
                                 param_hint="--epoch") from None


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    scale: Annotated[int, typer.Option(min=1, help="Multiplies the demo world.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the demo world.")] = 7,
    epoch: Annotated[str | None, typer.Option(
        help="The demo world's day, YYYY-MM-DD (default today): every date is relative "
             "to it.")] = None,
    sandbox_latency_ms: Annotated[float, typer.Option(
        min=0, help="Latency every sandbox adds to each answer.")] = 0,
    database: Annotated[str, typer.Option(help="Database URL.")] =
        "sqlite+aiosqlite:///heatshield-demo.db",
) -> None:
    """Heatshield with every registered sandbox mounted and a seeded, linked demo world."""
    from rich.progress import Progress

    from api.app import create_app
    from api.demo import (
        build_sandboxes,
        demo_connectors,
        demo_environ,
        demo_epoch,
        progress_printer,
        seed_users,
    )
    from api.demo import seed as seed_world
    from connectors.sandbox.world import build_world

    base_url = f"http://{host}:{port}"
    settings = _settings(None, database={"url": database},
                         connectors=[c.model_dump() for c in demo_connectors(base_url)])
    world = build_world(seed=seed, scale=scale, epoch=demo_epoch(_day(epoch)))
    sandboxes = build_sandboxes(world, webhook_base=base_url)  # webhooks come back to us
    if sandbox_latency_ms:
        sandboxes.add_latency(sandbox_latency_ms)

    async def seed_step(sessions: Any) -> None:
        with Progress(console=err, transient=True) as progress:
            written = await seed_world(sessions, world, progress=progress_printer(progress))
        if written:
            err.print(f"seeded {written} releases from the demo world (seed {seed}, "
                      f"scale {scale}, dated {world.now.date().isoformat()})")
        typer.echo("  demo sign-ins (fresh passwords each start):")
        for username, role, password in await seed_users(sessions):
            typer.echo(f"    {username:<8} {role:<16} {password}")

    asgi = create_app(settings, environ=demo_environ(), mounts=sandboxes.mounts(),
                      startup=[seed_step], public_prefixes=["/sandbox/"])
    typer.echo(f"Heatshield demo on {base_url}/")
    typer.echo(f"  GraphQL and GraphiQL: {base_url}/graphql")
    typer.echo(f"  sandboxes: {base_url}/sandbox/{{{','.join(sandboxes.apps)}}}/")
    _run(asgi, settings, host=host, port=port, log_level="warning")


def _period_length(text: str) -> Any:
    """`90d`, `12w` or `6m` (30-day months) as a timedelta."""
    from datetime import timedelta

    units = {"d": 1, "w": 7, "m": 30}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit() or int(number) < 1:
        raise typer.BadParameter(f"not a period such as 90d, 12w or 6m: {text!r}",
                                 param_hint="--period")
    return timedelta(days=int(number) * units[unit])


@app.command()
def insights(
    config: ConfigOption = None,
    period: Annotated[str, typer.Option(help="How far back: 90d, 12w, 6m.")] = "90d",
    until: Annotated[str | None, typer.Option(
        help="End of the period, ISO date-time (default now).")] = None,
    application: Annotated[list[str] | None, typer.Option(
        "--application", "-a", help="Only these applications (repeatable).")] = None,
) -> None:
    """DORA's four keys per application, with their bands, from the configured sources."""
    from datetime import UTC, datetime

    from api.cache import UpstreamCache
    from api.db.engine import create_engine, session_factory
    from api.db.migrate import upgrade
    from api.domain import dora
    from api.hub import Hub
    from api.services import insights as service
    from connectors.registry import build_connectors

    settings = _settings(config)
    span = _period_length(period)
    try:
        end = datetime.fromisoformat(until) if until else datetime.now(UTC)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date-time: {until!r}",
                                 param_hint="--until") from None
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    window = dora.Period(end - span, end)

    async def run() -> service.Insights:
        engine = create_engine(settings.database.url)
        hub = Hub(build_connectors(settings.connectors), UpstreamCache(ttl=0),
                  deadline_seconds=max(60.0, settings.federation.request_deadline_seconds))
        try:
            await upgrade(engine)
            apps = await service.scopes(session_factory(engine), application or None)
            gathered = await service.gather(hub, apps, window)
            return service.compute(gathered, window, [a.key for a in apps])
        finally:
            await hub.aclose()
            await engine.dispose()

    try:
        result = asyncio.run(run())
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    for line in service.table(result):
        typer.echo(line)
    for error in result.errors:
        err.print(f"[yellow]partial:[/yellow] {error.source}: {error.message}", highlight=False)


def _run(asgi: Any, settings: Settings, *, host: str, port: int, log_level: str,
         **options: Any) -> None:
    """Serve with the bounded configuration (api/server.py) the tests use too; with
    `workers` > 1, uvicorn's supervisor binds the port once and starts that many."""
    from api.logging_setup import log_config
    from api.server import server_config

    options.setdefault("log_config", log_config(log_level, settings.logging.format))
    config = server_config(asgi, settings.server, host=host, port=port, log_level=log_level,
                           **options)
    if config.workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
