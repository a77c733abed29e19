"""The service's plain data: its policy (from settings) and what its use cases answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from imgflow.recipes import Limits, Recipe
from imgflow.records import ImageRecord

#: renditions never change once written: a new generation gets new keys
IMMUTABLE = "public, max-age=31536000, immutable"


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
    #: the first retry's delay, doubling per attempt up to ``retry_max_delay_seconds``
    retry_delay_seconds: float = 2.0
    retry_max_delay_seconds: float = 600.0
    #: the first delay after a full disk (ENOSPC) while writing renditions, doubling likewise
    disk_full_retry_seconds: float = 60.0
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
    """Ids per fate. ``requeued``: handed to the queue (``reconcile(requeue=...)``), not yet processed."""

    redriven: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    #: images whose pending done/failed event this sweep published
    published: list[str] = field(default_factory=list)
