"""Events for a deleted image never ask for redelivery, whatever the store answers."""

from __future__ import annotations

from svc_kit import Kit

from imgflow.errors import StorageForbidden


def test_a_late_event_for_a_deleted_image_is_acknowledged_even_if_the_delete_is_refused(kit: Kit) -> None:
    record = kit.upload()
    assert kit.service.handle_object_created(record.key).kind == "done"
    kit.service.delete("alice", record.image_id)
    kit.originals.put(record.key, b"late bytes", content_type="image/png")  # an upload after DELETE
    kit.originals.faults.add("delete", error=StorageForbidden("AccessDenied"), times=None)
    for _ in range(3):  # redelivered: still acknowledged, never a retry storm
        outcome = kit.service.handle_object_created(record.key)
        assert (outcome.kind, outcome.reason) == ("ignored", "deleted")
    assert kit.catalog.get(record.image_id).status == "deleted"
