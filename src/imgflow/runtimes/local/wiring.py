"""The local runtime's pieces, built from settings through :mod:`imgflow.bootstrap`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.types import ASGIApp

from imgflow.adapters.sqlite_queue import SqliteJobQueue
from imgflow.bootstrap import DB_FILE, build_app, build_service
from imgflow.errors import ConfigError
from imgflow.records import ImageRecord
from imgflow.service.core import ImageService, Outcome, ReconcileReport
from imgflow.settings import Settings


def _require_local(settings: Settings) -> None:
    if settings.backend != "local":
        raise ConfigError(f"the local runtime needs backend 'local' (got {settings.backend!r})")


def open_queue(settings: Settings) -> SqliteJobQueue:
    _require_local(settings)
    return SqliteJobQueue(Path(settings.data_dir) / DB_FILE)


def build_server_app(settings: Settings, *, queue: SqliteJobQueue, count_upload: Callable[[str], None]) -> ASGIApp:
    """The API (no image engine in this process) plus the web page and ``/metrics``."""
    from imgflow.runtimes.local.app import build_local_app
    from imgflow.runtimes.local.metrics import render

    _require_local(settings)
    api = build_app(settings)

    def depth() -> dict[str, int]:
        return {"live": queue.depth(), "dead": len(queue.dead())}

    return build_local_app(settings, api, queue_depth=depth, count_upload=count_upload, render_metrics=render)


def _count_unpublished(record: ImageRecord) -> None:
    from imgflow.runtimes.local.metrics import EVENTS_NOT_PUBLISHED

    EVENTS_NOT_PUBLISHED.inc()


def worker_service(settings: Settings, *, background: bool = False) -> ImageService:
    """``background``: image events go to the webhook from a thread of their own (a worker never
    waits on a receiver); the sweep, a short-lived process, sends them inline."""
    _require_local(settings)
    runner = None
    if background and settings.webhook_url:
        from imgflow.adapters.webhook import Background

        runner = Background()
    return build_service(settings, with_processor=True, on_publish_error=_count_unpublished, background=runner)


def _record_metrics(outcome: Outcome, seconds: float) -> None:
    from imgflow.runtimes.local.metrics import FAILED, PROCESSED, PROCESSING_SECONDS

    PROCESSING_SECONDS.observe(seconds)
    if outcome.kind == "done":
        PROCESSED.inc()
    elif outcome.kind == "failed":
        FAILED.labels(outcome.reason or "unknown").inc()


def run_worker(settings: Settings) -> None:
    from imgflow.runtimes.local.worker import Worker

    service = worker_service(settings, background=True)
    queue = open_queue(settings)
    worker = Worker(
        service,
        queue,
        lease_seconds=float(settings.lease_seconds),
        max_attempts=settings.max_attempts,
        hold_after_claim=settings.test_hold_after_claim,
        on_outcome=_record_metrics,
    )
    worker.install_signals()
    try:
        worker.run()
    finally:
        queue.close()


def run_reconcile(settings: Settings) -> ReconcileReport:
    service = worker_service(settings)
    return service.reconcile()
