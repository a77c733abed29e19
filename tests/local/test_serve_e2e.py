"""``imgflow serve`` as a real process: uploads over HTTP, workers, renditions, metrics, the edge."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

from local.conftest import IMGFLOW, Server, server_env
from testkit import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _check_renditions(server: Server, record: dict[str, object], oriented: tuple[int, int]) -> None:
    renditions = record["renditions"]
    assert isinstance(renditions, list)
    assert {r["name"] for r in renditions} >= {"thumb", "medium", "large"}
    for r in renditions:
        resp = httpx.get(r["url"])
        assert resp.status_code == 200, r
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["content-type"] == r["content_type"]
        with Image.open(io.BytesIO(resp.content)) as img:
            assert img.format.lower() == {"jpeg": "jpeg", "webp": "webp", "png": "png"}[r["format"]]
            assert img.size == (r["width"], r["height"])
        assert max(r["width"], r["height"]) <= {"thumb": 256, "medium": 1024, "large": 2048}[r["name"]]
        # aspect ratio of the upright original, within a pixel
        ow, oh = oriented
        assert abs(r["width"] * oh / ow - r["height"]) <= 1.0


def test_photos_and_corrupt_files_through_both_upload_paths(server: Server, corpus: Path) -> None:
    coffee = server.upload_presigned(corpus / "photos/coffee.png", "image/png")
    assert coffee["status"] == "awaiting_upload"
    rotated = server.upload_presigned(corpus / "edge/orientation/Landscape_6.jpg", "image/jpeg")
    hopper = server.upload_direct(corpus / "edge/jpeg/hopper.jpg", "image/jpeg")
    assert hopper["status"] == "queued"
    truncated = server.upload_direct(corpus / "edge/jpeg/truncated.jpg", "image/jpeg")
    cut_short = server.upload_presigned(corpus / "edge/jpeg/truncated_jpeg.jpg", "image/jpeg")

    done = {name: server.wait_final(rec["image_id"]) for name, rec in
            [("coffee", coffee), ("rotated", rotated), ("hopper", hopper)]}  # fmt: skip
    for name, record in done.items():
        assert record["status"] == "done", (name, record)
        assert record["attempts"] == 1
    assert (done["coffee"]["facts"]["width"], done["coffee"]["facts"]["height"]) == (600, 400)
    # EXIF orientation 6: the pixels are stored sideways (1200x1800); upright it is 1800x1200
    facts = done["rotated"]["facts"]
    assert (facts["width"], facts["height"]) == (1200, 1800)
    assert (facts["oriented_width"], facts["oriented_height"]) == (1800, 1200)
    _check_renditions(server, done["coffee"], (600, 400))
    _check_renditions(server, done["rotated"], (1800, 1200))
    _check_renditions(server, done["hopper"], (128, 128))

    for rec in (truncated, cut_short):
        failed = server.wait_final(rec["image_id"])
        assert failed["status"] == "failed", failed
        assert failed["error"]["code"] == "corrupt_image", failed
        assert failed["renditions"] == []
        assert failed["attempts"] == 1  # a bad image is not retried

    # the JSON log lines carry the AWS fields
    line = server.wait_log(lambda x: x.get("message") == "job handled" and x.get("image_id") == coffee["image_id"])
    assert line["status"] == "done"
    assert line["key"] == f"originals/{coffee['image_id']}"
    assert isinstance(line["duration_ms"], int)


def test_refusals_at_the_edge(server: Server, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image at all\n" * 10)
    resp = server.client.post("/v1/images", content=text.read_bytes(), headers={"content-type": "image/jpeg"})
    assert resp.status_code == 415, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")

    evil = httpx.get(f"{server.url}/healthz", headers={"host": "attacker.example"})
    assert evil.status_code == 400
    evil_page = httpx.get(f"{server.url}/", headers={"host": "rebind.attacker.example:80"})
    assert evil_page.status_code == 400
    ok = httpx.get(f"{server.url}/", headers={"host": f"localhost:{server.port}"})
    assert ok.status_code == 200
    assert ok.headers["x-content-type-options"] == "nosniff"
    assert "text/html" in ok.headers["content-type"]
    assert "default-src 'self'" in ok.headers["content-security-policy"]
    for path in ("/healthz", "/metrics", "/web/app.js", "/v1/images", "/no-such-thing"):
        assert httpx.get(f"{server.url}{path}").headers["x-content-type-options"] == "nosniff", path


def test_originals_are_never_served_inline(server: Server, corpus: Path) -> None:
    rec = server.upload_direct(corpus / "edge/jpeg/hopper.jpg", "image/jpeg")
    server.wait_final(rec["image_id"])
    # the API only hands out rendition links; a signed link to an original (as the store can make) is an attachment
    from imgflow.bootstrap import build_service
    from imgflow.settings import load_settings

    settings = load_settings(environ={}, data_dir=server.data_dir, public_base_url=server.url)
    service = build_service(settings, with_processor=False)
    url = service.originals.download_url(f"originals/{rec['image_id']}", expires_in=60)
    resp = httpx.get(url)
    assert resp.status_code == 200
    assert resp.headers["content-disposition"].startswith("attachment")
    assert resp.headers["content-type"] == "application/octet-stream"
    service.catalog.close()  # type: ignore[attr-defined]


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_two_images(make_server: Callable[..., Server], corpus: Path) -> None:
    server = make_server(workers=2)
    good = server.upload_presigned(corpus / "photos/coffee.png", "image/png")
    bad = server.upload_direct(corpus / "edge/jpeg/truncated.jpg", "image/jpeg")
    assert server.wait_final(good["image_id"])["status"] == "done"
    assert server.wait_final(bad["image_id"])["status"] == "failed"
    for rec in (good, bad):  # logged once the job is finished and counted
        server.wait_log(lambda x, r=rec: x.get("message") == "job handled" and x.get("image_id") == r["image_id"])
    text = httpx.get(f"{server.url}/metrics").text
    assert _metric(text, "imgflow_uploads_total") == 2
    assert 'imgflow_uploads_total{path="presigned"} 1.0' in text
    assert 'imgflow_uploads_total{path="direct"} 1.0' in text
    assert _metric(text, "imgflow_processed_total") == 1
    assert 'imgflow_failed_total{code="corrupt_image"} 1.0' in text
    assert _metric(text, "imgflow_processing_seconds_count") == 2
    assert 'imgflow_queue_depth{state="live"} 0.0' in text
    assert server.stop() == 0


def test_non_loopback_bind_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(IMGFLOW), "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path / "d")],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.search(r"refusing to serve on 0\.0\.0\.0 without authentication", proc.stderr)
    assert "IMGFLOW_API_TOKEN" in proc.stderr
    assert not (tmp_path / "d").exists()


def test_cli_upload_and_status_against_the_server(server: Server, corpus: Path) -> None:
    up = subprocess.run(
        [str(IMGFLOW), "upload", str(corpus / "photos/astronaut.png"), "--server", server.url],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert up.returncode == 0, up.stderr
    line = json.loads(up.stdout.strip().splitlines()[-1])
    assert line["status"] == "done"
    assert (line["width"], line["height"]) == (512, 512)
    assert set(line["renditions"]) == {f"{n}.{f}" for n in ("large", "medium", "thumb") for f in ("jpg", "webp")}
    st = subprocess.run(
        [str(IMGFLOW), "status", line["image_id"], "--server", server.url],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert st.returncode == 0, st.stderr
    assert json.loads(st.stdout)["status"] == "done"
    missing = subprocess.run(
        [str(IMGFLOW), "status", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--server", server.url],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1  # a refused request about the image named
    assert "404" in missing.stderr


DOCS = ROOT / "docs" / "local.md"


def test_the_curl_example_in_the_docs_works(server: Server, corpus: Path, tmp_path: Path) -> None:
    text = DOCS.read_text()
    block = text.split("<!-- curl-example -->", 1)[1].split("<!-- /curl-example -->", 1)[0]
    script = block.split("```sh\n", 1)[1].rsplit("```", 1)[0]
    shutil.copyfile(corpus / "edge/jpeg/hopper.jpg", tmp_path / "photo.jpg")
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env={**server_env(), "IMGFLOW": server.url},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, run.stderr
    docs, pos, out = [], 0, run.stdout  # curl prints the JSON answers back to back
    while pos < len(out.rstrip()):
        doc, pos = json.JSONDecoder().raw_decode(out, pos)
        docs.append(doc)
    assert docs[0]["status"] == "queued"
    final = docs[-1]
    assert final["status"] == "done"
    assert final["filename"] == "photo.jpg"
    assert len(final["renditions"]) == 6


def test_the_docs_name_every_command_and_metric() -> None:
    text = DOCS.read_text()
    for needle in ("imgflow serve", "imgflow worker", "imgflow upload", "imgflow status", "make run", "--workers"):
        assert needle in text, needle
    from imgflow.runtimes.local.metrics import FAILED, PROCESSED, PROCESSING_SECONDS, UPLOADS

    for metric in (UPLOADS, PROCESSED, FAILED, PROCESSING_SECONDS):
        assert f"`{metric._name}" in text, metric._name
    assert "imgflow_queue_depth" in text
    readme = (ROOT / "README.md").read_text()
    assert "docs/local.md" in readme
    assert "imgflow upload" in readme


def test_rendition_links_outlive_a_reprocess_until_the_delete(server: Server, corpus: Path) -> None:
    image_id = server.upload_direct(corpus / "photos/coffee.png", "image/png")["image_id"]
    first = server.wait_final(image_id)
    thumb = next(r["url"] for r in first["renditions"] if r["name"] == "thumb" and r["format"] == "webp")
    assert thumb == f"{server.url}/v1/images/{image_id}/renditions/1/thumb.webp"
    assert server.client.post(f"/v1/images/{image_id}/reprocess").status_code == 202
    deadline = time.monotonic() + 60
    while server.client.get(f"/v1/images/{image_id}").json()["renditions"][0]["url"].find("/renditions/2/") < 0:
        assert time.monotonic() < deadline, "the reprocess did not finish"
        time.sleep(0.1)
    moved = httpx.get(thumb)
    assert (moved.status_code, moved.headers["location"]) == (307, f"/v1/images/{image_id}/renditions/2/thumb.webp")
    landed = httpx.get(thumb, follow_redirects=True)
    assert (landed.status_code, landed.headers["content-type"]) == (200, "image/webp")
    by_name = httpx.get(f"{server.url}/v1/images/{image_id}/renditions/thumb.webp")
    assert by_name.content == landed.content
    assert server.client.delete(f"/v1/images/{image_id}").status_code == 204
    for url in (thumb, f"{server.url}/v1/images/{image_id}/renditions/thumb.webp"):
        assert httpx.get(url).status_code == 404


def test_the_docs_and_the_example_name_every_crash_recovery_setting() -> None:
    """Enumerated from the code: the service's retry policy and the local runtime's limits."""
    from dataclasses import fields

    from imgflow.service import ServiceConfig
    from imgflow.settings import Settings

    policy = [f.name for f in fields(ServiceConfig) if "retry" in f.name or f.name in ("max_attempts", "lease_seconds")]
    local = [name for name in Settings.model_fields if name.startswith(("job_", "worker_"))]
    assert len(policy) >= 5
    assert len(local) >= 2
    example = (ROOT / "imgflow.example.yaml").read_text()
    for name in policy + local:
        assert name in Settings.model_fields, name
        assert f"`{name}`" in DOCS.read_text(), name
        assert f"\n{name}:" in example, name
