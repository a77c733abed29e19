"""Recipes on a deployed stack, changed without a rebuild: ``imgflow config push``, the functions
following the config object, and ``imgflow backfill`` naming the config version it re-drives for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from imgflow.cli.main import app
from imgflow.errors import ConfigError
from imgflow.runtimes.aws import api_handler, processor

from .conftest import Deployed

pytestmark = [pytest.mark.moto, pytest.mark.slow]

PHOTO = "photos/coffee.png"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _yaml(tmp: Path, width: int, *, logo: bytes) -> Path:
    (tmp / "marks").mkdir(exist_ok=True)
    (tmp / "marks" / "logo.png").write_bytes(logo)
    path = tmp / f"imgflow-{width}.yaml"
    path.write_text(
        "recipes:\n  default:\n    name: default\n    renditions:\n"
        f"      - name: small\n        width: {width}\n        format: webp\n"
        "        watermark: {image_path: marks/logo.png, size: 0.2}\n"
        "  web:\n    name: web\n    renditions:\n      - {name: hero, width: 32, format: jpeg}\n",
        encoding="utf-8",
    )
    return path


def _push(d: Deployed, path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["config", "push", str(path), "--endpoint-url", d.stack.endpoint])
    assert result.exit_code == 0, result.output
    pushed: dict[str, Any] = json.loads(result.stdout)
    return pushed


def _process_one(d: Deployed, data: bytes) -> Any:
    image_id = d.upload(data, "image/png")
    assert d.deliver(d.receive(expect=1)) == {"batchItemFailures": []}
    return d.service.catalog.get(image_id)


def test_push_then_the_functions_follow(
    deployed: Deployed, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployed
    d.drain()
    photo = (corpus / PHOTO).read_bytes()
    watcher = processor.wiring().config
    assert watcher is not None
    assert watcher.version is None  # nothing pushed yet: the built-in recipe
    clock = Clock()
    watcher.clock = clock
    watcher._checked = clock.now

    bad = tmp_path / "bad.yaml"
    bad.write_text("recipes:\n  default:\n    renditions: []\n", encoding="utf-8")
    refused = CliRunner().invoke(app, ["config", "push", str(bad), "--endpoint-url", d.stack.endpoint])
    assert refused.exit_code == 2
    assert "recipes.default.renditions" in refused.output
    config_bucket, key = d.stack.buckets["ConfigBucket"], watcher.key
    assert "Contents" not in d.aws["s3"].list_objects_v2(Bucket=config_bucket)  # nothing written

    api_watcher = api_handler.wiring().config
    assert api_watcher is not None
    api_watcher.clock = clock
    api_watcher._checked = clock.now
    ask = {"filename": "a.png", "content_type": "image/png", "size": len(photo), "recipe": "web"}
    assert d.api("POST", "/v1/uploads", ask)[0] == 422  # no recipe "web" yet

    pushed = _push(d, _yaml(tmp_path, 64, logo=photo))
    assert pushed["config"] == f"s3://{config_bucket}/{key}"
    assert d.api("POST", "/v1/uploads", ask)[0] == 422  # within the minute: the API keeps what it has
    assert pushed["files"] == ["marks/logo.png"]
    # within the minute, a warm function keeps what it has
    assert {r.name for r in _process_one(d, photo).renditions} == {"large", "medium", "thumb"}
    clock.now += 61
    record = _process_one(d, photo)
    assert watcher.version == pushed["version"]
    assert [(r.name, r.width) for r in record.renditions] == [("small", 64)]
    status, created = d.api("POST", "/v1/uploads", ask)
    assert status == 201, created  # the API follows the same object
    assert api_watcher.version == pushed["version"]
    d.drain()

    # a broken object: the last good config stays, the failure is logged and counted
    d.aws["s3"].put_object(Bucket=config_bucket, Key=key, Body=b"recipes: [not, a, mapping]\n")
    clock.now += 61
    record = _process_one(d, photo)
    assert [(r.name, r.width) for r in record.renditions] == [("small", 64)]
    assert watcher.version == pushed["version"]
    out = capsys.readouterr().out
    assert "the new config is invalid; keeping the last good one" in out
    assert "ConfigInvalid" in out  # the EMF metric an alarm can watch
    # ...and a cold start with it fails loudly rather than run half a config
    processor.wiring.cache_clear()
    with pytest.raises(ConfigError):
        processor.wiring()
    good = _push(d, _yaml(tmp_path, 64, logo=photo))
    processor.wiring.cache_clear()
    cold = processor.wiring().config
    assert cold is not None
    assert cold.version == good["version"]  # the cold start runs the object just pushed
    d.guard.watch(processor.wiring().service, "ProcessorFunction", processor.wiring().redelivery)


def test_backfill_names_the_config_version(
    deployed: Deployed, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = deployed
    d.drain()
    photo = (corpus / PHOTO).read_bytes()
    _push(d, _yaml(tmp_path, 64, logo=photo))
    processor.wiring.cache_clear()
    made = [_process_one(d, photo) for _ in range(2)]
    assert {r.width for m in made for r in m.renditions} == {64}
    watcher = processor.wiring().config
    assert watcher is not None
    watcher.clock = Clock()  # it never rechecks by itself in this test: only the messages make it

    newer = _push(d, _yaml(tmp_path, 96, logo=photo))
    monkeypatch.setenv("IMGFLOW_QUEUE_URL", d.queue_url)  # the operator's view of the stack
    run = CliRunner().invoke(app, ["backfill", "--endpoint-url", d.stack.endpoint, "--rate", "50"])
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["config_version"] == newer["version"]
    assert summary["redriven"] >= 2
    messages = d.receive(expect=summary["redriven"])
    versions = {json.loads(m["Body"])["imgflow"]["config_version"] for m in messages}
    assert versions == {newer["version"]}
    assert d.deliver(messages) == {"batchItemFailures": []}
    assert watcher.version == newer["version"]  # reloaded before processing, no minute waited
    for before in made:
        after = d.service.catalog.get(before.image_id)
        assert (after.status, after.generation) == ("done", before.generation + 1)
        assert {r.width for r in after.renditions} == {96}
    again = CliRunner().invoke(app, ["backfill", "--endpoint-url", d.stack.endpoint])
    assert json.loads(again.stdout.strip().splitlines()[-1])["redriven"] == 0  # a rerun resumes: nothing left


@pytest.mark.parametrize("path", ["/etc/passwd", "../other/logo.png", "a/../../logo.png", "a\\b.png"])
def test_watermark_files_stay_beside_the_yaml(path: str) -> None:
    from imgflow.config_object import file_key

    with pytest.raises(ConfigError):
        file_key("stacks/imgflow.yaml", path)
    assert file_key("stacks/imgflow.yaml", "marks/./logo.png") == "stacks/marks/logo.png"


def test_the_stack_names_the_resources(
    deployed: Deployed, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--stack NAME``: the operator commands read the stack's outputs (no IMGFLOW_* needed)."""
    import boto3

    d = deployed
    outputs = {
        "ConfigBucketName": d.stack.buckets["ConfigBucket"],
        "ConfigKey": "stacked/imgflow.yaml",
        "TableName": d.stack.tables["ImagesTable"],
        "UploadsQueueUrl": d.queue_url,
        "UploadsBucketName": d.uploads,
    }
    template = {
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    name = f"stack-{d.uploads[:12]}"
    cfn = boto3.client("cloudformation", endpoint_url=d.stack.endpoint, region_name="us-east-1")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    for var in ("IMGFLOW_CONFIG_BUCKET", "IMGFLOW_CONFIG_KEY", "IMGFLOW_TABLE_NAME", "IMGFLOW_UPLOADS_BUCKET"):
        monkeypatch.delenv(var, raising=False)
    args = ["--stack", name, "--region", "us-east-1", "--endpoint-url", d.stack.endpoint]
    pushed = CliRunner().invoke(
        app, ["config", "push", str(_yaml(tmp_path, 48, logo=(corpus / PHOTO).read_bytes())), *args]
    )
    assert pushed.exit_code == 0, pushed.output
    assert json.loads(pushed.stdout)["config"] == f"s3://{outputs['ConfigBucketName']}/stacked/imgflow.yaml"
    head = d.aws["s3"].head_object(Bucket=outputs["ConfigBucketName"], Key="stacked/marks/logo.png")
    assert head["ContentLength"] > 0
    counted = CliRunner().invoke(app, ["backfill", "--dry-run", *args])
    assert counted.exit_code == 0, counted.output
    summary = json.loads(counted.stdout.strip().splitlines()[-1])
    assert summary["config_version"] == json.loads(pushed.stdout)["version"]
    missing = CliRunner().invoke(app, ["backfill", "--stack", "no-such-stack", "--endpoint-url", d.stack.endpoint])
    assert missing.exit_code == 2
    assert "no-such-stack" in missing.output
