"""Hostile input at the API's edge, in process: Content-Length, backpressure, two uploads on one grant."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from api_kit import BASE, Client, Wiring, as_subject, local_settings, wire
from PIL import Image
from test_routes import problem

from imgflow.adapters.sqlite_queue import SqliteJobQueue
from imgflow.api.body import content_length
from imgflow.bootstrap import DB_FILE, build_app
from imgflow.errors import BadRequest
from imgflow.facts import ProcessResult
from imgflow.recipes import Limits, Recipe
from imgflow.runtimes.local.worker import Worker
from imgflow.service import ImageService

# --- one Content-Length parser ---------------------------------------------------------------
BAD_LENGTHS = [b"abc", b"-1", b"+5", b"5_000", "\u0665".encode(), b"1e3", b"", b"0x10", b"9" * 30]


@pytest.mark.parametrize("value", BAD_LENGTHS)
def test_the_parser_takes_ascii_digits_only(value: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        content_length([(b"content-length", value)])
    assert caught.value.code == "invalid_content_length"


def test_the_parser_reads_good_and_repeated_values() -> None:
    assert content_length([]) is None
    assert content_length([(b"Content-Length", b" 42 ")]) == 42
    assert content_length([(b"content-length", b"7"), (b"content-length", b"7")]) == 7
    with pytest.raises(BadRequest):
        content_length([(b"content-length", b"7"), (b"content-length", b"8")])


def _drive(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, Any], int]:
    """POST ``path`` with these raw headers and an endless body; the status, the JSON and the chunks pulled."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": pulled < 10_000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers], "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 5),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


ROUTES = ["/v1/uploads", "/v1/images", "/v1/local-uploads/any-token"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("value", [b"abc", b"5_000", "\u0665".encode()])
def test_every_route_refuses_a_bad_content_length_the_same_way(tmp_path: Path, path: str, value: bytes) -> None:
    app = build_app(local_settings(tmp_path))
    headers = [(b"content-type", b"image/png"), (b"content-length", value)]
    status, body, pulled = _drive(app, path, headers)
    assert (status, body["code"], pulled) == (400, "invalid_content_length", 0)


def test_a_presigned_upload_declared_past_its_grant_is_refused_unread(local_api: Wiring) -> None:
    created = local_api.client.post("/v1/uploads", json={"filename": "a.png", "content_type": "image/png", "size": 100})
    path = created.json()["upload"]["url"].removeprefix(BASE)
    headers = [(b"content-type", b"image/png"), (b"content-length", b"101")]
    status, body, pulled = _drive(local_api.app, path, headers)
    assert (status, body["code"], pulled) == (413, "too_large", 0)


# --- backpressure ----------------------------------------------------------------------------
def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="PNG", compress_level=0)  # same size for every color
    return out.getvalue()


UPLOAD_9_BYTES = {"filename": "a.png", "content_type": "image/png", "size": 9}


def test_past_the_queue_depth_new_work_gets_429_per_owner(tmp_path: Path) -> None:
    api = wire("local", local_settings(tmp_path, auth="jwt", max_pending_per_owner=2))
    client = Client(as_subject(api.app))
    try:
        alice, bob = {"x-test-subject": "alice"}, {"x-test-subject": "bob"}
        queued = [client.post("/v1/images", content=_png((i, 0, 0)), headers=alice) for i in range(2)]
        assert [r.status_code for r in queued] == [202, 202]
        refusals = [
            client.post("/v1/images", content=_png((9, 9, 9)), headers=alice),
            client.post(
                "/v1/uploads", json={"filename": "a.png", "content_type": "image/png", "size": 9}, headers=alice
            ),
        ]
        for refused in refusals:
            doc = problem(refused, 429, "too_many_pending")
            assert int(refused.headers["retry-after"]) > 0
            assert "2 of your images" in doc["detail"]
        assert client.post("/v1/images", content=_png((1, 2, 3)), headers=bob).status_code == 202  # bob is not alice

        # once one of alice's is processed, she may add one more
        first = queued[0].json()["image_id"]
        assert api.service.handle_object_created(f"originals/{first}").kind == "done"
        assert client.post("/v1/images", content=_png((4, 5, 6)), headers=alice).status_code == 202
        # reprocess adds work too
        problem(client.post(f"/v1/images/{first}/reprocess", headers=alice), 429, "too_many_pending")
    finally:
        client.close()
        api.client.close()


# --- two uploads on one grant ------------------------------------------------------------------
def test_an_upload_landing_while_its_image_is_processed_becomes_the_next_generation(local_api: Wiring) -> None:
    """A slow upload passes its check while the image awaits it; meanwhile an earlier attempt's bytes
    (which landed, but whose notification was lost) are found, queued and claimed; the slow upload
    lands while that attempt runs. The record must end describing the bytes that are stored."""
    service = local_api.service
    earlier, slow = _png((255, 0, 0)), _png((0, 0, 255))
    assert len(earlier) == len(slow)
    created = local_api.client.post(
        "/v1/uploads", json={"filename": "a.png", "content_type": "image/png", "size": len(slow)}
    ).json()
    image_id, url = created["image"]["image_id"], created["upload"]["url"].removeprefix(BASE)
    key = f"originals/{image_id}"
    service.originals.put(key, earlier, content_type="image/png")

    reading, finish = threading.Event(), threading.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield slow[:10]
        reading.set()
        await asyncio.get_running_loop().run_in_executor(None, finish.wait)
        yield slow[10:]

    answers: list[int] = []
    upload = threading.Thread(
        target=lambda: answers.append(
            local_api.client.post(url, content=slow_body(), headers={"content-type": "image/png"}).status_code
        )
    )
    upload.start()
    assert reading.wait(10)
    assert service.upload_completed(key) is not None  # the lost notification, as the reconcile sweep would

    inner = service.processor
    assert inner is not None

    def processor(data: bytes, recipe: Recipe, limits: Limits) -> ProcessResult:
        if not finish.is_set():  # the first attempt, on the earlier bytes: now the slow upload lands
            finish.set()
            upload.join(10)
        return inner(data, recipe, limits)

    service = ImageService(replace(service.deps, processor=processor))  # the same wiring, the processor wrapped
    queue = SqliteJobQueue(Path(local_api.settings.data_dir) / DB_FILE)
    worker = Worker(service, queue, lease_seconds=60)
    try:
        runs = 0
        while (job := queue.claim("test-worker", 60)) is not None and runs < 5:
            worker.run_one(job)
            runs += 1
    finally:
        queue.close()
    assert answers == [204]
    record = local_api.client.get(f"/v1/images/{image_id}").json()
    stored = service.originals.get(key, max_bytes=1 << 20)
    assert stored == slow
    assert record["status"] == "done", record
    assert record["generation"] == 2
    assert record["facts"]["sha256"] == hashlib.sha256(stored).hexdigest()
