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
from imgflow.bootstrap_ondemand import ondemand_served
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
    transforms = None
    if ondemand_served(settings):  # /t/ renders from the buckets, cached on this host's data_dir
        from imgflow.runtimes.local.render_proc import live_render_pids
        from imgflow.runtimes.local.wiring import build_transforms

        data_dir = Path(settings.data_dir).resolve()
        transforms = build_transforms(settings, service, partial(live_render_pids, data_dir))

    def depth() -> dict[str, int]:
        return {"live": queue.depth(), "dead": len(queue.dead())}

    return build_local_app(
        settings,
        api,
        queue_depth=depth,
        count_upload=lambda path: metrics.UPLOADS.labels(path).inc(),
        render_metrics=metrics.render,
        transforms=transforms,
    )


def serve_api(settings: Settings, *, announce: bool = True) -> int:
    from imgflow.runtimes.local.listen import bind, check_bind
    from imgflow.runtimes.local.server import STOP_GRACE_SECONDS, config_in_use, hurry, serve_processes

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
    renderers = None
    if ondemand_served(settings):  # render processes of their own: the API never imports the image engine
        from imgflow.runtimes.local.env import worker_env
        from imgflow.runtimes.local.server import module_command
        from imgflow.runtimes.local.supervisor import Supervisor

        env = worker_env(data_dir, settings.config_file)
        renderers = Supervisor(
            settings.ondemand.renderers, module_command("render"), env, on_exit=metrics.process_exited, kind="renderer"
        )
        renderers.start()
    elif settings.ondemand.enabled:
        log.warning(
            "on-demand /t/ URLs are off: the cluster needs ondemand.keys or signing_key, the same on every host"
        )
    if announce:
        print(f"imgflow API on {url} ({settings.processes} processes, cluster backend); Ctrl+C stops it", flush=True)
    try:
        return serve_processes(
            partial(api_app, settings),
            listening,
            settings.processes,
            header_timeout_seconds=settings.header_timeout_seconds,
            log_service="imgflow-api",
            on_exit=metrics.process_exited,
            on_signal=hurry(renderers) if renderers is not None else None,
        )
    finally:
        if renderers is not None:
            renderers.stop(STOP_GRACE_SECONDS)
