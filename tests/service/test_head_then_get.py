"""The original changes between the HEAD that claimed it and the GET that reads it: gone, replaced,
grown past the cap. The read is pinned to the HEAD's ETag, so the record follows the stored bytes."""

from __future__ import annotations

from svc_kit import PNG, Kit

from imgflow.adapters.faults import Call
from imgflow.errors import TooLarge

COPY = "originals/01HCOPY0000000000000000000"


def test_an_original_gone_before_the_read_fails_the_record(kit: Kit) -> None:
    record = kit.upload()
    kit.originals.faults.add("get", before=lambda call: kit.originals.delete(call.key))
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "object_missing")
    failed = kit.catalog.get(record.image_id)
    assert (failed.status, failed.lease_token) == ("failed", None)
    assert kit.processor.calls == 0
    assert kit.rendition_keys(record.image_id) == []


def test_an_original_replaced_before_the_read_is_processed_as_it_is_now(kit: Kit) -> None:
    record = kit.upload()
    other = PNG[:-1] + b"\x01"

    def replace(call: Call) -> None:
        kit.originals.put(call.key, other, content_type="image/png")

    kit.originals.faults.add("get", before=replace)
    first = kit.service.handle_object_created(record.key)
    assert (first.kind, first.reason) == ("retry_later", "object_changed")
    assert kit.processor.calls == 0
    released = kit.catalog.get(record.image_id)
    assert (released.status, released.lease_token) == ("processing", None)
    assert kit.service.handle_object_created(record.key).kind == "done"
    done = kit.catalog.get(record.image_id)
    assert done.etag == kit.originals.head(record.key).etag
    assert done.facts is not None
    assert done.facts.bytes == len(other)


def test_an_original_grown_past_the_cap_before_the_read_ends_too_large(kit: Kit) -> None:
    kit.originals.put(COPY, PNG, content_type="image/png")
    big = PNG + bytes(kit.service.config.limits.max_bytes)

    def grow(call: Call) -> None:
        kit.originals.put(call.key, big, content_type="image/png")

    kit.originals.faults.add("get", before=grow)
    reads = kit.originals.faults.add("get", times=None)  # fires with no effect: counts the reads
    first = kit.service.handle_object_created(COPY)
    assert (first.kind, first.reason) == ("retry_later", "object_changed")
    second = kit.service.handle_object_created(COPY)  # the HEAD now sees the size: no read at all
    assert (second.kind, second.reason) == ("failed", "too_large")
    assert reads.fired == 1
    assert kit.processor.calls == 0


def test_a_read_the_store_caps_ends_too_large(kit: Kit) -> None:
    """The store's own byte cap fires (S3 answered more bytes than the HEAD said)."""
    record = kit.upload()
    kit.originals.faults.add("get", error=TooLarge("more than max_bytes"))
    outcome = kit.service.handle_object_created(record.key)
    assert (outcome.kind, outcome.reason) == ("failed", "too_large")
    assert kit.catalog.get(record.image_id).status == "failed"
    assert kit.processor.calls == 0
