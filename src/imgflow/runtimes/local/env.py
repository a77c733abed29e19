"""Process environment for the local runtime: set before heavy imports.

``PROMETHEUS_MULTIPROC_DIR`` must be set before :mod:`prometheus_client` is
imported, and ``VIPS_CONCURRENCY`` / ``MALLOC_ARENA_MAX`` before libvips loads,
so the entry points call these first and import the rest afterwards.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

METRICS_DIRNAME = "prometheus"

#: one libvips thread per worker process; glibc arenas capped, and blocks >= 1 MiB (image buffers)
#: mmapped and returned on free, so a long-lived worker does not keep its largest job's heap
#: (after a few 20 MP jobs ~67 instead of ~156 MiB resident, for ~3-8% more time per job)
WORKER_ENV = {
    "VIPS_CONCURRENCY": "1",
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_MMAP_THRESHOLD_": "1048576",
    "MALLOC_TRIM_THRESHOLD_": "1048576",
}


def metrics_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / METRICS_DIRNAME


def prepare_metrics_dir(data_dir: Path, *, clean: bool) -> Path:
    """Point prometheus-client's multiprocess mode at ``data_dir/prometheus`` (emptied when ``clean``)."""
    path = metrics_dir(data_dir)
    if clean and path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def worker_env(data_dir: Path, config_file: str | None) -> dict[str, str]:
    """The environment a worker child starts with: ours, plus the worker knobs and where the data is."""
    env = dict(os.environ)
    env.update(WORKER_ENV)
    env["IMGFLOW_DATA_DIR"] = str(data_dir.resolve())
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir(data_dir))
    if config_file:
        env["IMGFLOW_CONFIG"] = str(Path(config_file).resolve())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
