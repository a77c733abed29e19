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


def _one(path: str) -> float:
    started = time.perf_counter()
    _STATE["process"](Path(path).read_bytes(), _STATE["recipe"], _STATE["limits"])
    return time.perf_counter() - started


def run(paths: list[Path], processes: int, warm: Path) -> dict[str, float]:
    """Images per second over ``paths`` in ``processes`` processes, each warmed on ``warm`` first."""
    from imgflow.runtimes.local.env import WORKER_ENV

    saved = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(WORKER_ENV)  # inherited by the spawned processes, read before libvips loads
    try:
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes, initializer=_init) as pool:
            pool.map(_one, [str(warm)] * (processes * 2), chunksize=1)
            started = time.perf_counter()
            spent = list(pool.imap_unordered(_one, [str(p) for p in paths], chunksize=1))
            wall = time.perf_counter() - started
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {
        "images": len(paths),
        "seconds": wall,
        "per_s": len(paths) / wall,
        "mean_ms": 1000 * sum(spent) / len(spent),
    }
