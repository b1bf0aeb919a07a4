"""The `heatshield` command: serve, migrate, schema, sandbox."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console

from api.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="Heatshield: the release-management hub.", no_args_is_help=True,
                  add_completion=False)
err = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option(
    "--config", "-c", help="TOML configuration file (default: $HEATSHIELD_CONFIG, then "
                           "./heatshield.toml).")]

SANDBOX_KINDS = ("jira", "github", "servicenow", "remedy")


def _settings(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def serve(config: ConfigOption = None,
          host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
          port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None) -> None:
    """Run the server (migrations run on start)."""
    from api.app import create_app

    settings = _settings(config)
    bind_host = host or settings.server.host
    bind_port = port if port is not None else settings.server.port
    typer.echo(f"Heatshield on http://{bind_host}:{bind_port}/  (GraphQL at /graphql)")
    uvicorn.run(create_app(settings), host=bind_host, port=bind_port, log_level="info")


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Bring the database schema up to date."""
    from api.db.engine import create_engine
    from api.db.migrate import upgrade

    settings = _settings(config)

    async def run() -> None:
        engine = create_engine(settings.database.url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    typer.echo("database is up to date")


@app.command()
def schema() -> None:
    """Print the GraphQL schema (SDL)."""
    from api.schema import export_sdl

    typer.echo(export_sdl(), nl=False)


@app.command()
def sandbox(
    kind: Annotated[str, typer.Argument(help="jira | github | servicenow | remedy")],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the demo world.")] = 7,
    scale: Annotated[int, typer.Option(min=1, help="Multiplies the demo world.")] = 1,
    user: Annotated[str, typer.Option(help="Accepted user name / email.")] =
        "demo@acme-retail.example",
    password: Annotated[str, typer.Option(help="Accepted password.")] = "demo-password",
    token: Annotated[str, typer.Option(help="Accepted API token / PAT.")] = "demo-token",
) -> None:
    """Run one upstream sandbox on its own port, over the seeded demo world.

    Demo credentials (the defaults): user demo@acme-retail.example, password
    demo-password, token demo-token.
    """
    if kind not in SANDBOX_KINDS:
        err.print(f"[red]error:[/red] unknown sandbox {kind!r}; choose one of "
                  f"{', '.join(SANDBOX_KINDS)}", highlight=False)
        raise typer.Exit(2)
    from connectors.sandbox_kit import Credentials
    from connectors.sandbox_world import build_world

    module = importlib.import_module(f"connectors.{kind}.sandbox")
    world = build_world(seed=seed, scale=scale)
    asgi = module.create_app(world, credentials=Credentials(username=user, password=password,
                                                            token=token))
    typer.echo(f"{kind} sandbox on http://{host}:{port}/")
    uvicorn.run(asgi, host=host, port=port, log_level="warning")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    scale: Annotated[int, typer.Option(min=1, help="Multiplies the demo world.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the demo world.")] = 7,
    sandbox_latency_ms: Annotated[float, typer.Option(
        min=0, help="Latency every sandbox adds to each answer.")] = 0,
    database: Annotated[str, typer.Option(help="Database URL.")] =
        "sqlite+aiosqlite:///heatshield-demo.db",
) -> None:
    """Heatshield with the four sandboxes mounted and a seeded, linked demo world."""
    from rich.progress import Progress

    from api.app import create_app
    from api.demo import build_sandboxes, demo_connectors, demo_environ, progress_printer
    from api.demo import seed as seed_world
    from connectors.sandbox_world import build_world

    base_url = f"http://{host}:{port}"
    settings = _settings(None, database={"url": database},
                         connectors=[c.model_dump() for c in demo_connectors(base_url)])
    world = build_world(seed=seed, scale=scale)
    sandboxes = build_sandboxes(world)
    if sandbox_latency_ms:
        sandboxes.add_latency(sandbox_latency_ms)

    async def seed_step(sessions: Any) -> None:
        with Progress(console=err, transient=True) as progress:
            written = await seed_world(sessions, world, progress=progress_printer(progress))
        if written:
            err.print(f"seeded {written} releases from the demo world (seed {seed}, "
                      f"scale {scale})")

    asgi = create_app(settings, environ=demo_environ(), mounts=sandboxes.mounts(),
                      startup=[seed_step])
    typer.echo(f"Heatshield demo on {base_url}/")
    typer.echo(f"  GraphQL and GraphiQL: {base_url}/graphql")
    typer.echo(f"  sandboxes: {base_url}/sandbox/{{jira,github,servicenow,remedy}}/")
    uvicorn.run(asgi, host=host, port=port, log_level="warning")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
