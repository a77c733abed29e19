"""The in-memory fakes pass the same contracts as the real adapters."""

from __future__ import annotations

import pytest

from imgflow.adapters.memory import MemoryCatalog, MemoryObjectStore
from imgflow.errors import BadRequest, BadSignature, SignatureExpired, TooLarge
from imgflow.ports import Expect
from imgflow.records import ImageRecord

from .catalog_contract import CatalogContract, make_record
from .object_store_contract import ObjectStoreContract
from .tags_contract import TagsContract


class TestMemoryObjectStore(ObjectStoreContract):
    @pytest.fixture
    def store(self) -> MemoryObjectStore:
        return MemoryObjectStore()


class TestMemoryCatalog(CatalogContract, TagsContract):
    @pytest.fixture
    def catalog(self) -> MemoryCatalog:
        return MemoryCatalog()


def test_memory_upload_grant_is_checked() -> None:
    now = [1000.0]
    store = MemoryObjectStore(clock=lambda: now[0])
    up = store.presign_upload("originals/u", content_type="image/png", max_size=10, expires_in=60)
    with pytest.raises(BadSignature):
        store.accept_upload({**up.fields, "key": "originals/other"}, b"x")
    with pytest.raises(BadSignature):
        store.accept_upload({**up.fields, "Content-Type": "text/html"}, b"x")
    with pytest.raises(TooLarge):
        store.accept_upload(up.fields, b"x" * 11)
    with pytest.raises(BadRequest):
        store.accept_upload(up.fields, b"")
    assert store.accept_upload(up.fields, b"x" * 10).size == 10
    assert store.head("originals/u").content_type == "image/png"
    now[0] += 61
    with pytest.raises(SignatureExpired):
        store.accept_upload(up.fields, b"x")


def test_memory_catalog_reports_queued_writes() -> None:
    queued: list[ImageRecord] = []
    catalog = MemoryCatalog(on_queued=queued.append)
    rec = catalog.create(make_record(status="queued"))
    other = catalog.create(make_record(status="awaiting_upload"))
    catalog.transition(other.image_id, Expect(states={"awaiting_upload"}), {"status": "queued"})
    catalog.transition(rec.image_id, Expect(states={"queued"}), {"status": "processing"})
    assert [(r.image_id, r.status) for r in queued] == [(rec.image_id, "queued"), (other.image_id, "queued")]


def test_memory_purge_expired() -> None:
    catalog = MemoryCatalog()
    catalog.create(make_record(status="deleted", expires_at=1000))
    kept = catalog.create(make_record(status="deleted", expires_at=3000))
    assert catalog.purge_expired(2000) == 1
    assert [r.image_id for r in catalog.list("alice").items] == [kept.image_id]


def test_the_fault_plan_picks_calls_by_name_key_and_count() -> None:
    store = MemoryObjectStore()
    store.put("a", b"1", content_type="text/plain")
    store.put("b", b"2", content_type="text/plain")
    seen: list[str] = []
    fault = store.faults.add(
        "get", key="b", error=TooLarge("planted"), skip=1, times=2, after=lambda c: seen.append(c.key)
    )
    assert store.get("a", max_bytes=9) == b"1"  # another key
    assert store.get("b", max_bytes=9) == b"2"  # skipped once
    for _ in range(2):
        with pytest.raises(TooLarge, match="planted"):
            store.get("b", max_bytes=9)
    assert store.get("b", max_bytes=9) == b"2"  # fired its two times
    assert (fault.fired, seen) == (2, [])  # ``after`` runs only once the real call succeeded
    store.faults.clear()
    after = store.faults.add("head", after=lambda c: seen.append(c.key))
    assert store.head("a").size == 1
    assert (after.fired, seen) == (1, ["a"])
