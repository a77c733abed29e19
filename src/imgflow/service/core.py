"""The use cases, behind one thin facade that the API, the AWS handlers and the local workers call.

Each use case lives in a small module of this package, a function of the :class:`Deps` it is
given; this class holds those and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from imgflow.ports import Catalog, EventPublisher, ObjectStore, Page, PresignedUpload, Processor
from imgflow.records import ImageRecord, Status
from imgflow.service import annotate, attempts, backfill, events, manage, outbox, process, retry, uploads
from imgflow.service import reconcile as sweep
from imgflow.service.deps import Deps
from imgflow.service.types import Outcome, ReconcileReport, ServiceConfig
from imgflow.usermeta import UserMeta

log = logging.getLogger("imgflow.service")

__all__ = ["Deps", "ImageService", "Outcome", "ReconcileReport", "ServiceConfig"]


class ImageService:
    """The public verbs the API, the AWS handlers and the local workers call: each hands the
    :class:`~imgflow.service.deps.Deps` it was built with to one use case. Built by
    :func:`imgflow.bootstrap.build_service`; the ports are readable here (read-only) for the
    wiring that serves local files or counts pending jobs."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @property
    def originals(self) -> ObjectStore:
        return self.deps.originals

    @property
    def renditions(self) -> ObjectStore:
        return self.deps.renditions

    @property
    def catalog(self) -> Catalog:
        return self.deps.catalog

    @property
    def config(self) -> ServiceConfig:
        return self.deps.config

    @config.setter
    def config(self, config: ServiceConfig) -> None:
        """Swap the policy at runtime (a configuration pushed to S3, a backfill's recipes): a new
        :class:`Deps` with it; a use case already running keeps the record it was given."""
        self.deps = replace(self.deps, config=config)

    @property
    def processor(self) -> Processor | None:
        return self.deps.processor

    @property
    def clock(self) -> Callable[[], float]:
        return self.deps.clock

    @property
    def on_queued(self) -> Callable[[ImageRecord], None] | None:
        return self.deps.on_queued

    @property
    def rerun_later(self) -> Callable[[ImageRecord], None] | None:
        return self.deps.rerun_later

    @property
    def publisher(self) -> EventPublisher | None:
        return self.deps.publisher

    @property
    def on_publish_error(self) -> Callable[[ImageRecord], None] | None:
        return self.deps.on_publish_error

    @property
    def background(self) -> Callable[[Callable[[], object]], None] | None:
        return self.deps.background

    # --- arrival ---------------------------------------------------------------
    def create_upload(
        self,
        owner: str,
        *,
        filename: str | None,
        content_type: str,
        size: int,
        recipe: str | None = None,
        meta: UserMeta | None = None,
    ) -> tuple[ImageRecord, PresignedUpload]:
        """Presigned path: a record ``awaiting_upload`` (with the user's ``meta``) and where to POST the file.

        Raises UnsupportedFormat (type not accepted), TooLarge, BadRequest (size < 1), BadRecipe."""
        return uploads.create_upload(
            self.deps, owner, filename=filename, content_type=content_type, size=size, recipe=recipe, meta=meta
        )

    def ingest(
        self,
        owner: str,
        data: bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        recipe: str | None = None,
        meta: UserMeta | None = None,
    ) -> ImageRecord:
        """Direct path: create the record, store the original, then mark it ``queued``.

        The bytes decide the type (``content_type`` is not trusted): TooLarge past
        ``direct_upload_max_bytes``, UnsupportedFormat by magic bytes; nothing is stored then."""
        return uploads.ingest(self.deps, owner, data, filename=filename, recipe=recipe, meta=meta)

    def check_direct(self, data: bytes) -> str:
        """What :meth:`ingest` refuses before storing anything; returns the sniffed format."""
        return uploads.check_direct(self.deps, data)

    def check_head(self, head: bytes) -> str:
        """The format of a presigned upload's first bytes, or UnsupportedFormat (see :func:`uploads.check_head`)."""
        return uploads.check_head(self.deps, head)

    def upload_completed(self, key: str) -> ImageRecord | None:
        """A presigned upload landed (locally: the upload route calls this): awaiting_upload -> queued.

        None when the key is not an original awaiting its upload (an upload that lands on a
        deleted image's tombstone is removed)."""
        return uploads.upload_completed(self.deps, key)

    def complete_upload(self, owner: str, image_id: str) -> ImageRecord:
        """The client's own "my presigned upload landed" (see :func:`.uploads.complete_upload`)."""
        return uploads.complete_upload(self.deps, owner, image_id)

    def can_accept_upload(self, key: str) -> bool:
        """Whether an upload to ``key`` may be written: only while its record is ``awaiting_upload``
        (a reused grant must not replace the original of a processed or deleted image)."""
        return uploads.can_accept_upload(self.deps, key)

    # --- processing ------------------------------------------------------------
    def handle_object_created(self, key: str, *, etag: str | None = None, lease_token: str | None = None) -> Outcome:
        """The processor's core: ignore foreign keys, HEAD, claim with a lease, process, record.

        Never raises for a bad image or a storage hiccup: ``retry_later`` means redeliver.
        The HEAD's ETag is the truth; ``etag`` (the event's) is informational, since events
        may be merged or late. ``lease_token``: the token to claim the record with (default: a
        fresh one), for a caller that keeps the lease alive with :meth:`renew_lease`."""
        outcome = events.handle_object_created(self.deps, key, lease_token=lease_token)
        if etag is not None and outcome.record is not None and outcome.record.etag not in (None, etag):
            log.info("event etag differs from the object's", extra={"key": key, "event_etag": etag})
        return outcome

    def renew_lease(self, image_id: str, lease_token: str) -> float | None:
        """Extend a ``processing`` record's lease held with ``lease_token`` by ``lease_seconds``:
        the new expiry, or None when the record is not (or no longer) processing under that token."""
        return process.renew_lease(self.deps, image_id, lease_token)

    # --- attempts the runtime ends, and the retry policy it applies -------------------
    def retry_delay(self, outcome: Outcome, deliveries: int) -> float | None:
        """For a ``retry_later`` outcome whose event was delivered ``deliveries`` times: the
        seconds to wait before the next delivery (exponential backoff; minutes after a full
        disk; a live lease: until it ends), or None: stop delivering and call :meth:`dead_letter`."""
        return retry.retry_delay(self.deps, outcome, deliveries)

    def release_attempt(self, image_id: str, lease_token: str) -> None:
        """The attempt holding ``lease_token`` died (a worker crashed): its record's lease ends now."""
        attempts.release_attempt(self.deps, image_id, lease_token)

    def end_attempt(self, image_id: str, lease_token: str, code: str, message: str) -> ImageRecord | None:
        """The runtime stopped the attempt holding ``lease_token`` for good (``timeout``,
        ``memory_limit``): the record ends ``failed`` with ``code``. None if that lease is gone."""
        return attempts.end_attempt(self.deps, image_id, lease_token, code, message)

    def dead_letter(self, image_id: str, reason: str) -> ImageRecord | None:
        """The runtime stopped delivering: fail the record ``dead_lettered`` with ``reason``
        (unless a live lease or a final state owns it: None)."""
        return attempts.dead_letter(self.deps, image_id, reason)

    def reconcile(self, *, limit: int = 100, requeue: Callable[[ImageRecord], None] | None = None) -> ReconcileReport:
        """One sweep over at most ``limit`` stale records (see :mod:`imgflow.service.reconcile`).

        Without ``requeue`` it processes what it re-drives (needs the processor); with it, it
        calls ``requeue(record)`` instead (e.g. an SqsNotifier: the processors take it from the
        queue) and needs no processor. Either way a missing original fails ``object_missing``
        and an abandoned upload ``upload_expired``."""
        return sweep.reconcile(self.deps, limit=limit, requeue=requeue)

    def announce(self, record: ImageRecord) -> ImageRecord:
        """Publish an ended record's pending event (see :func:`imgflow.service.outbox.announce`)."""
        return outbox.announce(self.deps, record)

    # --- the user's images -------------------------------------------------------
    def get(self, owner: str, image_id: str) -> ImageRecord:
        return manage.get(self.deps, owner, image_id)

    def list(self, owner: str, *, status: Status | None = None, limit: int = 50, cursor: str | None = None,
             tags: Sequence[str] = ()) -> Page:  # fmt: skip
        """The owner's images, newest first; ``tags``: only those that have all of them."""
        return manage.list_images(self.deps, owner, status=status, limit=limit, cursor=cursor, tags=tags)

    def patch(self, owner: str, image_id: str, body: object, *, if_match: int | None = None) -> ImageRecord:
        """Change the image's tags, alt text or metadata by an RFC 7396 merge patch (see
        :mod:`imgflow.service.annotate`): InvalidField names a bad value, PreconditionFailed a stale ``if_match``."""
        return annotate.patch(self.deps, owner, image_id, body, if_match=if_match)

    def delete(self, owner: str, image_id: str) -> None:
        manage.delete(self.deps, owner, image_id)

    def reprocess(self, owner: str, image_id: str, *, recipe: str | None = None) -> ImageRecord:
        return manage.reprocess(self.deps, owner, image_id, recipe=recipe)

    # --- an operator's backfill (across owners) -------------------------------------
    def needs_backfill(
        self, record: ImageRecord, *, statuses: Collection[Status] = ("done", "failed"), recipe: str | None = None
    ) -> bool:
        """Whether ``record``'s recipe changed since its generation was made (see :mod:`.backfill`)."""
        return backfill.needs_backfill(record, self.config, statuses=statuses, recipe=recipe)

    def redrive(self, record: ImageRecord) -> ImageRecord:
        """Reprocess ``record`` on its owner's behalf: a new generation, announced as a reprocess is."""
        return backfill.redrive(self.deps, record)

    def rendition_url(self, key: str) -> str:
        """A URL made at read time: CDN base, or the store's presigned/signed download URL."""
        if self.config.cdn_base_url:
            return f"{self.config.cdn_base_url.rstrip('/')}/{key}"
        return self.renditions.download_url(key, expires_in=self.config.download_url_ttl)
