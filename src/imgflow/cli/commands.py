"""Where sub-commands are registered (one line per module)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from imgflow.cli import process_cmd

    process_cmd.register(app)

    from imgflow.cli import serve_cmd

    serve_cmd.register(app)

    from imgflow.cli import client_cmd

    client_cmd.register(app)

    from imgflow.cli import config_cmd

    config_cmd.register(app)

    from imgflow.cli import backfill_cmd

    backfill_cmd.register(app)

    from imgflow.cli import url_cmd

    url_cmd.register(app)

    from imgflow.cli import meta_cmd

    meta_cmd.register(app)

    from imgflow.cli import cluster_cmd

    cluster_cmd.register(app)
