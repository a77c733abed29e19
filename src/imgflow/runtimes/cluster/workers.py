"""``imgflow worker`` on the cluster backend: ``--concurrency N`` worker processes on this host.

The parent is the local runtime's supervisor: it restarts a crashed worker, kills one past
``job_timeout_seconds`` or ``worker_memory_limit_mb`` and hands back what a dead one held at
once. Its guard looks only at this host's workers (``worker-<pid>@<host>``): another host's
jobs come back when their lease runs out. SIGTERM (or Ctrl+C): each worker finishes its job in
hand, then exits; a second one kills them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from imgflow.bootstrap import build_service
from imgflow.bootstrap_cluster import check_schema, open_queue
from imgflow.runtimes.local.env import prepare_metrics_dir, worker_env
from imgflow.runtimes.local.logs import setup_logging
from imgflow.service import ImageService
from imgflow.settings import Settings

log = logging.getLogger("imgflow.worker")


def host_name() -> str:
    """This host's name in the queue's ``worker_id`` (a pod's name on Kubernetes)."""
    return socket.gethostname()


def worker_command() -> list[str]:
    return [sys.executable, "-m", "imgflow.runtimes.cluster", "worker"]


def worker_service(settings: Settings) -> ImageService:
    from imgflow.adapters.webhook import Background
    from imgflow.runtimes.local.wiring import count_unpublished

    runner = Background() if settings.webhook_url else None
    return build_service(settings, with_processor=True, on_publish_error=count_unpublished, background=runner)


def run_worker(settings: Settings) -> None:
    """One worker process: claim, process, finish, until SIGTERM."""
    from imgflow.adapters.pg_catalog import PgCatalog
    from imgflow.runtimes.local.guard import worker_name
    from imgflow.runtimes.local.wiring import run_jobs

    service = worker_service(settings)
    assert isinstance(service.catalog, PgCatalog)
    run_jobs(settings, service, open_queue(settings, service.catalog.db), name=worker_name(os.getpid(), host_name()))


def run_workers(settings: Settings, concurrency: int, *, announce: bool = True) -> int:
    """The parent: start ``concurrency`` workers, keep them running until SIGTERM/SIGINT."""
    from imgflow.runtimes.local.guard import JobGuard

    check_schema(settings)
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    prepare_metrics_dir(data_dir, clean=False)
    setup_logging("imgflow-worker")
    from imgflow.runtimes.local import metrics
    from imgflow.runtimes.local.supervisor import Supervisor

    service = build_service(settings, with_processor=False)
    queue = open_queue(settings)
    host = host_name()
    guard = JobGuard(
        service,
        queue,
        job_timeout=settings.job_timeout_seconds,
        memory_limit_bytes=settings.worker_memory_limit_mb * 2**20,
        host=host,
    )
    released = guard.release_orphans()
    if released:
        log.info("released the jobs of this host's earlier workers", extra={"jobs_released": released})
    supervisor = Supervisor(
        concurrency, worker_command(), worker_env(data_dir, settings.config_file),
        on_exit=metrics.process_exited, guard=guard,
    )  # fmt: skip
    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        signals.append(signum)
        if len(signals) > 1:
            supervisor.kill_now()
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    supervisor.start()
    log.info("workers running", extra={"role": "worker", "workers": concurrency, "host": host})
    if announce:
        print(f"imgflow: {concurrency} workers on {host} (cluster backend); Ctrl+C stops them", flush=True)
    stop.wait()
    log.info("workers stopping: each finishes the job in hand")
    supervisor.stop(settings.job_timeout_seconds + 10.0)
    queue.close()
    return 0
