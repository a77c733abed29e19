"""The service's plain data: its policy (from settings) and what its use cases answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

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


class Kind(StrEnum):
    """What handling one ObjectCreated event did. ``RETRY_LATER``: redeliver (lease held, transient)."""

    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"
    UNCHANGED = "unchanged"
    RETRY_LATER = "retry_later"


class Reason(StrEnum):
    """Why, in one vocabulary for the service and the runtimes. A reason is also a ``failed``
    record's error code when the service or a runtime ends an attempt itself; other reasons are
    the ``code`` of the named error that ended it (:mod:`imgflow.errors`)."""

    NOT_AN_ORIGINAL = "not_an_original"
    DELETED = "deleted"
    OBJECT_MISSING = "object_missing"
    OBJECT_CHANGED = "object_changed"
    #: the stored original is not the size its presigned upload declared
    SIZE_MISMATCH = "size_mismatch"
    ALREADY_DONE = "already_done"
    ALREADY_FAILED = "already_failed"
    LEASE_HELD = "lease_held"
    LEASE_LOST = "lease_lost"
    CONTENDED = "contended"
    INTERNAL_ERROR = "internal_error"
    PROCESSING_ERROR = "processing_error"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    MEMORY_LIMIT = "memory_limit"
    TIMEOUT = "timeout"
    UPLOAD_EXPIRED = "upload_expired"
    DEAD_LETTERED = "dead_lettered"
    #: the runtime's own reasons for asking the retry policy about a delivery
    REDELIVERED = "redelivered"
    WORKER_DIED = "worker_died"
    WORKER_GONE = "worker_gone"
    FOREIGN_BUCKET = "foreign_bucket"


@dataclass(frozen=True)
class Outcome:
    """What handling one ObjectCreated event did, and why (a :class:`Reason`, or an error's code)."""

    kind: Kind
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
