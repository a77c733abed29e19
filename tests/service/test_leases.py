"""A worker that lost its lease never deletes what the winner's record points to; a long job keeps its lease."""

from __future__ import annotations

import time
from pathlib import Path

from svc_kit import Kit, writes

from imgflow.adapters.faults import Call
from imgflow.adapters.sqlite_queue import SqliteJobQueue
from imgflow.errors import CorruptImage, StorageError
from imgflow.runtimes.local.worker import Worker


def _stored(kit: Kit, image_id: str) -> list[str]:
    return sorted(kit.rendition_keys(image_id))


def _pointed_to(kit: Kit, image_id: str) -> list[str]:
    return sorted(r.key for r in kit.catalog.get(image_id).renditions)


def test_a_failure_after_losing_the_lease_keeps_the_winners_renditions(kit: Kit) -> None:
    record = kit.upload()
    seen = {}

    def during() -> None:  # worker A, decoding: its lease runs out, B redoes the image, A's decode fails
        kit.processor.during = None
        kit.clock.advance(kit.service.config.lease_seconds + 1)
        seen["B"] = kit.service.handle_object_created(record.key).kind
        kit.processor.raises = CorruptImage("A's decode failed")

    kit.processor.during = during
    a = kit.service.handle_object_created(record.key)
    assert (a.kind, a.reason, seen["B"]) == ("ignored", "lease_lost", "done")
    assert kit.catalog.get(record.image_id).status == "done"
    assert _pointed_to(kit, record.image_id) == _stored(kit, record.image_id) != []


def test_a_partial_write_after_losing_the_lease_keeps_the_winners_renditions(kit: Kit) -> None:
    record = kit.upload()

    def during() -> None:  # B finishes the same generation; then A's second rendition write fails
        kit.processor.during = None
        kit.clock.advance(kit.service.config.lease_seconds + 1)
        assert kit.service.handle_object_created(record.key).kind == "done"
        kit.renditions.faults.add("put", error=StorageError("S3 503"), skip=1)

    kit.processor.during = during
    # the other worker finished: nothing to redeliver, and nothing of its result is touched
    assert kit.service.handle_object_created(record.key).kind == "ignored"
    assert kit.catalog.get(record.image_id).status == "done"
    assert _pointed_to(kit, record.image_id) == _stored(kit, record.image_id) != []


def test_done_keeps_a_newer_generation_written_meanwhile(kit: Kit) -> None:
    record = kit.upload()
    fired: list[str] = []

    def reprocess(call: Call) -> None:  # right after A's done: Reprocess, and a fast worker finishes gen 2
        fired.append("reprocess")
        kit.service.reprocess("alice", call.key)
        fired.append(kit.service.handle_object_created(record.key).kind)

    kit.catalog.faults.add("transition", when=writes("done"), after=reprocess)
    assert kit.service.handle_object_created(record.key).kind == "done"
    assert fired == ["reprocess", "done"]
    final = kit.catalog.get(record.image_id)
    assert final.generation == 2
    assert _pointed_to(kit, record.image_id) == _stored(kit, record.image_id) != []


def test_a_failed_reprocess_leaves_no_rendition_behind(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    kit.service.reprocess("alice", record.image_id)
    kit.processor.raises = CorruptImage("bad")
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, kit.catalog.get(record.image_id).status) == ("failed", "failed")
    assert _stored(kit, record.image_id) == []


def test_renew_lease_extends_only_the_lease_it_holds(kit: Kit) -> None:
    record = kit.upload()
    lease = kit.service.config.lease_seconds
    seen: dict[str, object] = {}

    def during() -> None:
        claimed = kit.catalog.get(record.image_id)
        assert (claimed.lease_token, claimed.lease_expires_at) == ("mine", kit.clock.now + lease)
        seen["wrong token"] = kit.service.renew_lease(record.image_id, "not-mine")
        kit.clock.advance(lease - 1)
        seen["renewed"] = kit.service.renew_lease(record.image_id, "mine")
        kit.clock.advance(2)  # past the lease first taken
        seen["redelivery"] = kit.service.handle_object_created(record.key).reason

    kit.processor.during = during
    assert kit.service.handle_object_created(record.key, lease_token="mine").kind == "done"
    assert seen["wrong token"] is None
    assert seen["renewed"] == kit.clock.now - 2 + lease
    assert seen["redelivery"] == "lease_held"
    assert kit.processor.calls == 1
    assert kit.service.renew_lease(record.image_id, "mine") is None  # done: nothing to renew
    assert kit.service.renew_lease("NOSUCHID", "mine") is None


def test_the_local_workers_heartbeat_keeps_the_records_lease(kit: Kit, tmp_path: Path) -> None:
    record = kit.upload()
    queue = SqliteJobQueue(tmp_path / "jobs.db")
    queue.enqueue(record.image_id, 1)
    job = queue.claim("w", 5.0)
    assert job is not None
    worker = Worker(kit.service, queue, lease_seconds=0.3)
    seen: dict[str, object] = {}

    def during() -> None:  # the job outlives the record's first lease (fake clock), heartbeats run (real time)
        first = kit.catalog.get(record.image_id).lease_expires_at
        assert first == kit.clock.now + kit.service.config.lease_seconds
        kit.clock.advance(kit.service.config.lease_seconds - 1)
        deadline = time.monotonic() + 10
        while (kit.catalog.get(record.image_id).lease_expires_at or 0) <= first and time.monotonic() < deadline:
            time.sleep(0.05)
        kit.clock.advance(2)
        seen["redelivery"] = kit.service.handle_object_created(record.key).reason

    kit.processor.during = during
    try:
        worker.run_one(job)
    finally:
        queue.close()
    assert seen["redelivery"] == "lease_held"
    assert kit.catalog.get(record.image_id).status == "done"
    assert kit.processor.calls == 1


def test_a_lease_holds_through_its_expiry_instant(kit: Kit) -> None:
    """As in every catalog (``lease_expires_at < now``): at the exact instant the lease still holds,
    whether the original is there or gone; a moment later it is dead."""
    record = kit.upload()
    kit.crash_mid_job(record.key)
    held = kit.catalog.get(record.image_id)
    assert held.lease_expires_at is not None
    kit.clock.now = held.lease_expires_at
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("retry_later", "lease_held")
    kit.originals.delete(record.key)
    gone = kit.service.handle_object_created(record.key)
    assert (gone.kind, gone.reason) == ("ignored", "object_missing")
    assert kit.catalog.get(record.image_id) == held
    kit.clock.advance(0.5)
    assert kit.service.handle_object_created(record.key).kind == "failed"
