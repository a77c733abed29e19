"""The sweep: a message acknowledged or dead-lettered never comes back by itself."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from imgflow.errors import ConfigError, Conflict, ImgflowError, NotFound
from imgflow.ports import Expect
from imgflow.records import ImageRecord
from imgflow.service.process import failure_changes
from imgflow.service.types import ReconcileReport

if TYPE_CHECKING:
    from imgflow.service.core import ImageService

log = logging.getLogger("imgflow.service")


def reconcile(svc: ImageService, *, limit: int) -> ReconcileReport:
    """Re-drive expired leases and queued or uploaded-but-unannounced records; expire abandoned uploads.

    Re-driving runs the record through :meth:`ImageService.handle_object_created`, so the
    service needs its processor. ``stale()`` answers the least recently updated records first,
    ``limit`` at most: a record this sweep could not settle is touched (a conditional write of
    nothing, which moves ``updated_at``) so that it goes to the back of the line instead of
    filling every later sweep's page.
    """
    if svc.processor is None:
        raise ConfigError("reconcile re-drives images: build the service with its processor")
    now = svc.clock()
    report = ReconcileReport()
    for record in svc.catalog.stale(now, older_than=now - svc.config.reconcile_grace_seconds, limit=limit):
        settled = False
        try:
            settled = _one(svc, record, now, report)
        except Exception:
            log.exception("reconcile could not handle a record", extra={"image_id": record.image_id})
        if not settled:
            _touch(svc, record)
    return report


def _touch(svc: ImageService, record: ImageRecord) -> None:
    """Nothing changes but ``updated_at`` and ``version``, and only if nobody else wrote meanwhile."""
    try:
        svc.catalog.transition(record.image_id, Expect(states={record.status}, version=record.version), {})
    except ImgflowError:
        return


def _exists(svc: ImageService, key: str) -> bool:
    try:
        svc.originals.head(key)
    except NotFound:
        return False
    return True


def _one(svc: ImageService, record: ImageRecord, now: float, report: ReconcileReport) -> bool:
    """True when the record was written (settled, or moved on); False when it may be unchanged."""
    if record.status in ("awaiting_upload", "queued") and not _exists(svc, record.key):
        if record.status == "queued":
            return _give_up(svc, record, "object_missing", "the original is gone", report.failed)
        if _abandoned(svc, record, now):
            return _give_up(svc, record, "upload_expired", "the upload never arrived", report.expired)
        return False
    if record.status not in ("awaiting_upload", "queued", "processing"):
        return True
    outcome = svc.handle_object_created(record.key)
    if outcome.kind == "done":
        report.redriven.append(record.image_id)
    elif outcome.kind == "failed":
        report.failed.append(record.image_id)
    return outcome.kind in ("done", "failed")


def _abandoned(svc: ImageService, record: ImageRecord, now: float) -> bool:
    """The presigned URL has expired (plus grace for a late landing), or the record's TTL passed."""
    url_dead = record.created_at + svc.config.upload_url_ttl + svc.config.reconcile_grace_seconds < now
    return url_dead or (record.expires_at is not None and record.expires_at <= now)


def _give_up(svc: ImageService, record: ImageRecord, code: str, message: str, into: list[str]) -> bool:
    changes = failure_changes(code, message)
    if code == "upload_expired":
        # Keep the TTL: the catalog drops abandoned uploads by itself.
        changes["expires_at"] = record.expires_at
    try:
        svc.catalog.transition(record.image_id, Expect(states={record.status}, version=record.version), changes)
    except Conflict:
        return True  # someone else wrote it
    into.append(record.image_id)
    return True
