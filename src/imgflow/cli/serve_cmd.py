"""``imgflow serve | worker | upload | status``: the local runtime and a small client for any server."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from imgflow.errors import ImgflowError

DEFAULT_SERVER = "http://127.0.0.1:8080"

DataDir = Annotated[Path | None, typer.Option("--data-dir", "-d", help="Folder for images and the SQLite file [var]")]
Config = Annotated[Path | None, typer.Option("--config", "-c", help="YAML settings [IMGFLOW_CONFIG, ./imgflow.yaml]")]
Server = Annotated[str, typer.Option("--server", "-s", envvar="IMGFLOW_SERVER", help="imgflow's base URL")]
Token = Annotated[str | None, typer.Option("--token", envvar="IMGFLOW_API_TOKEN", help="Bearer token, if needed")]


def _settings(config: Path | None, **overrides: Any) -> Any:
    from imgflow.settings import load_settings

    return load_settings(config, **overrides)


def _fail(exc: ImgflowError) -> typer.Exit:
    typer.echo(f"imgflow: {exc.message}", err=True)
    return typer.Exit(2)


def serve(
    port: Annotated[int | None, typer.Option("--port", "-p", help="TCP port [8080]")] = None,
    data_dir: DataDir = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", min=1, max=64, help="Worker processes [one per core]")
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to bind [127.0.0.1]; others need a strong token and public_base_url"),
    ] = None,
    config: Config = None,
) -> None:
    """Serve the web page, the API and /metrics, with worker processes on a local job queue."""
    from imgflow.runtimes.local.server import serve as run_server

    try:
        settings = _settings(config, port=port, data_dir=data_dir, workers=workers, host=host)
        if "public_base_url" not in settings.model_fields_set and _loopback(settings.host):
            # off loopback the server refuses to guess: clients do not reach it at the bound address
            shown = f"[{settings.host}]" if ":" in settings.host else settings.host
            settings = settings.model_copy(update={"public_base_url": f"http://{shown}:{settings.port}"})
        code = run_server(settings)
    except ImgflowError as exc:
        raise _fail(exc) from None
    raise typer.Exit(code)


def _loopback(host: str) -> bool:
    from imgflow.runtimes.local.server import is_loopback

    return is_loopback(host)


def worker(data_dir: DataDir = None, config: Config = None) -> None:
    """Run one worker alone (``imgflow serve`` starts and supervises its own)."""
    from imgflow.runtimes.local.env import WORKER_ENV

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


def upload(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True, help="Image files")],
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    direct: Annotated[bool, typer.Option("--direct", help="POST the bytes to /v1/images, not presigned")] = False,
    recipe: Annotated[str | None, typer.Option("--recipe", help="A configured recipe [the default]")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until each image is done or failed")] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait per image")] = 300.0,
) -> None:
    """Upload images to a running server; print one JSON line per image."""
    from imgflow.runtimes.local.client import Client, image_id_of

    failed = 0
    try:
        with Client(server, token=token) as client:
            for path in files:
                record = client.upload(path, direct=direct, recipe=recipe)
                if wait:
                    record = client.wait(image_id_of(record), timeout=timeout)
                failed += record.get("status") == "failed"
                typer.echo(json.dumps({"file": str(path), **_summary(record)}))
    except ImgflowError as exc:
        raise _fail(exc) from None
    except OSError as exc:
        typer.echo(f"imgflow: cannot reach {server}: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(1 if failed else 0)


def status(
    image_id: Annotated[str, typer.Argument(help="The image id that `imgflow upload` printed")],
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the image is done or failed")] = False,
    full: Annotated[bool, typer.Option("--full", help="Print the whole record, not a summary")] = False,
) -> None:
    """Print an image's status, facts and rendition URLs as JSON."""
    from imgflow.runtimes.local.client import Client

    try:
        with Client(server, token=token) as client:
            record = client.wait(image_id) if wait else client.get(image_id)
    except ImgflowError as exc:
        raise _fail(exc) from None
    except OSError as exc:
        typer.echo(f"imgflow: cannot reach {server}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(record if full else _summary(record), indent=2))


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    facts = record.get("facts") or {}
    out: dict[str, Any] = {"image_id": record.get("image_id"), "status": record.get("status")}
    if facts:
        out["width"] = facts.get("oriented_width", facts.get("width"))
        out["height"] = facts.get("oriented_height", facts.get("height"))
        out["format"] = facts.get("format")
    if record.get("error"):
        out["error"] = record["error"]
    if record.get("renditions"):
        out["renditions"] = {
            r["name"]: {"url": r["url"], "width": r["width"], "height": r["height"], "bytes": r["bytes"]}
            for r in record["renditions"]
        }
    return out


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("upload")(upload)
    app.command("status")(status)
