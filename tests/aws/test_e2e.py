"""End to end, AWS shape: API handler -> presigned POST to S3 -> S3's notification on SQS -> processor handler.

No account, no Docker: moto server on 127.0.0.1 with the resources template.yaml
declares; the handlers run in-process with the template's environment.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from imgflow.adapters.dynamo_catalog import DynamoCatalog
from imgflow.adapters.sqs_notifier import EVENT_NAME, SqsNotifier
from imgflow.records import ImageRecord
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
    assert len(view["renditions"]) == 6
    # 600 px is below both large (2048) and medium (1024): they come out identical and share an object
    assert len(keys) == 4
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


SCHEDULE_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def test_the_sweep_redrives_through_the_queue(deployed: Deployed, corpus: Path) -> None:
    """A queued record whose message was lost is announced again on the processors' queue, not
    processed by the sweep; a queued record whose original is gone fails there and then."""
    d = deployed
    d.drain()
    sweep = reconciler.wiring()
    assert sweep.processor is None  # built without the image engine: it only announces
    assert isinstance(sweep.on_queued, SqsNotifier)
    assert sweep.on_queued.queue_url == d.queue_url
    catalog = DynamoCatalog(d.aws["dynamodb"], d.stack.tables["ImagesTable"])  # unguarded: test set-up
    lost, gone = (f"{what}{uuid.uuid4().hex.upper()}" for what in ("LOST", "GONE"))
    data = (corpus / PHOTO).read_bytes()
    put = d.aws["s3"].put_object(Bucket=d.uploads, Key=f"originals/{lost}", Body=data, ContentType="image/png")
    d.drain()  # S3's own message: the one that got lost
    long_ago = time.time() - 2 * sweep.config.reconcile_grace_seconds
    for image_id in (lost, gone):
        catalog.create(
            ImageRecord(
                image_id=image_id,
                owner="user-1",
                status="queued",
                created_at=long_ago,
                updated_at=long_ago,
                size=len(data),
                etag=put["ETag"].strip('"'),
                generation=1,
                recipe=sweep.config.default_recipe,
            )
        )

    result = reconciler.handler(SCHEDULE_EVENT, d.context)
    # the failed one's Image Failed event goes out from the sweep
    assert result == {"redriven": 0, "requeued": 1, "failed": 1, "expired": 0, "published": 1}
    waiting = catalog.get(lost)
    assert (waiting.status, waiting.attempts) == ("queued", 0)  # the sweep did not process it
    failed = catalog.get(gone)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "object_missing"

    # touched: the next sweep inside the grace period sends nothing again
    assert reconciler.handler(SCHEDULE_EVENT, d.context)["requeued"] == 0
    messages = d.receive(expect=1)
    redriven = [r for m in messages for r in json.loads(m["Body"]).get("Records", [])]
    assert [(r["eventName"], unquote_plus(r["s3"]["object"]["key"])) for r in redriven] == [
        (EVENT_NAME, f"originals/{lost}")
    ]
    assert d.deliver(messages) == {"batchItemFailures": []}
    done = catalog.get(lost)
    assert (done.status, done.attempts) == ("done", 1)
    assert not d.guard.violations
