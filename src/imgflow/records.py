"""The image record: the one thing a catalog stores."""

from __future__ import annotations

import os
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imgflow.facts import ImageFacts

Status = Literal["awaiting_upload", "queued", "processing", "done", "failed", "deleted"]
STATUSES: tuple[Status, ...] = ("awaiting_upload", "queued", "processing", "done", "failed", "deleted")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_image_id(now: float | None = None) -> str:
    """A ULID: 48-bit milliseconds + 80 random bits, Crockford base32, sorts by time."""
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def original_key(image_id: str) -> str:
    return f"originals/{image_id}"


def rendition_prefix(image_id: str, generation: int | None = None) -> str:
    if generation is None:
        return f"renditions/{image_id}/"
    return f"renditions/{image_id}/{generation}/"


class ErrorInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    message: str


class StoredRendition(BaseModel):
    """A rendition as stored: a key, never a URL (URLs are made when a record is read)."""

    model_config = ConfigDict(frozen=True)
    name: str
    key: str
    format: str
    content_type: str
    width: int
    height: int
    bytes: int


class ImageRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    image_id: str
    owner: str
    status: Status
    created_at: float
    updated_at: float
    #: the user's filename: metadata only, never part of a key
    filename: str | None = None
    declared_type: str | None = None
    declared_size: int | None = None
    sniffed_type: str | None = None
    size: int | None = None
    etag: str | None = None
    generation: int = 0
    attempts: int = 0
    lease_token: str | None = None
    lease_expires_at: float | None = None
    #: epoch seconds; the catalog deletes the record after it (DynamoDB TTL)
    expires_at: int | None = None
    recipe: str = "default"
    #: a digest of the recipe this generation is made with (``imgflow backfill`` re-drives images
    #: whose recipe changed since; see :func:`imgflow.service.backfill.recipe_digest`)
    recipe_digest: str | None = None
    error: ErrorInfo | None = None
    facts: ImageFacts | None = None
    renditions: tuple[StoredRendition, ...] = ()
    #: the status whose event (``Image Processed`` / ``Image Failed``) is not published yet: set by
    #: the write that ends the image, cleared once the event is out (:mod:`imgflow.service.outbox`)
    event_pending: Literal["done", "failed"] | None = None
    #: the user's own facts (:mod:`imgflow.usermeta`): changing them changes no status,
    #: generation or rendition
    tags: tuple[str, ...] = ()
    alt: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    #: bumped by the catalog on every write; optimistic concurrency
    version: int = Field(default=0, ge=0)

    @property
    def key(self) -> str:
        return original_key(self.image_id)

    def to_item(self) -> dict[str, Any]:
        """JSON-able dict, Nones and empty user fields dropped (DynamoDB and SQLite store this)."""
        item = self.model_dump(mode="json", exclude_none=True)
        for name in ("tags", "metadata"):
            if not item.get(name):
                item.pop(name, None)
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ImageRecord:
        return cls.model_validate(item)
