"""``imgflow serve``: uvicorn on the local ASGI app, supervised workers, the reconcile timer.

SIGINT/SIGTERM: uvicorn stops accepting and finishes in-flight requests, then the
workers are asked to stop (each finishes or releases its job) and we exit 0. A second
signal while waiting kills the workers at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from imgflow.runtimes.local.env import prepare_metrics_dir, worker_env
from imgflow.runtimes.local.listen import bind, check_bind
from imgflow.runtimes.local.logs import setup_logging
from imgflow.settings import Settings

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

    from imgflow.runtimes.local.api_processes import ProcessGroup
    from imgflow.runtimes.local.supervisor import Supervisor

log = logging.getLogger("imgflow.serve")

#: how long stopping workers may take to finish the job in hand
STOP_GRACE_SECONDS = 30.0
#: one header section at most (h11's own default, said out loud)
MAX_HEADER_BYTES = 16 * 1024


def hurry(*supervisors: Supervisor) -> Callable[[int], None]:
    """``serve_processes``' ``on_signal``: the first stop signal lets children finish their work
    (the supervisors' stop does that); a second one kills them at once."""
    signals: list[int] = []

    def on_signal(signum: int) -> None:
        signals.append(signum)
        if len(signals) > 1:
            for supervisor in supervisors:
                supervisor.kill_now()

    return on_signal


def config_in_use(settings: Settings) -> str:
    """What the start-up log says of the settings' source: the config file, or that there is none."""
    if settings.config_file:
        return str(Path(settings.config_file).resolve())
    return "no config file (defaults and IMGFLOW_* variables; --config FILE or IMGFLOW_CONFIG names one)"


def worker_count(requested: int | None) -> int:
    if requested:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def module_command(verb: str) -> list[str]:
    return [sys.executable, "-m", "imgflow.runtimes.local", verb]


def uvicorn_config(app: ASGIApp, *, header_timeout_seconds: float = 20.0) -> uvicorn.Config:
    """uvicorn's settings for every API process: the header deadline, one header section at most
    16 KiB, 5 s keep-alive, no access log or server header, 10 s to finish requests on stop."""
    import uvicorn

    from imgflow.runtimes.local.protocol import header_deadline_protocol

    return uvicorn.Config(
        app,
        http=header_deadline_protocol(header_timeout_seconds),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=5,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )


def serve_processes(
    app_factory: Callable[[], ASGIApp],
    listening: socket.socket | tuple[str, int],
    processes: int = 1,
    *,
    header_timeout_seconds: float = 20.0,
    log_service: str = "imgflow-serve",
    on_signal: Callable[[int], None] | None = None,
    on_exit: Callable[[int], None] | None = None,
) -> int:
    """Serve ``app_factory()``'s app on one listening socket (or ``(host, port)``, bound here) from
    ``processes`` processes; returns 0 once stopped, 1 if the server never started.

    One process: uvicorn in this one. More: that many children (see :mod:`.api_processes`), each
    building its own app, so ``app_factory`` must be picklable (a module-level function, or a
    ``functools.partial`` of one with picklable arguments such as the settings) and must open its
    own connections. SIGINT/SIGTERM stop the server (requests in flight are finished, 10 s at most);
    each such signal is also passed to ``on_signal``, during serving and after this returns (a
    caller stops its workers there, and kills them on a second one). ``on_exit(pid)`` is told of
    every API child that ended (prometheus-client's ``mark_process_dead``)."""
    from imgflow.runtimes.local.api_processes import ProcessGroup, ReadyServer

    sock = listening if isinstance(listening, socket.socket) else bind(*listening)
    make_config = partial(uvicorn_config, header_timeout_seconds=header_timeout_seconds)
    if processes <= 1:
        server = ReadyServer(make_config(app_factory()))
        _forward_signals(None, on_signal)  # uvicorn re-raises the signal it caught once it has shut down
        server.run(sockets=[sock])
        return 0 if server.started else 1
    group = ProcessGroup(app_factory, make_config, sock, processes, log_service=log_service, on_exit=on_exit)
    _forward_signals(group, on_signal)
    return group.run()


def _forward_signals(group: ProcessGroup | None, on_signal: Callable[[int], None] | None) -> None:
    def handler(signum: int, frame: object) -> None:
        if group is not None:
            group.signal(signum)
        if on_signal is not None:
            on_signal(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def local_api_app(settings: Settings) -> ASGIApp:
    """The local server's app, built in the process that serves it (its own SQLite connection).
    Render processes are found by their sockets: an API process may not be their parent."""
    from imgflow.runtimes.local import metrics
    from imgflow.runtimes.local.render_proc import live_render_pids
    from imgflow.runtimes.local.wiring import build_server_app, open_queue

    data_dir = Path(settings.data_dir).resolve()
    return build_server_app(
        settings,
        queue=open_queue(settings),
        count_upload=lambda path: metrics.UPLOADS.labels(path).inc(),
        render_pids=partial(live_render_pids, data_dir) if settings.ondemand.enabled else None,
    )


def serve(settings: Settings, *, announce: bool = True) -> int:
    check_bind(settings)
    listening = bind(settings.host, settings.port)
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    prepare_metrics_dir(data_dir, clean=True)
    setup_logging("imgflow-serve")

    # After PROMETHEUS_MULTIPROC_DIR is set: prometheus-client reads it at import.
    from imgflow.runtimes.local import metrics
    from imgflow.runtimes.local.supervisor import Supervisor
    from imgflow.runtimes.local.wiring import job_guard, open_queue

    queue = open_queue(settings)
    guard = job_guard(settings, queue)
    env = worker_env(data_dir, settings.config_file)
    env["IMGFLOW_PUBLIC_BASE_URL"] = settings.public_base_url
    count = worker_count(settings.workers)
    processes = settings.processes
    # on-demand renders run in processes of their own (the server never imports the image engine)
    renderers = Supervisor(
        settings.ondemand.renderers, module_command("render"), env, on_exit=metrics.process_exited, kind="renderer"
    )
    # The sweep runs in a child process with the worker's environment: it may process images,
    # and the server keeps the image engine out of its memory.
    supervisor = Supervisor(
        count,
        module_command("worker"),
        env,
        reconcile=module_command("reconcile"),
        reconcile_interval=float(settings.reconcile_interval_seconds),
        on_exit=metrics.process_exited,
        guard=guard,
    )
    on_signal = hurry(supervisor, renderers)
    supervisor.start()
    if settings.ondemand.enabled:
        renderers.start()
    url = f"http://{settings.host if ':' not in settings.host else f'[{settings.host}]'}:{settings.port}/"
    config = config_in_use(settings)
    log.info(
        "serving",
        extra={"url": url, "workers": count, "processes": processes, "data_dir": str(data_dir), "config": config},
    )
    if announce:
        api = f", {processes} API processes" if processes > 1 else ""
        print(f"imgflow is serving on {url} ({count} workers{api}, data in {data_dir}); Ctrl+C stops it", flush=True)
        print(f"settings: {config}", flush=True)
    try:
        code = serve_processes(
            partial(local_api_app, settings),
            listening,
            processes,
            header_timeout_seconds=settings.header_timeout_seconds,
            on_signal=on_signal,
            on_exit=metrics.process_exited,
        )
    finally:
        renderers.stop(STOP_GRACE_SECONDS)
        supervisor.stop(STOP_GRACE_SECONDS)
        queue.close()
    if code:
        log.error("the server did not start (is the port in use?)", extra={"port": settings.port})
        return code
    log.info("stopped")
    return 0
