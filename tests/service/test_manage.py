"""get / list / delete / reprocess, always scoped to the owner."""

from __future__ import annotations

import pytest
from svc_kit import JPEG, PNG, Kit, make_kit

from imgflow.errors import BadRecipe, BadRequest, Conflict, NotFound


def test_someone_elses_image_is_not_found(kit: Kit) -> None:
    record = kit.upload("alice")
    assert kit.service.get("alice", record.image_id) == kit.catalog.get(record.image_id)
    with pytest.raises(NotFound):
        kit.service.get("bob", record.image_id)
    with pytest.raises(NotFound):
        kit.service.delete("bob", record.image_id)
    with pytest.raises(NotFound):
        kit.service.reprocess("bob", record.image_id)
    with pytest.raises(NotFound):
        kit.service.get("alice", "01HNOSUCHIMAGE000000000000")
    assert kit.service.list("bob").items == []
    assert kit.catalog.get(record.image_id).status == "awaiting_upload"


def test_list_is_newest_first_filtered_and_paged(kit: Kit) -> None:
    ids = []
    for _ in range(5):
        kit.clock.advance(1)
        ids.append(kit.service.ingest("alice", PNG).image_id)
    kit.service.ingest("bob", PNG)
    assert kit.service.handle_object_created(f"originals/{ids[0]}").kind == "done"
    first = kit.service.list("alice", limit=2)
    assert [r.image_id for r in first.items] == ids[::-1][:2]
    assert first.cursor is not None
    rest = kit.service.list("alice", limit=10, cursor=first.cursor)
    assert [r.image_id for r in rest.items] == ids[::-1][2:]
    assert rest.cursor is None
    assert [r.image_id for r in kit.service.list("alice", status="done").items] == [ids[0]]
    assert len(kit.service.list("alice", status="queued").items) == 4


@pytest.mark.parametrize("limit", [0, 101])
def test_list_limit_is_checked(kit: Kit, limit: int) -> None:
    with pytest.raises(BadRequest):
        kit.service.list("alice", limit=limit)


def test_deleted_images_are_not_listed(kit: Kit) -> None:
    record = kit.service.ingest("alice", PNG)
    kit.service.delete("alice", record.image_id)
    assert kit.service.list("alice").items == []
    with pytest.raises(BadRequest):
        kit.service.list("alice", status="deleted")


def test_delete_removes_everything_and_leaves_a_tombstone(kit: Kit) -> None:
    record = kit.upload()
    kit.service.handle_object_created(record.key)
    assert kit.rendition_keys(record.image_id)
    kit.service.delete("alice", record.image_id)
    tomb = kit.catalog.get(record.image_id)
    assert tomb.status == "deleted"
    assert tomb.expires_at == int(kit.clock.now + kit.service.config.tombstone_ttl_seconds)
    assert tomb.renditions == ()
    assert list(kit.originals.list("originals/")) == []
    assert kit.rendition_keys(record.image_id) == []
    with pytest.raises(NotFound):
        kit.service.get("alice", record.image_id)
    kit.service.delete("alice", record.image_id)  # idempotent while the tombstone lives
    with pytest.raises(NotFound):
        kit.service.delete("bob", record.image_id)


def test_reprocess_makes_a_new_generation_through_queued(kit: Kit) -> None:
    record = kit.upload()
    kit.service.handle_object_created(record.key)
    queued = kit.service.reprocess("alice", record.image_id, recipe="other")
    assert (queued.status, queued.generation, queued.attempts, queued.recipe) == ("queued", 2, 0, "other")
    assert kit.queued == [record.image_id]
    assert kit.service.handle_object_created(record.key).kind == "done"
    done = kit.catalog.get(record.image_id)
    assert [r.key for r in done.renditions] == [f"renditions/{record.image_id}/2/small.png"]
    assert kit.rendition_keys(record.image_id) == [f"renditions/{record.image_id}/2/small.png"]


def test_reprocess_refuses_what_is_not_finished_or_unknown_recipes(kit: Kit) -> None:
    record = kit.service.ingest("alice", JPEG)
    with pytest.raises(Conflict):
        kit.service.reprocess("alice", record.image_id)
    kit.service.handle_object_created(record.key)
    with pytest.raises(BadRecipe):
        kit.service.reprocess("alice", record.image_id, recipe="nope")
    assert kit.catalog.get(record.image_id).status == "done"


def test_a_failed_image_can_be_reprocessed(kit: Kit) -> None:
    record = kit.upload()
    kit.processor.raises = RuntimeError("codec bug, since fixed")
    assert kit.service.handle_object_created(record.key).kind == "failed"
    kit.processor.raises = None
    kit.service.reprocess("alice", record.image_id)
    assert kit.service.handle_object_created(record.key).kind == "done"
    assert kit.catalog.get(record.image_id).error is None


def test_rendition_urls_are_made_at_read_time() -> None:
    plain = make_kit()
    assert plain.service.rendition_url("renditions/A/1/t.jpg").startswith("memory://renditions/renditions/A/1/t.jpg?")
    cdn = make_kit(cdn_base_url="https://cdn.example.test/")
    assert cdn.service.rendition_url("renditions/A/1/t.jpg") == "https://cdn.example.test/renditions/A/1/t.jpg"
