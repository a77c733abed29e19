"""The local runtime's pieces, built from settings through :mod:`imgflow.bootstrap`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from imgflow.adapters.job_queue import JobQueue
from imgflow.bootstrap import DB_FILE, OBJECTS_DIR, build_app, build_service
from imgflow.errors import ConfigError
from imgflow.records import ImageRecord
from imgflow.service import ImageService, Kind, Outcome, ReconcileReport
from imgflow.settings import Settings

if TYPE_CHECKING:
    from imgflow.runtimes.local.guard import JobGuard
    from imgflow.runtimes.local.transform_app import TransformApp

log = logging.getLogger("imgflow.serve")


def _require_local(settings: Settings) -> None:
    if settings.backend != "local":
        raise ConfigError(f"the local runtime needs backend 'local' (got {settings.backend!r})")


def open_queue(settings: Settings) -> JobQueue:
    from imgflow.adapters.sqlite_queue import SqliteJobQueue

    _require_local(settings)
    return SqliteJobQueue(Path(settings.data_dir) / DB_FILE)


def build_server_app(
    settings: Settings,
    *,
    queue: JobQueue,
    count_upload: Callable[[str], None],
    render_pids: Callable[[], list[int]] | None = None,
) -> ASGIApp:
    """The API (no image engine in this process) plus the web page, ``/metrics`` and, with
    ``render_pids`` (the live render processes), the on-demand ``/t/`` URLs."""
    from imgflow.runtimes.local.app import build_local_app
    from imgflow.runtimes.local.metrics import render

    _require_local(settings)
    service = build_service(settings, with_processor=False)
    api = build_app(settings, service=service)
    transforms = build_transforms(settings, service, render_pids) if render_pids is not None else None

    def depth() -> dict[str, int]:
        return {"live": queue.depth(), "dead": len(queue.dead())}

    return build_local_app(
        settings, api, queue_depth=depth, count_upload=count_upload, render_metrics=render, transforms=transforms
    )


def build_transforms(
    settings: Settings, service: ImageService, render_pids: Callable[[], list[int]]
) -> TransformApp | None:
    from imgflow.bootstrap_ondemand import transform_signer
    from imgflow.runtimes.local.metrics import ondemand_outcome
    from imgflow.runtimes.local.render_cache import CACHE_DIRNAME, RenderCache
    from imgflow.runtimes.local.render_pool import RenderPool
    from imgflow.runtimes.local.transform_app import TransformApp

    od = settings.ondemand
    if not od.enabled:
        return None
    data_dir = Path(settings.data_dir).resolve()
    pool = RenderPool(render_pids, data_dir, queue=od.render_queue, timeout=od.render_timeout_seconds)
    return TransformApp(
        settings=od,
        catalog=service.catalog,
        recipes=settings.recipes,
        signer=transform_signer(settings),
        cache=RenderCache(data_dir / CACHE_DIRNAME, od.cache_max_bytes),
        renderer=pool,
        record=ondemand_outcome,
    )


def job_guard(settings: Settings, queue: JobQueue) -> JobGuard:
    """The supervisor's side of crash recovery (see :mod:`imgflow.runtimes.local.guard`). Call it
    before any worker starts: it clears the temporary files killed writers left behind and gives
    back the jobs that workers of an earlier run (gone now) still held."""
    from imgflow.adapters.fs_store import clear_temp
    from imgflow.runtimes.local.guard import JobGuard

    data_dir = Path(settings.data_dir)
    cleared = clear_temp(data_dir / OBJECTS_DIR)
    for stale in data_dir.glob(".signing-*"):  # a signing key being written when its process was killed
        stale.unlink(missing_ok=True)
        cleared += 1
    guard = JobGuard(
        build_service(settings, with_processor=False),
        queue,
        job_timeout=settings.job_timeout_seconds,
        memory_limit_bytes=settings.worker_memory_limit_mb * 2**20,
    )
    released = guard.release_orphans()
    if cleared or released:
        log.info("cleared after an earlier run", extra={"temp_files": cleared, "jobs_released": released})
    return guard


def count_unpublished(record: ImageRecord) -> None:
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
    return build_service(settings, with_processor=True, on_publish_error=count_unpublished, background=runner)


def record_metrics(outcome: Outcome, seconds: float) -> None:
    from imgflow.runtimes.local.metrics import FAILED, PROCESSED, PROCESSING_SECONDS

    PROCESSING_SECONDS.observe(seconds)
    if outcome.kind == Kind.DONE:
        PROCESSED.inc()
    elif outcome.kind == Kind.FAILED:
        FAILED.labels(outcome.reason or "unknown").inc()


def run_worker(settings: Settings) -> None:
    run_jobs(settings, worker_service(settings, background=True), open_queue(settings))


def run_jobs(settings: Settings, service: ImageService, queue: JobQueue, *, name: str | None = None) -> None:
    """One worker process's loop on ``queue`` until SIGTERM (the local and the cluster runtime's)."""
    from imgflow.runtimes.local.worker import Worker

    worker = Worker(
        service,
        queue,
        lease_seconds=float(settings.lease_seconds),
        job_timeout=settings.job_timeout_seconds,
        name=name,
        on_outcome=record_metrics,
    )
    worker.install_signals()
    try:
        worker.run()
    finally:
        queue.close()


def run_render(settings: Settings) -> None:
    from imgflow.runtimes.local.render_proc import run_renderer

    if settings.backend != "cluster":  # the cluster's API role runs render processes too (its buckets)
        _require_local(settings)
    run_renderer(settings)


def run_reconcile(settings: Settings) -> ReconcileReport:
    service = worker_service(settings)
    return service.reconcile()
