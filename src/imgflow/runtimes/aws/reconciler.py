"""The reconcile sweep's Lambda entry point, run on a schedule (every 5 minutes).

With ``IMGFLOW_QUEUE_URL`` (the template sets it) the sweep re-drives a stale record by
sending the processors' queue the message S3 would have sent
(:class:`~imgflow.adapters.sqs_notifier.SqsNotifier`): it never processes an image itself,
so it neither competes with the processors during a burst nor costs an image an attempt
when the sweep times out. Without a queue it falls back to processing a few images inline.
"""

from __future__ import annotations

import time
from typing import Any

from imgflow.runtimes.aws import telemetry
from imgflow.runtimes.aws.redrive import QueueRedrive
from imgflow.runtimes.aws.wiring import Lazy, aws_settings, processing_service
from imgflow.service import ImageService

#: records re-driven per sweep through the queue (a message each)
QUEUE_BATCH = 50
#: records processed per sweep without a queue (each may take up to the function's timeout)
INLINE_BATCH = 5


def _build() -> ImageService:
    settings = aws_settings()
    if not settings.queue_url:
        return processing_service(settings)
    from imgflow.bootstrap import build_service

    return QueueRedrive.over(build_service(settings, with_processor=False))


wiring: Lazy[ImageService] = Lazy(_build)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    service = wiring.get()
    started = time.perf_counter()
    requeued: list[str] = []
    if isinstance(service, QueueRedrive):
        report, requeued = service.sweep(limit=QUEUE_BATCH)
    else:
        report = service.reconcile(limit=INLINE_BATCH)
    result = {
        "redriven": len(report.redriven),
        "requeued": len(requeued),
        "failed": len(report.failed),
        "expired": len(report.expired),
    }
    telemetry.logger().info(
        "reconcile sweep", extra={**result, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    )
    return result
