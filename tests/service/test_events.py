"""ObjectCreated events: at least once, late, duplicated, merged, out of order."""

from __future__ import annotations

import pytest
from svc_kit import JPEG, PNG, Crash, Kit, writes

from imgflow.errors import ConfigError, CorruptImage, StorageError
from imgflow.service import IMMUTABLE


def test_presigned_upload_to_done(kit: Kit) -> None:
    record = kit.upload()
    outcome = kit.service.handle_object_created(record.key)
    assert outcome.kind == "done"
    done = kit.catalog.get(record.image_id)
    assert outcome.record == done
    assert done.status == "done"
    assert done.attempts == 1
    assert done.generation == 1
    assert done.lease_token is None
    assert done.sniffed_type == "image/png"
    assert done.facts is not None
    assert done.facts.bytes == len(PNG)
    keys = sorted(r.key for r in done.renditions)
    assert keys == [f"renditions/{record.image_id}/1/thumb.jpg", f"renditions/{record.image_id}/1/thumb.webp"]
    assert kit.rendition_keys(record.image_id) == keys
    assert all(kit.renditions.cache_control(k) == IMMUTABLE for k in keys)
    assert kit.originals.head(record.key).size == len(PNG)  # the original is kept


def test_the_event_alone_clears_the_upload_ttl(kit: Kit) -> None:
    """The S3-event path with no upload_completed: the claim itself drops the upload's TTL, or the
    catalog's purge would take a done image once the upload expiry passes."""
    record = kit.upload()
    assert record.expires_at == int(kit.clock.now + kit.settings.upload_expiry_seconds)
    assert kit.service.handle_object_created(record.key).kind == "done"
    assert kit.catalog.get(record.image_id).expires_at is None
    kit.clock.advance(kit.settings.upload_expiry_seconds + 1)
    assert kit.catalog.purge_expired(kit.clock.now) == 0
    assert kit.catalog.get(record.image_id).status == "done"


def test_duplicate_event_changes_nothing(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    before = kit.catalog.get(record.image_id)
    again = kit.service.handle_object_created(record.key, etag=before.etag)
    assert again.kind == "unchanged"
    assert kit.catalog.get(record.image_id) == before
    assert kit.processor.calls == 1


def test_event_before_upload_completed_then_completion_is_a_no_op(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    assert kit.service.upload_completed(record.key) is None
    assert kit.catalog.get(record.image_id).status == "done"


def test_event_before_the_object_exists_is_ignored_then_the_real_one_works(kit: Kit) -> None:
    record, grant = kit.service.create_upload("alice", filename=None, content_type="image/png", size=len(PNG))
    early = kit.service.handle_object_created(record.key)
    assert (early.kind, early.reason) == ("ignored", "object_missing")
    assert kit.catalog.get(record.image_id).status == "awaiting_upload"
    kit.originals.accept_upload(grant.fields, PNG)
    assert kit.service.handle_object_created(record.key).kind == "done"


@pytest.mark.parametrize(
    "key", ["renditions/X/1/thumb.jpg", "uploads/x", "originals/", "originals/a/b", "originals/../x", "test"]
)
def test_keys_outside_originals_are_ignored(kit: Kit, key: str) -> None:
    assert kit.service.handle_object_created(key).kind == "ignored"
    assert kit.processor.calls == 0


def test_no_record_and_no_object_is_ignored_and_creates_nothing(kit: Kit) -> None:
    outcome = kit.service.handle_object_created("originals/01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert outcome.kind == "ignored"
    assert kit.catalog.list("system").items == []


def test_an_operator_copy_gets_a_record_and_is_processed(kit: Kit) -> None:
    kit.originals.put("originals/01HCOPIED0000000000000000", JPEG, content_type="image/jpeg")
    outcome = kit.service.handle_object_created("originals/01HCOPIED0000000000000000")
    assert outcome.kind == "done"
    record = kit.catalog.get("01HCOPIED0000000000000000")
    assert record.owner == "system"
    assert record.status == "done"
    assert record.sniffed_type == "image/jpeg"


def test_a_live_lease_asks_for_redelivery(kit: Kit) -> None:
    record = kit.upload()
    seen = []
    kit.processor.during = lambda: seen.append(kit.service.handle_object_created(record.key))
    assert kit.service.handle_object_created(record.key).kind == "done"
    assert [(o.kind, o.reason) for o in seen] == [("retry_later", "lease_held")]
    assert kit.processor.calls == 1


def test_size_mismatch_fails_and_keeps_the_original(kit: Kit) -> None:
    record, grant = kit.service.create_upload("alice", filename=None, content_type="image/png", size=len(PNG) + 50)
    kit.originals.accept_upload(grant.fields, PNG)  # within the range [1, size]
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "size_mismatch")
    failed = kit.catalog.get(record.image_id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "size_mismatch"
    assert str(len(PNG)) in failed.error.message
    assert kit.processor.calls == 0
    assert kit.originals.head(record.key).size == len(PNG)
    assert kit.rendition_keys(record.image_id) == []


def test_the_bytes_decide_not_the_declared_type(kit: Kit) -> None:
    """One rule on every upload path (issue 19): an accepted format under any label is processed."""
    record = kit.upload(data=JPEG, declared="image/png")
    outcome = kit.service.handle_object_created(record.key)
    assert outcome.kind == "done"
    done = kit.catalog.get(record.image_id)
    assert (done.declared_type, done.sniffed_type) == ("image/png", "image/jpeg")
    assert kit.processor.calls == 1


def test_bytes_of_no_accepted_format_fail_whatever_the_label(kit: Kit) -> None:
    record = kit.upload(data=b"BM" + b"\0" * 100, declared="image/png")
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "unsupported_type")
    assert kit.processor.calls == 0


def test_unknown_bytes_copied_in_fail_cleanly(kit: Kit) -> None:
    kit.originals.put("originals/01HJUNK00000000000000000000", b"<html>nope</html>", content_type="text/html")
    outcome = kit.service.handle_object_created("originals/01HJUNK00000000000000000000")
    assert (outcome.kind, outcome.reason) == ("failed", "unsupported_type")
    error = kit.catalog.get("01HJUNK00000000000000000000").error
    assert error is not None
    assert error.message.endswith("accepted: jpeg, png, webp.")  # the kit's accept-list, as words, not a tuple


def test_a_bad_image_fails_and_removes_this_attempts_renditions(kit: Kit) -> None:
    record = kit.upload()
    kit.catalog.faults.add("transition", when=writes("done"), error=Crash("worker killed after writing renditions"))
    with pytest.raises(Crash):
        kit.service.handle_object_created(record.key)
    assert len(kit.rendition_keys(record.image_id)) == 2

    kit.clock.advance(61)
    kit.processor.raises = CorruptImage("truncated JPEG")
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "corrupt_image")
    failed = kit.catalog.get(record.image_id)
    assert failed.error is not None
    assert failed.error.message == "truncated JPEG"
    assert failed.attempts == 2
    assert failed.renditions == ()
    assert kit.rendition_keys(record.image_id) == []
    assert kit.originals.head(record.key).size == len(PNG)
    # a failed record with the same object stays failed
    assert kit.service.handle_object_created(record.key).kind == "unchanged"


def test_an_unexpected_processor_error_fails_the_image_not_the_worker(kit: Kit) -> None:
    record = kit.upload()
    kit.processor.raises = RuntimeError("bug in a codec")
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "processing_error")


def test_transient_error_releases_the_lease_and_a_redelivery_finishes(kit: Kit) -> None:
    record = kit.upload()
    kit.processor.raises = StorageError("throttled")
    first = kit.service.handle_object_created(record.key)
    assert (first.kind, first.reason) == ("retry_later", "storage_error")
    released = kit.catalog.get(record.image_id)
    assert released.status == "processing"
    assert released.lease_token is None
    kit.processor.raises = None
    assert kit.service.handle_object_created(record.key).kind == "done"
    assert kit.catalog.get(record.image_id).attempts == 2


def test_a_failing_rendition_write_leaves_no_partial_renditions(kit: Kit) -> None:
    record = kit.upload()
    kit.renditions.faults.add("put", error=StorageError("S3 503"), skip=1)  # the second rendition's write
    assert kit.service.handle_object_created(record.key).kind == "retry_later"
    assert kit.rendition_keys(record.image_id) == []
    assert kit.service.handle_object_created(record.key).kind == "done"
    assert len(kit.rendition_keys(record.image_id)) == 2


def test_too_many_attempts_fails_for_good(kit: Kit) -> None:
    record = kit.upload()
    kit.processor.raises = StorageError("down")
    kinds = [kit.service.handle_object_created(record.key).kind for _ in range(2)]
    assert kinds == ["retry_later"] * 2
    outcome = kit.service.handle_object_created(record.key)  # the last attempt gives up at once
    assert (outcome.kind, outcome.reason) == ("failed", "too_many_attempts")
    assert kit.processor.calls == 3
    failed = kit.catalog.get(record.image_id)
    assert failed.error is not None
    assert failed.error.code == "too_many_attempts"
    assert failed.error.message == "gave up after 3 attempts (last: storage_error)"
    assert kit.service.handle_object_created(record.key).kind == "unchanged"


def test_a_new_etag_starts_a_new_generation(kit: Kit) -> None:
    kit.originals.put("originals/01HGEN0000000000000000000", PNG, content_type="image/png")
    assert kit.service.handle_object_created("originals/01HGEN0000000000000000000").kind == "done"
    kit.originals.put("originals/01HGEN0000000000000000000", JPEG, content_type="image/jpeg")
    outcome = kit.service.handle_object_created("originals/01HGEN0000000000000000000")
    assert outcome.kind == "done"
    record = kit.catalog.get("01HGEN0000000000000000000")
    assert record.generation == 2
    assert record.attempts == 1
    assert record.etag == kit.originals.head(record.key).etag
    assert record.facts is not None
    assert record.facts.format == "jpeg"
    keys = kit.rendition_keys(record.image_id)
    assert keys == sorted(r.key for r in record.renditions)
    assert all("/2/" in k for k in keys)  # generation 1's renditions are gone


def test_merged_and_stale_events_process_the_current_object_once(kit: Kit) -> None:
    record = kit.upload()
    outcomes = [kit.service.handle_object_created(record.key, etag="an-older-etag") for _ in range(3)]
    assert [o.kind for o in outcomes] == ["done", "unchanged", "unchanged"]
    assert kit.processor.calls == 1


def test_a_late_event_after_delete_does_not_resurrect(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    kit.service.delete("alice", record.image_id)
    # an operator (or a race) puts the object back; the tombstone still wins
    kit.originals.put(record.key, PNG, content_type="image/png")
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("ignored", "deleted")
    assert kit.catalog.get(record.image_id).status == "deleted"
    assert kit.rendition_keys(record.image_id) == []


def test_delete_while_processing_leaves_no_renditions(kit: Kit) -> None:
    record = kit.upload()
    kit.processor.during = lambda: kit.service.delete("alice", record.image_id)
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("ignored", "lease_lost")
    assert kit.catalog.get(record.image_id).status == "deleted"
    assert kit.rendition_keys(record.image_id) == []


def test_a_delete_during_processing_then_a_crash_leaves_nothing_after_redelivery(kit: Kit) -> None:
    """The worker wrote the renditions, the image was deleted meanwhile, and the worker died before
    its done write: the redelivered event finds the tombstone and removes what the crash left."""
    record = kit.upload()
    kit.processor.during = lambda: kit.service.delete("alice", record.image_id)
    kit.catalog.faults.add("transition", when=writes("done"), error=Crash("killed before the done write"))
    with pytest.raises(Crash):
        kit.service.handle_object_created(record.key)
    left = kit.rendition_keys(record.image_id)
    assert left == [f"renditions/{record.image_id}/1/thumb.jpg", f"renditions/{record.image_id}/1/thumb.webp"]
    kit.processor.during = None
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("ignored", "deleted")
    assert kit.rendition_keys(record.image_id) == []
    assert kit.catalog.get(record.image_id).status == "deleted"


def test_a_replaced_original_of_another_size_is_processed_on_its_own_facts(kit: Kit) -> None:
    """The declared size bound the first upload only: a second object of another size is a new
    generation, not a size mismatch."""
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    bigger = PNG + bytes(50)
    kit.originals.put(record.key, bigger, content_type="image/png")
    assert kit.service.handle_object_created(record.key).kind == "done"
    again = kit.catalog.get(record.image_id)
    assert (again.status, again.generation, again.size, again.declared_size) == ("done", 2, len(bigger), None)


def test_a_dead_lease_whose_original_vanished_leaves_no_renditions(kit: Kit) -> None:
    """The worker wrote the renditions and died before its done write; the original is gone since:
    the redelivery fails the image and removes what the crash left."""
    record = kit.upload()
    kit.catalog.faults.add("transition", when=writes("done"), error=Crash("killed before the done write"))
    with pytest.raises(Crash):
        kit.service.handle_object_created(record.key)
    assert len(kit.rendition_keys(record.image_id)) == 2
    kit.originals.delete(record.key)
    kit.clock.advance(kit.service.config.lease_seconds + 1)
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "object_missing")
    assert kit.rendition_keys(record.image_id) == []


def test_without_a_processor_the_service_refuses_to_handle_events(kit: Kit) -> None:
    api = kit.without_processor()
    with pytest.raises(ConfigError):
        api.handle_object_created("originals/01HX")
    assert api.handle_object_created("other/key").kind == "ignored"
