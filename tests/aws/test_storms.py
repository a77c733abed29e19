"""Event storms on the AWS shape: S3's notifications as SQS really delivers them, at their worst.

Every message three times, shuffled, some merged into one body with another's records, with
ObjectRemoved records and S3's test event in between; then an original replaced under a
processed image. The record must move once per generation, agree with the renditions stored,
and a deleted image must stay deleted.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from imgflow.records import ImageRecord
from imgflow.runtimes.aws import processor

from .conftest import Deployed
from .lambda_events import sqs_event

pytestmark = [pytest.mark.moto, pytest.mark.slow]

PHOTO = "photos/coffee.png"


def _message(body: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(body)
    return {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": uuid.uuid4().hex,
        "Body": text,
        "MD5OfBody": hashlib.md5(text.encode()).hexdigest(),  # SQS's own checksum
    }


def _storm(bodies: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Three deliveries of each body, merged pairs, removals and test events, in random order."""
    records = [r for b in bodies for r in b.get("Records", [])]
    storm = [dict(b) for b in bodies for _ in range(3)]
    for _ in range(len(records)):
        storm.append({"Records": rng.sample(records, k=min(2, len(records)))})  # merged
    for r in records:
        removed = json.loads(json.dumps(r))
        removed["eventName"] = "ObjectRemoved:Delete"
        storm.append({"Records": [removed]})
    storm += [{"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "x"}] * 2
    rng.shuffle(storm)
    return storm


def _deliver_storm(d: Deployed, bodies: list[dict[str, Any]], seed: int) -> None:
    """Batches of five, as the event source hands them; a reported failure is delivered again later."""
    pending = [_message(b) for b in _storm(bodies, random.Random(seed))]
    for _ in range(20):
        if not pending:
            return
        retry: list[dict[str, Any]] = []
        for start in range(0, len(pending), 5):
            batch = pending[start : start + 5]
            result = processor.handler(sqs_event(batch, d.queue_arn), d.context)
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            retry += [m for m in batch if m["MessageId"] in failed]
        pending = retry
    raise AssertionError(f"{len(pending)} messages kept failing")


def _stored(d: Deployed, image_id: str) -> list[str]:
    listing = d.aws["s3"].list_objects_v2(Bucket=d.renditions, Prefix=f"renditions/{image_id}/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _agrees(d: Deployed, record: ImageRecord) -> None:
    keys = sorted({r.key for r in record.renditions})  # identical renditions share one object
    assert keys, record
    assert keys == _stored(d, record.image_id)
    assert all(k.startswith(f"renditions/{record.image_id}/{record.generation}/") for k in keys)


def test_a_storm_moves_each_record_once(deployed: Deployed, corpus: Path) -> None:
    d = deployed
    d.drain()
    data = (corpus / PHOTO).read_bytes()
    # the baseline: one image, one clean delivery
    calm = d.upload(data, "image/png")
    assert d.deliver(d.receive(expect=1)) == {"batchItemFailures": []}
    baseline = d.service.catalog.get(calm)
    assert baseline.status == "done"

    kept = [d.upload(data, "image/png", filename=f"kept{i}.png") for i in range(3)]
    gone = d.upload(data, "image/png", filename="gone.png")
    bodies = [json.loads(m["Body"]) for m in d.receive(expect=4)]
    d.drain()
    assert len([b for b in bodies if "Records" in b]) == 4
    assert d.api("DELETE", f"/v1/images/{gone}")[0] == 204  # before any event arrives

    _deliver_storm(d, bodies, seed=11)

    for image_id in kept:
        record = d.service.catalog.get(image_id)
        assert record.status == "done", record
        # one claim, one done: the same writes as the calm image's single delivery
        assert (record.version, record.generation, record.attempts) == (baseline.version, 1, 1)
        _agrees(d, record)
    tomb = d.service.catalog.get(gone)
    assert tomb.status == "deleted"
    assert _stored(d, gone) == []
    assert "Contents" not in d.aws["s3"].list_objects_v2(Bucket=d.uploads, Prefix=f"originals/{gone}")
    assert d.api("GET", f"/v1/images/{gone}")[0] == 404
    assert not d.guard.violations


def test_a_replaced_original_is_a_new_generation(deployed: Deployed, corpus: Path) -> None:
    """Another object on a done image's key (an operator's copy, a second upload on a live grant):
    the declared size bound the first upload only; the image is processed again, not failed."""
    d = deployed
    d.drain()
    first = (corpus / PHOTO).read_bytes()
    image_id = d.upload(first, "image/png")
    old_bodies = [json.loads(m["Body"]) for m in d.receive(expect=1)]
    _deliver_storm(d, old_bodies, seed=3)
    done = d.service.catalog.get(image_id)
    assert (done.status, done.generation) == ("done", 1)
    _agrees(d, done)

    other = next(p for p in sorted((corpus / "photos").glob("*.jpg")) if p.stat().st_size != len(first))
    d.aws["s3"].put_object(
        Bucket=d.uploads, Key=f"originals/{image_id}", Body=other.read_bytes(), ContentType="image/jpeg"
    )
    new_bodies = [json.loads(m["Body"]) for m in d.receive(expect=1)]
    d.drain()
    # while generation 2 is being made, readers still get generation 1's renditions
    seen: list[tuple[str, list[str], list[int]]] = []
    real = d.service.processor
    assert real is not None

    def observed(data: bytes, recipe: Any, limits: Any) -> Any:
        status, view = d.api("GET", f"/v1/images/{image_id}")
        assert status == 200
        urls = [r["url"] for r in view["renditions"]]
        served = [httpx.get(url, timeout=10).status_code for url in urls]
        seen.append((view["status"], urls, served))
        return real(data, recipe, limits)

    d.service.deps = replace(d.service.deps, processor=observed)
    try:
        # the old notification arrives again, late, among three copies of the new one
        _deliver_storm(d, old_bodies + new_bodies, seed=5)
    finally:
        d.service.deps = replace(d.service.deps, processor=real)
    (during,) = seen  # processed once
    assert during[0] == "processing"
    assert len(during[1]) == len(done.renditions)
    assert all(f"/renditions/{image_id}/1/" in url for url in during[1])
    assert set(during[2]) == {200}  # still served

    record = d.service.catalog.get(image_id)
    assert record.status == "done", record.error
    assert record.generation == 2
    assert record.size == other.stat().st_size
    assert record.sniffed_type == "image/jpeg"
    _agrees(d, record)  # generation 1's renditions are gone only now that generation 2 is done
    status, view = d.api("GET", f"/v1/images/{image_id}")
    assert status == 200
    assert view["status"] == "done"
    assert not d.guard.violations
