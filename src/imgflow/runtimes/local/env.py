"""Process environment for the local runtime: set before heavy imports.

``PROMETHEUS_MULTIPROC_DIR`` must be set before :mod:`prometheus_client` is
imported, and ``VIPS_CONCURRENCY`` before libvips loads,
so the entry points call these first and import the rest afterwards.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

METRICS_DIRNAME = "prometheus"

#: one libvips thread per worker process. The allocator is not set here: the engine's lockdown
#: sets it for image work (:mod:`imgflow.processing.heap`: one arena, big blocks reused from the
#: heap instead of mapped and faulted in afresh by every job) and an idle worker gives the heap
#: back; glibc's own variables in the operator's environment still win over that
WORKER_ENV = {
    "VIPS_CONCURRENCY": "1",
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
