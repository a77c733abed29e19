"""Attempts that the runtime ends from outside the service: a crashed worker, a timeout, a
memory ceiling, a runtime that stopped delivering."""

from __future__ import annotations

import logging

from imgflow.errors import Conflict, ImgflowError, NotFound
from imgflow.ports import Expect
from imgflow.records import ImageRecord
from imgflow.service.deps import Deps
from imgflow.service.outbox import announce
from imgflow.service.process import drop_renditions, failure_changes, release
from imgflow.service.types import Reason

log = logging.getLogger("imgflow.service")


def release_attempt(svc: Deps, image_id: str, token: str) -> None:
    """The attempt holding ``token`` died (its worker crashed): give the record's lease back at
    once, so the retry claims it now instead of waiting out ``lease_seconds``. The attempt counts."""
    release(svc, image_id, token)


def end_attempt(svc: Deps, image_id: str, token: str, code: str, message: str) -> ImageRecord | None:
    """The runtime stopped the attempt holding ``token`` for good (``timeout``, ``memory_limit``):
    the record ends ``failed`` with ``code``, this attempt's renditions go. None when the lease is
    no longer that attempt's (it finished first, or another attempt took over)."""
    try:
        record = svc.catalog.get(image_id)
        failed = svc.catalog.transition(
            image_id, Expect(states={"processing"}, lease_token=token), failure_changes(code, message)
        )
    except (Conflict, NotFound):
        return None
    drop_renditions(svc, image_id, below=record.generation + 1)
    log.info("image failed", extra={"image_id": image_id, "code": code})
    return announce(svc, failed)  # its Image Failed event (marked by the same write)


def dead_letter(svc: Deps, image_id: str, reason: str) -> ImageRecord | None:
    """The runtime stopped delivering an image: fail its record with ``dead_lettered`` unless a
    live lease or a final state owns it (then None)."""
    expect = Expect(states={"awaiting_upload", "queued"}, lease_expired_before=svc.clock())
    try:
        failed = svc.catalog.transition(image_id, expect, failure_changes(Reason.DEAD_LETTERED, reason))
    except ImgflowError as exc:
        log.info("record not failed by the dead-letter", extra={"image_id": image_id, "code": exc.code})
        return None
    # a failed record points to no rendition: drop what earlier attempts left (never a newer generation)
    drop_renditions(svc, image_id, below=failed.generation + 1)
    return announce(svc, failed)  # its Image Failed event (marked by the same write)
