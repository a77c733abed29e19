"""The reconcile sweep's Lambda entry point, run on a schedule (every 5 minutes).

With ``IMGFLOW_QUEUE_URL`` (the template sets it) the service is built without the image
engine and the sweep re-drives a stale record by sending the processors' queue the message
S3 would have sent (``reconcile(requeue=...)`` with the service's
:class:`~imgflow.adapters.sqs_notifier.SqsNotifier`): it never processes an image itself,
so it neither competes with the processors during a burst nor costs an image an attempt
when the sweep times out. Without a queue it falls back to processing a few images inline.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

from imgflow.errors import ConfigError
from imgflow.runtimes.aws.wiring import aws_settings, processing_service

if TYPE_CHECKING:
    from imgflow.service import ImageService, ReconcileReport

#: records re-driven per sweep through the queue (a message each)
QUEUE_BATCH = 50
#: records processed per sweep without a queue (each may take up to the function's timeout)
INLINE_BATCH = 5


@functools.cache
def wiring() -> ImageService:
    """Built on the first sweep, once per container."""
    settings = aws_settings()
    if not settings.queue_url:
        return processing_service(settings)
    from imgflow.bootstrap import build_service
    from imgflow.runtimes.aws import telemetry

    service = build_service(settings, with_processor=False, on_publish_error=telemetry.event_not_published)
    if service.on_queued is None:
        raise ConfigError("re-driving through the queue needs the queue's notifier (IMGFLOW_QUEUE_URL)")
    return service


def sweep(service: ImageService) -> ReconcileReport:
    """One pass: through the queue when the service was built for it (no processor), else inline."""
    if service.processor is None and service.on_queued is not None:
        return service.reconcile(limit=QUEUE_BATCH, requeue=service.on_queued)
    return service.reconcile(limit=INLINE_BATCH)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from imgflow.runtimes.aws import telemetry  # powertools: with the first sweep, not at import

    started = time.perf_counter()
    try:
        report = sweep(wiring())
    finally:
        telemetry.flush()
    result = {
        "redriven": len(report.redriven),
        "requeued": len(report.requeued),
        "failed": len(report.failed),
        "expired": len(report.expired),
        "published": len(report.published),
    }
    telemetry.logger().info(
        "reconcile sweep", extra={**result, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    )
    return result
