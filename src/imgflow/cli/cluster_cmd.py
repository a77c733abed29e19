"""``imgflow sweep`` and ``imgflow db migrate``: the cluster backend's operator commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from imgflow.cli.errors import CliError, handles_errors
from imgflow.cli.helptext import Command, Group
from imgflow.cli.serve_cmd import Config, _settings

if TYPE_CHECKING:
    from imgflow.settings import Settings


def _cluster(config: Path | None) -> Settings:
    settings: Settings = _settings(config)
    if settings.backend != "cluster":
        raise CliError(
            "this command is for the cluster backend (backend: cluster, database_url); "
            f"this one is {settings.backend!r}"
        )
    return settings


@handles_errors
def sweep(
    config: Config = None,
    once: Annotated[bool, typer.Option("--once", help="One sweep, then exit (for a cron job)")] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            metavar="SECONDS",
            min=1.0,
            help="Seconds between sweeps (default: reconcile_interval_seconds)",
        ),
    ] = None,
) -> None:
    """Reconcile: requeue lost jobs and landed uploads, expire abandoned ones, resend pending events.

    Safe on several hosts at once: one sweeps, the others skip that round (an advisory lock).
    """
    from imgflow.runtimes.cluster.sweep import run_sweep

    raise typer.Exit(run_sweep(_cluster(config), once=once, interval=interval))


@handles_errors
def migrate(config: Config = None) -> None:
    """Create or upgrade the database's schema (idempotent; safe on several hosts at once)."""
    from imgflow.adapters.pg_db import migrate as run_migrate

    settings = _cluster(config)
    assert settings.database_url is not None  # the settings' own check
    before, after = run_migrate(settings.database_url)
    if before == after:
        typer.echo(f"imgflow: the schema is up to date (version {after})")
    else:
        typer.echo(f"imgflow: the schema went from version {before} to {after}")


def register(app: typer.Typer) -> None:
    app.command("sweep", cls=Command)(sweep)
    db = typer.Typer(help="The cluster backend's database.", no_args_is_help=True, cls=Group)
    db.command("migrate", cls=Command)(migrate)
    app.add_typer(db, name="db")
