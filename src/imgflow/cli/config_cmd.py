"""``imgflow config push FILE``: the recipes YAML you run locally, onto a deployed stack.

The file is validated first exactly as ``imgflow serve`` would load it (watermark files read
too); nothing is written unless it is valid. The watermark files it names go beside the YAML's
key, then the YAML itself (its new ETag is the config version the functions pick up within
a minute, and that ``imgflow backfill`` sends with each image).
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Annotated

import typer

from imgflow.cli.aws_target import Endpoint, Region, Stack, aws_settings, fail
from imgflow.cli.helptext import Command, Group
from imgflow.errors import ImgflowError

config_app = typer.Typer(help="The recipes YAML of a deployed stack.", no_args_is_help=True, cls=Group)


@config_app.command("push", cls=Command)
def push(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The YAML to push")],
    stack: Stack = None,
    bucket: Annotated[str | None, typer.Option("--bucket", help="The config bucket (default: the stack's)")] = None,
    key: Annotated[str | None, typer.Option("--key", help="The YAML's key (default: the stack's ConfigKey)")] = None,
    region: Region = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Validate FILE, then write it and the watermark files it names to the config bucket."""
    import yaml

    from imgflow import config_object
    from imgflow.adapters.s3_store import S3ObjectStore
    from imgflow.bootstrap import s3_client
    from imgflow.settings import load_settings, watermark_paths

    target = aws_settings(stack=stack, region=region, endpoint=endpoint_url, config_bucket=bucket, config_key=key)
    if not target.config_bucket:
        fail("name the config bucket: --stack NAME, --bucket NAME or IMGFLOW_CONFIG_BUCKET")
    try:
        load_settings(file)  # exactly what a local run would load: refuses a bad file here
        document = file.read_bytes()
        keys = config_object.files_of(watermark_paths(yaml.safe_load(document) or {}), target.config_key)
    except ImgflowError as exc:
        fail(f"{file}: {exc.message}")
    contents = {path: (file.parent / path).read_bytes() for path in keys}
    store = S3ObjectStore(s3_client(target), target.config_bucket)
    try:
        for path, data in contents.items():  # the files first: the YAML's new version names them
            store.put(keys[path], data, content_type=mimetypes.guess_type(path)[0] or "application/octet-stream")
        info = store.put(target.config_key, config_object.stamp(document, contents), content_type="application/yaml")
    except ImgflowError as exc:
        fail(f"s3://{target.config_bucket}: {exc.message}")
    where = f"s3://{target.config_bucket}/{target.config_key}"
    typer.echo(json.dumps({"config": where, "version": info.etag, "files": sorted(keys.values())}))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
