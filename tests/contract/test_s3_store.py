"""The S3 store against two real S3 servers on 127.0.0.1, moto server and SeaweedFS (``weed
mini``, the cluster backend's tried store): the ObjectStore contract, presigned POST and GET."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from imgflow.adapters.s3_store import S3ObjectStore
from imgflow.errors import Conflict, InvalidKey, NotFound, StorageError

from .aws import OperationLog, client, unique
from .object_store_contract import ObjectStoreContract

pytestmark = pytest.mark.moto


@pytest.fixture(scope="module", params=["moto", pytest.param("weed", marks=pytest.mark.cluster)])
def s3_server(request: pytest.FixtureRequest) -> tuple[str, str, dict[str, str] | None]:
    """(name, endpoint, credentials) of the server under test."""
    if request.param == "moto":
        return "moto", request.getfixturevalue("moto_endpoint"), None
    weed = request.getfixturevalue("weed_server")
    return "weed", weed.endpoint, weed.credentials


@pytest.fixture(scope="module")
def s3(s3_server: tuple[str, str, dict[str, str] | None]) -> Any:
    return client("s3", s3_server[1], s3_server[2])


@pytest.fixture(scope="module")
def s3_raw(s3_server: tuple[str, str, dict[str, str] | None]) -> Any:
    """For the tests' own look-ups (not recorded as the adapter's operations)."""
    return client("s3", s3_server[1], s3_server[2])


@pytest.fixture(scope="module")
def s3_ops(s3: Any) -> OperationLog:
    return OperationLog(s3)


@pytest.fixture
def s3_store(s3: Any, s3_ops: OperationLog) -> Iterator[S3ObjectStore]:
    bucket = unique("imgflow")
    s3.create_bucket(Bucket=bucket)
    s3_ops.names.clear()
    yield S3ObjectStore(s3, bucket)
    undeclared = set(s3_ops.names) - set(S3ObjectStore.BOTO_OPERATIONS)
    assert not undeclared, f"S3ObjectStore called operations it does not declare: {undeclared}"


class TestS3ObjectStore(ObjectStoreContract):
    @pytest.fixture
    def store(self, s3_store: S3ObjectStore) -> S3ObjectStore:
        return s3_store


def test_every_method_declares_iam_actions() -> None:
    methods = {n for n in dir(S3ObjectStore) if not n.startswith("_") and callable(getattr(S3ObjectStore, n))}
    assert set(S3ObjectStore.IAM_ACTIONS) == methods
    declared = {a for actions in S3ObjectStore.IAM_ACTIONS.values() for a in actions}
    assert {a for actions in S3ObjectStore.BOTO_OPERATIONS.values() for a in actions} <= declared


def test_stored_with_content_type_and_cache_control(s3_raw: Any, s3_store: S3ObjectStore) -> None:
    s3_store.put("renditions/i/1/t.webp", b"RIFF", content_type="image/webp", cache_control="public, immutable")
    raw = s3_raw.head_object(Bucket=s3_store.bucket, Key="renditions/i/1/t.webp")
    assert (raw["ContentType"], raw["CacheControl"]) == ("image/webp", "public, immutable")
    assert s3_store.cache_control("renditions/i/1/t.webp") == "public, immutable"


def test_missing_bucket_is_a_storage_error(s3: Any) -> None:
    store = S3ObjectStore(s3, unique("absent"))
    with pytest.raises(StorageError) as info:
        store.get("originals/x", max_bytes=10)
    assert not isinstance(info.value, NotFound)
    assert info.value.retryable


def test_unreachable_endpoint_is_a_storage_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = client("s3", f"http://127.0.0.1:{port}")
    with pytest.raises(StorageError):
        S3ObjectStore(dead, "b").head("originals/x")


def _decode_policy(fields: dict[str, str]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


def test_presigned_post_policy_pins_key_type_and_size(s3_store: S3ObjectStore) -> None:
    key = "originals/01HXYZ"
    up = s3_store.presign_upload(key, content_type="image/jpeg", max_size=5_000_000, expires_in=900)
    policy = _decode_policy(dict(up.fields))
    conditions = policy["conditions"]
    assert {"key": key} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1, 5_000_000] in conditions
    assert {"bucket": s3_store.bucket} in conditions
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]
    expiry = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 0 < expiry.timestamp() - datetime.now(UTC).timestamp() <= 900
    assert up.fields["key"] == key
    assert up.fields["Content-Type"] == "image/jpeg"
    with pytest.raises(InvalidKey):
        s3_store.presign_upload("originals/${filename}", content_type="image/jpeg", max_size=10, expires_in=60)


@pytest.mark.parametrize("key", ["originals/01HXYZ", "originals/odd key+ü%"])
def test_presigned_post_lands_the_file(s3_store: S3ObjectStore, key: str) -> None:
    data = b"\xff\xd8\xff\xe0" + b"jpeg" * 100
    up = s3_store.presign_upload(key, content_type="image/jpeg", max_size=10_000, expires_in=300)
    # S3 wants the fields first and the file last
    resp = httpx.post(up.url, data=dict(up.fields), files={up.file_field: ("ignored.jpg", data, "image/jpeg")})
    assert resp.status_code in (200, 201, 204), resp.text
    info = s3_store.head(key)
    assert (info.size, info.etag, info.content_type) == (len(data), hashlib.md5(data).hexdigest(), "image/jpeg")
    assert s3_store.get(key, max_bytes=10_000) == data


def test_etag_precondition_uses_if_match(s3_store: S3ObjectStore, s3_ops: OperationLog) -> None:
    first = s3_store.put("originals/e", b"first", content_type="image/png")
    s3_store.put("originals/e", b"second", content_type="image/png")
    s3_ops.names.clear()
    with pytest.raises(Conflict):
        s3_store.get("originals/e", max_bytes=100, etag=first.etag)
    assert s3_ops.names == ["GetObject"]  # one request: S3 checked the precondition itself


def test_download_url_is_presigned_with_filename(s3_store: S3ObjectStore) -> None:
    s3_store.put("originals/d l", b"payload", content_type="image/png")
    url = s3_store.download_url("originals/d l", expires_in=60, filename="Été photo.png")
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=60" in url
    resp = httpx.get(url)
    assert resp.status_code == 200
    assert resp.content == b"payload"
    disposition = resp.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%C3%89t%C3%A9%20photo.png" in disposition


def test_public_base_url_makes_plain_urls(s3: Any) -> None:
    store = S3ObjectStore(s3, "b", public_base_url="https://cdn.example/")
    assert (
        store.download_url("renditions/a b/1/t.webp", expires_in=60) == "https://cdn.example/renditions/a%20b/1/t.webp"
    )


@pytest.mark.cluster
@pytest.mark.parametrize(
    ("size", "content_type"),
    [(20_001, "image/jpeg"), (100, "image/png")],
    ids=["too large", "other content type"],
)
def test_seaweedfs_enforces_the_presigned_policy(weed_server: Any, size: int, content_type: str) -> None:
    """SeaweedFS checks the POST policy the adapter writes (moto server checks none)."""
    s3 = client("s3", weed_server.endpoint, weed_server.credentials)
    bucket = unique("policy")
    s3.create_bucket(Bucket=bucket)
    store = S3ObjectStore(s3, bucket)
    up = store.presign_upload("originals/pinned", content_type="image/jpeg", max_size=20_000, expires_in=300)
    fields = {**dict(up.fields), "Content-Type": content_type}
    resp = httpx.post(up.url, data=fields, files={up.file_field: ("a.jpg", b"\xff" * size, content_type)})
    assert resp.status_code in (400, 403), resp.text
    with pytest.raises(NotFound):
        store.head("originals/pinned")
    ok = httpx.post(up.url, data=dict(up.fields), files={up.file_field: ("a.jpg", b"\xff" * 100, "image/jpeg")})
    assert ok.status_code in (200, 201, 204), ok.text  # the same grant, within its policy, lands
    assert store.head("originals/pinned").size == 100
