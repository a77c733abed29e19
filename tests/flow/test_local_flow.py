"""The whole flow on the folder + SQLite wiring, over real HTTP: create upload, POST the signed
form, the processor handles the event with the real image engine, read the record back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from flow_kit import jpeg, serve

from imgflow.bootstrap import build_app, build_service
from imgflow.errors import NotFound
from imgflow.service import ImageService
from imgflow.settings import Settings, load_settings
from testkit import free_port


class Clock:
    """Real time, shifted when a test needs a grant to have expired."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Server:
    url: str
    settings: Settings
    service: ImageService
    clock: Clock

    def create_upload(self, data: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
        resp = httpx.post(
            f"{self.url}/v1/uploads", json={"filename": "p.jpg", "content_type": content_type, "size": len(data)}
        )
        assert resp.status_code == 201, resp.text
        body: dict[str, Any] = resp.json()
        return body


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    settings = load_settings(environ={}, data_dir=tmp_path, public_base_url=f"http://127.0.0.1:{port}")
    clock = Clock()
    service = build_service(settings, with_processor=True, clock=clock)
    with serve(build_app(settings, service=service), port) as url:
        yield Server(url, settings, service, clock)


def post_form(upload: dict[str, Any], data: bytes, **field_overrides: str) -> httpx.Response:
    fields = {**upload["fields"], **field_overrides}
    return httpx.post(upload["url"], data=fields, files={upload["file_field"]: ("p.jpg", data, "image/jpeg")})


def test_presigned_upload_to_done_over_http(server: Server) -> None:
    data = jpeg()
    created = server.create_upload(data)
    image_id, upload = created["image"]["image_id"], created["upload"]
    assert upload["url"].startswith(f"{server.url}/v1/local-uploads/")
    resp = post_form(upload, data)
    assert resp.status_code == 204, resp.text
    queued = httpx.get(f"{server.url}/v1/images/{image_id}").json()
    assert queued["status"] == "queued"

    outcome = server.service.handle_object_created(f"originals/{image_id}")
    assert outcome.kind == "done", outcome

    done = httpx.get(f"{server.url}/v1/images/{image_id}").json()
    assert done["status"] == "done"
    assert (done["facts"]["width"], done["facts"]["height"]) == (640, 480)
    assert done["facts"]["sha256"]
    names = {(r["name"], r["format"]) for r in done["renditions"]}
    assert names == {(n, f) for n in ("large", "medium", "thumb") for f in ("jpeg", "webp")}
    thumb = next(r for r in done["renditions"] if (r["name"], r["format"]) == ("thumb", "jpeg"))
    assert (thumb["width"], thumb["height"]) == (256, 192)
    got = httpx.get(thumb["url"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/jpeg"
    assert got.content[:3] == b"\xff\xd8\xff"
    # a duplicate event changes nothing
    assert server.service.handle_object_created(f"originals/{image_id}").kind == "unchanged"


def test_raw_body_upload_works_too(server: Server) -> None:
    data = jpeg(320, 200)
    upload = server.create_upload(data)["upload"]
    resp = httpx.post(upload["url"], content=data, headers={"content-type": "image/jpeg"})
    assert resp.status_code == 204, resp.text
    key = upload["fields"]["key"]
    assert server.service.originals.get(key, max_bytes=10**7) == data


def test_the_signed_upload_refuses_what_it_did_not_grant(server: Server) -> None:
    data = jpeg()
    created = server.create_upload(data)
    upload, image_id = created["upload"], created["image"]["image_id"]
    key = upload["fields"]["key"]

    def refused(resp: httpx.Response, status: int, code: str) -> None:
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["code"] == code
        with pytest.raises(NotFound):
            server.service.originals.head(key)

    refused(post_form(upload, data + b"more bytes"), 413, "too_large")
    refused(post_form(upload, data, **{"Content-Type": "image/png"}), 415, "unsupported_type")
    refused(httpx.post(upload["url"], content=data, headers={"content-type": "image/png"}), 415, "unsupported_type")
    refused(post_form(upload, data, key="originals/01HSOMEONEELSE000000000000"), 403, "bad_signature")
    token = upload["url"].rsplit("/", 1)[1]
    tampered = {**upload, "url": upload["url"][: -len(token)] + token[:-2] + ("AA" if token[-2:] != "AA" else "BB")}
    refused(post_form(tampered, data), 403, "bad_signature")
    body, mac = token.split(".")
    forged = {**upload, "url": upload["url"].replace(token, f"{body[:-1]}A.{mac}")}
    refused(post_form(forged, data), 403, "bad_signature")
    server.clock.offset = server.settings.upload_url_ttl + 5
    refused(post_form(upload, data), 403, "signature_expired")
    server.clock.offset = 0
    assert httpx.get(f"{server.url}/v1/images/{image_id}").json()["status"] == "awaiting_upload"
    assert post_form(upload, data).status_code == 204  # the grant itself still works


def test_too_big_refused_by_content_length_before_reading(server: Server) -> None:
    upload = server.create_upload(b"x" * 100)["upload"]
    resp = httpx.post(upload["url"], content=jpeg(), headers={"content-type": "image/jpeg"})
    assert resp.status_code == 413
