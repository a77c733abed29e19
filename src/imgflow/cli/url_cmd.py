"""``imgflow url IMAGE_ID``: ask a server for a signed on-demand URL and print it."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

import typer

from imgflow.cli.client_cmd import DEFAULT_SERVER, Server, Token
from imgflow.cli.errors import CliError, check_server_url, handles_errors
from imgflow.cli.helptext import Command
from imgflow.errors import ImgflowError


# the on-demand options' values (imgflow.ondemand.options; a test keeps the two the same), written out
# here so that `imgflow url` refuses a wrong one in its own words without importing the on-demand code
class Fit(StrEnum):
    contain = "contain"
    cover = "cover"


class Gravity(StrEnum):
    centre = "centre"
    north = "north"
    south = "south"
    east = "east"
    west = "west"
    northeast = "northeast"
    northwest = "northwest"
    southeast = "southeast"
    southwest = "southwest"
    attention = "attention"


class Format(StrEnum):
    auto = "auto"
    jpeg = "jpeg"
    png = "png"
    webp = "webp"
    avif = "avif"


MAX_SIZE = 16384

_SERVER_DPRS = re.compile(r"dpr must be one of (?P<allowed>[0-9., ]+)$")


def check_options(width: int | None, height: int | None, fit: str, gravity: str, fmt: str, quality: int | None) -> None:
    """What the server would refuse in its URL grammar, said with the CLI's option names (exit 2)."""
    if width is None and height is None:
        raise CliError("give --width or --height (or both).")
    if fit == "cover" and (width is None or height is None):
        raise CliError("--fit cover crops to a box: give both --width and --height.")
    if gravity != "centre" and fit != "cover":
        raise CliError("--gravity applies only with --fit cover (a contained image is never cropped).")
    if quality is not None and fmt == "png":
        raise CliError("--quality does not apply to --format png (PNG is lossless).")


@handles_errors
def url(
    image_id: Annotated[str, typer.Argument(metavar="IMAGE_ID", help="A processed image's id", show_default=False)],
    width: Annotated[int | None, typer.Option("--width", "-w", min=1, max=MAX_SIZE, help="Width in CSS pixels")] = None,
    height: Annotated[int | None, typer.Option("--height", min=1, max=MAX_SIZE, help="Height in CSS pixels")] = None,
    fit: Annotated[Fit, typer.Option("--fit", help="contain: within the box; cover: fill it, cropped")] = Fit.contain,
    gravity: Annotated[Gravity, typer.Option("--gravity", help="What a cover crop keeps")] = Gravity.centre,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="auto: AVIF or WebP as the browser accepts")
    ] = Format.auto,
    quality: Annotated[int | None, typer.Option("--quality", "-q", min=1, max=100, help="1-100")] = None,
    dpr: Annotated[
        float,
        typer.Option("--dpr", min=1.0, max=4.0, help="Device pixel ratio: one of the server's (default 1, 1.5, 2, 3)"),
    ] = 1.0,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Print one absolute, signed on-demand URL for an image.

    Sizes are rounded up to the server's allowed sizes. Exit 0; 1 when the server refuses the image
    (unknown, not processed); 2 for usage or connection problems.
    """
    import httpx

    from imgflow.runtimes.local.client import Client

    server = check_server_url(server)
    check_options(width, height, str(fit), str(gravity), str(fmt), quality)
    params: dict[str, str | int | float] = {"fit": str(fit), "gravity": str(gravity), "format": str(fmt), "dpr": dpr}
    for name, value in (("width", width), ("height", height), ("quality", quality)):
        if value is not None:
            params[name] = value
    try:
        with Client(server, token=token) as client:
            signed = client.transform_url(image_id, params)
    except ImgflowError as exc:
        allowed = _SERVER_DPRS.search(exc.message)
        if allowed:
            raise CliError(f"--dpr {dpr:g} is not one this server allows: {allowed['allowed'].strip()}.") from None
        typer.echo(f"imgflow: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except (OSError, httpx.TransportError) as exc:
        typer.echo(f"imgflow: cannot reach {server}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(signed)


def register(app: typer.Typer) -> None:
    app.command("url", cls=Command)(url)
