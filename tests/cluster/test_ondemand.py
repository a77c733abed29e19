"""On-demand ``/t/`` URLs on the cluster: the API role's render processes read the buckets, each
host caches in its own data folder, and every API host signs and verifies alike (signing_key)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from clusterkit import Cluster, wait_status

from testkit import CORPUS

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

PHOTO = CORPUS / "photos/coffee.png"


def test_on_demand_urls_render_from_the_buckets_on_any_api_host(cluster: Cluster, tmp_path: Path) -> None:
    from PIL import Image

    first = cluster.api()
    other = cluster.api("--data-dir", str(tmp_path / "other-host"), log="api-other.log")
    cluster.start("worker", "--concurrency", "1", log="worker.log")
    with httpx.Client(base_url=first, timeout=60) as client:
        created = client.post("/v1/images?filename=coffee.png", content=PHOTO.read_bytes())
        assert created.status_code == 202, created.text
        record = wait_status(client, created.json()["image_id"])
        assert record["status"] == "done", record
        candidates = [part.rsplit(" ", 1) for part in record["srcset"].split(", ")]
        assert candidates, record
        url, width = candidates[0]
        path = url.split("://", 1)[1].split("/", 1)[1]
        answer = client.get(f"/{path}", headers={"accept": "image/webp"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "image/webp"
        assert Image.open(io.BytesIO(answer.content)).size[0] == int(width.removesuffix("w"))
        again = client.get(f"/{path}", headers={"accept": "image/webp", "if-none-match": answer.headers["etag"]})
        assert again.status_code == 304
        tampered = path.replace("t/", "t/A", 1)  # another signature
        assert client.get(f"/{tampered}").status_code == 403
    # another API host (its own data folder, so its own cache) verifies and renders the same URL
    elsewhere = httpx.get(f"{other}/{path}", headers={"accept": "image/webp"}, timeout=60)
    assert elsewhere.status_code == 200, elsewhere.text
    assert elsewhere.content == answer.content
    assert elsewhere.headers["etag"] == answer.headers["etag"]
    assert any((tmp_path / "other-host").rglob("*.webp"))  # cached on that host


def test_without_a_shared_key_the_cluster_serves_no_on_demand_urls(cluster: Cluster) -> None:
    url = cluster.api("--data-dir", str(cluster.root / "nokey"), log="api-nokey.log")
    cluster.env.pop("IMGFLOW_SIGNING_KEY")
    plain = cluster.api("--data-dir", str(cluster.root / "nokey2"), log="api-nokey2.log")
    cluster.start("worker", "--concurrency", "1", log="worker.log")
    with httpx.Client(base_url=plain, timeout=60) as client:
        created = client.post("/v1/images?filename=coffee.png", content=PHOTO.read_bytes())
        record = wait_status(client, created.json()["image_id"])
        assert record["status"] == "done"
        assert record.get("srcset") is None  # each host's own key file would sign differently
        assert client.get(f"/v1/images/{record['image_id']}/transform-url?width=100").status_code == 404
    assert "on-demand /t/ URLs are off" in cluster.log("api-nokey2.log")
    assert httpx.get(f"{url}/v1/images/{record['image_id']}", timeout=30).json()["srcset"]
