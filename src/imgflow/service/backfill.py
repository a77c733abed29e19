"""Backfill: re-drive the images whose recipe changed since they were made.

Each processed generation stores a digest of the recipe it was made with (set when the record is
claimed, ``recipe_digest``); an image needs a backfill when the digest of its recipe as configured
now differs. Re-driving it is a reprocess (a new generation, the previous renditions served until
it is done), so a backfill that stopped halfway resumes where it stopped when run again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from imgflow.recipes import Recipe
from imgflow.records import ImageRecord, Status
from imgflow.service import manage

if TYPE_CHECKING:
    from imgflow.service.deps import Deps
    from imgflow.service.types import ServiceConfig


def _bytes_digest(value: Any) -> str:
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    raise TypeError(f"cannot digest {type(value).__name__}")


def recipe_digest(recipe: Recipe) -> str:
    """Changes whenever anything that shapes the output changes (a watermark image by its bytes)."""
    text = json.dumps(recipe.model_dump(mode="python"), sort_keys=True, default=_bytes_digest)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def current_digest(config: ServiceConfig, recipe: str) -> str | None:
    found = config.recipes.get(recipe)
    return recipe_digest(found) if found is not None else None


def needs_backfill(
    record: ImageRecord,
    config: ServiceConfig,
    *,
    statuses: Collection[Status] = ("done", "failed"),
    recipe: str | None = None,
) -> bool:
    """Ended (in ``statuses``), of ``recipe`` when given, with a configured recipe whose digest is
    not the one its generation was made with."""
    if record.status not in statuses or (recipe is not None and record.recipe != recipe):
        return False
    if record.etag is None:
        return False  # never landed: nothing to make renditions from
    digest = current_digest(config, record.recipe)
    return digest is not None and digest != record.recipe_digest


def redrive(svc: Deps, record: ImageRecord) -> ImageRecord:
    """A reprocess on the owner's behalf (an operator's backfill reaches every owner's images).
    Raises Conflict when the image moved on meanwhile, NotFound when it was deleted."""
    return manage.reprocess(svc, record.owner, record.image_id, recipe=None)
