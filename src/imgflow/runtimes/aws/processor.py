"""The processor's Lambda entry point: S3 ObjectCreated events, however they are delivered.

* SQS (the template's path): each message is an S3 notification; the answer
  lists in ``batchItemFailures`` only the messages to redeliver (the service
  said ``retry_later``, or AWS failed transiently). A bad image is recorded
  ``failed`` and its message acknowledged; a message that is not an S3
  notification is logged and acknowledged, never retried forever.
* S3 notifications invoking the function directly, and EventBridge
  "Object Created" events: a ``retry_later`` raises, so Lambda retries.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from imgflow.runtimes.aws import events, telemetry
from imgflow.runtimes.aws.wiring import aws_settings, processing_service
from imgflow.service import ImageService, Outcome


@dataclass(frozen=True)
class Wiring:
    service: ImageService
    uploads_bucket: str


@functools.cache
def wiring() -> Wiring:
    """Built on the first event, once per container (``wiring.cache_clear()`` forgets it)."""
    settings = aws_settings()
    return Wiring(service=processing_service(settings), uploads_bucket=settings.uploads_bucket)


class RetryLater(Exception):
    """Some object in this delivery must be handled again later."""


def _handle(w: Wiring, event: events.ObjectEvent, source: str) -> Outcome:
    log = telemetry.logger()
    if event.kind != "created":
        log.info("event ignored", extra={"status": "ignored", "reason": event.name or event.kind, "key": event.key})
        return Outcome("ignored", reason=event.name or event.kind)
    if event.bucket != w.uploads_bucket:
        log.info("event ignored", extra={"status": "ignored", "reason": "foreign_bucket", "bucket": event.bucket})
        return Outcome("ignored", reason="foreign_bucket")
    started = time.perf_counter()
    outcome = w.service.handle_object_created(event.key, etag=event.etag)
    telemetry.record_outcome(outcome, key=event.key, duration_ms=(time.perf_counter() - started) * 1000, source=source)
    return outcome


def _handle_all(w: Wiring, batch: Iterable[events.ObjectEvent], source: str) -> list[Outcome]:
    outcomes = [_handle(w, event, source) for event in batch]
    retry = [o for o in outcomes if o.kind == "retry_later"]
    if retry:
        raise RetryLater(", ".join(f"{o.image_id}: {o.reason}" for o in retry))
    return outcomes


def _sqs_record(w: Wiring, record: SQSRecord) -> None:
    try:
        batch = events.from_sqs_record(record)
    except events.NotAnS3Message as exc:
        telemetry.logger().warning(
            "message acknowledged without processing",
            extra={"status": "ignored", "reason": str(exc), "message_id": record.message_id},
        )
        return
    _handle_all(w, batch, "sqs")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    w = wiring()
    try:
        shape = events.shape_of(event)
        if shape == "sqs":

            def record_handler(record: SQSRecord) -> None:  # powertools passes record= by name
                _sqs_record(w, record)

            batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
            response = process_partial_response(
                event=event, record_handler=record_handler, processor=batch, context=context
            )
            return dict(response)
        if shape == "s3":
            outcomes = _handle_all(w, events.from_s3_notification(event), "s3")
        elif shape == "eventbridge":
            outcomes = _handle_all(w, [events.from_eventbridge(event)], "eventbridge")
        else:
            reason = "s3:TestEvent" if shape == "s3_test" else "unknown event shape"
            telemetry.logger().warning("invocation ignored", extra={"status": "ignored", "reason": reason})
            outcomes = [Outcome("ignored", reason=reason)]
        return {"outcomes": [o.kind for o in outcomes]}
    finally:
        telemetry.flush()
