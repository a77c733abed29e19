"""End to end, AWS shape: API handler -> presigned POST to S3 -> S3's notification on SQS -> processor handler.

No account, no Docker: moto server on 127.0.0.1 with the resources template.yaml
declares; the handlers run in-process with the template's environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imgflow.runtimes.aws import reconciler

from .conftest import Deployed

pytestmark = [pytest.mark.moto, pytest.mark.slow]

#: first photo that must process (small enough to keep the tier fast)
PHOTO = "photos/coffee.png"


def _lines(out: str) -> list[dict[str, Any]]:
    found = []
    for line in out.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def _bodies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in messages]


def _rendition_keys(d: Deployed, image_id: str) -> list[str]:
    listing = d.aws["s3"].list_objects_v2(Bucket=d.renditions, Prefix=f"renditions/{image_id}/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_upload_notify_process(deployed: Deployed, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = deployed
    data = (corpus / PHOTO).read_bytes()
    image_id = d.upload(data, "image/png", filename="coffee.png")
    status, view = d.api("GET", f"/v1/images/{image_id}")
    assert status == 200
    assert view["status"] == "awaiting_upload"

    messages = d.receive(expect=2)
    bodies = _bodies(messages)
    assert bodies[0].get("Event") == "s3:TestEvent"  # S3 sends it once, when the notification is set
    created = [b for b in bodies if "Records" in b]
    assert len(created) == 1
    assert created[0]["Records"][0]["eventName"].startswith("ObjectCreated:")

    result = d.deliver(messages)
    assert result == {"batchItemFailures": []}
    assert not d.guard.violations

    status, view = d.api("GET", f"/v1/images/{image_id}")
    assert status == 200, view
    assert view["status"] == "done", view
    assert view["facts"]["width"] == 600
    assert view["facts"]["height"] == 400
    assert view["renditions"]
    assert all(r["url"].startswith("http") for r in view["renditions"])
    keys = _rendition_keys(d, image_id)
    assert len(keys) == len(view["renditions"])
    # the owner is the JWT subject: someone else cannot see it
    status, _ = d.api("GET", f"/v1/images/{image_id}", sub="someone-else")
    assert status == 404

    lines = _lines(capsys.readouterr().out)
    processed = [x for x in lines if x.get("message") == "image processed" and x.get("image_id") == image_id]
    assert processed
    assert processed[0]["status"] == "done"
    assert isinstance(processed[0]["duration_ms"], int | float)
    assert processed[0]["key"] == f"originals/{image_id}"
    emf = [x for x in lines if "_aws" in x]
    assert emf
    assert emf[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "imgflow"
    metric_names = {m["Name"] for blob in emf for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"ImagesProcessed", "ProcessingMs", "BytesIn", "BytesOut"} <= metric_names

    # the same messages again: at-least-once delivery changes nothing
    before = d.service.catalog.get(image_id)
    again = d.deliver(messages)
    assert again == {"batchItemFailures": []}
    after = d.service.catalog.get(image_id)
    assert (after.version, after.status, after.generation) == (before.version, "done", before.generation)
    assert _rendition_keys(d, image_id) == keys
    assert not d.guard.violations


def test_corrupt_upload_fails_once(deployed: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    d = deployed
    d.drain()
    data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x13\x37" * 4000  # a JPEG's magic, then nonsense
    image_id = d.upload(data, "image/jpeg", filename="broken.jpg")
    messages = d.receive(expect=1)
    result = d.deliver(messages)
    assert result == {"batchItemFailures": []}  # a bad image is recorded, not retried

    status, view = d.api("GET", f"/v1/images/{image_id}")
    assert status == 200, view
    assert view["status"] == "failed", view
    assert view["error"]["code"], view
    head = d.aws["s3"].head_object(Bucket=d.uploads, Key=f"originals/{image_id}")
    assert head["ContentLength"] == len(data)  # the original is kept
    assert _rendition_keys(d, image_id) == []
    lines = _lines(capsys.readouterr().out)
    assert any(x.get("message") == "image failed" and x.get("image_id") == image_id for x in lines)
    # the service's own stdlib log lines are JSON too, with their extra fields
    assert any(x.get("name") == "imgflow.service" and x.get("code") == "corrupt_image" for x in lines), lines
    emf = [x for x in lines if "_aws" in x]
    assert any(m["Name"] == "ImagesFailed" for blob in emf for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"])
    assert not d.guard.violations


def test_operator_copy_with_an_awkward_key(deployed: Deployed, corpus: Path) -> None:
    """An object copied straight into originals/ (spaces, ``+``, unicode) is handled under its decoded key."""
    d = deployed
    d.drain()
    name = "Holiday 2024+ café ☕.png"
    d.aws["s3"].put_object(
        Bucket=d.uploads, Key=f"originals/{name}", Body=(corpus / PHOTO).read_bytes(), ContentType="image/png"
    )
    messages = d.receive(expect=1)
    raw_key = json.loads(messages[0]["Body"])["Records"][0]["s3"]["object"]["key"]
    assert raw_key != f"originals/{name}"  # S3 form-encodes keys in notifications
    assert d.deliver(messages) == {"batchItemFailures": []}
    record = d.service.catalog.get(name)
    assert record.status == "done", record
    assert not d.guard.violations


def test_reconciler_runs_on_the_schedule_event(deployed: Deployed) -> None:
    schedule_event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    result = reconciler.handler(schedule_event, deployed.context)
    assert set(result) == {"redriven", "failed", "expired"}
    assert not deployed.guard.violations
