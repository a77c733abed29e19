"""The processor's core: one ObjectCreated event, handled at least once, in any order."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any

from imgflow.errors import ConfigError, Conflict, ImgflowError, NotFound
from imgflow.ports import Expect, ObjectInfo
from imgflow.records import ImageRecord, Status
from imgflow.service.backfill import current_digest
from imgflow.service.deps import Deps
from imgflow.service.keys import image_id_from_key
from imgflow.service.outbox import announce
from imgflow.service.process import drop_renditions, failure_changes, process_claimed, unreadable_message
from imgflow.service.types import Kind, Outcome, Reason

log = logging.getLogger("imgflow.service")

CLAIMABLE: frozenset[Status] = frozenset({"awaiting_upload", "queued"})
FINISHED: frozenset[Status] = frozenset({"done", "failed"})
_ALREADY = {"done": Reason.ALREADY_DONE, "failed": Reason.ALREADY_FAILED}
_CLAIM_TRIES = 3


def handle_object_created(svc: Deps, key: str, *, lease_token: str | None = None) -> Outcome:
    """Handle one ObjectCreated event; an image that ends here has its event announced
    (:func:`imgflow.service.outbox.announce`) and the outcome carries the record as it is then."""
    outcome = _event(svc, key, lease_token)
    if outcome.kind in (Kind.DONE, Kind.FAILED) and outcome.record is not None:
        outcome = replace(outcome, record=announce(svc, outcome.record))
    return outcome


def _event(svc: Deps, key: str, lease_token: str | None) -> Outcome:
    image_id = image_id_from_key(key)
    if image_id is None:
        return Outcome(Kind.IGNORED, reason=Reason.NOT_AN_ORIGINAL)
    if svc.processor is None:
        raise ConfigError("this service was built without a processor (build_service(with_processor=True))")
    try:
        return _handle(svc, image_id, key, lease_token or uuid.uuid4().hex)
    except ImgflowError as exc:
        log.warning("event not handled; redeliver", extra={"image_id": image_id, "code": exc.code})
        return Outcome(Kind.RETRY_LATER, image_id, reason=exc.code)
    except Exception:
        # The worker survives everything: a bug here must not drop the event.
        log.exception("unexpected error handling an event; redeliver", extra={"image_id": image_id})
        return Outcome(Kind.RETRY_LATER, image_id, reason=Reason.INTERNAL_ERROR)


def _handle(svc: Deps, image_id: str, key: str, token: str) -> Outcome:
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
            return Outcome(Kind.IGNORED, image_id, reason=Reason.DELETED, record=record)
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
    return Outcome(Kind.RETRY_LATER, image_id, reason=Reason.CONTENDED)


def _missing(svc: Deps, record: ImageRecord | None) -> Outcome | None:
    """No original. A record that should have one and that nobody works on (``queued``, or
    ``processing`` past its lease: a worker died) ends ``failed``; others wait (an upload not yet
    landed, a live lease). None: the record changed under us; read it again."""
    now = svc.clock()
    if record is None:
        return Outcome(Kind.IGNORED, reason=Reason.OBJECT_MISSING)
    lease_dead = record.status == "processing" and (record.lease_expires_at or 0.0) < now
    if record.status != "queued" and not lease_dead:
        return Outcome(Kind.IGNORED, record.image_id, reason=Reason.OBJECT_MISSING, record=record)
    expect = Expect(states={"queued"}, lease_expired_before=now, version=record.version)
    changes = failure_changes(Reason.OBJECT_MISSING, "the original is gone")
    try:
        failed = svc.catalog.transition(record.image_id, expect, changes)
    except Conflict:
        return None
    drop_renditions(svc, record.image_id, below=record.generation + 1)
    return Outcome(Kind.FAILED, record.image_id, reason=Reason.OBJECT_MISSING, record=failed)


def _unreadable(svc: Deps, image_id: str, record: ImageRecord | None, exc: ImgflowError) -> Outcome | None:
    """The HEAD failed for a reason a retry cannot fix (``storage_forbidden``). A record nobody
    works on ends ``failed`` with the error's code; a finished record or a live lease is left
    alone. None: the record changed under us; read it again."""
    log.warning("the original cannot be read", extra={"image_id": image_id, "code": exc.code})
    now = svc.clock()
    if record is None or record.status in FINISHED:
        return Outcome(Kind.IGNORED, image_id, reason=exc.code, record=record)
    if record.status == "processing" and (record.lease_expires_at or 0.0) >= now:
        return Outcome(Kind.RETRY_LATER, image_id, reason=Reason.LEASE_HELD, record=record)
    expect = Expect(states=CLAIMABLE, lease_expired_before=now, version=record.version)
    try:
        failed = svc.catalog.transition(image_id, expect, failure_changes(exc.code, unreadable_message(exc.code)))
    except Conflict:
        return None
    drop_renditions(svc, image_id, below=record.generation + 1)
    return Outcome(Kind.FAILED, image_id, reason=exc.code, record=failed)


def _adopt(svc: Deps, image_id: str, head: ObjectInfo) -> ImageRecord:
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


def _claim_and_process(svc: Deps, record: ImageRecord, head: ObjectInfo, token: str) -> Outcome | None:
    """None: the record changed under us; read it again."""
    now = svc.clock()
    image_id = record.image_id
    new_object = record.status in FINISHED and record.etag != head.etag
    if record.status in FINISHED and not new_object:
        return Outcome(Kind.UNCHANGED, image_id, reason=_ALREADY[record.status], record=record)
    lease_live = record.status == "processing" and (record.lease_expires_at or 0.0) >= now
    if lease_live:
        return Outcome(Kind.RETRY_LATER, image_id, reason=Reason.LEASE_HELD, record=record)
    expect = Expect(
        states=CLAIMABLE | FINISHED if new_object else CLAIMABLE, lease_expired_before=now, version=record.version
    )
    if not new_object and record.attempts >= svc.config.max_attempts:
        message = f"gave up after {record.attempts} attempts"
        try:
            failed = svc.catalog.transition(image_id, expect, failure_changes(Reason.TOO_MANY_ATTEMPTS, message))
        except Conflict:
            return None
        drop_renditions(svc, image_id, below=record.generation + 1)
        return Outcome(Kind.FAILED, image_id, reason=Reason.TOO_MANY_ATTEMPTS, record=failed)
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
