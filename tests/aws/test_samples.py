"""AWS's own event samples (shared/corpus/events) through the processor handler on the moto stack.

Rewritten to point at a real object under originals/ (keeping the sample's key
encoding) each must do what MANIFEST.md says; unmodified, each must be ignored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from imgflow.runtimes.aws import processor

from .conftest import Deployed
from .lambda_events import load, render_sam_template, rewrite

pytestmark = [pytest.mark.moto, pytest.mark.slow]

PHOTO = "photos/coffee.png"
#: the built-in recipe's renditions of it
RENDITIONS = [(name, fmt) for name in ("large", "medium", "thumb") for fmt in ("jpeg", "webp")]

#: sample -> the record's status once rewritten ("done" = must process; None = must ignore)
SAMPLES: dict[str, str | None] = {
    "powertools-lambda-python/s3Event.json": "done",
    "powertools-lambda-python/s3EventDecodedKey.json": "done",
    "aws-lambda-go/s3-event.json": "done",
    "powertools-lambda-python/s3SqsEvent.json": "done",
    "powertools-lambda-python/s3EventBridgeNotificationObjectCreatedEvent.json": "done",
    "aws-sam-cli/S3Put.json": "done",
    "powertools-lambda-python/s3EventDeleteObject.json": None,
    "powertools-lambda-python/s3EventBridgeNotificationObjectDeletedEvent.json": None,
}


def _sample(corpus: Path, name: str, bucket: str = "example-bucket", key: str = "test%2Fkey") -> dict[str, Any]:
    if name.startswith("aws-sam-cli/"):
        text = (corpus / "events" / name).read_text(encoding="utf-8")
        return render_sam_template(text, bucket=bucket, key=key, region="us-east-1", partition="aws")
    return load(corpus, name)


def _invoke(d: Deployed, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = processor.handler(event, d.context)
    return result


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_rewritten_to_a_real_original(deployed: Deployed, corpus: Path, name: str) -> None:
    d = deployed
    image_id = d.upload((corpus / PHOTO).read_bytes(), "image/png", filename="coffee.png")
    d.drain()  # the notification S3 sent for it: this test delivers the sample instead
    key = f"originals/{image_id}"
    if name.startswith("aws-sam-cli/"):
        event = _sample(corpus, name, bucket=d.uploads, key=key.replace("/", "%2F"))
    else:
        event = rewrite(_sample(corpus, name), d.uploads, key)
    result = _invoke(d, event)
    assert result.get("batchItemFailures", []) == []
    record = d.service.catalog.get(image_id)
    expected = SAMPLES[name]
    if expected is None:
        assert record.status == "awaiting_upload"  # untouched
    else:
        assert record.status == expected, record
        assert record.facts is not None
        photo = (corpus / PHOTO).read_bytes()
        facts = (record.facts.format, record.facts.width, record.facts.height, record.facts.bytes)
        assert facts == ("png", 600, 400, len(photo))
        assert record.facts.sha256 == hashlib.sha256(photo).hexdigest()
        assert sorted((r.name, r.format) for r in record.renditions) == RENDITIONS
    assert not d.guard.violations


@pytest.mark.parametrize("name", [*sorted(SAMPLES), "powertools-lambda-python/sqsEvent.json"])
def test_sample_unmodified_is_ignored(deployed: Deployed, corpus: Path, name: str) -> None:
    event = _sample(corpus, name)
    result = _invoke(deployed, event)
    if "batchItemFailures" in result:
        assert result == {"batchItemFailures": []}  # acknowledged, never retried forever
    else:
        assert set(result["outcomes"]) == {"ignored"}, result
    assert not deployed.guard.violations


def test_unknown_invocation_is_ignored(deployed: Deployed) -> None:
    result = _invoke(deployed, json.loads('{"hello": "world"}'))
    assert result == {"outcomes": ["ignored"]}
