"""End to end, AWS shape: records the API queues itself reach the processor through SQS.

Reprocessing creates no object, so S3 sends nothing: the API function's SqsNotifier
(IMGFLOW_QUEUE_URL from template.yaml) sends the S3-shaped message, and the processor
handles it like S3's own. The reconcile sweep stays the safety net, not the path.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from imgflow.adapters.sqs_notifier import EVENT_NAME, SqsNotifier
from imgflow.runtimes.aws import api_handler

from .conftest import Deployed
from .lambda_events import http_api_event

pytestmark = [pytest.mark.moto, pytest.mark.slow]

PHOTO = "photos/coffee.png"


def _rendition_keys(d: Deployed, image_id: str) -> list[str]:
    listing = d.aws["s3"].list_objects_v2(Bucket=d.renditions, Prefix=f"renditions/{image_id}/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _records(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for m in messages for r in json.loads(m["Body"]).get("Records", [])]


def _done(d: Deployed, image_id: str) -> dict[str, Any]:
    status, view = d.api("GET", f"/v1/images/{image_id}")
    assert status == 200, view
    assert view["status"] == "done", view
    return dict(view)


def test_api_wiring_announces_on_the_processors_queue(deployed: Deployed) -> None:
    notifier = api_handler.wiring().app.state.service.on_queued
    assert isinstance(notifier, SqsNotifier)
    assert notifier.queue_url == deployed.queue_url
    assert notifier.bucket == deployed.uploads
    assert id(notifier) in deployed.guard.guarded  # its client is under the guard's hook
    assert deployed.service.on_queued is None  # the processor never queues a record itself


def test_reprocess_sends_the_processor_a_message(deployed: Deployed, corpus: Path) -> None:
    d = deployed
    d.drain()
    image_id = d.upload((corpus / PHOTO).read_bytes(), "image/png", filename="coffee.png")
    assert d.deliver(d.receive(expect=1)) == {"batchItemFailures": []}
    first = _done(d, image_id)
    assert first["generation"] == 1
    first_keys = _rendition_keys(d, image_id)
    assert first_keys
    assert all(k.startswith(f"renditions/{image_id}/1/") for k in first_keys)

    status, queued = d.api("POST", f"/v1/images/{image_id}/reprocess", {})
    assert status == 202, queued
    assert (queued["status"], queued["generation"]) == ("queued", 2)

    messages = d.receive(expect=1)
    assert len(messages) == 1, _records(messages)
    (record,) = _records(messages)
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == EVENT_NAME
    assert record["s3"]["bucket"]["name"] == d.uploads
    assert unquote_plus(record["s3"]["object"]["key"]) == f"originals/{image_id}"
    stored = d.service.catalog.get(image_id)
    assert record["s3"]["object"]["eTag"] == stored.etag
    assert record["s3"]["object"]["size"] == stored.size

    assert d.deliver(messages) == {"batchItemFailures": []}
    second = _done(d, image_id)
    assert second["generation"] == 2
    keys = _rendition_keys(d, image_id)
    assert len(second["renditions"]) == 6
    assert len(keys) == 4  # a 600 px image: large and medium are identical and share one object per format
    assert all(k.startswith(f"renditions/{image_id}/2/") for k in keys)
    assert not set(keys) & set(first_keys)  # new, immutable keys; generation 1's are gone
    assert not d.guard.violations


def test_direct_upload_is_announced_once_by_s3_alone(deployed: Deployed, corpus: Path) -> None:
    """POST /v1/images: S3's own notification announces the put; the API sends nothing more."""
    d = deployed
    d.drain()
    data = (corpus / PHOTO).read_bytes()
    event = http_api_event("POST", "/v1/images")
    event["headers"]["content-type"] = "image/png"
    event["body"] = base64.b64encode(data).decode()
    event["isBase64Encoded"] = True
    response = api_handler.handler(event, d.context)
    assert response["statusCode"] == 202, response
    image_id = json.loads(response["body"])["image_id"]

    messages = d.receive(expect=1)
    messages += d.receive(expect=1, tries=2)  # wait a little longer: nothing else may arrive
    names = [r["eventName"] for r in _records(messages)]
    assert len(names) == 1, names
    assert names[0].startswith("ObjectCreated:")
    assert names[0] != EVENT_NAME
    assert d.deliver(messages) == {"batchItemFailures": []}
    view = _done(d, image_id)
    assert view["generation"] == 1
    assert d.service.catalog.get(image_id).attempts == 1
    assert not d.guard.violations
