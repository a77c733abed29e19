"""Image events on EventBridge, consumed the way a downstream system would: a rule on the bus
(source ``imgflow``) with an SQS queue as its target, on moto server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from imgflow.errors import StorageError
from imgflow.ports import EventPublisher, ImageEvent
from imgflow.runtimes.aws import reconciler

from .cfn import ACCOUNT, REGION
from .conftest import Deployed

pytestmark = [pytest.mark.moto, pytest.mark.slow]

PHOTO = "photos/coffee.png"
SCHEDULE_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@dataclass
class Consumer:
    aws: dict[str, Any]
    queue_url: str

    def events(self, image_ids: set[str], *, expect: int, tries: int = 15) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        for _ in range(tries):
            resp = self.aws["sqs"].receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in resp.get("Messages", []):
                self.aws["sqs"].delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
                event = json.loads(m["Body"])
                if event.get("detail", {}).get("image_id") in image_ids:
                    got.append(event)
            if len(got) >= expect:
                break
        return got


@pytest.fixture
def consumer(deployed: Deployed) -> Iterator[Consumer]:
    """What a downstream team deploys: a rule on the bus for imgflow's events, targeting their queue."""
    events = boto3.client("events", endpoint_url=deployed.stack.endpoint, region_name=REGION)
    name = f"consumer-{uuid.uuid4().hex[:8]}"
    url = deployed.aws["sqs"].create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    bus = deployed.stack.evaluator.parameters["EventBusName"]
    pattern = {"source": ["imgflow"], "detail-type": ["Image Processed", "Image Failed"]}
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    yield Consumer(deployed.aws, url)
    events.remove_targets(Rule=name, EventBusName=bus, Ids=["queue"])
    events.delete_rule(Name=name, EventBusName=bus)


class Outage:
    """A publisher that can be told to fail: EventBridge unreachable."""

    def publish(self, event: ImageEvent) -> None:
        raise StorageError("EventBridge unreachable (test)")


def test_done_and_failed_images_are_announced(deployed: Deployed, consumer: Consumer, corpus: Path) -> None:
    d = deployed
    d.drain()
    good = d.upload((corpus / PHOTO).read_bytes(), "image/png")
    bad = d.upload(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x13\x37" * 4000, "image/jpeg")
    assert d.deliver(d.receive(expect=2)) == {"batchItemFailures": []}

    by_id = {e["detail"]["image_id"]: e for e in consumer.events({good, bad}, expect=2)}
    assert set(by_id) == {good, bad}
    done, failed = by_id[good], by_id[bad]
    record = d.service.catalog.get(good)
    assert (done["source"], done["detail-type"]) == ("imgflow", "Image Processed")
    assert done["detail"]["owner"] == "user-1"
    assert done["detail"]["generation"] == record.generation == 1
    assert done["detail"]["status"] == "done"
    assert [(r["key"], r["bytes"]) for r in done["detail"]["renditions"]] == [
        (r.key, r.bytes) for r in record.renditions
    ]
    assert (failed["detail-type"], failed["detail"]["status"]) == ("Image Failed", "failed")
    assert failed["detail"]["error"]["code"] == d.service.catalog.get(bad).error.code  # type: ignore[union-attr]
    # published, so no longer pending
    assert record.event_pending is None
    assert d.service.catalog.get(bad).event_pending is None
    assert not d.guard.violations


def test_an_outage_loses_nothing_the_sweep_republishes(
    deployed: Deployed, consumer: Consumer, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployed
    d.drain()
    service = d.service
    working: EventPublisher | None = service.publisher
    service.deps = replace(service.deps, publisher=Outage())
    try:
        image_id = d.upload((corpus / PHOTO).read_bytes(), "image/png")
        assert d.deliver(d.receive(expect=1)) == {"batchItemFailures": []}
    finally:
        service.deps = replace(service.deps, publisher=working)
    record = service.catalog.get(image_id)
    assert record.status == "done"  # a publishing failure never fails the image
    assert record.event_pending == "done"
    out = capsys.readouterr().out
    assert "EventsNotPublished" in out  # counted (EMF metric)
    assert consumer.events({image_id}, expect=1, tries=2) == []

    result = reconciler.handler(SCHEDULE_EVENT, d.context)
    assert result["published"] >= 1
    (event,) = consumer.events({image_id}, expect=1)
    assert event["detail-type"] == "Image Processed"
    assert event["detail"]["generation"] == record.generation
    assert service.catalog.get(image_id).event_pending is None
    # the next sweep has nothing left to send for it
    assert reconciler.handler(SCHEDULE_EVENT, d.context)["published"] == 0
    assert consumer.events({image_id}, expect=1, tries=2) == []
    assert not d.guard.violations
