"""CONTRACT SKELETON — the service helper replaces the bodies; keep the signatures.

Other parts (API, AWS handlers, local workers) call exactly these.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from imgflow.ports import Catalog, ObjectStore, Page, PresignedUpload, Processor
from imgflow.recipes import Limits, Recipe
from imgflow.records import ImageRecord, Status


@dataclass(frozen=True)
class ServiceConfig:
    """Policy, taken from Settings by the wiring function (the service never reads settings)."""

    recipes: Mapping[str, Recipe]
    default_recipe: str
    limits: Limits
    direct_upload_max_bytes: int = 4 * 1024 * 1024
    upload_url_ttl: int = 900
    download_url_ttl: int = 3600
    upload_expiry_seconds: int = 24 * 3600
    tombstone_ttl_seconds: int = 7 * 24 * 3600
    lease_seconds: int = 900
    max_attempts: int = 3
    reconcile_grace_seconds: int = 120
    cdn_base_url: str | None = None


OutcomeKind = Literal["done", "failed", "ignored", "unchanged", "retry_later"]


@dataclass(frozen=True)
class Outcome:
    """What handling one ObjectCreated event did. ``retry_later``: redeliver (lease held, transient)."""

    kind: OutcomeKind
    image_id: str | None = None
    reason: str | None = None
    record: ImageRecord | None = None


@dataclass(frozen=True)
class ReconcileReport:
    redriven: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)


class ImageService:
    def __init__(
        self,
        *,
        originals: ObjectStore,
        renditions: ObjectStore,
        catalog: Catalog,
        config: ServiceConfig,
        processor: Processor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.originals = originals
        self.renditions = renditions
        self.catalog = catalog
        self.config = config
        self.processor = processor
        self.clock = clock

    def create_upload(
        self, owner: str, *, filename: str | None, content_type: str, size: int, recipe: str | None = None
    ) -> tuple[ImageRecord, PresignedUpload]:
        raise NotImplementedError

    def ingest(
        self, owner: str, data: bytes, *, filename: str | None = None, content_type: str | None = None,
        recipe: str | None = None,
    ) -> ImageRecord:
        """Direct path: create the record, store the original, then mark it ``queued``."""
        raise NotImplementedError

    def upload_completed(self, key: str) -> ImageRecord | None:
        """A presigned upload landed (locally: the upload route calls this): awaiting_upload -> queued."""
        raise NotImplementedError

    def handle_object_created(self, key: str, *, etag: str | None = None) -> Outcome:
        """The processor's core: ignore foreign keys, HEAD, claim with a lease, process, record."""
        raise NotImplementedError

    def get(self, owner: str, image_id: str) -> ImageRecord:
        raise NotImplementedError

    def list(self, owner: str, *, status: Status | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        raise NotImplementedError

    def delete(self, owner: str, image_id: str) -> None:
        raise NotImplementedError

    def reprocess(self, owner: str, image_id: str, *, recipe: str | None = None) -> ImageRecord:
        raise NotImplementedError

    def reconcile(self) -> ReconcileReport:
        raise NotImplementedError

    def rendition_url(self, key: str) -> str:
        """A URL made at read time: CDN base, or the store's presigned/signed download URL."""
        raise NotImplementedError
