"""The ``imgflow`` command. Each sub-command lives in its own module and registers itself."""

from __future__ import annotations

import typer

from imgflow import __version__
from imgflow.cli.helptext import Group

app = typer.Typer(
    name="imgflow",
    cls=Group,
    # plain help: the Rich help formatter alone costs more start-up than the rest of `imgflow --help`
    rich_markup_mode=None,
    help="Image pipeline: upload -> event -> process -> record, on AWS or on one machine.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"imgflow {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """imgflow."""


def _register() -> None:
    # Sub-command modules import their heavy dependencies lazily, inside the command.
    from imgflow.cli import commands

    commands.register(app)


_register()
