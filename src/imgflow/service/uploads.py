"""How originals arrive: a presigned upload, or the image as a request body."""

from __future__ import annotations

import logging

from imgflow.errors import BadRequest, Conflict, ImgflowError, NotFound, TooLarge, UnsupportedFormat
from imgflow.ports import Expect, ObjectInfo, PresignedUpload
from imgflow.records import ImageRecord, new_image_id
from imgflow.service.deps import Deps, recipe_name, redrive_later
from imgflow.service.keys import accepted_format, clean_filename, image_id_from_key
from imgflow.service.manage import get
from imgflow.sniff import CONTENT_TYPES, SNIFF_BYTES, sniff
from imgflow.usermeta import UserMeta

log = logging.getLogger("imgflow.service")


def _new_record(
    svc: Deps,
    owner: str,
    *,
    filename: str | None,
    declared_type: str,
    size: int,
    recipe: str | None,
    meta: UserMeta | None,
) -> ImageRecord:
    now = svc.clock()
    meta = meta or UserMeta()
    return ImageRecord(
        tags=meta.tags,
        alt=meta.alt,
        metadata=dict(meta.metadata),
        image_id=new_image_id(now),
        owner=owner,
        status="awaiting_upload",
        created_at=now,
        updated_at=now,
        filename=clean_filename(filename),
        declared_type=declared_type,
        declared_size=size,
        generation=1,
        expires_at=int(now + svc.config.upload_expiry_seconds),
        recipe=recipe_name(svc.config, recipe),
    )


def create_upload(
    svc: Deps,
    owner: str,
    *,
    filename: str | None,
    content_type: str,
    size: int,
    recipe: str | None,
    meta: UserMeta | None = None,
) -> tuple[ImageRecord, PresignedUpload]:
    limits = svc.config.limits
    fmt = accepted_format(content_type, limits)
    if size < 1:
        raise BadRequest("size must be at least 1 byte", code="invalid_size")
    if size > limits.max_bytes:
        raise TooLarge(f"{size} bytes is more than the {limits.max_bytes} bytes an image may have")
    record = _new_record(
        svc, owner, filename=filename, declared_type=CONTENT_TYPES[fmt], size=size, recipe=recipe, meta=meta
    )
    record = svc.catalog.create(record)
    upload = svc.originals.presign_upload(
        record.key,
        content_type=CONTENT_TYPES[fmt],
        max_size=size,
        expires_in=min(svc.config.upload_url_ttl, 900),
    )
    return record, upload


def check_direct(svc: Deps, data: bytes) -> str:
    """What the direct path refuses without decoding: size, then magic bytes. Returns the format."""
    cap = min(svc.config.direct_upload_max_bytes, svc.config.limits.max_bytes)
    if len(data) > cap:
        raise TooLarge(f"the body has {len(data)} bytes; this route takes at most {cap} (use POST /v1/uploads)")
    if not data:
        raise BadRequest("the body is empty; send the image bytes", code="empty_body")
    fmt = sniff(data[:SNIFF_BYTES])
    if fmt is None or fmt not in svc.config.limits.accept:
        what = "an unknown format" if fmt is None else fmt
        raise UnsupportedFormat(f"the body is {what}; accepted: {', '.join(svc.config.limits.accept)}")
    return fmt


def check_head(svc: Deps, head: bytes) -> str:
    """A presigned upload's first bytes, before it is stored (the local form): the format, or
    UnsupportedFormat (415) when they are not an accepted one. The bytes decide, not the label."""
    fmt = sniff(head[:SNIFF_BYTES])
    if fmt is None or fmt not in svc.config.limits.accept:
        what = "an unknown format" if fmt is None else fmt
        raise UnsupportedFormat(f"the file is {what}; accepted: {', '.join(svc.config.limits.accept)}")
    return fmt


def ingest(
    svc: Deps,
    owner: str,
    data: bytes,
    *,
    filename: str | None,
    recipe: str | None,
    meta: UserMeta | None = None,
) -> ImageRecord:
    fmt = check_direct(svc, data)
    ctype = CONTENT_TYPES[fmt]
    record = _new_record(svc, owner, filename=filename, declared_type=ctype, size=len(data), recipe=recipe, meta=meta)
    record = svc.catalog.create(record.model_copy(update={"sniffed_type": ctype}))
    try:
        info = svc.originals.put(record.key, data, content_type=ctype)
    except ImgflowError:
        _forget(svc, record.image_id)
        raise
    changes = {"status": "queued", "etag": info.etag, "size": info.size, "expires_at": None}
    try:
        queued = svc.catalog.transition(record.image_id, Expect(states={"awaiting_upload"}), changes)
    except Conflict:
        # The store's own event reached a processor first: the record has moved on.
        return svc.catalog.get(record.image_id)
    return queued


def _forget(svc: Deps, image_id: str) -> None:
    try:
        svc.catalog.delete(image_id)
    except ImgflowError:
        log.warning("could not remove the record of a failed direct upload", extra={"image_id": image_id})


def can_accept_upload(svc: Deps, key: str) -> bool:
    image_id = image_id_from_key(key)
    if image_id is None:
        return False
    try:
        return svc.catalog.get(image_id).status == "awaiting_upload"
    except NotFound:
        return False


def _remove_late_upload(svc: Deps, key: str) -> None:
    try:
        svc.originals.delete(key)
    except ImgflowError as exc:
        log.warning("could not remove an upload that landed after its delete", extra={"key": key, "code": exc.code})


def upload_completed(svc: Deps, key: str) -> ImageRecord | None:
    """An ``awaiting_upload`` record moves to ``queued``; an upload landing on a tombstone is
    removed; a different object landing on a finished record (two uploads racing on one grant)
    starts a new generation, as a new ETag does in an S3 event. One landing while the record is
    ``processing`` is handed to the ``redrive`` hook: handled again once that attempt ends, it
    finds the new ETag on a finished record and starts the new generation then. (A ``queued``
    record needs nothing: its claim reads the object as it is then.)"""
    image_id = image_id_from_key(key)
    if image_id is None:
        return None
    try:
        record = svc.catalog.get(image_id)
        if record.status == "deleted":
            _remove_late_upload(svc, key)
            return None
        if record.status in ("done", "failed"):
            return _replaced(svc, record, svc.originals.head(key))
        if record.status == "processing":
            if svc.originals.head(key).etag != record.etag:
                redrive_later(svc, record)
            return None
        if record.status != "awaiting_upload":
            return None
        head = svc.originals.head(key)
        queued = svc.catalog.transition(
            image_id,
            Expect(states={"awaiting_upload"}, version=record.version),
            {"status": "queued", "etag": head.etag, "size": head.size, "expires_at": None},
        )
    except (NotFound, Conflict):
        return None
    return queued


def _replaced(svc: Deps, record: ImageRecord, head: ObjectInfo) -> ImageRecord | None:
    if head.etag == record.etag:
        return None  # the same bytes again: nothing changes
    changes = {
        "status": "queued",
        "generation": record.generation + 1,
        "attempts": 0,
        "error": None,
        "etag": head.etag,
        "size": head.size,
    }
    return svc.catalog.transition(record.image_id, Expect(states={"done", "failed"}, version=record.version), changes)


def complete_upload(svc: Deps, owner: str, image_id: str) -> ImageRecord:
    """The client says its presigned upload landed (the path that works on any S3-compatible
    store, notifications or not): ``awaiting_upload`` -> ``queued`` once the object is there.
    Idempotent: a record that moved on is answered as it is. NotFound for another owner's image;
    Conflict (``upload_not_landed``) while the store has no object yet."""
    record = get(svc, owner, image_id)
    if record.status != "awaiting_upload":
        return record
    try:
        svc.originals.head(record.key)
    except NotFound:
        raise Conflict(
            f"image {image_id!r} has no uploaded file yet: POST the form first", code="upload_not_landed"
        ) from None
    upload_completed(svc, record.key)
    return svc.catalog.get(image_id)
