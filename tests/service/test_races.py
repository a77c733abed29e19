"""Every conditional write can lose its race: another writer gets in first (the catalog's fault
plan runs it just before the write), and the use case reads again, leaves the winner's work alone,
or says so; never a lost event, a resurrected image or a rendition a record points to deleted."""

from __future__ import annotations

import pytest
from svc_kit import PNG, Kit, touch, writes

from imgflow.adapters.faults import Call
from imgflow.errors import Conflict, StorageError, StorageForbidden
from imgflow.service import Outcome


def _touched_once(kit: Kit, status: str) -> None:
    """The next write that moves a record to ``status`` finds its version moved on."""
    kit.catalog.faults.add("transition", when=writes(status), before=lambda call: touch(kit.catalog, call.key))


# --- events: the claim and the writes around it ------------------------------------------
def test_a_claim_that_loses_the_race_reads_again_and_claims(kit: Kit) -> None:
    record = kit.upload()
    _touched_once(kit, "processing")
    outcome = kit.service.handle_object_created(record.key)
    assert outcome.kind == "done"
    assert kit.catalog.get(record.image_id).attempts == 1


def test_a_claim_lost_to_another_delivery_processes_the_image_once(kit: Kit) -> None:
    record = kit.upload()
    other: list[Outcome] = []
    kit.catalog.faults.add(
        "transition",
        when=writes("processing"),
        before=lambda _: other.append(kit.service.handle_object_created(record.key)),
    )
    outcome = kit.service.handle_object_created(record.key)
    assert [o.kind for o in other] == ["done"]
    assert (outcome.kind, outcome.reason) == ("unchanged", "already_done")
    assert kit.processor.calls == 1
    assert kit.catalog.get(record.image_id).attempts == 1


def test_a_claim_that_always_loses_asks_for_redelivery(kit: Kit) -> None:
    record = kit.upload()
    race = kit.catalog.faults.add(
        "transition", when=writes("processing"), before=lambda call: touch(kit.catalog, call.key), times=None
    )
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("retry_later", "contended")
    assert race.fired == 3
    assert kit.processor.calls == 0
    assert kit.catalog.get(record.image_id).status == "awaiting_upload"


def test_a_missing_original_fails_the_record_after_a_lost_race(kit: Kit) -> None:
    record = kit.service.ingest("alice", PNG)
    kit.originals.delete(record.key)
    _touched_once(kit, "failed")
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "object_missing")
    assert kit.catalog.get(record.image_id).status == "failed"


def test_an_unreadable_original_fails_the_record_after_a_lost_race(kit: Kit) -> None:
    record = kit.service.ingest("alice", PNG)
    kit.originals.faults.add("head", error=StorageForbidden("AccessDenied"), times=None)
    _touched_once(kit, "failed")
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "storage_forbidden")
    assert kit.catalog.get(record.image_id).status == "failed"


def test_an_operator_copy_adopted_by_another_worker_first_is_processed_once(kit: Kit) -> None:
    key = "originals/01HADOPTED000000000000000"
    kit.originals.put(key, PNG, content_type="image/png")
    other: list[Outcome] = []
    kit.catalog.faults.add("create", before=lambda _: other.append(kit.service.handle_object_created(key)))
    outcome = kit.service.handle_object_created(key)
    assert [o.kind for o in other] == ["done"]
    assert outcome.kind == "unchanged"
    assert kit.processor.calls == 1
    assert kit.catalog.get("01HADOPTED000000000000000").status == "done"


def test_the_give_up_after_max_attempts_survives_a_lost_race(kit: Kit) -> None:
    record = kit.upload()
    for _ in range(3):
        kit.crash_mid_job(record.key)
        kit.clock.advance(kit.service.config.lease_seconds + 1)
    _touched_once(kit, "failed")
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "too_many_attempts")
    assert kit.processor.calls == 3


# --- process: the done write ----------------------------------------------------------------
def test_a_failing_done_write_releases_the_lease_and_keeps_the_renditions(kit: Kit) -> None:
    record = kit.upload()
    kit.catalog.faults.add("transition", when=writes("done"), error=StorageError("DynamoDB 500"))
    first = kit.service.handle_object_created(record.key)
    assert (first.kind, first.reason) == ("retry_later", "storage_error")
    released = kit.catalog.get(record.image_id)
    assert (released.status, released.lease_token, released.lease_expires_at) == ("processing", None, 0.0)
    written = kit.rendition_keys(record.image_id)
    assert len(written) == 2  # the write may have landed: what it points to stays
    again = kit.service.handle_object_created(record.key)  # at once: the lease was given back
    assert again.kind == "done"
    done = kit.catalog.get(record.image_id)
    assert (done.attempts, sorted(r.key for r in done.renditions)) == (2, written)


def test_a_done_write_lost_to_a_takeover_keeps_the_winners_renditions(kit: Kit) -> None:
    record = kit.upload()
    winner: list[Outcome] = []

    def takeover(_: Call) -> None:  # our lease ran out just before the write; worker B redoes the image
        kit.clock.advance(kit.service.config.lease_seconds + 1)
        winner.append(kit.service.handle_object_created(record.key))

    kit.catalog.faults.add("transition", when=writes("done"), before=takeover)
    outcome = kit.service.handle_object_created(record.key)
    assert [o.kind for o in winner] == ["done"]
    assert (outcome.kind, outcome.reason) == ("ignored", "lease_lost")
    done = kit.catalog.get(record.image_id)
    assert done.status == "done"
    assert sorted(r.key for r in done.renditions) == kit.rendition_keys(record.image_id) != []


def test_a_lease_release_that_fails_still_asks_for_redelivery(kit: Kit) -> None:
    record = kit.upload()
    kit.processor.raises = StorageError("throttled")
    kit.catalog.faults.add(
        "transition",
        when=lambda call: call.args["changes"].get("lease_expires_at") == 0.0,
        error=StorageError("database is locked", code="database_locked"),
    )
    outcome = kit.service.handle_object_created(record.key, lease_token="mine")
    assert (outcome.kind, outcome.reason) == ("retry_later", "storage_error")
    held = kit.catalog.get(record.image_id)
    lease = kit.service.config.lease_seconds
    assert (held.status, held.lease_token, held.lease_expires_at) == ("processing", "mine", kit.clock.now + lease)
    assert kit.service.handle_object_created(record.key).reason == "lease_held"  # not given back: it expires
    kit.processor.raises = None
    kit.clock.advance(kit.service.config.lease_seconds + 1)
    assert kit.service.handle_object_created(record.key).kind == "done"


# --- manage: delete and reprocess --------------------------------------------------------
def test_a_delete_that_loses_the_race_tries_again(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    _touched_once(kit, "deleted")
    kit.service.delete("alice", record.image_id)
    assert kit.catalog.get(record.image_id).status == "deleted"
    assert list(kit.originals.list("originals/")) == []
    assert kit.rendition_keys(record.image_id) == []


def test_a_delete_that_always_loses_is_a_conflict_and_removes_nothing(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    race = kit.catalog.faults.add(
        "transition", when=writes("deleted"), before=lambda call: touch(kit.catalog, call.key), times=None
    )
    with pytest.raises(Conflict):
        kit.service.delete("alice", record.image_id)
    assert race.fired == 3
    assert kit.catalog.get(record.image_id).status == "done"
    assert kit.originals.head(record.key).size == len(PNG)
    assert len(kit.rendition_keys(record.image_id)) == 2


def test_a_reprocess_that_loses_the_race_is_a_conflict_and_announces_nothing(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    _touched_once(kit, "queued")
    with pytest.raises(Conflict):
        kit.service.reprocess("alice", record.image_id)
    assert kit.queued == []
    after = kit.catalog.get(record.image_id)
    assert (after.status, after.generation) == ("done", 1)


# --- reconcile ------------------------------------------------------------------------------
def test_a_sweep_that_loses_the_race_to_fail_a_record_does_not_report_it(kit: Kit) -> None:
    record = kit.service.ingest("alice", PNG)
    kit.originals.delete(record.key)
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    _touched_once(kit, "failed")
    assert kit.service.reconcile().failed == []
    assert kit.catalog.get(record.image_id).status == "queued"
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    assert kit.service.reconcile().failed == [record.image_id]


def test_a_dead_lease_requeue_that_loses_the_race_sends_nothing(kit: Kit) -> None:
    record = kit.upload()
    kit.crash_mid_job(record.key)
    kit.clock.advance(kit.service.config.lease_seconds + 1)
    sent: list[str] = []
    _touched_once(kit, "queued")
    report = kit.service.reconcile(requeue=lambda r: sent.append(r.image_id))
    assert (report.requeued, sent) == ([], [])
    assert kit.catalog.get(record.image_id).status == "processing"


def test_a_sweep_whose_touch_fails_goes_on(kit: Kit) -> None:
    waiting, _ = kit.service.create_upload("alice", filename=None, content_type="image/png", size=10)
    lost = kit.upload()  # landed, its event lost
    kit.clock.advance(kit.service.config.reconcile_grace_seconds + 1)
    touches = kit.catalog.faults.add(
        "transition", when=lambda call: call.args["changes"] == {}, error=StorageError("throttled"), times=None
    )
    assert kit.service.reconcile().redriven == [lost.image_id]
    assert touches.fired == 1
    assert kit.catalog.get(waiting.image_id).status == "awaiting_upload"


# --- uploads ----------------------------------------------------------------------------------
def test_an_upload_completed_after_its_event_won_changes_nothing(kit: Kit) -> None:
    record = kit.upload()
    kit.catalog.faults.add(
        "transition", when=writes("queued"), before=lambda _: kit.service.handle_object_created(record.key)
    )
    assert kit.service.upload_completed(record.key) is None
    assert kit.catalog.get(record.image_id).status == "done"
    assert kit.processor.calls == 1


def test_a_replaced_original_whose_event_won_is_processed_once(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    kit.originals.put(record.key, PNG[:-1] + b"\x01", content_type="image/png")
    kit.catalog.faults.add(
        "transition", when=writes("queued"), before=lambda _: kit.service.handle_object_created(record.key)
    )
    assert kit.service.upload_completed(record.key) is None
    final = kit.catalog.get(record.image_id)
    assert (final.status, final.generation) == ("done", 2)
    assert kit.processor.calls == 2


def test_a_direct_upload_whose_store_write_fails_leaves_no_record(kit: Kit) -> None:
    kit.originals.faults.add("put", error=StorageError("disk full", code="disk_full"))
    with pytest.raises(StorageError):
        kit.service.ingest("alice", PNG)
    assert kit.catalog.list("alice").items == []


# --- attempts the runtime ends ----------------------------------------------------------------
def test_a_dead_letter_leaves_a_live_lease_to_its_worker(kit: Kit) -> None:
    record = kit.upload()
    kit.crash_mid_job(record.key)
    assert kit.service.dead_letter(record.image_id, "gave up") is None
    assert kit.catalog.get(record.image_id).status == "processing"
