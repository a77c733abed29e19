"""The sweep: a message acknowledged or dead-lettered never comes back by itself."""

from __future__ import annotations

import logging
from collections.abc import Callable

from imgflow.errors import ConfigError, Conflict, ImgflowError, NotFound
from imgflow.ports import Expect
from imgflow.records import ImageRecord, Status
from imgflow.service.deps import Deps
from imgflow.service.events import handle_object_created
from imgflow.service.outbox import republish
from imgflow.service.process import failure_changes
from imgflow.service.types import Kind, Reason, ReconcileReport

log = logging.getLogger("imgflow.service")

Requeue = Callable[[ImageRecord], None]
_REDRIVABLE: frozenset[Status] = frozenset({"awaiting_upload", "queued", "processing"})


def reconcile(svc: Deps, *, limit: int, requeue: Requeue | None = None) -> ReconcileReport:
    """Re-drive expired leases and queued or uploaded-but-unannounced records; expire abandoned uploads.

    Re-driving runs the record through :func:`~imgflow.service.events.handle_object_created`, so the
    service needs its processor; with ``requeue``, it hands the record to ``requeue`` instead
    (a queue's producer: the processors claim it from there) and needs no processor. Records
    whose original is gone fail ``object_missing`` either way (a HEAD is enough).

    ``stale()`` answers the least recently updated records first, ``limit`` at most: a record
    this sweep could not settle, or only requeued, is touched (a conditional write of nothing,
    which moves ``updated_at``) so that it goes to the back of the line instead of filling every
    later sweep's page, and is requeued at most once per grace period.

    Then events still pending (an image ended but its event did not go out) are published again
    (:func:`~imgflow.service.outbox.republish`).
    """
    if requeue is None and svc.processor is None:
        raise ConfigError("reconcile re-drives images: build the service with its processor, or give requeue")
    now = svc.clock()
    report = ReconcileReport()
    for record in svc.catalog.stale(now, older_than=now - svc.config.reconcile_grace_seconds, limit=limit):
        settled = False
        try:
            settled = _one(svc, record, now, report, requeue)
        except Exception:
            log.exception("reconcile could not handle a record", extra={"image_id": record.image_id})
        if not settled:
            _touch(svc, record)
    try:
        report.published.extend(republish(svc, limit=limit))
    except Exception:
        log.exception("could not republish pending events")
    return report


def _touch(svc: Deps, record: ImageRecord) -> None:
    """Nothing changes but ``updated_at`` and ``version``, and only if nobody else wrote meanwhile."""
    try:
        svc.catalog.transition(record.image_id, Expect(states={record.status}, version=record.version), {})
    except ImgflowError:
        return


def _exists(svc: Deps, key: str) -> bool:
    try:
        svc.originals.head(key)
    except NotFound:
        return False
    return True


def _one(svc: Deps, record: ImageRecord, now: float, report: ReconcileReport, requeue: Requeue | None) -> bool:
    """True when the record was written (settled, or moved on); False when it may be unchanged."""
    if record.status not in _REDRIVABLE:
        return True
    # Inline, handle_object_created HEADs a dead lease's original itself.
    if (record.status != "processing" or requeue is not None) and not _exists(svc, record.key):
        if record.status == "awaiting_upload":
            if _abandoned(svc, record, now):
                return _give_up(svc, record, Reason.UPLOAD_EXPIRED, "the upload never arrived", report.expired)
            return False
        return _give_up(svc, record, Reason.OBJECT_MISSING, "the original is gone", report.failed)
    if requeue is not None:
        return _requeue(svc, record, report, requeue)
    outcome = handle_object_created(svc, record.key)
    if outcome.kind == Kind.DONE:
        report.redriven.append(record.image_id)
    elif outcome.kind == Kind.FAILED:
        report.failed.append(record.image_id)
    return outcome.kind in (Kind.DONE, Kind.FAILED)


def _requeue(svc: Deps, record: ImageRecord, report: ReconcileReport, requeue: Requeue) -> bool:
    """Hand the record to the queue without claiming it (no attempt is spent here).

    A dead lease is ``stale()`` whatever its ``updated_at``, so a touch would not keep it from
    being sent again by every sweep: it goes back to ``queued`` first (the processor claims it
    from there as it would claim the dead lease). A send that fails raises: the record is touched
    (or was just written) and a sweep after the grace period tries again."""
    written = False
    if record.status == "processing":
        back = {"status": "queued", "lease_token": None, "lease_expires_at": None}
        try:
            record = svc.catalog.transition(
                record.image_id, Expect(states={"processing"}, version=record.version), back
            )
        except Conflict:
            return True  # someone else wrote it
        written = True
    requeue(record)
    report.requeued.append(record.image_id)
    return written


def _abandoned(svc: Deps, record: ImageRecord, now: float) -> bool:
    """The presigned URL has expired (plus grace for a late landing), or the record's TTL passed."""
    url_dead = record.created_at + svc.config.upload_url_ttl + svc.config.reconcile_grace_seconds < now
    return url_dead or (record.expires_at is not None and record.expires_at <= now)


def _give_up(svc: Deps, record: ImageRecord, code: str, message: str, into: list[str]) -> bool:
    changes = failure_changes(code, message)
    if code == Reason.UPLOAD_EXPIRED:
        # Keep the TTL: the catalog drops abandoned uploads by itself.
        changes["expires_at"] = record.expires_at
    try:
        svc.catalog.transition(record.image_id, Expect(states={record.status}, version=record.version), changes)
    except Conflict:
        return True  # someone else wrote it
    into.append(record.image_id)
    return True
