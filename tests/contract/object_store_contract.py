"""The ObjectStore contract: one abstract suite, subclassed once per adapter (fsspec style).

A subclass provides the ``store`` fixture. Nothing here knows which adapter it tests.
"""

from __future__ import annotations

import hashlib

import pytest

from imgflow.errors import Conflict, InvalidKey, NotFound, TooLarge
from imgflow.ports import ObjectStore

ODD_KEYS = [
    "originals/plain",
    "originals/with space",
    "originals/ünïcødé-画像",
    "originals/plus+sign",
    "originals/percent%20sign%",
    "originals/a&b=c?d#e",
    "renditions/01H/3/thumb.webp",
    "originals/'quote'\"double\"",
    "originals/emoji-📷",
    "originals/tilde~and*star",
]

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "originals/../../escape",
    "originals/./x",
    "originals//double",
    "originals/trailing/",
    "originals\\windows",
    "originals/nul\x00byte",
    "originals/newline\nx",
    ".imgflow-meta/x",
    "x" * 256,
]


class ObjectStoreContract:
    @pytest.fixture
    def store(self) -> ObjectStore:
        raise NotImplementedError

    @pytest.mark.parametrize("key", ODD_KEYS)
    def test_round_trip_odd_keys(self, store: ObjectStore, key: str) -> None:
        data = b"\x89PNG\r\n\x1a\n" + key.encode() + bytes(range(256))
        info = store.put(key, data, content_type="image/png", cache_control="max-age=60")
        assert info.key == key
        assert info.size == len(data)
        assert info.etag == hashlib.md5(data).hexdigest()
        assert store.get(key, max_bytes=len(data)) == data
        head = store.head(key)
        assert (head.key, head.size, head.etag, head.content_type) == (key, len(data), info.etag, "image/png")
        assert [i.key for i in store.list(key)] == [key]

    def test_empty_object(self, store: ObjectStore) -> None:
        info = store.put("originals/empty", b"", content_type="application/octet-stream")
        assert info.size == 0
        assert store.get("originals/empty", max_bytes=0) == b""

    def test_overwrite_replaces_content_and_type(self, store: ObjectStore) -> None:
        store.put("originals/x", b"one", content_type="image/png")
        second = store.put("originals/x", b"second", content_type="image/jpeg")
        assert store.get("originals/x", max_bytes=100) == b"second"
        head = store.head("originals/x")
        assert (head.etag, head.content_type, head.size) == (second.etag, "image/jpeg", 6)

    def test_byte_cap(self, store: ObjectStore) -> None:
        store.put("originals/big", b"x" * 1000, content_type="image/png")
        with pytest.raises(TooLarge):
            store.get("originals/big", max_bytes=999)
        assert len(store.get("originals/big", max_bytes=1000)) == 1000

    def test_missing_is_named_not_found(self, store: ObjectStore) -> None:
        with pytest.raises(NotFound):
            store.get("originals/missing", max_bytes=10)
        with pytest.raises(NotFound):
            store.head("originals/missing")

    def test_delete_is_idempotent(self, store: ObjectStore) -> None:
        store.put("originals/gone", b"data", content_type="image/png")
        store.delete("originals/gone")
        store.delete("originals/gone")
        store.delete("originals/never-was")
        with pytest.raises(NotFound):
            store.head("originals/gone")
        assert list(store.list("originals/gone")) == []

    def test_list_by_prefix(self, store: ObjectStore) -> None:
        keys = ["renditions/a/1/x.webp", "renditions/a/1/y.jpg", "renditions/a/2/x.webp", "renditions/ab/1/z.png"]
        for k in keys:
            store.put(k, k.encode(), content_type="image/webp")
        store.put("originals/a", b"o", content_type="image/png")
        assert [i.key for i in store.list("renditions/a/")] == keys[:3]
        assert [i.key for i in store.list("renditions/a/1/")] == keys[:2]
        assert [i.key for i in store.list("renditions/a")] == keys
        listed = {i.key: i for i in store.list("renditions/")}
        assert listed["renditions/ab/1/z.png"].size == len(keys[3])
        assert listed["renditions/ab/1/z.png"].etag == hashlib.md5(keys[3].encode()).hexdigest()
        assert list(store.list("nothing/")) == []
        assert {i.key for i in store.list("")} == {*keys, "originals/a"}

    def test_etag_mismatch_is_conflict(self, store: ObjectStore) -> None:
        first = store.put("originals/e", b"first", content_type="image/png")
        assert store.get("originals/e", max_bytes=10, etag=first.etag) == b"first"
        assert store.get("originals/e", max_bytes=10, etag=f'"{first.etag}"') == b"first"
        store.put("originals/e", b"second", content_type="image/png")
        with pytest.raises(Conflict):
            store.get("originals/e", max_bytes=10, etag=first.etag)

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_bad_keys_are_refused(self, store: ObjectStore, key: str) -> None:
        with pytest.raises(InvalidKey):
            store.put(key, b"x", content_type="image/png")
        with pytest.raises(InvalidKey):
            store.get(key, max_bytes=10)

    def test_download_url_names_the_key(self, store: ObjectStore) -> None:
        store.put("originals/with space+plus", b"x", content_type="image/png")
        url = store.download_url("originals/with space+plus", expires_in=60, filename="photo.png")
        assert "with%20space%2Bplus" in url
        assert " " not in url

    def test_presign_upload_pins(self, store: ObjectStore) -> None:
        up = store.presign_upload("originals/up", content_type="image/jpeg", max_size=1000, expires_in=900)
        assert up.method == "POST"
        assert up.file_field == "file"
        assert up.fields["key"] == "originals/up"
        assert up.fields["Content-Type"] == "image/jpeg"
        with pytest.raises(ValueError, match="expires_in"):
            store.presign_upload("originals/up", content_type="image/jpeg", max_size=1000, expires_in=901)
        with pytest.raises(ValueError, match="max_size"):
            store.presign_upload("originals/up", content_type="image/jpeg", max_size=0, expires_in=60)
