"""Bare processing for the pipeline figures: ``process_image`` with the default recipe in N worker
processes with the local workers' environment (one libvips thread, the same malloc settings), the
images handed out one at a time as they finish: the pipeline's work without the pipeline."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

_STATE: dict[str, Any] = {}


def _init() -> None:
    from imgflow.processing import process_image
    from imgflow.recipes import Limits, default_recipe

    _STATE.update(process=process_image, recipe=default_recipe(), limits=Limits(threads=1))


def _one(path: str) -> tuple[float, float]:
    """Wall and CPU seconds of one image in this process."""
    started, cpu = time.perf_counter(), time.process_time()
    _STATE["process"](Path(path).read_bytes(), _STATE["recipe"], _STATE["limits"])
    return time.perf_counter() - started, time.process_time() - cpu


def run(paths: list[Path], processes: int, warm: Path) -> dict[str, float]:
    """Images per second over ``paths`` in ``processes`` processes, each warmed on ``warm`` first;
    the CPU they spent, and the cores the rest of the machine kept busy meanwhile."""
    from bench.localserver import machine_busy_s
    from imgflow.runtimes.local.env import WORKER_ENV

    saved = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(WORKER_ENV)  # inherited by the spawned processes, read before libvips loads
    try:
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes, initializer=_init) as pool:
            pool.map(_one, [str(warm)] * (processes * 2), chunksize=1)
            started, busy = time.perf_counter(), machine_busy_s()
            spent = list(pool.imap_unordered(_one, [str(p) for p in paths], chunksize=1))
            wall = time.perf_counter() - started
            busy = machine_busy_s() - busy
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    cpu = sum(c for _, c in spent)
    return {
        "images": len(paths),
        "seconds": wall,
        "per_s": len(paths) / wall,
        "cpu_s": cpu,
        "cpu_ms_per_image": 1000 * cpu / len(paths),
        "others_cores": max(0.0, busy - cpu) / wall,
    }
