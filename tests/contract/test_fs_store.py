"""The folder store passes the ObjectStore contract; its own streaming writes, layout and signing."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgflow.adapters.fs_store import FsObjectStore
from imgflow.adapters.local_signing import UploadSigner
from imgflow.errors import BadRequest, BadSignature, ConfigError, InvalidKey, SignatureExpired, TooLarge
from testkit import Clock

from .object_store_contract import ObjectStoreContract

SECRET = b"0123456789abcdef0123456789abcdef"


class TestFsObjectStore(ObjectStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> FsObjectStore:
        return FsObjectStore(tmp_path / "store", signer=UploadSigner(SECRET), public_base_url="http://127.0.0.1:9/")


@pytest.fixture
def fs(tmp_path: Path, clock: Clock) -> FsObjectStore:
    signer = UploadSigner(SECRET, clock=clock)
    return FsObjectStore(tmp_path / "store", signer=signer, public_base_url="http://127.0.0.1:9", clock=clock)


def leftovers(store: FsObjectStore) -> list[Path]:
    return list((store.root / ".imgflow-tmp").iterdir())


def test_keys_map_one_to_one_to_files(fs: FsObjectStore) -> None:
    fs.put("renditions/01H/2/thumb.webp", b"webp", content_type="image/webp", cache_control="immutable")
    assert (fs.root / "renditions" / "01H" / "2" / "thumb.webp").read_bytes() == b"webp"
    meta = json.loads((fs.root / ".imgflow-meta" / "renditions" / "01H" / "2" / "thumb.webp.json").read_text())
    assert (meta["content_type"], meta["cache_control"]) == ("image/webp", "immutable")
    assert fs.cache_control("renditions/01H/2/thumb.webp") == "immutable"
    assert fs.local_path("renditions/01H/2/thumb.webp") == fs.root / "renditions/01H/2/thumb.webp"
    fs.delete("renditions/01H/2/thumb.webp")
    assert not (fs.root / "renditions").exists()  # empty folders pruned
    assert leftovers(fs) == []


def test_bad_keys_never_touch_outside_the_root(tmp_path: Path, fs: FsObjectStore) -> None:
    (tmp_path / "secret").write_bytes(b"keep")
    for key in ("../secret", "/../secret", "originals/../../secret", "..\\secret", "originals/\x00"):
        with pytest.raises(InvalidKey):
            fs.put(key, b"evil", content_type="text/plain")
        with pytest.raises(InvalidKey):
            fs.delete(key)
    with pytest.raises(InvalidKey):
        list(fs.list("../"))
    assert (tmp_path / "secret").read_bytes() == b"keep"


def test_file_folder_collision_is_refused(fs: FsObjectStore) -> None:
    fs.put("originals/a", b"file", content_type="image/png")
    with pytest.raises(InvalidKey):
        fs.put("originals/a/b", b"x", content_type="image/png")
    fs.put("renditions/x/1", b"x", content_type="image/png")
    with pytest.raises(InvalidKey):
        fs.put("renditions/x", b"x", content_type="image/png")
    assert fs.get("originals/a", max_bytes=10) == b"file"
    assert leftovers(fs) == []


def test_put_stream_caps_without_leaving_anything(fs: FsObjectStore) -> None:
    fs.put("originals/s", b"old", content_type="image/png")
    consumed: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(100):
            consumed.append(i)
            yield b"x" * 1000

    with pytest.raises(TooLarge):
        fs.put_stream("originals/s", chunks(), content_type="image/png", max_bytes=5500)
    assert len(consumed) == 6  # stopped at the chunk that crossed the cap
    assert fs.get("originals/s", max_bytes=10) == b"old"
    assert leftovers(fs) == []
    with pytest.raises(BadRequest):
        fs.put_stream("originals/new", iter([b""]), content_type="image/png", max_bytes=10, min_bytes=1)
    assert list(fs.list("originals/new")) == []
    info = fs.put_stream("originals/s", (b"ab" for _ in range(3)), content_type="image/gif", max_bytes=6)
    assert (info.size, fs.get("originals/s", max_bytes=6)) == (6, b"ababab")


def test_stale_sidecar_is_detected(fs: FsObjectStore) -> None:
    fs.put("originals/r", b"first", content_type="image/png")
    # another writer replaced the bytes but not (yet) the sidecar
    path = fs.root / "originals" / "r"
    tmp = path.with_name("r.new")
    tmp.write_bytes(b"other!")
    os.replace(tmp, path)
    head = fs.head("originals/r")
    assert head.etag == hashlib.md5(b"other!").hexdigest()
    assert head.content_type is None


def test_get_refuses_before_reading(fs: FsObjectStore) -> None:
    fs.put("originals/big", b"x" * 10_000, content_type="image/png")
    with pytest.raises(TooLarge):
        fs.get("originals/big", max_bytes=9_999)


def test_download_url_is_signed(fs: FsObjectStore, clock: Clock) -> None:
    assert fs.signer is not None
    url = fs.download_url("originals/a b+c%d", expires_in=60, filename="ü.png")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("http", "127.0.0.1:9")
    assert parts.path.startswith("/v1/files/")
    key = unquote(parts.path.removeprefix("/v1/files/"))
    assert key == "originals/a b+c%d"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q["filename"] == "ü.png"
    fs.signer.verify_download(key, exp=q["exp"], sig=q["sig"], filename=q["filename"])
    with pytest.raises(BadSignature):
        fs.signer.verify_download("originals/other", exp=q["exp"], sig=q["sig"], filename=q["filename"])
    with pytest.raises(BadSignature):
        fs.signer.verify_download(key, exp=q["exp"], sig=q["sig"], filename="evil.html")
    with pytest.raises(BadSignature):
        fs.signer.verify_download(key, exp=int(q["exp"]) + 1000, sig=q["sig"], filename=q["filename"])
    clock.now += 61
    with pytest.raises(SignatureExpired):
        fs.signer.verify_download(key, exp=q["exp"], sig=q["sig"], filename=q["filename"])


def test_presigned_upload_token_pins_everything(fs: FsObjectStore, clock: Clock) -> None:
    assert fs.signer is not None
    up = fs.presign_upload("originals/01X", content_type="image/heic", max_size=5000, expires_in=900)
    assert up.url.startswith("http://127.0.0.1:9/v1/local-uploads/")
    assert up.expires_at == clock.now + 900
    token = up.url.rsplit("/", 1)[1]
    grant = fs.signer.verify_upload(token)
    assert (grant.key, grant.content_type, grant.max_size, grant.expires_at) == (
        "originals/01X",
        "image/heic",
        5000,
        clock.now + 900,
    )
    body, mac = token.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    for bad in (f"{forged}.{mac}", f"{body}.{mac[:-1]}", "garbage", f"{body}", ""):
        with pytest.raises(BadSignature):
            fs.signer.verify_upload(bad)
    other = UploadSigner(b"another-secret-key-32-bytes-long", clock=clock)
    with pytest.raises(BadSignature):
        other.verify_upload(token)
    # a download signature is not an upload token and vice versa
    params = fs.signer.sign_download("originals/01X", expires_at=clock.now + 60)
    with pytest.raises(BadSignature):
        fs.signer.verify_upload(f"{body}.{params['sig']}")
    clock.now += 901
    with pytest.raises(SignatureExpired):
        fs.signer.verify_upload(token)


def test_store_without_signer_cannot_make_urls(tmp_path: Path) -> None:
    store = FsObjectStore(tmp_path / "plain")
    store.put("originals/x", b"x", content_type="image/png")
    with pytest.raises(ConfigError):
        store.download_url("originals/x", expires_in=60)
    with pytest.raises(ConfigError):
        store.presign_upload("originals/x", content_type="image/png", max_size=10, expires_in=60)


def test_signer_refuses_short_keys() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        UploadSigner(b"short")


@settings(max_examples=150, deadline=None)
@given(key=st.text(alphabet=st.sampled_from(list("ab./\\\x00 %+ü")), min_size=0, max_size=12))
def test_any_accepted_key_stays_inside_the_root(key: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        store = FsObjectStore(root)
        try:
            store.put(key, b"x", content_type="text/plain")
        except InvalidKey:
            assert [p for p in Path(tmp).rglob("*") if p.is_file()] == []
            return
        files = [p for p in Path(tmp).rglob("*") if p.is_file() and ".imgflow-meta" not in p.parts]
        assert files == [root / key]
        assert files[0].resolve().is_relative_to(root.resolve())
        assert [i.key for i in store.list("")] == [key]
