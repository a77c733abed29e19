"""Events others can build on: ``Image Processed`` / ``Image Failed``, at least once, never early.

The write that ends an image also marks its event pending (``event_pending`` = the status it
ended in, set by the same conditional write); :func:`deliver` publishes the event through the
:class:`~imgflow.ports.EventPublisher` port and then clears the mark (conditional on it, so a
newer end is never cleared by an older publisher); the reconcile sweep calls
:func:`republish` for what is still marked (a crash or an outage between the write and the
publish loses nothing). A publishing failure is logged and counted, never fails the image.
:func:`announce` is what the use cases that end an image call (inline, or on the runtime's
``background``).
"""

from __future__ import annotations

import logging
from typing import Any

from imgflow.errors import ImgflowError
from imgflow.ports import Expect, ImageEvent
from imgflow.records import ImageRecord
from imgflow.service.deps import Deps

log = logging.getLogger("imgflow.service")

SOURCE = "imgflow"
DETAIL_TYPES = {"done": "Image Processed", "failed": "Image Failed"}


def event_for(record: ImageRecord) -> ImageEvent:
    """The event for an ended record: its identity, generation and status, then the renditions
    (``done``) or the failure (``failed``)."""
    if record.status not in DETAIL_TYPES:
        raise ValueError(f"image {record.image_id} is {record.status}: only done or failed images have an event")
    detail: dict[str, Any] = {
        "image_id": record.image_id,
        "owner": record.owner,
        "generation": record.generation,
        "status": record.status,
        "recipe": record.recipe,
        "tags": list(record.tags),
        "metadata": dict(record.metadata),
    }
    if record.alt is not None:
        detail["alt"] = record.alt
    if record.status == "done":
        detail["renditions"] = [
            {"name": r.name, "key": r.key, "content_type": r.content_type, "width": r.width,
             "height": r.height, "bytes": r.bytes}
            for r in record.renditions
        ]  # fmt: skip
    else:
        error = record.error
        detail["error"] = {"code": error.code if error else "unknown", "message": error.message if error else ""}
    return ImageEvent(detail_type=DETAIL_TYPES[record.status], detail=detail, source=SOURCE)


def deliver(svc: Deps, record: ImageRecord) -> ImageRecord | None:
    """Publish ``record``'s pending event and clear its mark: the record as it is now (the mark
    cleared), or None when the event stays pending."""
    ended = record.event_pending
    if ended is None or ended != record.status:
        return None
    if svc.publisher is not None:
        try:
            svc.publisher.publish(event_for(record))
        except Exception as exc:  # never fails the image: the sweep publishes it later
            code = exc.code if isinstance(exc, ImgflowError) else type(exc).__name__
            log.warning("event not published; the sweep retries", extra={"image_id": record.image_id, "code": code})
            if svc.on_publish_error is not None:
                svc.on_publish_error(record)
            return None
    # only the record as published: a newer write (a newer end) keeps its own mark, and at worst
    # the sweep publishes this one again (at least once)
    expect = Expect(states={ended}, version=record.version)
    try:
        return svc.catalog.transition(record.image_id, expect, {"event_pending": None})
    except ImgflowError as exc:
        # moved on (a newer end marks its own event), or the write failed: published twice at worst
        log.info("event mark not cleared", extra={"image_id": record.image_id, "code": exc.code})
    return record


def republish(svc: Deps, *, limit: int = 100) -> list[str]:
    """The sweep's part: deliver what is still pending, oldest first. Returns the ids that went out."""
    sent: list[str] = []
    for record in svc.catalog.pending_events(limit=limit):
        if deliver(svc, record) is not None:
            sent.append(record.image_id)
        elif svc.publisher is not None:
            break  # the publisher is failing: leave the rest for the next sweep
    return sent


def announce(svc: Deps, record: ImageRecord) -> ImageRecord:
    """Publish an ended record's pending event (in the background when the runtime gave one);
    what does not go out stays pending for the reconcile sweep. Returns the record as it is
    now (its mark cleared once the event went out inline)."""
    if record.event_pending is None:
        return record
    if svc.background is not None:
        svc.background(lambda: deliver(svc, record))
        return record
    try:
        return deliver(svc, record) or record
    except Exception:
        log.exception("event delivery raised; the sweep retries", extra={"image_id": record.image_id})
        return record
