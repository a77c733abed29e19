"""The user's own facts on an image (tags, alt, metadata): changed by a merge patch, never
touching the status, the generation or the renditions."""

from __future__ import annotations

from typing import Any

from imgflow.errors import Conflict, PreconditionFailed
from imgflow.ports import Expect
from imgflow.records import STATUSES, ImageRecord, Status
from imgflow.service.deps import Deps
from imgflow.service.manage import get
from imgflow.usermeta import UserMeta, merge_patch

_LIVE: frozenset[Status] = frozenset(s for s in STATUSES if s != "deleted")
_TRIES = 5


def meta_of(record: ImageRecord) -> UserMeta:
    return UserMeta(tags=record.tags, alt=record.alt, metadata=dict(record.metadata))


def patch(svc: Deps, owner: str, image_id: str, body: Any, *, if_match: int | None = None) -> ImageRecord:
    """Apply the merge patch ``body`` to the owner's image: one conditional write on the version
    read (a concurrent change re-reads and merges again). ``if_match``: the version the client
    last saw; a record that moved on since is PreconditionFailed (HTTP 412)."""
    for _ in range(_TRIES):
        record = get(svc, owner, image_id)
        if if_match is not None and record.version != if_match:
            raise PreconditionFailed(
                f"image {image_id!r} is at version {record.version}, not {if_match}; read it again"
            )
        new = merge_patch(meta_of(record), body)
        if new == meta_of(record):
            return record
        try:
            return svc.catalog.transition(image_id, Expect(states=_LIVE, version=record.version), new.changes())
        except Conflict:
            if if_match is not None:
                raise PreconditionFailed(f"image {image_id!r} changed while it was being patched") from None
    raise Conflict(f"image {image_id!r} kept changing; try again")
