"""The cluster's worker child: ``python -m imgflow.runtimes.cluster worker`` (started by ``imgflow worker``).

Settings come from the environment the supervisor passes; libvips' and prometheus-client's
environment is set before either is imported.
"""

from __future__ import annotations

import logging
import os
import sys

from imgflow.errors import ImgflowError

log = logging.getLogger("imgflow.worker")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["worker"]:
        print(f"usage: python -m imgflow.runtimes.cluster worker (got {args!r})", file=sys.stderr)
        return 2
    from imgflow.runtimes.local.env import WORKER_ENV
    from imgflow.runtimes.local.logs import setup_logging
    from imgflow.settings import load_settings

    for key, value in WORKER_ENV.items():
        os.environ.setdefault(key, value)
    setup_logging("imgflow-worker")
    try:
        settings = load_settings()
    except ImgflowError as exc:
        log.error("bad settings", extra={"code": exc.code, "error": exc.message})
        return 2
    from imgflow.runtimes.local.lifeline import die_with_parent, memory_backstop

    die_with_parent(grace=settings.job_timeout_seconds + 5.0)
    memory_backstop(settings.worker_memory_limit_mb * 2**20)
    from imgflow.runtimes.cluster.workers import run_worker

    run_worker(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
