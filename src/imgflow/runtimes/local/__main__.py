"""Child processes of ``imgflow serve``: ``python -m imgflow.runtimes.local worker|reconcile|render``.

Settings come from the environment the supervisor passes (``IMGFLOW_DATA_DIR``,
``IMGFLOW_CONFIG``, every other ``IMGFLOW_*``); the environment that libvips and
prometheus-client read at import is set before they are imported.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from imgflow.errors import ImgflowError

if TYPE_CHECKING:
    from imgflow.settings import Settings

log = logging.getLogger("imgflow.worker")


def _purge_expired(settings: Settings) -> int:
    """Remove records past their ``expires_at`` (tombstones, abandoned uploads): DynamoDB's TTL
    does this on AWS; locally the sweep does, after the service's own reconcile."""
    from imgflow.adapters.sqlite_catalog import SqliteCatalog
    from imgflow.bootstrap import DB_FILE

    catalog = SqliteCatalog(Path(settings.data_dir) / DB_FILE)
    try:
        return catalog.purge_expired(time.time())
    finally:
        catalog.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    verb = args[0] if args else "worker"
    if verb not in ("worker", "reconcile", "render"):
        print(f"usage: python -m imgflow.runtimes.local worker|reconcile|render (got {verb!r})", file=sys.stderr)
        return 2
    from imgflow.runtimes.local.env import WORKER_ENV, prepare_metrics_dir
    from imgflow.runtimes.local.logs import setup_logging
    from imgflow.settings import load_settings

    for key, value in WORKER_ENV.items():
        os.environ.setdefault(key, value)
    setup_logging(f"imgflow-{verb}")
    try:
        settings = load_settings()
    except ImgflowError as exc:
        log.error("bad settings", extra={"code": exc.code, "error": exc.message})
        return 2
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        prepare_metrics_dir(Path(settings.data_dir), clean=False)
    from imgflow.runtimes.local.lifeline import die_with_parent, memory_backstop

    die_with_parent(grace=settings.job_timeout_seconds + 5.0)
    memory_backstop(settings.worker_memory_limit_mb * 2**20)

    from imgflow.runtimes.local import wiring

    if verb == "reconcile":
        report = wiring.run_reconcile(settings)
        purged = _purge_expired(settings)
        log.info(
            "reconcile sweep",
            extra={
                "redriven": len(report.redriven),
                "failed": len(report.failed),
                "expired": len(report.expired),
                "events_published": len(report.published),
                "purged": purged,
            },
        )
        return 0
    if verb == "render":
        wiring.run_render(settings)
        return 0
    wiring.run_worker(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
