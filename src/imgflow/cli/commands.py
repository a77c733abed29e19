"""Where sub-commands are registered (one line per module)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
