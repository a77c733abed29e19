"""``imgflow serve --role api`` on the cluster backend: the API and the page, no workers.

Each API process builds its own app (its own PostgreSQL pool); ``--processes N`` share one port.
The database away answers 503 with ``Retry-After`` (a StorageError), never 500.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from starlette.types import ASGIApp

from imgflow.bootstrap import build_app, build_service
from imgflow.bootstrap_cluster import check_schema, open_queue
from imgflow.runtimes.local.env import prepare_metrics_dir
from imgflow.runtimes.local.logs import setup_logging
from imgflow.settings import Settings

log = logging.getLogger("imgflow.serve")


def api_app(settings: Settings) -> ASGIApp:
    """One API process's app: the service without its processor, the queue on the catalog's pool."""
    from imgflow.adapters.pg_catalog import PgCatalog
    from imgflow.runtimes.local import metrics
    from imgflow.runtimes.local.app import build_local_app

    service = build_service(settings, with_processor=False)
    assert isinstance(service.catalog, PgCatalog)
    queue = open_queue(settings, service.catalog.db)
    api = build_app(settings, service=service)

    def depth() -> dict[str, int]:
        return {"live": queue.depth(), "dead": len(queue.dead())}

    return build_local_app(
        settings,
        api,
        queue_depth=depth,
        count_upload=lambda path: metrics.UPLOADS.labels(path).inc(),
        render_metrics=metrics.render,
    )


def serve_api(settings: Settings, *, announce: bool = True) -> int:
    from imgflow.runtimes.local.server import bind, check_bind, config_in_use, serve_processes

    check_bind(settings)
    check_schema(settings)  # one line now rather than a 503 on every request
    listening = bind(settings.host, settings.port)
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    prepare_metrics_dir(data_dir, clean=True)
    setup_logging("imgflow-api")
    from imgflow.runtimes.local import metrics

    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{host}:{settings.port}/"
    log.info(
        "serving", extra={"url": url, "role": "api", "processes": settings.processes, "config": config_in_use(settings)}
    )
    if announce:
        print(f"imgflow API on {url} ({settings.processes} processes, cluster backend); Ctrl+C stops it", flush=True)
    return serve_processes(
        partial(api_app, settings),
        listening,
        settings.processes,
        header_timeout_seconds=settings.header_timeout_seconds,
        log_service="imgflow-api",
        on_exit=metrics.process_exited,
    )
