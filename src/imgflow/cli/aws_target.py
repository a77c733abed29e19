"""Which deployed stack an operator command talks to: ``--stack NAME`` (its CloudFormation outputs)
or the ``IMGFLOW_*`` settings (``IMGFLOW_TABLE_NAME``, ``IMGFLOW_QUEUE_URL``, ...) as the functions
get them. Also the CLI's exit codes: 0 done, 1 some images failed, 2 usage, config or connection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from imgflow.errors import ImgflowError

EXIT_SOME_FAILED = 1
EXIT_USAGE = 2

#: stack output -> setting
OUTPUTS = {
    "UploadsBucketName": "uploads_bucket",
    "RenditionsBucketName": "renditions_bucket",
    "TableName": "table_name",
    "UploadsQueueUrl": "queue_url",
    "ConfigBucketName": "config_bucket",
    "ConfigKey": "config_key",
}

Stack = Annotated[str | None, typer.Option("--stack", help="A deployed stack's name: its outputs name the resources")]
Region = Annotated[str | None, typer.Option("--region", envvar="AWS_REGION", help="The stack's region")]
Endpoint = Annotated[
    str | None, typer.Option("--endpoint-url", envvar="IMGFLOW_AWS_ENDPOINT_URL", help="An S3/DynamoDB/SQS emulator")
]


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    typer.echo(f"imgflow: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def stack_outputs(stack: str, *, region: str | None, endpoint: str | None) -> dict[str, str]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("cloudformation", region_name=region, endpoint_url=endpoint)
        (found,) = client.describe_stacks(StackName=stack)["Stacks"]
    except (ClientError, BotoCoreError, ValueError) as exc:
        fail(f"cannot read stack {stack!r}: {exc}")
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def aws_settings(
    *, stack: str | None, region: str | None, endpoint: str | None, config: Path | None = None, **overrides: Any
) -> Any:
    """The settings of the aws backend: the environment (and ``config``), then the stack's outputs,
    then explicit ``overrides`` (None values ignored)."""
    from imgflow.settings import load_settings

    values: dict[str, Any] = {"backend": "aws", "aws_region": region, "aws_endpoint_url": endpoint}
    if stack:
        outputs = stack_outputs(stack, region=region, endpoint=endpoint)
        values.update({setting: outputs[name] for name, setting in OUTPUTS.items() if name in outputs})
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return load_settings(config, **values)
    except ImgflowError as exc:
        fail(exc.message)
