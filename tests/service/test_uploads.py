"""How originals arrive: the presigned path and the direct path."""

from __future__ import annotations

import pytest
from svc_kit import GIF, JPEG, PNG, Kit

from imgflow.errors import BadRecipe, BadRequest, TooLarge, UnsupportedFormat


def test_create_upload_makes_an_awaiting_record_and_a_pinned_grant(kit: Kit) -> None:
    record, grant = kit.service.create_upload("alice", filename="../../etc/cat.png", content_type="image/png", size=300)
    assert record.status == "awaiting_upload"
    assert record.owner == "alice"
    assert record.declared_type == "image/png"
    assert record.declared_size == 300
    assert record.expires_at == int(kit.clock.now + kit.service.config.upload_expiry_seconds)
    assert record.filename == "../../etc/cat.png"
    assert grant.fields["key"] == f"originals/{record.image_id}"
    assert grant.fields["Content-Type"] == "image/png"
    assert "cat" not in grant.fields["key"]
    assert kit.catalog.get(record.image_id) == record


def test_create_upload_normalises_common_aliases(kit: Kit) -> None:
    record, grant = kit.service.create_upload("alice", filename=None, content_type="image/JPG", size=10)
    assert record.declared_type == "image/jpeg"
    assert grant.fields["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("content_type", "size", "error"),
    [
        ("image/svg+xml", 10, UnsupportedFormat),
        ("image/gif", 10, UnsupportedFormat),  # real format, but not on this accept-list
        ("text/plain", 10, UnsupportedFormat),
        ("image/png", 10_001, TooLarge),
        ("image/png", 0, BadRequest),
    ],
)
def test_create_upload_refuses_and_creates_nothing(
    kit: Kit, content_type: str, size: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        kit.service.create_upload("alice", filename="x", content_type=content_type, size=size)
    assert kit.catalog.list("alice").items == []


def test_create_upload_checks_the_recipe(kit: Kit) -> None:
    with pytest.raises(BadRecipe):
        kit.service.create_upload("alice", filename="x", content_type="image/png", size=10, recipe="nope")
    record, _ = kit.service.create_upload("alice", filename="x", content_type="image/png", size=10, recipe="other")
    assert record.recipe == "other"


def test_filename_is_cleaned_of_control_characters(kit: Kit) -> None:
    record, _ = kit.service.create_upload("alice", filename="a\x00b\nc" + "x" * 400, content_type="image/png", size=9)
    assert record.filename is not None
    assert record.filename.startswith("abc")
    assert len(record.filename) == 255


def test_ingest_stores_the_original_and_queues(kit: Kit) -> None:
    record = kit.service.ingest("alice", JPEG, filename="p.jpg", content_type="application/octet-stream")
    assert record.status == "queued"
    assert record.declared_type == record.sniffed_type == "image/jpeg"
    assert record.size == len(JPEG)
    assert record.expires_at is None
    assert kit.originals.get(record.key, max_bytes=10_000) == JPEG
    assert record.etag == kit.originals.head(record.key).etag
    assert kit.queued == []  # the store's own event (or the catalog's job queue) announces it


@pytest.mark.parametrize(
    ("data", "error"),
    [(PNG + bytes(5_000), TooLarge), (GIF, UnsupportedFormat), (b"hello world", UnsupportedFormat), (b"", BadRequest)],
)
def test_ingest_refuses_by_size_and_magic_bytes_storing_nothing(kit: Kit, data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        kit.service.ingest("alice", data, content_type="image/png")
    assert list(kit.originals.list("")) == []
    assert kit.catalog.list("alice").items == []


def test_ingest_when_the_event_wins_the_race(kit: Kit) -> None:
    """S3 may deliver ObjectCreated before ingest marks the record queued."""
    events: list[str] = []
    kit.originals.faults.add("put", after=lambda call: events.append(kit.service.handle_object_created(call.key).kind))
    record = kit.service.ingest("alice", PNG)
    assert events == ["done"]
    assert record.status == "done"
    assert kit.processor.calls == 1


def test_upload_completed_moves_awaiting_to_queued_once(kit: Kit) -> None:
    record = kit.upload()
    queued = kit.service.upload_completed(record.key)
    assert queued is not None
    assert queued.status == "queued"
    assert queued.etag == kit.originals.head(record.key).etag
    assert queued.expires_at is None
    assert kit.service.upload_completed(record.key) is None
    assert kit.catalog.get(record.image_id).version == queued.version  # the second call wrote nothing
    assert kit.queued == []  # no announcement: the store's event carries uploads


def test_upload_completed_ignores_what_it_does_not_know(kit: Kit) -> None:
    record, _ = kit.service.create_upload("alice", filename=None, content_type="image/png", size=5)
    assert kit.service.upload_completed(record.key) is None  # nothing landed
    assert kit.catalog.get(record.image_id).status == "awaiting_upload"
    assert kit.service.upload_completed("renditions/x/1/a.jpg") is None
    assert kit.service.upload_completed("originals/NOSUCHID") is None
