"""The Lambda entry points without AWS: imports wire nothing, events decode, bad bodies answer 400."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from imgflow.runtimes.aws import api_handler, events

from .lambda_events import FakeContext, load

MODULES = ("api_handler", "processor", "reconciler", "transform")

_PROBE = """
import sys
import imgflow.runtimes.aws.{name} as m
assert m.wiring.value is None, "wired at import"
leaked = [x for x in ("boto3", "imgflow.bootstrap", "imgflow.adapters.s3_store", "pyvips", "PIL") if x in sys.modules]
assert not leaked, leaked
print("ok")
"""


@pytest.mark.parametrize("name", MODULES)
def test_import_wires_nothing(name: str) -> None:
    """A fresh interpreter with no environment at all (but where the checkout under test is): the
    import succeeds and builds nothing."""
    env = {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(name=name)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok", proc.stderr


def test_invalid_base64_body_is_a_400_problem(corpus: Path) -> None:
    event = load(corpus, "powertools-lambda-python/apiGatewayProxyEventAnotherPath.json")
    assert event["isBase64Encoded"] is True
    wired_before = api_handler.wiring.value
    response = api_handler.handler(event, FakeContext())
    assert response["statusCode"] == 400
    assert response["headers"]["content-type"] == "application/problem+json"
    problem = json.loads(response["body"])
    assert problem["status"] == 400
    assert problem["code"] == "bad_request"
    assert api_handler.wiring.value is wired_before  # refused before the app is even built


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
