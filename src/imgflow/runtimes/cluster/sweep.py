"""``imgflow sweep`` on the cluster backend: reconcile, abandoned uploads, the outbox.

Safe on several hosts at once: a sweep runs under a transaction-level advisory lock
(``pg_try_advisory_xact_lock``), so one host sweeps while the others skip that round, and a
sweeper that dies frees the lock with its connection. Records are requeued, never processed
here (no image engine in this process): an ``awaiting_upload`` whose file is in the store is
queued (the path that always works, with or without the store's notifications), a dead lease
or a lost job goes back to the queue.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from imgflow.adapters.pg_db import SWEEP_LOCK
from imgflow.bootstrap import build_service
from imgflow.bootstrap_cluster import check_schema
from imgflow.errors import ImgflowError
from imgflow.records import ImageRecord
from imgflow.runtimes.local.logs import setup_logging
from imgflow.service import ImageService, ReconcileReport
from imgflow.settings import Settings

log = logging.getLogger("imgflow.sweep")


def requeue_for(service: ImageService) -> Callable[[ImageRecord], None]:
    from imgflow.adapters.pg_catalog import PgCatalog

    catalog = service.catalog
    assert isinstance(catalog, PgCatalog)

    def requeue(record: ImageRecord) -> None:
        if record.status == "awaiting_upload":
            service.upload_completed(record.key)  # queued, its job in the same transaction
        else:
            catalog.redrive(record)

    return requeue


def sweep_once(service: ImageService, *, limit: int = 500) -> tuple[ReconcileReport, int] | None:
    """One sweep, or None when another host holds the sweep's lock."""
    from imgflow.adapters.pg_catalog import PgCatalog

    catalog = service.catalog
    assert isinstance(catalog, PgCatalog)
    requeue = requeue_for(service)
    with catalog.db.transaction() as conn:
        row = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (SWEEP_LOCK,)).fetchone()
        if not row or not row[0]:
            return None
        report = service.reconcile(limit=limit, requeue=requeue)
        purged = catalog.purge_expired(time.time())
    return report, purged


def _log(report: ReconcileReport, purged: int) -> None:
    log.info(
        "reconcile sweep",
        extra={"requeued": len(report.requeued), "failed": len(report.failed), "expired": len(report.expired),
               "events_published": len(report.published), "purged": purged},
    )  # fmt: skip


def run_sweep(settings: Settings, *, once: bool, interval: float | None = None) -> int:
    check_schema(settings)
    setup_logging("imgflow-sweep")
    service = build_service(settings, with_processor=False)
    every = float(interval if interval is not None else settings.reconcile_interval_seconds)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    while True:
        try:
            done = sweep_once(service)
        except ImgflowError as exc:  # the database away: try again next round
            if once:
                raise
            log.warning("sweep failed; trying again next round", extra={"code": exc.code, "error": exc.message})
            done = None
        if done is None:
            log.info("another host is sweeping; skipped this round")
        else:
            _log(*done)
        if once or stop.wait(every):
            return 0
