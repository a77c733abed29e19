"""DELETE is idempotent while its tombstone lives, and nothing uploaded after it stays stored."""

from __future__ import annotations

import pytest
from svc_kit import PNG, Kit

from imgflow.errors import NotFound, StorageError


def test_a_delete_retried_after_a_storage_error_removes_everything(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    kit.originals.faults.add("delete", error=StorageError("S3 SlowDown on delete"))
    with pytest.raises(StorageError):
        kit.service.delete("alice", record.image_id)
    assert kit.catalog.get(record.image_id).status == "deleted"
    with pytest.raises(NotFound):
        kit.service.delete("bob", record.image_id)  # someone else's tombstone is still not theirs
    assert list(kit.originals.list("originals/")) != []
    kit.service.delete("alice", record.image_id)  # the client's retry succeeds
    assert list(kit.originals.list("originals/")) == []
    assert kit.rendition_keys(record.image_id) == []
    with pytest.raises(NotFound):
        kit.service.get("alice", record.image_id)


def test_an_upload_landing_after_delete_is_removed_by_its_event(kit: Kit) -> None:
    record, grant = kit.service.create_upload("alice", filename="a.png", content_type="image/png", size=len(PNG))
    kit.service.delete("alice", record.image_id)
    kit.originals.accept_upload(grant.fields, PNG)  # the browser's upload lands after the DELETE
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("ignored", "deleted")
    assert list(kit.originals.list("originals/")) == []
    assert kit.catalog.get(record.image_id).status == "deleted"
    assert kit.processor.calls == 0


def test_an_upload_completed_on_a_tombstone_removes_the_object(kit: Kit) -> None:
    record, grant = kit.service.create_upload("alice", filename="a.png", content_type="image/png", size=len(PNG))
    kit.service.delete("alice", record.image_id)
    kit.originals.accept_upload(grant.fields, PNG)
    assert kit.service.upload_completed(record.key) is None
    assert list(kit.originals.list("originals/")) == []
    assert kit.catalog.get(record.image_id).status == "deleted"


def test_upload_completed_leaves_a_finished_image_alone(kit: Kit) -> None:
    record = kit.upload()
    done = kit.service.handle_object_created(record.key).record
    assert done is not None
    assert done.status == "done"
    assert kit.service.upload_completed(record.key) is None
    assert kit.catalog.get(record.image_id) == done


def test_can_accept_upload_only_while_awaiting_it(kit: Kit) -> None:
    record, grant = kit.service.create_upload("alice", filename="a.png", content_type="image/png", size=len(PNG))
    assert kit.service.can_accept_upload(record.key)
    kit.originals.accept_upload(grant.fields, PNG)
    kit.service.upload_completed(record.key)
    assert not kit.service.can_accept_upload(record.key)  # queued
    kit.service.handle_object_created(record.key)
    assert not kit.service.can_accept_upload(record.key)  # done
    other, _ = kit.service.create_upload("alice", filename="b.png", content_type="image/png", size=len(PNG))
    kit.service.delete("alice", other.image_id)
    assert not kit.service.can_accept_upload(other.key)  # deleted
    assert not kit.service.can_accept_upload("originals/NOSUCHID")
    assert not kit.service.can_accept_upload(f"renditions/{record.image_id}/1/thumb.jpg")


def test_a_different_object_landing_on_a_finished_image_starts_a_new_generation(kit: Kit) -> None:
    """Two uploads racing on one grant: the second replaced the original after the first was
    processed. As with a new ETag in an S3 event, the record follows the stored bytes."""
    record = kit.upload()
    done = kit.service.handle_object_created(record.key).record
    assert done is not None
    other = PNG[:-1] + b"\x01"  # the same size (the grant pins it), other bytes
    kit.originals.put(record.key, other, content_type="image/png")
    queued = kit.service.upload_completed(record.key)
    assert queued is not None
    assert (queued.status, queued.generation) == ("queued", done.generation + 1)
    assert queued.etag == kit.originals.head(record.key).etag != done.etag
    assert queued.size == len(other)
    again = kit.service.handle_object_created(record.key).record
    assert again is not None
    assert (again.status, again.generation) == ("done", done.generation + 1), again.error
