"""Process a claimed record: check, read with a cap, render, store, then one conditional ``done``."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from imgflow.errors import (
    BadRecipe,
    Conflict,
    ImgflowError,
    InputError,
    NotFound,
    TooLarge,
    UnsupportedFormat,
)
from imgflow.facts import ProcessResult
from imgflow.ports import Expect, ObjectInfo
from imgflow.records import ImageRecord, StoredRendition, rendition_prefix
from imgflow.service.deps import Deps
from imgflow.service.keys import rendition_key
from imgflow.service.retry import give_up_message
from imgflow.service.types import IMMUTABLE, Kind, Outcome, Reason
from imgflow.sniff import SNIFF_BYTES, content_type, sniff

log = logging.getLogger("imgflow.service")


class _Failed(Exception):
    """Internal: this attempt ends in ``failed`` with a code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Retry(Exception):
    """Internal: release the lease and ask for redelivery."""

    def __init__(self, reason: str, partial: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        #: rendition keys this attempt wrote before it gave up
        self.partial = partial


def failure_changes(code: str, message: str) -> dict[str, Any]:
    return {
        "status": "failed",
        "event_pending": "failed",  # the same write marks its event (imgflow.service.outbox)
        "error": {"code": code, "message": " ".join(message.split())[:1024]},
        "lease_token": None,
        "lease_expires_at": None,
        "facts": None,
        "renditions": [],
    }


def unreadable_message(code: str) -> str:
    """The record's message when reading the original failed for good: the error's own message is
    for the log only (it names buckets and roles)."""
    return f"the original could not be read ({code}); retrying cannot help"


def drop_renditions(svc: Deps, image_id: str, *, below: int | None = None) -> None:
    """Best effort: delete the image's rendition objects; with ``below``, only those of generations
    older than it (renditions never change within a generation, so a generation is safe to drop
    once no record can point to it again; a key whose generation cannot be read is kept)."""
    prefix = rendition_prefix(image_id)
    try:
        for info in list(svc.renditions.list(prefix)):
            if below is None or _generation(info.key[len(prefix) :]) < below:
                svc.renditions.delete(info.key)
    except ImgflowError as exc:
        log.warning("could not delete renditions", extra={"image_id": image_id, "code": exc.code})


def _generation(rest: str) -> float:
    head = rest.split("/", 1)[0]
    return int(head) if head.isdigit() else float("inf")


def renew_lease(svc: Deps, image_id: str, token: str) -> float | None:
    """Push a held lease's expiry out by ``lease_seconds``; None when the lease is no longer ours."""
    expires = svc.clock() + svc.config.lease_seconds
    try:
        svc.catalog.transition(
            image_id, Expect(states={"processing"}, lease_token=token), {"lease_expires_at": expires}
        )
    except (Conflict, NotFound):
        return None
    return expires


def process_claimed(svc: Deps, record: ImageRecord, head: ObjectInfo, token: str) -> Outcome:
    held = Expect(states={"processing"}, lease_token=token)
    try:
        result, sniffed = _render(svc, record, head)
        stored = _store(svc, record, result)
    except _Failed as failure:
        return _fail(svc, record, held, failure)
    except _Retry as retry:
        # Drop a partial write only inside a lease just renewed: once our lease is lost, another
        # worker holding the same generation may have written those keys into its ``done`` record.
        if retry.partial:
            if renew_lease(svc, record.image_id, token) is not None:
                for key in retry.partial:
                    _quiet_delete(svc, key)
            else:
                return _lease_lost(svc, record.image_id)  # drops them only if the image was deleted
        if record.attempts >= svc.config.max_attempts:  # the last attempt: no redelivery could do better
            code, message = give_up_message(record.attempts, retry.reason)
            return _fail(svc, record, held, _Failed(code, message))
        release(svc, record.image_id, token)
        return Outcome(Kind.RETRY_LATER, record.image_id, reason=retry.reason, record=record)
    changes = {
        "status": "done",
        "event_pending": "done",  # the same write marks its event (imgflow.service.outbox)
        "facts": result.facts.model_dump(mode="json"),
        "renditions": [r.model_dump(mode="json") for r in stored],
        "sniffed_type": sniffed,
        "lease_token": None,
        "lease_expires_at": None,
        "error": None,
    }
    try:
        done = svc.catalog.transition(record.image_id, held, changes)
    except Conflict:
        return _lease_lost(svc, record.image_id)
    except ImgflowError as exc:
        # The write may or may not have landed; the renditions stay (a retry rewrites the same keys).
        release(svc, record.image_id, token)
        return Outcome(Kind.RETRY_LATER, record.image_id, reason=exc.code, record=record)
    # Only older generations: a reprocess right after our write may already have a newer one.
    drop_renditions(svc, record.image_id, below=record.generation)
    log.info("image done", extra={"image_id": record.image_id, "generation": record.generation})
    return Outcome(Kind.DONE, record.image_id, record=done)


def _fail(svc: Deps, record: ImageRecord, held: Expect, failure: _Failed) -> Outcome:
    # The record first, under our lease: only then can no record point to this generation.
    try:
        failed = svc.catalog.transition(record.image_id, held, failure_changes(failure.code, failure.message))
    except Conflict:
        return _lease_lost(svc, record.image_id)
    drop_renditions(svc, record.image_id, below=record.generation + 1)
    log.info("image failed", extra={"image_id": record.image_id, "code": failure.code})
    return Outcome(Kind.FAILED, record.image_id, reason=failure.code, record=failed)


def _render(svc: Deps, record: ImageRecord, head: ObjectInfo) -> tuple[ProcessResult, str]:
    limits = svc.config.limits
    if record.declared_size is not None and head.size != record.declared_size:
        raise _Failed(Reason.SIZE_MISMATCH, f"declared {record.declared_size} bytes; the object has {head.size}")
    if head.size > limits.max_bytes:
        raise _Failed(TooLarge.code, f"the object has {head.size} bytes; at most {limits.max_bytes} are processed")
    try:
        data = svc.originals.get(record.key, max_bytes=limits.max_bytes, etag=head.etag)
    except NotFound as exc:
        raise _Failed(Reason.OBJECT_MISSING, "the original is gone") from exc
    except Conflict as exc:
        raise _Retry(Reason.OBJECT_CHANGED) from exc
    except InputError as exc:
        raise _Failed(exc.code, exc.message) from exc
    except ImgflowError as exc:
        if exc.retryable:
            raise _Retry(exc.code) from exc
        log.warning("the original cannot be read", extra={"image_id": record.image_id, "code": exc.code})
        raise _Failed(exc.code, unreadable_message(exc.code)) from exc
    fmt = sniff(data[:SNIFF_BYTES])
    if fmt is None or fmt not in limits.accept:
        accepted = ", ".join(limits.accept)
        raise _Failed(
            UnsupportedFormat.code, f"The object is {fmt or 'not an image format imgflow knows'}; accepted: {accepted}."
        )
    sniffed = content_type(fmt)
    if record.declared_type is not None and sniffed != record.declared_type:
        # one rule on every path: the bytes decide (an accepted format under any label is processed)
        log.info("the declared type is not the bytes'", extra={"image_id": record.image_id,
                 "declared": record.declared_type, "sniffed": sniffed})  # fmt: skip
    recipe = svc.config.recipes.get(record.recipe)
    if recipe is None:
        raise _Failed(BadRecipe.code, f"no recipe named {record.recipe!r}")
    assert svc.processor is not None  # checked before the claim
    try:
        result = svc.processor(data, recipe, limits)
    except (InputError, BadRecipe) as exc:
        raise _Failed(exc.code, exc.message) from exc
    except ImgflowError as exc:
        if exc.retryable:
            raise _Retry(exc.code) from exc
        raise _Failed(exc.code, exc.message) from exc
    except MemoryError as exc:
        # the worker's address-space ceiling (a kill by the runtime's RSS ceiling ends the same way)
        raise _Failed(Reason.MEMORY_LIMIT, "the image needs more memory than a worker may use") from exc
    except Exception as exc:
        log.exception("the processor raised", extra={"image_id": record.image_id})
        raise _Failed(Reason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}") from exc
    return result, sniffed


def _store(svc: Deps, record: ImageRecord, result: ProcessResult) -> list[StoredRendition]:
    """Put each rendition once: renditions with the same bytes (an image smaller than several
    sizes) share the object of the first of them, and their entries name that key."""
    stored: list[StoredRendition] = []
    written: dict[tuple[str, str], str] = {}
    try:
        for rendered in result.renditions:
            facts = rendered.facts
            same = (hashlib.sha256(rendered.data).hexdigest(), facts.content_type)
            key = written.get(same) or rendition_key(record.image_id, record.generation, facts.name, facts.extension)
            if same not in written:
                svc.renditions.put(key, rendered.data, content_type=facts.content_type, cache_control=IMMUTABLE)
                written[same] = key
            stored.append(
                StoredRendition(
                    name=facts.name,
                    key=key,
                    format=facts.format,
                    content_type=facts.content_type,
                    width=facts.width,
                    height=facts.height,
                    bytes=facts.bytes,
                )
            )
    except ImgflowError as exc:
        raise _Retry(exc.code, tuple(written.values())) from exc
    return stored


def _quiet_delete(svc: Deps, key: str) -> None:
    try:
        svc.renditions.delete(key)
    except ImgflowError:
        log.warning("could not delete a rendition", extra={"key": key})


def release(svc: Deps, image_id: str, token: str) -> None:
    """Give the lease back (expired at once) so a redelivery or reconcile can claim again."""
    try:
        svc.catalog.transition(
            image_id, Expect(states={"processing"}, lease_token=token), {"lease_token": None, "lease_expires_at": 0.0}
        )
    except ImgflowError as exc:
        log.warning("could not release a lease; it will expire", extra={"image_id": image_id, "code": exc.code})


def _lease_lost(svc: Deps, image_id: str) -> Outcome:
    """The record moved on without us (deleted, or our lease expired and another worker claimed it).

    Nothing is deleted unless the record is gone or a tombstone: what we stored may be what the
    other worker's record points to."""
    try:
        current = svc.catalog.get(image_id)
    except NotFound:
        current = None
    if current is None or current.status == "deleted":
        drop_renditions(svc, image_id)
    return Outcome(Kind.IGNORED, image_id, reason=Reason.LEASE_LOST, record=current)
