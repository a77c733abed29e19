"""The local runtime's pieces, built from settings through :mod:`imgflow.bootstrap`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from imgflow.adapters.sqlite_queue import SqliteJobQueue
from imgflow.bootstrap import DB_FILE, build_app, build_service
from imgflow.errors import ConfigError
from imgflow.service.core import ImageService, Outcome, ReconcileReport
from imgflow.settings import Settings

if TYPE_CHECKING:
    from imgflow.runtimes.local.transform_app import TransformApp


def _require_local(settings: Settings) -> None:
    if settings.backend != "local":
        raise ConfigError(f"the local runtime needs backend 'local' (got {settings.backend!r})")


def open_queue(settings: Settings) -> SqliteJobQueue:
    _require_local(settings)
    return SqliteJobQueue(Path(settings.data_dir) / DB_FILE)


def build_server_app(
    settings: Settings,
    *,
    queue: SqliteJobQueue,
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
    from imgflow.bootstrap import transform_signer
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


def worker_service(settings: Settings) -> ImageService:
    _require_local(settings)
    return build_service(settings, with_processor=True)


def _record_metrics(outcome: Outcome, seconds: float) -> None:
    from imgflow.runtimes.local.metrics import FAILED, PROCESSED, PROCESSING_SECONDS

    PROCESSING_SECONDS.observe(seconds)
    if outcome.kind == "done":
        PROCESSED.inc()
    elif outcome.kind == "failed":
        FAILED.labels(outcome.reason or "unknown").inc()


def run_worker(settings: Settings) -> None:
    from imgflow.runtimes.local.worker import Worker

    service = worker_service(settings)
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


def run_render(settings: Settings) -> None:
    from imgflow.runtimes.local.render_proc import run_renderer

    _require_local(settings)
    run_renderer(settings)


def run_reconcile(settings: Settings) -> ReconcileReport:
    service = worker_service(settings)
    return service.reconcile()
