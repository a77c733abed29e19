"""``imgflow serve | worker``: the local runtime and the cluster's roles (client commands: :mod:`.client_cmd`)."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from imgflow.cli.errors import CliError, handles_errors
from imgflow.cli.helptext import Command


class Role(StrEnum):
    all = "all"
    api = "api"


DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", "-d", metavar="DIR", help="Folder for images and the SQLite file (default: var)"),
]
Config = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", metavar="FILE", help="YAML settings (default: $IMGFLOW_CONFIG, else ./imgflow.yaml)"
    ),
]


def _settings(config: Path | None, **overrides: Any) -> Any:
    from imgflow.settings import load_settings

    return load_settings(config, **overrides)


@handles_errors
def serve(
    port: Annotated[int | None, typer.Option("--port", "-p", metavar="N", help="TCP port (default: 8080)")] = None,
    data_dir: DataDir = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", metavar="N", min=1, max=64, help="Worker processes (default: one per core)"),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            metavar="ADDRESS",
            help="Address to bind (default: 127.0.0.1); others need a strong token and public_base_url",
        ),
    ] = None,
    config: Config = None,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            metavar="N",
            min=1,
            max=64,
            help="API processes sharing the one port (default: 1); the workers stay separate",
        ),
    ] = None,
    role: Annotated[
        Role | None,
        typer.Option(
            "--role",
            metavar="all|api",
            help="all: the API with its workers (local backend, the default); api: the API and the page only "
            "(the cluster backend's role; workers run as `imgflow worker`)",
        ),
    ] = None,
) -> None:
    """Serve the web page, the API and /metrics with local workers.

    Worker processes take jobs from a durable SQLite queue under the data folder. On the cluster
    backend this is the API role only (--role api): start workers with `imgflow worker`.
    """
    from imgflow.runtimes.local.server import serve as run_server

    settings = _settings(config, port=port, data_dir=data_dir, workers=workers, host=host, processes=processes)
    if "public_base_url" not in settings.model_fields_set and _loopback(settings.host):
        # off loopback the server refuses to guess: clients do not reach it at the bound address
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        settings = settings.model_copy(update={"public_base_url": f"http://{shown}:{settings.port}"})
    if settings.backend == "cluster":
        if role == Role.all or workers is not None:
            raise CliError(
                "on the cluster backend `imgflow serve` runs the API only (--role api); "
                "run the workers with `imgflow worker --concurrency N` and the sweep with `imgflow sweep`"
            )
        from imgflow.runtimes.cluster.api import serve_api

        raise typer.Exit(serve_api(settings))
    if role == Role.api:
        raise CliError(
            f"--role api needs the cluster backend (backend: cluster, database_url); this one is {settings.backend!r}"
        )
    raise typer.Exit(run_server(settings))


def _loopback(host: str) -> bool:
    from imgflow.runtimes.local.listen import is_loopback

    return is_loopback(host)


@handles_errors
def worker(
    data_dir: DataDir = None,
    config: Config = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-n",
            metavar="N",
            min=1,
            max=64,
            help="Worker processes on this host (cluster backend; default: one per core)",
        ),
    ] = None,
) -> None:
    """Run workers: N processes on the cluster backend; locally one worker alone (serve starts its own).

    SIGTERM or Ctrl+C: each worker finishes the job in hand, then exits.
    """
    from imgflow.runtimes.local.env import WORKER_ENV

    settings = _settings(config, data_dir=data_dir)  # a bad config stops here, in one line, not in the worker's log
    if settings.backend == "cluster":
        from imgflow.runtimes.cluster.workers import run_workers
        from imgflow.runtimes.local.server import worker_count

        raise typer.Exit(run_workers(settings, worker_count(concurrency)))
    if concurrency not in (None, 1):
        from imgflow.cli.errors import CliError

        raise CliError("--concurrency is for the cluster backend; locally `imgflow serve --workers N` runs N workers")
    missing = {k: v for k, v in WORKER_ENV.items() if os.environ.get(k) != v}
    if missing:
        # libvips and malloc read these at load: re-exec with them set
        os.environ.update(missing)
        args = [sys.executable, "-m", "imgflow.runtimes.local", "worker"]
        if data_dir is not None:
            os.environ["IMGFLOW_DATA_DIR"] = str(data_dir.resolve())
        if config is not None:
            os.environ["IMGFLOW_CONFIG"] = str(config.resolve())
        os.execv(sys.executable, args)
    from imgflow.runtimes.local.__main__ import main

    raise typer.Exit(main(["worker"]))


def register(app: typer.Typer) -> None:
    app.command("serve", cls=Command)(serve)
    app.command("worker", cls=Command)(worker)
