"""Image events through the port: once the record is written, at least once, never failing it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from svc_kit import PNG, Kit

from imgflow.adapters.sqlite_queue import SqliteJobQueue
from imgflow.errors import StorageError
from imgflow.ports import ImageEvent
from imgflow.runtimes.local.worker import Worker
from imgflow.service import outbox
from imgflow.service.retry import EXTRA_DELIVERIES
from imgflow.usermeta import UserMeta


@dataclass
class Recorder:
    """A publisher that records what it gets and can be told to fail its next ``fail`` calls."""

    kit: Kit
    events: list[ImageEvent] = field(default_factory=list)
    fail: int = 0
    #: the record's status when each event went out (never before the end is written)
    seen: list[str] = field(default_factory=list)

    def publish(self, event: ImageEvent) -> None:
        if self.fail > 0:
            self.fail -= 1
            raise StorageError("bus unreachable (test)")
        self.seen.append(self.kit.catalog.get(str(event.detail["image_id"])).status)
        self.events.append(event)


def _recorder(kit: Kit) -> Recorder:
    recorder = Recorder(kit)
    kit.service.deps = replace(kit.service.deps, publisher=recorder)
    return recorder


def test_done_and_failed_are_published_after_the_write_and_cleared(kit: Kit) -> None:
    recorder = _recorder(kit)
    good = kit.upload()
    done = kit.service.handle_object_created(good.key)
    bad = kit.upload(data=b"BM" + b"\0" * 100, declared="image/png")  # declared PNG, the bytes are a BMP
    failed = kit.service.handle_object_created(bad.key)
    assert (done.kind, failed.kind) == ("done", "failed")
    assert [e.detail_type for e in recorder.events] == ["Image Processed", "Image Failed"]
    assert recorder.seen == ["done", "failed"]  # the record was written before its event went out
    first, second = (e.detail for e in recorder.events)
    assert first["renditions"] == [
        {"name": r.name, "key": r.key, "content_type": r.content_type, "width": r.width, "height": r.height,
         "bytes": r.bytes}
        for r in kit.catalog.get(good.image_id).renditions
    ]  # fmt: skip
    assert second["error"]["code"] == "unsupported_type"
    assert (first["tags"], first["metadata"], "alt" in first) == ([], {}, False)  # none given: empty, no alt
    assert kit.catalog.get(good.image_id).event_pending is None
    assert done.record is not None
    assert done.record.event_pending is None  # the answer is the record as it is now
    assert kit.service.reconcile().published == []  # nothing left to send


def test_an_outage_never_fails_the_image_and_the_sweep_resends(kit: Kit) -> None:
    recorder = _recorder(kit)
    counted: list[str] = []
    kit.service.deps = replace(kit.service.deps, on_publish_error=lambda record: counted.append(record.image_id))
    recorder.fail = 1
    record = kit.upload()
    outcome = kit.service.handle_object_created(record.key)
    assert outcome.kind == "done"
    assert kit.catalog.get(record.image_id).event_pending == "done"
    assert counted == [record.image_id]
    assert recorder.events == []
    report = kit.service.reconcile()
    assert report.published == [record.image_id]
    assert [e.detail["image_id"] for e in recorder.events] == [record.image_id]
    assert kit.catalog.get(record.image_id).event_pending is None


def test_a_newer_end_keeps_its_own_mark(kit: Kit) -> None:
    """A publisher that took the first end's event must not clear the mark of a later end."""
    recorder = _recorder(kit)
    recorder.fail = 1
    record = kit.upload()
    kit.service.handle_object_created(record.key)
    stale = kit.catalog.get(record.image_id)  # done, pending, generation 1
    kit.service.reprocess("alice", record.image_id)
    recorder.fail = 1
    kit.service.handle_object_created(record.key)  # generation 2 ends, its event pending too
    outbox.deliver(kit.service, stale)  # a late publisher with the old record
    now = kit.catalog.get(record.image_id)
    assert (now.generation, now.event_pending) == (2, "done")
    assert kit.service.reconcile().published == [record.image_id]
    assert recorder.events[-1].detail["generation"] == 2


def test_the_local_dead_letter_announces_the_failure(kit: Kit, tmp_path: Path) -> None:
    recorder = _recorder(kit)
    record = kit.upload()
    kit.service.upload_completed(record.key)
    queue = SqliteJobQueue(tmp_path / "jobs.db")
    try:
        queue.enqueue(record.image_id, 1)
        worker = Worker(kit.service, queue, lease_seconds=5)
        # every allowed delivery went and never finished (a worker killed each time)
        for _ in range(kit.service.config.max_attempts + EXTRA_DELIVERIES):
            job = queue.claim("w", 5.0)
            assert job is not None
            queue.release(job.job_id, job.token)
        job = queue.claim("w", 5.0)
        assert job is not None
        worker.run_one(job)  # one past max_attempts: dead-lettered
    finally:
        queue.close()
    failed = kit.catalog.get(record.image_id)
    assert (failed.status, failed.error.code if failed.error else None) == ("failed", "dead_lettered")
    assert [(e.detail_type, e.detail["error"]["code"]) for e in recorder.events] == [("Image Failed", "dead_lettered")]
    assert failed.event_pending is None


def test_events_carry_the_users_tags_alt_and_metadata(kit: Kit) -> None:
    recorder = _recorder(kit)
    record, grant = kit.service.create_upload(
        "alice", filename="a.png", content_type="image/png", size=len(PNG),
        meta=UserMeta(tags=("Sea",), alt="the sea", metadata={"id": "7"}),
    )  # fmt: skip
    kit.originals.accept_upload(grant.fields, PNG)
    assert kit.service.handle_object_created(record.key).kind == "done"
    detail = recorder.events[-1].detail
    assert (detail["tags"], detail["alt"], detail["metadata"]) == (["Sea"], "the sea", {"id": "7"})
