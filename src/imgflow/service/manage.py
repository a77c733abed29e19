"""Reads and changes a user makes to their own images. Someone else's image is NotFound."""

from __future__ import annotations

from collections.abc import Sequence

from imgflow.errors import BadRequest, Conflict, InvalidField, NotFound
from imgflow.ports import Expect, Page
from imgflow.records import STATUSES, ImageRecord, Status, rendition_prefix
from imgflow.service.deps import Deps, notify_queued, recipe_name
from imgflow.usermeta import MAX_TAGS, clean_tag

MAX_PAGE = 100
_LIVE: frozenset[Status] = frozenset(s for s in STATUSES if s != "deleted")
_TRIES = 3


def get(svc: Deps, owner: str, image_id: str) -> ImageRecord:
    try:
        record = svc.catalog.get(image_id)
    except NotFound:
        record = None
    if record is None or record.owner != owner or record.status == "deleted":
        raise NotFound(f"no image {image_id!r}")
    return record


#: catalog reads one listing may take to fill its page past tombstones (then it answers fewer, with a cursor)
_LIST_ROUNDS = 20


def list_images(
    svc: Deps, owner: str, *, status: Status | None, limit: int, cursor: str | None, tags: Sequence[str] = ()
) -> Page:
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    if status is not None and status not in _LIVE:
        raise BadRequest(f"status must be one of {', '.join(sorted(_LIVE))}", code="invalid_status")
    if len(tags) > MAX_TAGS:
        raise InvalidField("tag", f"at most {MAX_TAGS} tags in one listing")
    wanted = [clean_tag(t, "tag") for t in tags]
    # A page holds ``limit`` live images whenever that many exist: tombstones among the newest are
    # skipped by asking the catalog for the rest, never for more (the cursor stays exact).
    items: list[ImageRecord] = []
    for _ in range(_LIST_ROUNDS):
        page = svc.catalog.list(owner, status=status, limit=limit - len(items), cursor=cursor, tags=wanted)
        items.extend(r for r in page.items if r.owner == owner and r.status != "deleted")
        cursor = page.cursor
        if len(items) >= limit or cursor is None:
            break
    return Page(items=items, cursor=cursor)


def delete(svc: Deps, owner: str, image_id: str) -> None:
    """Tombstone first (a late event then changes nothing), then remove the original and renditions.

    Idempotent while the tombstone lives: deleting a deleted image removes its objects again
    (a retry after a storage error must not be a 404 that leaves them behind forever)."""
    for _ in range(_TRIES):
        try:
            record = svc.catalog.get(image_id)
        except NotFound:
            record = None
        if record is None or record.owner != owner:
            raise NotFound(f"no image {image_id!r}")
        if record.status == "deleted":
            _remove_objects(svc, record)
            return
        now = svc.clock()
        changes = {
            "status": "deleted",
            "expires_at": int(now + svc.config.tombstone_ttl_seconds),
            "lease_token": None,
            "lease_expires_at": None,
            "facts": None,
            "renditions": [],
            "error": None,
            "event_pending": None,  # a deleted image announces nothing more
        }
        try:
            svc.catalog.transition(image_id, Expect(states=_LIVE, version=record.version), changes)
        except Conflict:
            continue
        _remove_objects(svc, record)
        return
    raise Conflict(f"image {image_id!r} kept changing; try again")


def _remove_objects(svc: Deps, record: ImageRecord) -> None:
    """Raises StorageError when an object stays: the client retries the DELETE, which comes back here."""
    svc.originals.delete(record.key)
    for info in list(svc.renditions.list(rendition_prefix(record.image_id))):
        svc.renditions.delete(info.key)


def reprocess(svc: Deps, owner: str, image_id: str, *, recipe: str | None) -> ImageRecord:
    record = get(svc, owner, image_id)
    if record.status not in ("done", "failed"):
        raise Conflict(f"image {image_id!r} is {record.status}; only done or failed images can be reprocessed")
    if record.etag is None:
        raise Conflict(f"image {image_id!r} has no original to reprocess", code="no_original")
    name = recipe_name(svc.config, recipe or record.recipe)
    changes = {
        "status": "queued",
        "generation": record.generation + 1,
        "attempts": 0,
        "recipe": name,
        "error": None,
    }
    queued = svc.catalog.transition(image_id, Expect(states={"done", "failed"}, version=record.version), changes)
    notify_queued(svc, queued)
    return queued
