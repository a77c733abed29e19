"""A local presigned upload is accepted once: while its image still awaits the upload."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from api_kit import BASE, Wiring, png
from PIL import Image
from test_routes import problem


def _start(api: Wiring, data: bytes) -> tuple[str, str]:
    created = api.client.post("/v1/uploads", json={"filename": "a.png", "content_type": "image/png", "size": len(data)})
    assert created.status_code == 201, created.text
    body = created.json()
    return body["image"]["image_id"], body["upload"]["url"].removeprefix(BASE)


def _blue() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 0, 255)).save(out, format="PNG")
    return out.getvalue()


def _without_urls(view: dict[str, Any]) -> dict[str, Any]:
    return {**view, "renditions": [{k: v for k, v in r.items() if k != "url"} for r in view["renditions"]]}


def test_a_token_cannot_replace_a_processed_original(local_api: Wiring) -> None:
    first = png(64, 48)
    image_id, url = _start(local_api, first)
    assert local_api.client.post(url, content=first, headers={"content-type": "image/png"}).status_code == 204
    assert local_api.service.handle_object_created(f"originals/{image_id}").kind == "done"
    before = local_api.client.get(f"/v1/images/{image_id}").json()

    for kw in (
        {"content": _blue(), "headers": {"content-type": "image/png"}},
        {"data": {"key": f"originals/{image_id}", "Content-Type": "image/png"}, "files": {"file": _blue()}},
    ):
        again = local_api.client.post(url, **kw)
        problem(again, 409, "upload_closed")

    stored = local_api.service.originals.get(f"originals/{image_id}", max_bytes=10_000)
    assert stored == first
    after = local_api.client.get(f"/v1/images/{image_id}").json()
    assert _without_urls(after) == _without_urls(before)  # URLs are signed at read time
    assert after["facts"]["sha256"] == hashlib.sha256(stored).hexdigest()


def test_a_token_cannot_upload_to_a_deleted_image(local_api: Wiring) -> None:
    data = png(64, 48)
    image_id, url = _start(local_api, data)
    assert local_api.client.delete(f"/v1/images/{image_id}").status_code == 204
    late = local_api.client.post(url, content=data, headers={"content-type": "image/png"})
    problem(late, 409, "upload_closed")
    assert [o.key for o in local_api.service.originals.list("originals/")] == []


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(out, format="JPEG")
    return out.getvalue()


def test_the_bytes_decide_on_the_local_form_as_on_every_path(local_api: Wiring) -> None:
    """A PNG-labelled grant given JPEG bytes (a photo named .png): processed as the JPEG it is,
    like the direct route; bytes of no accepted format: 415 and nothing stored."""
    jpeg = _jpeg()
    image_id, url = _start(local_api, jpeg)
    form = {"key": f"originals/{image_id}", "Content-Type": "image/png"}
    landed = local_api.client.post(url, data=form, files={"file": ("a.png", jpeg, "image/png")})
    assert landed.status_code == 204, landed.text
    assert local_api.service.originals.head(f"originals/{image_id}").content_type == "image/jpeg"
    assert local_api.service.handle_object_created(f"originals/{image_id}").kind == "done"
    assert local_api.client.get(f"/v1/images/{image_id}").json()["content_type"] == "image/jpeg"
    direct = local_api.client.post("/v1/images", content=jpeg, headers={"content-type": "image/png"})
    assert (direct.status_code, direct.json()["content_type"]) == (202, "image/jpeg")

    bmp = b"BM" + b"\0" * 200
    other, url = _start(local_api, bmp)
    refused = local_api.client.post(url, data={"key": f"originals/{other}", "Content-Type": "image/png"},
                                    files={"file": ("a.png", bmp, "image/png")})  # fmt: skip
    doc = problem(refused, 415, "unsupported_type")
    assert "bmp" in doc["detail"]
    assert list(local_api.service.originals.list(f"originals/{other}")) == []
    assert local_api.client.get(f"/v1/images/{other}").json()["status"] == "awaiting_upload"
