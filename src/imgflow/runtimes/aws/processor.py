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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from imgflow.adapters.sqs_redelivery import SqsRedelivery
from imgflow.errors import ImgflowError
from imgflow.runtimes.aws import events, telemetry
from imgflow.runtimes.aws.config_watch import ConfigWatcher
from imgflow.runtimes.aws.wiring import aws_settings, follow_config, processing_service
from imgflow.service import ImageService, Kind, Outcome, Reason


@dataclass(frozen=True)
class Wiring:
    service: ImageService
    uploads_bucket: str
    #: applies the service's retry delay to a message reported as failed
    redelivery: SqsRedelivery
    #: follows the config object (recipes without a rebuild); None without one
    config: ConfigWatcher | None = None


@functools.cache
def wiring() -> Wiring:
    """Built on the first call, once per container (``wiring.cache_clear()`` forgets it)."""
    from imgflow.bootstrap import sqs_client

    settings = aws_settings()
    service = processing_service(settings)
    return Wiring(
        service=service,
        uploads_bucket=settings.uploads_bucket,
        redelivery=SqsRedelivery(sqs_client(settings)),
        config=follow_config(settings, service),
    )


class RetryLater(Exception):
    """Some object in this delivery must be handled again later."""


def _handle(w: Wiring, event: events.ObjectEvent, source: str) -> Outcome:
    log = telemetry.logger()
    if event.kind != "created":
        log.info("event ignored", extra={"status": "ignored", "reason": event.name or event.kind, "key": event.key})
        return Outcome(Kind.IGNORED, reason=event.name or event.kind)
    if event.bucket != w.uploads_bucket:
        log.info("event ignored", extra={"status": "ignored", "reason": Reason.FOREIGN_BUCKET, "bucket": event.bucket})
        return Outcome(Kind.IGNORED, reason=Reason.FOREIGN_BUCKET)
    if event.config_version is not None and w.config is not None:
        w.config.refresh(expected=event.config_version)  # a backfill for a newer config than ours
    started = time.perf_counter()
    outcome = w.service.handle_object_created(event.key, etag=event.etag)
    telemetry.record_outcome(outcome, key=event.key, duration_ms=(time.perf_counter() - started) * 1000, source=source)
    return outcome


def _handle_all(
    w: Wiring, batch: Iterable[events.ObjectEvent], source: str, on_retry: Callable[[list[Outcome]], None] | None = None
) -> list[Outcome]:
    outcomes = [_handle(w, event, source) for event in batch]
    retry = [o for o in outcomes if o.kind == Kind.RETRY_LATER]
    if retry:
        if on_retry is not None:
            on_retry(retry)
        raise RetryLater(", ".join(f"{o.image_id}: {o.reason}" for o in retry))
    return outcomes


def _delay(w: Wiring, record: SQSRecord, retry: list[Outcome]) -> None:
    """The message comes back when the service asks (backoff; minutes after a full disk), not
    after the queue's visibility timeout. When the service says stop, SQS's maxReceiveCount
    (above max_attempts) moves it to the dead-letter queue."""
    deliveries = int(record.attributes.approximate_receive_count or 1)
    delays = [w.service.retry_delay(o, deliveries) for o in retry]
    if any(d is None for d in delays):
        return
    try:
        seconds = w.redelivery.delay(record.event_source_arn, record.receipt_handle, max(d or 0.0 for d in delays))
    except ImgflowError as exc:  # the queue's own visibility timeout applies
        telemetry.logger().warning("could not delay a message", extra={"code": exc.code, "error": exc.message})
        return
    telemetry.logger().info("message delayed", extra={"message_id": record.message_id, "delay_s": seconds})


def _sqs_record(w: Wiring, record: SQSRecord) -> None:
    try:
        batch = events.from_sqs_record(record)
    except events.NotAnS3Message as exc:
        telemetry.logger().warning(
            "message acknowledged without processing",
            extra={"status": "ignored", "reason": str(exc), "message_id": record.message_id},
        )
        return
    _handle_all(w, batch, "sqs", on_retry=lambda retry: _delay(w, record, retry))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    w = wiring()
    if w.config is not None:
        w.config.refresh()
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
            outcomes = [Outcome(Kind.IGNORED, reason=reason)]
        return {"outcomes": [o.kind for o in outcomes]}
    finally:
        telemetry.flush()
