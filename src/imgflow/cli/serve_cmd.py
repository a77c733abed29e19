"""``imgflow serve | worker | upload | status``: the local runtime and a small client for any server."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from imgflow.cli.errors import EXIT_OK, EXIT_SOME_FAILED, CliError, check_server_url, handles_errors
from imgflow.cli.helptext import Command

DEFAULT_SERVER = "http://127.0.0.1:8080"


class Role(StrEnum):
    all = "all"
    api = "api"


class Via(StrEnum):
    auto = "auto"
    direct = "direct"
    presigned = "presigned"


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
Server = Annotated[
    str, typer.Option("--server", "-s", metavar="URL", envvar="IMGFLOW_SERVER", help="imgflow's base URL")
]
Token = Annotated[
    str | None, typer.Option("--token", metavar="TOKEN", envvar="IMGFLOW_API_TOKEN", help="Bearer token, if needed")
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
    from imgflow.cli.errors import CliError
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


@handles_errors
def upload(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...", help="Images, or folders to search for images (recursively)", show_default=False
        ),
    ],
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    via: Annotated[
        Via,
        typer.Option(
            "--via",
            metavar="auto|direct|presigned",
            help="direct: POST /v1/images; presigned: POST /v1/uploads, then the form; auto: direct up to 4 MiB, "
            "presigned above",
        ),
    ] = Via.auto,
    recipe: Annotated[
        str | None, typer.Option("--recipe", metavar="NAME", help="A configured recipe (default: the default recipe)")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until each image is done or failed")] = True,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS", help="Seconds to wait per image")] = 300.0,
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t", metavar="TAG", help="A tag (repeatable)")] = None,
    alt: Annotated[str | None, typer.Option("--alt", metavar="TEXT", help="Alt text for the image")] = None,
    meta: Annotated[
        list[str] | None, typer.Option("--meta", "-m", metavar="KEY=VALUE", help="A metadata field (repeatable)")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Name each file of a folder that was skipped, and why")
    ] = False,
) -> None:
    """Upload images and folders of images to a running server, with your tags, alt text and metadata.

    Prints one JSON line per file; a refused file is reported and the rest still go (exit 1). A
    folder's files are picked by their first bytes, as imgflow process picks them.
    """
    server = check_server_url(server)
    from imgflow.cli.meta_cmd import upload_fields
    from imgflow.cli.process_files import collect, say_skipped
    from imgflow.runtimes.local.client import Client, Refused, image_id_of
    from imgflow.sniff import EXTENSIONS

    fields = upload_fields(tags, alt, meta)
    files, skipped = collect(paths, EXTENSIONS)  # the formats imgflow processes; the server's limits decide
    if not files:
        raise CliError(f"no images found in {', '.join(map(str, paths))}.")
    say_skipped(skipped, verbose)

    failed = 0
    with Client(server, token=token) as client:
        for path in files:
            try:
                record = client.upload(path, via=via.value, recipe=recipe, meta=fields)
                if wait:
                    record = client.wait(image_id_of(record), timeout=timeout)
            except (Refused, OSError) as exc:
                failed += 1
                code, message = _refusal(exc)
                typer.echo(
                    json.dumps({"file": str(path), "status": "refused", "error": {"code": code, "message": message}})
                )
                continue
            failed += record.get("status") == "failed"
            typer.echo(json.dumps({"file": str(path), **_summary(record)}))
    raise typer.Exit(EXIT_SOME_FAILED if failed else EXIT_OK)


def _refusal(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, OSError):
        reason = "it is a folder" if isinstance(exc, IsADirectoryError) else exc.strerror or str(exc)
        return "unreadable", f"cannot read the file: {reason}"
    return str(getattr(exc, "code", "refused")), str(getattr(exc, "message", exc))


@handles_errors
def status(
    image_id: Annotated[str, typer.Argument(metavar="IMAGE_ID", help="The image id that `imgflow upload` printed")],
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the image is done or failed")] = False,
    full: Annotated[bool, typer.Option("--full", help="Print the whole record, not a summary")] = False,
) -> None:
    """Print an image's status, facts and renditions as JSON (exit 1 when the server refuses: no such image)."""
    server = check_server_url(server)
    from imgflow.cli.meta_cmd import _refused
    from imgflow.errors import NotFound
    from imgflow.runtimes.local.client import Client, Refused

    with Client(server, token=token) as client:
        try:
            record = client.wait(image_id) if wait else client.get(image_id)
        except (NotFound, Refused) as exc:
            _refused(exc)
    typer.echo(json.dumps(record if full else _summary(record), indent=2))


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    from imgflow.sniff import EXTENSIONS

    facts = record.get("facts") or {}
    out: dict[str, Any] = {"image_id": record.get("image_id"), "status": record.get("status")}
    if facts:
        out["width"] = facts.get("oriented_width", facts.get("width"))
        out["height"] = facts.get("oriented_height", facts.get("height"))
        out["format"] = facts.get("format")
    for name in ("tags", "alt", "metadata"):
        if record.get(name):
            out[name] = record[name]
    if record.get("error"):
        out["error"] = record["error"]
    if record.get("renditions"):  # every rendition: a name comes in several formats
        out["renditions"] = {
            f"{r['name']}.{EXTENSIONS.get(r['format'], r['format'])}": {  # as the URLs name them
                "url": r["url"],
                "width": r["width"],
                "height": r["height"],
                "bytes": r["bytes"],
            }
            for r in record["renditions"]
        }
    return out


def register(app: typer.Typer) -> None:
    app.command("serve", cls=Command)(serve)
    app.command("worker", cls=Command)(worker)
    app.command("upload", cls=Command)(upload)
    app.command("status", cls=Command)(status)
