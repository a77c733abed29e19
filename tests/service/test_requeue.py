"""``reconcile(requeue=...)``: the sweep hands stale records to a queue instead of processing them."""

from __future__ import annotations

import pytest
from svc_kit import PNG, Kit

from imgflow.errors import ConfigError, StorageError
from imgflow.records import ImageRecord
from imgflow.service import ImageService


class Queue:
    """What the sweep sent, in order; ``broken`` makes every send fail like an SQS outage."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.broken = False

    def __call__(self, record: ImageRecord) -> None:
        if self.broken:
            raise StorageError("SQS unreachable")
        self.sent.append(record.image_id)


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def sweeper(kit: Kit) -> ImageService:
    """The reconciler: built without the image engine, over the same stores."""
    return kit.without_processor()


def _grace(kit: Kit) -> None:
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)


def test_a_lost_job_is_requeued_not_processed(kit: Kit, queue: Queue, sweeper: ImageService) -> None:
    record = kit.service.ingest("alice", PNG)
    _grace(kit)
    report = sweeper.reconcile(requeue=queue)
    assert report.requeued == queue.sent == [record.image_id]
    assert report.redriven == report.failed == report.expired == []
    waiting = kit.catalog.get(record.image_id)
    assert (waiting.status, waiting.attempts) == ("queued", 0)
    assert kit.processor.calls == 0


def test_a_requeued_record_is_sent_at_most_once_per_grace_period(kit: Kit, queue: Queue, sweeper: ImageService) -> None:
    record = kit.upload()  # landed, but its event was lost
    _grace(kit)
    assert sweeper.reconcile(requeue=queue).requeued == [record.image_id]
    assert sweeper.reconcile(requeue=queue).requeued == []  # touched: back of the line
    _grace(kit)
    assert sweeper.reconcile(requeue=queue).requeued == [record.image_id]
    assert queue.sent == [record.image_id] * 2
    assert kit.catalog.get(record.image_id).status == "awaiting_upload"


def test_a_dead_lease_goes_back_to_queued_once_and_is_then_processed(
    kit: Kit, queue: Queue, sweeper: ImageService
) -> None:
    record = kit.upload()
    kit.crash_mid_job(record.key)
    assert sweeper.reconcile(requeue=queue).requeued == []  # the lease is still live
    kit.clock.advance(kit.service.config.lease_seconds + 1)
    assert sweeper.reconcile(requeue=queue).requeued == [record.image_id]
    back = kit.catalog.get(record.image_id)
    assert (back.status, back.lease_token, back.attempts) == ("queued", None, 1)
    assert sweeper.reconcile(requeue=queue).requeued == []  # no longer a dead lease
    # the processor takes the message
    assert kit.service.handle_object_created(record.key).kind == "done"
    assert kit.catalog.get(record.image_id).attempts == 2


def test_missing_originals_fail_and_abandoned_uploads_expire_without_a_processor(
    kit: Kit, queue: Queue, sweeper: ImageService
) -> None:
    gone = kit.service.ingest("alice", PNG)
    kit.originals.delete(gone.key)
    abandoned, _ = kit.service.create_upload("alice", filename=None, content_type="image/png", size=10)
    kit.clock.advance(kit.service.config.upload_url_ttl + kit.service.config.reconcile_grace_seconds + 1)
    report = sweeper.reconcile(requeue=queue)
    assert (report.failed, report.expired, report.requeued) == ([gone.image_id], [abandoned.image_id], [])
    failed = kit.catalog.get(gone.image_id)
    assert failed.error is not None
    assert failed.error.code == "object_missing"
    assert queue.sent == []


def test_a_dead_lease_whose_original_vanished_fails_instead_of_being_requeued(
    kit: Kit, queue: Queue, sweeper: ImageService
) -> None:
    record = kit.upload()
    kit.crash_mid_job(record.key)
    kit.originals.delete(record.key)
    kit.clock.advance(kit.service.config.lease_seconds + 1)
    report = sweeper.reconcile(requeue=queue)
    assert (report.failed, report.requeued) == ([record.image_id], [])
    failed = kit.catalog.get(record.image_id)
    assert (failed.status, failed.lease_token) == ("failed", None)


def test_a_failed_send_is_retried_by_a_later_sweep(kit: Kit, queue: Queue, sweeper: ImageService) -> None:
    record = kit.service.ingest("alice", PNG)
    _grace(kit)
    queue.broken = True
    assert sweeper.reconcile(requeue=queue).requeued == []
    queue.broken = False
    assert sweeper.reconcile(requeue=queue).requeued == []  # touched all the same
    _grace(kit)
    assert sweeper.reconcile(requeue=queue).requeued == [record.image_id]


def test_without_requeue_the_sweep_still_needs_the_processor(kit: Kit, queue: Queue, sweeper: ImageService) -> None:
    with pytest.raises(ConfigError):
        sweeper.reconcile()
