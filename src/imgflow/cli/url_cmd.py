"""``imgflow url IMAGE_ID``: ask a server for a signed on-demand URL and print it."""

from __future__ import annotations

from typing import Annotated

import typer

from imgflow.cli.errors import check_server_url, handles_errors
from imgflow.cli.helptext import Command
from imgflow.cli.serve_cmd import DEFAULT_SERVER, Server, Token
from imgflow.errors import ImgflowError


@handles_errors
def url(
    image_id: Annotated[str, typer.Argument(metavar="IMAGE_ID", help="A processed image's id", show_default=False)],
    width: Annotated[int | None, typer.Option("--width", "-w", min=1, help="Width in CSS pixels")] = None,
    height: Annotated[int | None, typer.Option("--height", min=1, help="Height in CSS pixels")] = None,
    fit: Annotated[str, typer.Option("--fit", help="contain | cover")] = "contain",
    gravity: Annotated[str, typer.Option("--gravity", help="centre | north | ... | attention (with cover)")] = "centre",
    fmt: Annotated[str, typer.Option("--format", "-f", help="auto | jpeg | png | webp | avif")] = "auto",
    quality: Annotated[int | None, typer.Option("--quality", "-q", min=1, max=100, help="1-100")] = None,
    dpr: Annotated[float, typer.Option("--dpr", min=1.0, max=4.0, help="Device pixel ratio")] = 1.0,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Print one absolute, signed on-demand URL for an image (sizes rounded up to the server's
    allowed sizes). Exit 0; 1 when the server refuses; 2 for usage or connection problems."""
    import httpx

    from imgflow.runtimes.local.client import Client

    server = check_server_url(server)
    if width is None and height is None:
        typer.echo("imgflow: give --width or --height (or both)", err=True)
        raise typer.Exit(2)
    params: dict[str, str | int | float] = {"fit": fit, "gravity": gravity, "format": fmt, "dpr": dpr}
    for name, value in (("width", width), ("height", height), ("quality", quality)):
        if value is not None:
            params[name] = value
    try:
        with Client(server, token=token) as client:
            signed = client.transform_url(image_id, params)
    except ImgflowError as exc:
        typer.echo(f"imgflow: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except (OSError, httpx.TransportError) as exc:
        typer.echo(f"imgflow: cannot reach {server}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(signed)


def register(app: typer.Typer) -> None:
    app.command("url", cls=Command)(url)
