"""The commands that talk to a running server: ``upload`` and ``status``, and the ``--server``
and ``--token`` options every such command shares (``url`` and the metadata commands too)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from imgflow.cli.errors import EXIT_OK, EXIT_SOME_FAILED, CliError, check_server_url, handles_errors
from imgflow.cli.helptext import Command

DEFAULT_SERVER = "http://127.0.0.1:8080"
Server = Annotated[
    str, typer.Option("--server", "-s", metavar="URL", envvar="IMGFLOW_SERVER", help="imgflow's base URL")
]
Token = Annotated[
    str | None, typer.Option("--token", metavar="TOKEN", envvar="IMGFLOW_API_TOKEN", help="Bearer token, if needed")
]


class Via(StrEnum):
    auto = "auto"
    direct = "direct"
    presigned = "presigned"


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
    app.command("upload", cls=Command)(upload)
    app.command("status", cls=Command)(status)
