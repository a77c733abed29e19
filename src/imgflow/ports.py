"""Ports: what the service needs from storage. Small typed protocols.

Policy lives in the service; these are storage verbs only. Every adapter (S3,
filesystem, DynamoDB, SQLite, in-memory) passes the same contract suite.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from imgflow.facts import ProcessResult
from imgflow.recipes import Limits, Recipe
from imgflow.records import ImageRecord, Status


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str | None = None
    last_modified: float | None = None


@dataclass(frozen=True)
class PresignedUpload:
    """How a client uploads straight to the store: a form POST to ``url`` with ``fields`` then ``file``."""

    url: str
    fields: Mapping[str, str]
    expires_at: float
    method: str = "POST"
    #: the form field that carries the file (S3 wants it last)
    file_field: str = "file"


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str, cache_control: str | None = None) -> ObjectInfo: ...

    def get(self, key: str, *, max_bytes: int, etag: str | None = None) -> bytes:
        """Raises NotFound, TooLarge past ``max_bytes``, Conflict if ``etag`` no longer matches."""
        ...

    def head(self, key: str) -> ObjectInfo: ...

    def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    def download_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str: ...

    def presign_upload(self, key: str, *, content_type: str, max_size: int, expires_in: int) -> PresignedUpload:
        """Pins the key, the content type and a content-length-range [1, max_size]; expires_in <= 900."""
        ...


@dataclass(frozen=True)
class Page:
    items: list[ImageRecord]
    cursor: str | None = None


@dataclass(frozen=True)
class Expect:
    """The condition of a transition. All given parts must hold."""

    states: Collection[Status]
    #: the record's lease token must equal this
    lease_token: str | None = None
    #: also allow a ``processing`` record whose lease expired before this instant (epoch s)
    lease_expired_before: float | None = None
    #: the record's version must equal this
    version: int | None = None


class Catalog(Protocol):
    def create(self, record: ImageRecord) -> ImageRecord:
        """Raises Conflict if the id exists."""
        ...

    def get(self, image_id: str) -> ImageRecord:
        """Raises NotFound. Owner scoping is the service's job."""
        ...

    def transition(self, image_id: str, expect: Expect, changes: Mapping[str, Any]) -> ImageRecord:
        """Apply ``changes`` (record field -> value; None removes) only if ``expect`` holds.

        Atomic. Bumps ``version`` and ``updated_at`` (unless given). Raises NotFound,
        or Conflict when the condition fails. Returns the record as written.
        """
        ...

    def list(self, owner: str, *, status: Status | None = None, limit: int = 50, cursor: str | None = None,
             tags: Collection[str] = ()) -> Page:  # fmt: skip
        """The owner's records, newest first, ``limit`` at most; pass ``cursor`` back for the next page.

        ``tags``: only records that have every one of them (compared as :func:`imgflow.usermeta.tag_key`)."""
        ...

    def delete(self, image_id: str) -> None:
        """Hard delete; idempotent."""
        ...

    def pending_events(self, limit: int = 100) -> builtins.list[ImageRecord]:
        """For the reconcile sweep: ``done`` / ``failed`` records whose event is still pending
        (``event_pending`` equal to the status), oldest update first, ``limit`` at most."""
        ...

    def stale(self, now: float, *, older_than: float, limit: int = 100) -> builtins.list[ImageRecord]:
        """For the reconcile sweep: ``processing`` with an expired lease, and ``awaiting_upload`` /
        ``queued`` records last updated before ``older_than``. Not on any request path."""
        ...


@dataclass(frozen=True)
class ImageEvent:
    """What downstream systems hear when an image ends ``done`` or ``failed`` (an EventBridge
    event on AWS, a signed webhook locally): ``source`` ``imgflow``, a detail type, a JSON detail."""

    detail_type: str
    detail: Mapping[str, Any]
    source: str = "imgflow"


class EventPublisher(Protocol):
    def publish(self, event: ImageEvent) -> None:
        """Deliver or raise (:class:`imgflow.errors.StorageError`): the caller keeps the event pending."""
        ...


class Processor(Protocol):
    """Bytes and a recipe in, renditions and facts out (``imgflow.processing.process_image``).

    Injected into the service so that processes which only serve the API never
    import the image engine. Raises :class:`imgflow.errors.InputError` subclasses
    for bad images and :class:`imgflow.errors.BadRecipe` for bad recipes.
    """

    def __call__(self, data: bytes, recipe: Recipe, limits: Limits) -> ProcessResult: ...
