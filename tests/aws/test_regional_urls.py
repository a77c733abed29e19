"""Presigned URLs name the bucket's region: the regional virtual-hosted endpoint, never the global one.

The global endpoint (``bucket.s3.amazonaws.com``) is refused by opt-in regions and answers a new
bucket elsewhere with a 307 for hours (no CORS headers: browser uploads break). The client is built
by the same wiring the functions use; signing needs no network.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from imgflow.adapters.s3_store import S3ObjectStore
from imgflow.bootstrap import aws_clients
from imgflow.settings import load_settings


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


# af-south-1 is an opt-in region
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "af-south-1"])
def test_upload_and_download_urls_name_the_region(region: str) -> None:
    settings = load_settings(environ={"IMGFLOW_BACKEND": "aws", "IMGFLOW_AWS_REGION": region})
    store = S3ObjectStore(aws_clients(settings).s3, "imgflow-uploads-123456789012")
    host = f"imgflow-uploads-123456789012.s3.{region}.amazonaws.com"

    post = store.presign_upload("originals/01ABC", content_type="image/png", max_size=1000, expires_in=900)
    assert urlsplit(post.url).hostname == host
    get = store.download_url("renditions/01ABC/1/thumb.webp", expires_in=60, filename="a.webp")
    parts = urlsplit(get)
    assert parts.hostname == host
    assert parts.path == "/renditions/01ABC/1/thumb.webp"  # virtual-hosted: no bucket in the path
    assert f"%2F{region}%2Fs3%2Faws4_request" in parts.query  # signed for the region it names


def test_an_emulator_is_reached_path_style() -> None:
    settings = load_settings(environ={"IMGFLOW_BACKEND": "aws", "IMGFLOW_AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})
    store = S3ObjectStore(aws_clients(settings).s3, "b")
    assert store.download_url("k", expires_in=60).startswith("http://127.0.0.1:5000/b/k?")
