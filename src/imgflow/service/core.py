"""The use cases, behind one class that the API, the AWS handlers and the local workers call.

Each use case lives in a small module of this package; this class holds the ports and the policy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import replace

from imgflow.errors import BadRecipe
from imgflow.ports import Catalog, EventPublisher, ObjectStore, Page, PresignedUpload, Processor
from imgflow.records import ImageRecord, Status
from imgflow.service import attempts, backfill, events, manage, outbox, process, retry, uploads
from imgflow.service import reconcile as sweep
from imgflow.service.types import Outcome, ReconcileReport, ServiceConfig

log = logging.getLogger("imgflow.service")

__all__ = ["ImageService", "Outcome", "ReconcileReport", "ServiceConfig"]


class ImageService:
    """``on_queued`` announces a move to ``queued`` that no store event will announce (reprocess:
    the original is already stored), for runtimes whose catalog does not enqueue by itself (AWS:
    a message on the processor's queue). Direct and presigned uploads need no announcement: the
    store's own ObjectCreated event (S3) or the catalog's job queue (SQLite) carries them. An
    error in the hook is logged, and the reconcile sweep picks the record up later.

    ``rerun_later`` asks for a record to be handled again once the attempt in hand ends (an object
    landed while it was ``processing``): locally a job that the queue runs once more after the
    worker holding it finishes. On AWS the object's own ObjectCreated event does it (redelivered
    while the lease lives), so the hook stays None.
    ``publisher``: where an image's ``Image Processed`` / ``Image Failed`` event goes when it ends
    (:mod:`imgflow.service.outbox`); ``on_publish_error`` counts the failures; ``background``
    runs each delivery off the caller's thread (a local worker must not wait on a webhook)."""

    def __init__(
        self,
        *,
        originals: ObjectStore,
        renditions: ObjectStore,
        catalog: Catalog,
        config: ServiceConfig,
        processor: Processor | None = None,
        clock: Callable[[], float] = time.time,
        on_queued: Callable[[ImageRecord], None] | None = None,
        rerun_later: Callable[[ImageRecord], None] | None = None,
        publisher: EventPublisher | None = None,
        on_publish_error: Callable[[ImageRecord], None] | None = None,
        background: Callable[[Callable[[], object]], None] | None = None,
    ) -> None:
        self.originals = originals
        self.renditions = renditions
        self.catalog = catalog
        self.config = config
        self.processor = processor
        self.clock = clock
        self.on_queued = on_queued
        self.rerun_later = rerun_later
        self.publisher = publisher
        self.on_publish_error = on_publish_error
        self.background = background

    # --- arrival ---------------------------------------------------------------
    def create_upload(
        self, owner: str, *, filename: str | None, content_type: str, size: int, recipe: str | None = None
    ) -> tuple[ImageRecord, PresignedUpload]:
        """Presigned path: a record ``awaiting_upload`` and where to POST the file.

        Raises UnsupportedFormat (type not accepted), TooLarge, BadRequest (size < 1), BadRecipe."""
        return uploads.create_upload(
            self, owner, filename=filename, content_type=content_type, size=size, recipe=recipe
        )

    def ingest(
        self,
        owner: str,
        data: bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        recipe: str | None = None,
    ) -> ImageRecord:
        """Direct path: create the record, store the original, then mark it ``queued``.

        The bytes decide the type (``content_type`` is not trusted): TooLarge past
        ``direct_upload_max_bytes``, UnsupportedFormat by magic bytes; nothing is stored then."""
        return uploads.ingest(self, owner, data, filename=filename, recipe=recipe)

    def check_direct(self, data: bytes) -> str:
        """What :meth:`ingest` refuses before storing anything; returns the sniffed format."""
        return uploads.check_direct(self, data)

    def upload_completed(self, key: str) -> ImageRecord | None:
        """A presigned upload landed (locally: the upload route calls this): awaiting_upload -> queued.

        None when the key is not an original awaiting its upload (an upload that lands on a
        deleted image's tombstone is removed)."""
        return uploads.upload_completed(self, key)

    def can_accept_upload(self, key: str) -> bool:
        """Whether an upload to ``key`` may be written: only while its record is ``awaiting_upload``
        (a reused grant must not replace the original of a processed or deleted image)."""
        return uploads.can_accept_upload(self, key)

    # --- processing ------------------------------------------------------------
    def handle_object_created(self, key: str, *, etag: str | None = None, lease_token: str | None = None) -> Outcome:
        """The processor's core: ignore foreign keys, HEAD, claim with a lease, process, record.

        Never raises for a bad image or a storage hiccup: ``retry_later`` means redeliver.
        The HEAD's ETag is the truth; ``etag`` (the event's) is informational, since events
        may be merged or late. ``lease_token``: the token to claim the record with (default: a
        fresh one), for a caller that keeps the lease alive with :meth:`renew_lease`."""
        outcome = events.handle_object_created(self, key, lease_token=lease_token)
        if outcome.kind in ("done", "failed") and outcome.record is not None:
            outcome = replace(outcome, record=self.announce(outcome.record))
        if etag is not None and outcome.record is not None and outcome.record.etag not in (None, etag):
            log.info("event etag differs from the object's", extra={"key": key, "event_etag": etag})
        return outcome

    def renew_lease(self, image_id: str, lease_token: str) -> float | None:
        """Extend a ``processing`` record's lease held with ``lease_token`` by ``lease_seconds``:
        the new expiry, or None when the record is not (or no longer) processing under that token."""
        return process.renew_lease(self, image_id, lease_token)

    # --- attempts the runtime ends, and the retry policy it applies -------------------
    def retry_delay(self, outcome: Outcome, deliveries: int) -> float | None:
        """For a ``retry_later`` outcome whose event was delivered ``deliveries`` times: the
        seconds to wait before the next delivery (exponential backoff; minutes after a full
        disk; a live lease: until it ends), or None: stop delivering and call :meth:`dead_letter`."""
        return retry.retry_delay(self, outcome, deliveries)

    def release_attempt(self, image_id: str, lease_token: str) -> None:
        """The attempt holding ``lease_token`` died (a worker crashed): its record's lease ends now."""
        attempts.release_attempt(self, image_id, lease_token)

    def end_attempt(self, image_id: str, lease_token: str, code: str, message: str) -> ImageRecord | None:
        """The runtime stopped the attempt holding ``lease_token`` for good (``timeout``,
        ``memory_limit``): the record ends ``failed`` with ``code``. None if that lease is gone."""
        return attempts.end_attempt(self, image_id, lease_token, code, message)

    def dead_letter(self, image_id: str, reason: str) -> ImageRecord | None:
        """The runtime stopped delivering: fail the record ``dead_lettered`` with ``reason``
        (unless a live lease or a final state owns it: None)."""
        return attempts.dead_letter(self, image_id, reason)

    def reconcile(self, *, limit: int = 100, requeue: Callable[[ImageRecord], None] | None = None) -> ReconcileReport:
        """One sweep over at most ``limit`` stale records (see :mod:`imgflow.service.reconcile`).

        Without ``requeue`` it processes what it re-drives (needs the processor); with it, it
        calls ``requeue(record)`` instead (e.g. an SqsNotifier: the processors take it from the
        queue) and needs no processor. Either way a missing original fails ``object_missing``
        and an abandoned upload ``upload_expired``."""
        report = sweep.reconcile(self, limit=limit, requeue=requeue)
        try:
            report.published.extend(outbox.republish(self, limit=limit))
        except Exception:
            log.exception("could not republish pending events")
        return report

    def announce(self, record: ImageRecord) -> ImageRecord:
        """Publish an ended record's pending event (in the background when the runtime gave one);
        what does not go out stays pending for the reconcile sweep. Returns the record as it is
        now (its mark cleared once the event went out inline)."""
        if record.event_pending is None:
            return record
        if self.background is not None:
            self.background(lambda: outbox.deliver(self, record))
            return record
        try:
            return outbox.deliver(self, record) or record
        except Exception:
            log.exception("event delivery raised; the sweep retries", extra={"image_id": record.image_id})
            return record

    # --- the user's images -------------------------------------------------------
    def get(self, owner: str, image_id: str) -> ImageRecord:
        return manage.get(self, owner, image_id)

    def list(self, owner: str, *, status: Status | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        return manage.list_images(self, owner, status=status, limit=limit, cursor=cursor)

    def delete(self, owner: str, image_id: str) -> None:
        manage.delete(self, owner, image_id)

    def reprocess(self, owner: str, image_id: str, *, recipe: str | None = None) -> ImageRecord:
        return manage.reprocess(self, owner, image_id, recipe=recipe)

    # --- an operator's backfill (across owners) -------------------------------------
    def needs_backfill(
        self, record: ImageRecord, *, statuses: Collection[Status] = ("done", "failed"), recipe: str | None = None
    ) -> bool:
        """Whether ``record``'s recipe changed since its generation was made (see :mod:`.backfill`)."""
        return backfill.needs_backfill(record, self.config, statuses=statuses, recipe=recipe)

    def redrive(self, record: ImageRecord) -> ImageRecord:
        """Reprocess ``record`` on its owner's behalf: a new generation, announced as a reprocess is."""
        return backfill.redrive(self, record)

    def rendition_url(self, key: str) -> str:
        """A URL made at read time: CDN base, or the store's presigned/signed download URL."""
        if self.config.cdn_base_url:
            return f"{self.config.cdn_base_url.rstrip('/')}/{key}"
        return self.renditions.download_url(key, expires_in=self.config.download_url_ttl)

    # --- helpers the use-case modules share ----------------------------------------
    def recipe_name(self, name: str | None) -> str:
        key = name or self.config.default_recipe
        if key not in self.config.recipes:
            raise BadRecipe(f"no recipe named {key!r}; known: {', '.join(sorted(self.config.recipes))}")
        return key

    def redrive_later(self, record: ImageRecord) -> None:
        """A storage error propagates: nothing else would notice the newer object."""
        if self.rerun_later is not None:
            self.rerun_later(record)

    def notify_queued(self, record: ImageRecord) -> None:
        if self.on_queued is None:
            return
        try:
            self.on_queued(record)
        except Exception:
            log.exception(
                "on_queued failed; the reconcile sweep will pick the record up", extra={"image_id": record.image_id}
            )
