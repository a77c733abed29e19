"""The processor's core: one ObjectCreated event, handled at least once, in any order."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from imgflow.errors import ConfigError, Conflict, ImgflowError, NotFound
from imgflow.ports import Expect, ObjectInfo
from imgflow.records import ImageRecord, Status
from imgflow.service.backfill import current_digest
from imgflow.service.keys import image_id_from_key
from imgflow.service.process import drop_renditions, failure_changes, process_claimed, unreadable_message
from imgflow.service.types import Outcome

if TYPE_CHECKING:
    from imgflow.service.core import ImageService

log = logging.getLogger("imgflow.service")

CLAIMABLE: frozenset[Status] = frozenset({"awaiting_upload", "queued"})
FINISHED: frozenset[Status] = frozenset({"done", "failed"})
_CLAIM_TRIES = 3


def handle_object_created(svc: ImageService, key: str, *, lease_token: str | None = None) -> Outcome:
    image_id = image_id_from_key(key)
    if image_id is None:
        return Outcome("ignored", reason="not_an_original")
    if svc.processor is None:
        raise ConfigError("this service was built without a processor (build_service(with_processor=True))")
    try:
        return _handle(svc, image_id, key, lease_token or uuid.uuid4().hex)
    except ImgflowError as exc:
        log.warning("event not handled; redeliver", extra={"image_id": image_id, "code": exc.code})
        return Outcome("retry_later", image_id, reason=exc.code)
    except Exception:
        # The worker survives everything: a bug here must not drop the event.
        log.exception("unexpected error handling an event; redeliver", extra={"image_id": image_id})
        return Outcome("retry_later", image_id, reason="internal_error")


def _handle(svc: ImageService, image_id: str, key: str, token: str) -> Outcome:
    for _ in range(_CLAIM_TRIES):
        try:
            record: ImageRecord | None = svc.catalog.get(image_id)
        except NotFound:
            record = None
        if record is not None and record.status == "deleted":
            # An upload that landed after its DELETE: neither resurrected nor left behind. Best
            # effort: a tombstone never asks for redelivery (the reconcile sweep or the TTL remain).
            try:
                svc.originals.delete(key)
            except ImgflowError as exc:
                log.warning("could not delete a late original", extra={"image_id": image_id, "code": exc.code})
            drop_renditions(svc, image_id)
            return Outcome("ignored", image_id, reason="deleted", record=record)
        try:
            head = svc.originals.head(key)
        except NotFound:
            outcome = _missing(svc, record)
            if outcome is None:
                continue
            return outcome
        except ImgflowError as exc:
            if exc.retryable:
                raise
            outcome = _unreadable(svc, image_id, record, exc)
            if outcome is None:
                continue
            return outcome
        if record is None:
            record = _adopt(svc, image_id, head)
        outcome = _claim_and_process(svc, record, head, token)
        if outcome is not None:
            return outcome
    return Outcome("retry_later", image_id, reason="contended")


def _missing(svc: ImageService, record: ImageRecord | None) -> Outcome | None:
    """No original. A record that should have one and that nobody works on (``queued``, or
    ``processing`` past its lease: a worker died) ends ``failed``; others wait (an upload not yet
    landed, a live lease). None: the record changed under us; read it again."""
    now = svc.clock()
    if record is None:
        return Outcome("ignored", reason="object_missing")
    lease_dead = record.status == "processing" and (record.lease_expires_at or 0.0) < now
    if record.status != "queued" and not lease_dead:
        return Outcome("ignored", record.image_id, reason="object_missing", record=record)
    expect = Expect(states={"queued"}, lease_expired_before=now, version=record.version)
    changes = failure_changes("object_missing", "the original is gone")
    try:
        failed = svc.catalog.transition(record.image_id, expect, changes)
    except Conflict:
        return None
    drop_renditions(svc, record.image_id, below=record.generation + 1)
    return Outcome("failed", record.image_id, reason="object_missing", record=failed)


def _unreadable(svc: ImageService, image_id: str, record: ImageRecord | None, exc: ImgflowError) -> Outcome | None:
    """The HEAD failed for a reason a retry cannot fix (``storage_forbidden``). A record nobody
    works on ends ``failed`` with the error's code; a finished record or a live lease is left
    alone. None: the record changed under us; read it again."""
    log.warning("the original cannot be read", extra={"image_id": image_id, "code": exc.code})
    now = svc.clock()
    if record is None or record.status in FINISHED:
        return Outcome("ignored", image_id, reason=exc.code, record=record)
    if record.status == "processing" and (record.lease_expires_at or 0.0) >= now:
        return Outcome("retry_later", image_id, reason="lease_held", record=record)
    expect = Expect(states=CLAIMABLE, lease_expired_before=now, version=record.version)
    try:
        failed = svc.catalog.transition(image_id, expect, failure_changes(exc.code, unreadable_message(exc.code)))
    except Conflict:
        return None
    drop_renditions(svc, image_id, below=record.generation + 1)
    return Outcome("failed", image_id, reason=exc.code, record=failed)


def _adopt(svc: ImageService, image_id: str, head: ObjectInfo) -> ImageRecord:
    """An object put into originals/ without a record (an operator's copy): give it one."""
    now = svc.clock()
    record = ImageRecord(
        image_id=image_id,
        owner="system",
        status="queued",
        created_at=now,
        updated_at=now,
        size=head.size,
        etag=head.etag,
        generation=1,
        recipe=svc.config.default_recipe,
    )
    try:
        return svc.catalog.create(record)
    except Conflict:
        return svc.catalog.get(image_id)


def _claim_and_process(svc: ImageService, record: ImageRecord, head: ObjectInfo, token: str) -> Outcome | None:
    """None: the record changed under us; read it again."""
    now = svc.clock()
    image_id = record.image_id
    new_object = record.status in FINISHED and record.etag != head.etag
    if record.status in FINISHED and not new_object:
        return Outcome("unchanged", image_id, reason=f"already_{record.status}", record=record)
    lease_live = record.status == "processing" and (record.lease_expires_at or 0.0) >= now
    if lease_live:
        return Outcome("retry_later", image_id, reason="lease_held", record=record)
    expect = Expect(
        states=CLAIMABLE | FINISHED if new_object else CLAIMABLE, lease_expired_before=now, version=record.version
    )
    if not new_object and record.attempts >= svc.config.max_attempts:
        message = f"gave up after {record.attempts} attempts"
        try:
            failed = svc.catalog.transition(image_id, expect, failure_changes("too_many_attempts", message))
        except Conflict:
            return None
        drop_renditions(svc, image_id, below=record.generation + 1)
        return Outcome("failed", image_id, reason="too_many_attempts", record=failed)
    changes: dict[str, Any] = {
        "status": "processing",
        "attempts": 1 if new_object else record.attempts + 1,
        "generation": record.generation + 1 if new_object else max(record.generation, 1),
        "lease_token": token,
        "lease_expires_at": now + svc.config.lease_seconds,
        "etag": head.etag,
        "size": head.size,
        "error": None,
        "expires_at": None,
        # the recipe this generation is made with, for a later backfill to compare against
        "recipe_digest": current_digest(svc.config, record.recipe),
    }
    if new_object:
        # What the uploader declared bound the first upload only: a replaced original (an operator's
        # copy, a second upload on a still-valid grant) is a new generation, processed on its own
        # facts (the accepted formats and the limits still apply).
        changes["declared_size"] = None
        changes["declared_type"] = None
    try:
        claimed = svc.catalog.transition(image_id, expect, changes)
    except Conflict:
        return None
    return process_claimed(svc, claimed, head, token)
