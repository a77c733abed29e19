"""Logs (JSON lines) and metrics (CloudWatch Embedded Metric Format) for the Lambda entry points."""

from __future__ import annotations

import logging
import sys
import threading
from typing import IO, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from imgflow.records import ImageRecord
from imgflow.service import Kind, Outcome

NAMESPACE = "imgflow"
#: the logger's name and the ``service`` key of every line; a child of the package logger, never its root
SERVICE = "imgflow.aws"

_lock = threading.Lock()
_logger: Logger | None = None
_metrics: Metrics | None = None


class _StdoutHandler(logging.StreamHandler[IO[str]]):
    """Writes to whatever ``sys.stdout`` is when a line is logged (the Lambda runtime, or a test's capture)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stdout

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def logger() -> Logger:
    global _logger
    with _lock:
        if _logger is None:
            _logger = Logger(service=SERVICE, logger_handler=_StdoutHandler())
            _route_library_logs(_logger)
        return _logger


#: the package's own stdlib loggers; on Lambda their lines must be JSON too, not the runtime's plain text
LIBRARY_LOGGERS = ("imgflow.service", "imgflow.api")


def _route_library_logs(source: Logger) -> None:
    """Send the service's and API's stdlib log records through the powertools handler (JSON lines
    with their ``extra`` fields), once; powertools' own helper only reaches top-level loggers."""
    source.append_keys(name="%(name)s")
    for name in LIBRARY_LOGGERS:
        std = logging.getLogger(name)
        std.handlers = [source.registered_handler]
        std.propagate = False
        std.setLevel(source.log_level)


def metrics() -> Metrics:
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = Metrics(namespace=NAMESPACE, service="imgflow")
        return _metrics


def flush() -> None:
    """Print the EMF blob if anything was recorded (an empty flush would only warn)."""
    m = metrics()
    if m.metric_set:
        m.flush_metrics()


def record_outcome(outcome: Outcome, *, key: str, duration_ms: float, source: str) -> None:
    """One JSON line per handled object, and the metrics that go with it."""
    record = outcome.record
    fields: dict[str, Any] = {
        "image_id": outcome.image_id,
        "key": key,
        "status": outcome.kind,
        "duration_ms": round(duration_ms, 1),
        "source": source,
    }
    if outcome.reason:
        fields["reason"] = outcome.reason
    m = metrics()
    if outcome.kind == Kind.DONE:
        m.add_metric(name="ImagesProcessed", unit=MetricUnit.Count, value=1)
        m.add_metric(name="ProcessingMs", unit=MetricUnit.Milliseconds, value=duration_ms)
        if record is not None:
            bytes_in = record.size or 0
            bytes_out = sum({r.key: r.bytes for r in record.renditions}.values())  # shared objects once
            fields.update(bytes_in=bytes_in, bytes_out=bytes_out, generation=record.generation)
            m.add_metric(name="BytesIn", unit=MetricUnit.Bytes, value=bytes_in)
            m.add_metric(name="BytesOut", unit=MetricUnit.Bytes, value=bytes_out)
        logger().info("image processed", extra=fields)
    elif outcome.kind == Kind.FAILED:
        m.add_metric(name="ImagesFailed", unit=MetricUnit.Count, value=1)
        if record is not None and record.error is not None:
            fields.update(error_code=record.error.code, error=record.error.message)
        logger().warning("image failed", extra=fields)
    elif outcome.kind == Kind.RETRY_LATER:
        logger().warning("image left for redelivery", extra=fields)
    else:
        logger().info("event handled", extra=fields)


def event_not_published(record: ImageRecord) -> None:
    """An image's event did not go out (it stays pending; the reconcile sweep resends it)."""
    metrics().add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=1)
    logger().warning("event not published", extra={"image_id": record.image_id, "status": record.status})


def config_invalid(message: str) -> None:
    """A pushed config failed validation; the function keeps its last good one. Flushed at once:
    the API function emits no other metric that would carry it."""
    metrics().add_metric(name="ConfigInvalid", unit=MetricUnit.Count, value=1)
    flush()
