"""The reconcile sweep's Lambda entry point, run on a schedule (every 5 minutes)."""

from __future__ import annotations

import time
from typing import Any

from imgflow.runtimes.aws import telemetry
from imgflow.runtimes.aws.wiring import Lazy, aws_settings, processing_service
from imgflow.service import ImageService

wiring: Lazy[ImageService] = Lazy(lambda: processing_service(aws_settings()))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    service = wiring.get()
    started = time.perf_counter()
    report = service.reconcile()
    result = {"redriven": len(report.redriven), "failed": len(report.failed), "expired": len(report.expired)}
    telemetry.logger().info(
        "reconcile sweep", extra={**result, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    )
    return result
