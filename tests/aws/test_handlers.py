"""The Lambda entry points without AWS: imports wire nothing, events decode, bad bodies answer 400."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from imgflow.errors import ConfigError
from imgflow.runtimes.aws import api_handler, artefact, events

from .lambda_events import FakeContext, load

MODULES = ("api_handler", "processor", "reconciler", "transform")
#: what a handler's import must not load beside the wiring (cold start: the API's and the sweep's
#: import defers pydantic, the settings and powertools to the first call, which builds the wiring)
DEFERRED = {
    "api_handler": ("pydantic", "imgflow.settings", "imgflow.service", "aws_lambda_powertools"),
    "processor": (),
    "reconciler": ("pydantic", "imgflow.settings", "imgflow.service", "aws_lambda_powertools"),
    "transform": ("pydantic", "imgflow.settings", "imgflow.service", "aws_lambda_powertools"),
}

_PROBE = """
import sys
import imgflow.runtimes.aws.{name} as m
assert m.wiring.cache_info().currsize == 0, "wired at import"
never = ("boto3", "imgflow.bootstrap", "imgflow.adapters.s3_store", "pyvips", "PIL", *{deferred!r})
leaked = [x for x in never if x in sys.modules]
assert not leaked, leaked
print("ok")
"""


@pytest.mark.parametrize("name", MODULES)
def test_import_wires_nothing(name: str) -> None:
    """A fresh interpreter with no environment at all (but where the checkout under test is): the
    import succeeds and builds nothing."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(name=name, deferred=DEFERRED[name])],
        env={"PYTHONPATH": str(Path(api_handler.__file__).parents[3])},  # this checkout's imgflow, nothing else
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok", proc.stderr


def test_invalid_base64_body_is_a_400_problem(corpus: Path) -> None:
    event = load(corpus, "powertools-lambda-python/apiGatewayProxyEventAnotherPath.json")
    assert event["isBase64Encoded"] is True
    wired_before = api_handler.wiring.cache_info()
    response = api_handler.handler(event, FakeContext())
    assert response["statusCode"] == 400
    assert response["headers"]["content-type"] == "application/problem+json"
    problem = json.loads(response["body"])
    assert problem["status"] == 400
    assert problem["code"] == "bad_request"
    assert api_handler.wiring.cache_info() == wired_before  # refused before the app is even built


def _decoded(event: dict[str, Any]) -> list[events.ObjectEvent]:
    shape = events.shape_of(event)
    if shape == "s3":
        return list(events.from_s3_notification(event))
    if shape == "eventbridge":
        return [events.from_eventbridge(event)]
    assert shape == "sqs"
    return [e for r in events.sqs_records(event) for e in events.from_sqs_record(r)]


@pytest.mark.parametrize(
    ("sample", "kind", "key"),
    [
        ("powertools-lambda-python/s3Event.json", "created", "b21b84d653bb07b05b1e6b33684dc11b"),
        ("powertools-lambda-python/s3EventDecodedKey.json", "created", "Happy Face.jpg"),
        ("aws-lambda-go/s3-event.json", "created", "Happy Face.jpg"),
        ("powertools-lambda-python/s3EventDeleteObject.json", "removed", None),
        ("powertools-lambda-python/s3SqsEvent.json", "created", "test.pdf"),
        ("powertools-lambda-python/s3EventBridgeNotificationObjectCreatedEvent.json", "created", "IMG_m7fzo3.jpg"),
        ("powertools-lambda-python/s3EventBridgeNotificationObjectDeletedEvent.json", "removed", None),
    ],
)
def test_samples_decode(corpus: Path, sample: str, kind: str, key: str | None) -> None:
    (event,) = _decoded(load(corpus, sample))
    assert event.kind == kind
    if key is not None:
        assert event.key == key


def test_form_encoded_keys_decode() -> None:
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Copy",
        "s3": {"bucket": {"name": "b"}, "object": {"key": "originals/a+b%2Bc+caf%C3%A9", "eTag": "e"}},
    }
    (event,) = events.from_s3_notification({"Records": [record]})
    assert (event.kind, event.key, event.etag) == ("created", "originals/a b+c café", "e")


def test_test_events_and_foreign_messages(corpus: Path) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "t", "Bucket": "b", "RequestId": "r"}
    assert events.shape_of(test_event) == "s3_test"
    sqs = load(corpus, "powertools-lambda-python/sqsEvent.json")
    records = list(events.sqs_records(sqs))
    assert len(records) == 2
    for record in records:
        with pytest.raises(events.NotAnS3Message):
            events.from_sqs_record(record)
    wrapped = json.loads(json.dumps(sqs))
    wrapped["Records"][0]["body"] = json.dumps(test_event)
    (event,) = events.from_sqs_record(next(iter(events.sqs_records(wrapped))))
    assert event.kind == "test"


def test_an_artefact_for_another_architecture_says_so(tmp_path: Path) -> None:
    """sam build and sam deploy given different Architecture values: a clear error, not an ImportError."""
    (tmp_path / artefact.STAMP).write_text('{"target": "api", "architecture": "arm64", "python": "3.12"}')
    with pytest.raises(ConfigError, match="built for arm64 but the function runs on x86_64"):
        artefact.check_architecture(str(tmp_path), machine="x86_64")
    artefact.check_architecture(str(tmp_path), machine="aarch64")
    artefact.check_architecture(str(tmp_path / "source-checkout"), machine="x86_64")  # no stamp: nothing to check


@pytest.mark.parametrize("name", MODULES)
def test_a_handler_built_for_the_other_architecture_fails_at_import_saying_why(name: str, tmp_path: Path) -> None:
    """Before the handler loads any compiled module (pydantic_core would fail with an obscure ImportError)."""
    shutil.copytree(Path(api_handler.__file__).parents[2], tmp_path / "imgflow")
    other = "arm64" if os.uname().machine == "x86_64" else "x86_64"
    (tmp_path / artefact.STAMP).write_text(json.dumps({"target": "api", "architecture": other, "python": "3.12"}))
    probe = f"import imgflow.runtimes.aws.{name}"
    proc = subprocess.run(
        [sys.executable, "-c", probe], env={"PYTHONPATH": str(tmp_path)}, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    assert f"this artefact was built for {other}" in proc.stderr
    assert "ConfigError" in proc.stderr
