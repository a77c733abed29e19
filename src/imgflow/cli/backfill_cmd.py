"""``imgflow reprocess ID...`` (through the API, as the owner) and ``imgflow backfill`` (an
operator's command: reads the catalog directly, every owner's images, and re-drives those whose
recipe changed since they were made; locally the data dir, on AWS the stack's table and queue)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imgflow.cli.aws_target import EXIT_SOME_FAILED, Endpoint, Region, Stack, aws_settings, fail
from imgflow.cli.errors import check_server_url, handles_errors
from imgflow.cli.helptext import Command
from imgflow.errors import Conflict, ImgflowError, NotFound

if TYPE_CHECKING:
    from imgflow.records import ImageRecord, Status
    from imgflow.service import ImageService

DEFAULT_SERVER = "http://127.0.0.1:8080"


@handles_errors
def reprocess(
    image_ids: Annotated[
        list[str], typer.Argument(metavar="IMAGE_ID...", help="Image ids (yours)", show_default=False)
    ],
    server: Annotated[str, typer.Option("--server", "-s", envvar="IMGFLOW_SERVER", help="imgflow's base URL")] = (
        DEFAULT_SERVER
    ),
    token: Annotated[str | None, typer.Option("--token", envvar="IMGFLOW_API_TOKEN", help="Bearer token")] = None,
    recipe: Annotated[str | None, typer.Option("--recipe", help="Another configured recipe [the image's]")] = None,
) -> None:
    """Make a new generation of each image; print one JSON line per image (exit 1 if any was refused)."""
    import httpx

    from imgflow.runtimes.local.client import Client

    server = check_server_url(server)
    refused = 0
    try:
        with Client(server, token=token) as client:
            for image_id in image_ids:
                try:
                    record = client.reprocess(image_id, recipe=recipe)
                except (NotFound, Conflict) as exc:
                    refused += 1
                    typer.echo(json.dumps({"image_id": image_id, "error": exc.message}))
                    continue
                except ImgflowError as exc:
                    if exc.http_status >= 500 or exc.code in ("unauthorized", "http_401", "http_403"):
                        raise
                    refused += 1
                    typer.echo(json.dumps({"image_id": image_id, "error": exc.message}))
                    continue
                summary = {k: record.get(k) for k in ("image_id", "status", "generation", "recipe")}
                typer.echo(json.dumps(summary))
    except ImgflowError as exc:
        fail(exc.message)
    except (OSError, httpx.HTTPError) as exc:
        fail(f"cannot reach {server}: {exc}")
    raise typer.Exit(EXIT_SOME_FAILED if refused else 0)


def _local_service(config: Path | None, data_dir: Path | None) -> ImageService:
    from imgflow.bootstrap import build_service
    from imgflow.settings import load_settings

    try:
        settings = load_settings(config, data_dir=data_dir)
    except ImgflowError as exc:
        fail(exc.message)
    if settings.backend != "local":
        fail("these settings are for AWS: name the stack (--stack) or unset IMGFLOW_BACKEND")
    return build_service(settings, with_processor=False)


def _aws_service(stack: str | None, region: str | None, endpoint: str | None) -> tuple[ImageService, str | None]:
    """The stack's catalog and processor queue, with the recipes of its config object (the version
    every re-driven image's message names)."""
    from imgflow import config_object
    from imgflow.adapters.s3_store import S3ObjectStore
    from imgflow.adapters.sqs_notifier import SqsNotifier
    from imgflow.bootstrap import aws_clients, build_service, service_config

    settings = aws_settings(stack=stack, region=region, endpoint=endpoint)
    if not settings.queue_url:
        fail("the processors' queue is unknown: --stack NAME or IMGFLOW_QUEUE_URL")
    clients = aws_clients(settings)
    version = None
    config = service_config(settings)
    if settings.config_bucket:
        source = f"s3://{settings.config_bucket}/{settings.config_key}"
        try:
            loaded = config_object.load(
                S3ObjectStore(clients.s3, settings.config_bucket), settings.config_key, source=source
            )
        except NotFound:
            loaded = None  # not pushed yet: the functions run the built-in recipes too
        except ImgflowError as exc:
            fail(f"{source}: {exc.message}")
        if loaded is not None:
            config, version = service_config(loaded.settings), loaded.version
    notifier = SqsNotifier(clients.sqs, settings.queue_url, bucket=settings.uploads_bucket, config_version=version)
    service = build_service(settings, with_processor=False, clients=clients, on_queued=notifier)
    service.config = config
    return service, version


def backfill(
    recipe: Annotated[str | None, typer.Option("--recipe", help="Only the images made with this recipe")] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="done and/or failed [both]; repeat for more than one")
    ] = None,
    rate: Annotated[float, typer.Option("--rate", min=0.1, help="Images re-driven per second at most")] = 10.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be re-driven; change nothing")] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML settings (local)")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", "-d", help="The local data folder")] = None,
    stack: Stack = None,
    region: Region = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Re-drive every image whose recipe changed since it was made (a new generation each)."""
    statuses: tuple[Status, ...] = tuple(status or ("done", "failed"))  # type: ignore[arg-type]
    if not set(statuses) <= {"done", "failed"}:
        fail("--status takes done or failed")
    from imgflow.settings import load_settings

    try:
        on_aws = stack is not None or load_settings(config).backend == "aws"
    except ImgflowError as exc:
        fail(exc.message)
    service, version = _aws_service(stack, region, endpoint_url) if on_aws else (_local_service(config, data_dir), None)
    if recipe is not None and recipe not in service.config.recipes:
        fail(f"no recipe named {recipe!r}; known: {', '.join(sorted(service.config.recipes))}")
    every: Any = getattr(service.catalog, "every")  # noqa: B009 - an operator's verb, not the service's port
    try:
        todo = [r for s in statuses for r in every(s) if service.needs_backfill(r, statuses=statuses, recipe=recipe)]
    except ImgflowError as exc:
        fail(f"cannot read the catalog: {exc.message}")
    if dry_run:
        typer.echo(json.dumps({"would_redrive": len(todo), "config_version": version}))
        raise typer.Exit(0)
    done, skipped, failed = _run(service, todo, rate)
    typer.echo(json.dumps({"redriven": done, "skipped": skipped, "failed": failed, "config_version": version}))
    raise typer.Exit(EXIT_SOME_FAILED if failed else 0)


def _run(service: ImageService, todo: list[ImageRecord], rate: float) -> tuple[int, int, int]:
    """Re-drive at most ``rate`` a second, with a progress bar on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    done = skipped = failed = 0
    started = time.monotonic()
    columns = (TextColumn("backfill"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("backfill", total=len(todo))
        for i, record in enumerate(todo):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                service.redrive(record)
                done += 1
            except (Conflict, NotFound):
                skipped += 1  # moved on or deleted meanwhile
            except ImgflowError as exc:
                failed += 1
                progress.console.print(f"imgflow: {record.image_id}: {exc.message}")
            progress.advance(task)
    return done, skipped, failed


def register(app: typer.Typer) -> None:
    app.command("reprocess", cls=Command)(reprocess)
    app.command("backfill", cls=Command)(backfill)
