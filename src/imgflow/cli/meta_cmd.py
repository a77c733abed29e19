"""``imgflow tag`` and ``imgflow list``: the user's tags on a running server, and the images by tag.
(``imgflow upload --tag/--alt/--meta`` sets them at upload: :func:`upload_fields`.)"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imgflow.cli.client_cmd import DEFAULT_SERVER, Server, Token
from imgflow.cli.errors import EXIT_SOME_FAILED, check_server_url, handles_errors
from imgflow.cli.helptext import Command
from imgflow.errors import ImgflowError

if TYPE_CHECKING:
    from imgflow.runtimes.local.client import UserFields

_TRIES = 5


def upload_fields(tags: list[str] | None, alt: str | None, meta: list[str] | None) -> UserFields:
    """``--tag``, ``--alt`` and ``--meta KEY=VALUE`` checked by the server's own rules (a bad one
    is a usage error, exit 2, before any file is sent)."""
    from imgflow import usermeta

    pairs: dict[str, str] = {}
    for item in meta or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--meta")
        pairs[key] = value
    try:
        clean = usermeta.clean(tags or None, alt, pairs)
    except ImgflowError as exc:
        raise typer.BadParameter(exc.message, param_hint=_hint(exc)) from None
    fields: UserFields = {}
    if clean.tags:
        fields["tags"] = list(clean.tags)
    if clean.alt:
        fields["alt"] = clean.alt
    if clean.metadata:
        fields["metadata"] = dict(clean.metadata)
    return fields


def _hint(exc: ImgflowError) -> str:
    field = str(getattr(exc, "field", ""))
    return {"alt": "--alt"}.get(field, "--meta" if field.startswith("metadata") else "--tag")


def _refused(exc: ImgflowError) -> None:
    """A request about the image the user named was refused (404, 412, 422): one line, exit 1."""
    typer.echo(f"imgflow: {exc.message}", err=True)
    raise typer.Exit(EXIT_SOME_FAILED)


@handles_errors
def tag(
    image_id: Annotated[str, typer.Argument(metavar="IMAGE_ID", help="The image's id", show_default=False)],
    add: Annotated[list[str] | None, typer.Option("--add", "-a", metavar="TAG", help="Add a tag (repeatable)")] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", "-r", metavar="TAG", help="Remove a tag (repeatable)")
    ] = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Add or remove an image's tags (case-insensitive) and print its tags as JSON.

    Exit 0; 1 when the server refuses (no such image, a bad tag); 2 for usage or connection problems."""
    from imgflow import usermeta
    from imgflow.errors import NotFound, PreconditionFailed
    from imgflow.runtimes.local.client import Client, Refused

    server = check_server_url(server)
    if not add and not remove:
        raise typer.BadParameter("give --add TAG or --remove TAG (or both)", param_hint="--add")
    gone = {usermeta.tag_key(t) for t in remove or []}
    try:
        with Client(server, token=token) as client:
            for _ in range(_TRIES):
                record = client.get(image_id)
                tags = [t for t in record.get("tags") or [] if usermeta.tag_key(t) not in gone] + list(add or [])
                try:
                    record = client.patch(image_id, {"tags": tags}, version=int(record["version"]))
                    break
                except Refused as exc:
                    if exc.code != PreconditionFailed.code:
                        raise
            else:
                raise Refused(f"image {image_id} kept changing; try again", code="conflict")
    except (Refused, NotFound) as exc:
        _refused(exc)
    typer.echo(json.dumps({"image_id": record["image_id"], "tags": record.get("tags") or []}))


@handles_errors
def list_images(
    tags: Annotated[
        list[str] | None, typer.Option("--tag", "-t", metavar="TAG", help="Only images with this tag (repeatable: all)")
    ] = None,
    status: Annotated[str | None, typer.Option("--status", metavar="STATUS", help="done, failed, queued, ...")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", metavar="N", min=1, help="At most N images")] = 50,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """List your images, newest first: one JSON line each (id, status, name, tags, alt).

    Exit 0; 1 when the server refuses the query (a bad tag or status); 2 for usage or connection problems."""
    from imgflow.runtimes.local.client import Client, Refused

    server = check_server_url(server)
    shown = 0
    try:
        with Client(server, token=token) as client:
            for record in client.list(tags=tags, status=status, limit=limit):
                typer.echo(json.dumps(_line(record)))
                shown += 1
                if shown >= limit:
                    break
    except Refused as exc:
        _refused(exc)


def _line(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: record.get(k) for k in ("image_id", "status", "filename", "tags")}
    if record.get("alt"):
        out["alt"] = record["alt"]
    if record.get("metadata"):
        out["metadata"] = record["metadata"]
    return out


def register(app: typer.Typer) -> None:
    app.command("tag", cls=Command)(tag)
    app.command("list", cls=Command)(list_images)
