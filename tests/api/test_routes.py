"""Every route on both wirings: status codes, bodies, problem documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from api_kit import Wiring, png

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "instance"}


def problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = resp.json()
    assert set(body) >= PROBLEM_KEYS
    assert (body["status"], body["code"], body["type"]) == (status, code, f"urn:imgflow:problem:{code}")
    return body


def originals(api: Wiring) -> list[str]:
    return [i.key for i in api.service.originals.list("originals/")]


def test_healthz(api: Wiring) -> None:
    resp = api.client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"


def test_create_upload(api: Wiring) -> None:
    resp = api.client.post("/v1/uploads", json={"filename": "cat.png", "content_type": "image/png", "size": 1234})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    image, upload = body["image"], body["upload"]
    assert image["status"] == "awaiting_upload"
    assert image["filename"] == "cat.png"
    assert image["renditions"] == []
    assert resp.headers["location"] == f"/v1/images/{image['image_id']}"
    assert upload["method"] == "POST"
    assert upload["file_field"] == "file"
    assert upload["fields"]["key"] == f"originals/{image['image_id']}"
    assert upload["fields"]["Content-Type"] == "image/png"
    if api.name == "local":
        assert upload["url"].startswith("http://testserver/v1/local-uploads/")
    else:
        assert upload["url"].startswith(str(api.settings.aws_endpoint_url))
        assert "policy" in upload["fields"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"content_type": "image/svg+xml", "size": 10}, 415, "unsupported_type", None),
        ({"content_type": "image/png", "size": 10**12}, 413, "too_large", None),
        ({"content_type": "image/png", "size": 0}, 422, "validation_error", "size"),
        ({"size": 10}, 422, "validation_error", "content_type"),
        ({"content_type": "image/png", "size": 10, "owner": "x"}, 422, "validation_error", "owner"),
        ({"content_type": "image/png", "size": 10, "recipe": "nope"}, 422, "bad_recipe", None),
    ],
)
def test_create_upload_refusals(api: Wiring, body: dict[str, Any], status: int, code: str, field: str | None) -> None:
    doc = problem(api.client.post("/v1/uploads", json=body), status, code)
    if field is not None:
        assert field in [e["field"] for e in doc["errors"]]
        assert field in doc["detail"]
    assert doc["instance"] == "/v1/uploads"


def test_malformed_json_is_a_400(api: Wiring) -> None:
    resp = api.client.post("/v1/uploads", content=b"{nope", headers={"content-type": "application/json"})
    problem(resp, 400, "invalid_json")


def test_direct_upload_processed_and_read_back(api: Wiring) -> None:
    data = png(80, 60)
    resp = api.client.post("/v1/images?filename=a.png", content=data, headers={"content-type": "image/png"})
    assert resp.status_code == 202, resp.text
    image = resp.json()
    assert image["status"] == "queued"
    assert image["content_type"] == "image/png"
    assert image["size"] == len(data)
    assert api.service.handle_object_created(f"originals/{image['image_id']}").kind == "done"
    got = api.client.get(f"/v1/images/{image['image_id']}")
    assert got.status_code == 200
    done = got.json()
    assert done["status"] == "done"
    assert done["facts"]["width"] == 80
    assert {(r["name"], r["format"]) for r in done["renditions"]} >= {("thumb", "jpeg"), ("thumb", "webp")}
    thumb = next(r for r in done["renditions"] if r["format"] == "webp")
    fetched = api.fetch(thumb["url"])
    assert fetched.status_code == 200
    assert fetched.content[:4] == b"RIFF"
    assert len(fetched.content) == thumb["bytes"]


def test_direct_upload_too_large_by_content_length_stores_nothing(api: Wiring) -> None:
    cap = api.settings.direct_upload_max_bytes
    resp = api.client.post("/v1/images", content=b"\x89PNG\r\n\x1a\n" + bytes(cap))
    problem(resp, 413, "too_large")
    assert originals(api) == []


def test_direct_upload_too_large_while_streaming_stores_nothing(api: Wiring) -> None:
    cap = api.settings.direct_upload_max_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b"\x89PNG\r\n\x1a\n"
        for _ in range(cap // 65536 + 2):
            yield bytes(65536)

    resp = api.client.post("/v1/images", content=chunks())
    problem(resp, 413, "too_large")
    assert originals(api) == []


@pytest.mark.parametrize("data", [b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"just text", b"%PDF-1.4 x"])
def test_direct_upload_unsupported_type_stores_nothing(api: Wiring, data: bytes) -> None:
    resp = api.client.post("/v1/images", content=data, headers={"content-type": "image/png"})
    problem(resp, 415, "unsupported_type")
    assert originals(api) == []
    assert api.client.get("/v1/images").json()["items"] == []


def test_unknown_image_is_a_404(api: Wiring) -> None:
    doc = problem(api.client.get("/v1/images/01HNOPE0000000000000000000"), 404, "not_found")
    assert doc["instance"] == "/v1/images/01HNOPE0000000000000000000"
    problem(api.client.delete("/v1/images/01HNOPE0000000000000000000"), 404, "not_found")
    problem(api.client.post("/v1/images/01HNOPE0000000000000000000/reprocess"), 404, "not_found")


def test_unknown_route_and_wrong_method(api: Wiring) -> None:
    problem(api.client.get("/v2/nothing"), 404, "not_found")
    resp = api.client.request("PUT", "/v1/images/01HX")
    problem(resp, 405, "method_not_allowed")
    assert resp.headers["allow"] == "DELETE, GET"
    problem(api.client.get("/v1/uploads"), 405, "method_not_allowed")


def test_list_filters_and_pages(api: Wiring) -> None:
    ids = [api.client.post("/v1/images", content=png()).json()["image_id"] for _ in range(3)]
    api.service.handle_object_created(f"originals/{ids[0]}")
    page = api.client.get("/v1/images?limit=2").json()
    assert [i["image_id"] for i in page["items"]] == ids[::-1][:2]
    rest = api.client.get("/v1/images", params={"limit": 2, "cursor": page["cursor"]}).json()
    assert [i["image_id"] for i in rest["items"]] == [ids[0]]
    assert rest["cursor"] is None
    done = api.client.get("/v1/images?status=done").json()["items"]
    assert [i["image_id"] for i in done] == [ids[0]]
    assert done[0]["renditions"]


@pytest.mark.parametrize(
    ("query", "field"), [("status=deleted", "status"), ("status=bogus", "status"), ("limit=0", "limit")]
)
def test_list_validation_names_the_field(api: Wiring, query: str, field: str) -> None:
    doc = problem(api.client.get(f"/v1/images?{query}"), 422, "validation_error")
    assert [e["field"] for e in doc["errors"]] == [f"query.{field}"]


def test_bad_cursor_is_a_400(api: Wiring) -> None:
    problem(api.client.get("/v1/images?cursor=!!!"), 400, "invalid_cursor")


def test_delete_then_gone(api: Wiring) -> None:
    image_id = api.client.post("/v1/images", content=png()).json()["image_id"]
    api.service.handle_object_created(f"originals/{image_id}")
    resp = api.client.delete(f"/v1/images/{image_id}")
    assert resp.status_code == 204
    assert resp.content == b""
    problem(api.client.get(f"/v1/images/{image_id}"), 404, "not_found")
    assert api.client.delete(f"/v1/images/{image_id}").status_code == 204  # idempotent: a retry is not a 404
    assert originals(api) == []
    assert list(api.service.renditions.list(f"renditions/{image_id}/")) == []
    assert api.service.handle_object_created(f"originals/{image_id}").kind == "ignored"


def test_reprocess(api: Wiring) -> None:
    image_id = api.client.post("/v1/images", content=png()).json()["image_id"]
    problem(api.client.post(f"/v1/images/{image_id}/reprocess"), 409, "conflict")
    api.service.handle_object_created(f"originals/{image_id}")
    resp = api.client.post(f"/v1/images/{image_id}/reprocess", json={"recipe": "default"})
    assert resp.status_code == 202, resp.text
    assert (resp.json()["status"], resp.json()["generation"]) == ("queued", 2)
    problem(api.client.post(f"/v1/images/{image_id}/reprocess", json={"recipe": "x"}), 409, "conflict")
    assert api.service.handle_object_created(f"originals/{image_id}").kind == "done"
    again = api.client.get(f"/v1/images/{image_id}").json()
    assert (again["status"], again["generation"]) == ("done", 2)
    assert again["renditions"]
    assert all("/2/" in r["url"] for r in again["renditions"])


def test_complete_upload_queues_once_the_file_is_there(api: Wiring) -> None:
    created = api.client.post("/v1/uploads", json={"content_type": "image/png", "size": 100}).json()["image"]
    image_id = created["image_id"]
    early = problem(api.client.post(f"/v1/uploads/{image_id}/complete"), 409, "upload_not_landed")
    assert image_id in early["detail"]
    assert api.service.catalog.get(image_id).status == "awaiting_upload"
    api.service.originals.put(f"originals/{image_id}", png(20, 10), content_type="image/png")
    done = api.client.post(f"/v1/uploads/{image_id}/complete")
    assert done.status_code == 202, done.text
    assert done.json()["status"] == "queued"
    again = api.client.post(f"/v1/uploads/{image_id}/complete")  # idempotent: answered as it is
    assert (again.status_code, again.json()["status"]) == (202, "queued")
    problem(api.client.post("/v1/uploads/01J9Z6K3M7Q2W8V4T0R5N1B6XC/complete"), 404, "not_found")


def test_a_page_holds_limit_live_images_past_deleted_ones(api: Wiring) -> None:
    ids = [api.client.post("/v1/images", content=png()).json()["image_id"] for _ in range(6)]
    for image_id in ids[-2:]:  # the two newest are tombstones now
        assert api.client.delete(f"/v1/images/{image_id}").status_code == 204
    first = api.client.get("/v1/images?limit=3").json()
    assert [i["image_id"] for i in first["items"]] == ids[3:0:-1]
    assert first["cursor"]
    rest = api.client.get("/v1/images", params={"limit": 3, "cursor": first["cursor"]}).json()
    assert [i["image_id"] for i in rest["items"]] == [ids[0]]
    assert rest.get("cursor") is None
    exact = api.client.get("/v1/images?limit=4").json()  # exactly the live ones: no cursor to an empty page
    assert ([i["image_id"] for i in exact["items"]], exact.get("cursor")) == (ids[3::-1], None)
