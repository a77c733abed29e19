"""The sweep's service on AWS: re-driving a record sends the processors' queue a message.

:meth:`ImageService.reconcile` re-drives a stale record through ``handle_object_created``,
which processes the image in the sweep. :class:`QueueRedrive` is the reconciler's service
only: there that one call sends the record's S3-shaped message (the service's ``on_queued``,
an :class:`~imgflow.adapters.sqs_notifier.SqsNotifier`) and returns; the processor, fed by
the queue, claims and processes the image as it would S3's own event. Everything else the
sweep does (giving up on missing originals, expiring abandoned uploads) is the service's.
"""

from __future__ import annotations

from imgflow.errors import ConfigError
from imgflow.facts import ProcessResult
from imgflow.recipes import Limits, Recipe
from imgflow.service import ImageService, Outcome, ReconcileReport
from imgflow.service.keys import image_id_from_key


def _never_processes(data: bytes, recipe: Recipe, limits: Limits) -> ProcessResult:
    raise ConfigError("the reconciler re-drives through the queue; it never processes an image")


class QueueRedrive(ImageService):
    """Build with :meth:`over`; run a sweep with :meth:`sweep`."""

    requeued: list[str]

    @classmethod
    def over(cls, base: ImageService) -> QueueRedrive:
        """The same ports and policy as ``base``, whose ``on_queued`` must announce on the queue."""
        if base.on_queued is None:
            raise ConfigError("re-driving through the queue needs the queue (IMGFLOW_QUEUE_URL)")
        service = cls(
            originals=base.originals,
            renditions=base.renditions,
            catalog=base.catalog,
            config=base.config,
            processor=_never_processes,  # reconcile() insists on one; handle_object_created never calls it
            clock=base.clock,
            on_queued=base.on_queued,
        )
        service.requeued = []
        return service

    def sweep(self, *, limit: int) -> tuple[ReconcileReport, list[str]]:
        """One reconcile pass; also answers the ids whose message was sent."""
        self.requeued = []
        report = self.reconcile(limit=limit)
        return report, list(self.requeued)

    def handle_object_created(self, key: str, *, etag: str | None = None, lease_token: str | None = None) -> Outcome:
        """Announce instead of process (no claim, so no attempt is spent). A send that fails raises:
        reconcile logs it and goes on, and a later sweep tries again."""
        image_id = image_id_from_key(key)
        if image_id is None or self.on_queued is None:
            return Outcome("ignored", image_id, reason="not_an_original")
        record = self.catalog.get(image_id)
        self.on_queued(record)
        self.requeued.append(image_id)
        return Outcome("unchanged", image_id, reason="requeued", record=record)
